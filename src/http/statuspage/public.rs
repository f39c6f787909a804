//! The public status page, read by anyone without signing in: the HTML page, its history
//! and incident pages ([`html`]), the Statuspage-compatible v2 JSON ([`v2`]), Atom and RSS
//! feeds ([`feeds`]) and the embeddable widget. Nothing here changes state, and nothing
//! internal (incident channels, authors, timelines) is ever shown: only public records,
//! in the words written for customers.
//!
//! Each request first reads the page's version: when anything public last changed
//! (`updated_at`) and how many changes were committed. What depends only on stored records
//! (the JSON, the feeds, the page's 90 days of component history) is kept per store under
//! that version and reused until it moves ([`Kept`]); what depends on
//! the clock too (uptime, the HTML around it) is computed on every request. Clients cache
//! briefly (`Cache-Control`) and revalidate with `ETag` / `Last-Modified`, answered 304
//! when nothing changed.

mod feeds;
mod html;
mod v2;

use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bot_core::model::{
    Component, PublicFilter, PublicIncident, PublicKind, PublicStatus, StatusPageVersion,
};
use bot_core::ops::Core;
use bot_core::statuspage::StatusPageSettings;
use bot_core::store::StoreError;
use bot_core::{CoreSettings, Store};
use chrono::{DateTime, Utc};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{self, CorsLayer};

use crate::http::AppState;

/// How long browsers and proxies may reuse the page, its JSON and feeds before they
/// revalidate: short, so an incident shows within half a minute.
const MAX_AGE: Duration = Duration::from_secs(30);
/// The widget script changes only with a new release.
const WIDGET_MAX_AGE: Duration = Duration::from_secs(300);
/// The most open records (unresolved incidents, upcoming and active maintenance) shown.
const MAX_OPEN: i64 = 100;

pub(super) fn routes() -> Router<AppState> {
    // Read from other origins by widgets, dashboards and feed readers.
    let any_origin = CorsLayer::new()
        .allow_origin(cors::Any)
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers([header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE])
        .expose_headers([header::ETAG, header::LAST_MODIFIED])
        .max_age(Duration::from_secs(86_400));
    let shared = Router::new()
        .route("/status/api/v2/summary.json", get(v2::summary))
        .route("/status/api/v2/status.json", get(v2::status))
        .route("/status/api/v2/components.json", get(v2::components))
        .route("/status/api/v2/incidents.json", get(v2::incidents))
        .route(
            "/status/api/v2/incidents/unresolved.json",
            get(v2::unresolved_incidents),
        )
        .route(
            "/status/api/v2/scheduled-maintenances.json",
            get(v2::maintenances),
        )
        .route(
            "/status/api/v2/scheduled-maintenances/upcoming.json",
            get(v2::upcoming_maintenances),
        )
        .route(
            "/status/api/v2/scheduled-maintenances/active.json",
            get(v2::active_maintenances),
        )
        .route("/status/history.atom", get(feeds::atom))
        .route("/status/history.rss", get(feeds::rss))
        .layer(any_origin);
    Router::new()
        .route("/status", get(html::page))
        .route("/status/", get(html::page))
        .route("/status/history", get(html::history))
        .route("/status/incidents/{id}", get(html::incident))
        .route("/status/widget.js", get(widget))
        .merge(shared)
        // The fastest level: most of the saving (a page of uptime bars is very
        // repetitive) for a fraction of the time.
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .quality(tower_http::CompressionLevel::Fastest),
        )
}

/// The embeddable banner: `<script src="…/status/widget.js" async></script>`.
async fn widget(headers: HeaderMap) -> Response {
    const WIDGET: &str = include_str!("public/widget.js");
    static PREPARED: OnceLock<Prepared> = OnceLock::new();
    PREPARED
        .get_or_init(|| {
            Prepared::new("application/javascript; charset=utf-8", WIDGET.into())
                .max_age(WIDGET_MAX_AGE)
        })
        .respond(&headers)
}

/// The page's public URL without a trailing slash (`https://status.example.com/status`);
/// the path it is served at when none is configured.
fn page_url(settings: &StatusPageSettings) -> String {
    settings.url.clone().unwrap_or_else(|| "/status".to_owned())
}

/// The public URL of one incident's or maintenance's page.
fn incident_url(settings: &StatusPageSettings, id: uuid::Uuid) -> String {
    format!("{}/incidents/{id}", page_url(settings))
}

/// Statuses of records still open: unresolved incidents, upcoming and active maintenance.
const OPEN: [PublicStatus; 6] = [
    PublicStatus::Investigating,
    PublicStatus::Identified,
    PublicStatus::Monitoring,
    PublicStatus::Scheduled,
    PublicStatus::InProgress,
    PublicStatus::Verifying,
];

