//! PagerDuty Events API v2 (`POST /v2/enqueue`), so that anything that can page PagerDuty
//! (its client libraries, and the many tools with a PagerDuty integration) can page Tocsin
//! by changing the base URL. The `routing_key` names the integration.
//!
//! PagerDuty answers a bad event with every problem at once (`400 {"status": "invalid
//! event", "errors": [...]}`), each naming its field, so this parser collects them all in a
//! [`PdError`] instead of stopping at the first.

use std::collections::BTreeMap;
use std::fmt;

use bot_core::model::{AlertAction, AlertEvent, AlertSeverity, Link};
use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value, json};

/// PagerDuty's limits on the two strings it caps.
const MAX_SUMMARY_CHARS: usize = 1024;
const MAX_DEDUP_KEY_CHARS: usize = 255;

/// An accepted event and the integration it is addressed to.
#[derive(Clone, PartialEq)]
pub struct PdEvent {
    pub routing_key: String,
    pub event: AlertEvent,
}

impl fmt::Debug for PdEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The routing key is the integration's secret; debug output ends up in logs.
        f.debug_struct("PdEvent")
            .field("routing_key", &"***")
            .field("event", &self.event)
            .finish()
    }
}

/// Every problem found in the event, in PagerDuty's wording: each names its field in
/// quotes, like `'payload.summary' is missing or blank`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Event object is invalid: {}", .errors.join("; "))]
pub struct PdError {
    pub errors: Vec<String>,
}

/// Parses one Events API v2 body. For `acknowledge` and `resolve` only the routing and
/// dedup keys matter (PagerDuty ignores the rest), so the event's summary is empty and its
/// severity `Info`.
pub fn parse(body: &[u8]) -> Result<PdEvent, PdError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| PdError {
        errors: vec![format!("malformed JSON: {e}")],
    })?;
    let Some(object) = value.as_object() else {
        return Err(PdError {
            errors: vec!["the event is invalid (expected a JSON object)".to_owned()],
        });
    };
    let mut problems = Problems::default();

    let routing_key = problems.required(object, "routing_key");
    let action = match problems.required(object, "event_action") {
        Some("trigger") => Some(AlertAction::Trigger),
        Some("acknowledge") => Some(AlertAction::Acknowledge),
        Some("resolve") => Some(AlertAction::Resolve),
        Some(_) => {
            problems.invalid("event_action", "one of trigger, acknowledge, resolve");
            None
        }
        None => None,
    };
    let dedup_key = match action {
        Some(AlertAction::Acknowledge | AlertAction::Resolve) => {
            problems.required(object, "dedup_key")
        }
        // A trigger may leave the key out (or blank) and have one generated.
        _ => problems
            .optional(object, "dedup_key")
            .filter(|key| !key.trim().is_empty()),
    };
    if let Some(key) = dedup_key
        && key.chars().count() > MAX_DEDUP_KEY_CHARS
    {
        problems.too_long("dedup_key", MAX_DEDUP_KEY_CHARS);
    }

    let event = match action {
        Some(AlertAction::Trigger) => trigger(object, &mut problems),
        Some(action) => Some(AlertEvent {
            action,
            dedup_key: None,
            severity: AlertSeverity::Info,
            summary: String::new(),
            details: json!({}),
            labels: BTreeMap::new(),
            links: Vec::new(),
        }),
        None => None,
    };

    match (routing_key, event) {
        (Some(routing_key), Some(mut event)) if problems.0.is_empty() => {
            event.dedup_key = dedup_key.map(str::to_owned);
            Ok(PdEvent {
                routing_key: routing_key.to_owned(),
                event,
            })
        }
        _ => Err(PdError { errors: problems.0 }),
    }
}

