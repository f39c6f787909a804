//! The Statuspage public API v2 (`/status/api/v2/…`), in the shape tools written for
//! Atlassian Statuspage read: the same field names, types, nullability, enums and key
//! order as its real responses (`shared/fixtures/statuspage/FIELDS.md`). Key order comes
//! from the struct field order below.
//!
//! Components keep their configured slug as `id`; a group (`group = "Shop"`) becomes a
//! group component of its own, with a stable id derived from its name.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bot_core::model::{
    AffectedComponent, Component, ComponentStatus, PublicFilter, PublicIncident, PublicKind,
    PublicStatus, PublicUpdate,
};
use bot_core::statuspage::StatusPageSettings;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Prepared, PublicError, Snapshot, incident_url, page_url, stored_document};
use crate::http::AppState;

/// How many records `incidents.json` and `scheduled-maintenances.json` list, as
/// Statuspage does.
const RECENT: i64 = 50;

/// `page`, first in every document.
#[derive(Serialize)]
struct Page {
    id: String,
    name: String,
    url: String,
    time_zone: String,
    updated_at: String,
}

#[derive(Serialize)]
struct Status {
    indicator: &'static str,
    description: &'static str,
}

#[derive(Serialize)]
struct ComponentJson {
    id: String,
    name: String,
    status: ComponentStatus,
    created_at: String,
    updated_at: String,
    position: i32,
    description: Option<String>,
    showcase: bool,
    start_date: Option<String>,
    group_id: Option<String>,
    page_id: String,
    group: bool,
    only_show_if_degraded: bool,
    /// Only on group components: their children's ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<String>>,
}

#[derive(Serialize)]
struct AffectedJson {
    code: String,
    name: String,
    old_status: ComponentStatus,
    new_status: ComponentStatus,
}

#[derive(Serialize)]
struct UpdateJson {
    id: String,
    status: PublicStatus,
    body: String,
    incident_id: String,
    created_at: String,
    updated_at: String,
    display_at: String,
    /// Null when the update moved no component.
    affected_components: Option<Vec<AffectedJson>>,
    deliver_notifications: bool,
    custom_tweet: Option<String>,
    tweet_id: Option<String>,
}

/// An incident, or (with the two window fields) a scheduled maintenance.
#[derive(Serialize)]
struct IncidentJson {
    id: String,
    name: String,
    status: PublicStatus,
    created_at: String,
    updated_at: String,
    monitoring_at: Option<String>,
    resolved_at: Option<String>,
    impact: bot_core::model::Impact,
    shortlink: String,
    started_at: String,
    page_id: String,
    incident_updates: Vec<UpdateJson>,
    components: Vec<ComponentJson>,
    /// Maintenance only (present, maybe null); absent on incidents.
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_for: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_until: Option<Option<String>>,
}

#[derive(Serialize)]
struct Summary {
    page: Page,
    components: Vec<ComponentJson>,
    incidents: Vec<IncidentJson>,
    scheduled_maintenances: Vec<IncidentJson>,
    status: Status,
}

#[derive(Serialize)]
struct StatusDoc {
    page: Page,
    status: Status,
}

#[derive(Serialize)]
struct ComponentsDoc {
    page: Page,
    components: Vec<ComponentJson>,
}

#[derive(Serialize)]
struct IncidentsDoc {
    page: Page,
    incidents: Vec<IncidentJson>,
}

#[derive(Serialize)]
struct MaintenancesDoc {
    page: Page,
    scheduled_maintenances: Vec<IncidentJson>,
}

/// Renders records and components for one page, in its time zone.
struct Writer<'a> {
    settings: &'a StatusPageSettings,
    zone: Option<Tz>,
    /// When the page last changed; stands in for components never changed.
    updated_at: DateTime<Utc>,
    components: &'a [Component],
    positions: std::collections::HashMap<&'a str, i32>,
}

/// When nothing public ever changed: a fixed moment, so an untouched page's documents
/// (and their ETags) stay the same from one request to the next.
const NEVER: DateTime<Utc> = DateTime::UNIX_EPOCH;

impl<'a> Writer<'a> {
    fn new(
        settings: &'a StatusPageSettings,
        updated_at: Option<DateTime<Utc>>,
        components: &'a [Component],
    ) -> Self {
        let zone = settings.time_zone.parse::<Tz>().ok().filter(|z| {
            !matches!(
                z,
                Tz::UTC
                    | Tz::Etc__UTC
                    | Tz::Etc__UCT
                    | Tz::UCT
                    | Tz::Etc__Universal
                    | Tz::Universal
                    | Tz::Zulu
                    | Tz::Etc__Zulu
            )
        });
        Writer {
            settings,
            zone,
            updated_at: updated_at.unwrap_or(NEVER),
            components,
            positions: positions(components),
        }
    }

