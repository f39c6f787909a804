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
    doc
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(document()) }))
}
