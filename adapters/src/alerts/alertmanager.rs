//! Prometheus Alertmanager's webhook receiver (`webhook_config`), payload version "4": one
//! request per notification of an alert group, one event per alert in it, deduplicated by
//! the alert's fingerprint (a hash of its labels, stable while it fires and resolves).
//!
//! Grafana's unified alerting posts the same shape with more fields, so the types here
//! carry Grafana's additions too and `grafana` reuses the conversion.

use std::collections::BTreeMap;

use bot_core::model::{AlertAction, AlertEvent, Link};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PayloadError, nullable, severity_from_label};

/// Parses an Alertmanager webhook body into one event per alert.
pub fn parse(body: &[u8]) -> Result<Vec<AlertEvent>, PayloadError> {
    let value = super::json(body)?;
    // The version is checked before the shape: a future version may be shaped differently,
    // and "unsupported version" is the useful answer then.
    if let Some(object) = value.as_object() {
        let problem = match object.get("version") {
            Some(Value::String(version)) if version == "4" => None,
            None | Some(Value::Null) => Some("missing; expected \"4\"".to_owned()),
            Some(other) => Some(format!("unsupported version {other}; expected \"4\"")),
        };
        if let Some(problem) = problem {
            return Err(PayloadError::field(None, "version".to_owned(), problem));
        }
    }
    events(&super::decode(&value)?, |_, _| {})
}

/// One notification: the alerts of a group that share the route's `group_by` labels.
/// Fields Tocsin has no use for (`groupLabels`, `commonAnnotations`, `truncatedAlerts`)
/// are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Webhook {
    receiver: Option<String>,
    group_key: Option<String>,
    #[serde(rename = "externalURL")]
    external_url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    common_labels: BTreeMap<String, String>,
    alerts: Option<Vec<Alert>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Alert {
    status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    annotations: BTreeMap<String, String>,
    // Kept as sent: Alertmanager writes "0001-01-01T00:00:00Z" for "not ended", and the
    // core takes event times from its clock, not from the sender.
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: Option<String>,
    fingerprint: Option<String>,
    // Grafana's additions; Alertmanager never sends them.
    #[serde(rename = "silenceURL")]
    pub(super) silence_url: Option<String>,
    #[serde(rename = "dashboardURL")]
    pub(super) dashboard_url: Option<String>,
    #[serde(rename = "panelURL")]
    pub(super) panel_url: Option<String>,
    #[serde(rename = "imageURL")]
    pub(super) image_url: Option<String>,
    pub(super) value_string: Option<String>,
    pub(super) values: Option<Value>,
}

/// One event per alert of `webhook`, each passed through `extend` for what a superset of
/// the format carries. The first bad alert refuses the whole batch: applying half of it
/// and then refusing would leave the sender retrying alerts that were already taken.
pub(super) fn events(
    webhook: &Webhook,
    extend: impl Fn(&Alert, &mut AlertEvent),
) -> Result<Vec<AlertEvent>, PayloadError> {
    let Some(alerts) = &webhook.alerts else {
        return Err(PayloadError::field(
            None,
            "alerts".to_owned(),
            "missing; expected an array of alerts",
        ));
    };
    alerts
        .iter()
        .enumerate()
        .map(|(index, alert)| {
            let mut event = event(webhook, index, alert)?;
            extend(alert, &mut event);
            Ok(event)
        })
        .collect()
}

fn event(webhook: &Webhook, index: usize, alert: &Alert) -> Result<AlertEvent, PayloadError> {
    let action = match alert.status.as_deref() {
        Some("firing") => AlertAction::Trigger,
        Some("resolved") => AlertAction::Resolve,
        Some(other) => {
            return Err(PayloadError::alert(
                index,
                "status",
                format!("expected \"firing\" or \"resolved\", got {other:?}"),
            ));
        }
        None => {
            return Err(PayloadError::alert(
                index,
                "status",
                "missing; expected \"firing\" or \"resolved\"",
            ));
        }
    };
    let fingerprint = alert
        .fingerprint
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| PayloadError::alert(index, "fingerprint", "missing or blank"))?;

    let mut links = Vec::new();
    push_link(&mut links, alert.generator_url.as_deref(), "Source");
    for (annotation, text) in [("runbook_url", "Runbook"), ("dashboard_url", "Dashboard")] {
        push_link(
            &mut links,
            alert.annotations.get(annotation).map(String::as_str),
            text,
        );
    }

    Ok(AlertEvent {
        action,
        dedup_key: Some(fingerprint.to_owned()),
        severity: severity_from_label(alert.labels.get("severity").map(String::as_str)),
        summary: summary(alert),
        details: json!({
            "annotations": alert.annotations,
            "startsAt": alert.starts_at,
            "endsAt": alert.ends_at,
            "status": alert.status,
            "groupKey": webhook.group_key,
            "receiver": webhook.receiver,
            "externalURL": webhook.external_url,
            "commonLabels": webhook.common_labels,
        }),
        labels: alert.labels.clone(),
        links,
    })
}

