//! Reports over a time range: alerts and incidents by service and severity, how fast they
//! are acknowledged and resolved, escalation, noisy alerts, who carries the pager (and how
//! often out of hours), and postmortem completion. Every figure is computed from stored
//! timestamps.
//!
//! The store hands over the rows ([`crate::store::ReportStore`]); everything else here is
//! arithmetic in plain functions (percentiles, ISO weeks, working hours), tested without a
//! database. Knows no HTTP and no output format beyond a list of named figures.
//!
//! Definitions, used everywhere a figure is shown:
//! - An alert is in a report when it was triggered (`created_at`) in `[since, until)`; an
//!   incident when it was declared in it; a page when it was sent in it.
//! - MTTA: an alert's `acknowledged_at - created_at`, over the alerts acknowledged so far.
//!   MTTR: `resolved_at - created_at` of resolved alerts, and `resolved_at - declared_at`
//!   of resolved incidents.
//! - Median and p90 by the nearest-rank method ([`percentile`]).
//! - Escalated: an alert whose escalation went past its first level at least once (to
//!   level 2 or further, or its policy started over); escalation rate = escalated / alerts.
//! - A page: one alert paging one responder (its repeats every minute and its deliveries
//!   over SMS, voice or e-mail are the same page), at the first time it reached them.
//!   Out of hours: outside the responder's working hours in their own time zone.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use serde::Serialize;

use crate::model::{Alert, Incident, ServiceId, TeamId, User, UserId};
use crate::ops::{Core, CoreError, CoreResult, Invalid};
use crate::store::{AlertGroup, AlertTimes, IncidentFacts, NoisyAlert, PageFact, ReportScope};

/// How many noisy alerts a report lists.
pub const NOISIEST: i64 = 10;

/// The longest range a report covers: enough for a few years of history, small enough
/// that the weekly figures stay a page long.
pub const MAX_RANGE_DAYS: i64 = 3 * 366;

/// What reports need beyond the store.
#[derive(Debug, Clone, Default)]
pub struct ReportSettings {
    /// Each responder's working hours, in their own time zone; absent: [`WorkingHours::default`].
    pub working_hours: HashMap<UserId, WorkingHours>,
}

impl ReportSettings {
    pub fn working_hours_of(&self, user: &UserId) -> WorkingHours {
        self.working_hours.get(user).cloned().unwrap_or_default()
    }
}

/// When a responder works, as local weekdays and times: `Mon-Fri 09:00-17:00`, or several
/// spans separated by `;` or `,` (`Mon-Thu 08:00-16:00; Fri 08:00-12:00`). A span's end is
/// after its start on the same day (`24:00` is the end of the day); `none` means never
/// (every page is out of hours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    spans: Vec<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    /// Bit `n` set: the span applies on the weekday `n` days after Monday.
    days: u8,
    /// Minutes after local midnight, `start < end <= 1440`.
    start: u16,
    end: u16,
}

impl Default for WorkingHours {
    /// Monday to Friday, 09:00 to 17:00.
    fn default() -> Self {
        WorkingHours {
            spans: vec![Span {
                days: 0b0001_1111,
                start: 9 * 60,
                end: 17 * 60,
            }],
        }
    }
}

impl WorkingHours {
    /// Whether a local weekday and time falls inside working hours.
    pub fn contains(&self, weekday: Weekday, time: NaiveTime) -> bool {
        let day = 1u8 << weekday.num_days_from_monday();
        let minute = (time.hour() * 60 + time.minute()) as u16;
        self.spans
            .iter()
            .any(|s| s.days & day != 0 && s.start <= minute && minute < s.end)
    }

