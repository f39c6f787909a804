//! `http` actions: one request built from the action's templates, answered with the status
//! line and the (redacted, cut) response body.

use std::error::Error as _;

use bot_core::actions::{
    ActionError, ActionOutput, Args, HttpAction, MAX_OUTPUT, redact, truncate,
};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect::{Attempt, Policy};
use reqwest::{Method, Url};

use super::template::{self, Context, EnvLookup, Values};
use super::{READ_CAP, human};

/// More redirects than this, even within one origin, is a loop.
const MAX_REDIRECTS: usize = 5;

pub(super) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
        .redirect(Policy::custom(same_origin))
        .build()
}

/// Follows a redirect only to the origin the request was sent to: an action's headers hold
/// credentials for that host, and a redirect is not the operator's choice of where to go.
/// A redirect not followed comes back as the action's answer (`HTTP 302 Found`, not ok).
fn same_origin(attempt: Attempt) -> reqwest::redirect::Action {
    let Some(first) = attempt.previous().first() else {
        return attempt.stop();
    };
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error("too many redirects");
    }
    let next = attempt.url();
    if next.origin() == first.origin() {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

pub(super) async fn run(
    client: &reqwest::Client,
    env: &EnvLookup,
    action: &HttpAction,
    args: &Args,
) -> Result<ActionOutput, ActionError> {
    let mut values = Values::new(args, env);
    let method =
        Method::from_bytes(action.method.trim().to_ascii_uppercase().as_bytes()).map_err(|_| {
            ActionError::NotConfigured(format!("`{}` is not an HTTP method", action.method))
        })?;

    let url = values.render(&action.url, Context::Url, "the URL")?;
    template::check_no_dot_segments(&url)?;
    // The parser's message never holds the URL, which may hold a secret.
    let url = Url::parse(&url)
        .map_err(|e| ActionError::NotConfigured(format!("the URL is not valid: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ActionError::NotConfigured(format!(
            "the URL must be http or https, not {}",
            url.scheme()
        )));
    }

    let mut headers = HeaderMap::new();
    for (name, value) in &action.headers {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ActionError::NotConfigured(format!("`{name}` is not a header name")))?;
        let what = format!("header {name}");
        let value = values.render(value, Context::Header, &what)?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            ActionError::NotConfigured(format!("{what} holds a character a header cannot carry"))
        })?;
        value.set_sensitive(true);
        headers.append(name, value);
    }

    let json = action.body.as_deref().is_some_and(template::is_json_body)
        || headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let body = match &action.body {
        Some(body) => {
            let context = if json {
                Context::JsonBody
            } else {
                Context::Raw
            };
            Some(values.render(body, context, "the body")?)
        }
        None => None,
    };
    if json && body.is_some() && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }

    let secrets = values.redactions();
    tracing::debug!(%method, host = url.host_str().unwrap_or(""), "sending the action's request");
    let mut request = client.request(method, url).headers(headers);
    if let Some(body) = body {
        request = request.body(body);
    }
    let exchange = async {
        let mut response = request.send().await?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            let room = READ_CAP - bytes.len();
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if bytes.len() == READ_CAP {
                break;
            }
        }
        Ok::<_, reqwest::Error>((status, bytes))
    };
    let (status, bytes) = match tokio::time::timeout(action.timeout, exchange).await {
        Err(_) => {
            return Err(ActionError::Unavailable(format!(
                "no answer within {}",
                human(action.timeout)
            )));
        }
        Ok(Err(e)) => return Err(ActionError::Unavailable(redact(&causes(e), &secrets))),
        Ok(Ok(answer)) => answer,
    };

    let summary = match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    let text = String::from_utf8_lossy(&bytes);
    Ok(ActionOutput {
        ok: status.is_success(),
        summary,
        // Redacted before the cut, so that a secret cut in half cannot slip through.
        detail: truncate(&redact(&text, &secrets), MAX_OUTPUT),
        link: None,
    })
}

/// An error and its sources on one line, without the URL (it may hold a secret), skipping
/// a source its parent already printed.
fn causes(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}
