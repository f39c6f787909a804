//! The issue trackers against stub GitHub and Jira Cloud servers on loopback, real HTTP:
//! what filing an action item sends (method, path, auth header, body shape — GitHub's
//! checked against its published REST description in the shared fixtures, Jira's against
//! the documented create-issue request with an Atlassian Document Format description),
//! what is made of the documented answers, and how refusals (GitHub 422, Jira 400) and
//! outages (5xx, with `Retry-After`) are told apart for the job runner.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::tickets::github::GithubIssues;
use adapters::tickets::jira::{JiraIssues, JiraSettings};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bot_core::model::{ActionItem, ActionItemState, IncidentId, Severity, TicketStatus, Tracker};
use bot_core::postmortem::action_items::{TicketContext, TicketError, TicketTracker};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_TestToken0123456789abcdefABCDEF";
const JIRA_EMAIL: &str = "tocsin@acme.example";
const JIRA_TOKEN: &str = "ATATT3xFfGF0-test-token";

// ---------------------------------------------------------------------------------------
// Fixtures.

fn fixtures_dir() -> PathBuf {
    std::env::var_os("TOCSIN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/fixtures"
            ))
        })
        .join("github")
}

fn json_fixture(name: &str) -> Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The documented 201 example of `issues/create`: issue #1347 of octocat/Hello-World.
fn created_issue() -> Value {
    let operation = json_fixture("rest/examples/issues.create.json");
    operation["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .find(|r| r["status"] == 201)
        .expect("a 201 example")["body"]
        .clone()
}

/// The request body schema of `POST /repos/{owner}/{repo}/issues`.
fn issue_request_schema() -> Value {
    let spec = json_fixture("rest/openapi-subset.json");
    spec["paths"]["/repos/{owner}/{repo}/issues"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]
        .clone()
}

/// GitHub's documented `validation-error` body, as it answers an issue it will not create.
fn validation_failed() -> Value {
    json!({
        "message": "Validation Failed",
        "errors": [{ "resource": "Issue", "code": "invalid", "field": "labels" }],
        "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
    })
}

fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(schema)
        .expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// A stub server recording what it receives.

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Handler = dyn Fn(&Seen) -> (u16, Vec<(&'static str, String)>, Value) + Send + Sync;

#[derive(Clone)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    handler: Arc<Handler>,
}

async fn record(
    State(stub): State<Stub>,
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
    let (status, extra, answer) = (stub.handler)(&seen);
    stub.seen.lock().unwrap().push(seen);
    let mut response = (StatusCode::from_u16(status).unwrap(), answer.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in extra {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).unwrap());
    }
    response
}

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(
        handler: impl Fn(&Seen) -> (u16, Vec<(&'static str, String)>, Value) + Send + Sync + 'static,
    ) -> Self {
        let stub = Stub {
            seen: Arc::default(),
            handler: Arc::new(handler),
        };
        let seen = stub.seen.clone();
        let app = Router::new().fallback(record).with_state(stub);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------
// What is filed.

fn item(tracker: Tracker, target: &str) -> ActionItem {
    let at: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
    ActionItem {
        id: IncidentId::new().0,
        incident_id: IncidentId::new(),
        title: "Add a circuit breaker to the payment client".into(),
        assignee: Some("bob".into()),
        tracker: Some(tracker),
        target: Some(target.into()),
        state: ActionItemState::Open,
        ticket_status: TicketStatus::Pending,
        ticket_key: None,
        ticket_url: None,
        ticket_state: None,
        ticket_error: None,
        created_by: "user:alice".into(),
        created_at: at,
        updated_at: at,
        done_at: None,
    }
}

fn context() -> TicketContext {
    TicketContext {
        reference: "INC-42".into(),
        incident_title: "Checkout is failing".into(),
        severity: Severity::Sev1,
        services: vec!["checkout".into(), "payments".into()],
        link: "https://tocsin.example/postmortems/0192?token=abc".into(),
        assignee: Some("Bob Builder (bob)".into()),
        labels: TicketContext::LABELS
            .iter()
            .map(|l| l.to_string())
            .collect(),
    }
}

fn github(server: &Server) -> GithubIssues {
    GithubIssues::new(TOKEN, Some(&server.url)).unwrap()
}

fn jira(server: &Server) -> JiraIssues {
    JiraIssues::new(JiraSettings {
        base_url: format!("{}/", server.url),
        email: JIRA_EMAIL.into(),
        api_token: JIRA_TOKEN.into(),
        issue_type: "Task".into(),
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// GitHub.

fn check_github_request(s: &Seen) {
    assert_eq!(s.method, Method::POST);
    assert_eq!(s.path, "/repos/octocat/Hello-World/issues");
    assert_eq!(
        s.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(s.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(s.header("content-type"), Some("application/json"));
    let schema = issue_request_schema();
    let problems = schema_errors(&schema, &s.body);
    assert!(problems.is_empty(), "{problems:#?}");
    let documented: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in s.body.as_object().expect("a JSON object").keys() {
        assert!(
            documented.contains(key.as_str()),
            "undocumented field {key}"
        );
    }
}

#[tokio::test]
async fn a_github_issue_is_opened_with_the_labels_and_the_incident_context() {
    let server = Server::start(|_| (201, vec![], created_issue())).await;
    let filed = github(&server)
        .file(&item(Tracker::Github, "octocat/Hello-World"), &context())
        .await
        .unwrap();
    assert_eq!(filed.key, "octocat/Hello-World#1347");
    assert_eq!(
        filed.url,
        "https://github.com/octocat/Hello-World/issues/1347"
    );
    assert_eq!(filed.state.as_deref(), Some("open"));

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    check_github_request(&seen[0]);
    let body = &seen[0].body;
    assert_eq!(body["title"], "Add a circuit breaker to the payment client");
    assert_eq!(body["labels"], json!(["incident", "postmortem"]));
    let text = body["body"].as_str().unwrap();
    for part in [
        "postmortem of INC-42 (Checkout is failing)",
        "**Severity:** sev1",
        "**Services:** checkout, payments",
        "**Assignee:** Bob Builder (bob)",
        "https://tocsin.example/postmortems/0192?token=abc",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
}

#[tokio::test]
async fn github_refusing_the_issue_is_permanent_with_its_message() {
    let server = Server::start(|_| (422, vec![], validation_failed())).await;
    let err = github(&server)
        .file(&item(Tracker::Github, "octocat/Hello-World"), &context())
        .await
        .unwrap_err();
    match err {
        TicketError::Refused(message) => {
            assert!(
                message.contains("Validation Failed") && message.contains("labels invalid"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    check_github_request(&server.seen()[0]);
}

#[tokio::test]
async fn a_github_outage_or_rate_limit_is_worth_retrying_after_its_delay() {
    let server = Server::start(|_| {
        (
            503,
            vec![("retry-after", "30".into())],
            json!({ "message": "Service unavailable", "documentation_url": "https://docs.github.com" }),
        )
    })
    .await;
    let err = github(&server)
        .file(&item(Tracker::Github, "octocat/Hello-World"), &context())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TicketError::Unavailable {
            message: "GitHub answered HTTP 503: Service unavailable".into(),
            retry_after: Some(Duration::from_secs(30)),
        }
    );
    let limited = Server::start(|_| {
        (
            403,
            vec![("x-ratelimit-remaining", "0".into())],
            json!({ "message": "API rate limit exceeded", "documentation_url": "https://docs.github.com" }),
        )
    })
    .await;
    let err = github(&limited)
        .file(&item(Tracker::Github, "octocat/Hello-World"), &context())
        .await
        .unwrap_err();
    assert!(matches!(err, TicketError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn github_unreachable_is_worth_retrying() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = GithubIssues::new(TOKEN, Some(&url)).unwrap();
    let err = client
        .file(&item(Tracker::Github, "octocat/Hello-World"), &context())
        .await
        .unwrap_err();
    assert!(matches!(err, TicketError::Unavailable { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// Jira Cloud.

/// Jira's documented answer to a created issue.
fn jira_created() -> Value {
    json!({
        "id": "10000",
        "key": "OPS-24",
        "self": "https://acme.atlassian.net/rest/api/3/issue/10000",
        "transition": { "status": 200, "errorCollection": { "errorMessages": [], "errors": {} } },
    })
}

/// Every node of an ADF document has a type; text nodes have non-empty text; a link mark
/// has an href. Returns the text, concatenated.
fn adf_text(node: &Value) -> String {
    let kind = node["type"].as_str().expect("every ADF node has a type");
    let mut text = String::new();
    if kind == "text" {
        let t = node["text"].as_str().expect("a text node has text");
        assert!(!t.is_empty(), "ADF text nodes must not be empty");
        for mark in node["marks"].as_array().into_iter().flatten() {
            let mark_type = mark["type"].as_str().expect("a mark has a type");
            assert!(["strong", "em", "link"].contains(&mark_type), "{mark_type}");
            if mark_type == "link" {
                assert!(
                    mark["attrs"]["href"]
                        .as_str()
                        .is_some_and(|h| !h.is_empty())
                );
            }
        }
        text.push_str(t);
    } else {
        assert!(
            ["doc", "paragraph", "bulletList", "listItem"].contains(&kind),
            "unexpected node {kind}"
        );
        for child in node["content"]
            .as_array()
            .expect("a block node has content")
        {
            text.push_str(&adf_text(child));
        }
        text.push('\n');
    }
    text
}

fn check_jira_request(s: &Seen) {
    assert_eq!(s.method, Method::POST);
    assert_eq!(s.path, "/rest/api/3/issue");
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}"));
    assert_eq!(
        s.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(
        s.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    let fields = s.body["fields"]
        .as_object()
        .expect("the body is {fields: …}");
    assert_eq!(
        s.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["fields"]
    );
    let keys: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["description", "issuetype", "labels", "project", "summary"])
    );
    assert!(fields["summary"].is_string());
    assert!(fields["project"]["key"].is_string());
    assert!(fields["issuetype"]["name"].is_string());
    for label in fields["labels"].as_array().unwrap() {
        assert!(
            !label.as_str().unwrap().contains(' '),
            "Jira labels have no spaces"
        );
    }
    let description = &fields["description"];
    assert_eq!(description["type"], "doc");
    assert_eq!(description["version"], 1);
}

#[tokio::test]
async fn a_jira_issue_is_created_with_an_adf_description_and_basic_auth() {
    let server = Server::start(|_| (201, vec![], jira_created())).await;
    let filed = jira(&server)
        .file(&item(Tracker::Jira, "OPS"), &context())
        .await
        .unwrap();
    assert_eq!(filed.key, "OPS-24");
    assert_eq!(filed.url, format!("{}/browse/OPS-24", server.url));

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    check_jira_request(&seen[0]);
    let fields = &seen[0].body["fields"];
    assert_eq!(fields["project"], json!({ "key": "OPS" }));
    assert_eq!(fields["issuetype"], json!({ "name": "Task" }));
    assert_eq!(
        fields["summary"],
        "Add a circuit breaker to the payment client"
    );
    assert_eq!(fields["labels"], json!(["incident", "postmortem"]));
    let text = adf_text(&fields["description"]);
    for part in [
        "postmortem of INC-42 (Checkout is failing)",
        "Severity: sev1",
        "Services: checkout, payments",
        "Assignee: Bob Builder (bob)",
        "Postmortem: https://tocsin.example/postmortems/0192?token=abc",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
}

#[tokio::test]
async fn jira_refusing_the_issue_is_permanent_with_its_field_errors() {
    let server = Server::start(|_| {
        (
            400,
            vec![],
            json!({
                "errorMessages": [],
                "errors": { "issuetype": "Specify a valid issue type" },
            }),
        )
    })
    .await;
    let err = jira(&server)
        .file(&item(Tracker::Jira, "OPS"), &context())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TicketError::Refused(
            "Jira refused the issue in OPS (HTTP 400): issuetype: Specify a valid issue type"
                .into()
        )
    );
    check_jira_request(&server.seen()[0]);
}

#[tokio::test]
async fn a_jira_outage_is_worth_retrying_after_its_delay() {
    let server = Server::start(|_| {
        (
            500,
            vec![("retry-after", "12".into())],
            json!({ "errorMessages": ["Internal server error"], "errors": {} }),
        )
    })
    .await;
    let err = jira(&server)
        .file(&item(Tracker::Jira, "OPS"), &context())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TicketError::Unavailable {
            message: "Jira answered HTTP 500: Internal server error".into(),
            retry_after: Some(Duration::from_secs(12)),
        }
    );
}
