//! The incident workflow from chat, in-process on SQLite and PostgreSQL with the example
//! configuration: actions run for real (a command, an HTTP request to a stub on loopback)
//! and report into the channel, the timeline and the audit log; roles refuse and log;
//! declares are idempotent per delivery, open a form without a title and page for sev1;
//! 📌 pins a message into the timeline.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use bot_core::actions::{ActionKind, ActionSpec, HttpAction, ParamKind, ParamSpec};
use bot_core::effects::ChatEffects;
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{
    ActionRunState, Actor, AuditEvent, ChannelRef, Incident, IncidentFilter, Role, Subject,
    TimelineKind,
};
use bot_core::ops::{CoreSettings, Declare, GroupRole};
use bot_core::{Clock, Core};
use commands::{Input, Invocation, Reply};
use support::TestApp;

/// What the console printed, for assertions.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl Write for Printed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Printed {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The example's core (with `change` applied to its settings), a console to see what chat
/// gets, and a pool running the core and console queues with the real action runner
/// (reading secrets from `env`).
struct World {
    core: Core,
    pool: WorkerPool,
    printed: Printed,
}

fn world(
    app: &TestApp,
    env: &'static [(&'static str, &'static str)],
    change: impl FnOnce(&mut CoreSettings),
) -> World {
    world_with_github(app, env, change, None)
}

fn world_with_github(
    app: &TestApp,
    env: &'static [(&'static str, &'static str)],
    change: impl FnOnce(&mut CoreSettings),
    github: Option<Arc<dyn bot_core::actions::Vcs>>,
) -> World {
    let mut settings = (*app.core.settings).clone();
    change(&mut settings);
    let core = Core::new(app.db.store.clone(), Arc::new(app.clock.clone()), settings);
    let printed = Printed::default();
    let console = Arc::new(adapters::console::Console::new(
        "incidents",
        Box::new(printed.clone()),
    ));
    let runner = adapters::actions::Runner::new()
        .unwrap()
        .with_env(move |name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| (name == "PATH").then(|| "/usr/bin:/bin".into()))
        });
    let handlers = tocsin::app::core_handlers_with(&core, Arc::new(runner), github)
        .merge(ChatEffects::handlers(&core, console));
    let pool = WorkerPool::new(
        core.store.clone(),
        Arc::new(app.clock.clone()),
        handlers,
        PoolConfig {
            queues: vec!["core".into(), "chat:console".into()],
            ..Default::default()
        },
    );
    World {
        core,
        pool,
        printed,
    }
}

const ROOM: &str = "inc-1-checkout-is-failing";