/// Statuses of records that are over.
const CLOSED: [PublicStatus; 3] = [
    PublicStatus::Resolved,
    PublicStatus::Postmortem,
    PublicStatus::Completed,
];

/// Where the page stands: when anything public last changed, and how many changes were
/// committed. Read before what it dates, so that a change racing a request shows as a newer
/// version on the next one, never as newer data kept under an older version.
async fn version(core: &Core) -> Result<StatusPageVersion, PublicError> {
    Ok(core.store.status_page_version().await?)
}

/// What the page, the summary and the widget show right now.
struct Snapshot {
    settings: Arc<CoreSettings>,
    now: DateTime<Utc>,
    /// When anything public last changed; None when nothing ever has.
    updated_at: Option<DateTime<Utc>>,
    stored: Arc<Stored>,
}

/// The part of a [`Snapshot`] read from the store, kept while nothing changes.
struct Stored {
    /// Every configured component with its state, in display order.
    components: Vec<Component>,
    /// Open records, newest first.
    open: Vec<PublicIncident>,
}

impl Snapshot {
    /// Two reads (after [`version`]), whatever the number of records; none while
    /// nothing changed since they were last made.
    async fn load(core: &Core, version: StatusPageVersion) -> Result<Snapshot, PublicError> {
        let stored = Kept::get_or(core, "open records", version, async || {
            let open_filter = PublicFilter {
                kind: None,
                statuses: OPEN.to_vec(),
                limit: MAX_OPEN,
                offset: 0,
            };
            let (components, open) = tokio::try_join!(
                async { core.status_components().await.map_err(PublicError::from) },
                async {
                    core.store
                        .list_public_incidents(&open_filter)
                        .await
                        .map_err(PublicError::from)
                },
            )?;
            Ok(Stored { components, open })
        })
        .await?;
        Ok(Snapshot {
            settings: core.settings.clone(),
            now: core.clock.now(),
            updated_at: version.updated_at,
            stored,
        })
    }

    fn components(&self) -> &[Component] {
        &self.stored.components
    }

    fn page(&self) -> &StatusPageSettings {
        &self.settings.status_page
    }

    fn overall(&self) -> bot_core::statuspage::page::Overall {
        bot_core::statuspage::page::overall(&self.stored.components, &self.stored.open)
    }

    fn open_incidents(&self) -> impl Iterator<Item = &PublicIncident> {
        self.stored
            .open
            .iter()
            .filter(|r| r.kind == PublicKind::Incident && !r.status.is_closed())
    }

    fn open_maintenance(&self) -> impl Iterator<Item = &PublicIncident> {
        self.stored
            .open
            .iter()
            .filter(|r| r.kind == PublicKind::Maintenance && !r.status.is_closed())
    }
}

/// Values that depend only on stored records, kept per store between requests while the
/// page's version is unchanged. The version counts every committed public change, so a
/// kept value is never older than what the store holds.
struct Kept {
    /// Held weakly: its allocation outlives the store, so no other store can have its
    /// address while this entry exists (tests run many stores in one process).
    store: Weak<dyn Store>,
    key: String,
    version: StatusPageVersion,
    value: Arc<dyn Any + Send + Sync>,
}

static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());
/// Entries kept at most, all stores together.
const KEPT_MAX: usize = 64;

impl Kept {
    fn of(&self, core: &Core) -> bool {
        std::ptr::addr_eq(self.store.as_ptr(), Arc::as_ptr(&core.store))
    }

    /// The value kept for `key` on `core`'s store at `version`, or a new one from `make`
    /// (then kept in place of the one before).
    async fn get_or<T, F>(
        core: &Core,
        key: &str,
        version: StatusPageVersion,
        make: F,
    ) -> Result<Arc<T>, PublicError>
    where
        T: Any + Send + Sync,
        F: AsyncFnOnce() -> Result<T, PublicError>,
    {
        {
            let kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let found = kept
                .iter()
                .find(|k| k.of(core) && k.key == key && k.version == version)
                .and_then(|k| k.value.clone().downcast::<T>().ok());
            if let Some(value) = found {
                return Ok(value);
            }
        }
        let value = Arc::new(make().await?);
        let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.retain(|k| k.store.strong_count() > 0 && !(k.of(core) && k.key == key));
        if kept.len() >= KEPT_MAX {
            kept.remove(0);
        }
        kept.push(Kept {
            store: Arc::downgrade(&core.store),
            key: key.to_owned(),
            version,
            value: value.clone(),
        });
        Ok(value)
    }
}

/// A failure of a public route. HTML routes render it as a page, JSON routes as the API's
/// JSON error.
#[derive(Debug)]
enum PublicError {
    NotFound(String),
    BadRequest(String),
    Internal(String),
}

impl From<StoreError> for PublicError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => PublicError::NotFound(format!("{what} not found")),
            other => PublicError::Internal(other.to_string()),
        }
    }
}

