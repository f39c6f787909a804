//! The status page as server-rendered HTML: `/status`, `/status/history` and
//! `/status/incidents/{id}`. Readable without JavaScript; a small inline script only turns
//! UTC times into the reader's zone. Every text from the store goes through maud, which
//! escapes it; the page's one script is allowed by its hash in the Content-Security-Policy,
//! so nothing injected would run even if it got through.

use std::sync::OnceLock;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bot_core::model::{
    Component, ComponentStatus, Impact, PublicFilter, PublicIncident, PublicKind, PublicStatus,
};
use bot_core::statuspage::StatusPageSettings;
use bot_core::statuspage::page::{self, Day, UPTIME_DAYS, Uptime};
use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{CLOSED, Kept, Prepared, PublicError, Snapshot, version};
use crate::http::AppState;

/// Past records per history page.
const PER_PAGE: i64 = 20;

/// Turns every `<time datetime>` into the reader's zone; without JavaScript they stay in
/// UTC, which they say.
const LOCAL_TIMES: &str = r#"(function(){var f;try{f=new Intl.DateTimeFormat(undefined,{year:"numeric",month:"short",day:"numeric",hour:"2-digit",minute:"2-digit",timeZoneName:"short"})}catch(e){return}document.querySelectorAll("time[datetime]").forEach(function(t){var d=new Date(t.getAttribute("datetime"));if(!isNaN(d.getTime())){t.title=t.textContent;t.textContent=f.format(d)}})})();"#;

/// Colours of the five states, each at least 4.5:1 on white (WCAG AA for text) and so
/// also behind white text in the banner; `tests::state_colours_pass_wcag_aa_on_white`.
const OPERATIONAL: &str = "#1a7f37";
const MAINTENANCE: &str = "#0b5cad";
const DEGRADED: &str = "#8a5a00";
const PARTIAL: &str = "#b34700";
const MAJOR: &str = "#c62828";
/// Uptime bar days without data: 3:1 on white, enough for a graphic (WCAG 1.4.11).
const NO_DATA: &str = "#8c959f";
/// Secondary text.
const MUTED: &str = "#57606a";
/// Links and the header when the configured accent is too light to read on white.
const DEFAULT_ACCENT: &str = "#0b5cad";

fn css(accent: &str) -> String {
    let accent = if is_colour(accent) {
        accent
    } else {
        DEFAULT_ACCENT
    };
    let on_accent = if contrast(accent, "#ffffff") >= 4.5 {
        "#ffffff"
    } else {
        "#1f2328"
    };
    let link = if contrast(accent, "#ffffff") >= 4.5 {
        accent
    } else {
        DEFAULT_ACCENT
    };
    format!(
        "*{{box-sizing:border-box}}\
body{{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1f2328;background:#fff}}\
a{{color:{link}}}\
.skip{{position:absolute;left:-9999px}}.skip:focus{{left:.5rem;top:.5rem;background:#fff;color:#1f2328;padding:.25rem .5rem}}\
.top{{background:{accent};color:{on_accent}}}\
.wrap{{max-width:52rem;margin:0 auto;padding:0 1rem}}\
.top a{{color:inherit;text-decoration:none;display:flex;align-items:center;gap:.75rem;padding:1rem 0}}\
.top img{{max-height:2.5rem;max-width:10rem}}\
h1{{font-size:1.5rem;margin:0;line-height:1.2}}h2{{font-size:1.25rem;margin:2rem 0 .5rem}}h3,h4{{font-size:1.0625rem;margin:0}}\
.banner{{color:#fff;border-radius:6px;padding:1rem;margin:1.5rem 0;font-size:1.25rem;font-weight:600}}\
.b-none{{background:{OPERATIONAL}}}.b-minor{{background:{DEGRADED}}}.b-major{{background:{PARTIAL}}}.b-critical{{background:{MAJOR}}}.b-maintenance{{background:{MAINTENANCE}}}\
.s-operational{{color:{OPERATIONAL}}}.s-under_maintenance{{color:{MAINTENANCE}}}.s-degraded_performance{{color:{DEGRADED}}}.s-partial_outage{{color:{PARTIAL}}}.s-major_outage{{color:{MAJOR}}}\
.state{{font-weight:600}}\
ul.plain,ol.plain{{list-style:none;padding:0;margin:0}}\
.group{{border:1px solid #d0d7de;border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}}\
.group .component{{border:0;border-top:1px solid #d0d7de;border-radius:0;padding:.75rem 0 0;margin:.75rem 0 0}}\
.component{{border:1px solid #d0d7de;border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}}\
.row{{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.25rem 1rem}}\
.desc{{color:{MUTED};font-size:.875rem;margin:0}}\
.bar{{display:block;width:100%;height:2rem;margin:.5rem 0 .25rem}}\
.bar .o{{fill:{OPERATIONAL}}}.bar .u{{fill:{MAINTENANCE}}}.bar .d{{fill:{DEGRADED}}}.bar .p{{fill:{PARTIAL}}}.bar .m{{fill:{MAJOR}}}.bar .n{{fill:{NO_DATA}}}\
.legend{{display:flex;justify-content:space-between;gap:.5rem;font-size:.875rem;color:{MUTED};margin:0}}\
.record{{border-left:4px solid {MUTED};padding:.25rem 0 .25rem 1rem;margin:1rem 0}}\
.i-none,.i-minor{{border-color:{DEGRADED}}}.i-major{{border-color:{PARTIAL}}}.i-critical{{border-color:{MAJOR}}}.i-maintenance{{border-color:{MAINTENANCE}}}\
.meta{{color:{MUTED};font-size:.875rem;margin:.125rem 0}}\
.updates li{{margin:.75rem 0}}\
.body{{margin:.125rem 0;white-space:pre-wrap;overflow-wrap:anywhere}}\
time{{color:{MUTED};font-size:.875rem}}\
.links{{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;margin:2rem 0}}\
.pages{{display:flex;flex-wrap:wrap;justify-content:space-between;gap:1rem;margin:1.5rem 0}}\
footer{{color:{MUTED};font-size:.875rem;padding:2rem 0}}"
    )
}

