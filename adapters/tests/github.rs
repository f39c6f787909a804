//! The GitHub adapter against a stub GitHub on loopback, real HTTP through octocrab: what
//! each call sends (method, path, query, token, media type, JSON and GraphQL bodies checked
//! against GitHub's published REST description and GraphQL schema in the shared fixtures),
//! what it makes of GitHub's documented answers, and how failures are sorted for the job
//! runner (`NotFound`, `Refused` with GitHub's message, `RateLimited`, `Unavailable`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::github::GitHub;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bot_core::actions::{
    RevertRequest, RevertTarget, Vcs, VcsError, WorkflowDispatch, WorkflowRun,
};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_TestToken0123456789abcdefABCDEF";
const OWNER: &str = "octocat";
const REPO: &str = "Hello-World";
/// `Date` the stub sends with a 204 dispatch: three seconds before the run in
/// `actions.list-workflow-runs.json` was created.
const DISPATCH_DATE: &str = "Wed, 22 Jan 2020 19:33:05 GMT";

// ---------------------------------------------------------------------------------------
// Fixtures: GitHub's own examples and schema, read from the shared folder.

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

fn read(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The documented example body of an operation's answer with `status`.
fn rest_example(name: &str, status: u16) -> Value {
    let operation = json_fixture(&format!("rest/examples/{name}"));
    operation["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .find(|r| r["status"] == status)
        .unwrap_or_else(|| panic!("{name} has no {status} example"))["body"]
        .clone()
}

/// `pulls.get`'s example pull request #1347 (which is not merged).
fn pull_request() -> Value {
    rest_example("pulls.get.json", 200)
}

fn merged_pull_request() -> Value {
    let mut pull = pull_request();
    pull["merged"] = json!(true);
    pull["state"] = json!("closed");
    pull
}

fn revert_example() -> Value {
    json_fixture("graphql/revertPullRequest.example.json")
}

/// The fields of a GraphQL input type in the schema excerpt, with whether each is
/// required (`!`).
fn input_fields(type_name: &str) -> Vec<(String, bool)> {
    let schema = read("graphql/revertPullRequest.graphql");
    let start = schema
        .find(&format!("input {type_name} {{"))
        .unwrap_or_else(|| panic!("{type_name} in the schema"));
    let block = &schema[start..];
    let block = &block[block.find('{').unwrap() + 1..block.find("\n}").unwrap()];
    let mut in_doc = false;
    let mut fields = Vec::new();
    for line in block.lines().map(str::trim) {
        if line == "\"\"\"" {
            in_doc = !in_doc;
            continue;
        }
        if in_doc || line.is_empty() {
            continue;
        }
        let (name, ty) = line.split_once(':').expect("field: Type");
        let ty = ty.split('=').next().unwrap().trim();
        fields.push((name.trim().to_owned(), ty.ends_with('!')));
    }
    fields
}

/// The request body properties of a REST operation in the OpenAPI description.
fn request_properties(path: &str, method: &str) -> BTreeSet<String> {
    let spec = json_fixture("rest/openapi-subset.json");
    spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        ["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} has a JSON body"))
        .keys()
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------
// The stub GitHub.

/// One request the stub received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(self.query.as_deref().unwrap_or("")).unwrap()
    }
}

/// What the stub answers one request with.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Self {
        Answer {
            status,
            headers: vec![],
            body: Some(body),
        }
    }

    fn ok(body: Value) -> Self {
        Self::json(200, body)
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

type Handler = dyn Fn(&Seen) -> Answer + Send + Sync;

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
        query: uri.query().map(str::to_owned),
        headers,
        body: if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).expect("every body Tocsin sends GitHub is JSON")
        },
    };
    let answer = (stub.handler)(&seen);
    stub.seen.lock().unwrap().push(seen);
    let status = StatusCode::from_u16(answer.status).unwrap();
    let mut response = match answer.body {
        Some(body) => {
            let mut response = (status, body.to_string()).into_response();
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            response
        }
        None => status.into_response(),
    };
    for (name, value) in answer.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

