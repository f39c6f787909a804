//! Issue trackers for postmortem action items: the core's
//! [`TicketTracker`](bot_core::postmortem::action_items::TicketTracker) port for GitHub
//! issues ([`github`], through octocrab) and Jira Cloud issues ([`jira`], REST v3 through
//! reqwest), and the inbound side of GitHub's `issues` webhook ([`webhook`]: signature
//! check and the events that move an item).
//!
//! Both trackers sort answers the same way for the job runner: a refusal a retry cannot
//! mend (GitHub 422, Jira 400, bad credentials, a missing project) is
//! [`TicketError::Refused`](bot_core::postmortem::action_items::TicketError::Refused) with
//! the tracker's own message; 5xx, 429 and connection errors are `Unavailable`, with the
//! tracker's `Retry-After` when it sends one.
//!
//! This module knows the trackers' wire formats and nothing of chat or who may add items.

pub mod github;
pub mod jira;
pub mod webhook;

use std::time::Duration;

/// Connecting to a tracker, and a whole request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `Retry-After` in seconds (both trackers send seconds; an HTTP date is rare enough to be
/// left to the job's own backoff).
fn retry_after_secs(value: Option<&str>) -> Option<Duration> {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

use std::collections::HashMap;
use std::sync::Arc;

use bot_core::model::Tracker;
use bot_core::postmortem::action_items::{TicketTracker, TrackerSettings};

/// The trackers the settings configure and the environment has credentials for: GitHub
/// with `GITHUB_TOKEN` (at `TOCSIN_GITHUB_API_URL`), Jira with the API token in its
/// `token_env`. A configured tracker without credentials is left out with a warning; its
/// items are then marked failed with a message saying what to set. A credential that
/// cannot be used (a malformed URL or token) is an error, so it shows at startup.
pub fn from_env(
    settings: &TrackerSettings,
) -> Result<HashMap<Tracker, Arc<dyn TicketTracker>>, String> {
    let mut trackers: HashMap<Tracker, Arc<dyn TicketTracker>> = HashMap::new();
    if !settings.github_repos.is_empty() {
        match github::GithubIssues::from_env().map_err(|e| e.to_string())? {
            Some(client) => {
                trackers.insert(Tracker::Github, Arc::new(client));
            }
            None => tracing::warn!(
                variable = crate::github::TOKEN_ENV,
                "[trackers.github] is configured but GITHUB_TOKEN is not set: action items cannot be filed as GitHub issues"
            ),
        }
    }
    if let Some(site) = &settings.jira_site {
        match std::env::var(&site.token_env) {
            Ok(token) if !token.trim().is_empty() => {
                let client = jira::JiraIssues::new(jira::JiraSettings {
                    base_url: site.base_url.clone(),
                    email: site.email.clone(),
                    api_token: token.trim().to_owned(),
                    issue_type: site.issue_type.clone(),
                })
                .map_err(|e| e.to_string())?;
                trackers.insert(Tracker::Jira, Arc::new(client));
            }
            _ => tracing::warn!(
                variable = %site.token_env,
                "[trackers.jira] is configured but its API token variable is not set: action items cannot be filed as Jira issues"
            ),
        }
    }
    Ok(trackers)
}
