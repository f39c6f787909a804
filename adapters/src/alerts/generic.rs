//! A generic JSON webhook, for tools without a parser of their own: the integration's
//! [`Mapping`] says where in the body (by JSON pointer, RFC 6901) the summary, dedup key,
//! severity and status are, and optionally where an array of alerts is.

use bot_core::model::{AlertAction, AlertEvent};
use serde_json::Value;

use super::{PayloadError, severity_from_label};

/// At most this many labels are taken from an alert's top-level string fields, so that a
/// large body cannot flood the alert card and the store with labels.
const MAX_LABELS: usize = 50;

/// Where a generic webhook's body keeps what an alert needs. Each field except
/// `resolved_values` is a JSON pointer (`/data/title`; `""` is the whole alert).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The alert's summary. Required.
    pub summary: String,
    /// The alert's deduplication key. Required: without one, a resolve could not find its
    /// alert.
    pub dedup_key: String,
    /// The severity, read like an Alertmanager `severity` label; absent means warning.
    pub severity: Option<String>,
    /// The status; one of `resolved_values` resolves the alert, anything else triggers it.
    pub status: Option<String>,
    /// Status values that mean resolved, compared case-insensitively.
    #[serde(default = "default_resolved_values")]
    pub resolved_values: Vec<String>,
    /// An array of alerts; when absent the body is one alert.
    pub alerts: Option<String>,
}

fn default_resolved_values() -> Vec<String> {
    ["resolved", "ok", "OK"].map(str::to_owned).into()
}

impl Mapping {
    /// Checks that every pointer is one: `""` or starting with `/`. Run on configuration,
    /// so that a typo is reported at start-up rather than as "missing" on every alert.
    pub fn validate(&self) -> Result<(), String> {
        let pointers = [
            ("summary", Some(&self.summary)),
            ("dedup_key", Some(&self.dedup_key)),
            ("severity", self.severity.as_ref()),
            ("status", self.status.as_ref()),
            ("alerts", self.alerts.as_ref()),
        ];
        for (name, pointer) in pointers {
            if let Some(pointer) = pointer
                && !pointer.is_empty()
                && !pointer.starts_with('/')
            {
                return Err(format!(
                    "`{name}` is not a JSON pointer: {pointer:?} must be empty or start with '/'"
                ));
            }
        }
        Ok(())
    }
}

/// Parses a body by `mapping` into one event per alert.
pub fn parse(body: &[u8], mapping: &Mapping) -> Result<Vec<AlertEvent>, PayloadError> {
    let value = super::json(body)?;
    let Some(pointer) = &mapping.alerts else {
        return Ok(vec![event(&value, mapping, None)?]);
    };
    let alerts = match value.pointer(pointer) {
        Some(Value::Array(alerts)) => alerts,
        Some(_) => {
            return Err(PayloadError::field(
                None,
                pointer.clone(),
                "expected an array of alerts",
            ));
        }
        None => {
            return Err(PayloadError::field(
                None,
                pointer.clone(),
                "missing; expected an array of alerts",
            ));
        }
    };
    // The whole batch or nothing, as for Alertmanager.
    alerts
        .iter()
        .enumerate()
        .map(|(index, alert)| event(alert, mapping, Some((pointer, index))))
        .collect()
}

/// The event for one alert; `batch` is the alerts pointer and the alert's index in it.
fn event(
    alert: &Value,
    mapping: &Mapping,
    batch: Option<(&str, usize)>,
) -> Result<AlertEvent, PayloadError> {
    let read = Reader { alert, batch };
    let optional = |name, pointer: &Option<String>| match pointer {
        Some(pointer) => read.optional(name, pointer),
        None => Ok(None),
    };
    let summary = read.required("summary", &mapping.summary)?;
    let dedup_key = read.required("dedup_key", &mapping.dedup_key)?;
    let severity = optional("severity", &mapping.severity)?;
    let resolved = optional("status", &mapping.status)?.is_some_and(|status| {
        mapping
            .resolved_values
            .iter()
            .any(|value| value.eq_ignore_ascii_case(&status))
    });

    Ok(AlertEvent {
        action: if resolved {
            AlertAction::Resolve
        } else {
            AlertAction::Trigger
        },
        dedup_key: Some(dedup_key),
        severity: severity_from_label(severity.as_deref()),
        summary,
        details: alert.clone(),
        labels: alert
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
            .take(MAX_LABELS)
            .collect(),
        links: Vec::new(),
    })
}

