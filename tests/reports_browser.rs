//! The `/reports` page in real headless Chromium (360 px wide, a phone), driven over
//! WebDriver (chromedriver), against the real router served on loopback over SQLite with
//! the fixed data set of `bot-core/tests/reports_data`: each weekly chart has one bar per
//! ISO week of the range (three), the bars' heights follow the weekly medians, and the
//! page fits the screen without scrolling sideways. The page has no script; the test's own
//! scripts only read it.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them);
//! without them this test fails rather than skipping.

mod browser;
#[path = "../bot-core/tests/reports_data/mod.rs"]
mod reports_data;
mod support;

use browser::{loaded, script, serve};
use fantoccini::Client;
use reports_data::{SINCE, UNTIL, seed};
use serde_json::json;
use support::{Backend, TestApp};

#[tokio::test]
async fn reports_page_draws_one_bar_per_week_in_headless_chromium() {
    support::on(Backend::Sqlite, run).await;
}

async fn run(app: TestApp) {
    seed(app.db.store.as_ref()).await;
    let base = serve(app.router.clone()).await;
    browser::with_chromium(|client| async move { steps(&app, &client, &base).await }).await;
}

async fn steps(app: &TestApp, client: &Client, base: &str) {
    let range = format!("since={SINCE}&until={UNTIL}");
    client
        .goto(&format!("{base}/reports?token={}&{range}", app.viewer))
        .await
        .expect("open /reports");
    loaded(client).await;
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
