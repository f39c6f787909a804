//! The action runner against real things: `http` actions against a stub server on loopback
//! (axum) that records every request it gets, `command` actions against real programs
//! (`/usr/bin/printf` to show argv, `/usr/bin/env`, `/bin/sleep`, `/usr/bin/seq`, and
//! `/bin/sh -c` where the shell itself is the program under test).
//!
//! Secrets come from an injected environment lookup, never from the test process's own
//! environment, so the tests do not race each other over `set_var`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use adapters::actions::{Placeholder, Runner, placeholders};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bot_core::actions::{
    ActionError, ActionKind, ActionRunner, ActionSpec, Args, CommandAction, GithubRevertAction,
    HttpAction, MAX_OUTPUT,
};
use bot_core::model::Role;

const TOKEN: &str = "tok_3f9a7c1e5b2d";
const SLOW: Duration = Duration::from_secs(5);

fn runner() -> Runner {
    Runner::new()
        .expect("HTTP client")
        .with_env(|name| match name {
            "TOCSIN_TEST_TOKEN" => Some(TOKEN.to_owned()),
            "PATH" => Some("/usr/bin:/bin".to_owned()),
            "HOME" => Some("/home/not-for-children".to_owned()),
            _ => None,
        })
}

fn spec(kind: ActionKind) -> ActionSpec {
    ActionSpec {
        name: "diag".into(),
        description: String::new(),
        min_role: Role::Responder,
        confirm: false,
        // The runner substitutes bound arguments; binding is the core's and tested there.
        params: vec![],
        kind,
    }
}

fn args(pairs: &[(&str, &str)]) -> Args {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// http

#[derive(Debug, Clone)]
struct Received {
    method: Method,
    /// Path and query exactly as they came over the wire, percent-encoding included.
    target: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone, Default)]
struct Stub {
    received: Arc<Mutex<Vec<Received>>>,
}

impl Stub {
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Records the request, then answers by its path: `/echo-token` echoes the `X-Token`
/// header, `/big` 5,000 characters, `/fail` a 503, `/slow` nothing for 5 seconds,
/// `/hop` a redirect within this server, `/away` a redirect to another host; anything
/// else `{"ok":true}`.
async fn record(
    State(stub): State<Stub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    let token = headers
        .get("x-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    stub.received.lock().unwrap().push(Received {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    match uri.path() {
        "/echo-token" => format!("your token is {token}, keep it safe").into_response(),
        "/big" => "x".repeat(5_000).into_response(),
        "/fail" => (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response(),
        "/slow" => {
            tokio::time::sleep(SLOW).await;
            "late".into_response()
        }
        "/hop" => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("http://{host}/landed"))],
        )
            .into_response(),
        "/away" => {
            let port = host.rsplit(':').next().unwrap_or("80");
            (
                StatusCode::FOUND,
                [(header::LOCATION, format!("http://localhost:{port}/stolen"))],
            )
                .into_response()
        }
        _ => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"ok":true}"#,
        )
            .into_response(),
    }
}

async fn stub_server() -> (Stub, SocketAddr) {
    let stub = Stub::default();
    let app = Router::new().fallback(any(record)).with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (stub, addr)
}

fn http(method: &str, url: String, headers: &[(&str, &str)], body: Option<&str>) -> ActionSpec {
    spec(ActionKind::Http(HttpAction {
        method: method.into(),
        url,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.map(str::to_owned),
        timeout: Duration::from_secs(10),
    }))
}

