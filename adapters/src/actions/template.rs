//! Action templates: the text of a URL, a header value, a body, an argv item or an
//! environment value, with `{param}` for an argument of the action and `${NAME}` for an
//! environment variable of the bot's process (a secret). `{{` and `}}` are literal braces;
//! any other lone brace is an error, so that a typo cannot silently send `{host}` upstream.
//!
//! Each value is substituted as one whole value, escaped for where it goes ([`Context`]):
//! percent-encoded in a URL, JSON-string-escaped in a JSON body, refused in a header if it
//! holds a line break. What the value means is not this module's business: the core checked
//! the arguments against their parameter specs before the action ran.

use bot_core::actions::{ActionError, Args};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters: a value percent-encoded with this set
/// cannot add a path segment, a query, a parameter or a fragment to a URL.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A placeholder that a template names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{name}`: an argument of the action.
    Param(String),
    /// `${NAME}`: an environment variable of the bot's process, treated as a secret.
    Env(String),
}

/// The placeholders `template` names, each once, in order of first appearance; or why the
/// template cannot be read (a lone brace, an unclosed `${`, a name that is not one). For
/// the config loader, so that an action naming an unknown parameter is refused at start-up
/// rather than when someone runs it.
pub fn placeholders(template: &str) -> Result<Vec<Placeholder>, String> {
    let mut out: Vec<Placeholder> = Vec::new();
    for piece in parse(template)? {
        let placeholder = match piece {
            Piece::Text(_) => continue,
            Piece::Param(name) => Placeholder::Param(name),
            Piece::Env(name) => Placeholder::Env(name),
        };
        if !out.contains(&placeholder) {
            out.push(placeholder);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Param(String),
    Env(String),
}

fn parse(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    // Byte offset of `rest` in `template`, for error messages.
    let mut offset = 0;
    while let Some(i) = rest.find(['{', '}', '$']) {
        text.push_str(&rest[..i]);
        let tail = &rest[i..];
        let at = offset + i;
        let used = if tail.starts_with("{{") {
            text.push('{');
            2
        } else if tail.starts_with("}}") {
            text.push('}');
            2
        } else if tail.starts_with('}') {
            return Err(format!(
                "`}}` at byte {at} closes nothing; write `}}}}` for a literal brace"
            ));
        } else if tail.starts_with("${") && !tail.starts_with("${{") {
            let end = tail
                .find('}')
                .ok_or_else(|| format!("`${{` at byte {at} is not closed by `}}`"))?;
            let name = &tail[2..end];
            if !is_env_name(name) {
                return Err(format!(
                    "`${{{name}}}` at byte {at} is not an environment variable: a name is \
                     letters, digits and `_`, not starting with a digit"
                ));
            }
            pieces.push(Piece::Text(std::mem::take(&mut text)));
            pieces.push(Piece::Env(name.to_owned()));
            end + 1
        } else if tail.starts_with('$') {
            text.push('$');
            1
        } else {
            let name = tail.find('}').map(|end| &tail[1..end]);
            match name {
                Some(name) if is_param_name(name) => {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Param(name.to_owned()));
                    name.len() + 2
                }
                _ => {
                    return Err(format!(
                        "`{{` at byte {at} does not start a `{{parameter}}` placeholder; \
                         write `{{{{` for a literal brace"
                    ));
                }
            }
        };
        rest = &tail[used..];
        offset = at + used;
    }
    text.push_str(rest);
    pieces.push(Piece::Text(text));
    pieces.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
    Ok(pieces)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_param_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Does a body template hold JSON? It does when its text starts with `{` (written `{{`) or
/// `[`; values in it are then JSON-string-escaped.
pub(crate) fn is_json_body(template: &str) -> bool {
    let t = template.trim_start();
    t.starts_with("{{") || t.starts_with('[')
}

/// Where a rendered value goes, which decides how it is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// Arguments are percent-encoded as one path segment or query component. Secrets go in
    /// as they are: they come from the operator, and a secret may be a whole webhook URL.
    Url,
    /// A header value: a value with a line break is refused (it would start a new header).
    Header,
    /// Inside a JSON string in a body: values are JSON-string-escaped, without quotes.
    JsonBody,
    /// An argv item, an environment value, a body that is not JSON: values as they are.
    Raw,
}

/// An environment lookup: `std::env::var` in production, a map in tests.
pub(crate) type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The values templates draw on, and the secrets that were drawn, to redact from output.
pub(crate) struct Values<'a> {
    args: &'a Args,
    env: &'a EnvLookup,
    secrets: Vec<String>,
}