/// Reads mapped fields of one alert as text.
struct Reader<'a> {
    alert: &'a Value,
    batch: Option<(&'a str, usize)>,
}

impl Reader<'_> {
    /// A string, number or boolean that must be there and not blank.
    fn required(&self, name: &str, pointer: &str) -> Result<String, PayloadError> {
        match self.optional(name, pointer)? {
            None => Err(self.error(name, pointer, "is missing or null")),
            Some(text) if text.trim().is_empty() => Err(self.error(name, pointer, "is blank")),
            Some(text) => Ok(text),
        }
    }

    /// A string, number or boolean, as text; absent and `null` are `None`.
    fn optional(&self, name: &str, pointer: &str) -> Result<Option<String>, PayloadError> {
        match self.alert.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(Value::Bool(flag)) => Ok(Some(flag.to_string())),
            Some(Value::Array(_) | Value::Object(_)) => {
                Err(self.error(name, pointer, "is not a string, number or boolean"))
            }
        }
    }

    /// Names the field by its pointer from the root of the body (`/alerts/3/title`), and the
    /// alert by its index in a batch.
    fn error(&self, name: &str, pointer: &str, problem: &str) -> PayloadError {
        let location = match self.batch {
            Some((alerts, index)) => format!("{alerts}/{index}{pointer}"),
            None => pointer.to_owned(),
        };
        PayloadError::field(
            self.batch.map(|(_, index)| index),
            location,
            format!("{name} {problem}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use bot_core::model::AlertSeverity;
    use serde_json::json;

    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            summary: "/title".into(),
            dedup_key: "/id".into(),
            severity: Some("/level".into()),
            status: Some("/state".into()),
            resolved_values: default_resolved_values(),
            alerts: None,
        }
    }

    fn batch() -> Mapping {
        Mapping {
            alerts: Some("/data/alerts".into()),
            ..mapping()
        }
    }

    fn parse_value(value: Value, mapping: &Mapping) -> Result<Vec<AlertEvent>, PayloadError> {
        parse(value.to_string().as_bytes(), mapping)
    }

    #[test]
    fn a_mapping_reads_from_config_with_defaults() {
        let mapping: Mapping =
            serde_json::from_value(json!({"summary": "/title", "dedup_key": "/id"})).unwrap();
        assert_eq!(mapping.resolved_values, ["resolved", "ok", "OK"]);
        assert_eq!(
            (mapping.severity, mapping.status, mapping.alerts),
            (None, None, None)
        );
        let typo = json!({"summary": "/t", "dedup_key": "/i", "severty": "/s"});
        assert!(serde_json::from_value::<Mapping>(typo).is_err());
        assert!(serde_json::from_value::<Mapping>(json!({"summary": "/t"})).is_err());
    }

    #[test]
    fn validate_wants_every_pointer_empty_or_rooted() {
        assert_eq!(mapping().validate(), Ok(()));
        let whole = Mapping {
            summary: String::new(),
            ..batch()
        };
        assert_eq!(whole.validate(), Ok(()));
        let err = Mapping {
            status: Some("state".into()),
            ..mapping()
        }
        .validate()
        .unwrap_err();
        assert!(err.starts_with("`status` is not a JSON pointer"), "{err}");
        let err = Mapping {
            alerts: Some("data/alerts".into()),
            ..mapping()
        }
        .validate()
        .unwrap_err();
        assert!(err.starts_with("`alerts`"), "{err}");
    }

    #[test]
    fn a_single_alert_body_maps_every_field() {
        let body = json!({"title": "Queue backed up", "id": 4711, "level": "P1", "state": "alerting",
                          "count": 3, "host": "mq-1", "nested": {"a": "b"}});
        let events = parse_value(body.clone(), &mapping()).unwrap();
        let [event] = &events[..] else {
            panic!("one event expected: {events:?}");
        };
        assert_eq!(event.action, AlertAction::Trigger);
        assert_eq!(event.dedup_key.as_deref(), Some("4711"));
        assert_eq!(event.summary, "Queue backed up");
        assert_eq!(event.severity, AlertSeverity::Critical);
        assert_eq!(event.details, body);
        assert_eq!(
            event.labels.keys().collect::<Vec<_>>(),
            ["host", "level", "state", "title"]
        );
        assert!(event.links.is_empty());
    }

    #[test]
    fn status_in_resolved_values_resolves_case_insensitively() {
        for (state, action) in [
            (json!("OK"), AlertAction::Resolve),
            (json!("Resolved"), AlertAction::Resolve),
            (json!("ok"), AlertAction::Resolve),
            (json!("firing"), AlertAction::Trigger),
            (Value::Null, AlertAction::Trigger),
        ] {
            let body = json!({"title": "t", "id": "k", "state": state});
            assert_eq!(
                parse_value(body, &mapping()).unwrap()[0].action,
                action,
                "{state}"
            );
        }
        let custom = Mapping {
            resolved_values: vec!["false".into()],
            status: Some("/active".into()),
            ..mapping()
        };
        let body = json!({"title": "t", "id": "k", "active": false});
        assert_eq!(
            parse_value(body, &custom).unwrap()[0].action,
            AlertAction::Resolve
        );
    }

    #[test]
    fn severity_is_read_like_a_label_and_defaults_to_warning() {
        for (level, severity) in [
            (json!("major"), AlertSeverity::Error),
            (json!("INFO"), AlertSeverity::Info),
            (json!(5), AlertSeverity::Warning),
            (Value::Null, AlertSeverity::Warning),
        ] {
            let body = json!({"title": "t", "id": "k", "level": level});
            assert_eq!(parse_value(body, &mapping()).unwrap()[0].severity, severity);
        }
    }

    #[test]
    fn missing_summary_or_key_names_the_pointer() {
        let err = parse_value(json!({"id": "k"}), &mapping()).unwrap_err();
        assert_eq!((err.index, err.field.as_deref()), (None, Some("/title")));
        assert_eq!(err.message, "/title: summary is missing or null");

        let err = parse_value(json!({"title": "t", "id": null}), &mapping()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/id"));

        let err = parse_value(json!({"title": {"a": 1}, "id": "k"}), &mapping()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/title"));
        assert!(err.message.contains("not a string"), "{err}");

        let err = parse_value(json!({"title": " ", "id": "k"}), &mapping()).unwrap_err();
        assert_eq!(err.message, "/title: summary is blank");

        let err =
            parse_value(json!({"title": "t", "id": "k", "level": []}), &mapping()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/level"));
    }

    #[test]
    fn a_batch_with_one_bad_alert_is_refused_with_its_index() {
        let body = json!({"data": {"alerts": [
            {"title": "a", "id": "1"},
            {"title": "b", "id": true},
            {"id": "3"},
        ]}});
        let err = parse_value(body.clone(), &batch()).unwrap_err();
        assert_eq!(err.index, Some(2));
        assert_eq!(err.field.as_deref(), Some("/data/alerts/2/title"));
        assert_eq!(
            err.message,
            "/data/alerts/2/title: summary is missing or null"
        );

        let mut good = body;
        good["data"]["alerts"][2]["title"] = json!("c");
        let events = parse_value(good, &batch()).unwrap();
        let keys: Vec<_> = events.iter().map(|e| e.dedup_key.as_deref()).collect();
        assert_eq!(keys, [Some("1"), Some("true"), Some("3")]);
    }

    #[test]
    fn the_alerts_pointer_must_reach_an_array() {
        let err = parse_value(json!({"data": {}}), &batch()).unwrap_err();
        assert_eq!(
            (err.index, err.field.as_deref()),
            (None, Some("/data/alerts"))
        );
        let err = parse_value(json!({"data": {"alerts": {}}}), &batch()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/data/alerts"));

        let root = Mapping {
            alerts: Some(String::new()),
            ..mapping()
        };
        let events = parse_value(json!([{"title": "a", "id": "1"}]), &root).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(parse_value(json!([]), &root), Ok(vec![]));
    }

    #[test]
    fn labels_are_top_level_strings_at_most_fifty() {
        let mut body = json!({"title": "t", "id": "k"});
        for n in 0..80 {
            body[format!("f{n:02}")] = json!(format!("v{n}"));
        }
        let labels = &parse_value(body, &mapping()).unwrap()[0].labels;
        assert_eq!(labels.len(), MAX_LABELS);

        let scalar = parse_value(
            json!("just text"),
            &Mapping {
                summary: String::new(),
                dedup_key: String::new(),
                ..mapping()
            },
        )
        .unwrap();
        assert_eq!(scalar[0].summary, "just text");
        assert!(scalar[0].labels.is_empty());
    }

    #[test]
    fn malformed_json_has_no_field() {
        let err = parse(b"{\"title\": ", &mapping()).unwrap_err();
        assert!(err.message.starts_with("malformed JSON:"), "{err}");
        assert_eq!((err.index, err.field), (None, None));
    }
}
