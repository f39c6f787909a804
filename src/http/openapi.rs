//! The OpenAPI document, generated from the handlers' annotations and the model's types,
//! served at `/api/v1/openapi.json`.

use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::statuspage::api as statuspage;
use super::{action_items, api, github, ingest, oncall, postmortem, reports};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tocsin API", description = "Incidents, alerts and on-call, over REST. \
        Authenticate with `Authorization: Bearer <token>` (create one with `tocsin token create`)."),
    paths(
        api::create_incident, api::list_incidents, api::get_incident, api::patch_incident,
        api::post_update, api::list_updates, api::add_timeline, api::incident_timeline,
        api::list_alerts, api::get_alert, api::ack_alert, api::resolve_alert, api::alert_timeline,
        api::list_services, api::get_service, api::list_users, api::get_user, api::list_jobs, api::audit_log, api::get_action_run,
        ingest::alertmanager, ingest::grafana, ingest::generic, ingest::pagerduty, ingest::ping,
        ingest::list_heartbeats, ingest::list_integrations,
        oncall::list_schedules, oncall::shifts, oncall::create_override, oncall::list_overrides,
        oncall::service_on_call, oncall::schedule_ical, oncall::user_ical,
        statuspage::list_components, statuspage::patch_component,
        statuspage::list_incidents, statuspage::open_incident, statuspage::get_incident,
        statuspage::post_update, statuspage::list_maintenances, statuspage::schedule_maintenance,
        statuspage::list_subscribers, statuspage::add_subscriber, statuspage::remove_subscriber,
    ),
    modifiers(&BearerAuth),
    tags((name = "incidents"), (name = "alerts"), (name = "directory"), (name = "operations"), (name = "ingest"), (name = "on-call"), (name = "status page"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The whole document: this one's paths and those each part of the API declares with its
/// handlers.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(postmortem::Doc::openapi());
    doc.merge(github::Doc::openapi());
    doc.merge(action_items::Doc::openapi());
    doc.merge(reports::Doc::openapi());
    common_refusals(&mut doc);
    pagerduty_event(&mut doc);
    doc
}

/// `POST /v2/enqueue` takes PagerDuty's own event shape, checked by the PagerDuty parser
/// rather than by serde, so its schema is written out here: what PagerDuty documents and
/// the parser enforces (a blank string is missing; `payload` only matters to a trigger).
fn pagerduty_event(doc: &mut utoipa::openapi::OpenApi) {
    let text = |max: Option<u64>| {
        let mut schema = serde_json::json!({"type": "string", "pattern": "\\S"});
        if let Some(max) = max {
            schema["maxLength"] = max.into();
        }
        schema
    };
    let optional = serde_json::json!({"type": "string"});
    let common = serde_json::json!({
        "routing_key": text(None),
        "dedup_key": text(Some(255)),
        "client": optional,
        "client_url": optional,
    });
    let trigger = serde_json::json!({
        "type": "object",
        "required": ["routing_key", "event_action", "payload"],
        "properties": {
            "routing_key": common["routing_key"],
            "dedup_key": {"type": "string", "maxLength": 255},
            "client": optional,
            "client_url": optional,
            "event_action": {"type": "string", "enum": ["trigger"]},
            "payload": {
                "type": "object",
                "required": ["summary", "source", "severity"],
                "properties": {
                    "summary": text(Some(1024)),
                    "source": text(None),
                    "severity": {"type": "string", "enum": ["critical", "error", "warning", "info"]},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "component": optional,
                    "group": optional,
                    "class": optional,
                    "custom_details": {"type": "object"},
                },
            },
            "links": {"type": "array", "items": {
                "type": "object", "required": ["href"],
                "properties": {"href": text(None), "text": optional},
            }},
            "images": {"type": "array", "items": {
                "type": "object", "required": ["src"],
                "properties": {"src": text(None), "href": optional, "alt": optional},
            }},
        },
    });
    let follow_up = serde_json::json!({
        "type": "object",
        "required": ["routing_key", "event_action", "dedup_key"],
        "properties": {
            "routing_key": common["routing_key"],
            "dedup_key": common["dedup_key"],
            "event_action": {"type": "string", "enum": ["acknowledge", "resolve"]},
        },
    });
    let body = serde_json::json!({
        "description": "PagerDuty Events API v2 event",
        "required": true,
        "content": {"application/json": {"schema": {"oneOf": [trigger, follow_up]}}},
    });
    let body: utoipa::openapi::request_body::RequestBody =
        serde_json::from_value(body).expect("the PagerDuty event schema is a valid request body");
    if let Some(operation) = doc
        .paths
        .paths
        .get_mut("/v2/enqueue")
        .and_then(|item| item.post.as_mut())
    {
        operation.request_body = Some(body.into());
    }
}

/// Refusals that come from the extractors and layers every route shares rather than from
/// its handler, added to each operation they apply to so that no handler's annotation can
/// forget one: 401 where a bearer token is required; 400 (malformed JSON), 413 (over
/// [`BODY_LIMIT`](super::BODY_LIMIT)) and, for the REST API's typed bodies, 415 where a
/// body is taken; 429 with `Retry-After` on the routes limited per integration key.
fn common_refusals(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

    let error = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        // Alert senders authenticate with the key in the path or body; their parser
        // reads any content type, as the tools that send them are not all exact about it.
        let keyed = path.contains("{key}") || path == "/v2/enqueue";
        let typed_body = path.starts_with("/api/v1/") && !keyed;
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, response: ResponseBuilder| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| response.build().into());
            };
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                add(
                    "401",
                    error("no bearer token, or one that is unknown or revoked"),
                );
            }
            let query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
            if query {
                add(
                    "422",
                    error("a query parameter is malformed, out of range or unknown"),
                );
            }
            if operation.request_body.is_some() {
                add("400", error("the body is not well-formed"));
                add("413", error("the body is larger than the limit (1 MiB)"));
                if typed_body {
                    add("415", error("the body is not sent as application/json"));
                }
            }
            if keyed {
                add(
                    "429",
                    error("this integration key sent more than its rate limit ([limits])").header(
                        "Retry-After",
                        utoipa::openapi::header::HeaderBuilder::new()
                            .schema(Some(
                                utoipa::openapi::ObjectBuilder::new()
                                    .schema_type(utoipa::openapi::schema::Type::Integer),
                            ))
                            .description(Some("seconds until the key may send again"))
                            .build(),
                    ),
                );
            }
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(document()) }))
}