/// A running stub: its base URL and what it received.
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Self {
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

    fn github(&self) -> GitHub {
        GitHub::new(TOKEN.into(), Some(self.url.clone())).unwrap()
    }

    /// Every request so far, each checked for what GitHub asks of every call.
    fn seen(&self) -> Vec<Seen> {
        let seen = self.seen.lock().unwrap().clone();
        for s in &seen {
            let at = format!("{} {}", s.method, s.path);
            assert_eq!(
                s.header("authorization"),
                Some(format!("Bearer {TOKEN}").as_str()),
                "{at}"
            );
            assert_eq!(
                s.header("accept"),
                Some("application/vnd.github+json"),
                "{at}"
            );
            assert_eq!(s.header("x-github-api-version"), Some("2022-11-28"), "{at}");
            assert!(
                s.header("user-agent").is_some_and(|ua| !ua.is_empty()),
                "{at}"
            );
            if s.method == Method::POST {
                assert_eq!(s.header("content-type"), Some("application/json"), "{at}");
                assert!(s.body.is_object(), "{at}: a JSON object body");
            }
        }
        seen
    }
}

fn revert_request(target: RevertTarget, auto_merge: bool) -> RevertRequest {
    RevertRequest {
        owner: OWNER.into(),
        repo: REPO.into(),
        target,
        auto_merge,
        reason: "Reverted from chat during INC-42 by alice".into(),
        client_mutation_id: "tocsin-run-7".into(),
    }
}

fn dispatch_request() -> WorkflowDispatch {
    WorkflowDispatch {
        owner: "octo-org".into(),
        repo: "octo-repo".into(),
        workflow: "rollback.yml".into(),
        git_ref: "main".into(),
        inputs: [
            ("service".to_owned(), "checkout".to_owned()),
            ("version".to_owned(), "v1.4.2".to_owned()),
        ]
        .into(),
    }
}

const DISPATCH_PATH: &str = "/repos/octo-org/octo-repo/actions/workflows/rollback.yml/dispatches";

/// A GraphQL request: checks the operation is the `field` mutation taking `$input:
/// <input_type>!`, and returns its `input`.
fn graphql_input(seen: &Seen, field: &str, input_type: &str) -> Value {
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/graphql");
    let query = seen.body["query"].as_str().expect("a query string");
    assert!(query.trim_start().starts_with("mutation"), "{query}");
    assert!(query.contains(&format!("$input: {input_type}!")), "{query}");
    assert!(
        query.contains(&format!("{field}(input: $input)")),
        "{query}"
    );
    let variables = seen.body["variables"].as_object().expect("variables");
    assert_eq!(
        variables.keys().collect::<Vec<_>>(),
        ["input"],
        "only $input is declared"
    );
    variables["input"].clone()
}

