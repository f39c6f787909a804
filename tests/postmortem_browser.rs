//! The read-only postmortem page in real headless Chromium at a phone's 360 px, driven over
//! WebDriver (chromedriver), against the real router served on loopback over SQLite: opened
//! with its signed link, it shows the document, fits the screen without sideways scrolling
//! (long words, a wide timeline), and text written as HTML and script stays text.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them);
//! without them this test fails rather than skipping.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use support::{Backend, TestApp, eventually};

const EVIL: &str =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";

/// How long the browser may take to show what we wait for.
const PATIENCE: Duration = Duration::from_secs(20);

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
                 `chromium` and `chromium-driver`)"
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
async fn serve(router: axum::Router) -> String {
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

async fn script(client: &Client, js: &str) -> Value {
    client
        .execute(js, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("running `{js}`: {e}"))
}

#[tokio::test]
async fn the_postmortem_page_fits_a_phone_and_shows_text_as_text() {
    support::on(Backend::Sqlite, run).await;
}

async fn run(app: TestApp) {
    let (_driver, driver_url) = chromedriver().await;
    let client = browser(&driver_url).await;
    let outcome = std::panic::AssertUnwindSafe(steps(&app, &client));
    let result = futures_util::FutureExt::catch_unwind(outcome).await;
    let _ = client.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

async fn steps(app: &TestApp, client: &Client) {
    let (_, incident) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({ "title": "Checkout is failing", "severity": "sev2", "commander": "alice" }),
        )
        .await;
    let id = incident["id"].as_str().unwrap();
    let path = format!("/api/v1/incidents/{id}/postmortem");
    let (_, created) = app.json("POST", &path, &app.responder, json!({})).await;
    let entry = created["timeline"][0]["entry_id"].clone();
    let long_word = "x".repeat(300);
    let (status, body) = app
        .json(
            "PATCH",
            &path,
            &app.responder,
            json!({
                "sections": {
                    "summary": format!("A long word: {long_word}\n{EVIL}"),
                    "went_well": "Paging worked.\nThe runbook was right.",
                },
                "timeline": [{ "entry_id": entry, "annotation": format!("{EVIL} {long_word}") }],
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let link = created["link"].as_str().unwrap();
    let signed = &link[link.find("/postmortems/").unwrap()..];

    let base = serve(app.router.clone()).await;
    client
        .goto(&format!("{base}{signed}"))
        .await
        .expect("opening the page");
    eventually("the page to finish loading", PATIENCE, || async {
        (script(client, "return document.readyState").await == "complete").then_some(())
    })
    .await;

    let heading = script(client, "return document.querySelector('h1').innerText").await;
    assert_eq!(heading, "Postmortem: INC-1 Checkout is failing");
    let text = script(client, "return document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(text.contains("The runbook was right."), "{text}");
    assert!(
        text.contains("<script>document.title='pwned'</script>"),
        "{text}"
    );
    assert!(text.contains("What helped us find and fix it?") || text.contains("Paging worked."));
    assert_ne!(script(client, "return document.title").await, "pwned");
    assert_eq!(
        script(
            client,
            "return document.querySelectorAll('script, img').length"
        )
        .await,
        0
    );

    // Fits a 360 px screen without sideways scrolling.
    let widths = script(
        client,
        "return [document.documentElement.scrollWidth, window.innerWidth]",
    )
    .await;
    assert_eq!(widths[1], 360, "the viewport is a phone's");
    assert!(
        widths[0].as_i64() <= widths[1].as_i64(),
        "the page is wider than the screen: {widths}"
    );
}
