//! `[[actions]]` and `[[roles.groups]]`: what chat may run, and roles granted by chat group.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use bot_core::actions::{
    ActionKind, ActionSpec, CommandAction, GithubRevertAction, GithubWorkflowAction, HttpAction,
    ParamKind, ParamSpec,
};
use bot_core::model::Role;
use serde::Deserialize;

use super::{Checker, KeyPath, Part};

/// `[[roles.groups]]`: everyone in a chat group gets at least a role.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GroupRoleConfig {
    /// `slack`, `discord` or `teams`.
    pub platform: String,
    /// The platform's id of the group: a Slack user group id (`S0123`), a Discord role id,
    /// a Teams (Entra ID) group object id.
    pub group: String,
    pub role: Role,
}

/// `[roles]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RolesConfig {
    pub groups: Vec<GroupRoleConfig>,
}

/// `[[actions]]`: one action. Which keys apply depends on `kind`; a key of another kind is
/// an error, so a typo cannot silently change what runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ActionConfig {
    pub name: String,
    /// `http`, `command`, `github_revert` or `github_workflow`.
    pub kind: String,
    #[serde(default)]
    pub description: String,
    /// The least role allowed to run it; default responder.
    #[serde(default = "responder")]
    pub role: Role,
    /// Ask for a confirmation button before running; default false.
    #[serde(default)]
    pub confirm: bool,
    #[serde(default)]
    pub params: Vec<ParamConfig>,
    /// http, command: how long it may take; default 10s (command and http).
    pub timeout: Option<String>,
    // http
    pub method: Option<String>,
    pub url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub body: Option<String>,
    // command
    pub program: Option<String>,
    pub args: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    // github_revert
    pub repos: Option<Vec<String>>,
    pub auto_merge: Option<bool>,
    // github_workflow
    pub repo: Option<String>,
    pub workflow: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub inputs: Option<BTreeMap<String, String>>,
    pub poll_every: Option<String>,
    pub give_up_after: Option<String>,
}

fn responder() -> Role {
    Role::Responder
}

/// `[[actions.params]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ParamConfig {
    pub name: String,
    /// `text` (default), `integer` or `choice`.
    #[serde(rename = "type", default = "text")]
    pub kind: String,
    /// text: a regular expression the whole value must match.
    pub pattern: Option<String>,
    /// integer: bounds, inclusive.
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// choice: the allowed values.
    pub choices: Option<Vec<String>>,
    pub default: Option<String>,
    #[serde(default)]
    pub description: String,
}

fn text() -> String {
    "text".into()
}

const KINDS: &[&str] = &["http", "command", "github_revert", "github_workflow"];

/// Keys that belong to one kind only.
const KIND_KEYS: &[(&str, &[&str])] = &[
    ("http", &["method", "url", "headers", "body", "timeout"]),
    ("command", &["program", "args", "env", "timeout"]),
    ("github_revert", &["repos", "auto_merge"]),
    (
        "github_workflow",
        &[
            "repo",
            "workflow",
            "ref",
            "inputs",
            "poll_every",
            "give_up_after",
        ],
    ),
];

impl ActionConfig {
    fn present_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut note = |k: &'static str, present: bool| {
            if present {
                keys.push(k);
            }
        };
        note("timeout", self.timeout.is_some());
        note("method", self.method.is_some());
        note("url", self.url.is_some());
        note("headers", self.headers.is_some());
        note("body", self.body.is_some());
        note("program", self.program.is_some());
        note("args", self.args.is_some());
        note("env", self.env.is_some());
        note("repos", self.repos.is_some());
        note("auto_merge", self.auto_merge.is_some());
        note("repo", self.repo.is_some());
        note("workflow", self.workflow.is_some());
        note("ref", self.git_ref.is_some());
        note("inputs", self.inputs.is_some());
        note("poll_every", self.poll_every.is_some());
        note("give_up_after", self.give_up_after.is_some());
        keys
    }

    /// Every template of this action, with where it is written.
    fn templates(&self, at: &KeyPath) -> Vec<(KeyPath, &str)> {
        let mut out = Vec::new();
        if let Some(url) = &self.url {
            out.push((at.key("url"), url.as_str()));
        }
        for (k, v) in self.headers.iter().flatten() {
            out.push((at.key("headers").key(k), v.as_str()));
        }
        if let Some(body) = &self.body {
            out.push((at.key("body"), body.as_str()));
        }
        for (i, a) in self.args.iter().flatten().enumerate() {
            out.push((at.key("args").at(i), a.as_str()));
        }
        for (k, v) in self.env.iter().flatten() {
            out.push((at.key("env").key(k), v.as_str()));
        }
        out
    }
}

