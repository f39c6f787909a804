//! [`PostmortemStore`](super::postmortem::PostmortemStore) for both backends, instantiated
//! by `impl_postmortem_store!` like the rest of the store. A postmortem is one row: its
//! sections, curated timeline and meeting are JSON documents, written whole, so an edit
//! reads the row (locked), changes it in memory and writes it back in one transaction.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::StoreError;
use super::statuspage_sql::parse;
use crate::model::{
    IncidentId, Postmortem, PostmortemMeeting, PostmortemSection, PostmortemTimelineItem,
};

/// The columns of `postmortems`, in [`PostmortemRow`]'s order, for `concat!`.
macro_rules! postmortem_columns {
    () => {
        "id, incident_id, status, owner, sections, timeline, impact_started_at, \
         impact_ended_at, meeting, created_by, created_at, updated_at, published_at"
    };
}
pub(super) use postmortem_columns;

/// The statements of postmortems that differ between backends.
pub(super) trait PostmortemDialect {
    /// A postmortem by id (`$1`), locked where the backend can, so that two edits apply
    /// one after the other instead of the second overwriting the first.
    const POSTMORTEM_FOR_UPDATE: &'static str;
}

impl PostmortemDialect for super::SqliteStore {
    // `BEGIN IMMEDIATE` already makes every write transaction the only one.
    const POSTMORTEM_FOR_UPDATE: &'static str = concat!(
        "SELECT ",
        postmortem_columns!(),
        " FROM postmortems WHERE id = $1"
    );
}

impl PostmortemDialect for super::PostgresStore {
    const POSTMORTEM_FOR_UPDATE: &'static str = concat!(
        "SELECT ",
        postmortem_columns!(),
        " FROM postmortems WHERE id = $1 FOR UPDATE"
    );
}

#[derive(sqlx::FromRow)]
pub(super) struct PostmortemRow {
    id: Uuid,
    incident_id: Uuid,
    status: String,
    owner: Option<String>,
    sections: Json<Vec<PostmortemSection>>,
    timeline: Json<Vec<PostmortemTimelineItem>>,
    impact_started_at: Option<DateTime<Utc>>,
    impact_ended_at: Option<DateTime<Utc>>,
    meeting: Option<Json<PostmortemMeeting>>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
}

impl TryFrom<PostmortemRow> for Postmortem {
    type Error = StoreError;

    fn try_from(r: PostmortemRow) -> Result<Self, StoreError> {
        Ok(Postmortem {
            id: r.id,
            incident_id: IncidentId(r.incident_id),
            status: parse(&r.status)?,
            owner: r.owner.map(Into::into),
            sections: r.sections.0,
            timeline: r.timeline.0,
            impact_started_at: r.impact_started_at,
            impact_ended_at: r.impact_ended_at,
            meeting: r.meeting.map(|m| m.0),
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            published_at: r.published_at,
        })
    }
}

/// The error for a second postmortem of `incident`.
pub(super) fn taken(incident: IncidentId) -> StoreError {
    StoreError::Conflict(format!("incident {incident} already has a postmortem"))
}

