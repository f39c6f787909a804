//! Ingestion through the core: concurrent requests share transactions (group commit), and
//! each still gets exactly its own outcomes, in its own order.

mod common;

use std::sync::Arc;

use bot_core::model::{
    AlertAction, AlertEvent, AlertFilter, AlertSeverity, IngestResult, Integration,
};
use bot_core::store::Store;
use bot_core::{Clock, Core, CoreSettings};
use common::{clock, conformance};
use serde_json::json;

fn integration(at: chrono::DateTime<chrono::Utc>) -> Integration {
    Integration {
        id: uuid::Uuid::now_v7(),
        service: "checkout".into(),
        name: "prometheus".into(),
        kind: "alertmanager".into(),
        origin: "cli".into(),
        settings: json!({}),
        created_at: at,
    }
}

fn trigger(key: String) -> AlertEvent {
    AlertEvent {
        action: AlertAction::Trigger,
        dedup_key: Some(key.clone()),
        severity: AlertSeverity::Error,
        summary: format!("{key} is failing"),
        details: json!({}),
        labels: Default::default(),
        links: Vec::new(),
    }
}

async fn concurrent_requests_each_get_their_own_outcomes(store: Arc<dyn Store>) {
    let clock = clock();
    let core = Core::new(
        store.clone(),
        Arc::new(clock.clone()),
        CoreSettings::default(),
    );
    let source = integration(clock.now());
    let mut requests = tokio::task::JoinSet::new();
    for r in 0..40 {
        let (core, source) = (core.clone(), source.clone());
        requests.spawn(async move {
            // Every request repeats its first key, so dedup inside a shared group shows too.
            let keys: Vec<String> = vec![format!("r{r}-a"), format!("r{r}-b"), format!("r{r}-a")];
            let outcomes = core
                .ingest(&source, keys.iter().cloned().map(trigger).collect())
                .await;
            (keys, outcomes.unwrap())
        });
    }
    while let Some(done) = requests.join_next().await {
        let (keys, outcomes) = done.unwrap();
        let got: Vec<&str> = outcomes.iter().map(|o| o.dedup_key.as_str()).collect();
        assert_eq!(got, keys.iter().map(String::as_str).collect::<Vec<_>>());
        let results: Vec<IngestResult> = outcomes.iter().map(|o| o.result).collect();
        assert_eq!(
            results,
            [
                IngestResult::Created,
                IngestResult::Created,
                IngestResult::Repeated
            ]
        );
        assert_eq!(
            outcomes[0].alert.as_ref().unwrap().id,
            outcomes[2].alert.as_ref().unwrap().id
        );
    }
    let alerts = store
        .list_alerts(&AlertFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(alerts.len(), 80);
    assert!(
        alerts
            .iter()
            .all(|a| a.event_count == if a.dedup_key.ends_with("-a") { 2 } else { 1 })
    );
}

conformance!(concurrent_requests_each_get_their_own_outcomes);