pub(super) fn check(actions: &[ActionConfig], roles: &RolesConfig, c: &mut Checker) {
    c.distinct(
        "action name",
        actions
            .iter()
            .enumerate()
            .map(|(i, a)| (KeyPath::of("actions").at(i).key("name"), a.name.as_str())),
    );
    for (i, action) in actions.iter().enumerate() {
        let at = KeyPath::of("actions").at(i);
        c.slug(&at.key("name"), &action.name);
        if !KINDS.contains(&action.kind.as_str()) {
            c.report(
                &at.key("kind"),
                Part::Value,
                format!(
                    "unknown action kind `{}`; expected one of: {}",
                    action.kind,
                    KINDS.join(", ")
                ),
            );
            continue;
        }
        let allowed: &[&str] = KIND_KEYS
            .iter()
            .find(|(k, _)| *k == action.kind)
            .map(|(_, keys)| *keys)
            .unwrap_or_default();
        for key in action.present_keys() {
            if !allowed.contains(&key) {
                c.report(
                    &at.key(key),
                    Part::Key,
                    format!("`{key}` does not apply to a {} action", action.kind),
                );
            }
        }
        let params = check_params(&action.params, &at, c);
        for (path, template) in action.templates(&at) {
            check_template(c, &path, template, &params, true);
        }
        for (key, value) in [
            ("timeout", &action.timeout),
            ("poll_every", &action.poll_every),
            ("give_up_after", &action.give_up_after),
        ] {
            if let Some(text) = value {
                c.duration(&at.key(key), text);
            }
        }
        let required = |c: &mut Checker, key: &str, present: bool| {
            if !present {
                c.report(
                    &at,
                    Part::Value,
                    format!("a {} action needs `{key}`", action.kind),
                );
            }
        };
        match action.kind.as_str() {
            "http" => {
                required(c, "url", action.url.is_some());
                if let Some(method) = &action.method
                    && !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method.as_str())
                {
                    c.report(
                        &at.key("method"),
                        Part::Value,
                        format!("`{method}` is not one of GET, POST, PUT, PATCH, DELETE, HEAD"),
                    );
                }
                if let Some(url) = &action.url
                    && !(url.starts_with("https://") || url.starts_with("http://"))
                {
                    c.report(
                        &at.key("url"),
                        Part::Value,
                        "the URL must start with https:// or http://".into(),
                    );
                }
            }
            "command" => {
                required(c, "program", action.program.is_some());
                if let Some(program) = &action.program
                    && !program.starts_with('/')
                {
                    c.report(
                        &at.key("program"),
                        Part::Value,
                        format!(
                            "`{program}` must be an absolute path: commands run without a shell \
                             or PATH lookup"
                        ),
                    );
                }
            }
            "github_revert" => {
                if !action.params.is_empty() {
                    c.report(
                        &at.key("params"),
                        Part::Key,
                        "a github_revert action takes its repository and pull request from \
                         `/incident revert <owner/repo> <pr|sha>`; it has no params"
                            .into(),
                    );
                }
                for (j, repo) in action.repos.iter().flatten().enumerate() {
                    repo_name(c, &at.key("repos").at(j), repo);
                }
            }
            "github_workflow" => {
                required(c, "repo", action.repo.is_some());
                required(c, "workflow", action.workflow.is_some());
                if let Some(repo) = &action.repo {
                    repo_name(c, &at.key("repo"), repo);
                }
                for (k, v) in action.inputs.iter().flatten() {
                    check_template(c, &at.key("inputs").key(k), v, &params, false);
                }
            }
            _ => {}
        }
    }
    for (i, group) in roles.groups.iter().enumerate() {
        let at = KeyPath::of("roles").key("groups").at(i);
        if !["slack", "discord", "teams"].contains(&group.platform.as_str()) {
            c.report(
                &at.key("platform"),
                Part::Value,
                format!(
                    "`{}` has no groups; use slack, discord or teams",
                    group.platform
                ),
            );
        }
        if group.group.trim().is_empty() {
            c.report(
                &at.key("group"),
                Part::Value,
                "name the group by its id".into(),
            );
        }
    }
}

