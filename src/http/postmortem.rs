//! Postmortems over REST (`/api/v1/incidents/{id}/postmortem`, its Markdown export) and the
//! read-only page `/postmortems/{id}`, behind a bearer token or a signed link. Handlers are
//! thin over `bot_core::Core`; the page is rendered on the server (maud), no script.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bot_core::model::{
    Incident, IncidentId, IncidentStatus, Postmortem, PostmortemStatus, Role, Severity, UserId,
};
use bot_core::postmortem::markdown::{impact_line, participants, utc, who};
use bot_core::postmortem::{PostmortemEdit, TimelineCuration};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::AppState;
use super::api::find_incident;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Caller, body, parse_json};

#[derive(OpenApi)]
#[openapi(
    paths(create_postmortem, get_postmortem, patch_postmortem, postmortem_markdown, postmortem_page),
    tags((name = "postmortems", description = "Post-incident reviews"))
)]
pub struct Doc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/incidents/{id}/postmortem",
            get(get_postmortem)
                .post(create_postmortem)
                .patch(patch_postmortem),
        )
        .route(
            "/api/v1/incidents/{id}/postmortem.md",
            get(postmortem_markdown),
        )
        .route("/postmortems/{id}", get(postmortem_page))
}

/// The postmortem of the incident named in a path; 404 when either is missing.
async fn find_postmortem(state: &AppState, id: &str) -> Result<(Incident, Postmortem), ApiError> {
    let incident = find_incident(state, id).await?;
    let postmortem = state
        .core
        .store
        .postmortem_for(incident.id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{} has no postmortem yet; POST to create it",
                incident.reference()
            ))
        })?;
    Ok((incident, postmortem))
}

/// The incident a postmortem is about, as the JSON names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostmortemIncident {
    pub id: IncidentId,
    pub number: i64,
    /// `INC-42`.
    pub reference: String,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
}

/// A postmortem with what is computed from it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostmortemView {
    #[serde(flatten)]
    pub postmortem: Postmortem,
    /// The impact's duration in seconds, when it has a start and an end.
    pub impact_seconds: Option<i64>,
    pub incident: PostmortemIncident,
    /// The read-only page with a signed token, for people without an API token.
    pub link: String,
}