impl From<bot_core::CoreError> for PublicError {
    fn from(e: bot_core::CoreError) -> Self {
        match e {
            bot_core::CoreError::Store(s) => s.into(),
            other => PublicError::Internal(other.to_string()),
        }
    }
}

impl PublicError {
    fn into_api(self) -> crate::http::ApiError {
        match self {
            PublicError::NotFound(m) => crate::http::ApiError::not_found(m),
            PublicError::BadRequest(m) => crate::http::ApiError::bad_request(m),
            PublicError::Internal(detail) => crate::http::ApiError::internal(detail),
        }
    }
}

/// A body to send unless the client already has it: a weak `ETag` over the body (so it
/// is right whatever the body depends on) and, where the body depends only on stored
/// records, `Last-Modified` from the page's last change.
struct Prepared {
    content_type: &'static str,
    body: Bytes,
    etag: String,
    last_modified: Option<DateTime<Utc>>,
    max_age: Duration,
}

impl Prepared {
    fn new(content_type: &'static str, body: String) -> Self {
        // Length and SipHash of the body: quick on a large page, and the same on every
        // replica running the same build.
        use std::hash::{DefaultHasher, Hasher};
        let mut hasher = DefaultHasher::new();
        hasher.write(body.as_bytes());
        Prepared {
            content_type,
            etag: format!("W/\"{:x}-{:016x}\"", body.len(), hasher.finish()),
            body: Bytes::from(body),
            last_modified: None,
            max_age: MAX_AGE,
        }
    }

    fn last_modified(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.last_modified = at;
        self
    }

    fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// 304 when `If-None-Match` names our tag, or (without `If-None-Match`, as RFC 9110
    /// says) when `If-Modified-Since` is at or after the last change; else 200.
    fn respond(&self, request: &HeaderMap) -> Response {
        let fresh = match request.get(header::IF_NONE_MATCH) {
            Some(tags) => tags
                .to_str()
                .is_ok_and(|tags| etag_matches(tags, &self.etag)),
            None => match (request.get(header::IF_MODIFIED_SINCE), self.last_modified) {
                (Some(since), Some(modified)) => since
                    .to_str()
                    .ok()
                    .and_then(|s| DateTime::parse_from_rfc2822(&s.replace("GMT", "+0000")).ok())
                    .is_some_and(|since| modified.timestamp() <= since.timestamp()),
                _ => false,
            },
        };
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut r = self.body.clone().into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
            r
        };
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, v);
        }
        let last_modified = self
            .last_modified
            .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
        if let Some(v) = last_modified.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::LAST_MODIFIED, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={}", self.max_age.as_secs()))
        {
            headers.insert(header::CACHE_CONTROL, v);
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// A document that depends only on stored records, as `key` on `core`'s store: kept
/// until the page's version moves, made by `make` (given the version) when it has.
async fn stored_document<F>(core: &Core, request: &HeaderMap, key: &str, make: F) -> Response
where
    F: AsyncFnOnce(StatusPageVersion) -> Result<Prepared, PublicError>,
{
    let prepared = async {
        let version = version(core).await?;
        Kept::get_or(core, key, version, async || {
            Ok(make(version).await?.last_modified(version.updated_at))
        })
        .await
    }
    .await;
    match prepared {
        Ok(p) => p.respond(request),
        Err(e) => e.into_api().into_response(),
    }
}

/// Whether an `If-None-Match` list names `etag`, compared weakly (RFC 9110 §13.1.2).
fn etag_matches(list: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    list.split(',')
        .any(|t| t.trim() == "*" || opaque(t) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_is_compared_weakly_and_accepts_lists_and_star() {
        let tag = "W/\"abc\"";
        assert!(etag_matches("W/\"abc\"", tag));
        assert!(etag_matches("\"abc\"", tag));
        assert!(etag_matches("\"x\", W/\"abc\"", tag));
        assert!(etag_matches("*", tag));
        assert!(!etag_matches("\"abcd\"", tag));
    }

    #[test]
    fn if_modified_since_at_or_after_the_change_is_fresh() {
        let modified = DateTime::parse_from_rfc3339("2026-11-24T03:00:00.900Z")
            .unwrap()
            .with_timezone(&Utc);
        let ask = |since: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::IF_MODIFIED_SINCE,
                HeaderValue::from_str(since).unwrap(),
            );
            Prepared::new("text/plain", "x".into())
                .last_modified(Some(modified))
                .respond(&h)
                .status()
        };
        assert_eq!(
            ask("Tue, 24 Nov 2026 03:00:00 GMT"),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(ask("Tue, 24 Nov 2026 02:59:59 GMT"), StatusCode::OK);
        assert_eq!(ask("not a date"), StatusCode::OK);
    }
}