macro_rules! impl_postmortem_store {
    ($store:ty, $conn:ty, $db:ty) => {
        // A module of its own, so that these imports do not meet `impl_store!`'s.
        mod postmortem_store {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use sqlx::types::Json;
            use uuid::Uuid;

            // The store, connection and database types the macro is given.
            #[allow(unused_imports)]
            use super::*;
            use crate::model::{IncidentId, Postmortem};
            use crate::store::postmortem::{PostmortemChange, PostmortemStore};
            use crate::store::postmortem_sql::{
                PostmortemDialect, PostmortemRow, postmortem_columns, taken,
            };
            use crate::store::{JobsFor, StoreError, StoreResult};

            #[async_trait]
            impl PostmortemStore for $store {
                async fn create_postmortem(
                    &self,
                    new: Postmortem,
                    jobs: JobsFor<'_, Postmortem>,
                ) -> StoreResult<Postmortem> {
                    let incident = new.incident_id;
                    let mut tx = self.begin_write().await?;
                    let known: Option<Uuid> =
                        sqlx::query_scalar("SELECT id FROM incidents WHERE id = $1")
                            .bind(incident.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if known.is_none() {
                        return Err(StoreError::NotFound(format!("incident {incident}")));
                    }
                    let existing: Option<Uuid> =
                        sqlx::query_scalar("SELECT id FROM postmortems WHERE incident_id = $1")
                            .bind(incident.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if existing.is_some() {
                        return Err(taken(incident));
                    }
                    sqlx::query(concat!(
                        "INSERT INTO postmortems (",
                        postmortem_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                    ))
                    .bind(new.id)
                    .bind(incident.0)
                    .bind(new.status.as_str())
                    .bind(new.owner.as_ref().map(|o| o.0.clone()))
                    .bind(Json(&new.sections))
                    .bind(Json(&new.timeline))
                    .bind(new.impact_started_at)
                    .bind(new.impact_ended_at)
                    .bind(new.meeting.as_ref().map(Json))
                    .bind(&new.created_by)
                    .bind(new.created_at)
                    .bind(new.updated_at)
                    .bind(new.published_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match e {
                        // A concurrent create for the same incident committed first (the
                        // check above cannot see it on PostgreSQL), or the id is taken.
                        sqlx::Error::Database(db) if db.is_unique_violation() => taken(incident),
                        other => other.into(),
                    })?;
                    let jobs = jobs(&new);
                    Self::insert_jobs(&mut tx, &jobs, new.created_at).await?;
                    tx.commit().await?;
                    self.signal_jobs(&jobs);
                    Ok(new)
                }

                async fn get_postmortem(&self, id: Uuid) -> StoreResult<Postmortem> {
                    let row: Option<PostmortemRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        postmortem_columns!(),
                        " FROM postmortems WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                    row.ok_or_else(|| StoreError::NotFound(format!("postmortem {id}")))?
                        .try_into()
                }

                async fn postmortem_for(
                    &self,
                    incident: IncidentId,
                ) -> StoreResult<Option<Postmortem>> {
                    let row: Option<PostmortemRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        postmortem_columns!(),
                        " FROM postmortems WHERE incident_id = $1"
                    ))
                    .bind(incident.0)
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(Postmortem::try_from).transpose()
                }

                async fn update_postmortem(
                    &self,
                    id: Uuid,
                    at: DateTime<Utc>,
                    change: PostmortemChange<'_>,
                    jobs: JobsFor<'_, Postmortem>,
                ) -> StoreResult<Postmortem> {
                    let mut tx = self.begin_write().await?;
                    let row: Option<PostmortemRow> =
                        sqlx::query_as(<Self as PostmortemDialect>::POSTMORTEM_FOR_UPDATE)
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let mut postmortem: Postmortem = row
                        .ok_or_else(|| StoreError::NotFound(format!("postmortem {id}")))?
                        .try_into()?;
                    let incident = postmortem.incident_id;
                    change(&mut postmortem)?;
                    // The change may not move what identifies the document.
                    postmortem.id = id;
                    postmortem.incident_id = incident;
                    postmortem.updated_at = at;
                    sqlx::query(
                        "UPDATE postmortems SET status = $2, owner = $3, sections = $4, \
                         timeline = $5, impact_started_at = $6, impact_ended_at = $7, \
                         meeting = $8, updated_at = $9, published_at = $10 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(postmortem.status.as_str())
                    .bind(postmortem.owner.as_ref().map(|o| o.0.clone()))
                    .bind(Json(&postmortem.sections))
                    .bind(Json(&postmortem.timeline))
                    .bind(postmortem.impact_started_at)
                    .bind(postmortem.impact_ended_at)
                    .bind(postmortem.meeting.as_ref().map(Json))
                    .bind(postmortem.updated_at)
                    .bind(postmortem.published_at)
                    .execute(&mut *tx)
                    .await?;
                    let jobs = jobs(&postmortem);
                    Self::insert_jobs(&mut tx, &jobs, at).await?;
                    tx.commit().await?;
                    self.signal_jobs(&jobs);
                    Ok(postmortem)
                }
            }
        }
    };
}
pub(super) use impl_postmortem_store;
