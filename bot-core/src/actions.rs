//! Actions: named, pre-configured diagnostic or remediation steps that chat may run (an HTTP
//! request, an allow-listed command, a GitHub revert, a GitHub Actions workflow dispatch).
//! Never free-form shell: every argument is a typed parameter, validated here before
//! anything runs, and substituted as one whole value where the action's template names it.
//!
//! The ports [`ActionRunner`] (HTTP and commands) and [`Vcs`] (GitHub) are implemented by
//! the adapters; the core only knows what an action is, who may run it and what came back.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::Role;

/// Longest output, in characters, that comes back into chat and the timeline.
pub const MAX_OUTPUT: usize = 3_000;

/// What a parameter accepts.
#[derive(Debug, Clone)]
pub enum ParamKind {
    /// Any text without control characters; with a pattern, only text the whole pattern
    /// matches.
    Text { pattern: Option<regex::Regex> },
    /// A whole number, optionally bounded (inclusive).
    Integer { min: Option<i64>, max: Option<i64> },
    /// One of a fixed list.
    Choice(Vec<String>),
}

impl ParamKind {
    /// Text that must match `pattern` as a whole (anchored at both ends, so `a|ab` cannot
    /// accept `ab; rm -rf /` by matching its start).
    pub fn text_matching(pattern: &str) -> Result<ParamKind, regex::Error> {
        Ok(ParamKind::Text {
            pattern: Some(regex::Regex::new(&format!("^(?:{pattern})$"))?),
        })
    }
}

#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    /// Used when the argument is left out; a parameter with neither is required.
    pub default: Option<String>,
    pub description: String,
}

impl ParamSpec {
    /// Checks one value; the error says what this parameter accepts.
    pub fn check(&self, value: &str) -> Result<(), String> {
        if value.is_empty() {
            return Err(format!("`{}` must not be empty", self.name));
        }
        if value.len() > 512 {
            return Err(format!("`{}` is longer than 512 bytes", self.name));
        }
        if value.chars().any(char::is_control) {
            return Err(format!(
                "`{}` must not contain control characters",
                self.name
            ));
        }
        match &self.kind {
            ParamKind::Text { pattern: None } => Ok(()),
            ParamKind::Text {
                pattern: Some(pattern),
            } => {
                if pattern.is_match(value) {
                    Ok(())
                } else {
                    let shown = pattern.as_str();
                    let shown = shown
                        .strip_prefix("^(?:")
                        .and_then(|p| p.strip_suffix(")$"))
                        .unwrap_or(shown);
                    Err(format!(
                        "`{value}` is not a valid {}: it must match {shown}",
                        self.name
                    ))
                }
            }
            ParamKind::Integer { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("{} must be a whole number, not `{value}`", self.name))?;
                if min.is_some_and(|min| n < min) || max.is_some_and(|max| n > max) {
                    return Err(format!(
                        "{} must be between {} and {}",
                        self.name,
                        min.map_or("-∞".into(), |m| m.to_string()),
                        max.map_or("∞".into(), |m| m.to_string())
                    ));
                }
                Ok(())
            }
            ParamKind::Choice(choices) => {
                if choices.iter().any(|c| c == value) {
                    Ok(())
                } else {
                    Err(format!(
                        "{} must be one of {}, not `{value}`",
                        self.name,
                        choices.join(", ")
                    ))
                }
            }
        }
    }

    /// `<name>`, `[name]`, `<a|b>` for the usage line.
    fn usage(&self) -> String {
        let inner = match &self.kind {
            ParamKind::Choice(c) => c.join("|"),
            _ => self.name.clone(),
        };
        if self.default.is_some() {
            format!("[{inner}]")
        } else {
            format!("<{inner}>")
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpAction {
    pub method: String,
    /// `{param}` is replaced by the percent-encoded value, `${ENV}` by a secret.
    pub url: String,
    /// Header values may hold `{param}` and `${ENV}`.
    pub headers: Vec<(String, String)>,
    /// A body template, sent as is after substitution (JSON-escaped values when
    /// `json_body`).
    pub body: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct CommandAction {
    /// An absolute path; no shell, no `PATH` lookup.
    pub program: String,
    /// Each item is one argv entry; `{param}` inside it is replaced by the value, which
    /// stays inside that one entry whatever it contains.
    pub args: Vec<String>,
    /// Environment for the process (values may hold `${ENV}` secrets); nothing else is
    /// inherited but `PATH`.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct GithubRevertAction {
    /// `owner/repo` this action may revert in; empty: any the token can reach.
    pub repos: Vec<String>,
    /// Enable auto-merge on the revert pull request.
    pub auto_merge: bool,
}

#[derive(Debug, Clone)]
pub struct GithubWorkflowAction {
    pub repo: String,
    /// The workflow file name (`rollback.yml`) or id.
    pub workflow: String,
    /// The branch or tag the workflow runs on.
    pub git_ref: String,
    /// Workflow inputs; values may hold `{param}`.
    pub inputs: Vec<(String, String)>,
    /// How often the run is polled until it finishes, and for how long at most.
    pub poll_every: Duration,
    pub give_up_after: Duration,
}

#[derive(Debug, Clone)]
pub enum ActionKind {
    Http(HttpAction),
    Command(CommandAction),
    GithubRevert(GithubRevertAction),
    GithubWorkflow(GithubWorkflowAction),
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Http(_) => "http",
            ActionKind::Command(_) => "command",
            ActionKind::GithubRevert(_) => "github_revert",
            ActionKind::GithubWorkflow(_) => "github_workflow",
        }
    }
}

/// One configured action.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    pub name: String,
    pub description: String,
    /// The least role allowed to run it.
    pub min_role: Role,
    /// Ask for a confirmation button press before running.
    pub confirm: bool,
    pub params: Vec<ParamSpec>,
    pub kind: ActionKind,
}

