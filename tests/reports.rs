//! Reports through the binary's surfaces, on SQLite and PostgreSQL, over the fixed data set
//! of `bot-core/tests/reports_data` (its module documentation has the table and the hand
//! computation):
//! - `GET /api/v1/reports` answers the hand-computed figures, for any role's token;
//! - bad input (until before since, unknown service or team, dates that do not parse) is
//!   422 in the API's error shape, and a missing token 401, never a 500;
//! - `tocsin report` renders the same report as JSON, CSV and a table, and refuses bad
//!   input with a message naming the flag; the real binary prints CSV from a database;
//! - `/reports` renders HTML with one bar per ISO week in each weekly chart, takes the
//!   token in the URL, and answers bad input and a missing token with HTML 422/401;
//! - acknowledging an alert and resolving an incident feed the Prometheus histograms.

#[path = "../bot-core/tests/reports_data/mod.rs"]
mod reports_data;
mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_core::auth::hash_token;
use bot_core::model::{Actor, AlertId, AlertSeverity, NewAlert, Role, Urgency};
use bot_core::store::no_jobs;
use reports_data::{CARLA_HOURS, SINCE, UNTIL, seed};
use serde_json::{Value, json};
use support::{Backend, Db, TestApp, example_config};
use tocsin::cli::{ReportArgs, ReportFormat};
use tocsin::config::Config;
use tower::ServiceExt;

/// The example configuration, with carla on the data set's hours and a second service.
pub fn config() -> Config {
    let mut config = example_config();
    let carla = config
        .users
        .iter_mut()
        .find(|u| u.id.as_str() == "carla")
        .expect("carla is in the example");
    carla.working_hours = Some(CARLA_HOURS.into());
    let mut api = config.services[0].clone();
    api.id = "api".into();
    api.name = "API".into();
    api.team = None;
    api.integrations.clear();
    api.heartbeats.clear();
    config.services.push(api);
    config
}

/// A `TestApp` on `config()`, seeded with the data set.
async fn app(db: Db) -> TestApp {
    let config = config();
    let clock = support::db::clock();
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
    seed(db.store.as_ref()).await;
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

use bot_core::Clock;

macro_rules! on_both_seeded {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::support::db::on(super::Backend::Sqlite, |db| async move {
                        super::$name(super::app(db).await).await
                    })
                    .await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::support::db::on(super::Backend::Postgres, |db| async move {
                        super::$name(super::app(db).await).await
                    })
                    .await;
                }
            }
        )+
    };
}

on_both_seeded!(
    the_api_answers_the_hand_computed_figures,
    bad_input_is_422_and_a_missing_token_401,
    the_cli_renders_json_csv_and_a_table,
    the_page_draws_one_bar_per_week_without_script,
    ack_and_resolve_feed_the_prometheus_histograms,
);

fn range() -> String {
    format!("since={SINCE}&until={UNTIL}").replace('+', "%2B")
}

