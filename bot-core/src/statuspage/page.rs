//! The public page's read model: the overall status (Statuspage's `indicator` and
//! description) and each component's uptime by UTC day. Pure functions of what the store
//! returned and the clock's `now`; they know nothing of HTML, JSON or HTTP, so the page,
//! its JSON and the widget agree by construction.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::model::{
    Component, ComponentChange, ComponentStatus, Impact, PublicIncident, PublicKind,
};

/// How many days the uptime bars cover, today included.
pub const UPTIME_DAYS: u32 = 90;

/// The page's overall state, Statuspage's `status.indicator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Indicator {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
}

impl Indicator {
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::None => "none",
            Indicator::Minor => "minor",
            Indicator::Major => "major",
            Indicator::Critical => "critical",
            Indicator::Maintenance => "maintenance",
        }
    }
}

/// The indicator with the sentence shown under it ("All Systems Operational").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Overall {
    pub indicator: Indicator,
    pub description: &'static str,
}

/// How bad a component state is on Statuspage's incident scale: degraded is minor, a
/// partial outage major, a major outage critical. Maintenance is not an outage.
fn component_level(status: ComponentStatus) -> Impact {
    match status {
        ComponentStatus::Operational | ComponentStatus::UnderMaintenance => Impact::None,
        ComponentStatus::DegradedPerformance => Impact::Minor,
        ComponentStatus::PartialOutage => Impact::Major,
        ComponentStatus::MajorOutage => Impact::Critical,
    }
}

/// The overall status from the components' current states and the public records that
/// are still open, by Statuspage's rules: the worst of the open incidents' impact and the
/// components' states decides; when a component state is that bad the wording names the
/// system ("Partial System Outage"), otherwise the incident ("Minor Service Outage"). A
/// maintenance in progress (or a component under maintenance) shows only when nothing is
/// worse. Closed records and maintenance not yet started are ignored, so callers may pass
/// any records.
pub fn overall(components: &[Component], records: &[PublicIncident]) -> Overall {
    let incidents = records
        .iter()
        .filter(|r| r.kind == PublicKind::Incident && !r.status.is_closed())
        .map(|r| r.impact)
        .filter(|i| *i != Impact::Maintenance)
        .max()
        .unwrap_or(Impact::None);
    let systems = components
        .iter()
        .map(|c| component_level(c.status))
        .max()
        .unwrap_or(Impact::None);
    let all_degraded = components.len() > 1
        && components
            .iter()
            .all(|c| c.status == ComponentStatus::DegradedPerformance);
    let level = incidents.max(systems);
    let (indicator, description) = match level {
        Impact::Critical => (Indicator::Critical, "Major System Outage"),
        Impact::Major if systems == Impact::Major => (Indicator::Major, "Partial System Outage"),
        Impact::Major => (Indicator::Major, "Major Service Outage"),
        Impact::Minor if systems == Impact::Minor && all_degraded => {
            (Indicator::Minor, "Degraded System Service")
        }
        Impact::Minor if systems == Impact::Minor => {
            (Indicator::Minor, "Partially Degraded Service")
        }
        Impact::Minor => (Indicator::Minor, "Minor Service Outage"),
        Impact::None | Impact::Maintenance => {
            let maintenance = records
                .iter()
                .any(|r| r.kind == PublicKind::Maintenance && r.status.is_active_maintenance())
                || components
                    .iter()
                    .any(|c| c.status == ComponentStatus::UnderMaintenance);
            if maintenance {
                (Indicator::Maintenance, "Service Under Maintenance")
            } else {
                (Indicator::None, "All Systems Operational")
            }
        }
    };
    Overall {
        indicator,
        description,
    }
}

/// One UTC day of a component's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    /// The worst state the component was in that day; None when the day is before its
    /// first recorded state (no data).
    pub worst: Option<ComponentStatus>,
    /// Seconds of the day with a known state (the whole day, except the day records
    /// begin and today, which is not over).
    pub observed: i64,
    /// Seconds in a major outage.
    pub major: i64,
    /// Seconds in a partial outage.
    pub partial: i64,
}

impl Day {
    /// Downtime in tenths of a second: a major outage counts fully, a partial one 30 %,
    /// as Statuspage counts them. Degraded performance and maintenance count as up.
    fn downtime_tenths(&self) -> i64 {
        self.major * 10 + self.partial * 3
    }

    /// Downtime in seconds.
    pub fn downtime(&self) -> f64 {
        self.downtime_tenths() as f64 / 10.0
    }

    /// The day's uptime in percent; None without data.
    pub fn percent(&self) -> Option<f64> {
        (self.observed > 0)
            .then(|| 100.0 * (1.0 - self.downtime_tenths() as f64 / (self.observed * 10) as f64))
    }
}

