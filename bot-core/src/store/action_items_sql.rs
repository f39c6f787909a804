//! [`ActionItemStore`](super::postmortem::ActionItemStore) for both backends, instantiated
//! by `impl_action_item_store!` like the rest of the store. The row type and the pure rules
//! (how a ticket update or a state change moves an item) live outside the macro, so both
//! backends share them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use super::statuspage_sql::parse;
use crate::model::{
    ActionItem, ActionItemState, IncidentId, NewActionItem, TicketStatus, TicketUpdate, UserId,
};

/// The columns of `action_items`, in [`ActionItemRow`]'s order, for `concat!`.
macro_rules! action_item_columns {
    () => {
        "id, incident_id, title, assignee, tracker, target, state, ticket_status, ticket_key, \
         ticket_url, ticket_state, ticket_error, created_by, created_at, updated_at, done_at"
    };
}
pub(super) use action_item_columns;

#[derive(sqlx::FromRow)]
pub(super) struct ActionItemRow {
    id: Uuid,
    incident_id: Uuid,
    title: String,
    assignee: Option<String>,
    tracker: Option<String>,
    target: Option<String>,
    state: String,
    ticket_status: String,
    ticket_key: Option<String>,
    ticket_url: Option<String>,
    ticket_state: Option<String>,
    ticket_error: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
}

impl TryFrom<ActionItemRow> for ActionItem {
    type Error = StoreError;

    fn try_from(r: ActionItemRow) -> Result<Self, StoreError> {
        Ok(ActionItem {
            id: r.id,
            incident_id: IncidentId(r.incident_id),
            title: r.title,
            assignee: r.assignee.map(UserId),
            tracker: r.tracker.as_deref().map(parse).transpose()?,
            target: r.target,
            state: parse(&r.state)?,
            ticket_status: parse(&r.ticket_status)?,
            ticket_key: r.ticket_key,
            ticket_url: r.ticket_url,
            ticket_state: r.ticket_state,
            ticket_error: r.ticket_error,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            done_at: r.done_at,
        })
    }
}

/// A new item as stored: open, and pending a ticket when it names a tracker.
pub(super) fn new_item(new: NewActionItem) -> ActionItem {
    let ticket_status = if new.tracker.is_some() {
        TicketStatus::Pending
    } else {
        TicketStatus::None
    };
    ActionItem {
        id: new.id,
        incident_id: new.incident_id,
        title: new.title,
        assignee: new.assignee,
        tracker: new.tracker,
        target: new.target,
        state: ActionItemState::Open,
        ticket_status,
        ticket_key: None,
        ticket_url: None,
        ticket_state: None,
        ticket_error: None,
        created_by: new.created_by,
        created_at: new.created_at,
        updated_at: new.created_at,
        done_at: None,
    }
}

/// Applies what the tracker said. A key, URL or state the update leaves out is kept (a
/// retry that fails again does not forget a ticket already known); the error is replaced,
/// so a success clears it.
pub(super) fn apply_ticket(item: &mut ActionItem, update: &TicketUpdate, at: DateTime<Utc>) {
    item.ticket_status = update.status;
    if update.key.is_some() {
        item.ticket_key.clone_from(&update.key);
    }
    if update.url.is_some() {
        item.ticket_url.clone_from(&update.url);
    }
    if update.state.is_some() {
        item.ticket_state.clone_from(&update.state);
    }
    item.ticket_error.clone_from(&update.error);
    item.updated_at = at;
}

/// Moves the item to `state`; false when it is there already (nothing to write).
pub(super) fn apply_state(
    item: &mut ActionItem,
    state: ActionItemState,
    at: DateTime<Utc>,
) -> bool {
    if item.state == state {
        return false;
    }
    item.state = state;
    item.done_at = (state == ActionItemState::Done).then_some(at);
    item.updated_at = at;
    true
}