async fn view(
    state: &AppState,
    incident: &Incident,
    postmortem: Postmortem,
) -> Result<PostmortemView, ApiError> {
    let link = state.core.postmortem_link(&postmortem).await?;
    Ok(PostmortemView {
        impact_seconds: postmortem.impact_seconds(),
        incident: PostmortemIncident {
            id: incident.id,
            number: incident.number,
            reference: incident.reference(),
            title: incident.title.clone(),
            severity: incident.severity,
            status: incident.status,
        },
        link: format!("{}{link}", state.core.settings.public_url),
        postmortem,
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostmortem {
    /// Who owns the review; default the incident's commander.
    pub owner: Option<UserId>,
}

/// Create the incident's postmortem from the template, its timeline generated from the
/// incident's and its alerts', the impact window from the incident. The body is optional.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/postmortem", tag = "postmortems",
    params(("id" = String, Path, description = "Incident UUID, number or INC-number")),
    request_body(content = Option<CreatePostmortem>), security(("bearer" = [])),
    responses((status = 201, body = PostmortemView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Responder)?;
    let bytes = body(bytes)?;
    // No body, or `null`, is the same as `{}`.
    let request: CreatePostmortem = if bytes.iter().all(u8::is_ascii_whitespace) {
        CreatePostmortem::default()
    } else {
        parse_json::<Option<CreatePostmortem>>(&bytes)?.unwrap_or_default()
    };
    let incident = find_incident(&state, &id).await?;
    let postmortem = state
        .core
        .create_postmortem(&caller.actor, incident.id, request.owner)
        .await?;
    let location = format!("/api/v1/incidents/{}/postmortem", incident.id);
    let view = view(&state, &incident, postmortem).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// The incident's postmortem.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem", tag = "postmortems",
    params(("id" = String, Path, description = "Incident UUID, number or INC-number")),
    security(("bearer" = [])),
    responses((status = 200, body = PostmortemView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PostmortemView>, ApiError> {
    caller.require(Role::Viewer)?;
    let (incident, postmortem) = find_postmortem(&state, &id).await?;
    Ok(Json(view(&state, &incident, postmortem).await?))
}

/// Curation of one timeline entry of the postmortem (never of the incident's timeline).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurateEntry {
    /// The `entry_id` of an item of the postmortem's timeline.
    pub entry_id: uuid::Uuid,
    pub hidden: Option<bool>,
    /// A note shown with the entry; `""` removes it.
    pub annotation: Option<String>,
}

/// A change to a postmortem; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPostmortem {
    /// draft -> in_review -> published; published -> in_review.
    pub status: Option<PostmortemStatus>,
    pub owner: Option<UserId>,
    /// New section bodies (Markdown), by section key.
    #[serde(default)]
    pub sections: BTreeMap<String, String>,
    pub impact_started_at: Option<DateTime<Utc>>,
    pub impact_ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub timeline: Vec<CurateEntry>,
    /// Generate the timeline again from the incident's first (new entries appear, curation
    /// stays), then apply the rest.
    #[serde(default)]
    pub regenerate_timeline: bool,
}

/// Edit the postmortem: status, owner, section bodies, the impact window, curation of its
/// timeline, and regenerating the timeline.
#[utoipa::path(patch, path = "/api/v1/incidents/{id}/postmortem", tag = "postmortems",
    params(("id" = String, Path, description = "Incident UUID, number or INC-number")),
    request_body = PatchPostmortem, security(("bearer" = [])),
    responses((status = 200, body = PostmortemView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<PatchPostmortem>,
) -> Result<Json<PostmortemView>, ApiError> {
    caller.require(Role::Responder)?;
    let (incident, _) = find_postmortem(&state, &id).await?;
    let edit = PostmortemEdit {
        status: patch.status,
        owner: patch.owner,
        sections: patch.sections,
        impact_started_at: patch.impact_started_at,
        impact_ended_at: patch.impact_ended_at,
        timeline: patch
            .timeline
            .into_iter()
            .map(|c| TimelineCuration {
                entry_id: c.entry_id,
                hidden: c.hidden,
                annotation: c.annotation,
            })
            .collect(),
    };
    if edit == PostmortemEdit::default() && !patch.regenerate_timeline {
        return Err(ApiError::unprocessable(
            "nothing to change: name a status, owner, sections, impact window, timeline \
             curation or regenerate_timeline",
        ));
    }
    let postmortem = state
        .core
        .edit_postmortem_with(&caller.actor, incident.id, edit, patch.regenerate_timeline)
        .await?;
    Ok(Json(view(&state, &incident, postmortem).await?))
}

/// The postmortem as Markdown, for a wiki.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem.md", tag = "postmortems",
    params(("id" = String, Path, description = "Incident UUID, number or INC-number")),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/markdown", body = String),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn postmortem_markdown(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let (incident, postmortem) = find_postmortem(&state, &id).await?;
    let markdown = state.core.postmortem_markdown(&postmortem).await?;
    let filename = format!("{}-postmortem.md", incident.reference());
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{filename}\""),
            ),
        ],
        markdown,
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageToken {
    /// The signed token of the postmortem's link (as `GET …/postmortem` gives it).
    pub token: Option<String>,
}

/// The read-only page of a postmortem: with `Authorization: Bearer <token>` (any role) or
/// the signed `?token=` of its link.
#[utoipa::path(get, path = "/postmortems/{id}", tag = "postmortems",
    params(("id" = uuid::Uuid, Path, description = "The postmortem's id"), PageToken),
    responses((status = 200, content_type = "text/html", body = String),
        (status = 401, content_type = "text/html", body = String),
        (status = 404, content_type = "text/html", body = String)))]
pub async fn postmortem_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    Query(query): Query<PageToken>,
) -> Response {
    match page(&state, caller, &id, query.token.as_deref()).await {
        Ok(markup) => html_response(StatusCode::OK, markup),
        Err(e) if e.status.is_server_error() => {
            html_response(e.status, message_page("Something went wrong", &e.message))
        }
        Err(e) => html_response(
            e.status,
            message_page("Postmortem not available", &e.message),
        ),
    }
}

async fn page(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    id: &str,
    token: Option<&str>,
) -> Result<Markup, ApiError> {
    let parsed = id.parse::<uuid::Uuid>().ok();
    let signed = match (parsed, token) {
        (Some(id), Some(token)) => state.core.postmortem_token_valid(id, token).await?,
        _ => false,
    };
    if !signed {
        let caller = caller.map_err(|_| {
            ApiError::unauthorized(
                "open this page with the link Tocsin posted, or with an API token",
            )
        })?;
        caller.require(Role::Viewer)?;
    }
    let id = parsed.ok_or_else(|| ApiError::not_found(format!("postmortem {id} not found")))?;
    let postmortem = state.core.store.get_postmortem(id).await?;
    let incident = state
        .core
        .store
        .get_incident(postmortem.incident_id)
        .await?;
    let items = state.core.store.action_items(incident.id).await?;
    Ok(render_page(state, &incident, &postmortem, &items))
}

