//! Jobs in one order (`NewJob::in_order_of`) run one at a time in the order they were
//! written: a later message to an incident channel never overtakes an earlier one that is
//! waiting out a platform's outage or rate limit. On both backends, with a manual clock.

mod common;

use std::sync::Arc;

use bot_core::model::{JobId, NewJob, Retry};
use bot_core::store::Store;
use chrono::{DateTime, Duration, Utc};
use common::conformance;
use serde_json::json;
use uuid::Uuid;

const QUEUE: &str = "chat:slack";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn post(n: u32, order: &str, t: DateTime<Utc>) -> NewJob {
    NewJob::new(QUEUE, "chat.status_update", json!({ "n": n }), t).in_order_of(order)
}

/// Claims what is due at `now` for `owner`; returns the jobs' numbers and ids, by number.
async fn claim(store: &dyn Store, owner: Uuid, now: DateTime<Utc>) -> Vec<(u64, JobId)> {
    let queues = vec![QUEUE.to_owned()];
    let jobs = store
        .claim_jobs(&queues, owner, now, now + Duration::seconds(60), 10)
        .await
        .unwrap();
    let mut claimed: Vec<(u64, JobId)> = jobs
        .iter()
        .map(|j| (j.payload["n"].as_u64().unwrap(), j.id))
        .collect();
    claimed.sort_by_key(|(n, _)| *n);
    claimed
}

fn numbers(claimed: &[(u64, JobId)]) -> Vec<u64> {
    claimed.iter().map(|(n, _)| *n).collect()
}

async fn a_later_job_of_one_order_waits_for_the_earlier_ones(store: Arc<dyn Store>) {
    let t0 = at("2026-11-24T03:00:00Z");
    let owner = Uuid::new_v4();
    let queues = vec![QUEUE.to_owned()];
    store
        .enqueue(&[
            post(1, "incident:a", t0),
            post(2, "incident:a", t0 + Duration::milliseconds(1)),
            post(3, "incident:a", t0 + Duration::milliseconds(2)),
            post(10, "incident:b", t0 + Duration::milliseconds(3)),
            NewJob::new(QUEUE, "chat.alert_opened", json!({ "n": 20 }), t0),
        ])
        .await
        .unwrap();
    let now = t0 + Duration::seconds(1);
    // The first of each order, and the job in no order; nothing behind them.
    let first = claim(&*store, owner, now).await;
    assert_eq!(numbers(&first), [1, 10, 20]);
    assert!(claim(&*store, owner, now).await.is_empty());

    // The first post is rate limited for 30 s; the others went out.
    let retry_at = now + Duration::seconds(30);
    assert!(
        store
            .fail_job(first[0].1, owner, "429", Some(Retry::at(retry_at)), now)
            .await
            .unwrap()
    );
    assert!(store.complete_job(first[1].1, owner, now).await.unwrap());
    assert!(store.complete_job(first[2].1, owner, now).await.unwrap());
    // Nothing may go ahead of it, and no worker is woken before it is due.
    assert!(
        claim(&*store, owner, now + Duration::seconds(1))
            .await
            .is_empty()
    );
    assert_eq!(store.next_job_due(&queues).await.unwrap(), Some(retry_at));

    let again = claim(&*store, owner, retry_at).await;
    assert_eq!(numbers(&again), [1]);
    assert!(
        store
            .complete_job(again[0].1, owner, retry_at)
            .await
            .unwrap()
    );
    let second = claim(&*store, owner, retry_at).await;
    assert_eq!(numbers(&second), [2]);
    // A job given up on (dead) no longer holds the next one back.
    assert!(
        store
            .fail_job(second[0].1, owner, "refused", None, retry_at)
            .await
            .unwrap()
    );
    assert_eq!(numbers(&claim(&*store, owner, retry_at).await), [3]);
}

conformance!(a_later_job_of_one_order_waits_for_the_earlier_ones);
