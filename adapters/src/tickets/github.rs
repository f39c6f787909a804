//! Action items as GitHub issues: `POST /repos/{owner}/{repo}/issues` with the labels
//! `incident` and `postmortem` and a Markdown body giving the incident's context.
//!
//! The client is built as the GitHub adapter builds its own (`GITHUB_TOKEN`,
//! `TOCSIN_GITHUB_API_URL`, octocrab with its retry layer off): creating an issue is a
//! POST, and a POST that may have reached GitHub is never repeated here; the durable job
//! decides when to try again.

use std::fmt;

use async_trait::async_trait;
use bot_core::model::ActionItem;
use bot_core::postmortem::action_items::{FiledTicket, TicketContext, TicketError, TicketTracker};
use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use reqwest::Url;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde_json::json;

use super::{CONNECT_TIMEOUT, REQUEST_TIMEOUT, retry_after_secs};
use crate::github::{API_URL_ENV, DEFAULT_API_URL, TOKEN_ENV, error_message, segment};

/// GitHub issues, with one token.
#[derive(Clone)]
pub struct GithubIssues {
    octocrab: Octocrab,
    /// Path of the REST API under the origin: empty for api.github.com, `/api/v3` on
    /// GitHub Enterprise Server.
    rest_prefix: String,
}

impl fmt::Debug for GithubIssues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubIssues")
            .field("rest_prefix", &self.rest_prefix)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(String);

