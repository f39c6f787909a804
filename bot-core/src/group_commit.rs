//! Group commit for ingestion: concurrent requests share one transaction.
//!
//! Every request must be durable before it is answered, and a commit is the expensive part
//! (SQLite has one writer; PostgreSQL flushes its log). So a request queues its events and
//! then either waits for the request ahead of it to commit them along with its own, or
//! becomes that leader itself: it takes everything queued, commits it in one transaction,
//! and answers every request in the group. Nobody waits on a timer; under no load a request
//! commits alone, as before.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::model::{IngestEvent, IngestOutcome, NewJob};
use crate::store::{Store, StoreError, StoreResult};

type Reply = oneshot::Sender<StoreResult<Vec<IngestOutcome>>>;

/// The jobs a group's outcomes cause.
pub(crate) type GroupJobs = Arc<dyn Fn(&[IngestOutcome]) -> Vec<NewJob> + Send + Sync>;

struct Queued {
    events: Vec<IngestEvent>,
    reply: Reply,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Vec<Queued>>,
    leader: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    /// Ingests `events` in a transaction shared with whatever else is queued; `jobs` says
    /// which jobs a group's outcomes cause.
    pub(crate) async fn ingest(
        &self,
        store: Arc<dyn Store>,
        events: Vec<IngestEvent>,
        jobs: GroupJobs,
    ) -> StoreResult<Vec<IngestOutcome>> {
        let (reply, mut answer) = oneshot::channel();
        self.queue().push(Queued { events, reply });
        loop {
            let leader = tokio::select! {
                answered = &mut answer => return Self::received(answered),
                leader = self.leader.lock() => leader,
            };
            // The previous leader may have committed our events just before it let go.
            if let Ok(answered) = answer.try_recv() {
                return answered;
            }
            let group = std::mem::take(&mut *self.queue());
            // On a task of its own: if this request is dropped (its sender hung up), the
            // group it leads is still committed and answered.
            let commit = tokio::spawn(Self::commit(store.clone(), group, jobs.clone()));
            let _ = commit.await;
            drop(leader);
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        // Only plain pushes and takes happen under this lock; a poisoned one is still sound.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn received(
        answered: Result<StoreResult<Vec<IngestOutcome>>, oneshot::error::RecvError>,
    ) -> StoreResult<Vec<IngestOutcome>> {
        // Only a panic in the committing task drops a reply unanswered.
        answered.unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    /// Commits a group in one transaction and answers each request with its share. If the
    /// group fails, each request is tried on its own, so that one cannot fail the others.
    async fn commit(store: Arc<dyn Store>, group: Vec<Queued>, jobs: GroupJobs) {
        if group.is_empty() {
            return;
        }
        if group.len() > 1 {
            let all: Vec<IngestEvent> = group
                .iter()
                .flat_map(|q| q.events.iter().cloned())
                .collect();
            if let Ok(mut outcomes) = store.ingest(&all, &*jobs).await {
                for queued in group.into_iter().rev() {
                    let share = outcomes.split_off(outcomes.len() - queued.events.len());
                    let _ = queued.reply.send(Ok(share));
                }
                return;
            }
        }
        for queued in group {
            let result = store.ingest(&queued.events, &*jobs).await;
            let _ = queued.reply.send(result);
        }
    }
}
