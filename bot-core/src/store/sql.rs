//! The one implementation of [`Store`](super::Store), written once and instantiated for
//! each backend by `impl_store!`. SQLite and PostgreSQL agree on all of this SQL (`$n`
//! parameters, `RETURNING`, partial indexes); where they do not — claiming jobs, locking
//! a row, expanding a list of queues — each backend supplies its own statement through
//! [`Dialect`].

/// The statements that differ between backends.
pub(super) trait Dialect {
    const NAME: &'static str;
    /// `SELECT * FROM incidents WHERE id = $1`, locking the row where the backend can.
    const INCIDENT_FOR_UPDATE: &'static str;
    /// `SELECT * FROM alerts WHERE id = $1`, locking the row where the backend can.
    const ALERT_FOR_UPDATE: &'static str;
    /// The unresolved alerts of service `$1` whose dedup key is in the JSON array `$2`,
    /// locked where possible.
    const OPEN_ALERTS_BY_KEYS: &'static str;
    /// Claims due jobs: `$1` owner, `$2` lease_until, `$3` now, `$4` JSON array of queues,
    /// `$5` limit. Returns the claimed rows. A job whose payload has an `order` (see
    /// [`crate::model::NewJob::in_order_of`]) is passed over while an earlier job of its
    /// queue with the same `order` is queued or running.
    const CLAIM_JOBS: &'static str;
    /// Ids of open alerts with a `paged` timeline entry for user `$1`, newest first.
    const OPEN_ALERTS_PAGED_TO: &'static str;
    /// The `epoch`, `cycle`, `level` and `attempt` of alert `$1`'s escalation, locked where
    /// the backend can.
    const ESCALATION_EPOCH_FOR_UPDATE: &'static str;
    /// Earliest moment a job of the queues in `$1` (JSON array) becomes claimable (one
    /// waiting behind an earlier job of its `order` does not count).
    const NEXT_JOB_DUE: &'static str;
    /// Run first in `replace_directory`, so that replicas starting together replace the
    /// directory one after the other instead of inserting into each other's half-written
    /// tables. None where a write transaction already shuts out every other writer.
    const LOCK_DIRECTORY: Option<&'static str>;
}

/// Rows per multi-row INSERT: far below SQLite's 32,766 and PostgreSQL's 65,535 bind
/// parameters at the widest table (alerts, 18 columns).
pub(super) const ROWS_PER_STATEMENT: usize = 500;

