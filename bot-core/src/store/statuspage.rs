//! What the status page keeps: component states and their history, public incidents and
//! maintenance with their updates, and subscribers. Part of every [`Store`](super::Store).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{JobsFor, StoreResult};
use crate::model::{
    AffectedComponent, ComponentChange, ComponentStatus, IncidentId, NewPublicIncident,
    NewPublicUpdate, NewSubscriber, PublicFilter, PublicIncident, StatusPageVersion, Subscriber,
};

#[async_trait]
pub trait StatusPageStore: Send + Sync {
    /// The stored state of every component whose state was ever set, with when it last
    /// changed. Components never set are operational.
    async fn component_states(&self) -> StoreResult<Vec<(String, ComponentStatus, DateTime<Utc>)>>;

    /// Every component state change at or after `since`, oldest first, preceded for each
    /// component by the last change before `since` (the state it entered the range in).
    async fn component_history(&self, since: DateTime<Utc>) -> StoreResult<Vec<ComponentChange>>;

    /// Sets component states outside any public record (`/incident statuspage` without an
    /// incident). Only real changes are recorded and returned; `jobs` sees them and is
    /// written in the same transaction.
    async fn set_component_states(
        &self,
        changes: &[(String, ComponentStatus)],
        at: DateTime<Utc>,
        jobs: JobsFor<'_, [AffectedComponent]>,
    ) -> StoreResult<Vec<AffectedComponent>>;

    /// Creates a public incident or maintenance with its first update and component
    /// changes. Conflict when `incident_id` already has a public incident.
    async fn create_public_incident(
        &self,
        new: NewPublicIncident,
        jobs: JobsFor<'_, PublicIncident>,
    ) -> StoreResult<PublicIncident>;

    /// Adds an update: moves the status (setting `monitoring_at`/`resolved_at` on first
    /// entering monitoring / a closed status), the impact, the component list and states,
    /// all in one transaction. NotFound for an unknown record; Conflict when it is closed
    /// or not in one of `only_from`. Returns the record with the new update first.
    async fn add_public_update(
        &self,
        update: NewPublicUpdate,
        jobs: JobsFor<'_, PublicIncident>,
    ) -> StoreResult<PublicIncident>;

    async fn get_public_incident(&self, id: Uuid) -> StoreResult<PublicIncident>;
    /// The public incident speaking for internal incident `incident`, if any.
    async fn public_incident_for(
        &self,
        incident: IncidentId,
    ) -> StoreResult<Option<PublicIncident>>;
    /// Records matching `filter`, newest first (by `scheduled_for` for maintenance, else
    /// `created_at`), with their updates.
    async fn list_public_incidents(
        &self,
        filter: &PublicFilter,
    ) -> StoreResult<Vec<PublicIncident>>;
    /// How many records match `filter` (its limit and offset ignored).
    async fn count_public_incidents(&self, filter: &PublicFilter) -> StoreResult<i64>;
    /// When anything public last changed (a component state, a record, an update) and how
    /// many public changes were committed: the page's `updated_at` and `Last-Modified`, and
    /// what a copy of the page may be kept under.
    async fn status_page_version(&self) -> StoreResult<StatusPageVersion>;

    /// Adds a subscriber, or returns the one with the same kind and target (then
    /// `false`, no jobs written, and its component list unchanged).
    async fn add_subscriber(
        &self,
        new: NewSubscriber,
        jobs: JobsFor<'_, Subscriber>,
    ) -> StoreResult<(Subscriber, bool)>;
    /// Marks a subscriber confirmed at `at` (kept if it already was). NotFound if unknown.
    async fn confirm_subscriber(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<Subscriber>;
    /// Removes a subscriber; false if there was none.
    async fn remove_subscriber(&self, id: Uuid) -> StoreResult<bool>;
    async fn get_subscriber(&self, id: Uuid) -> StoreResult<Subscriber>;
    /// Every subscriber, oldest first; only confirmed ones when `confirmed_only`.
    async fn list_subscribers(&self, confirmed_only: bool) -> StoreResult<Vec<Subscriber>>;
}
