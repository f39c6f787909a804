//! The status page and its widget in real headless Chromium, driven over WebDriver
//! (chromedriver), against the real router served on loopback over SQLite:
//! - `/status` shows the active incident and the component it degrades, fits a 360 px
//!   screen, and its one script (allowed by the page's CSP) localises times;
//! - a page on another origin embedding `widget.js` shows the banner while the incident is
//!   open and drops it once the incident is resolved through the core;
//! - an update written as HTML and script is shown as text and never runs.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them);
//! without them this test fails rather than skipping.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bot_core::model::{Actor, Impact, PublicStatus, UserId};
use bot_core::statuspage::{OpenPublic, PublicChange};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
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

/// Waits until the page has loaded everything it will (images included: an `onerror`
/// would have fired by then).
async fn loaded(client: &Client) {
    eventually("the page to finish loading", PATIENCE, || async {
        (script(client, "return document.readyState").await == "complete").then_some(())
    })
    .await;
}

#[tokio::test]
async fn status_page_and_widget_in_headless_chromium() {
    support::on(Backend::Sqlite, run).await;
}

async fn run(app: TestApp) {
    let alice = Actor::User(UserId::from("alice"));
    let incident = app
        .core
        .open_public_incident(
            &alice,
            OpenPublic {
                incident_id: None,
                name: "Payments are failing".into(),
                impact: Impact::Minor,
                status: PublicStatus::Investigating,
                body: "We are investigating failed payments at checkout.".into(),
                components: vec!["checkout".into()],
                component_status: None,
            },
        )
        .await
        .expect("opened");
    app.clock.advance(chrono::Duration::minutes(5));
    app.core
        .update_public_incident(
            &alice,
            incident.id,
            PublicChange {
                status: Some(PublicStatus::Identified),
                body: EVIL.into(),
                ..Default::default()
            },
        )
        .await
        .expect("updated");

    let status = serve(app.router.clone()).await;
    // Another origin (another port) embedding the widget.
    let shop_page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title></head>\
         <body><h1>Shop</h1><script src=\"{status}/status/widget.js\" data-interval=\"1\" async></script></body></html>"
    );
    let shop = serve(axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = shop_page.clone();
            async move { axum::response::Html(page) }
        }),
    ))
    .await;

    let (_driver, driver_url) = chromedriver().await;
    let client = browser(&driver_url).await;
    let steps = std::panic::AssertUnwindSafe(steps(&app, &client, &status, &shop, incident.id))
        .catch_unwind()
        .await;
    // The browser goes whatever happened, then the failure (if any) goes on.
    let _ = client.close().await;
    if let Err(panic) = steps {
        std::panic::resume_unwind(panic);
    }
}

async fn steps(app: &TestApp, client: &Client, status: &str, shop: &str, incident: uuid::Uuid) {
    // (a) The page: the incident and the component it degrades.
    client
        .goto(&format!("{status}/status"))
        .await
        .expect("open /status");
    loaded(client).await;
    let title = client
        .find(Locator::Css("section[aria-labelledby=active] h3 a"))
        .await
        .expect("an active incident")
        .text()
        .await
        .unwrap();
    assert_eq!(title, "Payments are failing");
    let checkout = client
        .find(Locator::XPath(
            "//li[contains(@class,'component')][.//h4[text()='Checkout']]//span[contains(@class,'state')]",
        ))
        .await
        .expect("Checkout's state")
        .text()
        .await
        .unwrap();
    assert_eq!(checkout, "Degraded performance");
    let banner = script(
        client,
        "var b = document.querySelector('.banner'), s = getComputedStyle(b); \
         return [b.innerText, s.color, s.backgroundColor]",
    )
    .await;
    // White on the minor colour (#8a5a00, 5.9:1).
    assert_eq!(
        banner,
        json!([
            "Partially Degraded Service",
            "rgb(255, 255, 255)",
            "rgb(138, 90, 0)"
        ])
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
    // The page's own script ran (CSP allows it): times are localised, UTC kept as title.
    let time_title = script(
        client,
        "return document.querySelector('time[datetime]').getAttribute('title')",
    )
    .await;
    assert!(
        time_title.as_str().is_some_and(|t| t.ends_with(" UTC")),
        "{time_title}"
    );

    // (c) The update written as markup is text and never ran.
    assert_eq!(client.title().await.unwrap(), "Acme Status");
    let text = script(client, "return document.body.innerText").await;
    assert!(text.as_str().unwrap().contains(EVIL), "{text}");
    assert_eq!(script(client, "return document.images.length").await, 0);
    assert_eq!(script(client, "return document.scripts.length").await, 1);
    client
        .goto(&format!("{status}/status/incidents/{incident}"))
        .await
        .unwrap();
    loaded(client).await;
    assert_eq!(
        client.title().await.unwrap(),
        "Payments are failing · Acme Status"
    );
    assert_eq!(script(client, "return document.images.length").await, 0);

    // (b) The widget on another origin: the banner while the incident is open.
    client.goto(shop).await.expect("open the shop");
    let shown = eventually("the widget's banner", PATIENCE, || async {
        let text = script(
            client,
            "var b = document.getElementById('tocsin-status-widget'); \
             return b ? [b.textContent, b.querySelector('a').href] : null",
        )
        .await;
        (!text.is_null()).then_some(text)
    })
    .await;
    assert_eq!(shown[0], "Payments are failing");
    assert_eq!(shown[1], format!("{status}/status"));
    assert_eq!(script(client, "return document.cookie").await, "");

    // Time passes, as it does between two changes in life.
    app.clock.advance(chrono::Duration::minutes(20));
    app.core
        .update_public_incident(
            &Actor::User(UserId::from("alice")),
            incident,
            PublicChange {
                status: Some(PublicStatus::Resolved),
                body: "Payments work again.".into(),
                ..Default::default()
            },
        )
        .await
        .expect("resolved");
    eventually("the widget's banner to go", PATIENCE, || async {
        (script(
            client,
            "return document.getElementById('tocsin-status-widget')",
        )
        .await
        .is_null())
        .then_some(())
    })
    .await;
    assert_eq!(client.title().await.unwrap(), "Shop");
}