    /// Milliseconds and the page's offset: `2020-05-22T20:50:20.457Z`,
    /// `2020-06-16T14:00:29.031-07:00`.
    fn time(&self, t: DateTime<Utc>) -> String {
        match self.zone {
            None => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            Some(zone) => t
                .with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string(),
        }
    }

    fn page(&self) -> Page {
        Page {
            id: self.settings.page_id.clone(),
            name: self.settings.name.clone(),
            url: page_url(self.settings),
            time_zone: self.settings.time_zone.clone(),
            updated_at: self.time(self.updated_at),
        }
    }

    fn component(&self, c: &Component, position: i32) -> ComponentJson {
        let at = self.time(c.updated_at.unwrap_or(self.updated_at));
        ComponentJson {
            id: c.id.clone(),
            name: c.name.clone(),
            status: c.status,
            created_at: at.clone(),
            updated_at: at,
            position,
            description: c.description.clone(),
            showcase: false,
            start_date: None,
            group_id: c.group.as_deref().map(group_id),
            page_id: self.settings.page_id.clone(),
            group: false,
            only_show_if_degraded: false,
            components: None,
        }
    }

    /// Every component in display order: each group's header right before its members,
    /// positions counted among the top level and within each group, as Statuspage does.
    fn components(&self) -> Vec<ComponentJson> {
        let mut out = Vec::with_capacity(self.components.len() + 4);
        let mut groups_seen: Vec<&str> = Vec::new();
        let mut top = 0;
        for c in self.components {
            match c.group.as_deref() {
                None => {
                    top += 1;
                    out.push(self.component(c, top));
                }
                Some(g) if groups_seen.contains(&g) => {}
                Some(g) => {
                    groups_seen.push(g);
                    top += 1;
                    let members: Vec<&Component> = self
                        .components
                        .iter()
                        .filter(|c| c.group.as_deref() == Some(g))
                        .collect();
                    out.push(self.group(g, &members, top));
                    for (i, member) in members.iter().enumerate() {
                        out.push(self.component(member, i as i32 + 1));
                    }
                }
            }
        }
        out
    }

    /// A group's header component: the worst state of its children, changed when the
    /// last of them changed.
    fn group(&self, name: &str, children: &[&Component], position: i32) -> ComponentJson {
        let status = children
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(ComponentStatus::Operational);
        let at = children
            .iter()
            .filter_map(|c| c.updated_at)
            .max()
            .unwrap_or(self.updated_at);
        let at = self.time(at);
        ComponentJson {
            id: group_id(name),
            name: name.to_owned(),
            status,
            created_at: at.clone(),
            updated_at: at,
            position,
            description: None,
            showcase: false,
            start_date: None,
            group_id: None,
            page_id: self.settings.page_id.clone(),
            group: true,
            only_show_if_degraded: false,
            components: Some(children.iter().map(|c| c.id.clone()).collect()),
        }
    }

    /// The name Statuspage gives a component in an update: `GROUP - CHILD` for grouped
    /// ones; the id of one no longer configured.
    fn affected_name(&self, id: &str) -> String {
        match self.components.iter().find(|c| c.id == id) {
            Some(Component {
                group: Some(g),
                name,
                ..
            }) => format!("{g} - {name}"),
            Some(c) => c.name.clone(),
            None => id.to_owned(),
        }
    }

    fn update(&self, u: &PublicUpdate) -> UpdateJson {
        let at = self.time(u.created_at);
        let affected: Vec<AffectedJson> = u
            .affected_components
            .iter()
            .map(|a: &AffectedComponent| AffectedJson {
                code: a.component.clone(),
                name: self.affected_name(&a.component),
                old_status: a.old_status,
                new_status: a.new_status,
            })
            .collect();
        UpdateJson {
            id: u.id.to_string(),
            status: u.status,
            body: u.body.clone(),
            incident_id: u.public_incident_id.to_string(),
            created_at: at.clone(),
            updated_at: at.clone(),
            display_at: at,
            affected_components: (!affected.is_empty()).then_some(affected),
            deliver_notifications: true,
            custom_tweet: None,
            tweet_id: None,
        }
    }

