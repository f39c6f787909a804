//! Reports: `GET /api/v1/reports` (JSON) and the server-rendered `/reports` page with SVG
//! charts.
//!
//! Both take the same range and scope (`since`, `until`, `service`, `team`) and answer bad
//! input with 422. The JSON API takes a bearer token of any role. The page takes the same
//! token, in the `Authorization` header or, since a browser cannot add a header to a link,
//! as `?token=`; the page is then sent with `Referrer-Policy: no-referrer` and
//! `Cache-Control: no-store` so that the token does not leave through a link or a cache.

mod charts;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bot_core::auth::hash_token;
use bot_core::model::Role;
use bot_core::reports::{DurationStats, Report, ReportQuery, parse_instant};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiQuery, Caller};
use charts::Bar;

#[derive(OpenApi)]
#[openapi(
    paths(report),
    components(schemas(
        Report,
        bot_core::reports::Tally,
        bot_core::reports::Count,
        bot_core::reports::DurationStats,
        bot_core::reports::Mttr,
        bot_core::reports::Escalation,
        bot_core::reports::Pages,
        bot_core::reports::ResponderPages,
        bot_core::reports::Postmortems,
        bot_core::reports::WeekFigures,
        bot_core::store::NoisyAlert,
    ))
)]
pub struct Doc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports", get(report))
        .route("/reports", get(page))
}

/// How far back a report reaches when `since` is not given.
const DEFAULT_SINCE: &str = "30d";

/// The range and scope of a report. Empty values count as absent (an HTML form sends them).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Start of the range: RFC 3339, a date (`2026-11-01`, UTC midnight), or a span back
    /// from now (`30d`, `12h`, `2w`). Default `30d`.
    since: Option<String>,
    /// End of the range (exclusive), in the same forms. Default now.
    until: Option<String>,
    /// Only this service's alerts and the incidents that name it.
    service: Option<String>,
    /// Only the alerts and incidents of this team's services.
    team: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ReportParams {
    fn query(&self, now: DateTime<Utc>) -> Result<ReportQuery, ApiError> {
        let instant = |field: &str, text: Option<&str>, default: &str| {
            parse_instant(text.unwrap_or(default), now)
                .map_err(|e| ApiError::unprocessable(e).with_field(field))
        };
        Ok(ReportQuery {
            since: instant("since", given(&self.since), DEFAULT_SINCE)?,
            until: instant("until", given(&self.until), "now")?,
            service: given(&self.service).map(Into::into),
            team: given(&self.team).map(Into::into),
        })
    }
}

/// The report over a range: counts, MTTA and MTTR (median and p90, nearest rank),
/// escalation rate, noisiest alerts, pages per responder and out of hours, postmortem
/// completion, and the same by ISO week.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportParams),
    security(("bearer" = [])),
    responses((status = 200, body = Report), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Json<Report>, ApiError> {
    caller.require(Role::Viewer)?;
    let query = params.query(state.core.clock.now())?;
    Ok(Json(state.core.report(&query).await?))
}

/// The page's parameters: the report's, and the token when it comes in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    token: Option<String>,
    #[serde(flatten)]
    report: ReportParams,
}

/// An answer of the page: HTML whatever happens, with the status that says what.
fn html_response(status: StatusCode, body: Markup) -> Response {
    let mut response = (status, axum::response::Html(body.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // No script at all; styles and the charts are inline.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn error_page(e: ApiError) -> Response {
    let body = layout(
        "Report unavailable",
        html! {
            h1 { "Report unavailable" }
            p.error { (e.message) }
            p { "Open this page with a Tocsin API token: " code { "/reports?token=…" }
                " or the header " code { "Authorization: Bearer …" } "." }
        },
    );
    html_response(e.status, body)
}

/// Who may see the page: a token of any role, from the header or `?token=`.
async fn page_caller(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<(), ApiError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim);
    let token = from_header
        .or(token.map(str::trim))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("this page needs an API token"))?;
    match state.core.store.token_by_hash(&hash_token(token)).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::unauthorized("unknown or revoked token")),
    }
}