/// The `summary` annotation, else `description`, else the alert named the way Prometheus
/// prints it; never empty, since a page nobody can read is worse than a plain one.
fn summary(alert: &Alert) -> String {
    let annotated = ["summary", "description"]
        .iter()
        .filter_map(|key| alert.annotations.get(*key))
        .map(|text| text.trim())
        .find(|text| !text.is_empty());
    if let Some(text) = annotated {
        return text.to_owned();
    }
    let name = alert
        .labels
        .get("alertname")
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
        .unwrap_or("Alert");
    let others: Vec<String> = alert
        .labels
        .iter()
        .filter(|(key, _)| *key != "alertname")
        .map(|(key, value)| format!("{key}={value:?}"))
        .collect();
    if others.is_empty() {
        name.to_owned()
    } else {
        format!("{name} {{{}}}", others.join(", "))
    }
}

/// Adds a link unless its address is blank or already there (Grafana can send the same
/// dashboard as a field and as an annotation).
pub(super) fn push_link(links: &mut Vec<Link>, href: Option<&str>, text: &str) {
    let Some(href) = href.map(str::trim).filter(|href| !href.is_empty()) else {
        return;
    };
    if links.iter().all(|link| link.href != href) {
        links.push(Link {
            href: href.to_owned(),
            text: Some(text.to_owned()),
        });
    }
}

#[cfg(test)]
mod tests {
    use bot_core::model::AlertSeverity;

    use super::*;

    fn alert(fingerprint: &str) -> Value {
        json!({
            "status": "firing",
            "labels": {"alertname": "DiskFull", "instance": "db-1", "severity": "page"},
            "annotations": {"summary": "Disk full on db-1"},
            "startsAt": "2026-11-26T05:37:08Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": fingerprint,
        })
    }

    fn body(alerts: Vec<Value>) -> Vec<u8> {
        json!({
            "version": "4",
            "groupKey": "{}:{alertname=\"DiskFull\"}",
            "receiver": "tocsin",
            "status": "firing",
            "externalURL": "http://alertmanager:9093",
            "commonLabels": {"alertname": "DiskFull"},
            "alerts": alerts,
        })
        .to_string()
        .into_bytes()
    }

