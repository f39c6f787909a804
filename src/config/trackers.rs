//! `[trackers]`: where postmortem action items are filed as tickets (GitHub issues, Jira
//! Cloud issues), and which repositories and projects are allowed.
//!
//! ```toml
//! [trackers]
//! default = "github"
//! [trackers.github]
//! repos = ["acme/api", "acme/web"]
//! [trackers.jira]
//! base_url = "https://acme.atlassian.net"
//! email = "tocsin@acme.example"
//! projects = ["OPS"]
//! ```
//!
//! Credentials come from the environment: `GITHUB_TOKEN` for GitHub (as for actions), the
//! Jira API token from `token_env` (default `JIRA_API_TOKEN`).

use bot_core::model::Tracker;
use bot_core::postmortem::action_items::{JiraSite, TrackerSettings, WebhookSecret};
use serde::Deserialize;

use super::{Checker, KeyPath, Part};

/// The environment variable holding the secret of GitHub's webhook (`POST
/// /github/webhooks`), as entered in the repository's webhook settings.
pub const WEBHOOK_SECRET_ENV: &str = "GITHUB_WEBHOOK_SECRET";

/// `[trackers]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TrackersConfig {
    /// The tracker used when a command names none; absent: items stay in Tocsin unless a
    /// command names a tracker.
    pub default: Option<Tracker>,
    pub github: Option<GithubTrackerConfig>,
    pub jira: Option<JiraTrackerConfig>,
}

/// `[trackers.github]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GithubTrackerConfig {
    /// `owner/repo` where issues may be opened; the first is the default.
    pub repos: Vec<String>,
}

/// `[trackers.jira]`: a Jira Cloud site.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JiraTrackerConfig {
    /// The site, `https://acme.atlassian.net`.
    pub base_url: String,
    /// The account the API token belongs to.
    pub email: String,
    /// The environment variable holding the API token.
    #[serde(default = "default_jira_token_env")]
    pub token_env: String,
    /// Project keys issues may be created in; the first is the default.
    #[serde(default)]
    pub projects: Vec<String>,
    /// The issue type of new issues.
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
}

fn default_jira_token_env() -> String {
    "JIRA_API_TOKEN".into()
}

fn default_issue_type() -> String {
    "Task".into()
}

impl TrackersConfig {
    /// The core's settings, with the webhook secret from `GITHUB_WEBHOOK_SECRET`.
    pub fn settings(&self) -> TrackerSettings {
        TrackerSettings {
            github_repos: self
                .github
                .as_ref()
                .map(|g| g.repos.clone())
                .unwrap_or_default(),
            jira_projects: self
                .jira
                .as_ref()
                .map(|j| j.projects.clone())
                .unwrap_or_default(),
            default: self.default,
            jira_site: self.jira.as_ref().map(|j| JiraSite {
                base_url: j.base_url.trim().trim_end_matches('/').to_owned(),
                email: j.email.trim().to_owned(),
                token_env: j.token_env.trim().to_owned(),
                issue_type: j.issue_type.trim().to_owned(),
            }),
            webhook_secret: std::env::var(WEBHOOK_SECRET_ENV)
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .map(WebhookSecret),
        }
    }
}

/// `owner/repo`, each part in GitHub's alphabet.
fn is_repo(s: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(s.split_once('/'), Some((owner, repo)) if ok(owner) && ok(repo))
}

/// A Jira project key: an uppercase letter, then uppercase letters, digits or `_`.
fn is_project_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