/// The input sent to `revertPullRequest`, checked against `RevertPullRequestInput` in
/// GitHub's schema and the fields of the published example request.
fn revert_input(seen: &Seen) -> Value {
    let input = graphql_input(seen, "revertPullRequest", "RevertPullRequestInput");
    let sent: BTreeSet<String> = input.as_object().unwrap().keys().cloned().collect();
    let schema = input_fields("RevertPullRequestInput");
    let known: BTreeSet<String> = schema.iter().map(|(name, _)| name.clone()).collect();
    assert!(
        sent.is_subset(&known),
        "unknown fields: {:?}",
        &sent - &known
    );
    for (name, required) in &schema {
        assert!(!required || sent.contains(name), "{name} is required");
    }
    let example: BTreeSet<String> = revert_example()["request"]["variables"]["input"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(sent, example);
    assert!(input["pullRequestId"].is_string());
    assert!(input["title"].is_string());
    assert!(input["body"].is_string());
    assert_eq!(input["draft"], json!(false));
    input
}

/// The stub's answer to `revertPullRequest`: the published example response.
fn revert_answer() -> Answer {
    Answer::ok(revert_example()["response"].clone())
}

fn auto_merge_answer() -> Answer {
    Answer::ok(json!({
        "data": {
            "enablePullRequestAutoMerge": {
                "clientMutationId": "tocsin-run-7",
                "pullRequest": {
                    "number": 1348,
                    "autoMergeRequest": { "enabledAt": "2020-01-22T19:40:00Z" }
                }
            }
        }
    }))
}

fn is_graphql(seen: &Seen, field: &str) -> bool {
    seen.path == "/graphql"
        && seen.body["query"]
            .as_str()
            .is_some_and(|q| q.contains(&format!("{field}(")))
}

fn not_found() -> Answer {
    Answer::json(
        404,
        json!({
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404"
        }),
    )
}

// ---------------------------------------------------------------------------------------
// Reverts.

#[tokio::test]
async fn revert_by_pull_request_number_opens_the_revert_through_graphql() {
    let server = Server::start(|s| match (s.method.as_str(), s.path.as_str()) {
        ("GET", "/repos/octocat/Hello-World/pulls/1347") => Answer::ok(merged_pull_request()),
        ("POST", "/graphql") => revert_answer(),
        _ => not_found(),
    })
    .await;

    let revert = server
        .github()
        .revert(&revert_request(RevertTarget::PullRequest(1347), false))
        .await
        .unwrap();

    assert_eq!(revert.original_number, 1347);
    assert_eq!(
        revert.original_url,
        "https://github.com/octocat/Hello-World/pull/1347"
    );
    assert_eq!(revert.number, 1348);
    assert_eq!(
        revert.url,
        "https://github.com/octocat/Hello-World/pull/1348"
    );
    assert!(!revert.auto_merge);

    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].method, Method::GET);
    let input = revert_input(&seen[1]);
    assert_eq!(input["pullRequestId"], pull_request()["node_id"]);
    assert_eq!(input["title"], "Revert \"Amazing new feature\"");
    assert_eq!(
        input["body"],
        "Reverted from chat during INC-42 by alice\n\nReverts octocat/Hello-World#1347"
    );
    assert_eq!(input["clientMutationId"], "tocsin-run-7");
}

#[tokio::test]
async fn revert_by_commit_reverts_the_pull_request_that_merged_it() {
    // GitHub's list for a commit holds `pull-request-simple` objects: no `merged`, only
    // `merged_at`. An open pull request with the commit, a backport merged elsewhere, and
    // #1347 whose merge commit it is.
    let server = Server::start(|s| match (s.method.as_str(), s.path.as_str()) {
        ("GET", "/repos/octocat/Hello-World/commits/e5bd391/pulls") => {
            let mut open = pull_request();
            open["number"] = json!(1350);
            open["merged_at"] = Value::Null;
            let mut backport = merged_pull_request();
            backport["number"] = json!(1349);
            backport["node_id"] = json!("PR_backport");
            backport["merge_commit_sha"] = json!("0123456789abcdef0123456789abcdef01234567");
            let mut original = merged_pull_request();
            original["merge_commit_sha"] = json!("e5bd3914e2e596debea16f433f57875b5b90bcd6");
            let pulls: Vec<Value> = [open, backport, original]
                .into_iter()
                .map(|mut p| {
                    p.as_object_mut().unwrap().remove("merged");
                    p
                })
                .collect();
            Answer::ok(json!(pulls))
        }
        ("POST", "/graphql") => revert_answer(),
        _ => not_found(),
    })
    .await;

    let revert = server
        .github()
        .revert(&revert_request(
            RevertTarget::Commit("e5bd391".into()),
            false,
        ))
        .await
        .unwrap();

    assert_eq!((revert.original_number, revert.number), (1347, 1348));
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].method, Method::GET);
    let input = revert_input(&seen[1]);
    assert_eq!(input["pullRequestId"], pull_request()["node_id"]);
    assert!(
        input["body"]
            .as_str()
            .unwrap()
            .ends_with("Reverts octocat/Hello-World#1347")
    );
}

