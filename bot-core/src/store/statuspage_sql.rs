//! [`StatusPageStore`](super::statuspage::StatusPageStore) for both backends, instantiated
//! by `impl_statuspage_store!` like the rest of the store. The rules that do not need the
//! database (which requested component states are real changes, how an update moves a
//! record) are plain functions here, so both backends share them and they are tested
//! without one.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::StoreError;
use crate::model::{
    AffectedComponent, ComponentStatus, IncidentId, NewPublicIncident, NewPublicUpdate,
    PublicIncident, PublicKind, PublicStatus, PublicUpdate, Subscriber,
};

/// The columns of `public_incidents`, in [`PublicIncidentRow`]'s order, for `concat!`.
macro_rules! public_incident_columns {
    () => {
        "id, kind, incident_id, name, status, impact, components, created_at, updated_at, \
         started_at, monitoring_at, resolved_at, scheduled_for, scheduled_until"
    };
}
pub(super) use public_incident_columns;

/// The columns of `public_updates`, in [`PublicUpdateRow`]'s order, for `concat!`.
macro_rules! public_update_columns {
    () => {
        "id, public_incident_id, status, body, created_at, affected_components, author"
    };
}
pub(super) use public_update_columns;

/// The columns of `status_subscribers`, in [`SubscriberRow`]'s order, for `concat!`.
macro_rules! subscriber_columns {
    () => {
        "id, kind, target, components, created_at, confirmed_at"
    };
}
pub(super) use subscriber_columns;

/// The statements of the status page that differ between backends.
pub(super) trait StatusPageDialect {
    /// A public incident by id (`$1`), locked where the backend can.
    const PUBLIC_INCIDENT_FOR_UPDATE: &'static str;
    /// Taken before reading the component states a write compares against, so that two
    /// writers setting the same state cannot both record it as a change. None where a
    /// write transaction already shuts out every other writer.
    const LOCK_COMPONENT_STATES: Option<&'static str>;
    /// Begins a read-only transaction that sees one snapshot throughout, so a record and
    /// its updates, read with two statements, come from the same commit.
    const BEGIN_SNAPSHOT: &'static str;
}

impl StatusPageDialect for super::SqliteStore {
    const PUBLIC_INCIDENT_FOR_UPDATE: &'static str = concat!(
        "SELECT ",
        public_incident_columns!(),
        " FROM public_incidents WHERE id = $1"
    );
    // `BEGIN IMMEDIATE` already makes every write transaction the only one.
    const LOCK_COMPONENT_STATES: Option<&'static str> = None;
    // In WAL mode a transaction reads from the snapshot its first read sees.
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";
}

impl StatusPageDialect for super::PostgresStore {
    const PUBLIC_INCIDENT_FOR_UPDATE: &'static str = concat!(
        "SELECT ",
        public_incident_columns!(),
        " FROM public_incidents WHERE id = $1 FOR UPDATE"
    );
    // Conflicts with itself and with every write, not with reads: the page stays readable.
    const LOCK_COMPONENT_STATES: Option<&'static str> =
        Some("LOCK TABLE component_states IN SHARE ROW EXCLUSIVE MODE");
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
}

pub(super) fn parse<T: FromStr>(s: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(sqlx::FromRow)]
pub(super) struct PublicIncidentRow {
    id: Uuid,
    kind: String,
    incident_id: Option<Uuid>,
    name: String,
    status: String,
    impact: String,
    components: Json<Vec<String>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: DateTime<Utc>,
    monitoring_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    scheduled_for: Option<DateTime<Utc>>,
    scheduled_until: Option<DateTime<Utc>>,
}