    /// Whether the instant `at` is inside working hours in `time_zone` (an IANA name; one
    /// that does not parse is taken as UTC, since configuration checks it at load).
    pub fn contains_instant(&self, at: DateTime<Utc>, time_zone: &str) -> bool {
        let local = match chrono_tz::Tz::from_str(time_zone) {
            Ok(tz) => at.with_timezone(&tz).naive_local(),
            Err(_) => at.naive_utc(),
        };
        self.contains(local.weekday(), local.time())
    }
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn parse_day(s: &str) -> Result<u32, String> {
    DAYS.iter()
        .position(|d| d.eq_ignore_ascii_case(s.trim()))
        .map(|i| i as u32)
        .ok_or_else(|| format!("`{s}` is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"))
}

fn parse_minute(s: &str) -> Result<u16, String> {
    let bad = || format!("`{s}` is not a time of day HH:MM");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl FromStr for WorkingHours {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(WorkingHours { spans: Vec::new() });
        }
        let mut spans = Vec::new();
        for part in s.split([';', ',']).map(str::trim).filter(|p| !p.is_empty()) {
            let (days, times) = part.split_once(' ').ok_or_else(|| {
                format!("`{part}` is not DAYS HH:MM-HH:MM (e.g. `Mon-Fri 09:00-17:00`)")
            })?;
            let mut mask = 0u8;
            for group in days.split('+') {
                let (first, last) = match group.split_once('-') {
                    Some((a, b)) => (parse_day(a)?, parse_day(b)?),
                    None => (parse_day(group)?, parse_day(group)?),
                };
                if last < first {
                    return Err(format!("`{group}`: the days run from Monday to Sunday"));
                }
                for d in first..=last {
                    mask |= 1 << d;
                }
            }
            let (start, end) = times
                .trim()
                .split_once('-')
                .ok_or_else(|| format!("`{times}` is not HH:MM-HH:MM"))?;
            let (start, end) = (parse_minute(start)?, parse_minute(end)?);
            if end <= start {
                return Err(format!(
                    "`{times}`: the end must be after the start on the same day \
                     (write a night shift as two spans)"
                ));
            }
            spans.push(Span {
                days: mask,
                start,
                end,
            });
        }
        if spans.is_empty() {
            return Err("no working hours given (e.g. `Mon-Fri 09:00-17:00`, or `none`)".into());
        }
        Ok(WorkingHours { spans })
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.spans.is_empty() {
            return f.write_str("none");
        }
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let spans: Vec<String> = self
            .spans
            .iter()
            .map(|s| {
                let mut groups = Vec::new();
                let mut d = 0;
                while d < 7 {
                    if s.days & (1 << d) == 0 {
                        d += 1;
                        continue;
                    }
                    let first = d;
                    while d + 1 < 7 && s.days & (1 << (d + 1)) != 0 {
                        d += 1;
                    }
                    groups.push(if first == d {
                        DAYS[first].to_owned()
                    } else {
                        format!("{}-{}", DAYS[first], DAYS[d])
                    });
                    d += 1;
                }
                format!("{} {}-{}", groups.join("+"), hm(s.start), hm(s.end))
            })
            .collect();
        f.write_str(&spans.join("; "))
    }
}

/// The `p`th percentile (`0 < p <= 100`) of `sorted` (ascending) by the nearest-rank
/// method: the value at rank `ceil(p / 100 * n)`, counting from 1. Always one of the
/// values, never interpolated: the median of 1, 2, 3, 4 is 2, and p90 of ten values is the
/// ninth. None for no values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() || p == 0 || p > 100 {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(p) * n).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

/// A duration figure over some items: how many, and their median and p90 (nearest rank),
/// in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DurationStats {
    pub count: usize,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl DurationStats {
    /// From durations in milliseconds, in any order.
    pub fn of_millis(mut millis: Vec<i64>) -> Self {
        millis.sort_unstable();
        let secs = |v: Option<i64>| v.map(|ms| ms as f64 / 1000.0);
        DurationStats {
            count: millis.len(),
            median_seconds: secs(percentile(&millis, 50)),
            p90_seconds: secs(percentile(&millis, 90)),
        }
    }
}

fn millis_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds()
}

/// The Monday 00:00 UTC starting the ISO week of `at`.
pub fn week_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let date = at.date_naive();
    let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
    monday.and_time(NaiveTime::MIN).and_utc()
}