/// Checks a template's placeholders: each `{param}` names a parameter of the action, and
/// each `${NAME}` is an environment variable name (where secrets may appear at all).
fn check_template(
    c: &mut Checker,
    path: &KeyPath,
    template: &str,
    params: &HashSet<&str>,
    secrets_allowed: bool,
) {
    let found = match adapters::actions::placeholders(template) {
        Ok(found) => found,
        Err(why) => return c.report(path, Part::Value, why),
    };
    for placeholder in found {
        match placeholder {
            adapters::actions::Placeholder::Param(name) if !params.contains(name.as_str()) => {
                c.report(
                    path,
                    Part::Value,
                    format!("`{{{name}}}` is not a parameter of this action"),
                );
            }
            adapters::actions::Placeholder::Env(name) if secrets_allowed => c.env_var(path, &name),
            adapters::actions::Placeholder::Env(_) => c.report(
                path,
                Part::Value,
                "workflow inputs cannot hold secrets; use the repository's Actions secrets".into(),
            ),
            _ => {}
        }
    }
}

fn repo_name(c: &mut Checker, path: &KeyPath, repo: &str) {
    let ok = repo.split_once('/').is_some_and(|(o, r)| {
        let part = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        };
        part(o) && part(r)
    });
    if !ok {
        c.report(
            path,
            Part::Value,
            format!("`{repo}` is not a repository: write owner/name"),
        );
    }
}

/// Checks the params; returns their names.
fn check_params<'a>(params: &'a [ParamConfig], at: &KeyPath, c: &mut Checker) -> HashSet<&'a str> {
    let names = c.distinct(
        "parameter name",
        params
            .iter()
            .enumerate()
            .map(|(j, p)| (at.key("params").at(j).key("name"), p.name.as_str())),
    );
    for (j, param) in params.iter().enumerate() {
        let at = at.key("params").at(j);
        c.slug(&at.key("name"), &param.name);
        match param_spec(param) {
            Err(why) => c.report(&at, Part::Value, why),
            Ok(spec) => {
                if let Some(default) = &param.default
                    && let Err(why) = spec.check(default)
                {
                    c.report(&at.key("default"), Part::Value, why);
                }
            }
        }
    }
    names
}

fn param_spec(p: &ParamConfig) -> Result<ParamSpec, String> {
    let kind = match p.kind.as_str() {
        "text" => match &p.pattern {
            Some(pattern) => ParamKind::text_matching(pattern)
                .map_err(|e| format!("`pattern` is not a valid regular expression: {e}"))?,
            None => ParamKind::Text { pattern: None },
        },
        "integer" => ParamKind::Integer {
            min: p.min,
            max: p.max,
        },
        "choice" => match &p.choices {
            Some(choices) if !choices.is_empty() => ParamKind::Choice(choices.clone()),
            _ => return Err("a choice parameter needs a non-empty `choices` list".into()),
        },
        other => {
            return Err(format!(
                "unknown parameter type `{other}`; expected text, integer or choice"
            ));
        }
    };
    let stray = match p.kind.as_str() {
        "text" => p.min.is_some() || p.max.is_some() || p.choices.is_some(),
        "integer" => p.pattern.is_some() || p.choices.is_some(),
        _ => p.pattern.is_some() || p.min.is_some() || p.max.is_some(),
    };
    if stray {
        return Err(format!(
            "a {} parameter takes {}",
            p.kind,
            match p.kind.as_str() {
                "text" => "`pattern` only",
                "integer" => "`min` and `max` only",
                _ => "`choices` only",
            }
        ));
    }
    Ok(ParamSpec {
        name: p.name.clone(),
        kind,
        default: p.default.clone(),
        description: p.description.clone(),
    })
}

fn secs(text: &Option<String>, default: Duration) -> Duration {
    text.as_deref()
        .and_then(|t| humantime::parse_duration(t).ok())
        .unwrap_or(default)
}