impl PublicIncidentRow {
    /// The record without its updates, which live in their own table.
    pub(super) fn into_record(self) -> Result<PublicIncident, StoreError> {
        Ok(PublicIncident {
            id: self.id,
            kind: parse(&self.kind)?,
            incident_id: self.incident_id.map(IncidentId),
            name: self.name,
            status: parse(&self.status)?,
            impact: parse(&self.impact)?,
            components: self.components.0,
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            monitoring_at: self.monitoring_at,
            resolved_at: self.resolved_at,
            scheduled_for: self.scheduled_for,
            scheduled_until: self.scheduled_until,
            updates: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct PublicUpdateRow {
    id: Uuid,
    public_incident_id: Uuid,
    status: String,
    body: String,
    created_at: DateTime<Utc>,
    affected_components: Json<Vec<AffectedComponent>>,
    author: String,
}

impl TryFrom<PublicUpdateRow> for PublicUpdate {
    type Error = StoreError;

    fn try_from(r: PublicUpdateRow) -> Result<Self, StoreError> {
        Ok(PublicUpdate {
            id: r.id,
            public_incident_id: r.public_incident_id,
            status: parse(&r.status)?,
            body: r.body,
            created_at: r.created_at,
            affected_components: r.affected_components.0,
            author: r.author,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SubscriberRow {
    id: Uuid,
    kind: String,
    target: String,
    components: Json<Vec<String>>,
    created_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
}

impl TryFrom<SubscriberRow> for Subscriber {
    type Error = StoreError;

    fn try_from(r: SubscriberRow) -> Result<Self, StoreError> {
        Ok(Subscriber {
            id: r.id,
            kind: parse(&r.kind)?,
            target: r.target,
            components: r.components.0,
            created_at: r.created_at,
            confirmed_at: r.confirmed_at,
        })
    }
}

/// The changes `requested` really makes to the `stored` states (a component not stored is
/// operational), in the order components are first named. A component named twice ends in
/// the state named last: one request is one moment, and passes through no other state.
pub(super) fn real_changes(
    stored: &HashMap<String, ComponentStatus>,
    requested: &[(String, ComponentStatus)],
) -> Vec<AffectedComponent> {
    let mut wanted: Vec<(&str, ComponentStatus)> = Vec::with_capacity(requested.len());
    for (component, status) in requested {
        match wanted.iter_mut().find(|(c, _)| *c == component.as_str()) {
            Some(entry) => entry.1 = *status,
            None => wanted.push((component, *status)),
        }
    }
    wanted
        .into_iter()
        .filter_map(|(component, new_status)| {
            let old_status = stored
                .get(component)
                .copied()
                .unwrap_or(ComponentStatus::Operational);
            (old_status != new_status).then(|| AffectedComponent {
                component: component.to_owned(),
                old_status,
                new_status,
            })
        })
        .collect()
}

/// A new record as stored, before its first update is attached.
pub(super) fn new_record(new: &NewPublicIncident) -> PublicIncident {
    let started_at = match new.kind {
        PublicKind::Incident => new.at,
        PublicKind::Maintenance => new.scheduled_for.unwrap_or(new.at),
    };
    PublicIncident {
        id: new.id,
        kind: new.kind,
        incident_id: new.incident_id,
        name: new.name.clone(),
        status: new.status,
        impact: new.impact,
        components: new.components.clone(),
        created_at: new.at,
        updated_at: new.at,
        started_at,
        monitoring_at: (new.status == PublicStatus::Monitoring).then_some(new.at),
        resolved_at: new.status.is_closed().then_some(new.at),
        scheduled_for: new.scheduled_for,
        scheduled_until: new.scheduled_until,
        updates: Vec::new(),
    }
}

/// Refuses an update to a closed record, or to one not in a status of `only_from`.
pub(super) fn check_updatable(
    record: &PublicIncident,
    only_from: &[PublicStatus],
) -> Result<(), StoreError> {
    if record.status.is_closed() {
        return Err(StoreError::Conflict(format!(
            "the public {} \"{}\" is {} and takes no more updates",
            record.kind, record.name, record.status
        )));
    }
    if !only_from.is_empty() && !only_from.contains(&record.status) {
        let expected: Vec<&str> = only_from.iter().map(|s| s.as_str()).collect();
        return Err(StoreError::Conflict(format!(
            "the public {} \"{}\" is {}, not {}",
            record.kind,
            record.name,
            record.status,
            expected.join(" or ")
        )));
    }
    Ok(())
}

/// Moves `record` as `update` says: status (stamping the first entry into monitoring and
/// the entry into a closed status), impact, and the components it adds, in order.
pub(super) fn apply_update(record: &mut PublicIncident, update: &NewPublicUpdate) {
    record.status = update.status;
    if let Some(impact) = update.impact {
        record.impact = impact;
    }
    for component in &update.add_components {
        if !record.components.contains(component) {
            record.components.push(component.clone());
        }
    }
    record.updated_at = update.at;
    if update.status == PublicStatus::Monitoring && record.monitoring_at.is_none() {
        record.monitoring_at = Some(update.at);
    }
    if update.status.is_closed() && record.resolved_at.is_none() {
        record.resolved_at = Some(update.at);
    }
}

macro_rules! impl_statuspage_store {
    ($store:ty, $conn:ty, $db:ty) => {
        // A module of its own, so that these imports do not meet `impl_store!`'s.
        mod statuspage_store {
            use std::collections::HashMap;

            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use sqlx::types::Json;
            use uuid::Uuid;

            // The store, connection and database types the macro is given.
            use super::*;
            use crate::model::{
                AffectedComponent, ComponentChange, ComponentStatus, IncidentId,
                NewPublicIncident, NewPublicUpdate, NewSubscriber, PublicFilter, PublicIncident,
                PublicUpdate, StatusPageVersion, Subscriber,
            };
            use crate::store::sql::ROWS_PER_STATEMENT;
            use crate::store::statuspage::StatusPageStore;
            use crate::store::statuspage_sql::{
                PublicIncidentRow, PublicUpdateRow, StatusPageDialect, SubscriberRow,
                apply_update, check_updatable, new_record, parse, public_incident_columns,
                public_update_columns, real_changes, subscriber_columns,
            };
            use crate::store::{JobsFor, StoreError, StoreResult};

            impl $store {
                /// Sets component states, recording each real change in the history;
                /// returns the real changes.
                async fn write_component_changes(
                    conn: &mut $conn,
                    changes: &[(String, ComponentStatus)],
                    at: DateTime<Utc>,
                ) -> StoreResult<Vec<AffectedComponent>> {
                    if changes.is_empty() {
                        return Ok(Vec::new());
                    }
                    if let Some(lock) = <Self as StatusPageDialect>::LOCK_COMPONENT_STATES {
                        sqlx::query(lock).execute(&mut *conn).await?;
                    }
                    // One row per component ever set: a few dozen, read whole.
                    let rows: Vec<(String, String)> =
                        sqlx::query_as("SELECT component, status FROM component_states")
                            .fetch_all(&mut *conn)
                            .await?;
                    let mut stored = HashMap::new();
                    for (component, status) in rows {
                        if changes.iter().any(|(c, _)| *c == component) {
                            let status: ComponentStatus = parse(&status)?;
                            stored.insert(component, status);
                        }
                    }
                    let affected = real_changes(&stored, changes);
                    for chunk in affected.chunks(ROWS_PER_STATEMENT) {
                        let mut upsert = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO component_states (component, status, updated_at) ",
                        );
                        upsert.push_values(chunk, |mut row, a| {
                            row.push_bind(a.component.clone())
                                .push_bind(a.new_status.as_str())
                                .push_bind(at);
                        });
                        upsert.push(
                            " ON CONFLICT (component) DO UPDATE SET status = excluded.status, \
                             updated_at = excluded.updated_at",
                        );
                        upsert.build().execute(&mut *conn).await?;
                        let mut history = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO component_changes (component, status, at) ",
                        );
                        history.push_values(chunk, |mut row, a| {
                            row.push_bind(a.component.clone())
                                .push_bind(a.new_status.as_str())
                                .push_bind(at);
                        });
                        history.build().execute(&mut *conn).await?;
                    }
                    Self::count_changes(conn, affected.len()).await?;
                    Ok(affected)
                }

                /// Adds `n` to the page's count of committed changes (see
                /// [`StatusPageVersion`]), in the caller's transaction.
                async fn count_changes(conn: &mut $conn, n: usize) -> StoreResult<()> {
                    if n > 0 {
                        sqlx::query(
                            "UPDATE status_page_changes SET changes = changes + $1 WHERE id = 1",
                        )
                        .bind(n as i64)
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(())
                }

                async fn insert_public_update(
                    conn: &mut $conn,
                    update: &PublicUpdate,
                ) -> StoreResult<()> {
                    sqlx::query(concat!(
                        "INSERT INTO public_updates (",
                        public_update_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ))
                    .bind(update.id)
                    .bind(update.public_incident_id)
                    .bind(update.status.as_str())
                    .bind(&update.body)
                    .bind(update.created_at)
                    .bind(Json(&update.affected_components))
                    .bind(&update.author)
                    .execute(&mut *conn)
                    .await?;
                    Self::count_changes(conn, 1).await
                }

                /// The updates of the records `ids`, newest first, by record: a statement
                /// per few hundred records, however many there are.
                async fn load_public_updates(
                    conn: &mut $conn,
                    ids: &[Uuid],
                ) -> StoreResult<HashMap<Uuid, Vec<PublicUpdate>>> {
                    let mut by_record: HashMap<Uuid, Vec<PublicUpdate>> =
                        HashMap::with_capacity(ids.len());
                    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                        let mut select = sqlx::QueryBuilder::<$db>::new(concat!(
                            "SELECT ",
                            public_update_columns!(),
                            " FROM public_updates WHERE public_incident_id IN ("
                        ));
                        let mut list = select.separated(", ");
                        for id in chunk {
                            list.push_bind(*id);
                        }
                        select.push(") ORDER BY seq DESC");
                        let rows: Vec<PublicUpdateRow> =
                            select.build_query_as().fetch_all(&mut *conn).await?;
                        for row in rows {
                            let update = PublicUpdate::try_from(row)?;
                            by_record
                                .entry(update.public_incident_id)
                                .or_default()
                                .push(update);
                        }
                    }
                    Ok(by_record)
                }

                /// Records from their rows, with their updates.
                async fn with_updates(
                    conn: &mut $conn,
                    rows: Vec<PublicIncidentRow>,
                ) -> StoreResult<Vec<PublicIncident>> {
                    let mut records = rows
                        .into_iter()
                        .map(PublicIncidentRow::into_record)
                        .collect::<Result<Vec<_>, _>>()?;
                    if records.is_empty() {
                        return Ok(records);
                    }
                    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
                    let mut updates = Self::load_public_updates(conn, &ids).await?;
                    for record in &mut records {
                        record.updates = updates.remove(&record.id).unwrap_or_default();
                    }
                    Ok(records)
                }

                /// The one record `sql` selects with `id` as `$1`, with its updates.
                async fn load_public(
                    conn: &mut $conn,
                    sql: &'static str,
                    id: Uuid,
                ) -> StoreResult<Option<PublicIncident>> {
                    let row: Option<PublicIncidentRow> =
                        sqlx::query_as(sql).bind(id).fetch_optional(&mut *conn).await?;
                    let records = Self::with_updates(conn, row.into_iter().collect()).await?;
                    Ok(records.into_iter().next())
                }

                async fn read_snapshot(
                    &self,
                ) -> StoreResult<sqlx::Transaction<'static, $db>> {
                    Ok(self
                        .reader()
                        .begin_with(<Self as StatusPageDialect>::BEGIN_SNAPSHOT)
                        .await?)
                }

                /// Appends `filter`'s conditions to a statement ending in `WHERE TRUE`.
                fn push_public_filter(query: &mut sqlx::QueryBuilder<$db>, filter: &PublicFilter) {
                    if let Some(kind) = filter.kind {
                        query.push(" AND kind = ").push_bind(kind.as_str());
                    }
                    if !filter.statuses.is_empty() {
                        query.push(" AND status IN (");
                        let mut list = query.separated(", ");
                        for status in &filter.statuses {
                            list.push_bind(status.as_str());
                        }
                        query.push(")");
                    }
                }

                async fn find_subscriber(
                    conn: &mut $conn,
                    kind: &str,
                    target: &str,
                ) -> StoreResult<Option<Subscriber>> {
                    let row: Option<SubscriberRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        subscriber_columns!(),
                        " FROM status_subscribers WHERE kind = $1 AND target = $2"
                    ))
                    .bind(kind)
                    .bind(target)
                    .fetch_optional(&mut *conn)
                    .await?;
                    row.map(Subscriber::try_from).transpose()
                }
            }

            #[async_trait]
            impl StatusPageStore for $store {
                async fn component_states(
                    &self,
                ) -> StoreResult<Vec<(String, ComponentStatus, DateTime<Utc>)>> {
                    let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
                        "SELECT component, status, updated_at FROM component_states \
                         ORDER BY component",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    rows.into_iter()
                        .map(|(component, status, at)| Ok((component, parse(&status)?, at)))
                        .collect()
                }

                async fn component_history(
                    &self,
                    since: DateTime<Utc>,
                ) -> StoreResult<Vec<ComponentChange>> {
                    // Every change in the range, and for each component the one change that
                    // says what state it entered the range in: both halves by index.
                    let rows: Vec<(String, String, DateTime<Utc>, i64)> = sqlx::query_as(
                        "SELECT component, status, at, id FROM component_changes WHERE at >= $1 \
                         UNION ALL \
                         SELECT c.component, c.status, c.at, c.id FROM component_states s \
                         JOIN component_changes c ON c.id = ( \
                             SELECT p.id FROM component_changes p \
                             WHERE p.component = s.component AND p.at < $1 \
                             ORDER BY p.at DESC, p.id DESC LIMIT 1) \
                         ORDER BY at, id",
                    )
                    .bind(since)
                    .fetch_all(self.reader())
                    .await?;
                    rows.into_iter()
                        .map(|(component, status, at, _)| {
                            Ok(ComponentChange {
                                component,
                                status: parse(&status)?,
                                at,
                            })
                        })
                        .collect()
                }

                async fn set_component_states(
                    &self,
                    changes: &[(String, ComponentStatus)],
                    at: DateTime<Utc>,
                    jobs: JobsFor<'_, [AffectedComponent]>,
                ) -> StoreResult<Vec<AffectedComponent>> {
                    let mut tx = self.begin_write().await?;
                    let affected = Self::write_component_changes(&mut tx, changes, at).await?;
                    let jobs = jobs(&affected);
                    Self::insert_jobs(&mut tx, &jobs, at).await?;
                    tx.commit().await?;
                    self.signal_jobs(&jobs);
                    Ok(affected)
                }

                async fn create_public_incident(
                    &self,
                    new: NewPublicIncident,
                    jobs: JobsFor<'_, PublicIncident>,
                ) -> StoreResult<PublicIncident> {
                    let taken = |incident: IncidentId| {
                        StoreError::Conflict(format!(
                            "incident {incident} already has a public incident"
                        ))
                    };
                    let mut tx = self.begin_write().await?;
                    if let Some(incident) = new.incident_id {
                        let existing: Option<Uuid> = sqlx::query_scalar(
                            "SELECT id FROM public_incidents WHERE incident_id = $1",
                        )
                        .bind(incident.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if existing.is_some() {
                            return Err(taken(incident));
                        }
                    }
                    let mut record = new_record(&new);
                    sqlx::query(concat!(
                        "INSERT INTO public_incidents (",
                        public_incident_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                    ))
                    .bind(record.id)
                    .bind(record.kind.as_str())
                    .bind(record.incident_id.map(|i| i.0))
                    .bind(&record.name)
                    .bind(record.status.as_str())
                    .bind(record.impact.as_str())
                    .bind(Json(&record.components))
                    .bind(record.created_at)
                    .bind(record.updated_at)
                    .bind(record.started_at)
                    .bind(record.monitoring_at)
                    .bind(record.resolved_at)
                    .bind(record.scheduled_for)
                    .bind(record.scheduled_until)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match (e, new.incident_id) {
                        (sqlx::Error::Database(db), Some(incident))
                            if db.is_foreign_key_violation() =>
                        {
                            StoreError::NotFound(format!("incident {incident}"))
                        }
                        // A concurrent create for the same incident committed first (the
                        // check above cannot see it on PostgreSQL). SQLite names no
                        // constraint, and there only the id can clash after the check.
                        (sqlx::Error::Database(db), Some(incident))
                            if db.is_unique_violation()
                                && db.constraint() == Some("public_incidents_incident") =>
                        {
                            taken(incident)
                        }
                        (sqlx::Error::Database(db), _) if db.is_unique_violation() => {
                            StoreError::Conflict(format!(
                                "public incident {} already exists",
                                new.id
                            ))
                        }
                        (other, _) => other.into(),
                    })?;
                    let affected =
                        Self::write_component_changes(&mut tx, &new.component_changes, new.at)
                            .await?;
                    let update = PublicUpdate {
                        id: Uuid::now_v7(),
                        public_incident_id: record.id,
                        status: new.status,
                        body: new.body,
                        created_at: new.at,
                        affected_components: affected,
                        author: new.author,
                    };
                    Self::insert_public_update(&mut tx, &update).await?;
                    record.updates.push(update);
                    let jobs = jobs(&record);
                    Self::insert_jobs(&mut tx, &jobs, new.at).await?;
                    tx.commit().await?;
                    self.signal_jobs(&jobs);
                    Ok(record)
                }

                async fn add_public_update(
                    &self,
                    update: NewPublicUpdate,
                    jobs: JobsFor<'_, PublicIncident>,
                ) -> StoreResult<PublicIncident> {
                    let id = update.public_incident_id;
                    let mut tx = self.begin_write().await?;
                    let row: Option<PublicIncidentRow> =
                        sqlx::query_as(<Self as StatusPageDialect>::PUBLIC_INCIDENT_FOR_UPDATE)
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let mut record = row
                        .ok_or_else(|| StoreError::NotFound(format!("public incident {id}")))?
                        .into_record()?;
                    check_updatable(&record, &update.only_from)?;
                    apply_update(&mut record, &update);
                    sqlx::query(
                        "UPDATE public_incidents SET status = $2, impact = $3, components = $4, \
                         updated_at = $5, monitoring_at = $6, resolved_at = $7 WHERE id = $1",
                    )
                    .bind(record.id)
                    .bind(record.status.as_str())
                    .bind(record.impact.as_str())
                    .bind(Json(&record.components))
                    .bind(record.updated_at)
                    .bind(record.monitoring_at)
                    .bind(record.resolved_at)
                    .execute(&mut *tx)
                    .await?;
                    let affected =
                        Self::write_component_changes(&mut tx, &update.component_changes, update.at)
                            .await?;
                    Self::insert_public_update(
                        &mut tx,
                        &PublicUpdate {
                            id: Uuid::now_v7(),
                            public_incident_id: id,
                            status: update.status,
                            body: update.body,
                            created_at: update.at,
                            affected_components: affected,
                            author: update.author,
                        },
                    )
                    .await?;
                    record.updates = Self::load_public_updates(&mut tx, &[id])
                        .await?
                        .remove(&id)
                        .unwrap_or_default();
                    let jobs = jobs(&record);
                    Self::insert_jobs(&mut tx, &jobs, update.at).await?;
                    tx.commit().await?;
                    self.signal_jobs(&jobs);
                    Ok(record)
                }

                async fn get_public_incident(&self, id: Uuid) -> StoreResult<PublicIncident> {
                    let mut tx = self.read_snapshot().await?;
                    let record = Self::load_public(
                        &mut tx,
                        concat!(
                            "SELECT ",
                            public_incident_columns!(),
                            " FROM public_incidents WHERE id = $1"
                        ),
                        id,
                    )
                    .await?;
                    tx.commit().await?;
                    record.ok_or_else(|| StoreError::NotFound(format!("public incident {id}")))
                }

                async fn public_incident_for(
                    &self,
                    incident: IncidentId,
                ) -> StoreResult<Option<PublicIncident>> {
                    let mut tx = self.read_snapshot().await?;
                    let record = Self::load_public(
                        &mut tx,
                        concat!(
                            "SELECT ",
                            public_incident_columns!(),
                            " FROM public_incidents WHERE incident_id = $1"
                        ),
                        incident.0,
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(record)
                }

                async fn list_public_incidents(
                    &self,
                    filter: &PublicFilter,
                ) -> StoreResult<Vec<PublicIncident>> {
                    let mut select = sqlx::QueryBuilder::<$db>::new(concat!(
                        "SELECT ",
                        public_incident_columns!(),
                        " FROM public_incidents WHERE TRUE"
                    ));
                    Self::push_public_filter(&mut select, filter);
                    // Both dialects need a LIMIT before an OFFSET; "no limit" is the largest.
                    let limit = if filter.limit > 0 { filter.limit } else { i64::MAX };
                    select
                        .push(" ORDER BY COALESCE(scheduled_for, created_at) DESC, id DESC LIMIT ")
                        .push_bind(limit)
                        .push(" OFFSET ")
                        .push_bind(filter.offset.max(0));
                    let mut tx = self.read_snapshot().await?;
                    let rows: Vec<PublicIncidentRow> =
                        select.build_query_as().fetch_all(&mut *tx).await?;
                    let records = Self::with_updates(&mut tx, rows).await?;
                    tx.commit().await?;
                    Ok(records)
                }

                async fn count_public_incidents(&self, filter: &PublicFilter) -> StoreResult<i64> {
                    let mut count = sqlx::QueryBuilder::<$db>::new(
                        "SELECT COUNT(*) FROM public_incidents WHERE TRUE",
                    );
                    Self::push_public_filter(&mut count, filter);
                    Ok(count
                        .build_query_scalar()
                        .fetch_one(self.reader())
                        .await?)
                }

                async fn status_page_version(&self) -> StoreResult<StatusPageVersion> {
                    // A new update moves its record's `updated_at`, so records cover updates.
                    let (updated_at, changes): (Option<DateTime<Utc>>, i64) = sqlx::query_as(
                        "SELECT (SELECT MAX(latest) FROM ( \
                             SELECT MAX(updated_at) AS latest FROM component_states \
                             UNION ALL SELECT MAX(updated_at) FROM public_incidents \
                         ) AS parts), \
                         (SELECT changes FROM status_page_changes WHERE id = 1)",
                    )
                    .fetch_one(self.reader())
                    .await?;
                    Ok(StatusPageVersion {
                        updated_at,
                        changes,
                    })
                }

                async fn add_subscriber(
                    &self,
                    new: NewSubscriber,
                    jobs: JobsFor<'_, Subscriber>,
                ) -> StoreResult<(Subscriber, bool)> {
                    let mut tx = self.begin_write().await?;
                    if let Some(existing) =
                        Self::find_subscriber(&mut tx, new.kind.as_str(), &new.target).await?
                    {
                        return Ok((existing, false));
                    }
                    let subscriber = Subscriber {
                        id: new.id,
                        kind: new.kind,
                        target: new.target,
                        components: new.components,
                        created_at: new.at,
                        confirmed_at: new.confirmed.then_some(new.at),
                    };
                    let inserted = sqlx::query(concat!(
                        "INSERT INTO status_subscribers (",
                        subscriber_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, target) DO NOTHING"
                    ))
                    .bind(subscriber.id)
                    .bind(subscriber.kind.as_str())
                    .bind(&subscriber.target)
                    .bind(Json(&subscriber.components))
                    .bind(subscriber.created_at)
                    .bind(subscriber.confirmed_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Database(db) if db.is_unique_violation() => {
                            StoreError::Conflict(format!(
                                "subscriber {} already exists",
                                subscriber.id
                            ))
                        }
                        other => other.into(),
                    })?;
                    if inserted.rows_affected() == 0 {
                        // A concurrent subscribe with the same target committed first
                        // (PostgreSQL): theirs stands.
                        drop(tx);
                        let mut conn = self.writer().acquire().await?;
                        let existing = Self::find_subscriber(
                            &mut conn,
                            subscriber.kind.as_str(),
                            &subscriber.target,
                        )
                        .await?
                        .ok_or_else(|| {
                            StoreError::NotFound(format!("subscriber {}", subscriber.target))
                        })?;
                        return Ok((existing, false));
                    }
                    let jobs = jobs(&subscriber);
                    Self::insert_jobs(&mut tx, &jobs, subscriber.created_at).await?;
                    tx.commit().await?;
                    self.signal_jobs(&jobs);
                    Ok((subscriber, true))
                }

                async fn confirm_subscriber(
                    &self,
                    id: Uuid,
                    at: DateTime<Utc>,
                ) -> StoreResult<Subscriber> {
                    let row: Option<SubscriberRow> = sqlx::query_as(concat!(
                        "UPDATE status_subscribers SET confirmed_at = COALESCE(confirmed_at, $2) \
                         WHERE id = $1 RETURNING ",
                        subscriber_columns!()
                    ))
                    .bind(id)
                    .bind(at)
                    .fetch_optional(self.writer())
                    .await?;
                    row.ok_or_else(|| StoreError::NotFound(format!("subscriber {id}")))?
                        .try_into()
                }

                async fn remove_subscriber(&self, id: Uuid) -> StoreResult<bool> {
                    let removed = sqlx::query("DELETE FROM status_subscribers WHERE id = $1")
                        .bind(id)
                        .execute(self.writer())
                        .await?;
                    Ok(removed.rows_affected() == 1)
                }

                async fn get_subscriber(&self, id: Uuid) -> StoreResult<Subscriber> {
                    let row: Option<SubscriberRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        subscriber_columns!(),
                        " FROM status_subscribers WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                    row.ok_or_else(|| StoreError::NotFound(format!("subscriber {id}")))?
                        .try_into()
                }

                async fn list_subscribers(
                    &self,
                    confirmed_only: bool,
                ) -> StoreResult<Vec<Subscriber>> {
                    let rows: Vec<SubscriberRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        subscriber_columns!(),
                        " FROM status_subscribers \
                         WHERE ($1 = FALSE OR confirmed_at IS NOT NULL) \
                         ORDER BY created_at, id"
                    ))
                    .bind(confirmed_only)
                    .fetch_all(self.reader())
                    .await?;
                    rows.into_iter().map(Subscriber::try_from).collect()
                }
            }
        }
    };
}