/// `2026-W48`: an ISO week as people write it (the ISO year may differ from the calendar
/// year in the first and last days of a year).
pub fn week_label(start: DateTime<Utc>) -> String {
    let week = start.iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

/// The starts of the ISO weeks (UTC) that `[since, until)` touches, in order.
pub fn weeks_of(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut weeks = Vec::new();
    let mut start = week_start(since);
    while start < until {
        weeks.push(start);
        start += Duration::weeks(1);
    }
    weeks
}

/// A number of things under a name.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Count {
    pub key: String,
    pub count: i64,
}

fn counts(map: BTreeMap<String, i64>) -> Vec<Count> {
    map.into_iter()
        .map(|(key, count)| Count { key, count })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub total: i64,
    pub by_service: Vec<Count>,
    pub by_severity: Vec<Count>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Mttr {
    pub alerts: DurationStats,
    pub incidents: DurationStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Escalation {
    pub alerts: i64,
    pub escalated: i64,
    /// escalated / alerts; null without alerts.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ResponderPages {
    pub user: UserId,
    pub name: String,
    pub time_zone: String,
    pub working_hours: String,
    pub pages: i64,
    pub out_of_hours: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Pages {
    pub total: i64,
    pub out_of_hours: i64,
    /// Most paged first.
    pub by_responder: Vec<ResponderPages>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Postmortems {
    pub incidents: i64,
    pub published: i64,
    /// published / incidents; null without incidents.
    pub completion_rate: Option<f64>,
    /// Action items of these incidents not done yet.
    pub open_action_items: i64,
}

/// The figures of one ISO week (UTC) of the range.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WeekFigures {
    /// `2026-W48`.
    pub week: String,
    /// Its Monday.
    #[schema(value_type = String, format = Date)]
    pub starts: NaiveDate,
    pub alerts: i64,
    pub incidents: i64,
    pub mtta: DurationStats,
    pub mttr_alerts: DurationStats,
    pub mttr_incidents: DurationStats,
}

/// Everything a report shows. See the module documentation for each definition.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub service: Option<ServiceId>,
    pub team: Option<TeamId>,
    pub alerts: Tally,
    pub incidents: Tally,
    pub mtta: DurationStats,
    pub mttr: Mttr,
    pub escalation: Escalation,
    pub noisiest_alerts: Vec<NoisyAlert>,
    pub pages: Pages,
    pub postmortems: Postmortems,
    pub weeks: Vec<WeekFigures>,
}

/// One figure of a report as a flat record, for CSV and plain-text tables: the section it
/// belongs to, what it is about (a service, a responder, a week; empty for a total), the
/// metric and its value (durations in seconds; rates between 0 and 1; empty when there is
/// nothing to measure).
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub section: &'static str,
    pub subject: String,
    pub metric: &'static str,
    pub value: String,
}

impl Report {
    /// Every figure of the report, in the order of its JSON form.
    pub fn figures(&self) -> Vec<Figure> {
        let mut out = Vec::new();
        let mut push = |section, subject: &str, metric, value: String| {
            out.push(Figure {
                section,
                subject: subject.to_owned(),
                metric,
                value,
            })
        };
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let stats = |push: &mut dyn FnMut(&'static str, &str, &'static str, String),
                     section: &'static str,
                     subject: &str,
                     s: &DurationStats| {
            push(section, subject, "count", s.count.to_string());
            push(section, subject, "median_seconds", opt(s.median_seconds));
            push(section, subject, "p90_seconds", opt(s.p90_seconds));
        };
        push("alerts", "", "total", self.alerts.total.to_string());
        for c in &self.alerts.by_service {
            push("alerts_by_service", &c.key, "alerts", c.count.to_string());
        }
        for c in &self.alerts.by_severity {
            push("alerts_by_severity", &c.key, "alerts", c.count.to_string());
        }
        push("incidents", "", "total", self.incidents.total.to_string());
        for c in &self.incidents.by_service {
            push(
                "incidents_by_service",
                &c.key,
                "incidents",
                c.count.to_string(),
            );
        }
        for c in &self.incidents.by_severity {
            push(
                "incidents_by_severity",
                &c.key,
                "incidents",
                c.count.to_string(),
            );
        }
        stats(&mut push, "mtta", "alerts", &self.mtta);
        stats(&mut push, "mttr", "alerts", &self.mttr.alerts);
        stats(&mut push, "mttr", "incidents", &self.mttr.incidents);
        push(
            "escalation",
            "",
            "alerts",
            self.escalation.alerts.to_string(),
        );
        push(
            "escalation",
            "",
            "escalated",
            self.escalation.escalated.to_string(),
        );
        push("escalation", "", "rate", opt(self.escalation.rate));
        for n in &self.noisiest_alerts {
            let subject = format!("{}/{}", n.service, n.dedup_key);
            push("noisiest_alerts", &subject, "alerts", n.alerts.to_string());
            push("noisiest_alerts", &subject, "events", n.events.to_string());
        }
        push("pages", "", "total", self.pages.total.to_string());
        push(
            "pages",
            "",
            "out_of_hours",
            self.pages.out_of_hours.to_string(),
        );
        for r in &self.pages.by_responder {
            push(
                "pages_by_responder",
                r.user.as_str(),
                "pages",
                r.pages.to_string(),
            );
            push(
                "pages_by_responder",
                r.user.as_str(),
                "out_of_hours",
                r.out_of_hours.to_string(),
            );
        }
        let p = &self.postmortems;
        push("postmortems", "", "incidents", p.incidents.to_string());
        push("postmortems", "", "published", p.published.to_string());
        push("postmortems", "", "completion_rate", opt(p.completion_rate));
        push(
            "postmortems",
            "",
            "open_action_items",
            p.open_action_items.to_string(),
        );
        for w in &self.weeks {
            push("weeks", &w.week, "alerts", w.alerts.to_string());
            push("weeks", &w.week, "incidents", w.incidents.to_string());
            push(
                "weeks",
                &w.week,
                "mtta_median_seconds",
                opt(w.mtta.median_seconds),
            );
            push(
                "weeks",
                &w.week,
                "mttr_alerts_median_seconds",
                opt(w.mttr_alerts.median_seconds),
            );
            push(
                "weeks",
                &w.week,
                "mttr_incidents_median_seconds",
                opt(w.mttr_incidents.median_seconds),
            );
        }
        out
    }
}

/// What a report is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportQuery {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub service: Option<ServiceId>,
    pub team: Option<TeamId>,
}