/// A component's uptime over the last days, oldest day first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    pub days: Vec<Day>,
}

impl Uptime {
    /// Uptime in percent over every second with data; None when there is none.
    pub fn percent(&self) -> Option<f64> {
        let observed: i64 = self.days.iter().map(|d| d.observed).sum();
        let down: i64 = self.days.iter().map(Day::downtime_tenths).sum();
        (observed > 0).then(|| 100.0 * (1.0 - down as f64 / (observed * 10) as f64))
    }
}

/// Midnight (UTC) of the first of the `days` days that end with `now`'s day: what to ask
/// [`component_history`](crate::store::statuspage::StatusPageStore::component_history) for.
pub fn history_start(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let first = now
        .date_naive()
        .checked_sub_days(Days::new(u64::from(days.saturating_sub(1))))
        .unwrap_or(NaiveDate::MIN);
    first.and_time(NaiveTime::MIN).and_utc()
}

/// The uptime of each of `components` (in that order) over the `days` days ending with
/// `now`'s, from `history` as the store returns it for [`history_start`]: oldest first,
/// each component's list starting with the state it entered the range in. One pass over
/// the history; a component without records has no data.
pub fn uptimes(
    components: &[&str],
    history: &[ComponentChange],
    now: DateTime<Utc>,
    days: u32,
) -> Vec<Uptime> {
    let start = history_start(now, days);
    let first_day = start.date_naive();
    let empty = Uptime {
        days: (0..days)
            .map(|i| Day {
                date: first_day + Days::new(u64::from(i)),
                worst: None,
                observed: 0,
                major: 0,
                partial: 0,
            })
            .collect(),
    };
    let mut out = vec![empty; components.len()];
    let index: std::collections::HashMap<&str, usize> = components
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, i))
        .collect();
    // The state each component is in since when, while walking the history forwards.
    let mut open: Vec<Option<(ComponentStatus, DateTime<Utc>)>> = vec![None; components.len()];
    for change in history {
        let Some(&i) = index.get(change.component.as_str()) else {
            continue;
        };
        if let Some((status, from)) = open[i] {
            add_span(&mut out[i], start, status, from, change.at.min(now), false);
        }
        open[i] = Some((change.status, change.at.max(start)));
    }
    for (i, state) in open.into_iter().enumerate() {
        if let Some((status, from)) = state {
            add_span(&mut out[i], start, status, from, now, true);
        }
    }
    out
}

