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

mod browser;
mod support;

use bot_core::model::{Actor, Impact, PublicStatus, UserId};
use bot_core::statuspage::{OpenPublic, PublicChange};
use browser::{PATIENCE, loaded, script, serve};
use fantoccini::{Client, Locator};
use serde_json::json;
use support::{Backend, TestApp, eventually};

const EVIL: &str =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";

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

    browser::with_chromium(|client| async move {
        steps(&app, &client, &status, &shop, incident.id).await
    })
    .await;
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