/// The rows a report is computed from, as the store returned them.
#[derive(Debug, Clone, Default)]
pub struct ReportRows {
    pub groups: Vec<AlertGroup>,
    pub times: Vec<AlertTimes>,
    pub noisiest: Vec<NoisyAlert>,
    pub pages: Vec<PageFact>,
    pub incidents: Vec<IncidentFacts>,
}

/// Computes a report from its rows: `users` for names and time zones, `settings` for
/// working hours. Pure.
pub fn compute(
    query: &ReportQuery,
    scope: &ReportScope,
    rows: ReportRows,
    users: &[User],
    settings: &ReportSettings,
) -> Report {
    let mut alerts_by_service = BTreeMap::new();
    let mut alerts_by_severity = BTreeMap::new();
    let (mut alerts, mut escalated) = (0, 0);
    for g in &rows.groups {
        *alerts_by_service.entry(g.service.0.clone()).or_insert(0) += g.alerts;
        *alerts_by_severity.entry(g.severity.clone()).or_insert(0) += g.alerts;
        alerts += g.alerts;
        escalated += g.escalated;
    }

    let weeks = weeks_of(query.since, query.until);
    let week_of = |at: DateTime<Utc>| -> Option<usize> {
        let first = *weeks.first()?;
        let i = (week_start(at) - first).num_weeks();
        usize::try_from(i).ok().filter(|i| *i < weeks.len())
    };
    let mut week_alerts = vec![0i64; weeks.len()];
    let mut week_ack = vec![Vec::new(); weeks.len()];
    let mut week_res = vec![Vec::new(); weeks.len()];
    let mut week_incidents = vec![0i64; weeks.len()];
    let mut week_inc_res = vec![Vec::new(); weeks.len()];

    let (mut ack, mut res) = (Vec::new(), Vec::new());
    for t in &rows.times {
        let w = week_of(t.created_at);
        if let Some(w) = w {
            week_alerts[w] += 1;
        }
        if let Some(at) = t.acknowledged_at {
            let ms = millis_between(t.created_at, at);
            ack.push(ms);
            if let Some(w) = w {
                week_ack[w].push(ms);
            }
        }
        if let Some(at) = t.resolved_at {
            let ms = millis_between(t.created_at, at);
            res.push(ms);
            if let Some(w) = w {
                week_res[w].push(ms);
            }
        }
    }

    let mut incidents_by_service = BTreeMap::new();
    let mut incidents_by_severity = BTreeMap::new();
    let (mut published, mut open_items) = (0, 0);
    let mut inc_res = Vec::new();
    for i in &rows.incidents {
        *incidents_by_severity.entry(i.severity.clone()).or_insert(0) += 1;
        let in_scope = i
            .services
            .iter()
            .filter(|s| scope.services.as_ref().is_none_or(|w| w.contains(s)));
        let mut any = false;
        for s in in_scope {
            any = true;
            *incidents_by_service.entry(s.0.clone()).or_insert(0) += 1;
        }
        if !any {
            *incidents_by_service.entry("(none)".to_owned()).or_insert(0) += 1;
        }
        if i.postmortem.as_deref() == Some("published") {
            published += 1;
        }
        open_items += i.open_action_items;
        let w = week_of(i.declared_at);
        if let Some(w) = w {
            week_incidents[w] += 1;
        }
        if let Some(at) = i.resolved_at {
            let ms = millis_between(i.declared_at, at);
            inc_res.push(ms);
            if let Some(w) = w {
                week_inc_res[w].push(ms);
            }
        }
    }
    let incidents = rows.incidents.len() as i64;

    let pages = pages_by_responder(&rows.pages, users, settings);
    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);

    let weeks = weeks
        .iter()
        .enumerate()
        .map(|(w, start)| WeekFigures {
            week: week_label(*start),
            starts: start.date_naive(),
            alerts: week_alerts[w],
            incidents: week_incidents[w],
            mtta: DurationStats::of_millis(std::mem::take(&mut week_ack[w])),
            mttr_alerts: DurationStats::of_millis(std::mem::take(&mut week_res[w])),
            mttr_incidents: DurationStats::of_millis(std::mem::take(&mut week_inc_res[w])),
        })
        .collect();

    Report {
        since: query.since,
        until: query.until,
        service: query.service.clone(),
        team: query.team.clone(),
        alerts: Tally {
            total: alerts,
            by_service: counts(alerts_by_service),
            by_severity: counts(alerts_by_severity),
        },
        incidents: Tally {
            total: incidents,
            by_service: counts(incidents_by_service),
            by_severity: counts(incidents_by_severity),
        },
        mtta: DurationStats::of_millis(ack),
        mttr: Mttr {
            alerts: DurationStats::of_millis(res),
            incidents: DurationStats::of_millis(inc_res),
        },
        escalation: Escalation {
            alerts,
            escalated,
            rate: ratio(escalated, alerts),
        },
        noisiest_alerts: rows.noisiest,
        pages,
        postmortems: Postmortems {
            incidents,
            published,
            completion_rate: ratio(published, incidents),
            open_action_items: open_items,
        },
        weeks,
    }
}