impl<'a> Values<'a> {
    pub(crate) fn new(args: &'a Args, env: &'a EnvLookup) -> Self {
        Values {
            args,
            env,
            secrets: Vec::new(),
        }
    }

    /// Renders `template` for `context`; `what` names it in errors ("the URL", "argument 2").
    /// An error never holds a value, only names: a value may be a secret.
    pub(crate) fn render(
        &mut self,
        template: &str,
        context: Context,
        what: &str,
    ) -> Result<String, ActionError> {
        let pieces =
            parse(template).map_err(|e| ActionError::NotConfigured(format!("{what}: {e}")))?;
        let mut out = String::with_capacity(template.len());
        for piece in pieces {
            let (value, secret, shown) = match piece {
                Piece::Text(text) => {
                    out.push_str(&text);
                    continue;
                }
                Piece::Param(name) => {
                    let value = self.args.get(&name).ok_or_else(|| {
                        ActionError::NotConfigured(format!(
                            "{what} names `{{{name}}}`, which is not a parameter of this action"
                        ))
                    })?;
                    (value.clone(), false, format!("`{{{name}}}`"))
                }
                Piece::Env(name) => {
                    let value = (self.env)(&name).ok_or_else(|| {
                        ActionError::NotConfigured(format!(
                            "environment variable {name} is not set"
                        ))
                    })?;
                    if !self.secrets.contains(&value) {
                        self.secrets.push(value.clone());
                    }
                    (value, true, format!("`${{{name}}}`"))
                }
            };
            match context {
                Context::Url if !secret => {
                    out.extend(utf8_percent_encode(&value, URL_COMPONENT));
                }
                Context::Header if value.contains(['\r', '\n']) => {
                    return Err(ActionError::NotConfigured(format!(
                        "{what}: the value of {shown} holds a line break, which a header \
                         cannot carry"
                    )));
                }
                Context::JsonBody => out.push_str(&json_escape(&value)),
                Context::Url | Context::Header | Context::Raw => out.push_str(&value),
            }
        }
        Ok(out)
    }

    /// Every secret drawn so far, in each form it may have been sent in (as is,
    /// percent-encoded, JSON-escaped), for [`bot_core::actions::redact`].
    pub(crate) fn redactions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for secret in &self.secrets {
            for form in [
                secret.clone(),
                utf8_percent_encode(secret, URL_COMPONENT).to_string(),
                json_escape(secret),
            ] {
                if !out.contains(&form) {
                    out.push(form);
                }
            }
        }
        out
    }
}

/// `value` as the inside of a JSON string.
fn json_escape(value: &str) -> String {
    let quoted = serde_json::to_string(value).expect("a string always serializes to JSON");
    quoted[1..quoted.len() - 1].to_owned()
}

