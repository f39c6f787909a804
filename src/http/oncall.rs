//! On-call over REST: schedules with who is on call, their shifts, overrides, a service's
//! escalation levels, and iCalendar feeds for calendar apps.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bot_core::auth::hash_token;
use bot_core::model::{Role, ServiceId, UserId};
use bot_core::schedule::{Override, Shift};
use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, Caller};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedules", get(list_schedules))
        .route("/api/v1/schedules/{id}/shifts", get(shifts))
        .route(
            "/api/v1/schedules/{id}/overrides",
            get(list_overrides).post(create_override),
        )
        .route("/api/v1/schedules/{id}/ical", get(schedule_ical))
        .route("/api/v1/users/{id}/ical", get(user_ical))
        .route("/api/v1/services/{id}/oncall", get(service_on_call))
}

/// The longest range one request may ask shifts for.
const MAX_RANGE_DAYS: i64 = 366;
/// What a calendar feed covers: a week back, eight weeks ahead.
const FEED_BACK_DAYS: i64 = 7;
const FEED_AHEAD_DAYS: i64 = 56;

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleSummary {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub layers: Vec<String>,
    /// Who is on call now, if anyone.
    pub on_call: Option<UserId>,
    /// The next hand-over to someone else.
    pub next: Option<Shift>,
}

/// Schedules with who is on call now and next.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "on-call", security(("bearer" = [])),
    responses((status = 200, body = Vec<ScheduleSummary>), (status = 401, body = ErrorBody)))]
