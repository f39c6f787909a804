//! [`StatusPageStore`](super::statuspage::StatusPageStore) for both backends, instantiated
//! by `impl_statuspage_store!` like the rest of the store.

macro_rules! impl_statuspage_store {
    ($store:ty, $conn:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl crate::store::statuspage::StatusPageStore for $store {
            async fn component_states(
                &self,
            ) -> crate::store::StoreResult<
                Vec<(String, crate::model::ComponentStatus, chrono::DateTime<chrono::Utc>)>,
            > {
                todo!()
            }
            async fn component_history(
                &self,
                _since: chrono::DateTime<chrono::Utc>,
            ) -> crate::store::StoreResult<Vec<crate::model::ComponentChange>> {
                todo!()
            }
            async fn set_component_states(
                &self,
                _changes: &[(String, crate::model::ComponentStatus)],
                _at: chrono::DateTime<chrono::Utc>,
                _jobs: crate::store::JobsFor<'_, [crate::model::AffectedComponent]>,
            ) -> crate::store::StoreResult<Vec<crate::model::AffectedComponent>> {
                todo!()
            }
            async fn create_public_incident(
                &self,
                _new: crate::model::NewPublicIncident,
                _jobs: crate::store::JobsFor<'_, crate::model::PublicIncident>,
            ) -> crate::store::StoreResult<crate::model::PublicIncident> {
                todo!()
            }
            async fn add_public_update(
                &self,
                _update: crate::model::NewPublicUpdate,
                _jobs: crate::store::JobsFor<'_, crate::model::PublicIncident>,
            ) -> crate::store::StoreResult<crate::model::PublicIncident> {
                todo!()
            }
            async fn get_public_incident(
                &self,
                _id: uuid::Uuid,
            ) -> crate::store::StoreResult<crate::model::PublicIncident> {
                todo!()
            }
            async fn public_incident_for(
                &self,
                _incident: crate::model::IncidentId,
            ) -> crate::store::StoreResult<Option<crate::model::PublicIncident>> {
                todo!()
            }
            async fn list_public_incidents(
                &self,
                _filter: &crate::model::PublicFilter,
            ) -> crate::store::StoreResult<Vec<crate::model::PublicIncident>> {
                todo!()
            }
            async fn count_public_incidents(
                &self,
                _filter: &crate::model::PublicFilter,
            ) -> crate::store::StoreResult<i64> {
                todo!()
            }
            async fn status_page_updated_at(
                &self,
            ) -> crate::store::StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
                todo!()
            }
            async fn add_subscriber(
                &self,
                _new: crate::model::NewSubscriber,
                _jobs: crate::store::JobsFor<'_, crate::model::Subscriber>,
            ) -> crate::store::StoreResult<(crate::model::Subscriber, bool)> {
                todo!()
            }
            async fn confirm_subscriber(
                &self,
                _id: uuid::Uuid,
                _at: chrono::DateTime<chrono::Utc>,
            ) -> crate::store::StoreResult<crate::model::Subscriber> {
                todo!()
            }
            async fn remove_subscriber(&self, _id: uuid::Uuid) -> crate::store::StoreResult<bool> {
                todo!()
            }
            async fn get_subscriber(
                &self,
                _id: uuid::Uuid,
            ) -> crate::store::StoreResult<crate::model::Subscriber> {
                todo!()
            }
            async fn list_subscribers(
                &self,
                _confirmed_only: bool,
            ) -> crate::store::StoreResult<Vec<crate::model::Subscriber>> {
                todo!()
            }
        }
    };
}

pub(super) use impl_statuspage_store;