/// INC-1, declared by alice, with its console room.
async fn incident(core: &Core) -> Incident {
    let incident = core
        .declare(
            &Actor::User("alice".into()),
            Declare {
                title: "Checkout is failing".into(),
                severity: bot_core::model::Severity::Sev3,
                services: vec![],
                commander: Some("alice".into()),
                alerts: vec![],
                idempotency_key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    core.store
        .attach_channel(
            incident.id,
            &ChannelRef {
                platform: "console".into(),
                channel_id: ROOM.into(),
                name: ROOM.into(),
            },
        )
        .await
        .unwrap();
    incident
}

fn said(user: &str, channel: &str, text: &str) -> Invocation {
    Invocation::slash("console", user, channel, "incident", text)
}

fn text(reply: &Reply) -> String {
    reply.message.plain()
}

on_both!(
    a_command_action_runs_into_the_channel_the_timeline_and_the_audit_log,
    an_injection_attempt_is_refused_before_anything_runs,
    a_viewers_revert_is_refused_and_logged,
    a_chat_group_grants_its_role,
    an_http_action_reports_status_and_body_with_secrets_redacted,
    an_action_asking_for_confirmation_runs_only_once_confirmed_by_someone_allowed,
    a_retried_delivery_declares_one_incident,
    declare_without_a_title_opens_a_form_and_a_sev1_pages_the_services_on_call,
    a_pinned_message_enters_the_timeline_once,
    a_confirmed_revert_opens_the_revert_pull_request_and_posts_its_link,
    a_rollback_workflow_is_dispatched_and_followed_to_its_conclusion,
    update_reminders_follow_the_interval_of_the_current_severity,
    a_responder_added_is_invited_and_paged_when_asked,
);

async fn a_command_action_runs_into_the_channel_the_timeline_and_the_audit_log(app: TestApp) {
    let w = world(&app, &[], |_| {});
    let inc = incident(&w.core).await;
    let reply = commands::handle(&w.core, &said("carla", ROOM, "run resolve-host localhost")).await;
    assert_eq!(
        text(&reply),
        "Running resolve-host host=localhost; the result will be posted here."
    );
    w.pool.run_due().await.unwrap();

    let log = w.core.store.audit_log(10).await.unwrap();
    let events: Vec<AuditEvent> = log.iter().rev().map(|e| e.event).collect();
    assert_eq!(events, [AuditEvent::Requested, AuditEvent::Succeeded]);
    assert_eq!(log[1].actor, "user:carla");
    let run = w
        .core
        .store
        .get_action_run(log[0].run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(run.state, ActionRunState::Succeeded, "{run:?}");
    assert_eq!(run.summary.as_deref(), Some("exit code 0"));
    assert!(
        run.detail.as_deref().unwrap().contains("localhost"),
        "{run:?}"
    );
    assert_eq!(run.incident_id, Some(inc.id));

    let timeline = w
        .core
        .store
        .timeline(Subject::Incident(inc.id))
        .await
        .unwrap();
    let actions: Vec<&str> = timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::ActionRun)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[0], "Asked to run resolve-host host=localhost");
    assert!(actions[1].starts_with("resolve-host host=localhost succeeded: exit code 0"));
    let printed = w.printed.text();
    assert!(
        printed.contains(&format!(
            "#{ROOM}\n[RESOLVED] Action resolve-host succeeded"
        )),
        "{printed}"
    );
}

async fn an_injection_attempt_is_refused_before_anything_runs(app: TestApp) {
    let w = world(&app, &[], |_| {});
    incident(&w.core).await;
    w.pool.run_due().await.unwrap();
    for evil in [
        "run resolve-host \"db1; rm -rf /\"",
        "run resolve-host $(reboot)",
        "run resolve-host `id`",
    ] {
        let reply = commands::handle(&w.core, &said("carla", ROOM, evil)).await;
        let t = text(&reply);
        assert!(
            t.starts_with("Usage: /incident run resolve-host <host>") && t.contains("must match"),
            "{evil}: {t}"
        );
    }
    // Unknown actions and extra arguments are refused the same way.
    let t = text(&commands::handle(&w.core, &said("carla", ROOM, "run rm -rf /")).await);
    assert!(t.contains("there is no action `rm`"), "{t}");
    let t = text(&commands::handle(&w.core, &said("carla", ROOM, "run resolve-host a b")).await);
    assert!(t.contains("too many arguments"), "{t}");
    assert!(w.core.store.audit_log(10).await.unwrap().is_empty());
    assert_eq!(w.pool.run_due().await.unwrap(), 0);
}

async fn a_viewers_revert_is_refused_and_logged(app: TestApp) {
    let w = world(&app, &[], |_| {});
    let inc = incident(&w.core).await;
    w.pool.run_due().await.unwrap();
    let reply = commands::handle(&w.core, &said("erin", ROOM, "revert acme/checkout 1347")).await;
    assert_eq!(
        text(&reply),
        "Sorry: running revert needs the commander role; erin is a viewer."
    );
    let log = w.core.store.audit_log(10).await.unwrap();
    assert_eq!(log.len(), 1);
    let entry = &log[0];
    assert_eq!(
        (entry.event, entry.actor.as_str(), entry.action.as_str()),
        (AuditEvent::Refused, "user:erin", "revert")
    );
    assert_eq!(entry.incident_id, Some(inc.id));
    assert_eq!(entry.args["arg1"], "repo=acme/checkout");
    assert_eq!(entry.args["arg2"], "target=1347");
    assert!(entry.detail.contains("needs the commander role"));
    // Nothing was queued and nothing else was written.
    assert_eq!(w.pool.run_due().await.unwrap(), 0);
}

async fn a_chat_group_grants_its_role(app: TestApp) {
    let w = world(&app, &[], |s| {
        s.group_roles.push(GroupRole {
            platform: "slack".into(),
            group: "S0ONCALL".into(),
            role: Role::Commander,
        })
    });
    // Someone Tocsin does not know may look, not act.
    let stranger = Invocation::slash("slack", "U999", "C1", "incident", "run");
    let t = text(&commands::handle(&w.core, &stranger).await);
    assert_eq!(t, "None of the configured actions is open to your role.");
    let t = text(
        &commands::handle(
            &w.core,
            &Invocation::slash("slack", "U999", "C1", "incident", "revert acme/checkout 12"),
        )
        .await,
    );
    assert!(t.contains("your slack account is not linked"), "{t}");
    assert_eq!(
        w.core.store.audit_log(10).await.unwrap()[0].actor,
        "slack:U999"
    );
    // In the on-call group they are a commander.
    let member = Invocation {
        groups: vec!["S0ONCALL".into()],
        ..stranger
    };
    let t = text(&commands::handle(&w.core, &member).await);
    assert!(
        t.contains("/incident revert") && t.contains("rollback-checkout"),
        "{t}"
    );
}

async fn an_http_action_reports_status_and_body_with_secrets_redacted(app: TestApp) {
    use axum::extract::Query;
    use axum::http::HeaderMap;
    let stub = axum::Router::new().route(
        "/health",
        axum::routing::get(
            |Query(q): Query<BTreeMap<String, String>>, headers: HeaderMap| async move {
                let auth = headers["authorization"].to_str().unwrap().to_owned();
                (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    format!("region {} degraded; you sent {auth}", q["region"]),
                )
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, stub).await.unwrap() });
    let w = world(&app, &[("HEALTH_TOKEN", "s3cr3t-token")], |s| {
        s.actions.push(ActionSpec {
            name: "health".into(),
            description: "health of a region".into(),
            min_role: Role::Responder,
            confirm: false,
            params: vec![ParamSpec {
                name: "region".into(),
                kind: ParamKind::Choice(vec!["eu".into(), "us".into()]),
                default: Some("eu".into()),
                description: String::new(),
            }],
            kind: ActionKind::Http(HttpAction {
                method: "GET".into(),
                url: format!("http://{addr}/health?region={{region}}"),
                headers: vec![("Authorization".into(), "Bearer ${HEALTH_TOKEN}".into())],
                body: None,
                timeout: std::time::Duration::from_secs(5),
            }),
        })
    });
    let inc = incident(&w.core).await;
    commands::handle(&w.core, &said("carla", ROOM, "run health us")).await;
    w.pool.run_due().await.unwrap();
    let log = w.core.store.audit_log(10).await.unwrap();
    assert_eq!(log[0].event, AuditEvent::Failed);
    let run = w
        .core
        .store
        .get_action_run(log[0].run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(run.state, ActionRunState::Failed);
    assert_eq!(run.summary.as_deref(), Some("HTTP 503 Service Unavailable"));
    assert_eq!(
        run.detail.as_deref(),
        Some("region us degraded; you sent Bearer [redacted]")
    );
    let timeline = w
        .core
        .store
        .timeline(Subject::Incident(inc.id))
        .await
        .unwrap();
    let all: String = timeline.iter().map(|e| e.text.clone()).collect();
    assert!(!all.contains("s3cr3t"), "{all}");
    let printed = w.printed.text();
    assert!(
        printed.contains("[MAJOR] Action health failed"),
        "{printed}"
    );
    assert!(!printed.contains("s3cr3t"), "{printed}");
}

async fn an_action_asking_for_confirmation_runs_only_once_confirmed_by_someone_allowed(
    app: TestApp,
) {
    let w = world(&app, &[], |_| {});
    incident(&w.core).await;
    w.pool.run_due().await.unwrap();
    let card = commands::handle(&w.core, &said("bob", ROOM, "revert acme/checkout 1347")).await;
    assert_eq!(card.message.title.as_deref(), Some("Run revert?"));
    let confirm = card
        .message
        .buttons
        .iter()
        .find(|b| b.label == "Confirm")
        .unwrap();
    let press = |user: &str, action: &str| Invocation {
        input: Input::Button {
            action: action.into(),
            value: confirm.value.clone(),
        },
        ..said(user, ROOM, "")
    };
    let t = text(&commands::handle(&w.core, &press("carla", "action_confirm")).await);
    assert_eq!(
        t,
        "Sorry: confirming revert needs the commander role; carla is a responder."
    );
    let t = text(&commands::handle(&w.core, &press("bob", "action_cancel")).await);
    assert_eq!(
        t,
        "revert repo=acme/checkout target=1347 cancelled by user:bob."
    );
    let t = text(&commands::handle(&w.core, &press("alice", "action_confirm")).await);
    assert!(t.contains("already cancelled"), "{t}");
    let events: Vec<AuditEvent> = w
        .core
        .store
        .audit_log(10)
        .await
        .unwrap()
        .iter()
        .rev()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        [
            AuditEvent::Requested,
            AuditEvent::Refused,
            AuditEvent::Cancelled
        ]
    );
    assert_eq!(w.pool.run_due().await.unwrap(), 0, "nothing runs");
}

async fn a_retried_delivery_declares_one_incident(app: TestApp) {
    let w = world(&app, &[], |_| {});
    let delivery = |id: &str| Invocation {
        delivery: Some(id.into()),
        ..said("alice", "general", "declare sev2 Checkout slow")
    };
    let first = text(&commands::handle(&w.core, &delivery("T1")).await);
    let retried = text(&commands::handle(&w.core, &delivery("T1")).await);
    assert!(
        first.starts_with("Declared INC-1 (sev2): Checkout slow"),
        "{first}"
    );
    assert_eq!(retried, first);
    let other = text(&commands::handle(&w.core, &delivery("T2")).await);
    assert!(other.starts_with("Declared INC-2"), "{other}");
    let all = w
        .core
        .store
        .list_incidents(&IncidentFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    // One card and one channel for INC-1, however often it was delivered.
    w.pool.run_due().await.unwrap();
    let printed = w.printed.text();
    assert_eq!(
        printed.matches("Room opened. Topic: INC-1").count(),
        1,
        "{printed}"
    );
}

async fn declare_without_a_title_opens_a_form_and_a_sev1_pages_the_services_on_call(app: TestApp) {
    let w = world(&app, &[], |_| {});
    let reply = commands::handle(&w.core, &said("alice", "general", "declare")).await;
    let dialog = reply.dialog.expect("a form");
    let names: Vec<&str> = dialog.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["title", "severity", "services", "description"]);

    let submit = |fields: &[(&str, &str)]| Invocation {
        input: Input::DialogSubmit {
            dialog: dialog.id.clone(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        ..said("alice", "general", "")
    };
    let bad = commands::handle(&w.core, &submit(&[("title", ""), ("severity", "sev9")])).await;
    assert_eq!(
        bad.field_errors.keys().collect::<Vec<_>>(),
        ["severity", "title"]
    );
    assert!(
        w.core
            .store
            .list_incidents(&IncidentFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty()
    );

    let ok = commands::handle(
        &w.core,
        &submit(&[
            ("title", "Checkout is down"),
            ("severity", "sev1"),
            ("services", "checkout"),
            ("description", "EU customers cannot pay"),
        ]),
    )
    .await;
    let t = text(&ok);
    assert!(t.contains("Declared INC-1 (sev1): Checkout is down"), "{t}");
    assert!(
        t.contains("on-call of the affected services are being paged"),
        "{t}"
    );
    w.pool.run_due().await.unwrap();
    let inc = w.core.store.get_incident_by_number(1).await.unwrap();
    assert_eq!(inc.services, ["checkout".into()]);
    let timeline = w
        .core
        .store
        .timeline(Subject::Incident(inc.id))
        .await
        .unwrap();
    assert!(
        timeline[0].text.ends_with("EU customers cannot pay"),
        "{timeline:?}"
    );
    // The page: an alert on checkout, linked to the incident, paging its on-call (alice at
    // the harness clock, by chat DM on the console).
    assert_eq!(inc.alerts.len(), 1, "{inc:?}");
    let alert = w.core.store.get_alert(inc.alerts[0]).await.unwrap();
    assert_eq!(alert.service, "checkout".into());
    assert!(
        alert
            .summary
            .starts_with("INC-1 (sev1) declared: Checkout is down")
    );
    let printed = w.printed.text();
    assert!(printed.contains("Invited: alice"), "{printed}");
    assert!(printed.contains("(pinned "), "{printed}");
    assert!(
        printed.contains("#incidents\n[CRITICAL] INC-1 Checkout is down"),
        "{printed}"
    );
    // Declaring again from the same form submission changes nothing.
    w.pool.run_due().await.unwrap();
    let again = w.core.store.get_incident_by_number(1).await.unwrap();
    assert_eq!(again.alerts, inc.alerts);
}

async fn a_pinned_message_enters_the_timeline_once(app: TestApp) {
    let w = world(&app, &[], |_| {});
    let inc = incident(&w.core).await;
    let pin = |user: &str, channel: &str| Invocation {
        input: Input::Pin {
            message_id: "m-17".into(),
            author: "dieter".into(),
            text: "The deploy at 02:50 changed the DB pool size".into(),
        },
        ..said(user, channel, "")
    };
    let t = text(&commands::handle(&w.core, &pin("carla", ROOM)).await);
    assert_eq!(t, "Pinned to the timeline of INC-1.");
    let t = text(&commands::handle(&w.core, &pin("carla", ROOM)).await);
    assert_eq!(t, "Already in the timeline of INC-1.");
    let t = text(&commands::handle(&w.core, &pin("carla", "general")).await);
    assert!(t.contains("only messages in an incident channel"), "{t}");
    let t = text(&commands::handle(&w.core, &pin("erin", ROOM)).await);
    assert!(t.contains("needs the responder role"), "{t}");
    let timeline = w
        .core
        .store
        .timeline(Subject::Incident(inc.id))
        .await
        .unwrap();
    let pinned: Vec<_> = timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::ChatMessage)
        .collect();
    assert_eq!(pinned.len(), 1);
    assert_eq!(
        pinned[0].text,
        "user:dieter: The deploy at 02:50 changed the DB pool size"
    );
    assert_eq!(pinned[0].actor, "user:carla");
    // Talk is captured only where the configuration asks for it.
    let talk = |core: &Core| {
        let core = core.clone();
        async move {
            let reply = commands::handle(
                &core,
                &Invocation {
                    input: Input::Said {
                        message_id: "m-18".into(),
                        text: "restarting the pool".into(),
                    },
                    ..said("carla", ROOM, "")
                },
            )
            .await;
            assert!(reply.silent);
        }
    };
    talk(&w.core).await;
    let count = |t: &[bot_core::model::TimelineEntry]| {
        t.iter()
            .filter(|e| e.kind == TimelineKind::ChatMessage)
            .count()
    };
    let before = w
        .core
        .store
        .timeline(Subject::Incident(inc.id))
        .await
        .unwrap();
    assert_eq!(count(&before), 1);
    let capturing = world(&app, &[], |s| s.capture_chat = true);
    talk(&capturing.core).await;
    let after = w
        .core
        .store
        .timeline(Subject::Incident(inc.id))
        .await
        .unwrap();
    assert_eq!(count(&after), 2);
    assert_eq!(
        after.last().unwrap().text,
        "user:carla: restarting the pool"
    );
}

// ---------------------------------------------------------------------------------------
// GitHub, as a stub on loopback answering with GitHub's documented examples (the shared
// fixtures). The adapter's own suite checks every request against GitHub's schema; here
// the point is the whole path from chat to the pull request's link in the channel.

fn github_fixture(name: &str) -> serde_json::Value {
    let dir = std::env::var("TOCSIN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures").to_owned());
    let text = std::fs::read_to_string(format!("{dir}/github/{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rest_example(name: &str) -> serde_json::Value {
    github_fixture(&format!("rest/examples/{name}"))["responses"][0]["body"].clone()
}

/// Requests the stub saw: method, path, body.
type Calls = Arc<Mutex<Vec<(String, String, serde_json::Value)>>>;

async fn stub_github() -> (String, Calls) {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{Method, Uri};
    let calls: Calls = Arc::default();
    async fn answer(
        State(calls): State<Calls>,
        method: Method,
        uri: Uri,
        body: Bytes,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let path = uri.path().to_owned();
        let polls = {
            let mut calls = calls.lock().unwrap();
            calls.push((method.to_string(), path.clone(), body));
            calls
                .iter()
                .filter(|c| c.1.contains("/actions/runs/"))
                .count()
        };
        let json = |v: serde_json::Value| axum::Json(v).into_response();
        match (method.as_str(), path.as_str()) {
            ("GET", "/repos/acme/checkout/pulls/1347") => {
                // GitHub's example pull request, merged (the example is still open).
                let mut pr = rest_example("pulls.get.json");
                pr["merged"] = true.into();
                pr["state"] = "closed".into();
                json(pr)
            }
            ("POST", "/graphql") => {
                json(github_fixture("graphql/revertPullRequest.example.json")["response"].clone())
            }
            ("POST", "/repos/acme/checkout/actions/workflows/rollback.yml/dispatches") => {
                json(rest_example("actions.create-workflow-dispatch.json"))
            }
            ("GET", "/repos/acme/checkout/actions/runs/1") => {
                // The example run: queued when first polled, then done.
                let mut run = rest_example("actions.get-workflow-run.json");
                run["id"] = 1.into();
                if polls >= 2 {
                    run["status"] = "completed".into();
                    run["conclusion"] = "success".into();
                }
                json(run)
            }
            _ => (
                axum::http::StatusCode::NOT_FOUND,
                "{\"message\":\"Not Found\"}",
            )
                .into_response(),
        }
    }
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), calls)
}

async fn a_confirmed_revert_opens_the_revert_pull_request_and_posts_its_link(app: TestApp) {
    let (base, calls) = stub_github().await;
    let github = adapters::github::GitHub::new("ghp_test".into(), Some(base)).unwrap();
    let w = world_with_github(&app, &[], |_| {}, Some(Arc::new(github)));
    let inc = incident(&w.core).await;
    let card = commands::handle(&w.core, &said("bob", ROOM, "revert acme/checkout #1347")).await;
    let confirm = card.message.buttons[0].clone();
    assert_eq!(confirm.action, "action_confirm");
    assert!(
        calls.lock().unwrap().is_empty(),
        "nothing before the confirmation"
    );
    let press = Invocation {
        input: Input::Button {
            action: confirm.action,
            value: confirm.value,
        },
        ..said("alice", ROOM, "")
    };
    let t = text(&commands::handle(&w.core, &press).await);
    assert_eq!(
        t,
        "revert repo=acme/checkout target=1347 confirmed by user:alice; running it."
    );
    w.pool.run_due().await.unwrap();

    let seen: Vec<(String, String)> = calls
        .lock()
        .unwrap()
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "GET".to_string(),
                "/repos/acme/checkout/pulls/1347".to_string()
            ),
            ("POST".into(), "/graphql".into())
        ]
    );
    let mutation = calls.lock().unwrap()[1].2.clone();
    let input = &mutation["variables"]["input"];
    assert_eq!(input["pullRequestId"], "MDExOlB1bGxSZXF1ZXN0MQ==");
    assert!(
        input["body"]
            .as_str()
            .unwrap()
            .contains("Reverted from chat by user:bob during INC-1")
    );
    assert_eq!(
        input["clientMutationId"].as_str().unwrap().len(),
        "tocsin-".len() + 36
    );

    let log = w.core.store.audit_log(10).await.unwrap();
    let events: Vec<AuditEvent> = log.iter().rev().map(|e| e.event).collect();
    assert_eq!(
        events,
        [
            AuditEvent::Requested,
            AuditEvent::Confirmed,
            AuditEvent::Succeeded
        ]
    );
    let run = w
        .core
        .store
        .get_action_run(log[0].run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(
        run.link.as_deref(),
        Some("https://github.com/octocat/Hello-World/pull/1348")
    );
    assert_eq!(
        run.summary.as_deref(),
        Some("revert of acme/checkout#1347 opened as #1348")
    );
    let timeline = w
        .core
        .store
        .timeline(Subject::Incident(inc.id))
        .await
        .unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.text.contains("pull/1348") && e.kind == TimelineKind::ActionRun),
        "{timeline:?}"
    );
    let printed = w.printed.text();
    assert!(
        printed.contains("[RESOLVED] Action revert succeeded"),
        "{printed}"
    );
    assert!(
        printed.contains("https://github.com/octocat/Hello-World/pull/1348"),
        "{printed}"
    );
}