#[tokio::test]
async fn http_action_sends_encoded_arguments_the_secret_header_and_a_json_escaped_body() {
    let (stub, addr) = stub_server().await;
    let action = http(
        "post",
        format!("http://{addr}/regions/{{region}}/restart?reason={{reason}}&dry=1"),
        &[
            ("Authorization", "Bearer ${TOCSIN_TEST_TOKEN}"),
            ("X-Region", "{region}"),
        ],
        Some(r#"{{"region": "{region}", "reason": "{reason}", "n": {n}}}"#),
    );
    let evil = "eu/../admin?x=1";
    let reason = r#"said "stop" \ now & #1"#;
    let out = runner()
        .run(
            &action,
            &args(&[("region", evil), ("reason", reason), ("n", "3")]),
        )
        .await
        .unwrap();

    assert!(out.ok, "{out:?}");
    assert_eq!(out.summary, "HTTP 200 OK");
    assert_eq!(out.detail, r#"{"ok":true}"#);
    let got = stub.received();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.method, Method::POST);
    // The value is one path segment and one query value: it added no segment, query
    // parameter or fragment of its own.
    assert_eq!(
        req.target,
        "/regions/eu%2F..%2Fadmin%3Fx%3D1/restart\
         ?reason=said%20%22stop%22%20%5C%20now%20%26%20%231&dry=1"
    );
    assert_eq!(
        req.headers["authorization"],
        format!("Bearer {TOKEN}").as_str()
    );
    assert_eq!(req.headers["x-region"], evil);
    assert_eq!(req.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(&req.body).expect("the body is JSON");
    assert_eq!(
        body,
        serde_json::json!({"region": evil, "reason": reason, "n": 3})
    );
}

#[tokio::test]
async fn http_output_redacts_the_secret_the_server_echoes() {
    let (_stub, addr) = stub_server().await;
    let action = http(
        "GET",
        format!("http://{addr}/echo-token"),
        &[("X-Token", "${TOCSIN_TEST_TOKEN}")],
        None,
    );
    let out = runner().run(&action, &Args::new()).await.unwrap();
    assert_eq!(out.detail, "your token is [redacted], keep it safe");
    assert!(!format!("{out:?}").contains(TOKEN));
}

#[tokio::test]
async fn http_output_is_cut_to_max_output_characters() {
    let (_stub, addr) = stub_server().await;
    let out = runner()
        .run(
            &http("GET", format!("http://{addr}/big"), &[], None),
            &Args::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        out.detail,
        format!("{}\n… (2000 more characters cut)", "x".repeat(MAX_OUTPUT))
    );
}

#[tokio::test]
async fn http_error_status_is_not_ok_and_says_the_code() {
    let (_stub, addr) = stub_server().await;
    let out = runner()
        .run(
            &http("GET", format!("http://{addr}/fail"), &[], None),
            &Args::new(),
        )
        .await
        .unwrap();
    assert!(!out.ok);
    assert_eq!(out.summary, "HTTP 503 Service Unavailable");
    assert_eq!(out.detail, "maintenance");
}

#[tokio::test]
async fn http_server_that_does_not_answer_in_time_is_unavailable() {
    let (stub, addr) = stub_server().await;
    let mut action = http("GET", format!("http://{addr}/slow"), &[], None);
    if let ActionKind::Http(h) = &mut action.kind {
        h.timeout = Duration::from_millis(300);
    }
    let err = runner().run(&action, &Args::new()).await.unwrap_err();
    assert!(
        matches!(&err, ActionError::Unavailable(m) if m == "no answer within 300ms"),
        "{err:?}"
    );
    assert_eq!(stub.received().len(), 1, "the request was sent");
}

#[tokio::test]
async fn http_missing_secret_or_unknown_parameter_sends_nothing() {
    let (stub, addr) = stub_server().await;
    let missing = http(
        "POST",
        format!("http://{addr}/hook"),
        &[("Authorization", "Bearer ${TOCSIN_TEST_NOT_SET}")],
        Some("hello"),
    );
    let err = runner().run(&missing, &Args::new()).await.unwrap_err();
    assert!(
        matches!(&err, ActionError::NotConfigured(m)
            if m == "environment variable TOCSIN_TEST_NOT_SET is not set"),
        "{err:?}"
    );

    let unknown = http("GET", format!("http://{addr}/x/{{nope}}"), &[], None);
    let err = runner().run(&unknown, &Args::new()).await.unwrap_err();
    assert!(
        matches!(&err, ActionError::NotConfigured(m) if m.contains("`{nope}`")),
        "{err:?}"
    );
    assert!(stub.received().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn http_refuses_values_that_would_change_the_request_shape() {
    let (stub, addr) = stub_server().await;
    let runner = runner();
    // `..` as a whole segment would be resolved away by any URL parser.
    let climb = http("GET", format!("http://{addr}/a/{{p}}/b"), &[], None);
    let err = runner.run(&climb, &args(&[("p", "..")])).await.unwrap_err();
    assert!(matches!(err, ActionError::NotConfigured(_)), "{err:?}");
    // A line break in a header value would start a header of its own.
    let split = http(
        "GET",
        format!("http://{addr}/a"),
        &[("X-Note", "{p}")],
        None,
    );
    let err = runner
        .run(&split, &args(&[("p", "x\r\nX-Admin: yes")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ActionError::NotConfigured(m) if m.contains("line break")),
        "{err:?}"
    );
    // Only http and https.
    let file = http("GET", "file:///etc/passwd".into(), &[], None);
    let err = runner.run(&file, &Args::new()).await.unwrap_err();
    assert!(matches!(err, ActionError::NotConfigured(_)), "{err:?}");
    assert!(stub.received().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn http_redirects_are_followed_only_within_the_same_origin() {
    let (stub, addr) = stub_server().await;
    let runner = runner();
    let headers = [("X-Token", "${TOCSIN_TEST_TOKEN}")];

    let out = runner
        .run(
            &http("GET", format!("http://{addr}/hop"), &headers, None),
            &Args::new(),
        )
        .await
        .unwrap();
    assert_eq!(out.summary, "HTTP 200 OK");

    let out = runner
        .run(
            &http("GET", format!("http://{addr}/away"), &headers, None),
            &Args::new(),
        )
        .await
        .unwrap();
    assert!(!out.ok);
    assert_eq!(out.summary, "HTTP 302 Found");

    let targets: Vec<String> = stub.received().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        ["/hop", "/landed", "/away"],
        "`/stolen` never asked"
    );
}

#[tokio::test]
async fn github_kinds_are_not_run_here() {
    let action = spec(ActionKind::GithubRevert(GithubRevertAction {
        repos: vec![],
        auto_merge: false,
    }));
    let err = runner().run(&action, &Args::new()).await.unwrap_err();
    assert!(
        matches!(&err, ActionError::NotConfigured(m) if m.contains("GitHub adapter")),
        "{err:?}"
    );
}

#[test]
fn placeholders_name_parameters_and_secrets_for_config_validation() {
    assert_eq!(
        placeholders("https://{host}/api?key=${API_KEY}&again={host}").unwrap(),
        [
            Placeholder::Param("host".into()),
            Placeholder::Env("API_KEY".into())
        ]
    );
    assert!(
        placeholders(r#"{"text": "{msg}"}"#).is_err(),
        "JSON braces must be doubled"
    );
    assert_eq!(
        placeholders(r#"{{"text": "{msg}"}}"#).unwrap(),
        [Placeholder::Param("msg".into())]
    );
}

// ---------------------------------------------------------------------------------------
// command

fn command(program: &str, argv: &[&str], env: &[(&str, &str)], timeout: Duration) -> ActionSpec {
    spec(ActionKind::Command(CommandAction {
        program: program.into(),
        args: argv.iter().map(|a| (*a).to_owned()).collect(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        timeout,
    }))
}

fn cmd(program: &str, argv: &[&str]) -> ActionSpec {
    command(program, argv, &[], Duration::from_secs(10))
}

/// A path no other test run uses, for files that must never be created.
fn marker(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("tocsin-{name}-{}-{nanos}", std::process::id()))
}

#[tokio::test]
async fn command_values_stay_one_argv_item_and_nothing_is_interpreted() {
    let marker = marker("pwned");
    let pwned = marker.display();
    let action = cmd("/usr/bin/printf", &["[%s]\n", "{host}", "--name={host}"]);
    for value in [
        "; rm -rf /tmp/x".to_owned(),
        format!("$(touch {pwned})"),
        format!("`touch {pwned}`"),
        format!("a && touch {pwned} | cat > {pwned}"),
        "two  words *".to_owned(),
        "$HOME".to_owned(),
    ] {
        let out = runner()
            .run(&action, &args(&[("host", &value)]))
            .await
            .unwrap();
        assert!(out.ok, "{out:?}");
        assert_eq!(out.summary, "exit code 0");
        assert_eq!(out.detail, format!("[{value}]\n[--name={value}]\n"));
    }
    assert!(!marker.exists(), "no shell ran");
}

#[tokio::test]
async fn command_program_must_be_an_absolute_path_to_an_executable_file() {
    let runner = runner();
    for program in [
        "echo",
        "bin/echo",
        "/nonexistent/tocsin-no-such-program",
        "/usr/bin",
        env!("CARGO_MANIFEST_PATH"),
    ] {
        let err = runner
            .run(&cmd(program, &["hi"]), &Args::new())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ActionError::NotConfigured(m) if m.contains(program)),
            "{program}: {err:?}"
        );
    }
}

#[tokio::test]
async fn command_missing_secret_or_unknown_parameter_runs_nothing() {
    let touched = marker("touched");
    let path = touched.display().to_string();
    let runner = runner();
    let err = runner
        .run(
            &cmd("/usr/bin/touch", &[&path, "${TOCSIN_TEST_NOT_SET}"]),
            &Args::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ActionError::NotConfigured(m)
            if m == "environment variable TOCSIN_TEST_NOT_SET is not set"),
        "{err:?}"
    );
    let err = runner
        .run(&cmd("/usr/bin/touch", &[&path, "{nope}"]), &Args::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ActionError::NotConfigured(m) if m.contains("`{nope}`")),
        "{err:?}"
    );
    assert!(!touched.exists(), "the program never started");
}

#[tokio::test]
async fn command_is_killed_at_its_timeout() {
    let started = std::time::Instant::now();
    let out = runner()
        .run(
            &command("/bin/sleep", &["5"], &[], Duration::from_millis(200)),
            &Args::new(),
        )
        .await
        .unwrap();
    assert!(!out.ok);
    assert_eq!(out.summary, "timed out after 200ms (killed)");
    // Well under the 5 seconds the program would take: it was killed, not waited for.
    assert!(started.elapsed() < SLOW, "{:?}", started.elapsed());
}

#[tokio::test]
async fn command_timeout_kills_what_the_program_started_and_keeps_its_output() {
    let started = std::time::Instant::now();
    let out = runner()
        .run(
            &command(
                "/bin/sh",
                &["-c", "echo started; /bin/sleep 5; echo never"],
                &[],
                Duration::from_millis(300),
            ),
            &Args::new(),
        )
        .await
        .unwrap();
    assert_eq!(out.summary, "timed out after 300ms (killed)");
    assert_eq!(out.detail, "started\n");
    // The shell's `sleep` child held the output pipe: it was killed too, not waited for.
    assert!(started.elapsed() < SLOW, "{:?}", started.elapsed());
}

#[tokio::test]
async fn command_timeout_kills_the_whole_process_group() {
    let out = runner()
        .run(
            &command(
                "/bin/sh",
                &["-c", "/bin/sleep 30 & echo $!; wait"],
                &[],
                Duration::from_millis(300),
            ),
            &Args::new(),
        )
        .await
        .unwrap();
    assert_eq!(out.summary, "timed out after 300ms (killed)");
    let pid: u32 = out
        .detail
        .trim()
        .parse()
        .expect("the background sleep's pid");
    // Once killed, the orphan is reaped by init: gone, or a zombie for a moment.
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));
    let mut alive = true;
    for _ in 0..50 {
        alive = std::fs::read_to_string(&stat).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        });
        if !alive {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive, "the background sleep {pid} outlived the timeout");
}

#[tokio::test]
async fn command_output_is_capped_and_cut_to_max_output_characters() {
    let out = runner()
        .run(&cmd("/usr/bin/seq", &["1", "100000"]), &Args::new())
        .await
        .unwrap();
    assert!(out.ok, "{out:?}");
    let all: String = (1..=100_000).map(|n| format!("{n}\n")).collect();
    let kept: String = all.chars().take(MAX_OUTPUT).collect();
    let (head, note) = out.detail.split_at(kept.len());
    assert_eq!(head, kept);
    assert!(
        note.starts_with("\n… (") && note.ends_with(" more characters cut)"),
        "{note}"
    );
}

#[tokio::test]
async fn command_sees_only_path_and_its_configured_environment() {
    let out = runner()
        .run(
            &command(
                "/usr/bin/env",
                &[],
                &[
                    ("REGION", "{region}"),
                    ("API_TOKEN", "${TOCSIN_TEST_TOKEN}"),
                ],
                Duration::from_secs(10),
            ),
            &args(&[("region", "eu-west")]),
        )
        .await
        .unwrap();
    let mut lines: Vec<&str> = out.detail.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "API_TOKEN=[redacted]",
            "PATH=/usr/bin:/bin",
            "REGION=eu-west"
        ]
    );
}