macro_rules! impl_store {
    ($store:ty, $conn:ty, $db:ty) => {
        use std::collections::{HashMap, HashSet};
        use std::sync::Arc;

        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use sqlx::types::Json;
        use tokio::sync::Notify;
        use uuid::Uuid;

        use crate::model::*;
        use crate::store::rows::{self, *};
        use crate::store::sql::{Dialect, ROWS_PER_STATEMENT};
        use crate::store::*;

        impl $store {
            async fn load_incident(
                conn: &mut $conn,
                id: IncidentId,
                lock: bool,
            ) -> StoreResult<Incident> {
                let sql = if lock {
                    <Self as Dialect>::INCIDENT_FOR_UPDATE
                } else {
                    "SELECT id, number, title, severity, status, commander, communications_lead, \
                     responders, services, declared_by, declared_at, updated_at, resolved_at \
                     FROM incidents WHERE id = $1"
                };
                let row: Option<IncidentRow> = sqlx::query_as(sql)
                    .bind(id.0)
                    .fetch_optional(&mut *conn)
                    .await?;
                let mut incident = row
                    .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?
                    .into_incident()?;
                Self::load_links(conn, &mut incident).await?;
                Ok(incident)
            }

            /// Fills in the channels and alerts, which live in their own tables.
            async fn load_links(conn: &mut $conn, incident: &mut Incident) -> StoreResult<()> {
                let channels: Vec<ChannelRow> = sqlx::query_as(
                    "SELECT platform, channel_id, name FROM incident_channels \
                     WHERE incident_id = $1 ORDER BY platform",
                )
                .bind(incident.id.0)
                .fetch_all(&mut *conn)
                .await?;
                incident.channels = channels.into_iter().map(ChannelRef::from).collect();
                let alerts: Vec<IncidentAlertRow> = sqlx::query_as(
                    "SELECT alert_id FROM incident_alerts \
                     WHERE incident_id = $1 ORDER BY linked_at, alert_id",
                )
                .bind(incident.id.0)
                .fetch_all(&mut *conn)
                .await?;
                incident.alerts = alerts.into_iter().map(|r| AlertId(r.alert_id)).collect();
                Ok(())
            }

            async fn insert_jobs(
                conn: &mut $conn,
                jobs: &[NewJob],
                now: DateTime<Utc>,
            ) -> StoreResult<Vec<JobId>> {
                let ids: Vec<JobId> = jobs.iter().map(|_| JobId::new()).collect();
                let rows: Vec<(&JobId, &NewJob)> = ids.iter().zip(jobs).collect();
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO jobs (id, queue, kind, payload, state, run_at, attempts, \
                         max_attempts, created_at, updated_at) ",
                    );
                    insert.push_values(chunk, |mut row, (id, job)| {
                        row.push_bind(id.0)
                            .push_bind(job.queue.clone())
                            .push_bind(job.kind.clone())
                            .push_bind(Json(job.payload.clone()))
                            .push_bind("queued")
                            .push_bind(job.run_at)
                            .push_bind(0i32)
                            .push_bind(job.max_attempts)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    insert.build().execute(&mut *conn).await?;
                }
                Ok(ids)
            }

            /// Writes timeline entries already built (ids and all), in one statement per
            /// few hundred.
            async fn insert_timeline_rows(
                conn: &mut $conn,
                entries: &[TimelineEntry],
            ) -> StoreResult<()> {
                for chunk in entries.chunks(ROWS_PER_STATEMENT) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO timeline (id, incident_id, alert_id, at, kind, actor, text, data) ",
                    );
                    insert.push_values(chunk, |mut row, e| {
                        row.push_bind(e.id)
                            .push_bind(e.incident_id.map(|i| i.0))
                            .push_bind(e.alert_id.map(|a| a.0))
                            .push_bind(e.at)
                            .push_bind(e.kind.as_str())
                            .push_bind(e.actor.clone())
                            .push_bind(e.text.clone())
                            .push_bind(Json(e.data.clone()));
                    });
                    insert.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// The entry as stored: with its id and its subject's column.
            fn timeline_row(entry: NewTimelineEntry) -> TimelineEntry {
                let (incident_id, alert_id) = match entry.subject {
                    Subject::Incident(id) => (Some(id), None),
                    Subject::Alert(id) => (None, Some(id)),
                };
                TimelineEntry {
                    id: Uuid::now_v7(),
                    incident_id,
                    alert_id,
                    at: entry.at,
                    kind: entry.kind,
                    actor: entry.actor,
                    text: entry.text,
                    data: entry.data,
                }
            }

            async fn insert_audit(
                conn: &mut $conn,
                e: NewAuditEntry,
            ) -> StoreResult<AuditEntry> {
                let stored = AuditEntry {
                    id: Uuid::now_v7(),
                    at: e.at,
                    actor: e.actor,
                    event: e.event,
                    action: e.action,
                    run_id: e.run_id,
                    incident_id: e.incident_id,
                    args: e.args,
                    detail: e.detail,
                };
                sqlx::query(
                    "INSERT INTO audit_log (id, at, actor, event, action, run_id, incident_id, args, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(stored.id)
                .bind(stored.at)
                .bind(&stored.actor)
                .bind(stored.event.as_str())
                .bind(&stored.action)
                .bind(stored.run_id)
                .bind(stored.incident_id.map(|i| i.0))
                .bind(Json(&stored.args))
                .bind(&stored.detail)
                .execute(&mut *conn)
                .await?;
                tracing::info!(
                    actor = %stored.actor,
                    event = %stored.event,
                    action = %stored.action,
                    run_id = ?stored.run_id,
                    "audit"
                );
                Ok(stored)
            }

            async fn insert_timeline(
                conn: &mut $conn,
                entry: NewTimelineEntry,
            ) -> StoreResult<TimelineEntry> {
                let stored = Self::timeline_row(entry);
                Self::insert_timeline_rows(conn, std::slice::from_ref(&stored)).await?;
                Ok(stored)
            }

            async fn write_incident(conn: &mut $conn, i: &Incident) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE incidents SET title = $2, severity = $3, status = $4, commander = $5, \
                     communications_lead = $6, responders = $7, services = $8, updated_at = $9, \
                     resolved_at = $10 WHERE id = $1",
                )
                .bind(i.id.0)
                .bind(&i.title)
                .bind(i.severity.as_str())
                .bind(i.status.as_str())
                .bind(i.commander.as_ref().map(|u| u.as_str()))
                .bind(i.communications_lead.as_ref().map(|u| u.as_str()))
                .bind(Json(&i.responders))
                .bind(Json(&i.services))
                .bind(i.updated_at)
                .bind(i.resolved_at)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn write_alert(conn: &mut $conn, a: &Alert) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE alerts SET status = $2, event_count = $3, last_seen_at = $4, \
                     acknowledged_by = $5, acknowledged_at = $6, resolved_by = $7, \
                     resolved_at = $8 WHERE id = $1",
                )
                .bind(a.id.0)
                .bind(a.status.as_str())
                .bind(a.event_count)
                .bind(a.last_seen_at)
                .bind(&a.acknowledged_by)
                .bind(a.acknowledged_at)
                .bind(&a.resolved_by)
                .bind(a.resolved_at)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn load_alert_locked(conn: &mut $conn, id: AlertId) -> StoreResult<Alert> {
                let row: Option<AlertRow> = sqlx::query_as(<Self as Dialect>::ALERT_FOR_UPDATE)
                    .bind(id.0)
                    .fetch_optional(&mut *conn)
                    .await?;
                row.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?
                    .try_into()
            }

            /// Acknowledge or resolve: load, apply the domain transition, write, record.
            async fn transition_alert(
                &self,
                id: AlertId,
                actor: &Actor,
                at: DateTime<Utc>,
                jobs: JobsFor<'_, Alert>,
                apply: fn(&mut Alert, &str, DateTime<Utc>)
                    -> Result<(TimelineKind, String), TransitionError>,
            ) -> StoreResult<Alert> {
                let mut tx = self.begin_write().await?;
                let mut alert = Self::load_alert_locked(&mut tx, id).await?;
                let (kind, text) = apply(&mut alert, &actor.to_string(), at)?;
                Self::write_alert(&mut tx, &alert).await?;
                Self::insert_timeline(
                    &mut tx,
                    NewTimelineEntry {
                        subject: Subject::Alert(id),
                        at,
                        kind,
                        actor: actor.to_string(),
                        text,
                        data: serde_json::json!({}),
                    },
                )
                .await?;
                let jobs = jobs(&alert);
                Self::insert_jobs(&mut tx, &jobs, at).await?;
                tx.commit().await?;
                self.signal_jobs(&jobs);
                Ok(alert)
            }

            /// Applies a batch of source events: reads the open alerts the batch's keys name
            /// (locked where the backend can), applies every event in order in memory, and
            /// writes the result with a few multi-row statements, so a batch of a hundred
            /// alerts costs a handful of round trips, not hundreds.
            async fn apply_batch(
                conn: &mut $conn,
                events: &[IngestEvent],
            ) -> StoreResult<Vec<IngestOutcome>> {
                let mut keys: HashMap<&str, Vec<&str>> = HashMap::new();
                for event in events {
                    let (service, key) = match event {
                        IngestEvent::Trigger(new) => (new.service.as_str(), new.dedup_key.as_str()),
                        IngestEvent::Acknowledge(k) | IngestEvent::Resolve(k) => {
                            (k.service.as_str(), k.dedup_key.as_str())
                        }
                    };
                    keys.entry(service).or_default().push(key);
                }
                // Open alerts by (service, key), and every alert touched by id.
                let mut open: HashMap<(ServiceId, String), AlertId> = HashMap::new();
                let mut alerts: HashMap<AlertId, Alert> = HashMap::new();
                for (service, keys) in keys {
                    let rows: Vec<AlertRow> = sqlx::query_as(<Self as Dialect>::OPEN_ALERTS_BY_KEYS)
                        .bind(service)
                        .bind(Json(keys))
                        .fetch_all(&mut *conn)
                        .await?;
                    for row in rows {
                        let alert: Alert = row.try_into()?;
                        open.insert((alert.service.clone(), alert.dedup_key.clone()), alert.id);
                        alerts.insert(alert.id, alert);
                    }
                }
                // Existing alerts in the order of their first change, then new ones.
                let mut changed: Vec<AlertId> = Vec::new();
                let mut created: Vec<AlertId> = Vec::new();
                let mut touched: HashSet<AlertId> = HashSet::new();
                let mut timeline: Vec<TimelineEntry> = Vec::new();
                let mut outcomes = Vec::with_capacity(events.len());
                let entry = |alert: AlertId, at, kind, actor: String, text| TimelineEntry {
                    id: Uuid::now_v7(),
                    incident_id: None,
                    alert_id: Some(alert),
                    at,
                    kind,
                    actor,
                    text,
                    data: serde_json::json!({}),
                };
                for event in events {
                    let outcome = match event {
                        IngestEvent::Trigger(new) => {
                            let key = (new.service.clone(), new.dedup_key.clone());
                            let actor = format!("integration:{}", new.source);
                            match open.get(&key).and_then(|id| alerts.get_mut(id)) {
                                Some(alert) => {
                                    let (kind, text) = alert.record_repeat(new.at);
                                    timeline.push(entry(alert.id, new.at, kind, actor, text));
                                    if touched.insert(alert.id) {
                                        changed.push(alert.id);
                                    }
                                    IngestOutcome {
                                        dedup_key: new.dedup_key.clone(),
                                        result: IngestResult::Repeated,
                                        alert: Some(alert.clone()),
                                    }
                                }
                                None => {
                                    let alert = Alert::open(new);
                                    let text = format!("Triggered: {}", alert.summary);
                                    timeline.push(entry(alert.id, new.at, TimelineKind::AlertTriggered, actor, text));
                                    open.insert(key, alert.id);
                                    touched.insert(alert.id);
                                    created.push(alert.id);
                                    alerts.insert(alert.id, alert.clone());
                                    IngestOutcome {
                                        dedup_key: new.dedup_key.clone(),
                                        result: IngestResult::Created,
                                        alert: Some(alert),
                                    }
                                }
                            }
                        }
                        IngestEvent::Acknowledge(k) | IngestEvent::Resolve(k) => {
                            let resolve = matches!(event, IngestEvent::Resolve(_));
                            let key = (k.service.clone(), k.dedup_key.clone());
                            let actor = format!("integration:{}", k.source);
                            match open.get(&key).copied().and_then(|id| alerts.get_mut(&id)) {
                                // A source repeating itself (acknowledging twice, resolving
                                // what is not open) is answered `Unchanged`, not refused:
                                // senders retry, and PagerDuty accepts these too.
                                None => IngestOutcome {
                                    dedup_key: k.dedup_key.clone(),
                                    result: IngestResult::Unchanged,
                                    alert: None,
                                },
                                Some(alert) => {
                                    let applied = if resolve {
                                        alert.resolve(&actor, k.at)
                                    } else {
                                        alert.acknowledge(&actor, k.at)
                                    };
                                    let result = match applied {
                                        Err(_) => IngestResult::Unchanged,
                                        Ok((kind, text)) => {
                                            timeline.push(entry(alert.id, k.at, kind, actor, text));
                                            if touched.insert(alert.id) {
                                                changed.push(alert.id);
                                            }
                                            if resolve {
                                                open.remove(&key);
                                                IngestResult::Resolved
                                            } else {
                                                IngestResult::Acknowledged
                                            }
                                        }
                                    };
                                    IngestOutcome {
                                        dedup_key: k.dedup_key.clone(),
                                        result,
                                        alert: Some(alert.clone()),
                                    }
                                }
                            }
                        }
                    };
                    outcomes.push(outcome);
                }
                // Existing alerts first: one resolved here frees its key for a new alert
                // later in the same statement, and the one-open-alert-per-key index is
                // checked row by row.
                let rows: Vec<&Alert> = changed
                    .iter()
                    .chain(&created)
                    .filter_map(|id| alerts.get(id))
                    .collect();
                Self::upsert_alerts(conn, &rows).await?;
                Self::insert_timeline_rows(conn, &timeline).await?;
                Ok(outcomes)
            }

            async fn upsert_alerts(conn: &mut $conn, rows: &[&Alert]) -> StoreResult<()> {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    let mut upsert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO alerts (id, service, source, dedup_key, severity, urgency, \
                         summary, details, labels, links, status, event_count, created_at, \
                         last_seen_at, acknowledged_by, acknowledged_at, resolved_by, resolved_at) ",
                    );
                    upsert.push_values(chunk, |mut row, a| {
                        row.push_bind(a.id.0)
                            .push_bind(a.service.to_string())
                            .push_bind(a.source.clone())
                            .push_bind(a.dedup_key.clone())
                            .push_bind(a.severity.as_str())
                            .push_bind(a.urgency.as_str())
                            .push_bind(a.summary.clone())
                            .push_bind(Json(a.details.clone()))
                            .push_bind(Json(a.labels.clone()))
                            .push_bind(Json(a.links.clone()))
                            .push_bind(a.status.as_str())
                            .push_bind(a.event_count)
                            .push_bind(a.created_at)
                            .push_bind(a.last_seen_at)
                            .push_bind(a.acknowledged_by.clone())
                            .push_bind(a.acknowledged_at)
                            .push_bind(a.resolved_by.clone())
                            .push_bind(a.resolved_at);
                    });
                    upsert.push(
                        " ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
                         event_count = excluded.event_count, last_seen_at = excluded.last_seen_at, \
                         acknowledged_by = excluded.acknowledged_by, \
                         acknowledged_at = excluded.acknowledged_at, \
                         resolved_by = excluded.resolved_by, resolved_at = excluded.resolved_at",
                    );
                    upsert.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// One attempt at a batch; a unique violation means a concurrent batch opened an
            /// alert with one of our keys first, and the caller tries again to fold into it.
            async fn try_ingest(
                &self,
                events: &[IngestEvent],
                jobs: JobsFor<'_, [IngestOutcome]>,
            ) -> StoreResult<Vec<IngestOutcome>> {
                let mut tx = self.begin_write().await?;
                let outcomes = Self::apply_batch(&mut tx, events).await?;
                let jobs = jobs(&outcomes);
                let at = events
                    .iter()
                    .map(|e| match e {
                        IngestEvent::Trigger(new) => new.at,
                        IngestEvent::Acknowledge(k) | IngestEvent::Resolve(k) => k.at,
                    })
                    .max();
                if let Some(at) = at {
                    Self::insert_jobs(&mut tx, &jobs, at).await?;
                }
                tx.commit().await?;
                self.signal_jobs(&jobs);
                Ok(outcomes)
            }

            async fn insert_integration(conn: &mut $conn, new: &NewIntegration) -> StoreResult<Integration> {
                let integration = Integration {
                    id: Uuid::now_v7(),
                    service: new.service.clone(),
                    name: new.name.clone(),
                    kind: new.kind.clone(),
                    origin: new.origin.clone(),
                    settings: new.settings.clone(),
                    created_at: new.at,
                };
                sqlx::query(
                    "INSERT INTO integrations (id, service, name, kind, key_hash, origin, settings, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(integration.id)
                .bind(integration.service.as_str())
                .bind(&integration.name)
                .bind(&integration.kind)
                .bind(&new.key_hash)
                .bind(&integration.origin)
                .bind(Json(&integration.settings))
                .bind(integration.created_at)
                .execute(&mut *conn)
                .await
                .map_err(|e| Self::key_conflict(e, &new.name))?;
                Ok(integration)
            }

            async fn insert_heartbeat(conn: &mut $conn, new: &NewHeartbeat) -> StoreResult<Heartbeat> {
                let heartbeat = Heartbeat {
                    id: Uuid::now_v7(),
                    service: new.service.clone(),
                    name: new.name.clone(),
                    interval: new.interval,
                    grace: new.grace,
                    origin: new.origin.clone(),
                    created_at: new.at,
                    last_ping_at: None,
                };
                sqlx::query(
                    "INSERT INTO heartbeats (id, service, name, key_hash, interval_ms, grace_ms, \
                     origin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(heartbeat.id)
                .bind(heartbeat.service.as_str())
                .bind(&heartbeat.name)
                .bind(&new.key_hash)
                .bind(heartbeat.interval.num_milliseconds())
                .bind(heartbeat.grace.num_milliseconds())
                .bind(&heartbeat.origin)
                .bind(heartbeat.created_at)
                .execute(&mut *conn)
                .await
                .map_err(|e| Self::key_conflict(e, &new.name))?;
                Ok(heartbeat)
            }

            /// A unique violation on an integration or heartbeat: its name is taken in the
            /// service, or (astronomically unlikely, or a key reused on purpose) its key.
            fn key_conflict(e: sqlx::Error, name: &str) -> StoreError {
                match e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(
                        format!("`{name}` already exists in this service, or its key is already in use"),
                    ),
                    other => other.into(),
                }
            }

            fn signal_jobs(&self, jobs: &[NewJob]) {
                self.jobs_signal.notify(jobs);
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                <Self as Dialect>::NAME
            }

            fn job_signal(&self, queues: &[String]) -> Arc<Notify> {
                self.jobs_signal.subscribe(queues)
            }

            async fn migrate(&self) -> StoreResult<()> {
                Self::MIGRATOR.run(self.writer()).await?;
                Ok(())
            }

            async fn ready(&self) -> StoreResult<bool> {
                let applied: Vec<i64> = match sqlx::query_scalar(
                    "SELECT version FROM _sqlx_migrations WHERE success = TRUE",
                )
                .fetch_all(self.reader())
                .await
                {
                    Ok(v) => v,
                    Err(e) => {
                        let e = StoreError::from(e);
                        return match e {
                            // Refused, not unmigrated (a database that takes no
                            // connections answers with a database error too).
                            _ if e.is_unavailable() => Err(e),
                            // No migrations table yet: the database answers but is not
                            // migrated.
                            StoreError::Database(sqlx::Error::Database(_)) => Ok(false),
                            e => Err(e),
                        };
                    }
                };
                Ok(Self::MIGRATOR
                    .iter()
                    .all(|m| applied.contains(&m.version)))
            }

            async fn replace_directory(&self, d: &Directory) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                if let Some(lock) = <Self as Dialect>::LOCK_DIRECTORY {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                for sql in [
                    "DELETE FROM users",
                    "DELETE FROM user_identities",
                    "DELETE FROM teams",
                    "DELETE FROM services",
                ] {
                    sqlx::query(sql).execute(&mut *tx).await?;
                }
                for u in &d.users {
                    sqlx::query(
                        "INSERT INTO users (id, name, email, time_zone, phone, role, chat) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(u.id.as_str())
                    .bind(&u.name)
                    .bind(&u.email)
                    .bind(&u.time_zone)
                    .bind(&u.phone)
                    .bind(u.role.as_str())
                    .bind(Json(&u.chat))
                    .execute(&mut *tx)
                    .await?;
                    for (platform, external_id) in &u.chat {
                        sqlx::query(
                            "INSERT INTO user_identities (platform, external_id, user_id) \
                             VALUES ($1, $2, $3)",
                        )
                        .bind(platform)
                        .bind(external_id)
                        .bind(u.id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match e {
                            sqlx::Error::Database(db) if db.is_unique_violation() => {
                                StoreError::Conflict(format!(
                                    "{platform} identity {external_id} belongs to two users"
                                ))
                            }
                            other => other.into(),
                        })?;
                    }
                }
                for t in &d.teams {
                    sqlx::query("INSERT INTO teams (id, name, members) VALUES ($1, $2, $3)")
                        .bind(t.id.as_str())
                        .bind(&t.name)
                        .bind(Json(&t.members))
                        .execute(&mut *tx)
                        .await?;
                }
                for s in &d.services {
                    sqlx::query(
                        "INSERT INTO services (id, name, description, team, escalation_policy) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(s.id.as_str())
                    .bind(&s.name)
                    .bind(&s.description)
                    .bind(s.team.as_ref().map(|t| t.as_str()))
                    .bind(&s.escalation_policy)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_users(&self) -> StoreResult<Vec<User>> {
                let rows: Vec<UserRow> = sqlx::query_as(
                    "SELECT id, name, email, time_zone, phone, role, chat FROM users ORDER BY id",
                )
                .fetch_all(self.reader())
                .await?;
                rows::all(rows)
            }

            async fn get_user(&self, id: &UserId) -> StoreResult<User> {
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT id, name, email, time_zone, phone, role, chat FROM users WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(self.reader())
                .await?;
                row.ok_or_else(|| StoreError::NotFound(format!("user {id}")))?
                    .try_into()
            }

            async fn user_by_chat_identity(
                &self,
                platform: &str,
                external_id: &str,
            ) -> StoreResult<Option<User>> {
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT u.id, u.name, u.email, u.time_zone, u.phone, u.role, u.chat \
                     FROM users u JOIN user_identities i ON i.user_id = u.id \
                     WHERE i.platform = $1 AND i.external_id = $2",
                )
                .bind(platform)
                .bind(external_id)
                .fetch_optional(self.reader())
                .await?;
                row.map(User::try_from).transpose()
            }

            async fn list_services(&self) -> StoreResult<Vec<Service>> {
                let rows: Vec<ServiceRow> = sqlx::query_as(
                    "SELECT id, name, description, team, escalation_policy FROM services ORDER BY id",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map(Service::from).collect())
            }

            async fn get_service(&self, id: &ServiceId) -> StoreResult<Service> {
                let row: Option<ServiceRow> = sqlx::query_as(
                    "SELECT id, name, description, team, escalation_policy FROM services \
                     WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(self.reader())
                .await?;
                Ok(row
                    .ok_or_else(|| StoreError::NotFound(format!("service {id}")))?
                    .into())
            }

            async fn create_incident(
                &self,
                new: NewIncident,
                jobs: JobsFor<'_, Incident>,
            ) -> StoreResult<Incident> {
                let mut tx = self.begin_write().await?;
                if let Some(key) = &new.idempotency_key {
                    let existing: Option<Uuid> =
                        sqlx::query_scalar("SELECT id FROM incidents WHERE declare_key = $1")
                            .bind(key)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some(id) = existing {
                        return Self::load_incident(&mut tx, IncidentId(id), false).await;
                    }
                }
                let number: i64 = sqlx::query_scalar(
                    "UPDATE counters SET value = value + 1 WHERE name = 'incident_number' \
                     RETURNING value",
                )
                .fetch_one(&mut *tx)
                .await?;
                let incident = Incident {
                    id: new.id,
                    number,
                    title: new.title,
                    severity: new.severity,
                    status: IncidentStatus::Investigating,
                    commander: new.commander,
                    communications_lead: None,
                    responders: Vec::new(),
                    services: new.services,
                    alerts: new.alerts,
                    channels: Vec::new(),
                    declared_by: new.declared_by,
                    declared_at: new.declared_at,
                    updated_at: new.declared_at,
                    resolved_at: None,
                };
                let inserted = sqlx::query(
                    "INSERT INTO incidents (id, number, title, severity, status, commander, \
                     communications_lead, responders, services, declared_by, declared_at, \
                     updated_at, resolved_at, declare_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $10, NULL, $11)",
                )
                .bind(incident.id.0)
                .bind(incident.number)
                .bind(&incident.title)
                .bind(incident.severity.as_str())
                .bind(incident.status.as_str())
                .bind(incident.commander.as_ref().map(|u| u.as_str()))
                .bind(Json(&incident.responders))
                .bind(Json(&incident.services))
                .bind(&incident.declared_by)
                .bind(incident.declared_at)
                .bind(&new.idempotency_key)
                .execute(&mut *tx)
                .await;
                if let (Err(sqlx::Error::Database(db)), Some(key)) = (&inserted, &new.idempotency_key)
                    && db.is_unique_violation()
                {
                    // A concurrent declare with the same key committed first: theirs stands.
                    drop(tx);
                    let id: Uuid =
                        sqlx::query_scalar("SELECT id FROM incidents WHERE declare_key = $1")
                            .bind(key)
                            .fetch_one(self.writer())
                            .await?;
                    return self.get_incident(IncidentId(id)).await;
                }
                inserted?;
                for alert in &incident.alerts {
                    sqlx::query(
                        "INSERT INTO incident_alerts (incident_id, alert_id, linked_at) VALUES ($1, $2, $3)",
                    )
                    .bind(incident.id.0)
                    .bind(alert.0)
                    .bind(incident.declared_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                            StoreError::NotFound(format!("alert {alert}"))
                        }
                        other => other.into(),
                    })?;
                }
                Self::insert_timeline(
                    &mut tx,
                    NewTimelineEntry {
                        subject: Subject::Incident(incident.id),
                        at: incident.declared_at,
                        kind: TimelineKind::Declared,
                        actor: incident.declared_by.clone(),
                        text: match &new.description {
                            Some(d) => format!(
                                "{} declared: {} ({})\n{d}",
                                incident.reference(),
                                incident.title,
                                incident.severity
                            ),
                            None => format!(
                                "{} declared: {} ({})",
                                incident.reference(),
                                incident.title,
                                incident.severity
                            ),
                        },
                        data: serde_json::json!({ "description": new.description }),
                    },
                )
                .await?;
                let jobs = jobs(&incident);
                Self::insert_jobs(&mut tx, &jobs, incident.declared_at).await?;
                tx.commit().await?;
                self.signal_jobs(&jobs);
                Ok(incident)
            }

            async fn get_incident(&self, id: IncidentId) -> StoreResult<Incident> {
                let mut conn = self.reader().acquire().await?;
                Self::load_incident(&mut conn, id, false).await
            }

            async fn get_incident_by_number(&self, number: i64) -> StoreResult<Incident> {
                let id: Option<Uuid> =
                    sqlx::query_scalar("SELECT id FROM incidents WHERE number = $1")
                        .bind(number)
                        .fetch_optional(self.reader())
                        .await?;
                let id = id.ok_or_else(|| StoreError::NotFound(format!("incident INC-{number}")))?;
                self.get_incident(IncidentId(id)).await
            }

            async fn list_incidents(&self, f: &IncidentFilter) -> StoreResult<Vec<Incident>> {
                let mut conn = self.reader().acquire().await?;
                let rows: Vec<IncidentRow> = sqlx::query_as(
                    "SELECT id, number, title, severity, status, commander, communications_lead, \
                     responders, services, declared_by, declared_at, updated_at, resolved_at \
                     FROM incidents \
                     WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR severity = $2) \
                       AND ($3 = FALSE OR status <> 'resolved') AND ($4 IS NULL OR number < $4) \
                     ORDER BY number DESC LIMIT $5",
                )
                .bind(f.status.map(|s| s.as_str()))
                .bind(f.severity.map(|s| s.as_str()))
                .bind(f.open_only)
                .bind(f.before_number)
                .bind(f.limit)
                .fetch_all(&mut *conn)
                .await?;
                let mut incidents = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut incident = row.into_incident()?;
                    Self::load_links(&mut conn, &mut incident).await?;
                    incidents.push(incident);
                }
                Ok(incidents)
            }

            async fn change_incident(
                &self,
                id: IncidentId,
                changes: &[IncidentChange],
                actor: &Actor,
                at: DateTime<Utc>,
                jobs: JobsFor<'_, Incident>,
            ) -> StoreResult<Incident> {
                let mut tx = self.begin_write().await?;
                let mut incident = Self::load_incident(&mut tx, id, true).await?;
                let mut entries = Vec::with_capacity(changes.len());
                for change in changes {
                    let (kind, text) = incident.apply(change, at)?;
                    entries.push(NewTimelineEntry {
                        subject: Subject::Incident(id),
                        at,
                        kind,
                        actor: actor.to_string(),
                        text,
                        data: serde_json::json!({}),
                    });
                    if let IncidentChange::LinkAlert(alert) = change {
                        sqlx::query(
                            "INSERT INTO incident_alerts (incident_id, alert_id, linked_at) \
                             VALUES ($1, $2, $3)",
                        )
                        .bind(id.0)
                        .bind(alert.0)
                        .bind(at)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match e {
                            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                                StoreError::NotFound(format!("alert {alert}"))
                            }
                            other => other.into(),
                        })?;
                    }
                }
                Self::write_incident(&mut tx, &incident).await?;
                let rows: Vec<TimelineEntry> = entries.into_iter().map(Self::timeline_row).collect();
                Self::insert_timeline_rows(&mut tx, &rows).await?;
                let jobs = jobs(&incident);
                Self::insert_jobs(&mut tx, &jobs, at).await?;
                tx.commit().await?;
                self.signal_jobs(&jobs);
                Ok(incident)
            }

            async fn attach_channel(&self, id: IncidentId, c: &ChannelRef) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                // Insert first and look after a conflict, rather than look first: two jobs
                // of a new incident may attach the same channel at once, and both must
                // succeed. Without a conflict target, both unique keys give way here.
                let inserted = sqlx::query(
                    "INSERT INTO incident_channels (incident_id, platform, channel_id, name) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(id.0)
                .bind(&c.platform)
                .bind(&c.channel_id)
                .bind(&c.name)
                .execute(&mut *tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound(format!("incident {id}"))
                    }
                    other => other.into(),
                })?;
                if inserted.rows_affected() == 0 {
                    let owner: Option<Uuid> = sqlx::query_scalar(
                        "SELECT incident_id FROM incident_channels \
                         WHERE platform = $1 AND channel_id = $2",
                    )
                    .bind(&c.platform)
                    .bind(&c.channel_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match owner {
                        Some(owner) if owner == id.0 => {}
                        Some(_) => {
                            return Err(StoreError::Conflict(format!(
                                "{} channel {} already belongs to another incident",
                                c.platform, c.name
                            )));
                        }
                        None => {
                            return Err(StoreError::Conflict(format!(
                                "incident {id} already has a {} channel",
                                c.platform
                            )));
                        }
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn incident_by_channel(
                &self,
                platform: &str,
                channel_id: &str,
            ) -> StoreResult<Option<Incident>> {
                let id: Option<Uuid> = sqlx::query_scalar(
                    "SELECT incident_id FROM incident_channels WHERE platform = $1 AND channel_id = $2",
                )
                .bind(platform)
                .bind(channel_id)
                .fetch_optional(self.reader())
                .await?;
                match id {
                    Some(id) => self.get_incident(IncidentId(id)).await.map(Some),
                    None => Ok(None),
                }
            }

            async fn post_status_update(
                &self,
                new: NewStatusUpdate,
                jobs: JobsFor<'_, StatusUpdate>,
            ) -> StoreResult<StatusUpdate> {
                let mut tx = self.begin_write().await?;
                let incident = Self::load_incident(&mut tx, new.incident_id, true).await?;
                let update = StatusUpdate {
                    id: Uuid::now_v7(),
                    incident_id: new.incident_id,
                    text: new.text,
                    visibility: new.visibility,
                    status: incident.status,
                    author: new.author,
                    posted_at: new.posted_at,
                };
                sqlx::query(
                    "INSERT INTO status_updates (id, incident_id, text, visibility, status, author, \
                     posted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(update.id)
                .bind(update.incident_id.0)
                .bind(&update.text)
                .bind(update.visibility.as_str())
                .bind(update.status.as_str())
                .bind(&update.author)
                .bind(update.posted_at)
                .execute(&mut *tx)
                .await?;
                Self::insert_timeline(
                    &mut tx,
                    NewTimelineEntry {
                        subject: Subject::Incident(update.incident_id),
                        at: update.posted_at,
                        kind: TimelineKind::StatusUpdate,
                        actor: update.author.clone(),
                        text: update.text.clone(),
                        data: serde_json::json!({
                            "update_id": update.id,
                            "visibility": update.visibility,
                        }),
                    },
                )
                .await?;
                let jobs = jobs(&update);
                Self::insert_jobs(&mut tx, &jobs, update.posted_at).await?;
                tx.commit().await?;
                self.signal_jobs(&jobs);
                Ok(update)
            }

            async fn status_updates(&self, id: IncidentId) -> StoreResult<Vec<StatusUpdate>> {
                let rows: Vec<StatusUpdateRow> = sqlx::query_as(
                    "SELECT id, incident_id, text, visibility, status, author, posted_at \
                     FROM status_updates WHERE incident_id = $1 ORDER BY posted_at, id",
                )
                .bind(id.0)
                .fetch_all(self.reader())
                .await?;
                rows::all(rows)
            }

            async fn get_status_update(&self, id: Uuid) -> StoreResult<StatusUpdate> {
                let row: Option<StatusUpdateRow> = sqlx::query_as(
                    "SELECT id, incident_id, text, visibility, status, author, posted_at \
                     FROM status_updates WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
                row.ok_or_else(|| StoreError::NotFound(format!("status update {id}")))?
                    .try_into()
            }

            async fn add_timeline_entry(
                &self,
                entry: NewTimelineEntry,
                jobs: JobsFor<'_, TimelineEntry>,
            ) -> StoreResult<TimelineEntry> {
                let mut tx = self.begin_write().await?;
                let at = entry.at;
                let entry = Self::insert_timeline(&mut tx, entry).await.map_err(|e| match e {
                    StoreError::Database(sqlx::Error::Database(db))
                        if db.is_foreign_key_violation() =>
                    {
                        StoreError::NotFound("timeline subject".into())
                    }
                    other => other,
                })?;
                let jobs = jobs(&entry);
                Self::insert_jobs(&mut tx, &jobs, at).await?;
                tx.commit().await?;
                self.signal_jobs(&jobs);
                Ok(entry)
            }

            async fn timeline(&self, subject: Subject) -> StoreResult<Vec<TimelineEntry>> {
                let (sql, id) = match subject {
                    Subject::Incident(id) => (
                        "SELECT id, incident_id, alert_id, at, kind, actor, text, data FROM timeline \
                         WHERE incident_id = $1 ORDER BY at, id",
                        id.0,
                    ),
                    Subject::Alert(id) => (
                        "SELECT id, incident_id, alert_id, at, kind, actor, text, data FROM timeline \
                         WHERE alert_id = $1 ORDER BY at, id",
                        id.0,
                    ),
                };
                let rows: Vec<TimelineRow> =
                    sqlx::query_as(sql).bind(id).fetch_all(self.reader()).await?;
                rows::all(rows)
            }

            async fn trigger_alert(
                &self,
                new: NewAlert,
                jobs: JobsFor<'_, TriggerOutcome>,
            ) -> StoreResult<TriggerOutcome> {
                fn trigger_outcome(outcomes: &[IngestOutcome]) -> TriggerOutcome {
                    let outcome = &outcomes[0];
                    TriggerOutcome {
                        alert: outcome.alert.clone().expect("a trigger always has its alert"),
                        created: outcome.result == IngestResult::Created,
                    }
                }
                let batch_jobs = |outcomes: &[IngestOutcome]| jobs(&trigger_outcome(outcomes));
                let outcomes = self.ingest(&[IngestEvent::Trigger(new)], &batch_jobs).await?;
                Ok(trigger_outcome(&outcomes))
            }

            async fn ingest(
                &self,
                events: &[IngestEvent],
                jobs: JobsFor<'_, [IngestOutcome]>,
            ) -> StoreResult<Vec<IngestOutcome>> {
                let mut attempt = 0;
                loop {
                    match self.try_ingest(events, jobs).await {
                        Err(StoreError::Database(sqlx::Error::Database(db)))
                            if db.is_unique_violation() && attempt < 3 =>
                        {
                            attempt += 1;
                        }
                        other => return other,
                    }
                }
            }

            async fn instance_secret(&self, name: &str, fresh: &str) -> StoreResult<String> {
                sqlx::query(
                    "INSERT INTO instance_secrets (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(fresh)
                .execute(self.writer())
                .await?;
                Ok(sqlx::query_scalar("SELECT value FROM instance_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(self.writer())
                    .await?)
            }

            async fn open_alerts_paged_to(&self, user: &UserId) -> StoreResult<Vec<AlertId>> {
                let ids: Vec<Uuid> = sqlx::query_scalar(<Self as Dialect>::OPEN_ALERTS_PAGED_TO)
                    .bind(user.as_str())
                    .fetch_all(self.reader())
                    .await?;
                Ok(ids.into_iter().map(AlertId).collect())
            }

            async fn escalation(&self, alert: AlertId) -> StoreResult<Option<EscalationState>> {
                let row: Option<(Uuid, String, i32, i32, i32, i32, DateTime<Utc>, String)> =
                    sqlx::query_as(
                        "SELECT alert_id, policy, epoch, cycle, level, attempt, level_started_at, state \
                         FROM escalations WHERE alert_id = $1",
                    )
                    .bind(alert.0)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(row.map(|(id, policy, epoch, cycle, level, attempt, level_started_at, state)| {
                    EscalationState {
                        alert_id: AlertId(id),
                        policy,
                        epoch,
                        cycle,
                        level,
                        attempt,
                        level_started_at,
                        running: state == "running",
                    }
                }))
            }

            async fn advance_escalation(
                &self,
                expected_epoch: i32,
                next: &EscalationState,
                entries: Vec<NewTimelineEntry>,
                jobs: &[NewJob],
                at: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let current: Option<(i32, i32, i32, i32)> = sqlx::query_as(<Self as Dialect>::ESCALATION_EPOCH_FOR_UPDATE)
                    .bind(next.alert_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                if current.map_or(0, |(epoch, ..)| epoch) != expected_epoch {
                    return Ok(false);
                }
                // A step whose process died after this commit but before it recorded the job
                // as done runs again: it finds the escalation already there, and writes nothing
                // (else it would page again under new jobs, and schedule every later step twice).
                if let Some((epoch, cycle, level, attempt)) = current
                    && epoch == next.epoch
                    && (cycle, level, attempt) >= (next.cycle, next.level, next.attempt)
                {
                    return Ok(false);
                }
                let state = if next.running { "running" } else { "exhausted" };
                sqlx::query(
                    "INSERT INTO escalations (alert_id, policy, epoch, cycle, level, attempt, \
                     level_started_at, state, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (alert_id) DO UPDATE SET policy = excluded.policy, \
                     epoch = excluded.epoch, cycle = excluded.cycle, level = excluded.level, \
                     attempt = excluded.attempt, level_started_at = excluded.level_started_at, \
                     state = excluded.state, updated_at = excluded.updated_at",
                )
                .bind(next.alert_id.0)
                .bind(&next.policy)
                .bind(next.epoch)
                .bind(next.cycle)
                .bind(next.level)
                .bind(next.attempt)
                .bind(next.level_started_at)
                .bind(state)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                let rows: Vec<TimelineEntry> = entries.into_iter().map(Self::timeline_row).collect();
                Self::insert_timeline_rows(&mut tx, &rows).await?;
                Self::insert_jobs(&mut tx, jobs, at).await?;
                tx.commit().await?;
                self.signal_jobs(jobs);
                Ok(true)
            }

            async fn save_override(
                &self,
                schedule: &str,
                o: &crate::schedule::Override,
                created_by: &str,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO schedule_overrides (id, schedule, user_id, start_at, end_at, \
                     created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(o.id)
                .bind(schedule)
                .bind(o.user.as_str())
                .bind(o.start)
                .bind(o.end)
                .bind(created_by)
                .bind(o.created_at)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn overrides(
                &self,
                schedule: &str,
                from: DateTime<Utc>,
            ) -> StoreResult<Vec<crate::schedule::Override>> {
                let rows: Vec<(Uuid, String, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)> =
                    sqlx::query_as(
                        "SELECT id, user_id, start_at, end_at, created_at FROM schedule_overrides \
                         WHERE schedule = $1 AND end_at > $2 ORDER BY created_at, id",
                    )
                    .bind(schedule)
                    .bind(from)
                    .fetch_all(self.reader())
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, user, start, end, created_at)| crate::schedule::Override {
                        id,
                        user: user.into(),
                        start,
                        end,
                        created_at,
                    })
                    .collect())
            }

            async fn open_alert_by_key(
                &self,
                service: &ServiceId,
                dedup_key: &str,
            ) -> StoreResult<Option<Alert>> {
                let row: Option<AlertRow> = sqlx::query_as(
                    "SELECT * FROM alerts WHERE service = $1 AND dedup_key = $2 AND status <> 'resolved'",
                )
                .bind(service.as_str())
                .bind(dedup_key)
                .fetch_optional(self.reader())
                .await?;
                row.map(Alert::try_from).transpose()
            }

            async fn create_integration(&self, new: &NewIntegration) -> StoreResult<Integration> {
                let mut tx = self.begin_write().await?;
                let integration = Self::insert_integration(&mut tx, new).await?;
                tx.commit().await?;
                Ok(integration)
            }

            async fn sync_config_integrations(&self, declared: &[NewIntegration]) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let existing: Vec<(Uuid, String, String)> = sqlx::query_as(
                    "SELECT id, service, name FROM integrations WHERE origin = 'config'",
                )
                .fetch_all(&mut *tx)
                .await?;
                for (id, service, name) in &existing {
                    let kept = declared.iter().any(|d| d.service.as_str() == service && &d.name == name);
                    if !kept {
                        sqlx::query("DELETE FROM integrations WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                for new in declared {
                    let updated = sqlx::query(
                        "UPDATE integrations SET kind = $3, key_hash = $4, settings = $5 \
                         WHERE service = $1 AND name = $2 AND origin = 'config'",
                    )
                    .bind(new.service.as_str())
                    .bind(&new.name)
                    .bind(&new.kind)
                    .bind(&new.key_hash)
                    .bind(Json(&new.settings))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| Self::key_conflict(e, &new.name))?;
                    if updated.rows_affected() == 0 {
                        Self::insert_integration(&mut tx, new).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn integration_by_key_hash(&self, key_hash: &str) -> StoreResult<Option<Integration>> {
                let row: Option<IntegrationRow> = sqlx::query_as(
                    "SELECT id, service, name, kind, origin, settings, created_at FROM integrations \
                     WHERE key_hash = $1",
                )
                .bind(key_hash)
                .fetch_optional(self.reader())
                .await?;
                row.map(Integration::try_from).transpose()
            }

            async fn list_integrations(&self) -> StoreResult<Vec<Integration>> {
                let rows: Vec<IntegrationRow> = sqlx::query_as(
                    "SELECT id, service, name, kind, origin, settings, created_at FROM integrations \
                     ORDER BY service, name",
                )
                .fetch_all(self.reader())
                .await?;
                rows::all(rows)
            }

            async fn create_heartbeat(
                &self,
                new: &NewHeartbeat,
                jobs: JobsFor<'_, Heartbeat>,
            ) -> StoreResult<Heartbeat> {
                let mut tx = self.begin_write().await?;
                let heartbeat = Self::insert_heartbeat(&mut tx, new).await?;
                let jobs = jobs(&heartbeat);
                Self::insert_jobs(&mut tx, &jobs, new.at).await?;
                tx.commit().await?;
                self.signal_jobs(&jobs);
                Ok(heartbeat)
            }

            async fn sync_config_heartbeats(
                &self,
                declared: &[NewHeartbeat],
                jobs: JobsFor<'_, Heartbeat>,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let existing: Vec<HeartbeatRow> = sqlx::query_as(
                    "SELECT id, service, name, interval_ms, grace_ms, origin, created_at, last_ping_at \
                     FROM heartbeats WHERE origin = 'config'",
                )
                .fetch_all(&mut *tx)
                .await?;
                let existing: Vec<Heartbeat> = rows::all(existing)?;
                let mut all_jobs = Vec::new();
                for old in &existing {
                    if !declared.iter().any(|d| d.service == old.service && d.name == old.name) {
                        sqlx::query("DELETE FROM heartbeats WHERE id = $1")
                            .bind(old.id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                for new in declared {
                    let old = existing.iter().find(|o| o.service == new.service && o.name == new.name);
                    let heartbeat = match old {
                        None => Self::insert_heartbeat(&mut tx, new).await?,
                        Some(old) => {
                            sqlx::query(
                                "UPDATE heartbeats SET key_hash = $2, interval_ms = $3, grace_ms = $4 \
                                 WHERE id = $1",
                            )
                            .bind(old.id)
                            .bind(&new.key_hash)
                            .bind(new.interval.num_milliseconds())
                            .bind(new.grace.num_milliseconds())
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| Self::key_conflict(e, &new.name))?;
                            if old.interval == new.interval && old.grace == new.grace {
                                continue;
                            }
                            Heartbeat { interval: new.interval, grace: new.grace, ..old.clone() }
                        }
                    };
                    all_jobs.extend(jobs(&heartbeat));
                }
                let at = declared.iter().map(|d| d.at).max().unwrap_or_default();
                Self::insert_jobs(&mut tx, &all_jobs, at).await?;
                tx.commit().await?;
                self.signal_jobs(&all_jobs);
                Ok(())
            }

            async fn heartbeat_by_key_hash(&self, key_hash: &str) -> StoreResult<Option<Heartbeat>> {
                let row: Option<HeartbeatRow> = sqlx::query_as(
                    "SELECT id, service, name, interval_ms, grace_ms, origin, created_at, last_ping_at \
                     FROM heartbeats WHERE key_hash = $1",
                )
                .bind(key_hash)
                .fetch_optional(self.reader())
                .await?;
                row.map(Heartbeat::try_from).transpose()
            }

            async fn get_heartbeat(&self, id: Uuid) -> StoreResult<Heartbeat> {
                let row: Option<HeartbeatRow> = sqlx::query_as(
                    "SELECT id, service, name, interval_ms, grace_ms, origin, created_at, last_ping_at \
                     FROM heartbeats WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
                row.ok_or_else(|| StoreError::NotFound(format!("heartbeat {id}")))?
                    .try_into()
            }

            async fn list_heartbeats(&self) -> StoreResult<Vec<Heartbeat>> {
                let rows: Vec<HeartbeatRow> = sqlx::query_as(
                    "SELECT id, service, name, interval_ms, grace_ms, origin, created_at, last_ping_at \
                     FROM heartbeats ORDER BY service, name",
                )
                .fetch_all(self.reader())
                .await?;
                rows::all(rows)
            }

            async fn record_ping(
                &self,
                id: Uuid,
                at: DateTime<Utc>,
                jobs: JobsFor<'_, Heartbeat>,
            ) -> StoreResult<Heartbeat> {
                let mut tx = self.begin_write().await?;
                let row: Option<HeartbeatRow> = sqlx::query_as(
                    "UPDATE heartbeats SET last_ping_at = CASE \
                         WHEN last_ping_at IS NULL OR last_ping_at < $2 THEN $2 ELSE last_ping_at END \
                     WHERE id = $1 \
                     RETURNING id, service, name, interval_ms, grace_ms, origin, created_at, last_ping_at",
                )
                .bind(id)
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                let heartbeat: Heartbeat = row
                    .ok_or_else(|| StoreError::NotFound(format!("heartbeat {id}")))?
                    .try_into()?;
                let jobs = jobs(&heartbeat);
                Self::insert_jobs(&mut tx, &jobs, at).await?;
                tx.commit().await?;
                self.signal_jobs(&jobs);
                Ok(heartbeat)
            }

            async fn get_alert(&self, id: AlertId) -> StoreResult<Alert> {
                let row: Option<AlertRow> = sqlx::query_as("SELECT * FROM alerts WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(self.reader())
                    .await?;
                row.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?
                    .try_into()
            }

            async fn list_alerts(&self, f: &AlertFilter) -> StoreResult<Vec<Alert>> {
                let rows: Vec<AlertRow> = sqlx::query_as(
                    "SELECT * FROM alerts \
                     WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR service = $2) \
                       AND ($3 IS NULL OR id < $3) \
                     ORDER BY id DESC LIMIT $4",
                )
                .bind(f.status.map(|s| s.as_str()))
                .bind(f.service.as_ref().map(|s| s.as_str()))
                .bind(f.before.map(|a| a.0))
                .bind(f.limit)
                .fetch_all(self.reader())
                .await?;
                rows::all(rows)
            }

            async fn acknowledge_alert(
                &self,
                id: AlertId,
                actor: &Actor,
                at: DateTime<Utc>,
                jobs: JobsFor<'_, Alert>,
            ) -> StoreResult<Alert> {
                self.transition_alert(id, actor, at, jobs, Alert::acknowledge).await
            }

            async fn resolve_alert(
                &self,
                id: AlertId,
                actor: &Actor,
                at: DateTime<Utc>,
                jobs: JobsFor<'_, Alert>,
            ) -> StoreResult<Alert> {
                self.transition_alert(id, actor, at, jobs, Alert::resolve).await
            }

            async fn save_posted_message(
                &self,
                key: &str,
                platform: &str,
                m: &PostedMessage,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO chat_messages (key, platform, channel_id, message_id) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (key, platform) DO UPDATE \
                     SET channel_id = excluded.channel_id, message_id = excluded.message_id",
                )
                .bind(key)
                .bind(platform)
                .bind(&m.channel_id)
                .bind(&m.message_id)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn posted_message(
                &self,
                key: &str,
                platform: &str,
            ) -> StoreResult<Option<PostedMessage>> {
                let row: Option<(String, String)> = sqlx::query_as(
                    "SELECT channel_id, message_id FROM chat_messages WHERE key = $1 AND platform = $2",
                )
                .bind(key)
                .bind(platform)
                .fetch_optional(self.reader())
                .await?;
                Ok(row.map(|(channel_id, message_id)| PostedMessage { channel_id, message_id }))
            }

            async fn create_action_run(&self, new: NewActionRun) -> StoreResult<ActionRun> {
                let run = new.run;
                let mut tx = self.begin_write().await?;
                sqlx::query(concat!(
                    "INSERT INTO action_runs (",
                    action_run_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                ))
                .bind(run.id)
                .bind(&run.action)
                .bind(&run.kind)
                .bind(Json(&run.args))
                .bind(run.incident_id.map(|i| i.0))
                .bind(&run.requested_by)
                .bind(&run.platform)
                .bind(&run.channel)
                .bind(run.state.as_str())
                .bind(&run.summary)
                .bind(&run.detail)
                .bind(&run.link)
                .bind(Json(&run.external))
                .bind(run.created_at)
                .bind(run.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound("incident".into())
                    }
                    other => other.into(),
                })?;
                Self::insert_audit(&mut tx, new.audit).await?;
                if let Some(entry) = new.timeline {
                    Self::insert_timeline(&mut tx, entry).await?;
                }
                Self::insert_jobs(&mut tx, &new.jobs, run.created_at).await?;
                tx.commit().await?;
                self.signal_jobs(&new.jobs);
                Ok(run)
            }

            async fn transition_action_run(&self, t: ActionRunTransition) -> StoreResult<ActionRun> {
                let mut tx = self.begin_write().await?;
                let mut update = sqlx::QueryBuilder::<$db>::new("UPDATE action_runs SET state = ");
                update
                    .push_bind(t.to.as_str())
                    .push(", summary = COALESCE(")
                    .push_bind(t.update.summary.clone())
                    .push(", summary), detail = COALESCE(")
                    .push_bind(t.update.detail.clone())
                    .push(", detail), link = COALESCE(")
                    .push_bind(t.update.link.clone())
                    .push(", link), external = ");
                match &t.update.external {
                    Some(external) => update.push_bind(Json(external.clone())),
                    None => update.push("external"),
                };
                update
                    .push(", updated_at = ")
                    .push_bind(t.at)
                    .push(" WHERE id = ")
                    .push_bind(t.id)
                    .push(" AND state IN (");
                let mut states = update.separated(", ");
                for state in &t.from {
                    states.push_bind(state.as_str());
                }
                update.push(concat!(") RETURNING ", action_run_columns!()));
                let row: Option<ActionRunRow> =
                    update.build_query_as().fetch_optional(&mut *tx).await?;
                let Some(row) = row else {
                    drop(tx);
                    let run = self.get_action_run(t.id).await?;
                    return Err(StoreError::Conflict(format!(
                        "this run of {} is already {}",
                        run.action, run.state
                    )));
                };
                if let Some(audit) = t.audit {
                    Self::insert_audit(&mut tx, audit).await?;
                }
                if let Some(entry) = t.timeline {
                    Self::insert_timeline(&mut tx, entry).await?;
                }
                Self::insert_jobs(&mut tx, &t.jobs, t.at).await?;
                tx.commit().await?;
                self.signal_jobs(&t.jobs);
                row.try_into()
            }

            async fn get_action_run(&self, id: Uuid) -> StoreResult<ActionRun> {
                let row: Option<ActionRunRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    action_run_columns!(),
                    " FROM action_runs WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
                row.ok_or_else(|| StoreError::NotFound(format!("action run {id}")))?
                    .try_into()
            }

            async fn append_audit(&self, entry: NewAuditEntry) -> StoreResult<AuditEntry> {
                let mut tx = self.begin_write().await?;
                let stored = Self::insert_audit(&mut tx, entry).await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn audit_log(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, at, actor, event, action, run_id, incident_id, args, detail \
                     FROM audit_log ORDER BY at DESC, id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                rows::all(rows)
            }

            async fn link_chat_identity(
                &self,
                platform: &str,
                external_id: &str,
                user: &UserId,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let owner: Option<String> = sqlx::query_scalar(
                    "SELECT user_id FROM user_identities WHERE platform = $1 AND external_id = $2",
                )
                .bind(platform)
                .bind(external_id)
                .fetch_optional(&mut *tx)
                .await?;
                match owner {
                    Some(owner) if owner == user.as_str() => return Ok(()),
                    Some(owner) => {
                        return Err(StoreError::Conflict(format!(
                            "{platform} identity {external_id} belongs to {owner}"
                        )));
                    }
                    None => {}
                }
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT id, name, email, time_zone, phone, role, chat FROM users WHERE id = $1",
                )
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let mut found: User = row
                    .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?
                    .try_into()?;
                if found.chat.contains_key(platform) {
                    return Ok(());
                }
                found.chat.insert(platform.to_owned(), external_id.to_owned());
                sqlx::query("UPDATE users SET chat = $2 WHERE id = $1")
                    .bind(user.as_str())
                    .bind(Json(&found.chat))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO user_identities (platform, external_id, user_id) VALUES ($1, $2, $3)",
                )
                .bind(platform)
                .bind(external_id)
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO chat_links (platform, external_id, user_id, linked_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (platform, external_id) \
                     DO UPDATE SET user_id = excluded.user_id, linked_at = excluded.linked_at",
                )
                .bind(platform)
                .bind(external_id)
                .bind(user.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn chat_links(&self) -> StoreResult<Vec<(String, String, UserId)>> {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT platform, external_id, user_id FROM chat_links \
                     ORDER BY platform, external_id",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(p, e, u)| (p, e, UserId::from(u)))
                    .collect())
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT id, name, email, time_zone, phone, role, chat FROM users \
                     WHERE lower(email) = lower($1) ORDER BY id LIMIT 1",
                )
                .bind(email)
                .fetch_optional(self.reader())
                .await?;
                row.map(User::try_from).transpose()
            }

            async fn create_link_code(
                &self,
                code: &str,
                platform: &str,
                external_id: &str,
                expires_at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM link_codes WHERE platform = $1 AND external_id = $2")
                    .bind(platform)
                    .bind(external_id)
                    .execute(&mut *tx)
                    .await?;
                let inserted = sqlx::query(
                    "INSERT INTO link_codes (code, platform, external_id, expires_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING",
                )
                .bind(code)
                .bind(platform)
                .bind(external_id)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() != 1 {
                    return Err(StoreError::Conflict(
                        "that link code is taken; ask for another".into(),
                    ));
                }
                tx.commit().await?;
                Ok(())
            }

            async fn redeem_link_code(
                &self,
                code: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<(String, String)>> {
                let mut tx = self.begin_write().await?;
                let row: Option<(String, String, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT platform, external_id, expires_at FROM link_codes WHERE code = $1",
                )
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?;
                if row.is_some() {
                    sqlx::query("DELETE FROM link_codes WHERE code = $1")
                        .bind(code)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(row
                    .filter(|(_, _, expires_at)| *expires_at > now)
                    .map(|(platform, external_id, _)| (platform, external_id)))
            }

            async fn try_lead(&self, work: &str) -> StoreResult<Option<Box<dyn Leadership>>> {
                self.lead(work).await
            }

            async fn record_delivery(&self, key: &str, at: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO deliveries (key, seen_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(at)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delivery_seen(&self, key: &str) -> StoreResult<bool> {
                let seen: Option<String> =
                    sqlx::query_scalar("SELECT key FROM deliveries WHERE key = $1")
                        .bind(key)
                        .fetch_optional(self.reader())
                        .await?;
                Ok(seen.is_some())
            }

            async fn enqueue(&self, jobs: &[NewJob]) -> StoreResult<Vec<JobId>> {
                let now = jobs.iter().map(|j| j.run_at).min().unwrap_or_default();
                let mut tx = self.begin_write().await?;
                let ids = Self::insert_jobs(&mut tx, jobs, now).await?;
                tx.commit().await?;
                self.signal_jobs(jobs);
                Ok(ids)
            }

            async fn claim_jobs(
                &self,
                queues: &[String],
                owner: Uuid,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                limit: i64,
            ) -> StoreResult<Vec<Job>> {
                let mut tx = self.begin_claim(now).await?;
                let rows: Vec<JobRow> = sqlx::query_as(<Self as Dialect>::CLAIM_JOBS)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(Json(queues))
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut jobs: Vec<Job> = rows::all(rows)?;
                jobs.sort_by_key(|j| (j.run_at, j.id));
                Ok(jobs)
            }

            async fn complete_job(&self, id: JobId, owner: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, \
                     last_error = NULL, updated_at = $3 \
                     WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
                )
                .bind(id.0)
                .bind(owner)
                .bind(at)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn fail_job(
                &self,
                id: JobId,
                owner: Uuid,
                error: &str,
                retry: Option<crate::model::Retry>,
                at: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let state = if retry.is_some() { JobState::Queued } else { JobState::Dead };
                let failed = sqlx::query(
                    "UPDATE jobs SET state = $4, run_at = COALESCE($5, run_at), lease_owner = NULL, \
                     lease_until = NULL, last_error = $6, updated_at = $3, \
                     attempts = CASE WHEN $7 THEN attempts ELSE attempts - 1 END \
                     WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
                )
                .bind(id.0)
                .bind(owner)
                .bind(at)
                .bind(state.as_str())
                .bind(retry.map(|r| r.at))
                .bind(error)
                .bind(retry.is_none_or(|r| r.counts))
                .execute(self.writer())
                .await?;
                // No wake-up: the pool that failed the job looks for the next due one itself.
                Ok(failed.rows_affected() == 1)
            }

            async fn next_job_due(&self, queues: &[String]) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar(<Self as Dialect>::NEXT_JOB_DUE)
                    .bind(Json(queues))
                    .fetch_one(self.reader())
                    .await?)
            }

            async fn get_job(&self, id: JobId) -> StoreResult<Job> {
                let row: Option<JobRow> = sqlx::query_as(
                    "SELECT id, queue, kind, payload, state, run_at, attempts, max_attempts, \
                     lease_until, last_error, created_at, updated_at FROM jobs WHERE id = $1",
                )
                .bind(id.0)
                .fetch_optional(self.reader())
                .await?;
                row.ok_or_else(|| StoreError::NotFound(format!("job {id}")))?
                    .try_into()
            }

            async fn list_jobs(&self, state: Option<JobState>, limit: i64) -> StoreResult<Vec<Job>> {
                let rows: Vec<JobRow> = sqlx::query_as(
                    "SELECT id, queue, kind, payload, state, run_at, attempts, max_attempts, \
                     lease_until, last_error, created_at, updated_at FROM jobs \
                     WHERE ($1 IS NULL OR state = $1) ORDER BY updated_at DESC, id DESC LIMIT $2",
                )
                .bind(state.map(|s| s.as_str()))
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                rows::all(rows)
            }

            async fn create_token(
                &self,
                name: &str,
                role: Role,
                token_hash: &str,
                at: DateTime<Utc>,
            ) -> StoreResult<ApiToken> {
                let token = ApiToken { id: Uuid::now_v7(), name: name.to_owned(), role, created_at: at };
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, token_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token.id)
                .bind(&token.name)
                .bind(role.as_str())
                .bind(token_hash)
                .bind(at)
                .execute(self.writer())
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        StoreError::Conflict(format!("a token named `{name}` already exists"))
                    }
                    other => other.into(),
                })?;
                Ok(token)
            }

            async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
                let row: Option<TokenRow> = sqlx::query_as(
                    "SELECT id, name, role, created_at FROM api_tokens \
                     WHERE token_hash = $1 AND revoked_at IS NULL",
                )
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await?;
                row.map(ApiToken::try_from).transpose()
            }

            async fn counts(&self) -> StoreResult<Counts> {
                let pool = self.reader();
                Ok(Counts {
                    alerts_by_status: sqlx::query_as(
                        "SELECT status, COUNT(*) FROM alerts GROUP BY status ORDER BY status",
                    )
                    .fetch_all(pool)
                    .await?,
                    incidents_by_status: sqlx::query_as(
                        "SELECT status, COUNT(*) FROM incidents GROUP BY status ORDER BY status",
                    )
                    .fetch_all(pool)
                    .await?,
                    jobs_by_state: sqlx::query_as(
                        "SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state",
                    )
                    .fetch_all(pool)
                    .await?,
                    jobs_retrying: sqlx::query_scalar(
                        "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND last_error IS NOT NULL",
                    )
                    .fetch_one(pool)
                    .await?,
                })
            }
        }
    };
}

pub(super) use impl_store;