async fn a_rollback_workflow_is_dispatched_and_followed_to_its_conclusion(app: TestApp) {
    let (base, calls) = stub_github().await;
    let github = adapters::github::GitHub::new("ghp_test".into(), Some(base)).unwrap();
    let w = world_with_github(
        &app,
        &[],
        |s| {
            // The example's rollback, without the confirmation step.
            for a in &mut s.actions {
                if a.name == "rollback-checkout" {
                    a.confirm = false;
                }
            }
        },
        Some(Arc::new(github)),
    );
    incident(&w.core).await;
    let t =
        text(&commands::handle(&w.core, &said("bob", ROOM, "run rollback-checkout v1.4.2")).await);
    assert!(
        t.starts_with("Running rollback-checkout version=v1.4.2"),
        "{t}"
    );
    w.pool.run_due().await.unwrap();
    let dispatch = calls.lock().unwrap()[0].clone();
    assert_eq!(dispatch.2["ref"], "main");
    assert_eq!(
        dispatch.2["inputs"],
        serde_json::json!({ "version": "v1.4.2" })
    );
    let log = w.core.store.audit_log(10).await.unwrap();
    let id = log[0].run_id.unwrap();
    let run = w.core.store.get_action_run(id).await.unwrap();
    assert_eq!(run.state, ActionRunState::Following);
    assert!(
        w.printed
            .text()
            .contains("Action rollback-checkout started")
    );

    // Polled every 15 s (the example's poll_every): queued at the first look, done at the
    // second.
    for expected in [ActionRunState::Following, ActionRunState::Succeeded] {
        assert_eq!(
            w.pool.run_due().await.unwrap(),
            0,
            "nothing before the poll is due"
        );
        app.clock.advance(chrono::Duration::seconds(15));
        w.pool.run_due().await.unwrap();
        assert_eq!(
            w.core.store.get_action_run(id).await.unwrap().state,
            expected
        );
    }
    let run = w.core.store.get_action_run(id).await.unwrap();
    assert_eq!(
        run.summary.as_deref(),
        Some("workflow run 1 finished: success")
    );
    let printed = w.printed.text();
    assert!(
        printed.contains("[RESOLVED] Action rollback-checkout succeeded"),
        "{printed}"
    );
    let audit: Vec<AuditEvent> = w
        .core
        .store
        .audit_log(10)
        .await
        .unwrap()
        .iter()
        .rev()
        .map(|e| e.event)
        .collect();
    assert_eq!(audit, [AuditEvent::Requested, AuditEvent::Succeeded]);
}