pub async fn list_schedules(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ScheduleSummary>>, ApiError> {
    caller.require(Role::Viewer)?;
    let now = state.core.clock.now();
    let mut schedules: Vec<_> = state.core.settings.schedules.values().collect();
    schedules.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = Vec::with_capacity(schedules.len());
    for s in schedules {
        let (on_call, next) = state.core.schedule_on_call(&s.id, now).await?;
        out.push(ScheduleSummary {
            id: s.id.clone(),
            name: s.name.clone(),
            time_zone: s.time_zone.name().to_owned(),
            layers: s.layers.iter().map(|l| l.name.clone()).collect(),
            on_call,
            next,
        });
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Start (RFC 3339); default now.
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339); default a week after `from`; at most 366 days after it.
    pub until: Option<DateTime<Utc>>,
}

/// The shifts of a schedule over a range, overrides applied.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/shifts", tag = "on-call",
    params(("id" = String, Path), Range), security(("bearer" = [])),
    responses((status = 200, body = Vec<Shift>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn shifts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Json<Vec<Shift>>, ApiError> {
    caller.require(Role::Viewer)?;
    let from = range.from.unwrap_or_else(|| state.core.clock.now());
    let until = range.until.unwrap_or(from + Duration::days(7));
    if until - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::unprocessable(format!(
            "ask for at most {MAX_RANGE_DAYS} days at once"
        ))
        .with_field("until"));
    }
    Ok(Json(state.core.schedule_shifts(&id, from, until).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOverride {
    pub user: UserId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Put someone on call over a time range, above every layer (the latest override wins).
#[utoipa::path(post, path = "/api/v1/schedules/{id}/overrides", tag = "on-call",
    params(("id" = String, Path)), request_body = NewOverride, security(("bearer" = [])),
    responses((status = 201, body = Override), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_override(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewOverride>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Responder)?;
    let created = state
        .core
        .create_override(&caller.actor, &id, &body.user, body.start, body.end)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Overrides still in force or to come.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/overrides", tag = "on-call",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<Override>), (status = 404, body = ErrorBody)))]
pub async fn list_overrides(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Override>>, ApiError> {
    caller.require(Role::Viewer)?;
    state.core.schedule(&id)?;
    Ok(Json(
        state
            .core
            .store
            .overrides(&id, state.core.clock.now())
            .await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LevelView {
    pub level: usize,
    pub timeout_minutes: i64,
    pub targets: Vec<TargetView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    /// `user:ID`, `schedule:ID` or `team:ID`.
    pub target: String,
    pub on_call: Vec<UserId>,
    pub next: Option<Shift>,
}

/// Who each escalation level of a service reaches now.
#[utoipa::path(get, path = "/api/v1/services/{id}/oncall", tag = "on-call",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<LevelView>), (status = 404, body = ErrorBody)))]
pub async fn service_on_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<LevelView>>, ApiError> {
    caller.require(Role::Viewer)?;
    let levels = state
        .core
        .service_on_call(&ServiceId(id), state.core.clock.now())
        .await?;
    Ok(Json(
        levels
            .into_iter()
            .map(|l| LevelView {
                level: l.level,
                timeout_minutes: l.timeout.num_minutes(),
                targets: l
                    .targets
                    .into_iter()
                    .map(|t| TargetView {
                        target: t.target.to_string(),
                        on_call: t.now,
                        next: t.next,
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// Calendar apps cannot send headers: feeds also take the token as `?token=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedToken {
    pub token: Option<String>,
}

async fn feed_caller(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    token: Option<String>,
) -> Result<(), ApiError> {
    let caller = match (caller, token) {
        (Ok(caller), _) => caller,
        (Err(_), Some(token)) => {
            let found = state.core.store.token_by_hash(&hash_token(&token)).await?;
            let token = found.ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
            Caller {
                actor: bot_core::model::Actor::Token(token.name),
                role: token.role,
            }
        }
        (Err(e), None) => return Err(e),
    };
    caller.require(Role::Viewer)
}

fn calendar(name: &str, shifts: impl IntoIterator<Item = (String, Shift)>) -> Response {
    let mut calendar = Calendar::new();
    calendar.name(name);
    for (schedule, shift) in shifts {
        calendar.push(
            Event::new()
                .uid(&format!(
                    "{schedule}-{}-{}@tocsin",
                    shift.user,
                    shift.start.timestamp()
                ))
                .summary(&format!("On call: {} ({schedule})", shift.user))
                .starts(shift.start)
                .ends(shift.end)
                .done(),
        );
    }
    (
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        calendar.done().to_string(),
    )
        .into_response()
}

fn feed_range(state: &AppState) -> (DateTime<Utc>, DateTime<Utc>) {
    let now = state.core.clock.now();
    (
        now - Duration::days(FEED_BACK_DAYS),
        now + Duration::days(FEED_AHEAD_DAYS),
    )
}

/// iCalendar feed of a schedule's shifts (a week back, eight weeks ahead).
#[utoipa::path(get, path = "/api/v1/schedules/{id}/ical", tag = "on-call",
    params(("id" = String, Path), FeedToken), security(("bearer" = [])),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn schedule_ical(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    Query(feed): Query<FeedToken>,
) -> Result<Response, ApiError> {
    feed_caller(&state, caller, feed.token).await?;
    let (from, until) = feed_range(&state);
    let name = state.core.schedule(&id)?.name.clone();
    let shifts = state.core.schedule_shifts(&id, from, until).await?;
    Ok(calendar(&name, shifts.into_iter().map(|s| (id.clone(), s))))
}

/// iCalendar feed of one person's shifts on every schedule.
#[utoipa::path(get, path = "/api/v1/users/{id}/ical", tag = "on-call",
    params(("id" = String, Path), FeedToken), security(("bearer" = [])),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn user_ical(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    Query(feed): Query<FeedToken>,
) -> Result<Response, ApiError> {
    feed_caller(&state, caller, feed.token).await?;
    let user = state.core.store.get_user(&UserId(id)).await?;
    let (from, until) = feed_range(&state);
    let mut ids: Vec<&String> = state.core.settings.schedules.keys().collect();
    ids.sort();
    let mut mine = Vec::new();
    for id in ids {
        for shift in state.core.schedule_shifts(id, from, until).await? {
            if shift.user == user.id {
                mine.push((id.clone(), shift));
            }
        }
    }
    Ok(calendar(&format!("On call: {}", user.name), mine))
}
