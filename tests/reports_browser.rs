//! The `/reports` page in real headless Chromium (360 px wide, a phone), driven over
//! WebDriver (chromedriver), against the real router served on loopback over SQLite with
//! the fixed data set of `bot-core/tests/reports_data`: each weekly chart has one bar per
//! ISO week of the range (three), the bars' heights follow the weekly medians, and the
//! page fits the screen without scrolling sideways. The page has no script; the test's own
//! scripts only read it.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them);
//! without them this test fails rather than skipping.

#[path = "../bot-core/tests/reports_data/mod.rs"]
mod reports_data;
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use futures_util::FutureExt;
use reports_data::{SINCE, UNTIL, seed};
use serde_json::{Value, json};
use support::{Backend, TestApp, eventually};

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
                 Chromium and chromedriver: `.ci/run` installs them (apt-get install -y \
                 --no-install-recommends chromium chromium-driver)"
            )
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

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
async fn reports_page_draws_one_bar_per_week_in_headless_chromium() {
    support::on(Backend::Sqlite, run).await;
}

async fn run(app: TestApp) {
    seed(app.db.store.as_ref()).await;
    let base = serve(app.router.clone()).await;
    let (_driver, driver_url) = chromedriver().await;
    let client = browser(&driver_url).await;
    let steps = std::panic::AssertUnwindSafe(steps(&app, &client, &base))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    if let Err(panic) = steps {
        std::panic::resume_unwind(panic);
    }
}

async fn steps(app: &TestApp, client: &Client, base: &str) {
    let range = format!("since={SINCE}&until={UNTIL}");
    client
        .goto(&format!("{base}/reports?token={}&{range}", app.viewer))
        .await
        .expect("open /reports");
    eventually("the page to finish loading", PATIENCE, || async {
        (script(client, "return document.readyState").await == "complete").then_some(())
    })
    .await;
    assert_eq!(
        script(client, "return document.title").await,
        "Reports · Tocsin"
    );

    // One bar per ISO week of the data set, in order, in both weekly charts.
    for chart in ["mtta-per-week", "mttr-per-week"] {
        let labels = script(
            client,
            &format!(
                "return Array.from(document.querySelectorAll('#{chart} svg rect.bar')) \
                 .map(b => b.dataset.label)"
            ),
        )
        .await;
        assert_eq!(
            labels,
            json!(["2026-W47", "2026-W48", "2026-W49"]),
            "{chart}"
        );
    }
    // Heights follow the medians: MTTA W47 120 s > W48 60 s > W49 nothing.
    let heights = script(
        client,
        "return Array.from(document.querySelectorAll('#mtta-per-week svg rect.bar')) \
         .map(b => b.getBoundingClientRect().height)",
    )
    .await;
    let h: Vec<f64> = heights
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(h[0] > h[1] && h[1] > 0.0 && h[2] == 0.0, "{h:?}");
    assert!((h[0] / h[1] - 2.0).abs() < 0.1, "W47 is twice W48: {h:?}");

    // The other charts: two services; two responders with out-of-hours pages.
    let counts = script(
        client,
        "return ['alerts-per-service', 'out-of-hours'].map(id => \
         document.querySelectorAll('#' + id + ' svg rect.bar').length)",
    )
    .await;
    assert_eq!(counts, json!([2, 2]));

    // A phone's width: nothing scrolls sideways, every chart fits and is drawn.
    let layout = script(
        client,
        "return [document.documentElement.scrollWidth, window.innerWidth, \
         Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().width)]",
    )
    .await;
    let inner = layout[1].as_f64().unwrap();
    assert!(
        layout[0].as_f64().unwrap() <= inner,
        "scrolls sideways: {layout}"
    );
    let widths = layout[2].as_array().unwrap();
    assert_eq!(widths.len(), 4, "{layout}");
    for w in widths {
        let w = w.as_f64().unwrap();
        assert!(
            w > 250.0 && w <= inner,
            "chart width {w} at {inner}: {layout}"
        );
    }
    assert_eq!(script(client, "return document.scripts.length").await, 0);

    // For people: what the page looks like on a phone (target/tmp/reports-360.png).
    let png = client.screenshot().await.expect("a screenshot");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("reports-360.png");
    std::fs::write(&path, png).expect("writing the screenshot");
    script(
        client,
        "document.getElementById('mtta-per-week').scrollIntoView()",
    )
    .await;
    let png = client.screenshot().await.expect("a screenshot");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("reports-360-charts.png");
    std::fs::write(&path, png).expect("writing the screenshot");
}
