//! What post-incident reviews keep: one postmortem per incident, and the incident's action
//! items with their tickets. Part of every [`Store`](super::Store).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{JobsFor, StoreResult};
use crate::model::{
    ActionItem, ActionItemState, IncidentId, NewActionItem, NewTimelineEntry, Postmortem,
    TicketUpdate, Tracker,
};

/// A change to a postmortem, applied to the stored one inside the store's transaction
/// (with the row locked where the backend can), so two edits never lose each other. An
/// error from it aborts the write.
pub type PostmortemChange<'a> = &'a (dyn Fn(&mut Postmortem) -> StoreResult<()> + Send + Sync);

#[async_trait]
pub trait PostmortemStore: Send + Sync {
    /// Creates the postmortem of `new.incident_id`. Conflict when the incident has one;
    /// NotFound when the incident does not exist.
    async fn create_postmortem(
        &self,
        new: Postmortem,
        jobs: JobsFor<'_, Postmortem>,
    ) -> StoreResult<Postmortem>;
    async fn get_postmortem(&self, id: Uuid) -> StoreResult<Postmortem>;
    /// The postmortem of `incident`, if it has one.
    async fn postmortem_for(&self, incident: IncidentId) -> StoreResult<Option<Postmortem>>;
    /// Reads the postmortem, applies `change`, stamps `updated_at = at` and writes it back
    /// with `jobs`, all in one transaction. NotFound for an unknown id.
    async fn update_postmortem(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        change: PostmortemChange<'_>,
        jobs: JobsFor<'_, Postmortem>,
    ) -> StoreResult<Postmortem>;
}

#[async_trait]
pub trait ActionItemStore: Send + Sync {
    /// Records a new action item with the jobs it causes (filing its ticket). NotFound
    /// when the incident does not exist.
    async fn add_action_item(
        &self,
        new: NewActionItem,
        jobs: JobsFor<'_, ActionItem>,
    ) -> StoreResult<ActionItem>;
    async fn get_action_item(&self, id: Uuid) -> StoreResult<ActionItem>;
    /// The items of `incident`, oldest first.
    async fn action_items(&self, incident: IncidentId) -> StoreResult<Vec<ActionItem>>;
    /// Records what filing or watching the ticket found out.
    async fn record_ticket(
        &self,
        id: Uuid,
        update: &TicketUpdate,
        at: DateTime<Utc>,
    ) -> StoreResult<ActionItem>;
    /// The item whose ticket on `tracker` is `key` (`owner/repo#12`, `OPS-12`), if any.
    async fn action_item_by_ticket(
        &self,
        tracker: Tracker,
        key: &str,
    ) -> StoreResult<Option<ActionItem>>;
    /// Moves an item to `state` (setting or clearing `done_at`), with an optional entry in
    /// the incident's timeline. Unchanged items are returned as they are, nothing written.
    async fn set_action_item_state(
        &self,
        id: Uuid,
        state: ActionItemState,
        at: DateTime<Utc>,
        timeline: Option<NewTimelineEntry>,
    ) -> StoreResult<ActionItem>;
}