    fn parse_one(alert: Value) -> AlertEvent {
        let mut events = parse(&body(vec![alert])).unwrap();
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    #[test]
    fn a_firing_alert_becomes_a_trigger_keyed_by_fingerprint() {
        let event = parse_one(alert("aa11"));
        assert_eq!(event.action, AlertAction::Trigger);
        assert_eq!(event.dedup_key.as_deref(), Some("aa11"));
        assert_eq!(event.severity, AlertSeverity::Critical);
        assert_eq!(event.summary, "Disk full on db-1");
        assert_eq!(event.labels.len(), 3);
        assert_eq!(event.labels["instance"], "db-1");
        assert_eq!(
            event.details,
            json!({
                "annotations": {"summary": "Disk full on db-1"},
                "startsAt": "2026-11-26T05:37:08Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "status": "firing",
                "groupKey": "{}:{alertname=\"DiskFull\"}",
                "receiver": "tocsin",
                "externalURL": "http://alertmanager:9093",
                "commonLabels": {"alertname": "DiskFull"},
            })
        );
        assert_eq!(
            event.links,
            [Link {
                href: "http://prometheus:9090/graph".into(),
                text: Some("Source".into())
            }]
        );
    }

    #[test]
    fn a_resolved_alert_becomes_a_resolve() {
        let mut resolved = alert("aa11");
        resolved["status"] = json!("resolved");
        assert_eq!(parse_one(resolved).action, AlertAction::Resolve);
    }

    #[test]
    fn version_other_than_4_is_refused_naming_version() {
        for version in [json!("3"), json!(4), Value::Null] {
            let mut payload: Value = serde_json::from_slice(&body(vec![alert("a")])).unwrap();
            payload["version"] = version;
            let err = parse(payload.to_string().as_bytes()).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("version"), "{err}");
            assert!(err.message.starts_with("version: "), "{err}");
        }
        let err = parse(br#"{"alerts": []}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("version"));
    }

    #[test]
    fn missing_alerts_is_refused_naming_alerts() {
        for payload in [r#"{"version":"4"}"#, r#"{"version":"4","alerts":null}"#] {
            let err = parse(payload.as_bytes()).unwrap_err();
            assert_eq!((err.index, err.field.as_deref()), (None, Some("alerts")));
        }
        assert_eq!(parse(&body(vec![])), Ok(vec![]));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_without_a_field() {
        let err = parse(b"[1, 2]").unwrap_err();
        assert_eq!(err.message, "expected a JSON object");
        assert_eq!((err.index, err.field), (None, None));
        let err = parse(b"{\"version\": \"4\"").unwrap_err();
        assert!(err.message.starts_with("malformed JSON:"), "{err}");
        assert_eq!(err.field, None);
    }

    #[test]
    fn one_bad_alert_refuses_the_batch_with_its_index() {
        let mut pending = alert("c");
        pending["status"] = json!("pending");
        let err = parse(&body(vec![alert("a"), alert("b"), pending])).unwrap_err();
        assert_eq!(err.index, Some(2));
        assert_eq!(err.field.as_deref(), Some("alerts[2].status"));
        assert!(err.message.contains("\"pending\""), "{err}");

        let mut no_status = alert("b");
        no_status.as_object_mut().unwrap().remove("status");
        let err = parse(&body(vec![alert("a"), no_status])).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("alerts[1].status"));
    }

    #[test]
    fn fingerprint_is_required_and_not_blank() {
        let mut missing = alert("x");
        missing.as_object_mut().unwrap().remove("fingerprint");
        for bad in [missing, alert(""), alert("  ")] {
            let err = parse(&body(vec![alert("a"), bad])).unwrap_err();
            assert_eq!(err.index, Some(1));
            assert_eq!(err.field.as_deref(), Some("alerts[1].fingerprint"));
        }
    }

    #[test]
    fn wrong_types_are_named_by_path_and_index() {
        let mut bad = alert("b");
        bad["labels"]["severity"] = json!(1);
        let err = parse(&body(vec![alert("a"), alert("c"), alert("d"), bad])).unwrap_err();
        assert_eq!(err.index, Some(3));
        assert_eq!(err.field.as_deref(), Some("alerts[3].labels.severity"));
        assert!(
            err.message.starts_with("alerts[3].labels.severity: "),
            "{err}"
        );

        let mut bad = alert("b");
        bad["labels"] = json!(["not", "a", "map"]);
        let err = parse(&body(vec![bad])).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("alerts[0].labels"));

        let err = parse(br#"{"version":"4","alerts":{}}"#).unwrap_err();
        assert_eq!((err.index, err.field.as_deref()), (None, Some("alerts")));
        let err = parse(br#"{"version":"4","alerts":[3]}"#).unwrap_err();
        assert_eq!(
            (err.index, err.field.as_deref()),
            (Some(0), Some("alerts[0]"))
        );
    }

    #[test]
    fn null_labels_and_annotations_are_empty() {
        let mut bare = alert("a");
        bare["labels"] = Value::Null;
        bare["annotations"] = Value::Null;
        let event = parse_one(bare);
        assert!(event.labels.is_empty());
        assert_eq!(event.severity, AlertSeverity::Warning);
        assert_eq!(event.summary, "Alert");
    }

    #[test]
    fn summary_falls_back_to_description_then_labels() {
        let mut described = alert("a");
        described["annotations"] = json!({"summary": " ", "description": "Disk is full"});
        assert_eq!(parse_one(described).summary, "Disk is full");

        let mut bare = alert("a");
        bare["annotations"] = json!({});
        assert_eq!(
            parse_one(bare.clone()).summary,
            r#"DiskFull {instance="db-1", severity="page"}"#
        );

        bare["labels"] = json!({"job": "db"});
        assert_eq!(parse_one(bare).summary, r#"Alert {job="db"}"#);
    }

    #[test]
    fn severity_comes_from_the_severity_label() {
        for (label, expected) in [
            (Some("Critical"), AlertSeverity::Critical),
            (Some("major"), AlertSeverity::Error),
            (Some("minor"), AlertSeverity::Warning),
            (Some("low"), AlertSeverity::Info),
            (Some("sev9"), AlertSeverity::Warning),
            (None, AlertSeverity::Warning),
        ] {
            let mut a = alert("a");
            match label {
                Some(label) => a["labels"]["severity"] = json!(label),
                None => {
                    a["labels"].as_object_mut().unwrap().remove("severity");
                }
            }
            assert_eq!(parse_one(a).severity, expected, "{label:?}");
        }
    }

    #[test]
    fn links_come_from_generator_runbook_and_dashboard() {
        let mut a = alert("a");
        a["generatorURL"] = json!("");
        a["annotations"]["runbook_url"] = json!("https://runbooks/disk");
        a["annotations"]["dashboard_url"] = json!("https://grafana/d/db");
        let links = parse_one(a).links;
        assert_eq!(
            links,
            [
                Link {
                    href: "https://runbooks/disk".into(),
                    text: Some("Runbook".into())
                },
                Link {
                    href: "https://grafana/d/db".into(),
                    text: Some("Dashboard".into())
                },
            ]
        );
    }
}