    fn incident(&self, r: &PublicIncident) -> IncidentJson {
        let maintenance = r.kind == PublicKind::Maintenance;
        let components = r
            .components
            .iter()
            .filter_map(|id| {
                let position = self.position_of(id)?;
                let c = self.components.iter().find(|c| c.id == *id)?;
                Some(self.component(c, position))
            })
            .collect();
        IncidentJson {
            id: r.id.to_string(),
            name: r.name.clone(),
            status: r.status,
            created_at: self.time(r.created_at),
            updated_at: self.time(r.updated_at),
            monitoring_at: r.monitoring_at.map(|t| self.time(t)),
            resolved_at: r.resolved_at.map(|t| self.time(t)),
            impact: r.impact,
            shortlink: incident_url(self.settings, r.id),
            started_at: self.time(r.started_at),
            page_id: self.settings.page_id.clone(),
            incident_updates: r.updates.iter().map(|u| self.update(u)).collect(),
            components,
            scheduled_for: maintenance.then(|| r.scheduled_for.map(|t| self.time(t))),
            scheduled_until: maintenance.then(|| r.scheduled_until.map(|t| self.time(t))),
        }
    }

    /// A component's position as [`Writer::components`] numbers it.
    fn position_of(&self, id: &str) -> Option<i32> {
        self.positions.get(id).copied()
    }
}

/// Positions as Statuspage numbers them: the top level (ungrouped components and groups,
/// a group where its first member is) from 1, and each group's members from 1.
fn positions(components: &[Component]) -> std::collections::HashMap<&str, i32> {
    let mut out = std::collections::HashMap::new();
    let mut groups: Vec<(&str, i32)> = Vec::new();
    let mut top = 0;
    for c in components {
        match c.group.as_deref() {
            None => {
                top += 1;
                out.insert(c.id.as_str(), top);
            }
            Some(g) => {
                let members = match groups.iter_mut().find(|(name, _)| *name == g) {
                    Some((_, n)) => n,
                    None => {
                        top += 1;
                        groups.push((g, 0));
                        &mut groups.last_mut().expect("just pushed").1
                    }
                };
                *members += 1;
                out.insert(c.id.as_str(), *members);
            }
        }
    }
    out
}

/// A group's component id: 12 characters of Statuspage's alphabet from its name, the same
/// on every replica and across restarts.
fn group_id(name: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    Sha256::digest(format!("tocsin-group:{name}").as_bytes())
        .iter()
        .take(12)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn json(doc: &impl Serialize) -> Result<Prepared, PublicError> {
    serde_json::to_string(doc)
        .map(|body| Prepared::new("application/json; charset=utf-8", body))
        .map_err(|e| PublicError::Internal(format!("serialising a status document: {e}")))
}

fn status_of(s: &Snapshot) -> Status {
    let overall = s.overall();
    Status {
        indicator: overall.indicator.as_str(),
        description: overall.description,
    }
}

pub(super) async fn summary(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let core = &state.core;
    stored_document(core, &headers, "v2/summary.json", async |version| {
        let s = Snapshot::load(core, version).await?;
        let w = Writer::new(s.page(), s.updated_at, s.components());
        json(&Summary {
            page: w.page(),
            components: w.components(),
            incidents: s.open_incidents().map(|r| w.incident(r)).collect(),
            scheduled_maintenances: s.open_maintenance().map(|r| w.incident(r)).collect(),
            status: status_of(&s),
        })
    })
    .await
}

pub(super) async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let core = &state.core;
    stored_document(core, &headers, "v2/status.json", async |version| {
        let s = Snapshot::load(core, version).await?;
        let w = Writer::new(s.page(), s.updated_at, s.components());
        json(&StatusDoc {
            page: w.page(),
            status: status_of(&s),
        })
    })
    .await
}

pub(super) async fn components(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let core = &state.core;
    stored_document(core, &headers, "v2/components.json", async |version| {
        let components = core.status_components().await?;
        let w = Writer::new(&core.settings.status_page, version.updated_at, &components);
        json(&ComponentsDoc {
            page: w.page(),
            components: w.components(),
        })
    })
    .await
}

