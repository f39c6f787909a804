//! Postmortem action items end to end, on SQLite and PostgreSQL: added over REST and from
//! chat (the console's grammar, the same on every platform), filed as tickets by the
//! durable job against a stub GitHub and a stub Jira Cloud on loopback (a 5xx is retried
//! after the job's backoff, a Jira 400 marks the item failed with Jira's message), and
//! moved by GitHub's signed `issues` webhook: closed -> done, reopened -> open; a forged
//! delivery is refused. Bad input gets a 4xx naming what is configured, and writes nothing.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use adapters::tickets::github::GithubIssues;
use adapters::tickets::jira::{JiraIssues, JiraSettings};
use adapters::tickets::webhook::sign;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{
    Actor, ChannelRef, Incident, JobState, ServiceId, Severity, Subject, TimelineKind, Tracker,
    UserId,
};
use bot_core::ops::Declare;
use bot_core::postmortem::action_items::{
    TicketJobs, TicketTracker, TrackerSettings, WebhookSecret,
};
use bot_core::postmortem::kinds;
use bot_core::{Clock, Core};
use commands::{Input, Invocation};
use serde_json::{Value, json};
use support::TestApp;

on_both!(
    items_are_filed_as_tickets_retried_and_closed_by_the_signed_webhook,
    bad_input_is_refused_naming_what_is_configured_and_nothing_is_written,
    a_tracker_down_past_the_last_attempt_leaves_the_item_failed_with_its_error,
);

const GITHUB_TOKEN: &str = "ghp_TestToken0123456789abcdefABCDEF";
const SECRET: &str = "whsec-test-0123456789";
const REPO: &str = "octocat/Hello-World";

// ---------------------------------------------------------------------------------------
// Fixtures.

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/github"
    ))
    .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The documented body of an operation's answer with `status`.
fn example(name: &str, status: u16) -> Value {
    fixture(&format!("rest/examples/{name}"))["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == status)
        .unwrap()["body"]
        .clone()
}

/// An `issues` delivery: the documented issue (#1347 of octocat/Hello-World) in `state`,
/// the documented repository, and the issue's author as sender.
fn issues_event(action: &str, state: &str, number: Option<u64>) -> Vec<u8> {
    let mut issue = example("issues.create.json", 201);
    issue["state"] = json!(state);
    if let Some(n) = number {
        issue["number"] = json!(n);
    }
    let sender = issue["user"].clone();
    serde_json::to_vec(&json!({
        "action": action,
        "issue": issue,
        "repository": example("repos.get.json", 200),
        "sender": sender,
    }))
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// Stub GitHub and Jira on one loopback server.

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone, Default)]
struct Trackers {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// GitHub answers this many 502s before it creates the issue.
    github_outages: Arc<AtomicUsize>,
}

