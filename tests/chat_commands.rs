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