async fn update_reminders_follow_the_interval_of_the_current_severity(app: TestApp) {
    // The example: sev1 every 30 minutes, sev2 every hour, sev4 never.
    let w = world(&app, &[], |_| {});
    let declare = |severity: &str, title: &str| {
        let text = format!("declare {severity} {title}");
        let core = w.core.clone();
        async move { commands::handle(&core, &said("alice", "general", &text)).await }
    };
    declare("sev2", "Search is slow").await;
    w.pool.run_due().await.unwrap();
    let inc = w.core.store.get_incident_by_number(1).await.unwrap();
    let reminders = || {
        let core = w.core.clone();
        async move {
            core.store
                .timeline(Subject::Incident(inc.id))
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.kind == TimelineKind::Reminder)
                .map(|e| e.at)
                .collect::<Vec<_>>()
        }
    };
    let start = app.clock.now();
    let at = |minutes: i64| start + chrono::Duration::minutes(minutes);
    let advance_to = |minutes: i64| {
        let clock = app.clock.clone();
        let target = at(minutes);
        async move { clock.advance(target - clock.now()) }
    };
    // Raised to sev1 after 10 minutes: reminded 30 minutes later, not an hour after declaring.
    advance_to(10).await;
    let t =
        text(&commands::handle(&w.core, &said("alice", "general", "severity INC-1 sev1")).await);
    assert!(t.contains("sev1"), "{t}");
    w.pool.run_due().await.unwrap();
    advance_to(39).await;
    w.pool.run_due().await.unwrap();
    assert!(reminders().await.is_empty());
    advance_to(40).await;
    w.pool.run_due().await.unwrap();
    assert_eq!(reminders().await, [at(40)]);
    // The sev2 reminder due at 60 minutes finds a reminder since it was set and stops; the
    // sev1 chain goes on every 30 minutes.
    for minutes in [60, 69, 70, 75] {
        advance_to(minutes).await;
        w.pool.run_due().await.unwrap();
    }
    assert_eq!(reminders().await, [at(40), at(70)]);
    let printed = w.printed.text();
    assert!(
        printed.contains("No status update on INC-1 for 30 minutes"),
        "{printed}"
    );

    // sev4: no reminders at all.
    declare("sev4", "Typo on the status page").await;
    let jobs = w.core.store.list_jobs(None, 100).await.unwrap();
    let sev4 = w.core.store.get_incident_by_number(2).await.unwrap();
    assert!(
        !jobs.iter().any(|j| j.kind == "incident.update_reminder"
            && j.payload["incident_id"] == serde_json::json!(sev4.id)),
        "{jobs:?}"
    );
}