/// `#RRGGBB`.
fn is_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// WCAG 2 contrast ratio of two `#RRGGBB` colours (1 when either is not a colour).
fn contrast(a: &str, b: &str) -> f64 {
    fn luminance(c: &str) -> Option<f64> {
        if !is_colour(c) {
            return None;
        }
        let channel = |i: usize| {
            let v = f64::from(u8::from_str_radix(&c[i..i + 2], 16).ok()?) / 255.0;
            Some(if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            })
        };
        Some(0.2126 * channel(1)? + 0.7152 * channel(3)? + 0.0722 * channel(5)?)
    }
    match (luminance(a), luminance(b)) {
        (Some(x), Some(y)) => (x.max(y) + 0.05) / (x.min(y) + 0.05),
        _ => 1.0,
    }
}

/// The Content-Security-Policy of every page: no script but the time converter.
fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        use base64::Engine;
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(LOCAL_TIMES));
        format!(
            "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
             img-src * data:; base-uri 'none'; form-action 'self'"
        )
    })
}

fn respond(status: StatusCode, markup: Markup, headers: &HeaderMap) -> Response {
    let mut response =
        Prepared::new("text/html; charset=utf-8", markup.into_string()).respond(headers);
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    if let Ok(v) = HeaderValue::from_str(csp()) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

/// The frame of every page: header with logo and title, the content, links, footer.
fn layout(settings: &StatusPageSettings, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="alternate" type="application/atom+xml" title=(format!("{} history (Atom)", settings.name)) href="/status/history.atom";
                link rel="alternate" type="application/rss+xml" title=(format!("{} history (RSS)", settings.name)) href="/status/history.rss";
                style { (PreEscaped(css(&settings.accent))) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.wrap {
                        a href="/status" {
                            @if let Some(logo) = &settings.logo_url {
                                img src=(logo) alt="";
                            }
                            h1 { (settings.name) }
                        }
                    }
                }
                main #main .wrap {
                    (content)
                    nav.links aria-label="More" {
                        a href="/status" { "Current status" }
                        a href="/status/history" { "Incident history" }
                        a href="/status/history.atom" { "Atom feed" }
                        a href="/status/history.rss" { "RSS feed" }
                        a href="/status/api/v2/summary.json" { "JSON API" }
                    }
                }
                footer.wrap { "Times are in UTC unless your browser shows them in your own time zone." }
                script { (PreEscaped(LOCAL_TIMES)) }
            }
        }
    }
}