/// Pages by responder, most paged first (then by id), each counted against the
/// responder's working hours in their time zone. Someone no longer in the directory is
/// taken to work the default hours in UTC.
pub fn pages_by_responder(pages: &[PageFact], users: &[User], settings: &ReportSettings) -> Pages {
    let mut by_user: BTreeMap<&UserId, (i64, i64)> = BTreeMap::new();
    let mut hours: HashMap<&UserId, (WorkingHours, &str)> = HashMap::new();
    for page in pages {
        let (wh, tz) = hours.entry(&page.user).or_insert_with(|| {
            let tz = users
                .iter()
                .find(|u| u.id == page.user)
                .map_or("UTC", |u| u.time_zone.as_str());
            (settings.working_hours_of(&page.user), tz)
        });
        let entry = by_user.entry(&page.user).or_default();
        entry.0 += 1;
        if !wh.contains_instant(page.at, tz) {
            entry.1 += 1;
        }
    }
    let mut by_responder: Vec<ResponderPages> = by_user
        .into_iter()
        .map(|(id, (n, out))| {
            let user = users.iter().find(|u| &u.id == id);
            ResponderPages {
                user: id.clone(),
                name: user.map_or_else(|| id.0.clone(), |u| u.name.clone()),
                time_zone: user.map_or_else(|| "UTC".to_owned(), |u| u.time_zone.clone()),
                working_hours: settings.working_hours_of(id).to_string(),
                pages: n,
                out_of_hours: out,
            }
        })
        .collect();
    by_responder.sort_by(|a, b| b.pages.cmp(&a.pages).then_with(|| a.user.cmp(&b.user)));
    Pages {
        total: by_responder.iter().map(|r| r.pages).sum(),
        out_of_hours: by_responder.iter().map(|r| r.out_of_hours).sum(),
        by_responder,
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid(Invalid {
        field,
        message: message.into(),
    })
}

/// An instant as a report range takes it: RFC 3339 (`2026-11-01T00:00:00Z`), a UTC date
/// (`2026-11-01`, its midnight), `now`, or a span back from `now` (`30d`, `12h`, `2w`,
/// `90m`).
pub fn parse_instant(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    }
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(unit_at);
    let span = n.parse::<i64>().ok().and_then(|n| match unit {
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    });
    span.and_then(|s| now.checked_sub_signed(s)).ok_or_else(|| {
        format!(
            "`{text}` is not a time: use RFC 3339 (2026-11-01T00:00:00Z), a date \
             (2026-11-01), `now`, or a span back from now (30d, 12h, 2w, 90m)"
        )
    })
}