/// The event a trigger describes, or `None` when something it needs is missing (each such
/// problem is in `problems`).
fn trigger(object: &Map<String, Value>, problems: &mut Problems) -> Option<AlertEvent> {
    let payload = match object.get("payload") {
        Some(Value::Object(payload)) => payload_fields(payload, problems),
        None | Some(Value::Null) => {
            problems.0.push("'payload' is missing".to_owned());
            None
        }
        Some(_) => {
            problems.invalid("payload", "an object");
            None
        }
    };
    // Checked even when the payload is unusable, so that one answer lists every problem.
    let mut links = links(object, problems);
    let images = images(object, problems);
    let client = problems.optional(object, "client");
    let client_url = problems.optional(object, "client_url");
    let Payload {
        summary,
        severity,
        labels,
        mut details,
    } = payload?;

    for (key, value) in [("images", images), ("client", client.map(Value::from))] {
        if let Some(value) = value {
            details.insert(key.to_owned(), value);
        }
    }
    if let Some(href) = client_url.filter(|href| !href.trim().is_empty()) {
        links.push(Link {
            href: href.to_owned(),
            text: client.map(str::to_owned),
        });
    }
    Some(AlertEvent {
        action: AlertAction::Trigger,
        dedup_key: None,
        severity,
        summary: summary.to_owned(),
        details: Value::Object(details),
        labels,
        links,
    })
}

/// What a trigger's `payload` object gives the event.
struct Payload<'a> {
    summary: &'a str,
    severity: AlertSeverity,
    labels: BTreeMap<String, String>,
    details: Map<String, Value>,
}

fn payload_fields<'a>(
    payload: &'a Map<String, Value>,
    problems: &mut Problems,
) -> Option<Payload<'a>> {
    let summary = problems.required(payload, "payload.summary");
    if let Some(summary) = summary
        && summary.chars().count() > MAX_SUMMARY_CHARS
    {
        problems.too_long("payload.summary", MAX_SUMMARY_CHARS);
    }
    let source = problems.required(payload, "payload.source");
    let severity = match problems.required(payload, "payload.severity") {
        Some("critical") => Some(AlertSeverity::Critical),
        Some("error") => Some(AlertSeverity::Error),
        Some("warning") => Some(AlertSeverity::Warning),
        Some("info") => Some(AlertSeverity::Info),
        Some(_) => {
            problems.invalid("payload.severity", "one of critical, error, warning, info");
            None
        }
        None => None,
    };
    let timestamp = problems.optional(payload, "payload.timestamp");
    if let Some(timestamp) = timestamp
        && !is_iso8601(timestamp)
    {
        problems.invalid("payload.timestamp", "an ISO 8601 date and time");
    }
    let component = problems.optional(payload, "payload.component");
    let group = problems.optional(payload, "payload.group");
    let class = problems.optional(payload, "payload.class");

    let mut labels = BTreeMap::new();
    let mut details = Map::new();
    for (key, value) in [
        ("source", source),
        ("component", component),
        ("group", group),
        ("class", class),
    ] {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            labels.insert(key.to_owned(), value.to_owned());
            details.insert(key.to_owned(), Value::from(value));
        }
    }
    if let Some(timestamp) = timestamp {
        details.insert("timestamp".to_owned(), Value::from(timestamp));
    }
    if let Some(custom) = payload.get("custom_details").filter(|v| !v.is_null()) {
        details.insert("custom_details".to_owned(), custom.clone());
    }
    Some(Payload {
        summary: summary?,
        severity: severity?,
        labels,
        details,
    })
}

/// `links: [{href, text?}]`.
fn links(object: &Map<String, Value>, problems: &mut Problems) -> Vec<Link> {
    let mut links = Vec::new();
    problems.each_object(object, "links", |problems, index, link| {
        let href = problems.required(link, &format!("links[{index}].href"));
        let text = problems.optional(link, &format!("links[{index}].text"));
        if let Some(href) = href {
            links.push(Link {
                href: href.to_owned(),
                text: text.map(str::to_owned),
            });
        }
    });
    links
}