pub(super) use impl_statuspage_store;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Impact;

    fn state(pairs: &[(&str, ComponentStatus)]) -> HashMap<String, ComponentStatus> {
        pairs.iter().map(|(c, s)| (c.to_string(), *s)).collect()
    }

    fn asked(pairs: &[(&str, ComponentStatus)]) -> Vec<(String, ComponentStatus)> {
        pairs.iter().map(|(c, s)| (c.to_string(), *s)).collect()
    }

    #[test]
    fn only_real_changes_count_and_an_unset_component_is_operational() {
        use ComponentStatus::*;
        let stored = state(&[("api", MajorOutage)]);
        let changes = real_changes(
            &stored,
            &asked(&[
                ("api", MajorOutage),
                ("web", Operational),
                ("db", DegradedPerformance),
            ]),
        );
        assert_eq!(
            changes,
            vec![AffectedComponent {
                component: "db".into(),
                old_status: Operational,
                new_status: DegradedPerformance,
            }]
        );
    }

    #[test]
    fn a_component_named_twice_ends_in_the_state_named_last() {
        use ComponentStatus::*;
        let changes = real_changes(
            &HashMap::new(),
            &asked(&[
                ("api", MajorOutage),
                ("web", PartialOutage),
                ("api", DegradedPerformance),
            ]),
        );
        let got: Vec<(&str, ComponentStatus)> = changes
            .iter()
            .map(|a| (a.component.as_str(), a.new_status))
            .collect();
        assert_eq!(got, [("api", DegradedPerformance), ("web", PartialOutage)]);
        // Named twice and back where it was: no change at all.
        assert!(
            real_changes(
                &HashMap::new(),
                &asked(&[("api", MajorOutage), ("api", Operational)])
            )
            .is_empty()
        );
    }

    #[test]
    fn an_update_stamps_monitoring_once_and_adds_components_in_order() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let mut record = new_record(&NewPublicIncident {
            id: Uuid::now_v7(),
            kind: PublicKind::Incident,
            incident_id: None,
            name: "Checkout errors".into(),
            status: PublicStatus::Investigating,
            impact: Impact::Major,
            components: vec!["checkout".into()],
            scheduled_for: None,
            scheduled_until: None,
            body: "Looking".into(),
            component_changes: vec![],
            author: "user:alice".into(),
            at: at("2026-01-01T00:00:00Z"),
        });
        let id = record.id;
        let update = |status, when: &str, add: &[&str]| NewPublicUpdate {
            public_incident_id: id,
            status,
            body: String::new(),
            impact: None,
            add_components: add.iter().map(|c| c.to_string()).collect(),
            component_changes: vec![],
            author: "user:alice".into(),
            at: at(when),
            only_from: vec![],
        };
        let first = update(
            PublicStatus::Monitoring,
            "2026-01-01T01:00:00Z",
            &["api", "checkout"],
        );
        apply_update(&mut record, &first);
        let again = update(PublicStatus::Identified, "2026-01-01T02:00:00Z", &[]);
        apply_update(&mut record, &again);
        let back = update(PublicStatus::Monitoring, "2026-01-01T03:00:00Z", &["web"]);
        apply_update(&mut record, &back);
        assert_eq!(record.monitoring_at, Some(at("2026-01-01T01:00:00Z")));
        assert_eq!(record.updated_at, at("2026-01-01T03:00:00Z"));
        assert_eq!(record.components, ["checkout", "api", "web"]);
        assert_eq!(record.resolved_at, None);
        assert!(check_updatable(&record, &[PublicStatus::Monitoring]).is_ok());
        assert!(matches!(
            check_updatable(&record, &[PublicStatus::Investigating]),
            Err(StoreError::Conflict(_))
        ));
        let resolved = update(PublicStatus::Resolved, "2026-01-01T04:00:00Z", &[]);
        apply_update(&mut record, &resolved);
        assert_eq!(record.resolved_at, Some(at("2026-01-01T04:00:00Z")));
        assert!(matches!(
            check_updatable(&record, &[]),
            Err(StoreError::Conflict(_))
        ));
    }
}
