//! [`ReportStore`](super::reports::ReportStore) for both backends, instantiated by
//! `impl_report_store!` like the rest of the store. Reads only, on the reader pool; the
//! figures are computed from what these return by [`crate::reports`].

/// The expressions of the report queries that differ between backends: reading a field of
/// the timeline's JSON `data`.
pub(super) trait ReportDialect {
    /// `data.user` of the timeline row `t`, as text (NULL when absent or null).
    const PAGE_USER: &'static str;
    /// `data.channel` of the timeline row `t`: set on a delivery over one channel, absent
    /// on the escalation step that made the page.
    const PAGE_CHANNEL: &'static str;
}

impl ReportDialect for super::SqliteStore {
    const PAGE_USER: &'static str = "json_extract(t.data, '$.user')";
    const PAGE_CHANNEL: &'static str = "json_extract(t.data, '$.channel')";
}

impl ReportDialect for super::PostgresStore {
    const PAGE_USER: &'static str = "t.data->>'user'";
    const PAGE_CHANNEL: &'static str = "t.data->>'channel'";
}

macro_rules! impl_report_store {
    ($store:ty, $conn:ty, $db:ty) => {
        // A module of its own, so that these imports do not meet `impl_store!`'s.
        mod report_store {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use sqlx::types::Json;
            use uuid::Uuid;

            // The store, connection and database types the macro is given.
            use super::*;
            use crate::model::{IncidentId, ServiceId};
            use crate::store::StoreResult;
            use crate::store::reports::{
                AlertGroup, AlertTimes, IncidentFacts, NoisyAlert, PageFact, ReportScope,
                ReportStore,
            };
            use crate::store::reports_sql::ReportDialect;

            impl $store {
                /// Appends `AND <column> IN (…)` when the scope names services.
                fn push_services(
                    query: &mut sqlx::QueryBuilder<$db>,
                    column: &str,
                    scope: &ReportScope,
                ) {
                    if let Some(services) = &scope.services {
                        query.push(format!(" AND {column} IN ("));
                        let mut list = query.separated(", ");
                        for service in services {
                            list.push_bind(service.0.clone());
                        }
                        query.push(")");
                    }
                }

                /// `… WHERE a.created_at` in the scope's range and services.
                fn push_alert_scope(query: &mut sqlx::QueryBuilder<$db>, scope: &ReportScope) {
                    query
                        .push(" WHERE a.created_at >= ")
                        .push_bind(scope.since)
                        .push(" AND a.created_at < ")
                        .push_bind(scope.until);
                    Self::push_services(query, "a.service", scope);
                }
            }

            #[async_trait]
            impl ReportStore for $store {
                async fn report_alert_groups(
                    &self,
                    scope: &ReportScope,
                ) -> StoreResult<Vec<AlertGroup>> {
                    if scope.is_empty() {
                        return Ok(Vec::new());
                    }
                    // Escalated: the escalation moved past its first level at least once
                    // (a later level, or the policy started over).
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT a.service, a.severity, COUNT(*), \
                         COALESCE(SUM(CASE WHEN e.level >= 1 OR e.cycle >= 1 THEN 1 ELSE 0 END), 0) \
                         FROM alerts a LEFT JOIN escalations e ON e.alert_id = a.id",
                    );
                    Self::push_alert_scope(&mut query, scope);
                    query.push(" GROUP BY a.service, a.severity ORDER BY a.service, a.severity");
                    let rows: Vec<(String, String, i64, i64)> =
                        query.build_query_as().fetch_all(self.reader()).await?;
                    Ok(rows
                        .into_iter()
                        .map(|(service, severity, alerts, escalated)| AlertGroup {
                            service: ServiceId(service),
                            severity,
                            alerts,
                            escalated,
                        })
                        .collect())
                }

                async fn report_alert_times(
                    &self,
                    scope: &ReportScope,
                ) -> StoreResult<Vec<AlertTimes>> {
                    if scope.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT a.created_at, a.acknowledged_at, a.resolved_at FROM alerts a",
                    );
                    Self::push_alert_scope(&mut query, scope);
                    type Row = (DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
                    let rows: Vec<Row> = query.build_query_as().fetch_all(self.reader()).await?;
                    Ok(rows
                        .into_iter()
                        .map(|(created_at, acknowledged_at, resolved_at)| AlertTimes {
                            created_at,
                            acknowledged_at,
                            resolved_at,
                        })
                        .collect())
                }

                async fn report_noisiest_alerts(
                    &self,
                    scope: &ReportScope,
                    limit: i64,
                ) -> StoreResult<Vec<NoisyAlert>> {
                    if scope.is_empty() || limit <= 0 {
                        return Ok(Vec::new());
                    }
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT a.service, a.dedup_key, COUNT(*) AS n, \
                         CAST(SUM(a.event_count) AS BIGINT) AS events FROM alerts a",
                    );
                    Self::push_alert_scope(&mut query, scope);
                    query
                        .push(
                            " GROUP BY a.service, a.dedup_key \
                             ORDER BY n DESC, events DESC, a.service, a.dedup_key LIMIT ",
                        )
                        .push_bind(limit);
                    let rows: Vec<(String, String, i64, i64)> =
                        query.build_query_as().fetch_all(self.reader()).await?;
                    Ok(rows
                        .into_iter()
                        .map(|(service, dedup_key, alerts, events)| NoisyAlert {
                            service: ServiceId(service),
                            dedup_key,
                            alerts,
                            events,
                        })
                        .collect())
                }

                async fn report_pages(&self, scope: &ReportScope) -> StoreResult<Vec<PageFact>> {
                    if scope.is_empty() {
                        return Ok(Vec::new());
                    }
                    let user = <Self as ReportDialect>::PAGE_USER;
                    let channel = <Self as ReportDialect>::PAGE_CHANNEL;
                    let mut query = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT {user} AS paged, MIN(t.at) FROM timeline t"
                    ));
                    if scope.services.is_some() {
                        query.push(" JOIN alerts a ON a.id = t.alert_id");
                    }
                    query
                        .push(" WHERE t.kind = 'paged' AND t.alert_id IS NOT NULL AND t.at >= ")
                        .push_bind(scope.since)
                        .push(" AND t.at < ")
                        .push_bind(scope.until)
                        .push(format!(" AND {user} IS NOT NULL AND {channel} IS NULL"));
                    Self::push_services(&mut query, "a.service", scope);
                    query.push(" GROUP BY t.alert_id, paged");
                    let rows: Vec<(String, DateTime<Utc>)> =
                        query.build_query_as().fetch_all(self.reader()).await?;
                    Ok(rows
                        .into_iter()
                        .map(|(user, at)| PageFact {
                            user: user.into(),
                            at,
                        })
                        .collect())
                }

                async fn report_incidents(
                    &self,
                    scope: &ReportScope,
                ) -> StoreResult<Vec<IncidentFacts>> {
                    if scope.since >= scope.until {
                        return Ok(Vec::new());
                    }
                    type Row = (
                        Uuid,
                        String,
                        Json<Vec<String>>,
                        DateTime<Utc>,
                        Option<DateTime<Utc>>,
                        Option<String>,
                        i64,
                    );
                    let rows: Vec<Row> = sqlx::query_as(
                        "SELECT i.id, i.severity, i.services, i.declared_at, i.resolved_at, \
                         p.status, \
                         (SELECT COUNT(*) FROM action_items x \
                          WHERE x.incident_id = i.id AND x.state <> 'done') \
                         FROM incidents i LEFT JOIN postmortems p ON p.incident_id = i.id \
                         WHERE i.declared_at >= $1 AND i.declared_at < $2",
                    )
                    .bind(scope.since)
                    .bind(scope.until)
                    .fetch_all(self.reader())
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(
                            |(id, severity, services, declared_at, resolved_at, postmortem, open)| {
                                IncidentFacts {
                                    id: IncidentId(id),
                                    severity,
                                    services: services.0.into_iter().map(ServiceId).collect(),
                                    declared_at,
                                    resolved_at,
                                    postmortem,
                                    open_action_items: open,
                                }
                            },
                        )
                        .filter(|i| scope.covers_any(&i.services))
                        .collect())
                }
            }
        }
    };
}
pub(super) use impl_report_store;