pub(super) fn check(config: &TrackersConfig, c: &mut Checker) {
    let path = KeyPath::of("trackers");
    if let Some(github) = &config.github {
        let at = path.key("github");
        if github.repos.is_empty() {
            c.report(
                &at.key("repos"),
                Part::Key,
                "list the repositories issues may be opened in, e.g. `repos = [\"acme/api\"]`"
                    .into(),
            );
        }
        for (i, repo) in github.repos.iter().enumerate() {
            if !is_repo(repo) {
                c.report(
                    &at.key("repos").at(i),
                    Part::Value,
                    format!("`{repo}` is not a repository; write `owner/repo`"),
                );
            }
        }
        c.distinct(
            "repository",
            github
                .repos
                .iter()
                .enumerate()
                .map(|(i, r)| (at.key("repos").at(i), r.as_str())),
        );
    }
    if let Some(jira) = &config.jira {
        let at = path.key("jira");
        let url = jira.base_url.trim();
        let valid_url = (url.starts_with("https://") || url.starts_with("http://"))
            && reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some());
        if !valid_url {
            c.report(
                &at.key("base_url"),
                Part::Value,
                format!(
                    "`{url}` must be an http:// or https:// URL, e.g. `https://acme.atlassian.net`"
                ),
            );
        }
        if !jira.email.contains('@') {
            c.report(
                &at.key("email"),
                Part::Value,
                format!(
                    "`{}` is not an e-mail address (the API token's account)",
                    jira.email
                ),
            );
        }
        if jira.token_env.trim().is_empty() {
            c.report(
                &at.key("token_env"),
                Part::Value,
                "name the environment variable holding the API token".into(),
            );
        }
        if jira.issue_type.trim().is_empty() {
            c.report(
                &at.key("issue_type"),
                Part::Value,
                "name an issue type, e.g. `Task`".into(),
            );
        }
        if jira.projects.is_empty() {
            c.report(
                &at.key("projects"),
                Part::Key,
                "list the project keys issues may be created in, e.g. `projects = [\"OPS\"]`"
                    .into(),
            );
        }
        for (i, key) in jira.projects.iter().enumerate() {
            if !is_project_key(key) {
                c.report(
                    &at.key("projects").at(i),
                    Part::Value,
                    format!("`{key}` is not a Jira project key; write it in capitals, e.g. `OPS`"),
                );
            }
        }
        c.distinct(
            "project",
            jira.projects
                .iter()
                .enumerate()
                .map(|(i, p)| (at.key("projects").at(i), p.as_str())),
        );
    }
    if let Some(default) = config.default
        && config.settings().targets(default).is_empty()
    {
        c.report(
            &path.key("default"),
            Part::Value,
            format!("the default tracker `{default}` is not configured: add [trackers.{default}]"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_and_project_keys_have_their_forms() {
        assert!(is_repo("acme/api"));
        assert!(is_repo("a-b_c.d/e.f"));
        assert!(!is_repo("acme"));
        assert!(!is_repo("acme/api/x"));
        assert!(!is_repo("/api"));
        assert!(is_project_key("OPS"));
        assert!(is_project_key("OPS2_X"));
        assert!(!is_project_key("ops"));
        assert!(!is_project_key("2OPS"));
        assert!(!is_project_key(""));
    }
}

#[cfg(test)]
mod check_tests {
    use crate::config::Config;

    /// The problems `tocsin check-config` reports for a file that is only `[trackers]`.
    fn problems(trackers: &str) -> Vec<String> {
        match Config::parse("tocsin.toml", trackers) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_valid_section_passes_and_becomes_the_core_settings() {
        let text = r#"
[trackers]
default = "jira"
[trackers.github]
repos = ["acme/api", "acme/web"]
[trackers.jira]
base_url = "https://acme.atlassian.net/"
email = "tocsin@acme.example"
projects = ["OPS"]
"#;
        assert_eq!(problems(text), Vec::<String>::new());
        let config = Config::parse("tocsin.toml", text).unwrap();
        let settings = config.trackers.settings();
        assert_eq!(settings.github_repos, ["acme/api", "acme/web"]);
        assert_eq!(settings.jira_projects, ["OPS"]);
        assert_eq!(settings.default, Some(bot_core::model::Tracker::Jira));
        let site = settings.jira_site.unwrap();
        assert_eq!(site.base_url, "https://acme.atlassian.net");
        assert_eq!(site.token_env, "JIRA_API_TOKEN");
        assert_eq!(site.issue_type, "Task");
    }

    #[test]
    fn bad_repositories_keys_urls_and_defaults_are_named_on_their_lines() {
        let found = problems(
            r#"
[trackers]
default = "jira"
[trackers.github]
repos = ["acme", "acme/api", "acme/api"]
"#,
        );
        let joined = found.join("\n");
        assert!(
            joined.contains("`acme` is not a repository; write `owner/repo`"),
            "{joined}"
        );
        assert!(
            joined.contains("duplicate repository `acme/api`"),
            "{joined}"
        );
        assert!(
            joined.contains("the default tracker `jira` is not configured"),
            "{joined}"
        );
        let found = problems(
            r#"
[trackers.jira]
base_url = "acme.atlassian.net"
email = "tocsin"
projects = ["ops"]
"#,
        )
        .join("\n");
        assert!(
            found.contains("must be an http:// or https:// URL"),
            "{found}"
        );
        assert!(found.contains("is not an e-mail address"), "{found}");
        assert!(found.contains("`ops` is not a Jira project key"), "{found}");
    }
}