macro_rules! impl_action_item_store {
    ($store:ty, $conn:ty, $db:ty) => {
        // A module of its own, so that these imports do not meet `impl_store!`'s.
        mod action_item_store {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use uuid::Uuid;

            // The store, connection and database types the macro is given.
            #[allow(unused_imports)]
            use super::*;
            use crate::model::{
                ActionItem, ActionItemState, IncidentId, NewActionItem, NewTimelineEntry,
                TicketUpdate, Tracker,
            };
            use crate::store::action_items_sql::{
                ActionItemRow, action_item_columns, apply_state, apply_ticket, new_item,
            };
            use crate::store::postmortem::ActionItemStore;
            use crate::store::{JobsFor, StoreError, StoreResult};

            impl $store {
                async fn load_action_item(conn: &mut $conn, id: Uuid) -> StoreResult<ActionItem> {
                    // SQLite's `BEGIN IMMEDIATE` already shuts out other writers; on
                    // PostgreSQL the row is locked for the read-modify-write.
                    let sql = if <Self as crate::store::sql::Dialect>::NAME == "postgres" {
                        concat!(
                            "SELECT ",
                            action_item_columns!(),
                            " FROM action_items WHERE id = $1 FOR UPDATE"
                        )
                    } else {
                        concat!(
                            "SELECT ",
                            action_item_columns!(),
                            " FROM action_items WHERE id = $1"
                        )
                    };
                    let row: Option<ActionItemRow> = sqlx::query_as(sql)
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await?;
                    row.ok_or_else(|| StoreError::NotFound(format!("action item {id}")))?
                        .try_into()
                }

                /// Writes every mutable column of `item`.
                async fn write_action_item(conn: &mut $conn, item: &ActionItem) -> StoreResult<()> {
                    sqlx::query(
                        "UPDATE action_items SET state = $2, ticket_status = $3, \
                         ticket_key = $4, ticket_url = $5, ticket_state = $6, \
                         ticket_error = $7, updated_at = $8, done_at = $9 WHERE id = $1",
                    )
                    .bind(item.id)
                    .bind(item.state.as_str())
                    .bind(item.ticket_status.as_str())
                    .bind(&item.ticket_key)
                    .bind(&item.ticket_url)
                    .bind(&item.ticket_state)
                    .bind(&item.ticket_error)
                    .bind(item.updated_at)
                    .bind(item.done_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Database(db) if db.is_unique_violation() => {
                            StoreError::Conflict(format!(
                                "the ticket {} belongs to another action item",
                                item.ticket_key.as_deref().unwrap_or("?")
                            ))
                        }
                        e => e.into(),
                    })?;
                    Ok(())
                }
            }

            #[async_trait]
            impl ActionItemStore for $store {
                async fn add_action_item(
                    &self,
                    new: NewActionItem,
                    jobs: JobsFor<'_, ActionItem>,
                ) -> StoreResult<ActionItem> {
                    let incident = new.incident_id;
                    let item = new_item(new);
                    let mut tx = self.begin_write().await?;
                    let exists: Option<Uuid> =
                        sqlx::query_scalar("SELECT id FROM incidents WHERE id = $1")
                            .bind(incident.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("incident {incident}")));
                    }
                    sqlx::query(concat!(
                        "INSERT INTO action_items (",
                        action_item_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                         $14, $15, $16)"
                    ))
                    .bind(item.id)
                    .bind(item.incident_id.0)
                    .bind(&item.title)
                    .bind(item.assignee.as_ref().map(|u| u.as_str()))
                    .bind(item.tracker.map(|t| t.as_str()))
                    .bind(&item.target)
                    .bind(item.state.as_str())
                    .bind(item.ticket_status.as_str())
                    .bind(&item.ticket_key)
                    .bind(&item.ticket_url)
                    .bind(&item.ticket_state)
                    .bind(&item.ticket_error)
                    .bind(&item.created_by)
                    .bind(item.created_at)
                    .bind(item.updated_at)
                    .bind(item.done_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                            StoreError::NotFound(format!("incident {incident}"))
                        }
                        sqlx::Error::Database(db) if db.is_unique_violation() => {
                            StoreError::Conflict(format!("action item {} exists", item.id))
                        }
                        e => e.into(),
                    })?;
                    let jobs = jobs(&item);
                    Self::insert_jobs(&mut tx, &jobs, item.created_at).await?;
                    tx.commit().await?;
                    self.signal_jobs(&jobs);
                    Ok(item)
                }

                async fn get_action_item(&self, id: Uuid) -> StoreResult<ActionItem> {
                    let row: Option<ActionItemRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        action_item_columns!(),
                        " FROM action_items WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                    row.ok_or_else(|| StoreError::NotFound(format!("action item {id}")))?
                        .try_into()
                }

                async fn action_items(&self, incident: IncidentId) -> StoreResult<Vec<ActionItem>> {
                    let rows: Vec<ActionItemRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        action_item_columns!(),
                        " FROM action_items WHERE incident_id = $1 ORDER BY created_at, id"
                    ))
                    .bind(incident.0)
                    .fetch_all(self.reader())
                    .await?;
                    rows.into_iter().map(ActionItem::try_from).collect()
                }

                async fn record_ticket(
                    &self,
                    id: Uuid,
                    update: &TicketUpdate,
                    at: DateTime<Utc>,
                ) -> StoreResult<ActionItem> {
                    let mut tx = self.begin_write().await?;
                    let mut item = Self::load_action_item(&mut tx, id).await?;
                    apply_ticket(&mut item, update, at);
                    Self::write_action_item(&mut tx, &item).await?;
                    tx.commit().await?;
                    Ok(item)
                }

                async fn action_item_by_ticket(
                    &self,
                    tracker: Tracker,
                    key: &str,
                ) -> StoreResult<Option<ActionItem>> {
                    let row: Option<ActionItemRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        action_item_columns!(),
                        " FROM action_items WHERE tracker = $1 AND ticket_key = $2"
                    ))
                    .bind(tracker.as_str())
                    .bind(key)
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(ActionItem::try_from).transpose()
                }

                async fn set_action_item_state(
                    &self,
                    id: Uuid,
                    state: ActionItemState,
                    at: DateTime<Utc>,
                    timeline: Option<NewTimelineEntry>,
                ) -> StoreResult<ActionItem> {
                    let mut tx = self.begin_write().await?;
                    let mut item = Self::load_action_item(&mut tx, id).await?;
                    if !apply_state(&mut item, state, at) {
                        return Ok(item);
                    }
                    Self::write_action_item(&mut tx, &item).await?;
                    if let Some(entry) = timeline {
                        Self::insert_timeline(&mut tx, entry).await?;
                    }
                    tx.commit().await?;
                    Ok(item)
                }
            }
        }
    };
}
pub(super) use impl_action_item_store;

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> ActionItem {
        new_item(NewActionItem {
            id: Uuid::now_v7(),
            incident_id: IncidentId(Uuid::now_v7()),
            title: "Alert on queue depth".into(),
            assignee: None,
            tracker: Some(crate::model::Tracker::Github),
            target: Some("acme/api".into()),
            created_by: "alice".into(),
            created_at: DateTime::UNIX_EPOCH,
        })
    }

    #[test]
    fn a_failed_retry_keeps_the_known_ticket_and_a_success_clears_the_error() {
        let mut it = item();
        assert_eq!(it.ticket_status, TicketStatus::Pending);
        let at = DateTime::UNIX_EPOCH + chrono::Duration::seconds(5);
        apply_ticket(
            &mut it,
            &TicketUpdate {
                status: TicketStatus::Created,
                key: Some("acme/api#7".into()),
                url: Some("https://github.com/acme/api/issues/7".into()),
                state: Some("open".into()),
                error: None,
            },
            at,
        );
        apply_ticket(
            &mut it,
            &TicketUpdate {
                status: TicketStatus::Pending,
                key: None,
                url: None,
                state: None,
                error: Some("502 Bad Gateway".into()),
            },
            at,
        );
        assert_eq!(it.ticket_key.as_deref(), Some("acme/api#7"));
        assert_eq!(it.ticket_error.as_deref(), Some("502 Bad Gateway"));
        assert_eq!(it.updated_at, at);
    }

    #[test]
    fn done_stamps_done_at_and_reopening_clears_it() {
        let mut it = item();
        let at = DateTime::UNIX_EPOCH + chrono::Duration::seconds(9);
        assert!(!apply_state(&mut it, ActionItemState::Open, at));
        assert!(apply_state(&mut it, ActionItemState::Done, at));
        assert_eq!(it.done_at, Some(at));
        assert!(apply_state(&mut it, ActionItemState::Open, at));
        assert_eq!(it.done_at, None);
    }
}