impl GithubIssues {
    /// A client for `base_url` (default api.github.com). Must be called inside the Tokio
    /// runtime that will use it (octocrab spawns its worker there).
    pub fn new(token: &str, base_url: Option<&str>) -> Result<Self, SetupError> {
        let token = token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SetupError(format!(
                "{TOKEN_ENV} must be a non-empty token without spaces or control characters"
            )));
        }
        let api_url = base_url
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_API_URL);
        let url = Url::parse(api_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                SetupError(format!("{API_URL_ENV} `{api_url}` is not an http(s) URL"))
            })?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SetupError(
                "the GitHub client must be built inside a Tokio runtime".into(),
            ));
        }
        let octocrab = Octocrab::builder()
            .personal_token(token.to_owned())
            .base_uri(url.origin().ascii_serialization())
            .map_err(|e| SetupError(format!("{API_URL_ENV} `{api_url}`: {e}")))?
            .add_header(ACCEPT, "application/vnd.github+json".to_owned())
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(REQUEST_TIMEOUT))
            .set_write_timeout(Some(REQUEST_TIMEOUT))
            .build()
            .map_err(|e| SetupError(format!("building the GitHub client: {e}")))?;
        Ok(GithubIssues {
            octocrab,
            rest_prefix: url.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The client `GITHUB_TOKEN` and `TOCSIN_GITHUB_API_URL` configure; None without a
    /// token.
    pub fn from_env() -> Result<Option<Self>, SetupError> {
        match std::env::var(TOKEN_ENV) {
            Ok(token) if !token.trim().is_empty() => {
                let base = std::env::var(API_URL_ENV).ok();
                Self::new(&token, base.as_deref()).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// The issue as GitHub answers its creation (the fields we keep).
#[derive(Deserialize)]
struct CreatedIssue {
    number: u64,
    html_url: String,
    state: Option<String>,
    /// `https://api.github.com/repos/{owner}/{repo}`: GitHub's own spelling of the
    /// repository, which its webhooks use too.
    repository_url: Option<String>,
}

/// The Markdown body of the issue.
pub fn issue_body(context: &TicketContext) -> String {
    let mut body = format!("{}\n\n", context.intro());
    for (label, value) in context.facts() {
        body.push_str(&format!("- **{label}:** {value}\n"));
    }
    body.push_str(&format!(
        "\nPostmortem: {}\n\n_Filed by Tocsin: closing this issue marks the action item done._\n",
        context.link
    ));
    body
}

/// `owner/repo` from an API repository URL, if it has that shape.
fn repository_of(url: &str) -> Option<String> {
    let path = url.split("/repos/").nth(1)?;
    let mut parts = path.trim_end_matches('/').split('/');
    let (owner, repo) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !owner.is_empty() && !repo.is_empty())
        .then(|| format!("{owner}/{repo}"))
}

#[async_trait]
impl TicketTracker for GithubIssues {
    async fn file(
        &self,
        item: &ActionItem,
        context: &TicketContext,
    ) -> Result<FiledTicket, TicketError> {
        let target = item.target.as_deref().unwrap_or_default();
        let Some((owner, repo)) = target.split_once('/') else {
            return Err(TicketError::Refused(format!(
                "`{target}` is not a GitHub repository (owner/repo)"
            )));
        };
        let uri = format!(
            "{}/repos/{}/{}/issues",
            self.rest_prefix,
            segment(owner),
            segment(repo)
        );
        let payload = json!({
            "title": item.title,
            "body": issue_body(context),
            "labels": context.labels,
        });
        let request = async {
            let response = self.octocrab._post(uri.as_str(), Some(&payload)).await?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let remaining = response
                .headers()
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = self.octocrab.body_to_string(response).await?;
            Ok::<_, octocrab::Error>((status, retry_after, remaining, body))
        };
        let (status, retry_after, remaining, body) =
            match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => {
                    return Err(TicketError::Unavailable {
                        message: format!("could not reach GitHub: {e}"),
                        retry_after: None,
                    });
                }
                Err(_) => {
                    return Err(TicketError::Unavailable {
                        message: format!(
                            "GitHub did not answer within {} s",
                            REQUEST_TIMEOUT.as_secs()
                        ),
                        retry_after: None,
                    });
                }
            };
        let message = || error_message(status, &body);
        match status {
            200..=299 => {
                let issue: CreatedIssue =
                    serde_json::from_str(&body).map_err(|e| TicketError::Unavailable {
                        message: format!("GitHub's answer is not an issue: {e}"),
                        retry_after: None,
                    })?;
                let repository = issue
                    .repository_url
                    .as_deref()
                    .and_then(repository_of)
                    .unwrap_or_else(|| target.to_owned());
                Ok(FiledTicket {
                    key: format!("{repository}#{}", issue.number),
                    url: issue.html_url,
                    state: issue.state,
                })
            }
            // A rate limit (429, or 403 with no requests left or a delay named).
            429 => Err(TicketError::Unavailable {
                message: format!("GitHub rate limit: {}", message()),
                retry_after: retry_after_secs(retry_after.as_deref()),
            }),
            403 if retry_after.is_some() || remaining.as_deref() == Some("0") => {
                Err(TicketError::Unavailable {
                    message: format!("GitHub rate limit: {}", message()),
                    retry_after: retry_after_secs(retry_after.as_deref()),
                })
            }
            400..=499 => Err(TicketError::Refused(format!(
                "GitHub refused the issue in {target} (HTTP {status}): {}",
                message()
            ))),
            _ => Err(TicketError::Unavailable {
                message: format!("GitHub answered HTTP {status}: {}", message()),
                retry_after: retry_after_secs(retry_after.as_deref()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_comes_from_the_api_url() {
        assert_eq!(
            repository_of("https://api.github.com/repos/octocat/Hello-World").as_deref(),
            Some("octocat/Hello-World")
        );
        assert_eq!(
            repository_of("https://ghe.example/api/v3/repos/a/b/").as_deref(),
            Some("a/b")
        );
        assert_eq!(repository_of("https://api.github.com/users/octocat"), None);
    }

    #[test]
    fn validation_errors_keep_their_details() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"}]}"#;
        assert_eq!(
            error_message(422, body),
            "Validation Failed: title missing_field"
        );
        assert_eq!(error_message(502, ""), "HTTP 502");
    }
}