impl Core {
    /// The report `query` asks for: 422-style [`CoreError::Invalid`] for a range that ends
    /// before it starts or is longer than [`MAX_RANGE_DAYS`], or an unknown service or team.
    pub async fn report(&self, query: &ReportQuery) -> CoreResult<Report> {
        let scope = self.report_scope(query).await?;
        let store = &self.store;
        let (groups, times, noisiest, pages, incidents, users) = tokio::try_join!(
            store.report_alert_groups(&scope),
            store.report_alert_times(&scope),
            store.report_noisiest_alerts(&scope, NOISIEST),
            store.report_pages(&scope),
            store.report_incidents(&scope),
            store.list_users(),
        )?;
        let rows = ReportRows {
            groups,
            times,
            noisiest,
            pages,
            incidents,
        };
        Ok(compute(query, &scope, rows, &users, &self.settings.reports))
    }

    async fn report_scope(&self, query: &ReportQuery) -> CoreResult<ReportScope> {
        if query.until <= query.since {
            return Err(invalid(
                "until",
                format!(
                    "until ({}) must be after since ({})",
                    query.until.to_rfc3339(),
                    query.since.to_rfc3339()
                ),
            ));
        }
        if query.until - query.since > Duration::days(MAX_RANGE_DAYS) {
            return Err(invalid(
                "since",
                format!("a report covers at most {MAX_RANGE_DAYS} days"),
            ));
        }
        let all = self.store.list_services().await?;
        let mut services: Option<Vec<ServiceId>> = None;
        if let Some(team) = &query.team {
            let known = self.settings.teams.contains_key(team)
                || all.iter().any(|s| s.team.as_ref() == Some(team));
            if !known {
                return Err(invalid("team", format!("no team `{team}`")));
            }
            services = Some(
                all.iter()
                    .filter(|s| s.team.as_ref() == Some(team))
                    .map(|s| s.id.clone())
                    .collect(),
            );
        }
        if let Some(service) = &query.service {
            if !all.iter().any(|s| &s.id == service) {
                let known: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
                return Err(invalid(
                    "service",
                    format!(
                        "no service `{service}` (known: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            services = Some(match services {
                Some(of_team) => of_team.into_iter().filter(|s| s == service).collect(),
                None => vec![service.clone()],
            });
        }
        Ok(ReportScope {
            since: query.since,
            until: query.until,
            services,
        })
    }
}

/// Buckets for the time-to-acknowledge and time-to-resolve histograms, in seconds: 30 s to
/// a day, dense where on-call targets sit (minutes).
pub const DURATION_BUCKETS: &[f64] = &[
    30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0,
    86400.0,
];

/// The Prometheus histogram of alerts' time to acknowledge, by service.
pub const TIME_TO_ACK: &str = "tocsin_alert_time_to_ack_seconds";
/// The Prometheus histogram of incidents' time to resolve, by service.
pub const TIME_TO_RESOLVE: &str = "tocsin_incident_time_to_resolve_seconds";

/// Records an alert's time to acknowledge, once it has been acknowledged.
pub fn record_acknowledged(alert: &Alert) {
    if let Some(at) = alert.acknowledged_at {
        let secs = millis_between(alert.created_at, at) as f64 / 1000.0;
        metrics::histogram!(TIME_TO_ACK, "service" => alert.service.0.clone()).record(secs);
    }
}

/// Records a resolved incident's time to resolve under each of its services (`none` when
/// it names none).
pub fn record_incident_resolved(incident: &Incident) {
    let Some(at) = incident.resolved_at else {
        return;
    };
    let secs = millis_between(incident.declared_at, at) as f64 / 1000.0;
    if incident.services.is_empty() {
        metrics::histogram!(TIME_TO_RESOLVE, "service" => "none").record(secs);
    }
    for service in &incident.services {
        metrics::histogram!(TIME_TO_RESOLVE, "service" => service.0.clone()).record(secs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&v, 100), Some(10));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
        // ceil(0.9 * 11) = 10: the tenth of eleven.
        let v: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile(&v, 90), Some(10));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn duration_stats_in_seconds() {
        let stats = DurationStats::of_millis(vec![300_000, 60_000, 120_500]);
        assert_eq!(stats.count, 3);
        assert_eq!(stats.median_seconds, Some(120.5));
        assert_eq!(stats.p90_seconds, Some(300.0));
        assert_eq!(DurationStats::of_millis(vec![]).median_seconds, None);
    }

    #[test]
    fn working_hours_parse_and_print() {
        let wh: WorkingHours = "Mon-Fri 09:00-17:00".parse().unwrap();
        assert_eq!(wh, WorkingHours::default());
        assert_eq!(wh.to_string(), "Mon-Fri 09:00-17:00");
        let wh: WorkingHours = "Mon-Thu 08:00-16:30; Fri 08:00-12:00".parse().unwrap();
        assert_eq!(wh.to_string(), "Mon-Thu 08:00-16:30; Fri 08:00-12:00");
        let wh: WorkingHours = "sat+sun 10:00-24:00".parse().unwrap();
        assert!(wh.contains(Weekday::Sun, NaiveTime::from_hms_opt(23, 59, 0).unwrap()));
        assert!(!wh.contains(Weekday::Mon, NaiveTime::from_hms_opt(12, 0, 0).unwrap()));
        assert_eq!("none".parse::<WorkingHours>().unwrap().to_string(), "none");
        for bad in [
            "",
            "Mon-Fri",
            "Fri-Mon 09:00-17:00",
            "Mon-Fri 17:00-09:00",
            "Mon-Fri 9-17",
            "Moo 09:00-10:00",
            "Mon 24:30-25:00",
        ] {
            assert!(bad.parse::<WorkingHours>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn working_hours_in_the_responders_time_zone() {
        let wh = WorkingHours::default();
        // Friday 2026-11-27 16:30 UTC is 17:30 in Berlin (CET, UTC+1): out of hours there,
        // in hours in London (GMT).
        let t = at("2026-11-27T16:30:00Z");
        assert!(!wh.contains_instant(t, "Europe/Berlin"));
        assert!(wh.contains_instant(t, "Europe/London"));
        // 08:59 and 09:00 local: the start is inside, the end is not.
        assert!(!wh.contains_instant(at("2026-11-27T07:59:00Z"), "Europe/Berlin"));
        assert!(wh.contains_instant(at("2026-11-27T08:00:00Z"), "Europe/Berlin"));
        assert!(!wh.contains_instant(at("2026-11-27T16:00:00Z"), "Europe/Berlin"));
        // Saturday.
        assert!(!wh.contains_instant(at("2026-11-28T12:00:00Z"), "UTC"));
    }

    #[test]
    fn iso_weeks_of_a_range() {
        // Thursday 2026-11-19 to Wednesday 2026-12-02: weeks 47, 48 and 49.
        let weeks = weeks_of(at("2026-11-19T10:00:00Z"), at("2026-12-02T00:00:00Z"));
        let labels: Vec<String> = weeks.iter().map(|w| week_label(*w)).collect();
        assert_eq!(labels, ["2026-W47", "2026-W48", "2026-W49"]);
        assert_eq!(
            weeks[0],
            Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap()
        );
        // Until a Monday midnight: that week is not touched.
        assert_eq!(
            weeks_of(at("2026-11-16T00:00:00Z"), at("2026-11-23T00:00:00Z")).len(),
            1
        );
        // The ISO year: 2027-01-01 is a Friday of 2026-W53.
        assert_eq!(
            week_label(week_start(at("2027-01-01T12:00:00Z"))),
            "2026-W53"
        );
    }

    #[test]
    fn instants_people_type() {
        let now = at("2026-11-26T12:00:00Z");
        assert_eq!(
            parse_instant("30d", now).unwrap(),
            at("2026-10-27T12:00:00Z")
        );
        assert_eq!(
            parse_instant("2w", now).unwrap(),
            at("2026-11-12T12:00:00Z")
        );
        assert_eq!(
            parse_instant("90m", now).unwrap(),
            at("2026-11-26T10:30:00Z")
        );
        assert_eq!(parse_instant("now", now).unwrap(), now);
        assert_eq!(
            parse_instant("2026-11-01", now).unwrap(),
            at("2026-11-01T00:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-11-01T10:00:00+01:00", now).unwrap(),
            at("2026-11-01T09:00:00Z")
        );
        for bad in [
            "",
            "yesterday",
            "30x",
            "2026-13-01",
            "99999999999999999999d",
        ] {
            assert!(parse_instant(bad, now).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn pages_counted_out_of_hours_per_responder() {
        let user = |id: &str, tz: &str| User {
            id: id.into(),
            name: id.to_uppercase(),
            email: None,
            time_zone: tz.into(),
            phone: None,
            role: crate::model::Role::Responder,
            chat: Default::default(),
        };
        let users = [
            user("alice", "Europe/Berlin"),
            user("bob", "America/New_York"),
        ];
        let mut settings = ReportSettings::default();
        settings
            .working_hours
            .insert("bob".into(), "Mon-Sun 00:00-24:00".parse().unwrap());
        let page = |u: &str, t: &str| PageFact {
            user: u.into(),
            at: at(t),
        };
        let pages = [
            page("alice", "2026-11-27T10:00:00Z"), // Fri 11:00 Berlin: in hours
            page("alice", "2026-11-27T22:00:00Z"), // Fri 23:00 Berlin: out
            page("bob", "2026-11-28T03:00:00Z"),   // always in hours
            page("carol", "2026-11-28T12:00:00Z"), // unknown: UTC, Saturday: out
        ];
        let p = pages_by_responder(&pages, &users, &settings);
        assert_eq!((p.total, p.out_of_hours), (4, 2));
        let alice = &p.by_responder[0];
        assert_eq!(
            (alice.user.as_str(), alice.pages, alice.out_of_hours),
            ("alice", 2, 1)
        );
        assert_eq!(alice.name, "ALICE");
        assert_eq!(p.by_responder[1].out_of_hours, 0);
        assert_eq!(p.by_responder[2].time_zone, "UTC");
    }
}
