//! Subscribing to the status page by e-mail, with double opt-in:
//!
//! - `POST /status/subscribe` (the page's form, `application/x-www-form-urlencoded`, or
//!   JSON): `email` and optional `components` (repeated form fields, or commas). A bad
//!   address is a 422 saying why; anything else is the same 202 "check your inbox", whether
//!   the address was new, waiting for confirmation (the link is sent again) or confirmed
//!   already (nothing is sent), so the form cannot tell anyone who is subscribed.
//! - `GET /status/subscriptions/{id}/confirm?token=…`: confirms, shows "subscribed".
//! - `GET /status/subscriptions/{id}/unsubscribe?token=…`: a page with a button, so that a
//!   mail scanner following links unsubscribes nobody; `POST` to the same URL unsubscribes
//!   (the button, and RFC 8058 one-click from mail clients).
//!
//! A wrong id or token is a plain 404 that does not say which was wrong.
//!
//! # Rate limits
//!
//! Every route here is limited per client: 10 requests at once, then one every 6 seconds,
//! answered `429` with `Retry-After`. The client is the TCP peer, unless the peer is on this
//! host or a private network (a reverse proxy in front of Tocsin): then it is the last
//! address of `X-Forwarded-For`, the one that proxy appended (a client cannot forge it; it
//! can only write addresses before it). Without either, every client shares one larger
//! bucket. What protects mailboxes whatever the headers say is a
//! second, silent limit per address: an address gets at most 3 confirmation mails, then one
//! per 10 minutes (the answer stays the same 202). IPv6 clients are counted by their /64.
//! The limits live in each process's memory and use wall-clock time, not the `Clock` port:
//! they protect this process, not the data.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use bot_core::CoreError;
use bot_core::statuspage::subscribers::{TokenPurpose, normalize_email};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use uuid::Uuid;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::parse_json;

/// What a subscribe request gets unless its address is malformed.
pub const CHECK_INBOX: &str = "Thanks! If this address is not subscribed yet, a mail with a \
    confirmation link is on its way: check your inbox.";

pub(super) fn routes() -> Router<AppState> {
    let limits = Arc::new(Limits::new());
    Router::new()
        .route("/status/subscribe", post(subscribe))
        .route("/status/subscriptions/{id}/confirm", get(confirm))
        .route(
            "/status/subscriptions/{id}/unsubscribe",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route_layer(middleware::from_fn_with_state(limits.clone(), rate_limit))
        .layer(Extension(limits))
}

// ---------------------------------------------------------------------------------------
// Rate limits

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).expect("a positive constant")
}

/// A keyed limiter forgets idle keys once it holds this many.
const MAX_KEYS: usize = 10_000;

struct Limits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    shared: DefaultDirectRateLimiter,
    per_address: DefaultKeyedRateLimiter<String>,
    seen: AtomicU64,
}

impl Limits {
    fn new() -> Self {
        let every = |d: Duration| Quota::with_period(d).expect("a positive period");
        Limits {
            per_client: RateLimiter::keyed(every(Duration::from_secs(6)).allow_burst(n(10))),
            shared: RateLimiter::direct(every(Duration::from_secs(1)).allow_burst(n(60))),
            per_address: RateLimiter::keyed(every(Duration::from_secs(600)).allow_burst(n(3))),
            seen: AtomicU64::new(0),
        }
    }

    /// Whether `client` may make a request now; if not, how long until it may.
    fn check(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        let outcome = match client {
            Some(ip) => self.per_client.check_key(&ip),
            None => self.shared.check(),
        };
        if self
            .seen
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(1024)
            && self.per_client.len() > MAX_KEYS
        {
            self.per_client.retain_recent();
            self.per_client.shrink_to_fit();
        }
        outcome.map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Whether another confirmation mail may go to `address` now.
    fn mail_allowed(&self, address: &str) -> bool {
        let allowed = self.per_address.check_key(&address.to_owned()).is_ok();
        if self.per_address.len() > MAX_KEYS {
            self.per_address.retain_recent();
            self.per_address.shrink_to_fit();
        }
        allowed
    }
}

/// Who is asking, as far as can be told (see the module documentation).
fn client_of(req: &Request) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    // A peer on this host or a private network is a reverse proxy in front of Tocsin: the
    // client is the address it appended last. A public peer is the client itself, whatever
    // it wrote into the header.
    let behind_proxy = peer.is_none_or(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local(),
    });
    let forwarded = behind_proxy
        .then(|| req.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .and_then(|last| {
            last.parse::<IpAddr>()
                .or_else(|_| last.parse::<SocketAddr>().map(|s| s.ip()))
                .ok()
        });
    forwarded.or(peer).map(bucket)
}