/// The `limit` newest records of `kind` in `statuses` (all when empty), as the document
/// `key`.
async fn record_list(
    state: AppState,
    headers: HeaderMap,
    key: &str,
    kind: PublicKind,
    statuses: &[PublicStatus],
    limit: i64,
) -> Response {
    let core = &state.core;
    stored_document(core, &headers, key, async |version| {
        let updated_at = version.updated_at;
        let filter = PublicFilter {
            kind: Some(kind),
            statuses: statuses.to_vec(),
            limit,
            offset: 0,
        };
        let (components, records) = tokio::try_join!(
            async { core.status_components().await.map_err(PublicError::from) },
            async {
                core.store
                    .list_public_incidents(&filter)
                    .await
                    .map_err(PublicError::from)
            },
        )?;
        let w = Writer::new(&core.settings.status_page, updated_at, &components);
        let list: Vec<IncidentJson> = records.iter().map(|r| w.incident(r)).collect();
        match kind {
            PublicKind::Incident => json(&IncidentsDoc {
                page: w.page(),
                incidents: list,
            }),
            PublicKind::Maintenance => json(&MaintenancesDoc {
                page: w.page(),
                scheduled_maintenances: list,
            }),
        }
    })
    .await
}

pub(super) async fn incidents(State(state): State<AppState>, headers: HeaderMap) -> Response {
    record_list(
        state,
        headers,
        "v2/incidents.json",
        PublicKind::Incident,
        &[],
        RECENT,
    )
    .await
}

pub(super) async fn unresolved_incidents(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    use PublicStatus::*;
    record_list(
        state,
        headers,
        "v2/incidents/unresolved.json",
        PublicKind::Incident,
        &[Investigating, Identified, Monitoring],
        super::MAX_OPEN,
    )
    .await
}

pub(super) async fn maintenances(State(state): State<AppState>, headers: HeaderMap) -> Response {
    record_list(
        state,
        headers,
        "v2/scheduled-maintenances.json",
        PublicKind::Maintenance,
        &[],
        RECENT,
    )
    .await
}

pub(super) async fn upcoming_maintenances(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    record_list(
        state,
        headers,
        "v2/scheduled-maintenances/upcoming.json",
        PublicKind::Maintenance,
        &[PublicStatus::Scheduled],
        super::MAX_OPEN,
    )
    .await
}

pub(super) async fn active_maintenances(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    record_list(
        state,
        headers,
        "v2/scheduled-maintenances/active.json",
        PublicKind::Maintenance,
        &[PublicStatus::InProgress, PublicStatus::Verifying],
        super::MAX_OPEN,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(id: &str, group: Option<&str>) -> Component {
        Component {
            id: id.into(),
            name: id.to_uppercase(),
            group: group.map(Into::into),
            description: None,
            services: Vec::new(),
            position: 0,
            status: ComponentStatus::Operational,
            updated_at: None,
        }
    }

    #[test]
    fn groups_come_before_their_children_and_positions_count_per_level() {
        let settings = StatusPageSettings::default();
        let mut list = vec![
            component("checkout", Some("Shop")),
            component("api", None),
            component("website", Some("Shop")),
        ];
        list[2].status = ComponentStatus::PartialOutage;
        let w = Writer::new(&settings, None, &list);
        let out = w.components();
        let shape: Vec<(String, i32, bool, Option<String>)> = out
            .iter()
            .map(|c| (c.id.clone(), c.position, c.group, c.group_id.clone()))
            .collect();
        let shop = group_id("Shop");
        assert_eq!(
            shape,
            vec![
                (shop.clone(), 1, true, None),
                ("checkout".into(), 1, false, Some(shop.clone())),
                ("website".into(), 2, false, Some(shop.clone())),
                ("api".into(), 2, false, None),
            ]
        );
        assert_eq!(out[0].status, ComponentStatus::PartialOutage);
        assert_eq!(
            out[0].components.as_deref(),
            Some(&["checkout".to_owned(), "website".to_owned()][..])
        );
        for c in &list {
            let listed = out.iter().find(|o| o.id == c.id).unwrap();
            assert_eq!(w.position_of(&c.id), Some(listed.position), "{}", c.id);
        }
        assert_eq!(w.affected_name("website"), "Shop - WEBSITE");
        assert_eq!(w.affected_name("api"), "API");
        assert_eq!(shop.len(), 12);
        assert_eq!(shop, group_id("Shop"));
    }

    #[test]
    fn times_have_milliseconds_and_the_pages_offset() {
        let t = DateTime::parse_from_rfc3339("2020-06-16T21:00:29.031987Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut settings = StatusPageSettings::default();
        assert_eq!(
            Writer::new(&settings, None, &[]).time(t),
            "2020-06-16T21:00:29.031Z"
        );
        settings.time_zone = "America/Los_Angeles".into();
        assert_eq!(
            Writer::new(&settings, None, &[]).time(t),
            "2020-06-16T14:00:29.031-07:00"
        );
    }
}