/// `/reports`: the report as a page with SVG charts, readable without script on a phone.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(params) = match params {
        Ok(p) => p,
        Err(e) => return error_page(ApiError::unprocessable(e.body_text())),
    };
    if let Err(e) = page_caller(&state, &headers, given(&params.token)).await {
        return error_page(e);
    }
    let query = match params.report.query(state.core.clock.now()) {
        Ok(q) => q,
        Err(e) => return error_page(e),
    };
    match state.core.report(&query).await {
        Ok(report) => html_response(StatusCode::OK, render(&report, &params)),
        Err(e) => error_page(e.into()),
    }
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tocsin" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0;color:#1a202c;background:#f7fafc}\
main{max-width:960px;margin:0 auto;padding:12px}\
h1{font-size:1.4rem;margin:.2em 0}h2{font-size:1.1rem;margin:1.2em 0 .4em}\
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}\
.figure{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:8px}\
.figure b{display:block;font-size:1.2rem}.figure span{font-size:.8rem;color:#4a5568}\
figure{margin:0 0 16px;background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:8px}\
figcaption{font-weight:600;margin-bottom:4px}svg.chart{display:block;width:100%;height:auto}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}\
td,th{border:1px solid #e2e8f0;padding:4px 6px;text-align:left;overflow-wrap:anywhere}\
form{display:flex;flex-wrap:wrap;gap:6px;align-items:end}label{display:flex;flex-direction:column;font-size:.8rem}\
input{font-size:1rem;padding:4px;max-width:9.5em}.error{color:#c53030}.muted{color:#4a5568;font-size:.85rem}";

/// A duration for people: `45 s`, `12 min`, `3.5 h`, `2.1 d`.
fn human(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 90.0 * 60.0 {
        format!("{:.1} min", seconds / 60.0)
    } else if seconds < 36.0 * 3600.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.1} d", seconds / 86400.0)
    }
}

fn stat(s: &DurationStats) -> String {
    match (s.median_seconds, s.p90_seconds) {
        (Some(m), Some(p)) => format!("{} (p90 {})", human(m), human(p)),
        _ => "—".to_owned(),
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_owned(), |r| format!("{:.0} %", r * 100.0))
}

/// The per-week charts plot medians in minutes: the unit on-call targets are set in.
fn week_bars(
    report: &Report,
    pick: impl Fn(&bot_core::reports::WeekFigures) -> &DurationStats,
) -> Vec<Bar> {
    report
        .weeks
        .iter()
        .map(|w| {
            let s = pick(w);
            Bar {
                label: w.week.clone(),
                value: s.median_seconds.unwrap_or(0.0) / 60.0,
                shown: match s.median_seconds {
                    Some(m) => format!("median {} over {}", human(m), s.count),
                    None => "no data".to_owned(),
                },
            }
        })
        .collect()
}

