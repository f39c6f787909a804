//! The status page from chat (the console's grammar, the same on every platform), against
//! a real store on SQLite and PostgreSQL: `/incident statuspage`, `/incident update
//! --public`, the cards' "Update status page" form, and resolving with the final public
//! message.

mod support;

use std::collections::BTreeMap;

use bot_core::model::{
    Actor, ChannelRef, ComponentStatus, Impact, Incident, PublicFilter, PublicStatus, ServiceId,
    Severity, UserId,
};
use bot_core::ops::Declare;
use commands::{Input, Invocation, Reply};
use support::TestApp;

on_both!(
    the_statuspage_command_moves_components_and_refuses_what_it_does_not_know,
    a_public_update_opens_the_public_incident_and_later_ones_update_it,
    resolving_asks_for_the_final_public_message_and_returns_components_to_operational,
    the_incident_cards_button_opens_a_form_that_publishes,
    a_maintenance_starts_and_completes_by_itself_to_the_second,
    a_subscribed_channel_is_told_of_each_public_update,
);

/// `/incident <text>` said by alice at the console in `channel`.
fn say(channel: &str, text: &str) -> Invocation {
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

fn input(channel: &str, input: Input) -> Invocation {
    Invocation {
        input,
        ..say(channel, "")
    }
}

async fn run(app: &TestApp, invocation: Invocation) -> Reply {
    commands::handle(&app.core, &invocation).await
}

async fn states(app: &TestApp) -> Vec<(String, ComponentStatus)> {
    app.core
        .status_components()
        .await
        .expect("components")
        .into_iter()
        .map(|c| (c.id, c.status))
        .collect()
}

fn all(status: ComponentStatus) -> Vec<(String, ComponentStatus)> {
    ["checkout", "api", "website"]
        .into_iter()
        .map(|c| (c.to_owned(), status))
        .collect()
}

/// A sev2 incident on Checkout, worked in the console channel `inc-1`.
async fn incident(app: &TestApp) -> Incident {
    let incident = app
        .core
        .declare(
            &Actor::User(UserId::from("alice")),
            Declare {
                title: "Payments fail for some customers".into(),
                severity: Severity::Sev2,
                services: vec![ServiceId::from("checkout")],
                commander: None,
                alerts: Vec::new(),
                idempotency_key: None,
                description: None,
            },
        )
        .await
        .expect("declared");
    app.core
        .store
        .attach_channel(
            incident.id,
            &ChannelRef {
                platform: "console".into(),
                channel_id: "inc-1".into(),
                name: "inc-1".into(),
            },
        )
        .await
        .expect("channel");
    incident
}

async fn the_statuspage_command_moves_components_and_refuses_what_it_does_not_know(app: TestApp) {
    let shown = run(&app, say("general", "statuspage"))
        .await
        .message
        .plain();
    assert!(shown.contains("Checkout (checkout)"), "{shown}");
    assert!(shown.contains("Operational"), "{shown}");

    // Unknown state or component: a usage reply naming the valid ones, nothing changed.
    let bad_state = run(&app, say("general", "statuspage api sideways")).await;
    let text = bad_state.message.plain();
    assert!(text.starts_with("Usage: /incident statuspage"), "{text}");
    assert!(
        text.contains(
            "operational, degraded_performance, partial_outage, major_outage, under_maintenance"
        ),
        "{text}"
    );
    let bad_component = run(&app, say("general", "statuspage payroll major")).await;
    let text = bad_component.message.plain();
    assert!(
        text.contains("components: checkout, api, website"),
        "{text}"
    );
    // Public text needs an incident to speak for.
    let text = run(
        &app,
        say("general", "statuspage api major Everything is down"),
    )
    .await
    .message
    .plain();
    assert!(text.contains("name the incident (INC-n)"), "{text}");
    assert_eq!(states(&app).await, all(ComponentStatus::Operational));

    // Outside an incident: the component moves, and nothing public is opened.
    let moved = run(&app, say("general", "statuspage api degraded")).await;
    assert!(
        moved
            .message
            .plain()
            .contains("API is now degraded performance"),
        "{moved:?}"
    );
    let mut expected = all(ComponentStatus::Operational);
    expected[1].1 = ComponentStatus::DegradedPerformance;
    assert_eq!(states(&app).await, expected);
    let again = run(&app, say("general", "statuspage api degraded_performance")).await;
    assert!(again.message.plain().contains("already"), "{again:?}");
    let public = app
        .core
        .store
        .list_public_incidents(&PublicFilter::default())
        .await
        .unwrap();
    assert!(public.is_empty(), "{public:?}");

    // A viewer may look but not move anything.
    let viewer = Invocation {
        user: "erin".into(),
        ..say("general", "statuspage api operational")
    };
    let refused = run(&app, viewer).await.message.plain();
    assert!(refused.contains("needs the responder role"), "{refused}");
    assert_eq!(states(&app).await, expected);
}

async fn a_public_update_opens_the_public_incident_and_later_ones_update_it(app: TestApp) {
    let incident = incident(&app).await;
    let reply = run(
        &app,
        say(
            "inc-1",
            "update --public Some card payments fail; we are on it.",
        ),
    )
    .await;
    assert!(
        reply
            .message
            .plain()
            .contains("Status page updated for INC-"),
        "{reply:?}"
    );
    let public = app
        .core
        .store
        .public_incident_for(incident.id)
        .await
        .unwrap()
        .expect("opened on first use");
    assert_eq!(public.name, "Payments fail for some customers");
    assert_eq!(public.impact, Impact::Major, "sev2 is a major impact");
    assert_eq!(public.status, PublicStatus::Investigating);
    assert_eq!(
        public.components,
        ["checkout", "api"],
        "Checkout's components"
    );
    assert_eq!(public.updates.len(), 1);
    assert_eq!(
        public.updates[0].body,
        "Some card payments fail; we are on it."
    );
    let mut expected = all(ComponentStatus::PartialOutage);
    expected[2].1 = ComponentStatus::Operational;
    assert_eq!(states(&app).await, expected);
    // The team sees the same words among the incident's updates, marked public.
    let updates = app.core.store.status_updates(incident.id).await.unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].visibility.as_str(), "public");

    // In the channel, a component command is the next public update.
    run(
        &app,
        say(
            "inc-1",
            "statuspage checkout degraded Payments recover slowly.",
        ),
    )
    .await;
    let public = app.core.store.get_public_incident(public.id).await.unwrap();
    assert_eq!(public.updates.len(), 2);
    assert_eq!(public.updates[0].body, "Payments recover slowly.");
    let moved = &public.updates[0].affected_components;
    assert_eq!(moved.len(), 1);
    assert_eq!(
        (
            moved[0].component.as_str(),
            moved[0].old_status,
            moved[0].new_status
        ),
        (
            "checkout",
            ComponentStatus::PartialOutage,
            ComponentStatus::DegradedPerformance
        )
    );
}