/// `images: [{src, href?, alt?}]`, kept as sent for the details once checked.
fn images(object: &Map<String, Value>, problems: &mut Problems) -> Option<Value> {
    problems.each_object(object, "images", |problems, index, image| {
        problems.required(image, &format!("images[{index}].src"));
        problems.optional(image, &format!("images[{index}].href"));
        problems.optional(image, &format!("images[{index}].alt"));
    });
    object.get("images").filter(|v| !v.is_null()).cloned()
}

/// ISO 8601 as senders write it: RFC 3339, PagerDuty's own `+0000` offsets, or no offset.
fn is_iso8601(text: &str) -> bool {
    DateTime::parse_from_rfc3339(text).is_ok()
        || DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z").is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

/// The problems found so far, worded like PagerDuty's. Fields are looked up by the last
/// segment of their path (`payload.summary` -> `summary` in the payload object).
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn invalid(&mut self, path: &str, expected: &str) {
        self.0
            .push(format!("'{path}' is invalid (expected {expected})"));
    }

    fn too_long(&mut self, path: &str, max: usize) {
        self.0
            .push(format!("'{path}' is too long (max {max} characters)"));
    }

    /// A string that must be there and not blank.
    fn required<'a>(&mut self, object: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
        match object.get(key(path)) {
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text),
            None | Some(Value::Null | Value::String(_)) => {
                self.0.push(format!("'{path}' is missing or blank"));
                None
            }
            Some(_) => {
                self.invalid(path, "a string");
                None
            }
        }
    }

    /// A string that may be absent (or `null`), but is a string when present.
    fn optional<'a>(&mut self, object: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
        match object.get(key(path)) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text),
            Some(_) => {
                self.invalid(path, "a string");
                None
            }
        }
    }

    /// Calls `each` with the index and object of every item of an optional array of
    /// objects, in order, so problems are listed in the order of the body.
    fn each_object<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        path: &str,
        mut each: impl FnMut(&mut Self, usize, &'a Map<String, Value>),
    ) {
        let items = match object.get(key(path)) {
            None | Some(Value::Null) => return,
            Some(Value::Array(items)) => items,
            Some(_) => return self.invalid(path, "an array of objects"),
        };
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::Object(item) => each(self, index, item),
                _ => self.invalid(&format!("{path}[{index}]"), "an object"),
            }
        }
    }
}