fn render(report: &Report, params: &PageParams) -> Markup {
    let range = format!(
        "{} to {}",
        report.since.format("%Y-%m-%d %H:%M UTC"),
        report.until.format("%Y-%m-%d %H:%M UTC")
    );
    let scope = match (&report.service, &report.team) {
        (Some(s), _) => format!("service {s}"),
        (None, Some(t)) => format!("team {t}"),
        (None, None) => "all services".to_owned(),
    };
    let mtta = week_bars(report, |w| &w.mtta);
    let mttr = week_bars(report, |w| &w.mttr_alerts);
    let per_service: Vec<Bar> = {
        let mut by = report.alerts.by_service.clone();
        by.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        by.into_iter()
            .map(|c| Bar {
                shown: format!("{} alerts", c.count),
                label: c.key,
                value: c.count as f64,
            })
            .collect()
    };
    let out_of_hours: Vec<Bar> = report
        .pages
        .by_responder
        .iter()
        .map(|r| Bar {
            label: r.name.clone(),
            value: r.out_of_hours as f64,
            shown: format!("{} of {} pages out of hours", r.out_of_hours, r.pages),
        })
        .collect();
    let week_span = report.weeks.len();
    layout(
        "Reports",
        html! {
            h1 { "Reports" }
            p.muted { (range) " · " (scope) " · " (week_span) " ISO week(s), UTC" }
            form method="get" action="/reports" {
                @if let Some(token) = given(&params.token) {
                    input type="hidden" name="token" value=(token);
                }
                label { "Since" input name="since" value=(given(&params.report.since).unwrap_or(DEFAULT_SINCE)); }
                label { "Until" input name="until" value=(given(&params.report.until).unwrap_or("now")); }
                label { "Service" input name="service" value=(given(&params.report.service).unwrap_or("")); }
                label { "Team" input name="team" value=(given(&params.report.team).unwrap_or("")); }
                button type="submit" { "Show" }
            }
            h2 { "Figures" }
            div.figures {
                div.figure { b { (report.alerts.total) } span { "alerts" } }
                div.figure { b { (report.incidents.total) } span { "incidents" } }
                div.figure { b { (stat(&report.mtta)) } span { "MTTA, median (p90)" } }
                div.figure { b { (stat(&report.mttr.alerts)) } span { "MTTR alerts, median (p90)" } }
                div.figure { b { (stat(&report.mttr.incidents)) } span { "MTTR incidents, median (p90)" } }
                div.figure { b { (percent(report.escalation.rate)) } span { "escalated past level 1 (" (report.escalation.escalated) ")" } }
                div.figure { b { (report.pages.out_of_hours) " / " (report.pages.total) } span { "pages out of hours" } }
                div.figure { b { (percent(report.postmortems.completion_rate)) } span { "postmortems published (" (report.postmortems.published) "/" (report.postmortems.incidents) "), " (report.postmortems.open_action_items) " open action items" } }
            }
            h2 { "Charts" }
            figure id="mtta-per-week" {
                figcaption { "Median time to acknowledge per week (minutes)" }
                (PreEscaped(charts::columns("Median time to acknowledge per week", "minutes", &mtta, 3)))
            }
            figure id="mttr-per-week" {
                figcaption { "Median time to resolve alerts per week (minutes)" }
                (PreEscaped(charts::columns("Median time to resolve per week", "minutes", &mttr, 3)))
            }
            figure id="alerts-per-service" {
                figcaption { "Alerts per service" }
                (PreEscaped(charts::rows("Alerts per service", "alerts", &per_service)))
            }
            figure id="out-of-hours" {
                figcaption { "Out-of-hours pages per responder" }
                (PreEscaped(charts::rows("Out-of-hours pages per responder", "pages", &out_of_hours)))
            }
            h2 { "Noisiest alerts" }
            table {
                tr { th { "Service" } th { "Dedup key" } th { "Alerts" } th { "Events" } }
                @for n in &report.noisiest_alerts {
                    tr { td { (n.service) } td { (n.dedup_key) } td { (n.alerts) } td { (n.events) } }
                }
            }
            h2 { "Pages per responder" }
            table {
                tr { th { "Responder" } th { "Pages" } th { "Out of hours" } th { "Working hours" } }
                @for r in &report.pages.by_responder {
                    tr { td { (r.name) } td { (r.pages) } td { (r.out_of_hours) }
                         td { (r.working_hours) " " (r.time_zone) } }
                }
            }
            p.muted { "Medians and p90 by nearest rank. Alerts count in the week they were triggered; "
                      "a page is one alert reaching one responder." }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_right_unit() {
        assert_eq!(human(45.0), "45 s");
        assert_eq!(human(600.0), "10.0 min");
        assert_eq!(human(7200.0), "2.0 h");
        assert_eq!(human(3.0 * 86400.0), "3.0 d");
    }

    #[test]
    fn empty_form_fields_are_absent() {
        let p = ReportParams {
            since: Some(" ".into()),
            until: None,
            service: Some(String::new()),
            team: Some("ops".into()),
        };
        let now = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let q = p.query(now).unwrap();
        assert_eq!(q.until, now);
        assert_eq!(q.since, now - chrono::Duration::days(30));
        assert_eq!(q.service, None);
        assert_eq!(q.team.as_ref().map(|t| t.as_str()), Some("ops"));
    }
}