/// The actions as the core runs them. Call only on a checked config.
pub fn specs(actions: &[ActionConfig]) -> Vec<ActionSpec> {
    actions
        .iter()
        .filter_map(|a| {
            let params: Vec<ParamSpec> =
                a.params.iter().filter_map(|p| param_spec(p).ok()).collect();
            let pairs = |m: &Option<BTreeMap<String, String>>| -> Vec<(String, String)> {
                m.iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            };
            let (kind, params) = match a.kind.as_str() {
                "http" => (
                    ActionKind::Http(HttpAction {
                        method: a.method.clone().unwrap_or_else(|| "GET".into()),
                        url: a.url.clone()?,
                        headers: pairs(&a.headers),
                        body: a.body.clone(),
                        timeout: secs(&a.timeout, Duration::from_secs(10)),
                    }),
                    params,
                ),
                "command" => (
                    ActionKind::Command(CommandAction {
                        program: a.program.clone()?,
                        args: a.args.clone().unwrap_or_default(),
                        env: pairs(&a.env),
                        timeout: secs(&a.timeout, Duration::from_secs(10)),
                    }),
                    params,
                ),
                "github_revert" => (
                    ActionKind::GithubRevert(GithubRevertAction {
                        repos: a.repos.clone().unwrap_or_default(),
                        auto_merge: a.auto_merge.unwrap_or(false),
                    }),
                    // `/incident revert <owner/repo> <pr|sha>` binds to these two.
                    vec![
                        ParamSpec {
                            name: "repo".into(),
                            kind: ParamKind::text_matching(r"[A-Za-z0-9._-]+/[A-Za-z0-9._-]+")
                                .expect("a valid pattern"),
                            default: None,
                            description: "owner/repo".into(),
                        },
                        ParamSpec {
                            name: "target".into(),
                            kind: ParamKind::text_matching(r"[0-9]{1,9}|[0-9a-fA-F]{7,40}")
                                .expect("a valid pattern"),
                            default: None,
                            description: "pull request number or commit sha".into(),
                        },
                    ],
                ),
                "github_workflow" => (
                    ActionKind::GithubWorkflow(GithubWorkflowAction {
                        repo: a.repo.clone()?,
                        workflow: a.workflow.clone()?,
                        git_ref: a.git_ref.clone().unwrap_or_else(|| "main".into()),
                        inputs: pairs(&a.inputs),
                        poll_every: secs(&a.poll_every, Duration::from_secs(15)),
                        give_up_after: secs(&a.give_up_after, Duration::from_secs(3600)),
                    }),
                    params,
                ),
                _ => return None,
            };
            Some(ActionSpec {
                name: a.name.clone(),
                description: a.description.clone(),
                min_role: a.role,
                confirm: a.confirm,
                params,
                kind,
            })
        })
        .collect()
}

/// Roles by chat group, as the core applies them.
pub fn group_roles(roles: &RolesConfig) -> Vec<bot_core::ops::GroupRole> {
    roles
        .groups
        .iter()
        .map(|g| bot_core::ops::GroupRole {
            platform: g.platform.clone(),
            group: g.group.clone(),
            role: g.role,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// Every problem `check-config` reports for `text`, one line each.
    fn problems(text: &str) -> String {
        match Config::parse("t.toml", text) {
            Ok(_) => String::new(),
            Err(errors) => errors.to_string(),
        }
    }

    #[test]
    fn each_kind_takes_its_own_keys_and_templates_name_declared_params() {
        let text = r#"
[[actions]]
name = "dig"
kind = "command"
program = "dig"
args = ["+short", "{host}", "{port}"]
url = "https://x"

[[actions.params]]
name = "host"
pattern = "[a-z"

[[actions]]
name = "dig"
kind = "shell"
"#;
        let out = problems(text);
        for expected in [
            "`dig` must be an absolute path",
            "`{port}` is not a parameter of this action",
            "`url` does not apply to a command action",
            "`pattern` is not a valid regular expression",
            "duplicate action name `dig`",
            "unknown action kind `shell`",
        ] {
            assert!(out.contains(expected), "{expected} missing from:\n{out}");
        }
    }

    #[test]
    fn github_actions_check_repositories_and_inputs() {
        let text = r#"
[[actions]]
name = "revert"
kind = "github_revert"
repos = ["acme"]

[[actions]]
name = "rollback"
kind = "github_workflow"
repo = "acme/checkout"
inputs = { token = "${SECRET}", version = "{version}" }
"#;
        let out = problems(text);
        for expected in [
            "`acme` is not a repository",
            "a github_workflow action needs `workflow`",
            "workflow inputs cannot hold secrets",
            "`{version}` is not a parameter",
        ] {
            assert!(out.contains(expected), "{expected} missing from:\n{out}");
        }
    }

    #[test]
    fn the_example_declares_one_action_of_each_kind_that_binds() {
        let config = Config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tocsin.example.toml"
        )))
        .unwrap();
        let specs = super::specs(&config.actions);
        let kinds: std::collections::BTreeSet<&str> = specs.iter().map(|s| s.kind.name()).collect();
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            ["command", "github_revert", "github_workflow", "http"]
        );
        let rollback = specs
            .iter()
            .find(|s| s.name == "rollback-checkout")
            .unwrap();
        assert!(rollback.bind(&["v1.4.2".into()]).is_ok());
        assert!(rollback.bind(&["1.4".into()]).is_err());
        let revert = specs.iter().find(|s| s.name == "revert").unwrap();
        assert!(
            revert
                .bind(&["repo=acme/checkout".into(), "target=6dcb09b".into()])
                .is_ok()
        );
    }
}