#[tokio::test]
async fn a_commit_no_merged_pull_request_contains_is_not_found() {
    let server = Server::start(|s| match s.path.as_str() {
        "/repos/octocat/Hello-World/commits/abc1234/pulls" => Answer::ok(json!([])),
        _ => not_found(),
    })
    .await;

    let err = server
        .github()
        .revert(&revert_request(
            RevertTarget::Commit("abc1234".into()),
            false,
        ))
        .await
        .unwrap_err();

    match err {
        VcsError::NotFound(message) => assert!(
            message.contains("no merged pull request contains commit abc1234"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen().len(), 1, "no mutation without a pull request");
}

#[tokio::test]
async fn an_unmerged_pull_request_is_refused_before_any_mutation() {
    // The example pull request as published: open, `merged: false`.
    let server = Server::start(|s| match s.path.as_str() {
        "/repos/octocat/Hello-World/pulls/1347" => Answer::ok(pull_request()),
        _ => revert_answer(),
    })
    .await;

    let err = server
        .github()
        .revert(&revert_request(RevertTarget::PullRequest(1347), false))
        .await
        .unwrap_err();

    match err {
        VcsError::Refused(message) => assert_eq!(
            message,
            "pull request #1347 is not merged; only merged pull requests can be reverted"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn graphql_errors_on_the_revert_are_refused_with_githubs_message() {
    let message = "Pull request could not be reverted: a revert already exists";
    let server = Server::start(move |s| match s.path.as_str() {
        "/repos/octocat/Hello-World/pulls/1347" => Answer::ok(merged_pull_request()),
        _ => Answer::ok(json!({
            "data": { "revertPullRequest": null },
            "errors": [{
                "type": "UNPROCESSABLE",
                "path": ["revertPullRequest"],
                "locations": [{ "line": 2, "column": 3 }],
                "message": message
            }]
        })),
    })
    .await;

    let err = server
        .github()
        .revert(&revert_request(RevertTarget::PullRequest(1347), true))
        .await
        .unwrap_err();

    match err {
        VcsError::Refused(m) => assert!(m.contains(message), "{m}"),
        other => panic!("{other:?}"),
    }
    let seen = server.seen();
    assert_eq!(
        seen.len(),
        2,
        "no auto-merge for a revert that was not opened"
    );
}

#[tokio::test]
async fn auto_merge_is_enabled_on_the_new_pull_request() {
    let server = Server::start(|s| match s.path.as_str() {
        "/repos/octocat/Hello-World/pulls/1347" => Answer::ok(merged_pull_request()),
        _ if is_graphql(s, "revertPullRequest") => revert_answer(),
        _ if is_graphql(s, "enablePullRequestAutoMerge") => auto_merge_answer(),
        _ => not_found(),
    })
    .await;

    let revert = server
        .github()
        .revert(&revert_request(RevertTarget::PullRequest(1347), true))
        .await
        .unwrap();

    assert!(revert.auto_merge);
    assert_eq!(revert.number, 1348);
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    revert_input(&seen[1]);
    let input = graphql_input(
        &seen[2],
        "enablePullRequestAutoMerge",
        "EnablePullRequestAutoMergeInput",
    );
    // `EnablePullRequestAutoMergeInput` in GitHub's schema: pullRequestId (ID!),
    // authorEmail, clientMutationId, commitBody, commitHeadline, expectedHeadOid,
    // mergeMethod.
    let known: BTreeSet<&str> = [
        "pullRequestId",
        "authorEmail",
        "clientMutationId",
        "commitBody",
        "commitHeadline",
        "expectedHeadOid",
        "mergeMethod",
    ]
    .into();
    for key in input.as_object().unwrap().keys() {
        assert!(known.contains(key.as_str()), "unknown field {key}");
    }
    let new_id =
        &revert_example()["response"]["data"]["revertPullRequest"]["revertPullRequest"]["id"];
    assert_eq!(
        &input["pullRequestId"], new_id,
        "the new pull request, not the reverted one"
    );
    assert_eq!(input["clientMutationId"], "tocsin-run-7");
}

#[tokio::test]
async fn a_failed_auto_merge_still_returns_the_revert() {
    let server = Server::start(|s| match s.path.as_str() {
        "/repos/octocat/Hello-World/pulls/1347" => Answer::ok(merged_pull_request()),
        _ if is_graphql(s, "revertPullRequest") => revert_answer(),
        _ => Answer::ok(json!({
            "data": { "enablePullRequestAutoMerge": null },
            "errors": [{
                "type": "UNPROCESSABLE",
                "message": "Pull request Auto merge is not allowed for this repository"
            }]
        })),
    })
    .await;

    let revert = server
        .github()
        .revert(&revert_request(RevertTarget::PullRequest(1347), true))
        .await
        .unwrap();

    assert_eq!(revert.number, 1348);
    assert!(!revert.auto_merge);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn a_missing_pull_request_is_not_found() {
    let server = Server::start(|_| not_found()).await;

    let err = server
        .github()
        .revert(&revert_request(RevertTarget::PullRequest(99), false))
        .await
        .unwrap_err();

    match err {
        VcsError::NotFound(m) => assert!(m.contains("octocat/Hello-World#99"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Workflows.

#[tokio::test]
async fn workflow_dispatch_returns_the_run_github_reports() {
    let server = Server::start(|s| match (s.method.as_str(), s.path.as_str()) {
        ("POST", DISPATCH_PATH) => {
            Answer::ok(rest_example("actions.create-workflow-dispatch.json", 200))
        }
        _ => not_found(),
    })
    .await;

    let run = server
        .github()
        .dispatch_workflow(&dispatch_request())
        .await
        .unwrap();

    assert_eq!(
        run,
        WorkflowRun {
            id: 1,
            html_url: "https://github.com/octo-org/octo-repo/actions/runs/1".into(),
            status: "queued".into(),
            conclusion: None,
        }
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "the answer names the run: no lookup");
    let body = seen[0].body.as_object().unwrap();
    let documented = request_properties(
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
        "post",
    );
    for key in body.keys() {
        assert!(documented.contains(key), "undocumented field {key}");
    }
    assert_eq!(
        seen[0].body,
        json!({
            "ref": "main",
            "inputs": { "service": "checkout", "version": "v1.4.2" },
            "return_run_details": true
        })
    );
}

#[tokio::test]
async fn a_dispatch_answered_204_finds_the_run_it_created() {
    // GitHub creates the run shortly after its 204: the first look at the list only shows
    // a run from an earlier dispatch (created before GitHub's `Date` on the 204), the
    // next one shows ours.
    let lists = Arc::new(Mutex::new(0));
    let server = Server::start(move |s| match (s.method.as_str(), s.path.as_str()) {
        ("POST", DISPATCH_PATH) => Answer {
            status: 204,
            headers: vec![("date", DISPATCH_DATE.into())],
            body: None,
        },
        ("GET", "/repos/octo-org/octo-repo/actions/workflows/rollback.yml/runs") => {
            let mut list = rest_example("actions.list-workflow-runs.json", 200);
            let mut ours = list["workflow_runs"][0].clone();
            ours["event"] = json!("workflow_dispatch");
            ours["head_branch"] = json!("main");
            let mut earlier = ours.clone();
            earlier["id"] = json!(30433641);
            earlier["created_at"] = json!("2020-01-22T19:31:00Z");
            earlier["status"] = json!("completed");
            earlier["conclusion"] = json!("success");
            let mut lists = lists.lock().unwrap();
            *lists += 1;
            list["workflow_runs"] = if *lists == 1 {
                json!([earlier])
            } else {
                json!([ours, earlier])
            };
            list["total_count"] = json!(list["workflow_runs"].as_array().unwrap().len());
            Answer::ok(list)
        }
        _ => not_found(),
    })
    .await;

    let run = server
        .github()
        .dispatch_workflow(&dispatch_request())
        .await
        .unwrap();

    assert_eq!(run.id, 30433642);
    assert_eq!(
        run.html_url,
        "https://github.com/octo-org/octo-repo/actions/runs/30433642"
    );
    assert_eq!((run.status.as_str(), run.conclusion), ("queued", None));
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    for lookup in &seen[1..] {
        assert_eq!(lookup.method, Method::GET);
        assert_eq!(
            lookup.query_pairs(),
            [
                ("event".to_owned(), "workflow_dispatch".to_owned()),
                ("branch".to_owned(), "main".to_owned()),
                ("per_page".to_owned(), "5".to_owned()),
            ]
        );
    }
}

#[tokio::test]
async fn workflow_run_maps_status_and_conclusion() {
    let server = Server::start(|s| match s.path.as_str() {
        "/repos/octo-org/octo-repo/actions/runs/30433642" => {
            Answer::ok(rest_example("actions.get-workflow-run.json", 200))
        }
        "/repos/octo-org/octo-repo/actions/runs/30433643" => {
            let mut run = rest_example("actions.get-workflow-run.json", 200);
            run["id"] = json!(30433643);
            run["html_url"] = json!("https://github.com/octo-org/octo-repo/actions/runs/30433643");
            run["status"] = json!("completed");
            run["conclusion"] = json!("failure");
            Answer::ok(run)
        }
        _ => not_found(),
    })
    .await;
    let github = server.github();

    let queued = github
        .workflow_run("octo-org", "octo-repo", 30433642)
        .await
        .unwrap();
    assert_eq!(
        queued,
        WorkflowRun {
            id: 30433642,
            html_url: "https://github.com/octo-org/octo-repo/actions/runs/30433642".into(),
            status: "queued".into(),
            conclusion: None,
        }
    );
    assert!(!queued.finished());

    let failed = github
        .workflow_run("octo-org", "octo-repo", 30433643)
        .await
        .unwrap();
    assert!(failed.finished());
    assert_eq!(failed.conclusion.as_deref(), Some("failure"));

    let err = github
        .workflow_run("octo-org", "octo-repo", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, VcsError::NotFound(_)), "{err:?}");
    assert!(server.seen().iter().all(|s| s.method == Method::GET));
}

#[tokio::test]
async fn a_rejected_dispatch_is_refused_with_githubs_message() {
    let server = Server::start(|_| {
        Answer::json(
            422,
            json!({
                "message": "Unexpected inputs provided: [\"version\"]",
                "documentation_url": "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event",
                "status": "422"
            }),
        )
    })
    .await;

    let err = server
        .github()
        .dispatch_workflow(&dispatch_request())
        .await
        .unwrap_err();

    match err {
        VcsError::Refused(m) => {
            assert!(
                m.contains("Unexpected inputs provided: [\"version\"]"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Failures, limits, redirects, Enterprise Server.

#[tokio::test]
async fn server_errors_are_unavailable_after_a_bounded_number_of_tries() {
    let server = Server::start(|_| Answer::json(500, json!({ "message": "Server Error" }))).await;
    let github = server.github();
    let started = Instant::now();

    let err = github
        .workflow_run("octo-org", "octo-repo", 30433642)
        .await
        .unwrap_err();
    assert!(matches!(err, VcsError::Unavailable(_)), "{err:?}");
    assert_eq!(server.seen().len(), 3, "a GET is tried three times");

    // A POST that may have reached GitHub is never sent twice.
    let err = github
        .dispatch_workflow(&dispatch_request())
        .await
        .unwrap_err();
    assert!(matches!(err, VcsError::Unavailable(_)), "{err:?}");
    assert_eq!(server.seen().len(), 4);

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_github_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let github = GitHub::new(TOKEN.into(), Some(url)).unwrap();

    let err = github
        .workflow_run("octo-org", "octo-repo", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, VcsError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limits_come_back_with_githubs_delay() {
    let server = Server::start(|s| match s.path.as_str() {
        // Secondary rate limit: `retry-after`.
        "/repos/octo-org/octo-repo/actions/runs/1" => Answer::json(
            429,
            json!({ "message": "You have exceeded a secondary rate limit." }),
        )
        .header("retry-after", "30"),
        // Primary rate limit used up: wait until `x-ratelimit-reset`, two minutes after
        // GitHub's `Date`.
        "/repos/octo-org/octo-repo/actions/runs/2" => Answer::json(
            403,
            json!({ "message": "API rate limit exceeded for user ID 1." }),
        )
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", "1579721700")
        .header("date", "Wed, 22 Jan 2020 19:33:00 GMT"),
        // A plain 403 is a missing permission, not a rate limit.
        _ => Answer::json(
            403,
            json!({ "message": "Resource not accessible by personal access token" }),
        ),
    })
    .await;
    let github = server.github();

    let err = github
        .workflow_run("octo-org", "octo-repo", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, VcsError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(30)),
        "{err:?}"
    );
    let err = github
        .workflow_run("octo-org", "octo-repo", 2)
        .await
        .unwrap_err();
    assert!(
        matches!(err, VcsError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(120)),
        "{err:?}"
    );
    let err = github
        .workflow_run("octo-org", "octo-repo", 3)
        .await
        .unwrap_err();
    match err {
        VcsError::Refused(m) => {
            assert!(
                m.contains("Resource not accessible by personal access token"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen().len(), 3, "rate limits are not retried here");
}

#[tokio::test]
async fn a_moved_repository_is_followed_with_the_token() {
    let server = Server::start(|s| match s.path.as_str() {
        // GitHub's answer for a renamed repository: an absolute `Location` on its own host.
        "/repos/octocat/Old-Name/actions/runs/30433642" => Answer::json(
            301,
            json!({
                "message": "Moved Permanently",
                "url": "https://api.github.com/repositories/1296269/actions/runs/30433642"
            }),
        )
        .header(
            "location",
            format!(
                "http://{}/repositories/1296269/actions/runs/30433642",
                s.header("host").unwrap()
            ),
        ),
        "/repositories/1296269/actions/runs/30433642" => {
            Answer::ok(rest_example("actions.get-workflow-run.json", 200))
        }
        _ => not_found(),
    })
    .await;

    let run = server
        .github()
        .workflow_run("octocat", "Old-Name", 30433642)
        .await
        .unwrap();

    assert_eq!(run.id, 30433642);
    // `seen` checks the token went along to the new location too.
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            "/repos/octocat/Old-Name/actions/runs/30433642",
            "/repositories/1296269/actions/runs/30433642"
        ]
    );
}

#[tokio::test]
async fn enterprise_server_urls_put_graphql_beside_the_rest_api() {
    let server = Server::start(|s| match s.path.as_str() {
        "/api/v3/repos/octocat/Hello-World/pulls/1347" => Answer::ok(merged_pull_request()),
        "/api/graphql" => revert_answer(),
        _ => not_found(),
    })
    .await;
    let github = GitHub::new(TOKEN.into(), Some(format!("{}/api/v3", server.url))).unwrap();

    let revert = github
        .revert(&revert_request(RevertTarget::PullRequest(1347), false))
        .await
        .unwrap();

    assert_eq!(revert.number, 1348);
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            "/api/v3/repos/octocat/Hello-World/pulls/1347",
            "/api/graphql"
        ]
    );
}
