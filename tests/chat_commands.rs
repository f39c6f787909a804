//! Chat commands against a real store, on SQLite and PostgreSQL: acknowledging and
//! escalating an incident's alerts from its channel, and naming an incident by number.

mod support;

use bot_core::Clock;
use bot_core::model::{
    Actor, AlertAction, AlertEvent, AlertSeverity, AlertStatus, ChannelRef, Integration,
};
use bot_core::ops::Declare;
use commands::{Input, Invocation};
use serde_json::json;
use support::TestApp;

on_both!(ack_and_escalate_in_an_incident_channel_act_on_its_open_alerts);
on_both!(an_unknown_discord_member_links_with_a_code_given_where_tocsin_knows_them);
on_both!(an_admin_links_a_member_and_nobody_takes_anothers_account);

/// `/incident <text>` from `user` on `platform`.
fn from(platform: &str, user: &str, text: &str) -> Invocation {
    Invocation {
        platform: platform.into(),
        user: user.into(),
        channel: "general".into(),
        input: Input::Slash {
            command: "incident".into(),
            text: text.into(),
        },
        delivery: None,
        groups: Vec::new(),
    }
}

async fn an_unknown_discord_member_links_with_a_code_given_where_tocsin_knows_them(app: TestApp) {
    // carla has no Discord id in the example; as a stranger she may look, not act.
    let stranger = "80351110224678999";
    let refused = commands::handle(
        &app.core,
        &from("discord", stranger, "declare sev3 Cache is cold"),
    )
    .await;
    assert!(
        refused.message.plain().contains("/incident link"),
        "{refused:?}"
    );

    let asked = commands::handle(&app.core, &from("discord", stranger, "link")).await;
    assert_eq!(
        asked.audience,
        commands::Audience::Ephemeral,
        "a code is for its owner only"
    );
    let text = asked.message.plain();
    let code = text
        .split('`')
        .find_map(|part| part.strip_prefix("/incident link "))
        .filter(|c| c.len() == 8)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_owned();
    // The code is no use from the account it is for.
    let own = commands::handle(
        &app.core,
        &from("discord", stranger, &format!("link {code}")),
    )
    .await;
    assert!(
        own.message
            .plain()
            .contains("where Tocsin already knows you"),
        "{own:?}"
    );

    let linked = commands::handle(
        &app.core,
        &from("console", "carla", &format!("link {}", code.to_lowercase())),
    )
    .await;
    assert!(linked.message.plain().contains("now carla"), "{linked:?}");
    let carla = app
        .core
        .store
        .user_by_chat_identity("discord", stranger)
        .await
        .unwrap()
        .expect("linked");
    assert_eq!(carla.id, "carla".into());
    // Used once.
    let again = commands::handle(
        &app.core,
        &from("console", "carla", &format!("link {code}")),
    )
    .await;
    assert!(
        again.message.plain().contains("unknown, used or expired"),
        "{again:?}"
    );
    // Now she acts as herself on Discord.
    let declared = commands::handle(
        &app.core,
        &from("discord", stranger, "declare sev3 Cache is cold"),
    )
    .await;
    assert!(
        declared.message.plain().contains("Declared INC-1"),
        "{declared:?}"
    );
    let incident = app.core.store.get_incident_by_number(1).await.unwrap();
    assert_eq!(incident.declared_by, "user:carla");

    // A code expires after 15 minutes.
    let stranger = "80351110224678998";
    let text = commands::handle(&app.core, &from("discord", stranger, "link"))
        .await
        .message
        .plain();
    let code = text
        .split('`')
        .find_map(|part| part.strip_prefix("/incident link "))
        .filter(|c| c.len() == 8)
        .unwrap()
        .to_owned();
    app.clock.advance(chrono::Duration::minutes(15));
    let late = commands::handle(
        &app.core,
        &from("console", "dieter", &format!("link {code}")),
    )
    .await;
    assert!(late.message.plain().contains("expired"), "{late:?}");
    assert!(
        app.core
            .store
            .user_by_chat_identity("discord", stranger)
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_admin_links_a_member_and_nobody_takes_anothers_account(app: TestApp) {
    // alice is an admin with a Discord id in the example; bob is not an admin.
    let alice = "80351110224678912";
    let member = "80351110224678997";
    let by_bob = commands::handle(
        &app.core,
        &from("console", "bob", &format!("link <@{member}> dieter")),
    )
    .await;
    assert!(
        by_bob.message.plain().contains("needs the admin role"),
        "{by_bob:?}"
    );
    let by_alice = commands::handle(
        &app.core,
        &from("discord", alice, &format!("link <@{member}> dieter")),
    )
    .await;
    assert!(
        by_alice.message.plain().contains("now linked to dieter"),
        "{by_alice:?}"
    );
    assert_eq!(
        app.core
            .store
            .user_by_chat_identity("discord", member)
            .await
            .unwrap()
            .unwrap()
            .id,
        "dieter".into()
    );
    // alice's own account cannot be handed to someone else, nor dieter given a second one.
    let taken = commands::handle(
        &app.core,
        &from("discord", alice, &format!("link <@{alice}> erin")),
    )
    .await;
    assert!(
        taken.message.plain().contains("already linked to alice"),
        "{taken:?}"
    );
    let second = commands::handle(
        &app.core,
        &from("discord", alice, "link <@80351110224678996> dieter"),
    )
    .await;
    assert!(
        second
            .message
            .plain()
            .contains("already has a discord account"),
        "{second:?}"
    );
    let nobody = commands::handle(
        &app.core,
        &from("discord", alice, "link <@80351110224678995> zoe"),
    )
    .await;
    assert!(
        nobody
            .message
            .plain()
            .contains("no Tocsin user is called `zoe`"),
        "{nobody:?}"
    );
}

fn said(channel: &str, text: &str) -> Invocation {
    Invocation {
        platform: "console".into(),
        user: "alice".into(),
        channel: channel.into(),
        input: Input::Slash {
            command: "incident".into(),
            text: text.into(),
        },
        delivery: None,
        groups: Vec::new(),
    }
}

async fn ack_and_escalate_in_an_incident_channel_act_on_its_open_alerts(app: TestApp) {
    let integration = Integration {
        id: uuid::Uuid::now_v7(),
        service: "checkout".into(),
        name: "prometheus".into(),
        kind: "alertmanager".into(),
        origin: "cli".into(),
        settings: json!({}),
        created_at: app.clock.now(),
    };
    let event = |key: &str| AlertEvent {
        action: AlertAction::Trigger,
        dedup_key: Some(key.into()),
        severity: AlertSeverity::Critical,
        summary: format!("{key} is down"),
        details: json!({}),
        labels: Default::default(),
        links: vec![],
    };
    let outcomes = app
        .core
        .ingest(&integration, vec![event("db"), event("cache")])
        .await
        .unwrap();
    let ids: Vec<_> = outcomes
        .iter()
        .map(|o| o.alert.as_ref().unwrap().id)
        .collect();
    let incident = app
        .core
        .declare(
            &Actor::User("alice".into()),
            Declare {
                title: "Checkout down".into(),
                severity: bot_core::model::Severity::Sev1,
                services: vec!["checkout".into()],
                commander: None,
                alerts: ids.clone(),
                idempotency_key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    let room = ChannelRef {
        platform: "console".into(),
        channel_id: "inc-1-checkout-down".into(),
        name: "inc-1-checkout-down".into(),
    };
    app.db
        .store
        .attach_channel(incident.id, &room)
        .await
        .unwrap();

    // Elsewhere, without a number: the usage line.
    let reply = commands::handle(&app.core, &said("incidents", "ack")).await;
    assert!(
        reply
            .message
            .plain()
            .starts_with("Usage: /incident ack [INC-n]"),
        "{}",
        reply.message.plain()
    );

    let reply = commands::handle(&app.core, &said("inc-1-checkout-down", "escalate")).await;
    assert_eq!(reply.message.plain(), "Escalated 2 alerts of INC-1.");
    let reply = commands::handle(&app.core, &said("incidents", "ack 1")).await;
    assert_eq!(reply.message.plain(), "Acknowledged 2 alerts of INC-1.");
    for id in &ids {
        let alert = app.db.store.get_alert(*id).await.unwrap();
        assert_eq!(alert.status, AlertStatus::Acknowledged);
        assert_eq!(alert.acknowledged_by.as_deref(), Some("user:alice"));
        let state = app.db.store.escalation(*id).await.unwrap().unwrap();
        assert_eq!(state.level, 1, "escalated to the second level");
    }
    let reply = commands::handle(&app.core, &said("inc-1-checkout-down", "ack")).await;
    assert_eq!(reply.message.plain(), "INC-1 has no open alerts.");
    let reply = commands::handle(&app.core, &said("incidents", "status 1")).await;
    assert!(
        reply.message.plain().starts_with("INC-1 Checkout down"),
        "{}",
        reply.message.plain()
    );
}