/// Validated arguments, by parameter name.
pub type Args = BTreeMap<String, String>;

impl ActionSpec {
    /// `/incident run <name> <param>…` as a usage line.
    pub fn usage(&self) -> String {
        let mut out = format!("/incident run {}", self.name);
        for p in &self.params {
            out.push(' ');
            out.push_str(&p.usage());
        }
        out
    }

    /// Binds `args` (positional in parameter order, or `name=value`) to the parameters and
    /// checks each value. Nothing is run with arguments that do not bind.
    pub fn bind(&self, args: &[String]) -> Result<Args, String> {
        let mut bound = Args::new();
        let mut positional = self.params.iter();
        for arg in args {
            let named = arg
                .split_once('=')
                .and_then(|(k, v)| self.params.iter().find(|p| p.name == k).map(|p| (p, v)));
            let (param, value) = match named {
                Some(pair) => pair,
                None => {
                    let param = positional
                        .by_ref()
                        .find(|p| !bound.contains_key(&p.name))
                        .ok_or_else(|| {
                            format!(
                                "too many arguments: `{arg}` is not a parameter of {}",
                                self.name
                            )
                        })?;
                    (param, arg.as_str())
                }
            };
            param.check(value)?;
            if bound.insert(param.name.clone(), value.to_owned()).is_some() {
                return Err(format!("`{}` is given twice", param.name));
            }
        }
        for p in &self.params {
            if !bound.contains_key(&p.name) {
                match &p.default {
                    Some(d) => {
                        bound.insert(p.name.clone(), d.clone());
                    }
                    None => return Err(format!("missing `{}`", p.name)),
                }
            }
        }
        Ok(bound)
    }
}

/// Splits a command line into arguments: whitespace separates, double or single quotes
/// keep spaces inside one argument. No escapes, no expansion of any kind.
pub fn split_args(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            (None, c) => {
                current.push(c);
                started = true;
            }
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed".into());
    }
    if started {
        out.push(current);
    }
    Ok(out)
}

/// What an action produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionOutput {
    /// Did it do what it was asked (HTTP 2xx, exit code 0, revert opened)?
    pub ok: bool,
    /// One line: `HTTP 200 OK`, `exit code 1`, `revert opened: #1348`.
    pub summary: String,
    /// The output, truncated to [`MAX_OUTPUT`] characters with secrets redacted.
    pub detail: String,
    /// A link to what it created (a pull request, a workflow run).
    pub link: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The action cannot run here (a secret or credential is not set, a kind not built).
    #[error("not configured: {0}")]
    NotConfigured(String),
    /// The upstream refused, with its own message (GitHub 422, …).
    #[error("{0}")]
    Upstream(String),
    /// Could not reach the upstream or it did not answer in time.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Runs `http` and `command` actions.
