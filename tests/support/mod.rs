//! Shared by the binary's tests: fresh databases on both backends (the same harness the
//! store conformance suite uses), an in-process app with tokens, and helpers to run the
//! real `tocsin` binary.

#![allow(dead_code)] // each test binary uses a different part

// The store suite's harness, so both suites create and remove test databases one way.
#[path = "../../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
pub mod db;

// Shared with the replicas benchmark, which includes it by path.
pub mod serve;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_core::auth::hash_token;
use bot_core::model::Role;
use bot_core::{Clock, ManualClock};
use tocsin::config::Config;
use tower::ServiceExt;

pub use db::{Backend, Db};
#[allow(unused_imports)] // each test binary uses a different part
pub use serve::{one_webhook_site, start_serving};

/// The example configuration shipped with Tocsin, as a newcomer would start.
pub fn example_config() -> Config {
    Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tocsin.example.toml"
    )))
    .expect("tocsin.example.toml is valid")
}

/// An in-process Tocsin on `db`: the router, its clock, and tokens of each role.
pub struct TestApp {
    pub router: Router,
    pub clock: ManualClock,
    pub db: Db,
    pub core: bot_core::Core,
    pub admin: String,
    pub responder: String,
    pub viewer: String,
}

impl TestApp {
    pub async fn new(db: Db) -> Self {
        let config = example_config();
        let clock = db::clock();
        db.store
            .replace_directory(&tocsin::app::directory(&config))
            .await
            .expect("directory");
        let core = tocsin::app::core(db.store.clone(), Arc::new(clock.clone()), &config);
        let mut tokens = Vec::new();
        for (name, role) in [
            ("admin", Role::Admin),
            ("responder", Role::Responder),
            ("viewer", Role::Viewer),
        ] {
            let token = format!("tcn_test_{name}");
            db.store
                .create_token(name, role, &hash_token(&token), clock.now())
                .await
                .expect("token");
            tokens.push(token);
        }
        let router = tocsin::http::router(tocsin::http::AppState::new(core.clone()));
        let [admin, responder, viewer] = tokens.try_into().expect("three tokens");
        TestApp {
            router,
            clock,
            db,
            core,
            admin,
            responder,
            viewer,
        }
    }

    /// Sends a request; returns the status and the body parsed as JSON (Null when empty).
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router never fails");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            })
        };
        (status, json)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, serde_json::Value) {
        self.send(
            Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn json(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        self.send(
            Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }
}

/// Runs `body` on a fresh `TestApp` of each backend named.
pub async fn on<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    db::on(
        backend,
        |db| async move { body(TestApp::new(db).await).await },
    )
    .await;
}

/// For every `name` given, expects an `async fn name(app: TestApp)` and generates
/// `mod name { sqlite, postgres }` running it on a fresh app of each backend.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    $crate::support::on($crate::support::Backend::Sqlite, super::$name).await;
                }

                #[tokio::test]
                async fn postgres() {
                    $crate::support::on($crate::support::Backend::Postgres, super::$name).await;
                }
            }
        )+
    };
}

/// Polls `check` every 50 ms until it returns Some, or panics after `timeout` saying
/// what it waited for. For end-to-end tests that watch a real process through its API.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        tick.tick().await;
        if let Some(found) = check().await {
            return found;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("gave up after {timeout:?} waiting for {what}");
        }
    }
}

/// Incident 1's timeline, read over the REST API with `token` until `wanted` holds for it.
pub async fn timeline_once(
    base: &str,
    token: &str,
    what: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let http = reqwest::Client::new();
    let wanted = &wanted;
    eventually(what, Duration::from_secs(30), || {
        let request = http
            .get(format!("{base}/api/v1/incidents/1/timeline"))
            .bearer_auth(token);
        async move {
            let timeline: serde_json::Value = request.send().await.ok()?.json().await.ok()?;
            wanted(&timeline).then_some(timeline)
        }
    })
    .await
}

/// An admin API token for the site in `dir` (its `tocsin.toml` and `tocsin.db`), made with
/// `tocsin token create` as an operator would.
pub async fn api_token(dir: &std::path::Path) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["token", "create", "--name", "tests", "--role", "admin"])
        .env("TOCSIN_CONFIG", dir.join("tocsin.toml"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("tocsin.db").display()),
        )
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("tocsin token create runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("the token is text")
        .lines()
        .last()
        .expect("the token is printed")
        .to_owned()
}

/// Waits until `check` finds what it looks for, looking every 50 ms for 30 s.
pub async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never saw {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