async fn resolving_asks_for_the_final_public_message_and_returns_components_to_operational(
    app: TestApp,
) {
    let incident = incident(&app).await;
    run(&app, say("inc-1", "update --public Checkout is failing.")).await;

    // No final message yet: a form asks for it, and nothing is resolved.
    let asked = run(&app, say("inc-1", "resolve")).await;
    let dialog = asked.dialog.clone().expect("a form");
    assert_eq!(dialog.id, format!("resolve_public:{}", incident.id));
    assert!(
        dialog
            .fields
            .iter()
            .any(|f| f.name == "public" && f.required)
    );
    let still = app.core.store.get_incident(incident.id).await.unwrap();
    assert!(still.is_open());

    // A form without the message is sent back with the field marked.
    let empty = run(
        &app,
        input(
            "inc-1",
            Input::DialogSubmit {
                dialog: dialog.id.clone(),
                fields: BTreeMap::from([("public".into(), "  ".into())]),
            },
        ),
    )
    .await;
    assert!(empty.field_errors.contains_key("public"), "{empty:?}");
    assert!(
        app.core
            .store
            .get_incident(incident.id)
            .await
            .unwrap()
            .is_open()
    );

    let done = run(
        &app,
        input(
            "inc-1",
            Input::DialogSubmit {
                dialog: dialog.id,
                fields: BTreeMap::from([
                    ("public".into(), "Payments work again for everyone.".into()),
                    ("note".into(), "Rolled back v1.4.3".into()),
                ]),
            },
        ),
    )
    .await;
    assert!(
        done.message
            .plain()
            .contains("The status page says it is resolved"),
        "{done:?}"
    );
    let resolved = app.core.store.get_incident(incident.id).await.unwrap();
    assert!(!resolved.is_open());
    let public = app
        .core
        .store
        .public_incident_for(incident.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(public.status, PublicStatus::Resolved);
    assert_eq!(public.resolved_at, resolved.resolved_at);
    assert_eq!(public.updates[0].body, "Payments work again for everyone.");
    assert_eq!(states(&app).await, all(ComponentStatus::Operational));
}

async fn the_incident_cards_button_opens_a_form_that_publishes(app: TestApp) {
    let incident = incident(&app).await;
    let form = run(
        &app,
        input(
            "inc-1",
            Input::Button {
                action: "statuspage_form".into(),
                value: incident.id.to_string(),
            },
        ),
    )
    .await;
    let dialog = form.dialog.expect("a form");
    let names: Vec<&str> = dialog.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["component", "state", "text"]);
    assert_eq!(dialog.fields[0].initial.as_deref(), Some("checkout"));

    // A wrong value comes back as a field error; nothing is published.
    let wrong = run(
        &app,
        input(
            "inc-1",
            Input::DialogSubmit {
                dialog: dialog.id.clone(),
                fields: BTreeMap::from([
                    ("component".into(), "payroll".into()),
                    ("state".into(), "major_outage".into()),
                    ("text".into(), "Down".into()),
                ]),
            },
        ),
    )
    .await;
    assert!(wrong.field_errors.contains_key("component"), "{wrong:?}");
    assert!(
        app.core
            .store
            .public_incident_for(incident.id)
            .await
            .unwrap()
            .is_none()
    );

    run(
        &app,
        input(
            "inc-1",
            Input::DialogSubmit {
                dialog: dialog.id,
                fields: BTreeMap::from([
                    ("component".into(), "website".into()),
                    ("state".into(), "major_outage".into()),
                    ("text".into(), "The shop is unreachable.".into()),
                ]),
            },
        ),
    )
    .await;
    let public = app
        .core
        .store
        .public_incident_for(incident.id)
        .await
        .unwrap()
        .expect("published");
    assert_eq!(public.updates[0].body, "The shop is unreachable.");
    assert!(public.components.contains(&"website".to_owned()));
    let website = states(&app).await[2].1;
    assert_eq!(
        website,
        ComponentStatus::MajorOutage,
        "the form's state wins"
    );
}