async fn a_responder_added_is_invited_and_paged_when_asked(app: TestApp) {
    let w = world(&app, &[], |_| {});
    let inc = incident(&w.core).await;
    w.pool.run_due().await.unwrap();
    let t = text(
        &commands::handle(
            &w.core,
            &said("carla", ROOM, "responders add @dieter --page"),
        )
        .await,
    );
    assert_eq!(
        t,
        "dieter joined INC-1 as responder. They have been sent the incident directly."
    );
    let t = text(&commands::handle(&w.core, &said("carla", ROOM, "responders add @bob")).await);
    assert_eq!(t, "bob joined INC-1 as responder.");
    w.pool.run_due().await.unwrap();
    w.pool.run_due().await.unwrap();
    let printed = w.printed.text();
    assert!(
        printed.contains(&format!("#{ROOM}\nInvited: dieter")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("#{ROOM}\nInvited: bob")),
        "{printed}"
    );
    assert!(
        printed.contains("#@dieter\n") && printed.contains("user:carla asks you to join INC-1"),
        "{printed}"
    );
    assert!(!printed.contains("#@bob\n"), "bob was not paged: {printed}");
    let timeline = w
        .core
        .store
        .timeline(Subject::Incident(inc.id))
        .await
        .unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.kind == TimelineKind::Paged && e.text == "Paged dieter to join")
    );
}
