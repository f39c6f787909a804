//! Headless Chromium for the page tests, driven over WebDriver (chromedriver) with
//! fantoccini: the phone-sized browser, the loopback server the pages come from, and the
//! waits. Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs
//! them); without them a test fails saying so rather than skipping.

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use futures_util::FutureExt;
use serde_json::{Value, json};

use crate::support::eventually;

/// How long the browser may take to show what we wait for.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// `name`: where the environment variable `env` says, else the Debian package's path,
/// else on the PATH. Missing, it fails saying how to get it.
fn tool(env: &str, debian: &str, name: &str) -> PathBuf {
    let from_env = std::env::var_os(env).map(PathBuf::from);
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.exists())
    });
    let candidates = match from_env {
        Some(p) => vec![Some(p)],
        None => vec![Some(PathBuf::from(debian)), on_path],
    };
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` was not found (${env}, {debian}, PATH). This test needs headless \
                 Chromium and chromedriver: `.ci/run` installs them (the Debian packages \
                 `chromium` and `chromium-driver`: apt-get install -y --no-install-recommends \
                 chromium chromium-driver)"
            )
        })
}

/// A free loopback port (free when asked; chromedriver takes it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Serves `router` on a fresh loopback port; returns its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// chromedriver on its own port, ended when dropped.
async fn chromedriver() -> (tokio::process::Child, String) {
    let chromedriver = tool("CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver");
    let port = free_port();
    let child = tokio::process::Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("chromedriver to be ready", PATIENCE, || {
        let request = http.get(format!("{url}/status"));
        async move {
            let status: Value = request.send().await.ok()?.json().await.ok()?;
            (status["value"]["ready"] == true).then_some(())
        }
    })
    .await;
    (child, url)
}

/// Headless Chromium with a phone's 360 px viewport.
async fn browser(driver: &str) -> Client {
    let chromium = tool("CHROMIUM", "/usr/bin/chromium", "chromium");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=360,800",
            ],
            // New headless keeps windows at least 500 px wide: a phone's viewport.
            "mobileEmulation": {
                "deviceMetrics": { "width": 360, "height": 800, "pixelRatio": 1.0 },
            },
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .unwrap_or_else(|e| panic!("starting headless Chromium through chromedriver: {e}"))
}

/// Runs `steps` with a fresh browser, then closes it whatever happened and passes a
/// failure on: a panicking step must not leave Chromium running.
pub async fn with_chromium<F, Fut>(steps: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let (_driver, driver_url) = chromedriver().await;
    let client = browser(&driver_url).await;
    let outcome = std::panic::AssertUnwindSafe(steps(client.clone()))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub async fn script(client: &Client, js: &str) -> Value {
    client
        .execute(js, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("running `{js}`: {e}"))
}

/// Waits until the page has loaded everything it will (images included: an `onerror`
/// would have fired by then).
pub async fn loaded(client: &Client) {
    eventually("the page to finish loading", PATIENCE, || async {
        (script(client, "return document.readyState").await == "complete").then_some(())
    })
    .await;
}