/// One bucket per IPv4 address, and per /64 for IPv6 (what one subscriber line gets).
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

async fn rate_limit(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let client = client_of(&req);
    match limits.check(client) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let seconds = seconds.max(1);
            let message = format!("too many requests; try again in {seconds} s");
            let mut response = if wants_html(req.headers()) {
                page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    &format!("<p>{}</p>", escape(&message)),
                )
            } else {
                error_json(StatusCode::TOO_MANY_REQUESTS, "rate_limited", &message)
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

/// The API's error shape, for a code `ApiError` has no name for.
fn error_json(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "code": code, "message": message, "field": null } })),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------
// Pages

/// Text for an HTML page.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn wants_html(headers: &HeaderMap) -> bool {
    let is = |name, what: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains(what))
    };
    is(header::ACCEPT, "text/html") || is(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

/// A small page of the status page's own: these are opened from mail, by anyone. The
/// links carry tokens, so the page sends no referrer, is never cached, and cannot be
/// framed (its button must not be clicked through another site).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem\">\
         <h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

fn back_link(state: &AppState) -> String {
    let settings = &state.core.settings.status_page;
    format!(
        "<p><a href=\"{}\">Back to {}</a></p>",
        escape(settings.url.as_deref().unwrap_or("/status")),
        escape(&settings.name)
    )
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Link not valid",
        "<p>This link is not valid. Copy it from the mail again, in full.</p>",
    )
}

// ---------------------------------------------------------------------------------------
// Subscribe

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeJson {
    email: String,
    #[serde(default)]
    components: Vec<String>,
}

/// The request as either body gives it.
struct Subscribe {
    email: String,
    components: Vec<String>,
    html: bool,
}

impl Subscribe {
    async fn read(req: Request, state: &AppState) -> Result<Subscribe, Response> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if content_type == "application/x-www-form-urlencoded" {
            let Form(fields) = Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .map_err(|e| {
                    page(
                        StatusCode::BAD_REQUEST,
                        "Not subscribed",
                        &format!("<p>{}</p>", escape(&e.body_text())),
                    )
                })?;
            let mut email = String::new();
            let mut components = Vec::new();
            for (name, value) in fields {
                match name.as_str() {
                    "email" => email = value,
                    "components" | "components[]" | "component" => components.extend(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|c| !c.is_empty())
                            .map(str::to_owned),
                    ),
                    // The form's button and anything a page template adds.
                    _ => {}
                }
            }
            return Ok(Subscribe {
                email,
                components,
                html: true,
            });
        }
        if content_type == "application/json" || content_type.ends_with("+json") {
            let bytes = axum::body::Bytes::from_request(req, state).await;
            let bytes = crate::http::extract::body(bytes).map_err(IntoResponse::into_response)?;
            let body: SubscribeJson = parse_json(&bytes).map_err(IntoResponse::into_response)?;
            return Ok(Subscribe {
                email: body.email,
                components: body.components,
                html: false,
            });
        }
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the form (application/x-www-form-urlencoded) or JSON with `email`",
        )
        .into_response())
    }
}

async fn subscribe(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    req: Request,
) -> Response {
    let request = match Subscribe::read(req, &state).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let html = request.html;
    let refuse = |e: CoreError| -> Response {
        match e {
            CoreError::Invalid(invalid) if html => page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not subscribed",
                &format!("<p>{}</p>{}", escape(&invalid.message), back_link(&state)),
            ),
            other => ApiError::from(other).into_response(),
        }
    };
    // Checked before the silent per-address limit, so that a typo is told every time.
    let address = match normalize_email(&request.email) {
        Ok(a) => a,
        Err(e) => return refuse(e),
    };
    if let Err(e) = state.core.known_components(&request.components) {
        return refuse(e);
    }
    if limits.mail_allowed(&address) {
        if let Err(e) = state
            .core
            .subscribe_email(&address, request.components)
            .await
        {
            return refuse(e);
        }
    } else {
        tracing::info!("confirmation mail to one address limited; answered as usual");
    }
    if html {
        page(
            StatusCode::ACCEPTED,
            "Check your inbox",
            &format!("<p>{}</p>{}", escape(CHECK_INBOX), back_link(&state)),
        )
    } else {
        (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "message": CHECK_INBOX })),
        )
            .into_response()
    }
}