#[async_trait]
pub trait ActionRunner: Send + Sync {
    async fn run(&self, spec: &ActionSpec, args: &Args) -> Result<ActionOutput, ActionError>;
}

/// What to revert: a merged pull request, or the commit a pull request merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevertTarget {
    PullRequest(u64),
    Commit(String),
}

impl RevertTarget {
    /// A number is a pull request; 7 to 40 hex digits a commit.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim_start_matches('#');
        if let Ok(n) = text.parse::<u64>()
            && text.len() < 7
        {
            return Some(RevertTarget::PullRequest(n));
        }
        if (7..=40).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Some(RevertTarget::Commit(text.to_ascii_lowercase()));
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(RevertTarget::PullRequest(n));
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertRequest {
    pub owner: String,
    pub repo: String,
    pub target: RevertTarget,
    pub auto_merge: bool,
    /// Why, for the revert's body ("Reverted from chat during INC-42 by alice").
    pub reason: String,
    /// Sent as GraphQL `clientMutationId`, so GitHub's logs tie the revert to this run.
    pub client_mutation_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revert {
    /// The pull request that was reverted.
    pub original_number: u64,
    pub original_url: String,
    /// The new pull request that reverts it.
    pub number: u64,
    pub url: String,
    pub auto_merge: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowDispatch {
    pub owner: String,
    pub repo: String,
    pub workflow: String,
    pub git_ref: String,
    pub inputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    pub html_url: String,
    /// `queued`, `in_progress`, `completed`, …
    pub status: String,
    /// Once completed: `success`, `failure`, `cancelled`, …
    pub conclusion: Option<String>,
}

impl WorkflowRun {
    pub fn finished(&self) -> bool {
        self.status == "completed"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VcsError {
    #[error("not configured: {0}")]
    NotConfigured(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// GitHub refused, with its message (422 validation, 403 permissions, GraphQL errors).
    #[error("GitHub refused: {0}")]
    Refused(String),
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    #[error("GitHub unavailable: {0}")]
    Unavailable(String),
}

impl From<VcsError> for ActionError {
    fn from(e: VcsError) -> Self {
        match e {
            VcsError::NotConfigured(m) => ActionError::NotConfigured(m),
            VcsError::RateLimited { .. } | VcsError::Unavailable(_) => {
                ActionError::Unavailable(e.to_string())
            }
            VcsError::NotFound(_) | VcsError::Refused(_) => ActionError::Upstream(e.to_string()),
        }
    }
}

/// Version control: GitHub through its API.
#[async_trait]
pub trait Vcs: Send + Sync {
    /// Opens a pull request that reverts `target` (for a commit, the pull request that
    /// merged it).
    async fn revert(&self, req: &RevertRequest) -> Result<Revert, VcsError>;
    /// Starts a `workflow_dispatch` run and returns it.
    async fn dispatch_workflow(&self, req: &WorkflowDispatch) -> Result<WorkflowRun, VcsError>;
    async fn workflow_run(
        &self,
        owner: &str,
        repo: &str,
        run_id: u64,
    ) -> Result<WorkflowRun, VcsError>;
}

/// Cuts `text` to at most `max` characters, saying how much was left out.
pub fn truncate(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}\n… ({} more characters cut)", count - max)
}

/// Replaces every occurrence of each secret in `text` by `[redacted]`. Secrets shorter
/// than 4 characters are redacted too: a short secret is still a secret.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    // Longest first, so a secret containing another is redacted whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        out = out.replace(s.as_str(), "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(params: Vec<ParamSpec>) -> ActionSpec {
        ActionSpec {
            name: "diag".into(),
            description: String::new(),
            min_role: Role::Responder,
            confirm: false,
            params,
            kind: ActionKind::Command(CommandAction {
                program: "/bin/echo".into(),
                args: vec![],
                env: vec![],
                timeout: Duration::from_secs(5),
            }),
        }
    }

    fn text(name: &str, pattern: Option<&str>) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            kind: match pattern {
                Some(p) => ParamKind::text_matching(p).unwrap(),
                None => ParamKind::Text { pattern: None },
            },
            default: None,
            description: String::new(),
        }
    }

    #[test]
    fn binds_positional_and_named_arguments_and_applies_defaults() {
        let mut lines = ParamSpec {
            name: "lines".into(),
            kind: ParamKind::Integer {
                min: Some(1),
                max: Some(500),
            },
            default: Some("50".into()),
            description: String::new(),
        };
        let s = spec(vec![text("host", Some("[a-z0-9.-]+")), lines.clone()]);
        let args = s.bind(&["db1.internal".into()]).unwrap();
        assert_eq!(args["host"], "db1.internal");
        assert_eq!(args["lines"], "50");
        let args = s.bind(&["lines=10".into(), "db2".into()]).unwrap();
        assert_eq!(
            (args["host"].as_str(), args["lines"].as_str()),
            ("db2", "10")
        );
        assert!(s.bind(&[]).unwrap_err().contains("missing `host`"));
        assert!(
            s.bind(&["a".into(), "9999".into()])
                .unwrap_err()
                .contains("between 1 and 500")
        );
        assert!(
            s.bind(&["a".into(), "1".into(), "x".into()])
                .unwrap_err()
                .contains("too many")
        );
        lines.default = None;
        assert!(
            spec(vec![lines])
                .bind(&["ten".into()])
                .unwrap_err()
                .contains("whole number")
        );
    }

    #[test]
    fn patterns_match_the_whole_value_so_injection_is_refused() {
        let alternatives = spec(vec![text("target", Some("[0-9]{1,3}|[0-9a-f]{7,40}"))]);
        assert!(alternatives.bind(&["6dcb09b".into()]).is_ok());
        assert!(alternatives.bind(&["12; rm".into()]).is_err());
        let s = spec(vec![text("host", Some("[a-z0-9.-]+"))]);
        for evil in [
            "db1; rm -rf /",
            "$(reboot)",
            "db1`id`",
            "db1 && true",
            "a|b",
        ] {
            let err = s.bind(&[evil.into()]).unwrap_err();
            assert!(err.contains("must match"), "{evil}: {err}");
        }
        // Without a pattern text is taken literally; only control characters are refused.
        let free = spec(vec![text("note", None)]);
        assert_eq!(
            free.bind(&["; rm -rf /".into()]).unwrap()["note"],
            "; rm -rf /"
        );
        assert!(free.bind(&["a\nb".into()]).unwrap_err().contains("control"));
    }

    #[test]
    fn choices_and_usage() {
        let s = spec(vec![ParamSpec {
            name: "region".into(),
            kind: ParamKind::Choice(vec!["eu".into(), "us".into()]),
            default: None,
            description: String::new(),
        }]);
        assert_eq!(s.usage(), "/incident run diag <eu|us>");
        assert!(
            s.bind(&["ap".into()])
                .unwrap_err()
                .contains("one of eu, us")
        );
    }

    #[test]
    fn split_args_keeps_quoted_text_together_and_expands_nothing() {
        assert_eq!(
            split_args(r#"a "b c" 'd $(e)'  f"#).unwrap(),
            ["a", "b c", "d $(e)", "f"]
        );
        assert_eq!(split_args(r#""""#).unwrap(), [""]);
        assert!(split_args(r#"a "b"#).is_err());
    }

    #[test]
    fn revert_targets() {
        assert_eq!(
            RevertTarget::parse("1347"),
            Some(RevertTarget::PullRequest(1347))
        );
        assert_eq!(
            RevertTarget::parse("#12"),
            Some(RevertTarget::PullRequest(12))
        );
        assert_eq!(
            RevertTarget::parse("6DCB09B"),
            Some(RevertTarget::Commit("6dcb09b".into()))
        );
        assert_eq!(RevertTarget::parse("main"), None);
    }

    #[test]
    fn truncation_and_redaction() {
        assert_eq!(truncate("abc", 3), "abc");
        assert!(truncate(&"x".repeat(3_010), MAX_OUTPUT).ends_with("(10 more characters cut)"));
        assert_eq!(
            redact(
                "token=s3cret-long s3cret",
                &["s3cret".into(), "s3cret-long".into()]
            ),
            "token=[redacted] [redacted]"
        );
    }
}