/// `<time datetime="2026-11-24T03:00:00Z">Nov 24, 2026 03:00 UTC</time>`.
fn time(t: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(t.to_rfc3339_opts(SecondsFormat::Secs, true)) {
            (t.format("%b %-d, %Y %H:%M UTC").to_string())
        }
    }
}

fn impact_label(i: Impact) -> &'static str {
    match i {
        Impact::None => "No impact",
        Impact::Maintenance => "Maintenance",
        Impact::Minor => "Minor impact",
        Impact::Major => "Major impact",
        Impact::Critical => "Critical impact",
    }
}

fn component_names(settings: &StatusPageSettings, ids: &[String]) -> String {
    ids.iter()
        .map(|id| {
            settings
                .component(id)
                .map_or(id.as_str(), |c| c.name.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn incident_href(r: &PublicIncident) -> String {
    format!("/status/incidents/{}", r.id)
}

/// One open or past record: heading, impact and components, then its updates (all of
/// them, or only the newest).
fn record(
    settings: &StatusPageSettings,
    r: &PublicIncident,
    heading: u8,
    all_updates: bool,
) -> Markup {
    let class = format!("record i-{}", r.impact.as_str());
    let title = html! { a href=(incident_href(r)) { (r.name) } };
    let updates: &[bot_core::model::PublicUpdate] = if all_updates {
        &r.updates
    } else {
        &r.updates[..r.updates.len().min(1)]
    };
    html! {
        article class=(class) {
            @if heading == 2 { h2 { (title) } } @else { h3 { (title) } }
            p.meta {
                (impact_label(r.impact))
                @if !r.components.is_empty() {
                    " · " (component_names(settings, &r.components))
                }
            }
            @if r.kind == PublicKind::Maintenance {
                @if let (Some(from), Some(until)) = (r.scheduled_for, r.scheduled_until) {
                    p.meta { "Scheduled " (time(from)) " – " (time(until)) }
                }
            }
            ol.plain.updates {
                @for u in updates {
                    li {
                        strong { (u.status.label()) }
                        " "
                        (time(u.created_at))
                        p.body { (u.body) }
                    }
                }
            }
        }
    }
}

/// The uptime bar's class for a day: its worst state, `n` without data.
fn day_class(d: &Day) -> &'static str {
    match d.worst {
        None => "n",
        Some(ComponentStatus::Operational) => "o",
        Some(ComponentStatus::UnderMaintenance) => "u",
        Some(ComponentStatus::DegradedPerformance) => "d",
        Some(ComponentStatus::PartialOutage) => "p",
        Some(ComponentStatus::MajorOutage) => "m",
    }
}

/// One day per unit, on an operational background: only days of another colour are
/// drawn, and neighbours of the same colour as one rectangle, each with a tooltip.
fn uptime_bar(name: &str, uptime: &Uptime) -> Markup {
    let mut runs: Vec<(usize, usize, &'static str)> = Vec::new();
    for (i, d) in uptime.days.iter().enumerate() {
        match runs.last_mut() {
            Some((_, end, c)) if *end == i && *c == day_class(d) => *end = i + 1,
            _ if day_class(d) == "o" => {}
            _ => runs.push((i, i + 1, day_class(d))),
        }
    }
    let percent = uptime.percent().map(floor2);
    let label = match percent {
        Some(p) => format!("{name}: {p:.2} % uptime over the last {UPTIME_DAYS} days"),
        None => format!("{name}: no uptime data for the last {UPTIME_DAYS} days yet"),
    };
    let days = uptime.days.len();
    html! {
        svg.bar viewBox=(format!("0 0 {days} 10")) preserveAspectRatio="none" role="img" aria-label=(label) {
            rect.o width=(days) height="10" {}
            @for (start, end, c) in &runs {
                rect class=(c) x=(start) width=(end - start) height="10" {
                    title { (run_title(&uptime.days[*start..*end])) }
                }
            }
            rect width=(days) height="10" fill="url(#day-gaps)" {}
        }
        p.legend aria-hidden="true" {
            span { (UPTIME_DAYS) " days ago" }
            span { @match percent { Some(p) => { (format!("{p:.2}")) " % uptime" }, None => "No data" } }
            span { "Today" }
        }
    }
}

/// "Sep 1–7: major outage, 2 h 15 min down".
fn run_title(days: &[Day]) -> String {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return String::new();
    };
    let state = first.worst.map_or("no data", |s| match s {
        ComponentStatus::Operational => "operational",
        ComponentStatus::UnderMaintenance => "maintenance",
        ComponentStatus::DegradedPerformance => "degraded",
        ComponentStatus::PartialOutage => "partial outage",
        ComponentStatus::MajorOutage => "major outage",
    });
    let range = if first.date == last.date {
        first.date.format("%b %-d").to_string()
    } else if first.date.format("%m").to_string() == last.date.format("%m").to_string() {
        format!(
            "{}–{}",
            first.date.format("%b %-d"),
            last.date.format("%-d")
        )
    } else {
        format!(
            "{}–{}",
            first.date.format("%b %-d"),
            last.date.format("%b %-d")
        )
    };
    let downtime: f64 = days.iter().map(Day::downtime).sum();
    if downtime > 0.0 {
        format!("{range}: {state}, {} down", human_duration(downtime))
    } else {
        format!("{range}: {state}")
    }
}

fn human_duration(secs: f64) -> String {
    let secs = secs.round() as i64;
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s % 3600 < 60 => format!("{} h", s / 3600),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Rounded down to hundredths, so a page never shows 100.00 % for a day with downtime.
fn floor2(p: f64) -> f64 {
    (p * 100.0).floor() / 100.0
}

/// A component with its state and uptime; a group's members one heading level lower.
fn component(c: &Component, uptime: &Uptime, in_group: bool) -> Markup {
    html! {
        li.component {
            div.row {
                @if in_group { h4 { (c.name) } } @else { h3 { (c.name) } }
                span class=(format!("state s-{}", c.status.as_str())) { (c.status.label()) }
            }
            @if let Some(d) = &c.description { p.desc { (d) } }
            (uptime_bar(&c.name, uptime))
        }
    }
}

/// `GET /status`.
pub(super) async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match render_page(&state).await {
        Ok(markup) => respond(StatusCode::OK, markup, &headers),
        Err(e) => error_page(&state, e, &headers),
    }
}

async fn render_page(state: &AppState) -> Result<Markup, PublicError> {
    // Offered only where confirmation mails can go out (`[smtp]`).
    let e_mail = state
        .core
        .settings
        .notifier_channels
        .iter()
        .any(|c| c == "email");
    let core = &state.core;
    let since = page::history_start(core.clock.now(), UPTIME_DAYS);
    let version = version(core).await?;
    // The one read that grows with the page's age (every change of 90 days): kept while
    // nothing public changes.
    let history_key = format!("history since {since}");
    let (snapshot, history) = tokio::try_join!(
        Snapshot::load(core, version),
        Kept::get_or(core, &history_key, version, async || {
            Ok(core.store.component_history(since).await?)
        }),
    )?;
    let s = &snapshot;
    let settings = s.page();
    let ids: Vec<&str> = s.components().iter().map(|c| c.id.as_str()).collect();
    let uptimes = page::uptimes(&ids, &history, s.now, UPTIME_DAYS);
    let overall = s.overall();
    let incidents: Vec<&PublicIncident> = s.open_incidents().collect();
    let (active, upcoming): (Vec<&PublicIncident>, Vec<&PublicIncident>) = s
        .open_maintenance()
        .partition(|r| r.status.is_active_maintenance());
    // Groups where their first member is, members in configured order.
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut order: Vec<Result<usize, usize>> = Vec::new(); // Ok: component, Err: group
    for (i, c) in s.components().iter().enumerate() {
        match c.group.as_deref() {
            None => order.push(Ok(i)),
            Some(g) => match groups.iter_mut().find(|(name, _)| *name == g) {
                Some((_, members)) => members.push(i),
                None => {
                    order.push(Err(groups.len()));
                    groups.push((g, vec![i]));
                }
            },
        }
    }
    let content = html! {
        section class=(format!("banner b-{}", overall.indicator.as_str())) aria-live="polite" {
            (overall.description)
        }
        @if !incidents.is_empty() {
            section aria-labelledby="active" {
                h2 #active { "Active incidents" }
                @for r in &incidents { (record(settings, r, 3, true)) }
            }
        }
        @if !active.is_empty() {
            section aria-labelledby="maintenance-now" {
                h2 #maintenance-now { "Maintenance in progress" }
                @for r in &active { (record(settings, r, 3, true)) }
            }
        }
        section aria-labelledby="components" {
            h2 #components { "Components" }
            svg width="0" height="0" aria-hidden="true" focusable="false" style="position:absolute" {
                defs {
                    pattern #day-gaps width="1" height="10" patternUnits="userSpaceOnUse" {
                        rect x="0.82" width="0.18" height="10" fill="#fff" {}
                    }
                }
            }
            @if s.components().is_empty() {
                p { "No components are published yet." }
            }
            ul.plain {
                @for entry in &order {
                    @match entry {
                        Ok(i) => { (component(&s.components()[*i], &uptimes[*i], false)) }
                        Err(g) => {
                            li.group {
                                h3 { (groups[*g].0) }
                                ul.plain {
                                    @for i in &groups[*g].1 {
                                        (component(&s.components()[*i], &uptimes[*i], true))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !upcoming.is_empty() {
            section aria-labelledby="maintenance-next" {
                h2 #maintenance-next { "Scheduled maintenance" }
                @for r in &upcoming { (record(settings, r, 3, false)) }
            }
        }
        @if e_mail {
            (subscribe_form(s.components()))
        }
    };
    Ok(layout(settings, &settings.name, content))
}

/// The e-mail subscription form: an address and, optionally, the components to hear about
/// (none ticked: all). It posts to `/status/subscribe`, which answers with a page.
fn subscribe_form(components: &[Component]) -> Markup {
    html! {
        section aria-labelledby="subscribe" {
            h2 #subscribe { "Get updates by e-mail" }
            form method="post" action="/status/subscribe" {
                p {
                    label for="subscribe-email" { "E-mail address" }
                    " "
                    input #subscribe-email type="email" name="email" required autocomplete="email";
                }
                @if components.len() > 1 {
                    fieldset {
                        legend { "Only about these components (optional)" }
                        @for c in components {
                            label {
                                input type="checkbox" name="components" value=(c.id);
                                " " (c.name)
                            }
                            " "
                        }
                    }
                }
                p {
                    button type="submit" { "Subscribe" }
                    " We send a confirmation link first; every mail has an unsubscribe link."
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct HistoryQuery {
    page: Option<String>,
}

/// `GET /status/history?page=N`: records that are over, newest first.
pub(super) async fn history(
    State(state): State<AppState>,
    Query(query): Query<HistoryQuery>,
    headers: HeaderMap,
) -> Response {
    match render_history(&state, query).await {
        Ok(markup) => respond(StatusCode::OK, markup, &headers),
        Err(e) => error_page(&state, e, &headers),
    }
}

async fn render_history(state: &AppState, query: HistoryQuery) -> Result<Markup, PublicError> {
    let n: i64 = match query.page.as_deref().map(str::trim) {
        None | Some("") => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| {
                PublicError::BadRequest(format!("`{p}` is not a page number; pages start at 1"))
            })?,
    };
    let core = &state.core;
    let filter = PublicFilter {
        kind: None,
        statuses: CLOSED.to_vec(),
        limit: PER_PAGE,
        offset: (n - 1) * PER_PAGE,
    };
    let (total, records) = tokio::try_join!(
        async {
            core.store
                .count_public_incidents(&filter)
                .await
                .map_err(PublicError::from)
        },
        async {
            core.store
                .list_public_incidents(&filter)
                .await
                .map_err(PublicError::from)
        },
    )?;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    if n > pages {
        return Err(PublicError::NotFound(format!(
            "there is no page {n} of the history; it has {pages}"
        )));
    }
    let settings = &core.settings.status_page;
    let content = html! {
        h2 { "Incident history" }
        @if records.is_empty() {
            p { "No past incidents or maintenance." }
        }
        ol.plain {
            @for r in &records {
                li {
                    (record(settings, r, 3, false))
                    @if let Some(end) = r.resolved_at {
                        p.meta { "Began " (time(r.started_at)) ", over " (time(end)) }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if n > 1 {
                a rel="prev" href=(format!("/status/history?page={}", n - 1)) { "← Newer" }
            } @else { span {} }
            span { "Page " (n) " of " (pages) }
            @if n < pages {
                a rel="next" href=(format!("/status/history?page={}", n + 1)) { "Older →" }
            } @else { span {} }
        }
    };
    Ok(layout(
        settings,
        &format!("History · {}", settings.name),
        content,
    ))
}

/// `GET /status/incidents/{id}`: one incident or maintenance with all its updates.
pub(super) async fn incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let found = async {
        let id = uuid::Uuid::parse_str(&id)
            .map_err(|_| PublicError::NotFound("no such incident".into()))?;
        Ok::<_, PublicError>(state.core.store.get_public_incident(id).await?)
    }
    .await;
    let r = match found {
        Ok(r) => r,
        Err(e) => return error_page(&state, e, &headers),
    };
    let settings = &state.core.settings.status_page;
    let state_line = match (r.kind, r.status) {
        (PublicKind::Maintenance, PublicStatus::Completed) => "This maintenance is complete.",
        (PublicKind::Maintenance, PublicStatus::Scheduled) => "This maintenance is scheduled.",
        (PublicKind::Maintenance, _) => "This maintenance is in progress.",
        (_, s) if s.is_closed() => "This incident has been resolved.",
        _ => "This incident is ongoing.",
    };
    let content = html! {
        (record(settings, &r, 2, true))
        p.meta { (state_line) }
    };
    respond(
        StatusCode::OK,
        layout(
            settings,
            &format!("{} · {}", r.name, settings.name),
            content,
        ),
        &headers,
    )
}

/// Refusals and failures as a page: 404, 400, or 500 with an id to quote (the details
/// go to the log, never to the reader).
fn error_page(state: &AppState, e: PublicError, _headers: &HeaderMap) -> Response {
    let (status, message) = match e {
        PublicError::NotFound(m) => (StatusCode::NOT_FOUND, m),
        PublicError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        PublicError::Internal(detail) => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            tracing::error!(error_id = %id, detail = %detail, "status page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Something went wrong on our side (error {id}). Please try again shortly."),
            )
        }
    };
    let settings = &state.core.settings.status_page;
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "Bad request",
        _ => "Error",
    };
    let markup = layout(
        settings,
        &format!("{heading} · {}", settings.name),
        html! { h2 { (heading) } p { (message) } },
    );
    let mut response = (status, markup.into_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::statuspage::page::Indicator;

    /// The banner's background per indicator, as the CSS gives it.
    fn banner_colour(i: Indicator) -> &'static str {
        match i {
            Indicator::None => OPERATIONAL,
            Indicator::Minor => DEGRADED,
            Indicator::Major => PARTIAL,
            Indicator::Critical => MAJOR,
            Indicator::Maintenance => MAINTENANCE,
        }
    }

    #[test]
    fn state_colours_pass_wcag_aa_on_white() {
        for (what, c) in [
            ("operational", OPERATIONAL),
            ("maintenance", MAINTENANCE),
            ("degraded", DEGRADED),
            ("partial", PARTIAL),
            ("major", MAJOR),
            ("muted text", MUTED),
            ("default accent", DEFAULT_ACCENT),
        ] {
            let ratio = contrast(c, "#ffffff");
            assert!(ratio >= 4.5, "{what} {c}: {ratio:.2}:1");
        }
        for i in [
            Indicator::None,
            Indicator::Minor,
            Indicator::Major,
            Indicator::Critical,
            Indicator::Maintenance,
        ] {
            assert!(contrast(banner_colour(i), "#ffffff") >= 4.5, "{i:?}");
        }
        assert!(contrast(NO_DATA, "#ffffff") >= 3.0);
        assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 1e-9);
    }

    #[test]
    fn a_light_accent_gets_dark_header_text_and_default_links() {
        let light = css("#ffe066");
        assert!(
            light.contains(".top{background:#ffe066;color:#1f2328}"),
            "{light}"
        );
        assert!(light.contains(&format!("a{{color:{DEFAULT_ACCENT}}}")));
        assert!(
            css("red;}</style><script>").contains(&format!(".top{{background:{DEFAULT_ACCENT}"))
        );
    }

    #[test]
    fn uptime_is_floored_so_downtime_never_reads_as_100() {
        assert_eq!(floor2(99.999), 99.99);
        assert_eq!(floor2(100.0), 100.0);
    }
}
