//! (being written)

use axum::Router;

use crate::http::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