/// Refuses a URL whose path has a `.` or `..` segment (percent-encoded or not): URL parsers
/// resolve those, so an argument `..` would climb out of the path the template wrote.
pub(crate) fn check_no_dot_segments(url: &str) -> Result<(), ActionError> {
    let Some((_, after_scheme)) = url.split_once("://") else {
        return Ok(()); // Not an absolute URL; parsing will say so.
    };
    let path_start = after_scheme.find(['/', '\\', '?', '#']);
    let path = match path_start {
        Some(start) => &after_scheme[start..],
        None => return Ok(()),
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    let dotted = path.split(['/', '\\']).any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    if dotted {
        return Err(ActionError::NotConfigured(
            "the URL's path would hold a `.` or `..` segment".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("t0k\"en/&".into()),
            _ => None,
        }
    }

    fn render(template: &str, context: Context, args: &[(&str, &str)]) -> Result<String, String> {
        let args: Args = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Values::new(&args, &env)
            .render(template, context, "the template")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn placeholders_are_listed_once_in_order() {
        assert_eq!(
            placeholders("https://{host}/x?t=${TOKEN}&h={host}&{{lit}}$5").unwrap(),
            [
                Placeholder::Param("host".into()),
                Placeholder::Env("TOKEN".into())
            ]
        );
        assert_eq!(placeholders("no placeholders, $ and {{}}").unwrap(), []);
        assert_eq!(
            placeholders("$${{x}}").unwrap(),
            [],
            "`$` then a literal brace"
        );
    }

    #[test]
    fn lone_braces_and_bad_names_are_refused() {
        for (template, says) in [
            ("{ \"a\": 1 }", "write `{{`"),
            ("a}", "closes nothing"),
            ("{host", "write `{{`"),
            ("{}", "write `{{`"),
            ("{a b}", "write `{{`"),
            ("${TOKEN", "not closed"),
            ("${1X}", "not an environment variable"),
            ("${A-B}", "not an environment variable"),
        ] {
            let err = placeholders(template).unwrap_err();
            assert!(err.contains(says), "{template}: {err}");
        }
    }

    #[test]
    fn literal_braces_survive_rendering() {
        assert_eq!(
            render(
                "{{\"a\": {{\"b\": [\"{x}\"]}}}}",
                Context::JsonBody,
                &[("x", "1")]
            )
            .unwrap(),
            r#"{"a": {"b": ["1"]}}"#
        );
        assert!(is_json_body("  {{\"a\": 1}}"));
        assert!(is_json_body("[1]"));
        assert!(!is_json_body("{x}"));
        assert!(!is_json_body("text"));
    }

    #[test]
    fn url_arguments_are_one_component_and_secrets_stay_as_they_are() {
        assert_eq!(
            render(
                "https://api/regions/{r}?q={r}&t=${TOKEN}",
                Context::Url,
                &[("r", "eu/../admin?x=1#f&y= %")]
            )
            .unwrap(),
            "https://api/regions/eu%2F..%2Fadmin%3Fx%3D1%23f%26y%3D%20%25?q=eu%2F..%2Fadmin%3Fx%3D1%23f%26y%3D%20%25&t=t0k\"en/&"
        );
    }

    #[test]
    fn dot_segments_are_refused() {
        for url in [
            "https://a/x/../y",
            "https://a/x/%2E%2e",
            "https://a/./y",
            "https://a/x\\..\\y",
        ] {
            assert!(check_no_dot_segments(url).is_err(), "{url}");
        }
        for url in [
            "https://a",
            "https://a/x/..y/a.b",
            "https://a/x?p=..",
            "https://a/x#..",
        ] {
            assert!(check_no_dot_segments(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn json_values_are_escaped_and_headers_refuse_line_breaks() {
        assert_eq!(
            render(
                "[\"{x}\", \"${TOKEN}\"]",
                Context::JsonBody,
                &[("x", "a\"b\\c\n")]
            )
            .unwrap(),
            r#"["a\"b\\c\n", "t0k\"en/&"]"#
        );
        let err = render("Bearer {x}", Context::Header, &[("x", "a\r\nX-Evil: 1")]).unwrap_err();
        assert!(err.contains("line break"), "{err}");
        assert!(!err.contains("Evil"), "the value is not echoed: {err}");
    }

    #[test]
    fn unknown_parameters_and_missing_secrets_are_named() {
        let err = render("{nope}", Context::Raw, &[]).unwrap_err();
        assert!(err.contains("`{nope}`"), "{err}");
        assert_eq!(
            render("${MISSING}", Context::Raw, &[]).unwrap_err(),
            "not configured: environment variable MISSING is not set"
        );
    }

    #[test]
    fn secrets_are_redacted_in_every_form_they_were_sent_in() {
        let args = Args::new();
        let mut values = Values::new(&args, &env);
        values.render("${TOKEN}", Context::Raw, "x").unwrap();
        assert_eq!(
            values.redactions(),
            ["t0k\"en/&", "t0k%22en%2F%26", "t0k\\\"en/&"]
        );
    }
}