#[tokio::test]
async fn command_secret_in_an_argument_is_redacted_from_its_output() {
    let out = runner()
        .run(
            &cmd("/bin/echo", &["token:${TOCSIN_TEST_TOKEN}"]),
            &Args::new(),
        )
        .await
        .unwrap();
    assert_eq!(out.detail, "token:[redacted]\n");
}

#[tokio::test]
async fn command_exit_status_and_stderr_are_reported() {
    let runner = runner();
    let out = runner
        .run(
            &cmd("/bin/sh", &["-c", "echo out; echo err >&2; exit 3"]),
            &Args::new(),
        )
        .await
        .unwrap();
    assert!(!out.ok);
    assert_eq!(out.summary, "exit code 3");
    assert_eq!(out.detail, "out\n--- stderr ---\nerr\n");

    let out = runner
        .run(&cmd("/bin/sh", &["-c", "kill -9 $$"]), &Args::new())
        .await
        .unwrap();
    assert!(!out.ok);
    assert_eq!(out.summary, "killed by signal 9");
    assert_eq!(out.detail, "");
}

#[tokio::test]
async fn command_args_are_bound_per_item_even_with_empty_and_repeated_values() {
    // BTreeMap order is irrelevant: each placeholder names its own value.
    let values: BTreeMap<String, String> = args(&[("a", "1 2"), ("b", "")]);
    let out = runner()
        .run(
            &cmd("/usr/bin/printf", &["<%s>", "{a}{b}{a}", "{b}", "{{{a}}}"]),
            &values,
        )
        .await
        .unwrap();
    assert_eq!(out.detail, "<1 21 2><><{1 2}>");
}