async fn a_maintenance_starts_and_completes_by_itself_to_the_second(app: TestApp) {
    use bot_core::Clock;
    use bot_core::jobs::{Handlers, PoolConfig, WorkerPool};
    use bot_core::statuspage::{MaintenanceSteps, ScheduleMaintenance};
    use chrono::Duration;

    let pool = WorkerPool::new(
        app.core.store.clone(),
        app.core.clock.clone(),
        Handlers::new().merge(MaintenanceSteps::handlers(app.core.clone())),
        PoolConfig::default(),
    );
    let now = app.clock.now();
    let (starts, ends) = (now + Duration::hours(2), now + Duration::hours(3));
    let admin = Actor::User(UserId::from("alice"));
    // A window that is over, or ends before it starts, is refused.
    for (s, e) in [
        (now - Duration::hours(2), now - Duration::hours(1)),
        (ends, starts),
    ] {
        let refused = app
            .core
            .schedule_maintenance(
                &admin,
                ScheduleMaintenance {
                    name: "Database upgrade".into(),
                    body: "Checkout may be slow.".into(),
                    components: vec!["checkout".into()],
                    starts: s,
                    ends: e,
                },
            )
            .await;
        assert!(refused.is_err(), "{refused:?}");
    }
    let m = app
        .core
        .schedule_maintenance(
            &admin,
            ScheduleMaintenance {
                name: "Database upgrade".into(),
                body: "Checkout may be slow.".into(),
                components: vec!["checkout".into()],
                starts,
                ends,
            },
        )
        .await
        .expect("scheduled");
    assert_eq!(m.status, PublicStatus::Scheduled);
    assert_eq!(m.impact, Impact::Maintenance);

    app.clock.advance(Duration::hours(2) - Duration::seconds(1));
    assert_eq!(pool.run_due().await.unwrap(), 0, "not a second early");
    app.clock.advance(Duration::seconds(1));
    assert_eq!(pool.run_due().await.unwrap(), 1);
    let started = app.core.store.get_public_incident(m.id).await.unwrap();
    assert_eq!(started.status, PublicStatus::InProgress);
    assert_eq!(started.updates[0].created_at, starts);
    assert_eq!(states(&app).await[0].1, ComponentStatus::UnderMaintenance);

    app.clock.advance(Duration::hours(1));
    assert_eq!(pool.run_due().await.unwrap(), 1);
    let done = app.core.store.get_public_incident(m.id).await.unwrap();
    assert_eq!(done.status, PublicStatus::Completed);
    assert_eq!(done.resolved_at, Some(ends));
    assert_eq!(states(&app).await, all(ComponentStatus::Operational));
    assert_eq!(done.updates.len(), 3);
}

async fn a_subscribed_channel_is_told_of_each_public_update(app: TestApp) {
    use bot_core::model::JobState;

    let viewer = Invocation {
        user: "erin".into(),
        ..say("status-watch", "statuspage subscribe")
    };
    let refused = run(&app, viewer).await.message.plain();
    assert!(refused.contains("needs the responder role"), "{refused}");
    let bad = run(&app, say("status-watch", "statuspage subscribe payroll")).await;
    assert!(
        bad.message.plain().contains("unknown component `payroll`"),
        "{bad:?}"
    );

    let done = run(&app, say("status-watch", "statuspage subscribe")).await;
    assert!(
        done.message.plain().contains("now hears of every public"),
        "{done:?}"
    );
    let again = run(&app, say("status-watch", "statuspage subscribe")).await;
    assert!(
        again.message.plain().contains("already subscribed"),
        "{again:?}"
    );

    incident(&app).await;
    run(&app, say("inc-1", "update --public Checkout is failing.")).await;
    let notices = || async {
        app.core
            .store
            .list_jobs(Some(JobState::Queued), 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == "chat.statuspage_notice")
            .collect::<Vec<_>>()
    };
    let queued = notices().await;
    assert_eq!(queued.len(), 1, "one notice for the one channel");
    assert_eq!(queued[0].queue, "chat:console");

    let gone = run(&app, say("status-watch", "statuspage unsubscribe")).await;
    assert!(gone.message.plain().contains("no longer hears"), "{gone:?}");
    run(&app, say("inc-1", "update --public Still failing.")).await;
    assert_eq!(notices().await.len(), 1, "nothing more after unsubscribing");
}
