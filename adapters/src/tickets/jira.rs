//! Action items as Jira Cloud issues: REST v3 `POST {base_url}/rest/api/3/issue` with the
//! project key, summary, issue type, labels and a description in Atlassian Document
//! Format, authenticated with the account's e-mail address and an API token (HTTP Basic).
//!
//! Jira answers a created issue with `201 {"id", "key", "self"}` and a refused one with
//! `400 {"errorMessages": [...], "errors": {"field": "message"}}`; both are read here.

use std::fmt;

use async_trait::async_trait;
use bot_core::model::ActionItem;
use bot_core::postmortem::action_items::{FiledTicket, TicketContext, TicketError, TicketTracker};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{CONNECT_TIMEOUT, REQUEST_TIMEOUT, retry_after_secs};

/// What a Jira Cloud site needs: where it is, who we are, what kind of issue to create.
#[derive(Clone)]
pub struct JiraSettings {
    /// `https://acme.atlassian.net`, no trailing slash needed.
    pub base_url: String,
    pub email: String,
    pub api_token: String,
    /// The issue type of new issues (`Task`).
    pub issue_type: String,
}

impl fmt::Debug for JiraSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraSettings")
            .field("base_url", &self.base_url)
            .field("email", &self.email)
            .field("api_token", &"***")
            .field("issue_type", &self.issue_type)
            .finish()
    }
}

/// Jira Cloud issues on one site.
#[derive(Debug, Clone)]
pub struct JiraIssues {
    http: reqwest::Client,
    base: Url,
    settings: JiraSettings,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(String);

impl JiraIssues {
    pub fn new(settings: JiraSettings) -> Result<Self, SetupError> {
        let trimmed = settings.base_url.trim().trim_end_matches('/');
        let base = Url::parse(&format!("{trimmed}/"))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                SetupError(format!(
                    "Jira base_url `{}` is not an http(s) URL",
                    settings.base_url
                ))
            })?;
        if settings.api_token.trim().is_empty() {
            return Err(SetupError("the Jira API token is empty".into()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SetupError(format!("building the Jira client: {e}")))?;
        Ok(JiraIssues {
            http,
            base,
            settings,
        })
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(path)
            .expect("a relative path joins onto an http(s) base")
    }
}

#[derive(Deserialize)]
struct CreatedIssue {
    key: String,
}

/// A text node, with marks; None for empty text (ADF refuses empty text nodes).
fn text(value: &str, marks: Option<Value>) -> Option<Value> {
    if value.is_empty() {
        return None;
    }
    let mut node = Map::new();
    node.insert("type".into(), json!("text"));
    node.insert("text".into(), json!(value));
    if let Some(marks) = marks {
        node.insert("marks".into(), marks);
    }
    Some(Value::Object(node))
}

fn paragraph(content: Vec<Option<Value>>) -> Value {
    json!({
        "type": "paragraph",
        "content": content.into_iter().flatten().collect::<Vec<_>>(),
    })
}

/// The issue description as an Atlassian Document Format document: the intro, the facts
/// as a bullet list with bold labels, and the link to the postmortem.
pub fn description(context: &TicketContext) -> Value {
    let facts: Vec<Value> = context
        .facts()
        .into_iter()
        .map(|(label, value)| {
            json!({
                "type": "listItem",
                "content": [paragraph(vec![
                    text(&format!("{label}: "), Some(json!([{ "type": "strong" }]))),
                    text(&value, None),
                ])],
            })
        })
        .collect();
    json!({
        "type": "doc",
        "version": 1,
        "content": [
            paragraph(vec![text(&context.intro(), None)]),
            { "type": "bulletList", "content": facts },
            paragraph(vec![
                text("Postmortem: ", None),
                text(
                    &context.link,
                    Some(json!([{ "type": "link", "attrs": { "href": context.link } }])),
                ),
            ]),
            paragraph(vec![text(
                "Filed by Tocsin for a postmortem action item.",
                Some(json!([{ "type": "em" }])),
            )]),
        ],
    })
}

/// The request body of `POST /rest/api/3/issue`.
pub fn create_request(
    project: &str,
    issue_type: &str,
    item: &ActionItem,
    context: &TicketContext,
) -> Value {
    // A summary is one line.
    let summary = item.title.split_whitespace().collect::<Vec<_>>().join(" ");
    json!({
        "fields": {
            "project": { "key": project },
            "summary": summary,
            "issuetype": { "name": issue_type },
            "labels": context.labels,
            "description": description(context),
        }
    })
}

/// Jira's error text: `errorMessages` and the per-field `errors`.
fn error_message(status: u16, body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorCollection {
        #[serde(default, rename = "errorMessages")]
        error_messages: Vec<String>,
        #[serde(default)]
        errors: Map<String, Value>,
    }
    let Ok(parsed) = serde_json::from_str::<ErrorCollection>(body) else {
        let text: String = body.trim().chars().take(300).collect();
        return if text.is_empty() {
            format!("HTTP {status}")
        } else {
            text
        };
    };
    let mut parts = parsed.error_messages;
    for (field, message) in parsed.errors {
        let message = message
            .as_str()
            .map_or_else(|| message.to_string(), str::to_owned);
        parts.push(format!("{field}: {message}"));
    }
    if parts.is_empty() {
        format!("HTTP {status}")
    } else {
        parts.join("; ")
    }
}

#[async_trait]
impl TicketTracker for JiraIssues {
    async fn file(
        &self,
        item: &ActionItem,
        context: &TicketContext,
    ) -> Result<FiledTicket, TicketError> {
        let project = item.target.as_deref().unwrap_or_default();
        let body = create_request(project, &self.settings.issue_type, item, context);
        let response = self
            .http
            .post(self.url("rest/api/3/issue"))
            .basic_auth(&self.settings.email, Some(&self.settings.api_token))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| TicketError::Unavailable {
                // Without the URL's credentials: reqwest's error names the URL only.
                message: format!("could not reach Jira: {e}"),
                retry_after: None,
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response
            .text()
            .await
            .map_err(|e| TicketError::Unavailable {
                message: format!("reading Jira's answer: {e}"),
                retry_after: None,
            })?;
        match status {
            200..=299 => {
                let created: CreatedIssue =
                    serde_json::from_str(&text).map_err(|e| TicketError::Unavailable {
                        message: format!("Jira's answer is not a created issue: {e}"),
                        retry_after: None,
                    })?;
                Ok(FiledTicket {
                    url: self.url(&format!("browse/{}", created.key)).to_string(),
                    key: created.key,
                    state: None,
                })
            }
            429 => Err(TicketError::Unavailable {
                message: format!("Jira rate limit: {}", error_message(status, &text)),
                retry_after: retry_after_secs(retry_after.as_deref()),
            }),
            400..=499 => Err(TicketError::Refused(format!(
                "Jira refused the issue in {project} (HTTP {status}): {}",
                error_message(status, &text)
            ))),
            _ => Err(TicketError::Unavailable {
                message: format!(
                    "Jira answered HTTP {status}: {}",
                    error_message(status, &text)
                ),
                retry_after: retry_after_secs(retry_after.as_deref()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_and_messages_are_joined() {
        let body = r#"{"errorMessages":["Bad"],"errors":{"summary":"You must specify a summary of the issue."}}"#;
        assert_eq!(
            error_message(400, body),
            "Bad; summary: You must specify a summary of the issue."
        );
        assert_eq!(error_message(500, "{}"), "HTTP 500");
    }
}
