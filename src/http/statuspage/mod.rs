//! The public status page and its API: the HTML page, the Statuspage-compatible JSON,
//! feeds and widget ([`public`]); subscribing by e-mail ([`subscribe`]); and the admin
//! REST API under `/api/v1/statuspage` ([`api`]).

use axum::Router;

use super::AppState;

// Visible to `openapi`, which documents its routes.
pub(super) mod api;
mod public;
mod subscribe;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(public::routes())
        .merge(subscribe::routes())
        .merge(api::routes())
}