fn key(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, key)| key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Value {
        json!({
            "routing_key": "R0UT1NG",
            "event_action": "trigger",
            "payload": {"summary": "Checkout down", "source": "checkout", "severity": "critical"},
        })
    }

    fn parse_value(value: &Value) -> Result<PdEvent, PdError> {
        parse(value.to_string().as_bytes())
    }

    fn errors(value: &Value) -> Vec<String> {
        parse_value(value).unwrap_err().errors
    }

    #[test]
    fn a_minimal_trigger_has_no_dedup_key() {
        let pd = parse_value(&minimal()).unwrap();
        assert_eq!(pd.routing_key, "R0UT1NG");
        assert_eq!(pd.event.action, AlertAction::Trigger);
        assert_eq!(pd.event.dedup_key, None);
        assert_eq!(pd.event.summary, "Checkout down");
        assert_eq!(pd.event.severity, AlertSeverity::Critical);
        assert_eq!(
            pd.event.labels,
            BTreeMap::from([("source".to_owned(), "checkout".to_owned())])
        );
        assert_eq!(pd.event.details, json!({"source": "checkout"}));
        assert!(pd.event.links.is_empty());
    }

    #[test]
    fn a_full_trigger_maps_every_field() {
        let body = json!({
            "routing_key": "R0UT1NG",
            "event_action": "trigger",
            "dedup_key": "db-1-disk",
            "payload": {
                "summary": "Disk full", "source": "db-1", "severity": "warning",
                "timestamp": "2015-07-17T08:42:58.315+0000",
                "component": "postgres", "group": "prod-datapipe", "class": "disk",
                "custom_details": {"free": 0},
            },
            "links": [{"href": "https://grafana/d/db", "text": "DB"}, {"href": "https://x"}],
            "images": [{"src": "https://grafana/db.png", "alt": "disk"}],
            "client": "Nagios",
            "client_url": "https://nagios/host/db-1",
        });
        let event = parse_value(&body).unwrap().event;
        assert_eq!(event.dedup_key.as_deref(), Some("db-1-disk"));
        assert_eq!(event.severity, AlertSeverity::Warning);
        assert_eq!(
            event.labels.keys().collect::<Vec<_>>(),
            ["class", "component", "group", "source"]
        );
        assert_eq!(event.labels["group"], "prod-datapipe");
        assert_eq!(
            event.details,
            json!({
                "source": "db-1", "component": "postgres", "group": "prod-datapipe",
                "class": "disk", "timestamp": "2015-07-17T08:42:58.315+0000",
                "custom_details": {"free": 0},
                "images": [{"src": "https://grafana/db.png", "alt": "disk"}],
                "client": "Nagios",
            })
        );
        assert_eq!(
            event.links,
            [
                Link {
                    href: "https://grafana/d/db".into(),
                    text: Some("DB".into())
                },
                Link {
                    href: "https://x".into(),
                    text: None
                },
                Link {
                    href: "https://nagios/host/db-1".into(),
                    text: Some("Nagios".into())
                },
            ]
        );
    }

    #[test]
    fn acknowledge_and_resolve_need_only_the_keys() {
        for (action, expected) in [
            ("acknowledge", AlertAction::Acknowledge),
            ("resolve", AlertAction::Resolve),
        ] {
            // PagerDuty ignores a payload on these, even a broken one.
            let body =
                json!({"routing_key": "R", "event_action": action, "dedup_key": "k", "payload": 3});
            let pd = parse_value(&body).unwrap();
            assert_eq!(pd.event.action, expected);
            assert_eq!(pd.event.dedup_key.as_deref(), Some("k"));
            assert_eq!(pd.event.summary, "");
            assert_eq!(pd.event.severity, AlertSeverity::Info);

            let body = json!({"routing_key": "R", "event_action": action, "dedup_key": " "});
            assert_eq!(errors(&body), ["'dedup_key' is missing or blank"]);
            let body = json!({"routing_key": "R", "event_action": action});
            assert_eq!(errors(&body), ["'dedup_key' is missing or blank"]);
        }
    }

    #[test]
    fn routing_key_and_event_action_are_required() {
        assert_eq!(
            errors(&json!({})),
            [
                "'routing_key' is missing or blank",
                "'event_action' is missing or blank"
            ]
        );
        let mut body = minimal();
        body["routing_key"] = json!(42);
        assert_eq!(
            errors(&body),
            ["'routing_key' is invalid (expected a string)"]
        );
        body["routing_key"] = json!("R");
        body["event_action"] = json!("escalate");
        assert_eq!(
            errors(&body),
            ["'event_action' is invalid (expected one of trigger, acknowledge, resolve)"]
        );
    }

    #[test]
    fn every_problem_of_a_trigger_is_listed_together() {
        let body = json!({
            "event_action": "trigger",
            "dedup_key": "k".repeat(256),
            "payload": {"summary": " ", "severity": "fatal", "timestamp": "yesterday", "component": 1},
            "links": [{"text": "no href"}, "x"],
            "images": [{"alt": "no src"}],
            "client_url": false,
        });
        assert_eq!(
            errors(&body),
            [
                "'routing_key' is missing or blank",
                "'dedup_key' is too long (max 255 characters)",
                "'payload.summary' is missing or blank",
                "'payload.source' is missing or blank",
                "'payload.severity' is invalid (expected one of critical, error, warning, info)",
                "'payload.timestamp' is invalid (expected an ISO 8601 date and time)",
                "'payload.component' is invalid (expected a string)",
                "'links[0].href' is missing or blank",
                "'links[1]' is invalid (expected an object)",
                "'images[0].src' is missing or blank",
                "'client_url' is invalid (expected a string)",
            ]
        );
    }

    #[test]
    fn a_trigger_needs_a_payload_object() {
        let mut body = minimal();
        body.as_object_mut().unwrap().remove("payload");
        assert_eq!(errors(&body), ["'payload' is missing"]);
        body["payload"] = json!("Checkout down");
        assert_eq!(errors(&body), ["'payload' is invalid (expected an object)"]);
        body["payload"] = json!({"summary": "s", "source": "s"});
        assert_eq!(errors(&body), ["'payload.severity' is missing or blank"]);
    }

    #[test]
    fn links_and_images_must_be_arrays_of_objects() {
        let mut body = minimal();
        body["links"] = json!({"href": "https://x"});
        body["images"] = json!("https://x.png");
        assert_eq!(
            errors(&body),
            [
                "'links' is invalid (expected an array of objects)",
                "'images' is invalid (expected an array of objects)",
            ]
        );
        body["links"] = json!([{"href": "https://x", "text": 3}]);
        body["images"] = json!([{"src": "https://x.png", "href": [], "alt": null}]);
        assert_eq!(
            errors(&body),
            [
                "'links[0].text' is invalid (expected a string)",
                "'images[0].href' is invalid (expected a string)",
            ]
        );
    }

    #[test]
    fn summary_and_dedup_key_lengths_are_capped_in_characters() {
        let mut body = minimal();
        body["payload"]["summary"] = json!("é".repeat(MAX_SUMMARY_CHARS));
        body["dedup_key"] = json!("ü".repeat(MAX_DEDUP_KEY_CHARS));
        assert!(parse_value(&body).is_ok());
        body["payload"]["summary"] = json!("e".repeat(MAX_SUMMARY_CHARS + 1));
        body["dedup_key"] = json!("u".repeat(MAX_DEDUP_KEY_CHARS + 1));
        assert_eq!(
            errors(&body),
            [
                "'dedup_key' is too long (max 255 characters)",
                "'payload.summary' is too long (max 1024 characters)",
            ]
        );
    }

    #[test]
    fn timestamps_are_iso_8601() {
        for ok in [
            "2015-07-17T08:42:58.315+0000",
            "2015-07-17T08:42:58Z",
            "2015-07-17T08:42:58.315+02:00",
            "2015-07-17T08:42:58",
        ] {
            assert!(is_iso8601(ok), "{ok}");
        }
        for bad in [
            "",
            "yesterday",
            "2015-07-17",
            "2015-13-17T08:42:58Z",
            "1437122578",
        ] {
            assert!(!is_iso8601(bad), "{bad}");
        }
        let mut body = minimal();
        body["payload"]["timestamp"] = json!(1437122578);
        assert_eq!(
            errors(&body),
            ["'payload.timestamp' is invalid (expected a string)"]
        );
    }

    #[test]
    fn a_client_url_without_client_is_an_untitled_link() {
        let mut body = minimal();
        body["client_url"] = json!("https://monitoring");
        let links = parse_value(&body).unwrap().event.links;
        assert_eq!(
            links,
            [Link {
                href: "https://monitoring".into(),
                text: None
            }]
        );
    }

    #[test]
    fn a_blank_dedup_key_on_a_trigger_means_none() {
        let mut body = minimal();
        body["dedup_key"] = json!("");
        assert_eq!(parse_value(&body).unwrap().event.dedup_key, None);
    }

    #[test]
    fn bodies_that_are_not_event_objects_are_refused() {
        let err = parse(b"{\"routing_key\":").unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert!(err.errors[0].starts_with("malformed JSON:"), "{err}");
        let err = parse(b"[]").unwrap_err();
        assert_eq!(
            err.errors,
            ["the event is invalid (expected a JSON object)"]
        );
    }

    #[test]
    fn debug_output_hides_the_routing_key() {
        let pd = parse_value(&minimal()).unwrap();
        assert!(!format!("{pd:?}").contains("R0UT1NG"));
    }
}
