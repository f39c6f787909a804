//! HTTP wiring: one router for the REST API, health, readiness and metrics, with request
//! ids, tracing spans, a body limit and timeouts on every route, and a per-key rate limit
//! on inbound alerts and heartbeats.

mod ack;
mod action_items;
mod api;
mod discord;
mod error;
mod extract;
mod github;
mod ingest;
mod limits;
mod oncall;
mod openapi;
mod ops;
mod postmortem;
mod reports;
mod slack;
mod statuspage;
mod teams;
mod twilio;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use bot_core::ops::Core;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use discord::DiscordInbound;
pub use error::ApiError;
pub use extract::parse_json;
pub use limits::InboundLimits;
pub use openapi::document as openapi_document;
pub use slack::{Redelivery, SlackHandler, SlackInbound};
pub use teams::TeamsInbound;
pub use twilio::TwilioInbound;

/// Largest request body accepted on any route.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// A request still running after this is answered 408 and dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub metrics: PrometheusHandle,
    /// Set when Twilio is configured: the inbound SMS and voice routes need it.
    pub twilio: Option<TwilioInbound>,
    /// Set when Slack is configured (`SLACK_SIGNING_SECRET`): the `/slack/…` routes need it.
    pub slack: Option<Arc<SlackInbound>>,
    /// Set when Discord is configured (`DISCORD_PUBLIC_KEY`): `/discord/interactions` needs it.
    pub discord: Option<Arc<DiscordInbound>>,
    /// Set when Microsoft Teams is configured (`MicrosoftAppId`): `/teams/messages` needs it.
    pub teams: Option<Arc<TeamsInbound>>,
    /// The per-integration-key rate limit on inbound alerts and heartbeats (`[limits]`).
    pub inbound_limits: Arc<InboundLimits>,
}

impl AppState {
    pub fn new(core: Core) -> Self {
        AppState {
            core,
            metrics: metrics_recorder(),
            twilio: None,
            slack: None,
            discord: None,
            teams: None,
            inbound_limits: Arc::default(),
        }
    }

    pub fn with_limits(self, limits: crate::config::LimitsConfig) -> Self {
        self.with_inbound_limits(InboundLimits::new(limits))
    }

    pub fn with_inbound_limits(mut self, limits: InboundLimits) -> Self {
        self.inbound_limits = Arc::new(limits);
        self
    }

    pub fn with_twilio(mut self, twilio: Option<TwilioInbound>) -> Self {
        self.twilio = twilio;
        self
    }

    pub fn with_slack(mut self, slack: Option<SlackInbound>) -> Self {
        self.slack = slack.map(Arc::new);
        self
    }

    pub fn with_discord(mut self, discord: Option<DiscordInbound>) -> Self {
        self.discord = discord.map(Arc::new);
        self
    }

    pub fn with_teams(mut self, teams: Option<TeamsInbound>) -> Self {
        self.teams = teams.map(Arc::new);
        self
    }
}

/// A chat command on its own task, so it finishes even when the platform stops waiting
/// for the answer; the delivery `key` is recorded once handled, so one that failed
/// half-way is redone on a retry.
fn spawn_handled(
    core: &Core,
    invocation: commands::Invocation,
    key: Option<String>,
) -> tokio::task::JoinHandle<commands::Reply> {
    let core = core.clone();
    tokio::spawn(async move {
        let reply = commands::handle(&core, &invocation).await;
        if let Some(key) = key {
            match core.store.record_delivery(&key, core.clock.now()).await {
                Ok(true) => {}
                Ok(false) => tracing::info!(key, "a chat delivery was handled twice"),
                Err(e) => tracing::error!(key, error = %e, "could not record a chat delivery"),
            }
        }
        reply
    })
}

/// The process-wide Prometheus recorder, installed on first use (tests build many routers
/// in one process; there can be only one global recorder).
pub fn metrics_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("the bucket list is not empty")
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        bot_core::reports::TIME_TO_ACK.to_owned(),
                    ),
                    bot_core::reports::DURATION_BUCKETS,
                )
                .expect("the bucket list is not empty")
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        bot_core::reports::TIME_TO_RESOLVE.to_owned(),
                    ),
                    bot_core::reports::DURATION_BUCKETS,
                )
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours just stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api::routes())
        .merge(ack::routes())
        .merge(ingest::routes().route_layer(middleware::from_fn_with_state(
            state.inbound_limits.clone(),
            limits::limit_inbound,
        )))
        .merge(oncall::routes())
        .merge(twilio::routes())
        .merge(slack::routes())
        .merge(discord::routes())
        .merge(teams::routes())
        .merge(statuspage::routes())
        .merge(postmortem::routes())
        .merge(github::routes())
        .merge(action_items::routes())
        .merge(reports::routes())
        .merge(ops::routes())
        .merge(openapi::routes())
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Also on routes whose handlers never read the body, and before any handler runs
        // when Content-Length already says too much.
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::map_response(limits::json_payload_too_large))
        .layer(middleware::from_fn(record_metrics))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            // The route template, never the raw path: integration and heartbeat keys are
            // part of their paths, and secrets stay out of logs.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", |p| p.as_str());
                tracing::info_span!("http", method = %req.method(), route, request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Counts requests by route template (not raw path, which would explode the label set),
/// method and status, and observes their duration.
async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("tocsin_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("tocsin_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests end.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address, for per-client rate limits (the status page's subscribe form).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