/// Sent with every page: it may carry a token in its address, so it sends no referrer, is
/// not cached, and cannot be framed.
fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// Readable from 360 px up: one column, tables scroll sideways on their own.
const STYLE: &str = "body{font-family:system-ui,sans-serif;line-height:1.5;max-width:48rem;\
    margin:0 auto;padding:1rem;color:#1a1a1a}h1{font-size:1.5rem;margin:.5rem 0}\
    h2{font-size:1.25rem;border-bottom:1px solid #ddd;margin-top:2rem}h3{font-size:1.05rem}\
    .facts{padding-left:1.2rem}.body{white-space:pre-wrap;overflow-wrap:anywhere}\
    .prompt{color:#555;font-style:italic}.scroll{overflow-x:auto}\
    table{border-collapse:collapse;width:100%;font-size:.9rem}\
    th,td{text-align:left;vertical-align:top;padding:.3rem .4rem;border-bottom:1px solid #eee;\
    overflow-wrap:anywhere}td.time{white-space:nowrap}.note{color:#0b5cad}\
    a{color:#0b5cad}";

fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (STYLE) }
            }
            body { (content) }
        }
    }
}

fn message_page(title: &str, message: &str) -> Markup {
    layout(title, html! { h1 { (title) } p { (message) } })
}

fn render_page(
    state: &AppState,
    incident: &Incident,
    pm: &Postmortem,
    items: &[bot_core::model::ActionItem],
) -> Markup {
    let title = format!("Postmortem: {} {}", incident.reference(), incident.title);
    let template = &state.core.settings.postmortem.template;
    let people = participants(incident);
    let huddle = state.core.huddle_url(incident);
    let content = html! {
        h1 { (title) }
        ul.facts {
            li { "Status: " strong { (pm.status) } }
            li { "Owner: " (pm.owner.as_ref().map_or("nobody yet".to_owned(), |o| o.to_string())) }
            li { "Severity: " (incident.severity) }
            li { "Declared: " (utc(incident.declared_at)) }
            @if let Some(resolved) = incident.resolved_at { li { "Resolved: " (utc(resolved)) } }
            @if let Some(published) = pm.published_at { li { "Published: " (utc(published)) } }
            @if !people.is_empty() { li { "Participants: " (people.join(", ")) } }
            @if let Some(url) = &huddle {
                li { "Huddle: " a href=(url) rel="noopener noreferrer" { (url) } }
            }
            @if let Some(meeting) = &pm.meeting {
                li { "Review meeting: " (utc(meeting.starts_at)) " (" (meeting.duration_minutes) " minutes)" }
            }
        }
        @for section in &pm.sections {
            @let generated = matches!(section.key.as_str(), "timeline" | "action_items");
            @if section.level >= 3 { h3 { (section.title) } } @else { h2 { (section.title) } }
            @if section.key == "impact" { p { (impact_line(pm)) } }
            @if section.key == "timeline" { (timeline(pm)) }
            @if section.key == "action_items" { (action_items(items)) }
            @if !section.body.trim().is_empty() {
                div.body { (section.body) }
            } @else if !generated {
                @let prompt = template.iter().find(|t| t.key == section.key).map_or("Not written yet.", |t| t.prompt.as_str());
                p.prompt { (prompt) }
            }
        }
        @if !pm.sections.iter().any(|s| s.key == "timeline") { h2 { "Timeline" } (timeline(pm)) }
        @if !pm.sections.iter().any(|s| s.key == "action_items") { h2 { "Action items" } (action_items(items)) }
    };
    layout(&title, content)
}

fn timeline(pm: &Postmortem) -> Markup {
    let visible: Vec<_> = pm.timeline.iter().filter(|i| !i.hidden).collect();
    html! {
        @if visible.is_empty() {
            p.prompt { "No timeline entries." }
        } @else {
            div.scroll {
                table {
                    thead { tr { th { "Time (UTC)" } th { "Event" } th { "Who" } } }
                    tbody {
                        @for item in visible {
                            tr {
                                td.time { (item.at.format("%Y-%m-%d %H:%M:%S")) }
                                td {
                                    (item.text)
                                    @if let Some(note) = &item.annotation { br; span.note { "Note: " (note) } }
                                }
                                td { (who(&item.actor)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn action_items(items: &[bot_core::model::ActionItem]) -> Markup {
    html! {
        @if items.is_empty() {
            p.prompt { "No action items yet." }
        } @else {
            ul {
                @for item in items {
                    li {
                        @if item.state == bot_core::model::ActionItemState::Done { "✓ " } @else { "☐ " }
                        (item.title)
                        @if let (Some(key), Some(url)) = (&item.ticket_key, &item.ticket_url) {
                            @if url.starts_with("https://") || url.starts_with("http://") {
                                " — " a href=(url) rel="noopener noreferrer" { (key) }
                            } @else {
                                " — " (key)
                            }
                        }
                        @if let Some(assignee) = &item.assignee { " (" (assignee) ")" }
                    }
                }
            }
        }
    }
}
