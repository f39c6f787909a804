//! The read-only postmortem page in real headless Chromium at a phone's 360 px, driven over
//! WebDriver (chromedriver), against the real router served on loopback over SQLite: opened
//! with its signed link, it shows the document, fits the screen without sideways scrolling
//! (long words, a wide timeline), and text written as HTML and script stays text.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them);
//! without them this test fails rather than skipping.

mod browser;
mod support;

use browser::{loaded, script, serve};
use fantoccini::Client;
use serde_json::json;
use support::{Backend, TestApp};

const EVIL: &str =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";

#[tokio::test]
async fn the_postmortem_page_fits_a_phone_and_shows_text_as_text() {
    support::on(Backend::Sqlite, run).await;
}

async fn run(app: TestApp) {
    browser::with_chromium(|client| async move { steps(&app, &client).await }).await;
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
    loaded(client).await;

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