/// Counts `status` from `from` to `to` into the days it covers. A zero-length span
/// colours nothing, except the current state (`current`), which colours its day.
fn add_span(
    uptime: &mut Uptime,
    start: DateTime<Utc>,
    status: ComponentStatus,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    current: bool,
) {
    let from = from.max(start);
    if to < from || (to == from && !current) {
        return;
    }
    let day_of = |t: DateTime<Utc>| (t - start).num_days();
    let mut at = from;
    let mut d = day_of(from);
    loop {
        let Some(day) = usize::try_from(d).ok().and_then(|d| uptime.days.get_mut(d)) else {
            return;
        };
        let day_end = start + chrono::Duration::days(d + 1);
        let until = to.min(day_end);
        let secs = (until - at).num_seconds();
        day.observed += secs;
        match status {
            ComponentStatus::MajorOutage => day.major += secs,
            ComponentStatus::PartialOutage => day.partial += secs,
            _ => {}
        }
        if until > at || current {
            day.worst = Some(day.worst.map_or(status, |w| w.max(status)));
        }
        if to <= day_end {
            return;
        }
        at = day_end;
        d += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PublicStatus, ServiceId};
    use uuid::Uuid;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn change(component: &str, status: ComponentStatus, at: &str) -> ComponentChange {
        ComponentChange {
            component: component.into(),
            status,
            at: t(at),
        }
    }

    fn component(id: &str, status: ComponentStatus) -> Component {
        Component {
            id: id.into(),
            name: id.into(),
            group: None,
            description: None,
            services: Vec::<ServiceId>::new(),
            position: 1,
            status,
            updated_at: None,
        }
    }

    fn record(kind: PublicKind, status: PublicStatus, impact: Impact) -> PublicIncident {
        let at = t("2026-11-24T03:00:00Z");
        PublicIncident {
            id: Uuid::nil(),
            kind,
            incident_id: None,
            name: "x".into(),
            status,
            impact,
            components: Vec::new(),
            created_at: at,
            updated_at: at,
            started_at: at,
            monitoring_at: None,
            resolved_at: None,
            scheduled_for: None,
            scheduled_until: None,
            updates: Vec::new(),
        }
    }

    use ComponentStatus::*;

    #[test]
    fn history_starts_at_midnight_of_the_first_of_ninety_days() {
        assert_eq!(
            history_start(t("2026-11-24T03:00:00.123Z"), 90),
            t("2026-08-27T00:00:00Z")
        );
        assert_eq!(
            history_start(t("2026-11-24T23:59:59Z"), 1),
            t("2026-11-24T00:00:00Z")
        );
    }

    #[test]
    fn a_major_outage_counts_fully_and_a_partial_one_thirty_percent() {
        // Day 1 (Nov 22) from 10:00:00: operational. 12:00:00 - 12:30:00 major outage
        // (1,800 s), then 14:00:00 - 16:00:00 partial outage (7,200 s × 0.3 = 2,160 s),
        // then degraded until 18:00:00 (up), operational after.
        let history = [
            change("api", Operational, "2026-11-22T10:00:00Z"),
            change("api", MajorOutage, "2026-11-22T12:00:00Z"),
            change("api", Operational, "2026-11-22T12:30:00Z"),
            change("api", PartialOutage, "2026-11-22T14:00:00Z"),
            change("api", DegradedPerformance, "2026-11-22T16:00:00Z"),
            change("api", Operational, "2026-11-22T18:00:00Z"),
        ];
        let now = t("2026-11-24T06:00:00Z");
        let [api] = uptimes(&["api"], &history, now, 3).try_into().unwrap();
        let [d22, d23, d24] = api.days.clone().try_into().unwrap();
        assert_eq!(d22.date, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        // Observed from the first record: 14 h = 50,400 s.
        assert_eq!(
            (d22.observed, d22.major, d22.partial),
            (50_400, 1_800, 7_200)
        );
        assert_eq!(d22.downtime(), 3_960.0);
        assert_eq!(d22.worst, Some(MajorOutage));
        // (50,400 − 3,960) / 50,400
        assert!((d22.percent().unwrap() - 92.142_857_142_857).abs() < 1e-9);
        assert_eq!((d23.observed, d23.major, d23.partial), (86_400, 0, 0));
        assert_eq!(d23.worst, Some(Operational));
        assert_eq!(d23.percent(), Some(100.0));
        // Today, up to now: 6 h.
        assert_eq!(d24.observed, 21_600);
        // All: 1 − 3,960 / (50,400 + 86,400 + 21,600) = 1 − 3,960 / 158,400 = 97.5 %.
        assert_eq!(api.percent(), Some(97.5));
    }

    #[test]
    fn days_before_the_first_record_have_no_data() {
        let history = [change("web", DegradedPerformance, "2026-11-24T01:00:00Z")];
        let now = t("2026-11-24T03:00:00.500Z");
        let [web, never] = uptimes(&["web", "never"], &history, now, 90)
            .try_into()
            .unwrap();
        assert_eq!(web.days.len(), 90);
        assert!(
            web.days[..89]
                .iter()
                .all(|d| d.worst.is_none() && d.observed == 0)
        );
        assert_eq!(web.days[89].observed, 7_200);
        assert_eq!(web.days[89].worst, Some(DegradedPerformance));
        assert_eq!(web.days[89].percent(), Some(100.0));
        assert_eq!(web.percent(), Some(100.0));
        assert!(never.days.iter().all(|d| d.worst.is_none()));
        assert_eq!(never.percent(), None);
    }

    #[test]
    fn an_outage_across_midnight_is_split_between_its_days_by_the_second() {
        // Entered the range already in a partial outage (the state before `since`), went
        // to a major outage at 23:59:30 on Nov 22, back at 00:00:45 on Nov 23.
        let history = [
            change("db", PartialOutage, "2026-11-01T00:00:00Z"),
            change("db", MajorOutage, "2026-11-22T23:59:30Z"),
            change("db", UnderMaintenance, "2026-11-23T00:00:45Z"),
            change("db", Operational, "2026-11-23T01:00:00Z"),
        ];
        let now = t("2026-11-23T12:00:00Z");
        let [db] = uptimes(&["db"], &history, now, 2).try_into().unwrap();
        let [d22, d23] = db.days.clone().try_into().unwrap();
        // Nov 22: 86,370 s partial, 30 s major.
        assert_eq!((d22.observed, d22.major, d22.partial), (86_400, 30, 86_370));
        assert_eq!(d22.worst, Some(MajorOutage));
        // 30 + 86,370 × 0.3 = 25,941 s down.
        assert_eq!(d22.downtime(), 25_941.0);
        // Nov 23 to noon: 45 s major, maintenance counts as up.
        assert_eq!((d23.observed, d23.major, d23.partial), (43_200, 45, 0));
        assert_eq!(d23.worst, Some(MajorOutage));
        // 1 − (25,941 + 45) / 129,600
        assert!((db.percent().unwrap() - (100.0 * (1.0 - 25_986.0 / 129_600.0))).abs() < 1e-9);
    }

    #[test]
    fn the_current_state_colours_today_even_when_it_began_this_second() {
        let history = [
            change("api", Operational, "2026-11-20T00:00:00Z"),
            change("api", MajorOutage, "2026-11-24T03:00:00Z"),
        ];
        let [api] = uptimes(&["api"], &history, t("2026-11-24T03:00:00Z"), 2)
            .try_into()
            .unwrap();
        assert_eq!(api.days[1].worst, Some(MajorOutage));
        assert_eq!(api.days[1].major, 0);
        assert_eq!(api.days[1].observed, 10_800);
    }

    #[test]
    fn unknown_components_in_the_history_are_ignored() {
        let history = [
            change("gone", MajorOutage, "2026-11-24T00:00:00Z"),
            change("api", Operational, "2026-11-24T00:00:00Z"),
        ];
        let [api] = uptimes(&["api"], &history, t("2026-11-24T01:00:00Z"), 1)
            .try_into()
            .unwrap();
        assert_eq!((api.days[0].observed, api.days[0].major), (3_600, 0));
    }

    #[test]
    fn all_operational_with_nothing_open() {
        let o = overall(&[component("a", Operational)], &[]);
        assert_eq!(
            o,
            Overall {
                indicator: Indicator::None,
                description: "All Systems Operational"
            }
        );
        let resolved = record(
            PublicKind::Incident,
            PublicStatus::Resolved,
            Impact::Critical,
        );
        assert_eq!(overall(&[], &[resolved]).indicator, Indicator::None);
    }

    #[test]
    fn an_open_incident_sets_the_indicator_by_its_impact() {
        let minor = record(
            PublicKind::Incident,
            PublicStatus::Investigating,
            Impact::Minor,
        );
        let major = record(
            PublicKind::Incident,
            PublicStatus::Monitoring,
            Impact::Major,
        );
        let c = [component("a", Operational)];
        assert_eq!(
            overall(&c, std::slice::from_ref(&minor)),
            Overall {
                indicator: Indicator::Minor,
                description: "Minor Service Outage"
            }
        );
        assert_eq!(
            overall(&c, &[minor, major]),
            Overall {
                indicator: Indicator::Major,
                description: "Major Service Outage"
            }
        );
        let critical = record(
            PublicKind::Incident,
            PublicStatus::Identified,
            Impact::Critical,
        );
        assert_eq!(overall(&c, &[critical]).indicator, Indicator::Critical);
    }

    #[test]
    fn component_states_name_the_system_when_they_are_the_worst() {
        let minor = record(
            PublicKind::Incident,
            PublicStatus::Investigating,
            Impact::Minor,
        );
        let degraded = [
            component("a", DegradedPerformance),
            component("b", Operational),
        ];
        assert_eq!(
            overall(&degraded, std::slice::from_ref(&minor)),
            Overall {
                indicator: Indicator::Minor,
                description: "Partially Degraded Service"
            }
        );
        let all = [
            component("a", DegradedPerformance),
            component("b", DegradedPerformance),
        ];
        assert_eq!(overall(&all, &[]).description, "Degraded System Service");
        let partial = [
            component("a", PartialOutage),
            component("b", DegradedPerformance),
        ];
        assert_eq!(
            overall(&partial, std::slice::from_ref(&minor)),
            Overall {
                indicator: Indicator::Major,
                description: "Partial System Outage"
            }
        );
        let down = [component("a", MajorOutage)];
        assert_eq!(
            overall(&down, &[minor]),
            Overall {
                indicator: Indicator::Critical,
                description: "Major System Outage"
            }
        );
    }

    #[test]
    fn maintenance_shows_only_when_nothing_is_worse() {
        let in_progress = record(
            PublicKind::Maintenance,
            PublicStatus::InProgress,
            Impact::Maintenance,
        );
        let scheduled = record(
            PublicKind::Maintenance,
            PublicStatus::Scheduled,
            Impact::Maintenance,
        );
        let c = [
            component("a", UnderMaintenance),
            component("b", Operational),
        ];
        assert_eq!(
            overall(&c, std::slice::from_ref(&in_progress)),
            Overall {
                indicator: Indicator::Maintenance,
                description: "Service Under Maintenance"
            }
        );
        assert_eq!(
            overall(&[component("a", Operational)], &[scheduled]).indicator,
            Indicator::None
        );
        let minor = record(
            PublicKind::Incident,
            PublicStatus::Investigating,
            Impact::Minor,
        );
        assert_eq!(
            overall(&c, &[in_progress, minor]).indicator,
            Indicator::Minor
        );
        let none = record(
            PublicKind::Incident,
            PublicStatus::Investigating,
            Impact::None,
        );
        assert_eq!(
            overall(&[component("a", Operational)], &[none]).indicator,
            Indicator::None
        );
    }
}