async fn the_api_answers_the_hand_computed_figures(app: TestApp) {
    let (status, r) = app
        .get(&format!("/api/v1/reports?{}", range()), &app.viewer)
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    // The hand computation is in reports_data's documentation and store_reports.rs.
    assert_eq!(r["alerts"]["total"], 5);
    assert_eq!(r["incidents"]["total"], 3);
    assert_eq!(
        r["mtta"],
        json!({ "count": 4, "median_seconds": 120.0, "p90_seconds": 600.0 })
    );
    assert_eq!(
        r["mttr"]["alerts"],
        json!({ "count": 4, "median_seconds": 1200.0, "p90_seconds": 3600.0 })
    );
    assert_eq!(
        r["mttr"]["incidents"],
        json!({ "count": 2, "median_seconds": 2700.0, "p90_seconds": 7200.0 })
    );
    assert_eq!(
        r["escalation"],
        json!({ "alerts": 5, "escalated": 2, "rate": 0.4 })
    );
    assert_eq!(r["pages"]["total"], 5);
    assert_eq!(r["pages"]["out_of_hours"], 3);
    let carla = &r["pages"]["by_responder"][1];
    assert_eq!(carla["user"], "carla");
    assert_eq!(carla["working_hours"], CARLA_HOURS);
    assert_eq!(
        (carla["pages"].as_i64(), carla["out_of_hours"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(r["postmortems"]["published"], 1);
    assert_eq!(r["postmortems"]["open_action_items"], 2);
    assert_eq!(r["noisiest_alerts"][0]["dedup_key"], "db-down");
    let weeks: Vec<&str> = r["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["week"].as_str().unwrap())
        .collect();
    assert_eq!(weeks, ["2026-W47", "2026-W48", "2026-W49"]);

    // Scoped to a service; any role's token.
    let (status, r) = app
        .get(
            &format!("/api/v1/reports?{}&service=api", range()),
            &app.admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["alerts"]["total"], 2);
    assert_eq!(r["service"], "api");
    let (status, r) = app
        .get(
            &format!("/api/v1/reports?{}&team=payments", range()),
            &app.responder,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["alerts"]["total"], 3);

    // The path is in the OpenAPI document.
    let (status, doc) = app.get("/api/v1/openapi.json", &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/api/v1/reports"]["get"].is_object(), "{doc}");
}

async fn bad_input_is_422_and_a_missing_token_401(app: TestApp) {
    let cases = [
        (
            format!("since={UNTIL}&until={SINCE}"),
            "until",
            "must be after",
        ),
        (
            format!("since={SINCE}&until={SINCE}"),
            "until",
            "must be after",
        ),
        ("since=yesterday".to_owned(), "since", "not a time"),
        ("since=2026-13-45".to_owned(), "since", "not a time"),
        ("until=30x".to_owned(), "until", "not a time"),
        (
            format!("{}&service=nope", range()),
            "service",
            "no service `nope`",
        ),
        (format!("{}&team=nope", range()), "team", "no team `nope`"),
        ("since=2000-01-01".to_owned(), "since", "at most"),
    ];
    for (query, field, message) in cases {
        let query = query.replace('+', "%2B");
        let (status, body) = app
            .get(&format!("/api/v1/reports?{query}"), &app.viewer)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["error"]["code"], "unprocessable", "{query}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        let text = body["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{query}: {text}");
    }
    let (status, body) = app
        .send(Request::get("/api/v1/reports").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = app.get("/api/v1/reports", "tcn_wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

fn args(format: ReportFormat) -> ReportArgs {
    ReportArgs {
        since: SINCE.into(),
        until: UNTIL.into(),
        service: None,
        team: None,
        format,
    }
}

async fn the_cli_renders_json_csv_and_a_table(app: TestApp) {
    let json_out = tocsin::cli::report(&app.core, &args(ReportFormat::Json))
        .await
        .unwrap();
    let from_cli: Value = serde_json::from_str(&json_out).unwrap();
    let (_, from_api) = app
        .get(&format!("/api/v1/reports?{}", range()), &app.viewer)
        .await;
    assert_eq!(from_cli, from_api);

    let csv = tocsin::cli::report(&app.core, &args(ReportFormat::Csv))
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "section,subject,metric,value");
    for expected in [
        "alerts,,total,5",
        "mtta,alerts,median_seconds,120",
        "mtta,alerts,p90_seconds,600",
        "mttr,alerts,median_seconds,1200",
        "mttr,incidents,p90_seconds,7200",
        "escalation,,rate,0.4",
        "pages_by_responder,carla,out_of_hours,1",
        "pages,,out_of_hours,3",
        "noisiest_alerts,checkout/db-down,events,3",
        "weeks,2026-W49,mtta_median_seconds,",
    ] {
        assert!(lines.contains(&expected), "missing {expected} in\n{csv}");
    }

    let table = tocsin::cli::report(&app.core, &args(ReportFormat::Table))
        .await
        .unwrap();
    assert!(table.starts_with("Report 2026-11-16T00:00:00+00:00 to 2026-12-07T00:00:00+00:00"));
    let mtta = table
        .lines()
        .find(|l| l.starts_with("mtta") && l.contains("median_seconds"))
        .expect("an MTTA line");
    assert!(mtta.trim_end().ends_with(" 120"), "{mtta}");

    let mut bad = args(ReportFormat::Table);
    bad.until = "2026-11-01".into();
    let e = tocsin::cli::report(&app.core, &bad).await.unwrap_err();
    assert!(e.to_string().starts_with("--until: until"), "{e}");
    let mut bad = args(ReportFormat::Csv);
    bad.since = "last tuesday".into();
    let e = tocsin::cli::report(&app.core, &bad).await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("--since: `last tuesday` is not a time"),
        "{e}"
    );
    let mut bad = args(ReportFormat::Json);
    bad.service = Some("nope".into());
    let e = tocsin::cli::report(&app.core, &bad).await.unwrap_err();
    assert!(
        e.to_string().contains("--service: no service `nope`"),
        "{e}"
    );

    // The real binary on the same SQLite file (its own, empty configuration: figures stay,
    // names fall back to ids).
    if app.db.url.starts_with("sqlite:") {
        let dir = tempfile::tempdir().unwrap();
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args([
                "report", "--since", SINCE, "--until", UNTIL, "--format", "csv",
            ])
            .current_dir(dir.path())
            .env("DATABASE_URL", &app.db.url)
            .env_remove("TOCSIN_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .await
            .expect("tocsin report runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("mtta,alerts,median_seconds,120\n"),
            "{stdout}"
        );
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(["report", "--since", UNTIL, "--until", SINCE])
            .current_dir(dir.path())
            .env("DATABASE_URL", &app.db.url)
            .env_remove("TOCSIN_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .await
            .expect("tocsin report runs");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--until: until"), "{stderr}");
    }
}

async fn page(app: &TestApp, uri: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    let response = app
        .router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

/// The bars of the chart in `<figure id="{figure}">`.
pub fn bars_in(html: &str, figure: &str) -> usize {
    let start = html
        .find(&format!("<figure id=\"{figure}\""))
        .unwrap_or_else(|| panic!("no figure {figure}"));
    let end = html[start..].find("</figure>").unwrap() + start;
    html[start..end].matches("class=\"bar\"").count()
}

async fn the_page_draws_one_bar_per_week_without_script(app: TestApp) {
    let uri = format!("/reports?token={}&{}", app.viewer, range());
    let (status, html, headers) = page(&app, &uri).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(!html.contains("<script"), "no script");
    // Three ISO weeks: W47, W48, W49 (empty, drawn at zero).
    assert_eq!(bars_in(&html, "mtta-per-week"), 3);
    assert_eq!(bars_in(&html, "mttr-per-week"), 3);
    for week in ["2026-W47", "2026-W48", "2026-W49"] {
        assert!(html.contains(&format!("data-label=\"{week}\"")), "{week}");
    }
    // W47's median time to acknowledge: 120 s, plotted in minutes.
    assert!(
        html.contains("data-label=\"2026-W47\" data-value=\"2\""),
        "{html}"
    );
    // Two services; two responders paged (alice 2 out of hours, carla 1).
    assert_eq!(bars_in(&html, "alerts-per-service"), 2);
    assert_eq!(bars_in(&html, "out-of-hours"), 2);
    assert!(html.contains("width=\"100%\""));

    // The token in a header works too.
    let response = app
        .router
        .clone()
        .oneshot(
            Request::get(format!("/reports?{}", range()))
                .header("authorization", format!("Bearer {}", app.viewer))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let (status, html, _) = page(&app, "/reports").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("needs an API token"), "{html}");
    let (status, _, _) = page(&app, "/reports?token=tcn_wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, html, _) = page(
        &app,
        &format!(
            "/reports?token={}&since=2026-12-07&until=2026-11-16",
            app.viewer
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("must be after"), "{html}");
    let (status, _, _) = page(&app, &format!("/reports?token={}&service=nope", app.viewer)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn ack_and_resolve_feed_the_prometheus_histograms(app: TestApp) {
    let t0 = app.clock.now();
    let alert = app
        .db
        .store
        .trigger_alert(
            NewAlert {
                id: AlertId::new(),
                service: "checkout".into(),
                source: "generic".into(),
                dedup_key: "metrics".into(),
                severity: AlertSeverity::Critical,
                urgency: Urgency::High,
                summary: "metrics".into(),
                details: json!({}),
                labels: Default::default(),
                links: Vec::new(),
                at: t0,
            },
            &no_jobs,
        )
        .await
        .unwrap()
        .alert;
    app.clock.advance(chrono::Duration::seconds(45));
    let alice = Actor::User("alice".into());
    app.core.acknowledge_alert(&alice, alert.id).await.unwrap();
    let incident = app
        .core
        .declare(
            &alice,
            bot_core::ops::Declare {
                title: "Checkout down".into(),
                severity: bot_core::model::Severity::Sev2,
                services: vec!["checkout".into()],
                commander: None,
                alerts: Vec::new(),
                idempotency_key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::minutes(20));
    app.core
        .change(
            &alice,
            incident.id,
            vec![bot_core::model::IncidentChange::Status(
                bot_core::model::IncidentStatus::Resolved,
            )],
        )
        .await
        .unwrap();
    let (status, body) = app.get("/metrics", &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().unwrap_or_default();
    // 45 s: inside the 60 s bucket, not the 30 s one; 20 min inside 1800 s, not 900 s.
    for line in [
        "tocsin_alert_time_to_ack_seconds_bucket{service=\"checkout\",le=\"60\"}",
        "tocsin_incident_time_to_resolve_seconds_bucket{service=\"checkout\",le=\"1800\"}",
        "tocsin_incident_time_to_resolve_seconds_bucket{service=\"checkout\",le=\"86400\"}",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    let count = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    // Other tests in this binary may record too: at least ours is there, in the right
    // bucket and not below it.
    assert!(
        count("tocsin_alert_time_to_ack_seconds_bucket{service=\"checkout\",le=\"60\"}") >= 1.0
    );
    assert!(
        count("tocsin_incident_time_to_resolve_seconds_bucket{service=\"checkout\",le=\"1800\"}")
            >= 1.0
    );
}