async fn tracker_stub(
    State(stub): State<Trackers>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method,
        path: uri.path().to_owned(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let (status, answer) = match seen.path.as_str() {
        "/repos/octocat/Hello-World/issues" => {
            let outage = stub
                .github_outages
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if outage {
                (502, json!({ "message": "Server Error" }))
            } else {
                (201, example("issues.create.json", 201))
            }
        }
        "/rest/api/3/issue" => (
            400,
            json!({ "errorMessages": [], "errors": { "issuetype": "Specify a valid issue type" } }),
        ),
        _ => (404, json!({ "message": "Not Found" })),
    };
    stub.seen.lock().unwrap().push(seen);
    let mut response = (StatusCode::from_u16(status).unwrap(), answer.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

async fn start_trackers() -> (Trackers, String) {
    let stub = Trackers::default();
    let app = Router::new()
        .fallback(tracker_stub)
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (stub, url)
}

// ---------------------------------------------------------------------------------------
// The app, with trackers configured.

struct World {
    app: TestApp,
    pool: WorkerPool,
    stub: Trackers,
}

fn settings(jira: bool) -> TrackerSettings {
    TrackerSettings {
        github_repos: vec![REPO.into()],
        jira_projects: if jira { vec!["OPS".into()] } else { vec![] },
        default: Some(Tracker::Github),
        jira_site: None,
        webhook_secret: Some(WebhookSecret(SECRET.into())),
    }
}

async fn world(app: TestApp, trackers: TrackerSettings) -> World {
    world_with(app, trackers, &[Tracker::Github, Tracker::Jira]).await
}

/// The world with clients (credentials) for `with_clients` only.
async fn world_with(app: TestApp, trackers: TrackerSettings, with_clients: &[Tracker]) -> World {
    let mut settings = (*app.core.settings).clone();
    settings.trackers = trackers;
    let clock = app.clock.clone();
    let core = Core::new(app.db.store.clone(), Arc::new(clock.clone()), settings);
    let (stub, url) = start_trackers().await;
    let mut clients: HashMap<Tracker, Arc<dyn TicketTracker>> = HashMap::new();
    clients.insert(
        Tracker::Github,
        Arc::new(GithubIssues::new(GITHUB_TOKEN, Some(&url)).unwrap()),
    );
    clients.insert(
        Tracker::Jira,
        Arc::new(
            JiraIssues::new(JiraSettings {
                base_url: url.clone(),
                email: "tocsin@acme.example".into(),
                api_token: "jira-token".into(),
                issue_type: "Task".into(),
            })
            .unwrap(),
        ),
    );
    clients.retain(|tracker, _| with_clients.contains(tracker));
    let runner = adapters::actions::Runner::new().unwrap();
    let handlers = tocsin::app::core_handlers_with(&core, Arc::new(runner), None)
        .merge(TicketJobs::handlers(core.clone(), clients));
    let pool = WorkerPool::new(
        core.store.clone(),
        Arc::new(clock),
        handlers,
        PoolConfig {
            queues: vec!["core".into()],
            ..Default::default()
        },
    );
    let router = tocsin::http::router(tocsin::http::AppState::new(core.clone()));
    World {
        app: TestApp {
            router,
            core,
            ..app
        },
        pool,
        stub,
    }
}

/// A sev2 incident on checkout, worked in the console channel `inc-1`.
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

/// `/incident <text>` said by alice at the console in `channel`; the reply's text.
async fn say(app: &TestApp, channel: &str, text: &str) -> String {
    let invocation = Invocation {
        platform: "console".into(),
        user: "alice".into(),
        channel: channel.into(),
        input: Input::Slash {
            command: "incident".into(),
            text: text.into(),
        },
        delivery: None,
        groups: Vec::new(),
    };
    commands::handle(&app.core, &invocation)
        .await
        .message
        .plain()
}

async fn webhook(
    app: &TestApp,
    event: &str,
    body: Vec<u8>,
    signature: Option<String>,
) -> (StatusCode, Value) {
    let mut request = Request::post("/github/webhooks")
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    app.send(request.body(Body::from(body)).unwrap()).await
}

async fn signed(app: &TestApp, event: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let signature = sign(SECRET.as_bytes(), &body);
    webhook(app, event, body, Some(signature)).await
}

fn items_path(incident: &Incident) -> String {
    format!(
        "/api/v1/incidents/{}/postmortem/action-items",
        incident.number
    )
}

async fn ticket_jobs(app: &TestApp) -> Vec<bot_core::model::Job> {
    app.core
        .store
        .list_jobs(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == kinds::TICKET)
        .collect()
}

// ---------------------------------------------------------------------------------------

async fn items_are_filed_as_tickets_retried_and_closed_by_the_signed_webhook(app: TestApp) {
    let World { app, pool, stub } = world(app, settings(true)).await;
    let incident = incident(&app).await;
    stub.github_outages.store(1, Ordering::SeqCst);

    // REST: a GitHub item, assigned.
    let (status, created) = app
        .json(
            "POST",
            &items_path(&incident),
            &app.responder,
            json!({ "title": "Add a circuit breaker to the payment client", "repo": REPO, "assignee": "bob" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["ticket_status"], "pending");
    assert_eq!(created["tracker"], "github");
    assert_eq!(created["target"], REPO);
    assert_eq!(created["state"], "open");
    let id = created["id"].as_str().unwrap().to_owned();

    // The first attempt meets a 502: the item stays pending with GitHub's error, and the
    // job waits for its backoff.
    pool.run_due().await.unwrap();
    let (_, listed) = app.get(&items_path(&incident), &app.viewer).await;
    assert_eq!(listed[0]["ticket_status"], "pending", "{listed}");
    assert!(
        listed[0]["ticket_error"]
            .as_str()
            .is_some_and(|e| e.contains("502") && e.contains("Server Error")),
        "{listed}"
    );
    let job = ticket_jobs(&app).await.remove(0);
    assert_eq!(job.state, JobState::Queued);
    assert!(
        job.run_at > app.clock.now(),
        "the retry waits for its backoff"
    );
    pool.run_due().await.unwrap();
    assert_eq!(
        stub.seen.lock().unwrap().len(),
        1,
        "nothing before the backoff"
    );

    // After the backoff the issue is created; the item shows where.
    app.clock.set(job.run_at);
    pool.run_due().await.unwrap();
    let (_, listed) = app.get(&items_path(&incident), &app.viewer).await;
    let item = &listed[0];
    assert_eq!(item["ticket_status"], "created", "{listed}");
    assert_eq!(item["ticket_key"], "octocat/Hello-World#1347");
    assert_eq!(
        item["ticket_url"],
        "https://github.com/octocat/Hello-World/issues/1347"
    );
    assert_eq!(item["ticket_state"], "open");
    assert_eq!(item["ticket_error"], Value::Null);
    let seen = stub.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let request = &seen[1];
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.headers.get("authorization").unwrap(),
        &format!("Bearer {GITHUB_TOKEN}")
    );
    assert_eq!(request.body["labels"], json!(["incident", "postmortem"]));
    let body = request.body["body"].as_str().unwrap();
    assert!(body.contains("INC-1"), "{body}");
    assert!(body.contains("Payments fail for some customers"), "{body}");
    assert!(body.contains("**Services:** checkout"), "{body}");
    assert!(body.contains("Bob Jones (bob)"), "{body}");
    assert!(
        body.contains(&format!("/api/v1/incidents/{}", incident.id)),
        "the link to the incident: {body}"
    );

    // Chat: a Jira item in the incident channel, once the incident has a postmortem (its
    // page is what the ticket links to); Jira refuses it, the item is kept.
    let postmortem = app
        .core
        .create_postmortem(&Actor::User(UserId::from("alice")), incident.id, None)
        .await
        .expect("postmortem");
    let page = app.core.postmortem_link(&postmortem).await.unwrap();
    let reply = say(
        &app,
        "inc-1",
        "action add Write the payments runbook --project OPS",
    )
    .await;
    assert!(
        reply.contains("Action item added to INC-1")
            && reply.contains("Filing it as a Jira issue in OPS"),
        "{reply}"
    );
    pool.run_due().await.unwrap();
    let jira_request = stub.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(jira_request.path, "/rest/api/3/issue");
    assert_eq!(jira_request.body["fields"]["project"]["key"], "OPS");
    assert_eq!(jira_request.body["fields"]["description"]["type"], "doc");
    let description = jira_request.body["fields"]["description"].to_string();
    assert!(
        description.contains(&format!(
            "\"href\":\"{}{page}\"",
            app.core.settings.public_url
        )),
        "the link to the postmortem page: {description}"
    );
    let list = say(&app, "inc-1", "action list").await;
    assert!(
        list.contains("1. [open] Add a circuit breaker to the payment client (assignee: bob)")
            && list.contains("octocat/Hello-World#1347"),
        "{list}"
    );
    assert!(
        list.contains("2. [open] Write the payments runbook — Jira refused the issue")
            && list.contains("Specify a valid issue type"),
        "{list}"
    );
    let (_, listed) = app.get(&items_path(&incident), &app.viewer).await;
    assert_eq!(listed[1]["ticket_status"], "failed");
    assert!(
        ticket_jobs(&app)
            .await
            .iter()
            .all(|j| j.state == JobState::Done)
    );

    // A forged `closed` delivery is refused and moves nothing.
    let forged = sign(b"not-the-secret", &issues_event("closed", "closed", None));
    let (status, _) = webhook(
        &app,
        "issues",
        issues_event("closed", "closed", None),
        Some(forged),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        webhook(&app, "issues", issues_event("closed", "closed", None), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (_, listed) = app.get(&items_path(&incident), &app.viewer).await;
    assert_eq!(listed[0]["state"], "open");

    // GitHub checks the hook, then the issue is closed: the item is done, in the timeline.
    let (status, _) = signed(
        &app,
        "ping",
        br#"{"zen":"Design for failure.","hook_id":1}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(30));
    let closed_at = app.clock.now();
    let (status, answer) = signed(&app, "issues", issues_event("closed", "closed", None)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["action_item_id"], id.as_str());
    let (_, listed) = app.get(&items_path(&incident), &app.viewer).await;
    assert_eq!(listed[0]["state"], "done");
    assert_eq!(listed[0]["ticket_state"], "closed");
    assert_eq!(
        listed[0]["done_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        closed_at
    );
    assert_eq!(
        listed[1]["state"], "open",
        "only the closed ticket's item moves"
    );
    // Redelivered: still done, one note.
    let (status, _) = signed(&app, "issues", issues_event("closed", "closed", None)).await;
    assert_eq!(status, StatusCode::OK);
    let notes: Vec<_> = app
        .core
        .store
        .timeline(Subject::Incident(incident.id))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == TimelineKind::Note && e.text.contains("circuit breaker"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].at, closed_at);
    assert_eq!(notes[0].actor, "github:octocat");
    assert!(
        notes[0].text.starts_with("Action item done"),
        "{}",
        notes[0].text
    );

    // Reopened: open again.
    let (status, _) = signed(&app, "issues", issues_event("reopened", "open", None)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = app.get(&items_path(&incident), &app.viewer).await;
    assert_eq!(listed[0]["state"], "open");
    assert_eq!(listed[0]["done_at"], Value::Null);

    // Deliveries that are not for us: accepted and ignored; malformed JSON: 400.
    let (status, answer) =
        signed(&app, "issues", issues_event("closed", "closed", Some(9999))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["outcome"], "ignored");
    let (status, _) = signed(&app, "issues", issues_event("labeled", "open", None)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = signed(&app, "push", br#"{"ref":"refs/heads/main"}"#.to_vec()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, answer) = signed(&app, "issues", b"{\"action\": \"closed\"".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
}

async fn bad_input_is_refused_naming_what_is_configured_and_nothing_is_written(app: TestApp) {
    let World { app, pool, stub } = world(app, settings(false)).await;
    let incident = incident(&app).await;
    let path = items_path(&incident);
    let post = |body: Value, token: String| {
        let app = &app;
        let path = path.clone();
        async move { app.json("POST", &path, &token, body).await }
    };

    let (status, body) = post(json!({ "title": "Fix it" }), app.viewer.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = app
        .json(
            "POST",
            "/api/v1/incidents/999/postmortem/action-items",
            &app.responder,
            json!({ "title": "Fix it" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get("/api/v1/incidents/999/postmortem/action-items", &app.viewer)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let refusals = [
        (
            json!({ "title": "Fix it", "tracker": "jira" }),
            "the jira tracker is not configured; configured trackers: github (octocat/Hello-World)",
        ),
        (
            json!({ "title": "Fix it", "repo": "evil/repo" }),
            "repository `evil/repo` is not allowed for github; allowed: octocat/Hello-World",
        ),
        (
            json!({ "title": "Fix it", "project": "OPS" }),
            "the jira tracker is not configured",
        ),
        (
            json!({ "title": "Fix it", "tracker": "jira", "repo": REPO }),
            "a repository is for GitHub",
        ),
        (json!({ "title": "   " }), "title must not be empty"),
        (
            json!({ "title": "x".repeat(201) }),
            "longer than 200 characters",
        ),
        (
            json!({ "title": "Fix it", "assignee": "nobody" }),
            "no user `nobody`",
        ),
        (
            json!({ "title": "Fix it", "tracker": "gitlab" }),
            "unknown variant",
        ),
        (
            json!({ "title": "Fix it", "labels": ["x"] }),
            "unknown field",
        ),
    ];
    for (body, expected) in refusals {
        let (status, answer) = post(body.clone(), app.responder.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        let message = answer.to_string();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let (status, _) = app
        .send(
            Request::post(&path)
                .header("authorization", format!("Bearer {}", app.responder))
                .header("content-type", "application/json")
                .body(Body::from("{\"title\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Chat: the same refusals, as a usage reply naming the configured trackers.
    let reply = say(&app, "inc-1", "action add Fix it --tracker jira").await;
    assert!(
        reply.starts_with("Usage: /incident action add")
            && reply.contains("configured trackers: github (octocat/Hello-World)"),
        "{reply}"
    );
    let reply = say(&app, "inc-1", "action add Fix it --repo evil/repo").await;
    assert!(reply.contains("allowed: octocat/Hello-World"), "{reply}");
    let reply = say(&app, "general", "action add Fix it").await;
    assert!(reply.contains("name the incident: INC-<number>"), "{reply}");
    let reply = say(&app, "inc-1", "action add Fix it --assignee @nobody").await;
    assert!(
        reply.contains("no Tocsin user is known as @nobody"),
        "{reply}"
    );

    // The API documents both routes and what they answer.
    let (status, doc) = app
        .send(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = &doc["paths"]["/api/v1/incidents/{id}/postmortem/action-items"];
    assert!(items["post"]["responses"]["201"].is_object(), "{items}");
    assert!(items["post"]["responses"]["422"].is_object(), "{items}");
    assert!(items["get"]["responses"]["200"].is_object(), "{items}");
    assert!(doc["paths"]["/github/webhooks"]["post"]["responses"]["401"].is_object());
    assert!(doc["components"]["schemas"]["ActionItem"].is_object());

    // Nothing was written, nothing was filed.
    let (status, listed) = app.get(&path, &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!([]));
    assert!(ticket_jobs(&app).await.is_empty());
    pool.run_due().await.unwrap();
    assert!(stub.seen.lock().unwrap().is_empty());

    // Without Jira's credentials (nor a webhook secret): a Jira item is kept, marked
    // failed with what to set; webhooks are refused, saying so.
    let World { app, pool, .. } = world_with(
        app,
        TrackerSettings {
            webhook_secret: None,
            ..settings(true)
        },
        &[Tracker::Github],
    )
    .await;
    let (status, _) = app
        .json(
            "POST",
            &path,
            &app.responder,
            json!({ "title": "Write the runbook", "project": "OPS" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    pool.run_due().await.unwrap();
    let (_, listed) = app.get(&path, &app.viewer).await;
    assert_eq!(listed[0]["ticket_status"], "failed", "{listed}");
    assert!(
        listed[0]["ticket_error"]
            .as_str()
            .is_some_and(|e| e.contains("jira has no credentials here")),
        "{listed}"
    );
    let body = issues_event("closed", "closed", None);
    let signature = sign(SECRET.as_bytes(), &body);
    let (status, answer) = webhook(&app, "issues", body, Some(signature)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        answer.to_string().contains("GITHUB_WEBHOOK_SECRET"),
        "{answer}"
    );
}

async fn a_tracker_down_past_the_last_attempt_leaves_the_item_failed_with_its_error(app: TestApp) {
    let World { app, pool, stub } = world(app, settings(false)).await;
    let incident = incident(&app).await;
    stub.github_outages.store(usize::MAX, Ordering::SeqCst);
    let (status, created) = app
        .json(
            "POST",
            &items_path(&incident),
            &app.responder,
            json!({ "title": "Add a circuit breaker" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["target"], REPO,
        "the default tracker and its first repository"
    );
    // Each attempt waits for its backoff; the last one gives up.
    let mut attempts = 0;
    while let Some(job) = ticket_jobs(&app)
        .await
        .into_iter()
        .find(|j| j.state == JobState::Queued)
    {
        app.clock.set(job.run_at.max(app.clock.now()));
        pool.run_due().await.unwrap();
        attempts += 1;
        assert!(attempts <= 20, "the job never gave up");
    }
    let job = ticket_jobs(&app).await.remove(0);
    assert_eq!(attempts, job.max_attempts);
    assert_eq!(stub.seen.lock().unwrap().len(), job.max_attempts as usize);
    let (_, listed) = app.get(&items_path(&incident), &app.viewer).await;
    assert_eq!(listed[0]["ticket_status"], "failed", "{listed}");
    let error = listed[0]["ticket_error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("gave up after {} attempts", job.max_attempts))
            && error.contains("502"),
        "{error}"
    );
    assert_eq!(
        listed[0]["title"], "Add a circuit breaker",
        "the item is kept"
    );
}
