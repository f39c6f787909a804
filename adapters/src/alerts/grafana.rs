//! Grafana unified alerting's webhook contact point (Grafana 9+). Its body is
//! Alertmanager's webhook payload plus Grafana's own fields (silence, dashboard, panel and
//! image URLs, the evaluated values), so the rules are Alertmanager's with more links.
//!
//! Grafana sends `"version": "1"` and has changed the extra fields between releases
//! (`valueString` became `values`), so no version is required: only `alerts`.

use bot_core::model::AlertEvent;
use serde_json::Value;

use super::PayloadError;
use super::alertmanager::{events, push_link};

/// Parses a Grafana webhook body into one event per alert.
pub fn parse(body: &[u8]) -> Result<Vec<AlertEvent>, PayloadError> {
    let value = super::json(body)?;
    events(&super::decode(&value)?, |alert, event| {
        for (href, text) in [
            (&alert.dashboard_url, "Dashboard"),
            (&alert.panel_url, "Panel"),
            (&alert.silence_url, "Silence"),
            (&alert.image_url, "Image"),
        ] {
            push_link(&mut event.links, href.as_deref(), text);
        }
        if let Some(details) = event.details.as_object_mut() {
            if let Some(text) = &alert.value_string {
                details.insert("valueString".to_owned(), Value::from(text.as_str()));
            }
            if let Some(values) = alert.values.as_ref().filter(|v| !v.is_null()) {
                details.insert("values".to_owned(), values.clone());
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use bot_core::model::{AlertAction, AlertSeverity, Link};
    use serde_json::json;

    use super::*;

    fn alert(fingerprint: &str) -> Value {
        json!({
            "status": "firing",
            "labels": {"alertname": "High memory usage", "severity": "P2"},
            "annotations": {"description": "Memory above 90%"},
            "startsAt": "2021-10-12T09:51:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana/alerting/1/edit",
            "fingerprint": fingerprint,
            "silenceURL": "https://grafana/alerting/silence/new",
            "dashboardURL": "https://grafana/d/mem",
            "panelURL": "https://grafana/d/mem?viewPanel=2",
            "imageURL": "",
            "valueString": "[ var='B' value=93.1 ]",
            "values": {"B": 93.1},
        })
    }

    fn body(alerts: Vec<Value>) -> Vec<u8> {
        json!({"receiver": "tocsin", "status": "firing", "version": "1", "alerts": alerts})
            .to_string()
            .into_bytes()
    }

    fn link(href: &str, text: &str) -> Link {
        Link {
            href: href.into(),
            text: Some(text.into()),
        }
    }

    #[test]
    fn grafana_fields_become_links_and_details() {
        let mut a = alert("c6ea");
        // Same dashboard as the field: one link, not two.
        a["annotations"]["dashboard_url"] = json!("https://grafana/d/mem");
        a["annotations"]["runbook_url"] = json!("https://runbooks/mem");
        let events = parse(&body(vec![a])).unwrap();
        let [event] = &events[..] else {
            panic!("one event expected: {events:?}");
        };
        assert_eq!(event.action, AlertAction::Trigger);
        assert_eq!(event.dedup_key.as_deref(), Some("c6ea"));
        assert_eq!(event.severity, AlertSeverity::Error);
        assert_eq!(event.summary, "Memory above 90%");
        assert_eq!(
            event.links,
            [
                link("https://grafana/alerting/1/edit", "Source"),
                link("https://runbooks/mem", "Runbook"),
                link("https://grafana/d/mem", "Dashboard"),
                link("https://grafana/d/mem?viewPanel=2", "Panel"),
                link("https://grafana/alerting/silence/new", "Silence"),
            ]
        );
        assert_eq!(event.details["valueString"], "[ var='B' value=93.1 ]");
        assert_eq!(event.details["values"], json!({"B": 93.1}));
        assert_eq!(event.details["receiver"], "tocsin");
    }

    #[test]
    fn an_image_url_is_a_link_and_absent_extras_are_left_out() {
        let mut a = alert("a");
        a["imageURL"] = json!("https://grafana/render/mem.png");
        for key in [
            "valueString",
            "values",
            "silenceURL",
            "dashboardURL",
            "panelURL",
        ] {
            a.as_object_mut().unwrap().remove(key);
        }
        let events = parse(&body(vec![a])).unwrap();
        assert_eq!(
            events[0].links,
            [
                link("https://grafana/alerting/1/edit", "Source"),
                link("https://grafana/render/mem.png", "Image"),
            ]
        );
        assert!(events[0].details.get("valueString").is_none());
        assert!(events[0].details.get("values").is_none());
    }

    #[test]
    fn any_version_is_accepted_but_alerts_are_required() {
        let without_version = json!({"alerts": [alert("a")]}).to_string();
        assert_eq!(parse(without_version.as_bytes()).unwrap().len(), 1);
        let err = parse(br#"{"version": "1"}"#).unwrap_err();
        assert_eq!((err.index, err.field.as_deref()), (None, Some("alerts")));
    }

    #[test]
    fn one_bad_alert_refuses_the_batch_with_its_index() {
        let mut bad = alert("b");
        bad["status"] = json!("alerting");
        let err = parse(&body(vec![alert("a"), bad])).unwrap_err();
        assert_eq!(err.index, Some(1));
        assert_eq!(err.field.as_deref(), Some("alerts[1].status"));

        let mut bad = alert("b");
        bad["panelURL"] = json!(7);
        let err = parse(&body(vec![alert("a"), alert("c"), bad])).unwrap_err();
        assert_eq!(err.index, Some(2));
        assert_eq!(err.field.as_deref(), Some("alerts[2].panelURL"));
    }

    #[test]
    fn malformed_json_has_no_field() {
        let err = parse(b"not json").unwrap_err();
        assert!(err.message.starts_with("malformed JSON:"), "{err}");
        assert_eq!((err.index, err.field), (None, None));
    }
}
