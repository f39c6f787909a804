//! Every real alert payload in the shared fixtures (`alerts/` under `$TOCSIN_FIXTURES`,
//! by default `../shared/fixtures` next to the workspace) goes through its parser and gives
//! exactly the events its content says. A fixture added without a test here fails
//! `every_alert_fixture_has_a_test`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adapters::alerts::{alertmanager, generic, grafana, pagerduty};
use bot_core::model::{AlertAction, AlertEvent, AlertSeverity, Link};
use serde_json::{Value, json};

const ALERTMANAGER: [&str; 3] = [
    "alertmanager/webhook_v4_firing_2.json",
    "alertmanager/webhook_v4_firing_1_resolved_1.json",
    "alertmanager/webhook_v4_resolved_2.json",
];
const GRAFANA: [&str; 1] = ["grafana/webhook_docs_example.json"];
const PAGERDUTY: [&str; 4] = [
    "pagerduty/events_v2_trigger_full.json",
    "pagerduty/events_v2_trigger_minimal.json",
    "pagerduty/events_v2_acknowledge.json",
    "pagerduty/events_v2_resolve.json",
];

fn alerts_dir() -> PathBuf {
    std::env::var_os("TOCSIN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/fixtures"
            ))
        })
        .join("alerts")
}

fn read(name: &str) -> Vec<u8> {
    let path = alerts_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The PagerDuty fixtures are whole captured requests; the parser gets their body.
fn pagerduty_body(name: &str) -> Vec<u8> {
    let request: Value = serde_json::from_slice(&read(name)).expect("fixture is JSON");
    assert_eq!(request["path"], "/v2/enqueue", "{name}");
    request["body"].to_string().into_bytes()
}

fn link(href: &str, text: &str) -> Link {
    Link {
        href: href.to_owned(),
        text: Some(text.to_owned()),
    }
}

fn json_files(dir: &Path, root: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files(&path, root, found);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            let relative = path.strip_prefix(root).expect("under the root");
            found.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn every_alert_fixture_has_a_test() {
    let root = alerts_dir();
    let mut found = Vec::new();
    json_files(&root, &root, &mut found);
    found.sort();
    let mut tested: Vec<String> = [&ALERTMANAGER[..], &GRAFANA, &PAGERDUTY]
        .concat()
        .into_iter()
        .map(str::to_owned)
        .collect();
    tested.sort();
    assert_eq!(found, tested);
}

// --- Alertmanager: two checkout replicas, p99 latency, captured from Alertmanager 0.25.0.

const GENERATOR: &str = "http://prometheus.example.com:9090/graph?g0.expr=histogram_quantile%280.99%2C+rate%28http_request_duration_seconds_bucket%5B5m%5D%29%29+%3E+2";
const RUNBOOK: &str = "https://runbooks.example.com/checkout/latency";
const REPLICA_0: &str = "bc2ad8121cfbac33";
const REPLICA_1: &str = "0ad8a467f6d57c78";

/// What every event from the Alertmanager fixtures shares, checked once per event.
fn assert_latency_alert(event: &AlertEvent, fingerprint: &str, instance: &str) {
    let replica = instance.trim_end_matches(":8080");
    assert_eq!(event.dedup_key.as_deref(), Some(fingerprint));
    assert_eq!(event.summary, format!("p99 latency above 2s on {replica}"));
    assert_eq!(event.severity, AlertSeverity::Critical);
    assert_eq!(
        event.labels,
        BTreeMap::from(
            [
                ("alertname", "HighRequestLatency"),
                ("instance", instance),
                ("job", "checkout"),
                ("service", "checkout"),
                ("severity", "critical"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        )
    );
    assert_eq!(
        event.links,
        [link(GENERATOR, "Source"), link(RUNBOOK, "Runbook")]
    );
    assert_eq!(
        event.details["groupKey"],
        "{}:{alertname=\"HighRequestLatency\"}"
    );
    assert_eq!(event.details["receiver"], "capture");
    assert_eq!(
        event.details["externalURL"],
        "http://alertmanager.example.com:9093"
    );
    assert_eq!(
        event.details["commonLabels"],
        json!({"alertname": "HighRequestLatency", "job": "checkout", "service": "checkout", "severity": "critical"})
    );
    assert_eq!(event.details["startsAt"], "2026-11-26T05:37:08.84503Z");
    assert_eq!(
        event.details["annotations"]["description"],
        "Request latency p99 has been above 2 seconds for 5 minutes."
    );
}

#[test]
fn alertmanager_two_firing_alerts_trigger_two_events() {
    let events = alertmanager::parse(&read(ALERTMANAGER[0])).expect("valid payload");
    assert_eq!(events.len(), 2);
    assert_latency_alert(&events[0], REPLICA_0, "checkout-0:8080");
    assert_latency_alert(&events[1], REPLICA_1, "checkout-1:8080");
    for event in &events {
        assert_eq!(event.action, AlertAction::Trigger);
        assert_eq!(event.details["status"], "firing");
        assert_eq!(event.details["endsAt"], "0001-01-01T00:00:00Z");
    }
}

#[test]
fn alertmanager_one_resolved_one_firing_keeps_each_alerts_own_status() {
    let events = alertmanager::parse(&read(ALERTMANAGER[1])).expect("valid payload");
    assert_eq!(events.len(), 2);
    assert_latency_alert(&events[0], REPLICA_0, "checkout-0:8080");
    assert_latency_alert(&events[1], REPLICA_1, "checkout-1:8080");
    assert_eq!(events[0].action, AlertAction::Resolve);
    assert_eq!(events[0].details["endsAt"], "2026-11-26T05:42:11.84646Z");
    assert_eq!(events[1].action, AlertAction::Trigger);
    assert_eq!(events[1].details["endsAt"], "0001-01-01T00:00:00Z");
}

#[test]
fn alertmanager_two_resolved_alerts_resolve_both() {
    let events = alertmanager::parse(&read(ALERTMANAGER[2])).expect("valid payload");
    assert_eq!(events.len(), 2);
    assert_latency_alert(&events[0], REPLICA_0, "checkout-0:8080");
    assert_latency_alert(&events[1], REPLICA_1, "checkout-1:8080");
    assert!(events.iter().all(|e| e.action == AlertAction::Resolve));
    assert_eq!(events[0].details["endsAt"], "2026-11-26T05:42:16.849144Z");
    assert_eq!(events[1].details["endsAt"], "2026-11-26T05:42:16.849196Z");
}

// --- Grafana: the example body from Grafana's webhook notifier documentation.

#[test]
fn grafana_docs_example_gives_two_triggers_with_grafana_links() {
    let events = grafana::parse(&read(GRAFANA[0])).expect("valid payload");
    assert_eq!(events.len(), 2);
    let expected = [
        (
            "c6eadffa33fcdf37",
            "us-1",
            "High memory usage",
            "1afz29v7z",
            "T2",
        ),
        (
            "bc97ff14869b13e3",
            "eu-1",
            "High CPU usage",
            "d1rdpdv7k",
            "T1",
        ),
    ];
    for (event, (fingerprint, zone, alertname, rule, matcher)) in events.iter().zip(expected) {
        assert_eq!(event.action, AlertAction::Trigger);
        assert_eq!(event.dedup_key.as_deref(), Some(fingerprint));
        assert_eq!(
            event.summary,
            format!("This alert was triggered for zone {zone}")
        );
        // No severity label in the example: the documented default.
        assert_eq!(event.severity, AlertSeverity::Warning);
        assert_eq!(event.labels["alertname"], alertname);
        assert_eq!(event.labels["team"], "blue");
        assert_eq!(event.labels["zone"], zone);
        assert_eq!(
            event.links,
            [
                link(
                    &format!("https://play.grafana.org/alerting/{rule}/edit"),
                    "Source"
                ),
                link("https://myrunbook.com/runbook/1234", "Runbook"),
                link(
                    &format!(
                        "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3D{matcher}%2Cteam%3Dblue%2Czone%3D{zone}"
                    ),
                    "Silence"
                ),
            ]
        );
        assert_eq!(
            event.details["values"],
            json!({"B": 44.23943737541908, "C": 1})
        );
        assert_eq!(event.details["receiver"], "My Super Webhook");
        assert_eq!(event.details["commonLabels"], json!({"team": "blue"}));
        assert!(event.details.get("valueString").is_none());
    }
}

// --- PagerDuty: requests captured from PagerDuty's official Python client.

const ROUTING_KEY: &str = "R0UT1NGK3Y0000000000000000000000";

#[test]
fn pagerduty_full_trigger() {
    let pd = pagerduty::parse(&pagerduty_body(PAGERDUTY[0])).expect("valid event");
    assert_eq!(pd.routing_key, ROUTING_KEY);
    let event = pd.event;
    assert_eq!(event.action, AlertAction::Trigger);
    assert_eq!(event.dedup_key.as_deref(), Some("db-1-disk"));
    assert_eq!(event.summary, "Disk on db-1 is 95% full");
    assert_eq!(event.severity, AlertSeverity::Critical);
    assert_eq!(
        event.labels,
        BTreeMap::from([("source".to_owned(), "db-1.example.com".to_owned())])
    );
    assert_eq!(
        event.links,
        [link("https://grafana.example.com/d/db", "DB dashboard")]
    );
    assert_eq!(
        event.details,
        json!({
            "source": "db-1.example.com",
            "custom_details": {"free_bytes": 1073741824, "mount": "/var/lib/postgresql"},
            "images": [{"src": "https://grafana.example.com/render/db.png", "alt": "disk usage"}],
        })
    );
}

#[test]
fn pagerduty_minimal_trigger_leaves_the_dedup_key_to_tocsin() {
    let pd = pagerduty::parse(&pagerduty_body(PAGERDUTY[1])).expect("valid event");
    assert_eq!(pd.routing_key, ROUTING_KEY);
    let event = pd.event;
    assert_eq!(event.action, AlertAction::Trigger);
    assert_eq!(event.dedup_key, None);
    assert_eq!(event.summary, "Checkout error rate above 5%");
    assert_eq!(event.severity, AlertSeverity::Critical);
    assert_eq!(
        event.labels,
        BTreeMap::from([("source".to_owned(), "checkout".to_owned())])
    );
    assert!(event.links.is_empty());
    assert_eq!(event.details, json!({"source": "checkout"}));
}

#[test]
fn pagerduty_acknowledge_and_resolve_carry_only_the_dedup_key() {
    for (name, action) in [
        (PAGERDUTY[2], AlertAction::Acknowledge),
        (PAGERDUTY[3], AlertAction::Resolve),
    ] {
        let pd = pagerduty::parse(&pagerduty_body(name)).expect("valid event");
        assert_eq!(pd.routing_key, ROUTING_KEY, "{name}");
        let event = pd.event;
        assert_eq!(event.action, action, "{name}");
        assert_eq!(event.dedup_key.as_deref(), Some("db-1-disk"), "{name}");
        assert_eq!(event.summary, "", "{name}");
        assert_eq!(event.severity, AlertSeverity::Info, "{name}");
        assert!(event.labels.is_empty(), "{name}");
        assert!(event.links.is_empty(), "{name}");
    }
}

// --- Robustness: these parsers face the internet.

#[test]
fn cut_and_corrupted_fixtures_are_refused_or_parsed_never_a_panic() {
    let mapping = generic::Mapping {
        summary: "/annotations/summary".into(),
        dedup_key: "/fingerprint".into(),
        severity: Some("/labels/severity".into()),
        status: Some("/status".into()),
        resolved_values: vec!["resolved".into()],
        alerts: Some("/alerts".into()),
    };
    let fixtures = [&ALERTMANAGER[..], &GRAFANA, &PAGERDUTY].concat();
    for name in fixtures {
        let pd = name.starts_with("pagerduty/");
        let body = if pd { pagerduty_body(name) } else { read(name) };
        let parse = |bytes: &[u8]| {
            if pd {
                let _ = pagerduty::parse(bytes);
            } else {
                let _ = alertmanager::parse(bytes);
                let _ = grafana::parse(bytes);
                let _ = generic::parse(bytes, &mapping);
            }
        };
        for cut in 0..body.len() {
            parse(&body[..cut]);
            for replacement in [b'"', b'}'] {
                let mut corrupted = body.clone();
                corrupted[cut] = replacement;
                parse(&corrupted);
            }
        }
    }
}