// ---------------------------------------------------------------------------------------
// Confirm and unsubscribe

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The id and token of a link; None for one that cannot be right.
fn link(
    id: &str,
    query: Result<axum::extract::Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Option<(Uuid, String)> {
    let id = id.parse::<Uuid>().ok()?;
    let token = query.ok()?.0.token.filter(|t| !t.is_empty())?;
    Some((id, token))
}

/// A core failure on a link: NotFound (wrong token, unknown id) is the plain 404.
fn link_error(e: CoreError) -> Response {
    match e {
        CoreError::Store(bot_core::StoreError::NotFound(_)) => not_found(),
        other => ApiError::from(other).into_response(),
    }
}

async fn confirm(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some((id, token)) = link(&id, query) else {
        return not_found();
    };
    match state.core.confirm_subscription(id, &token).await {
        Ok(subscriber) => page(
            StatusCode::OK,
            "Subscribed",
            &format!(
                "<p>{} will now receive {} updates.</p>{}",
                escape(&subscriber.target),
                escape(&state.core.settings.status_page.name),
                back_link(&state)
            ),
        ),
        Err(e) => link_error(e),
    }
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some((id, token)) = link(&id, query) else {
        return not_found();
    };
    let name = escape(&state.core.settings.status_page.name);
    match state
        .core
        .subscription(id, TokenPurpose::Unsubscribe, &token)
        .await
    {
        Ok(Some(subscriber)) => page(
            StatusCode::OK,
            "Unsubscribe",
            // No `action`: the form posts to this very URL, token included.
            &format!(
                "<p>Stop sending {name} updates to {}?</p>\
                 <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" \
                 value=\"One-Click\"><button type=\"submit\" \
                 style=\"font-size:1.2rem;padding:.5rem 1rem\">Unsubscribe</button></form>",
                escape(&subscriber.target)
            ),
        ),
        Ok(None) => unsubscribed(&state),
        Err(e) => link_error(e),
    }
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some((id, token)) = link(&id, query) else {
        return not_found();
    };
    match state.core.unsubscribe(id, &token).await {
        Ok(_) => unsubscribed(&state),
        Err(e) => link_error(e),
    }
}

fn unsubscribed(state: &AppState) -> Response {
    page(
        StatusCode::OK,
        "Unsubscribed",
        &format!(
            "<p>You will receive no more {} updates.</p>{}",
            escape(&state.core.settings.status_page.name),
            back_link(state)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().uri("/status/subscribe");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn the_client_is_a_public_peer_or_what_a_proxy_in_front_appended() {
        let peer = |req: &mut Request, ip: [u8; 4]| {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::from((ip, 4711))));
        };
        // A public peer is the client, whatever it forwards.
        let mut req = request(&[("x-forwarded-for", "203.0.113.7")]);
        peer(&mut req, [198, 51, 100, 2]);
        assert_eq!(client_of(&req), Some("198.51.100.2".parse().unwrap()));
        // Behind a proxy on a private network: the address the proxy appended, not one
        // the client wrote before it.
        let mut req = request(&[("x-forwarded-for", "192.0.2.66, 203.0.113.7")]);
        peer(&mut req, [10, 0, 0, 1]);
        assert_eq!(client_of(&req), Some("203.0.113.7".parse().unwrap()));
        let mut req = request(&[]);
        peer(&mut req, [127, 0, 0, 1]);
        assert_eq!(client_of(&req), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(client_of(&request(&[])), None);
        assert_eq!(client_of(&request(&[("x-forwarded-for", "unknown")])), None);
        assert_eq!(
            client_of(&request(&[("x-forwarded-for", "[2001:db8::1]:443")])),
            Some("2001:db8::".parse().unwrap())
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_and_mapped_ipv4_is_ipv4() {
        let a = bucket("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = bucket("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, bucket("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            bucket("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_client_gets_ten_requests_then_waits_others_do_not() {
        let limits = Limits::new();
        let me = Some("192.0.2.1".parse().unwrap());
        for _ in 0..10 {
            assert!(limits.check(me).is_ok());
        }
        let wait = limits.check(me).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        assert!(limits.check(Some("192.0.2.2".parse().unwrap())).is_ok());
        assert!(limits.check(None).is_ok());
    }

    #[test]
    fn an_address_gets_three_confirmations_then_silence() {
        let limits = Limits::new();
        for _ in 0..3 {
            assert!(limits.mail_allowed("a@example.com"));
        }
        assert!(!limits.mail_allowed("a@example.com"));
        assert!(limits.mail_allowed("b@example.com"));
    }

    #[test]
    fn pages_escape_text_and_forbid_framing_and_referrers() {
        let response = page(StatusCode::OK, "<b>&", "<p>x</p>");
        let headers = response.headers();
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
