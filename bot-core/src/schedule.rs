//! On-call schedules: who is on call at any moment, as pure functions of a schedule, its
//! overrides and a UTC instant.
//!
//! The semantics are PagerDuty's, which our users already know:
//!
//! - A [`Layer`] rotates through its members, one [`Layer::rotation`] per turn, the first
//!   turn starting at [`Layer::handoff`]; the rotation is defined for all time, so before
//!   the first hand-off the last member has the turn before, and so on backwards.
//! - Rotations of whole days hand off at the same local wall-clock time on every turn, also
//!   across daylight-saving changes (such a turn lasts 23 or 25 real hours). Other rotations
//!   (12h, 8h) are real elapsed time from the first hand-off, so their local hand-off times
//!   move by an hour across a change.
//! - A layer with [`Layer::restrictions`] has someone only inside its windows.
//! - Layers stack: a later layer wins wherever it has someone; where it has nobody, the
//!   layers below show through.
//! - [`Override`]s win over every layer; where overrides overlap, the one created last wins.
//!
//! Local times that a daylight-saving change skips (02:30 on a spring-forward night) mean
//! the next minute that exists (the 03:00 right after the gap); local times that a change
//! repeats (01:30 on a fall-back night) mean their first occurrence. Everything is computed
//! to the minute: seconds in inputs are dropped, and every instant out is a whole minute.
//!
//! This module knows neither the configuration file nor the store nor the clock: callers
//! build these types from wherever schedules come from and pass the instants to ask about.

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike,
    Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::UserId;

/// Who is on call when: rotation layers in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    /// The zone in which the layers' hand-offs and restriction windows are written, unless a
    /// layer names its own.
    pub time_zone: Tz,
    /// In increasing precedence: a later layer wins wherever it has someone on call.
    pub layers: Vec<Layer>,
}

/// One rotation through `members`, optionally restricted to time windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    /// In rotation order.
    pub members: Vec<UserId>,
    /// How long each turn lasts; longer than zero, in whole minutes. Whole days are counted
    /// as calendar days in the layer's zone, anything else as real elapsed time.
    pub rotation: TimeDelta,
    /// Local date-time, in the layer's zone, when `members[0]`'s first turn starts.
    pub handoff: NaiveDateTime,
    /// Windows outside which this layer has nobody on call; empty means always on call.
    pub restrictions: Vec<Restriction>,
    /// The zone of `handoff` and `restrictions` when it differs from the schedule's, so
    /// that a follow-the-sun layer can be written in its own team's local hours (Berlin's
    /// 09:00-21:00 stays 09:00-21:00 Berlin time whichever way New York's clocks move).
    pub time_zone: Option<Tz>,
}

/// A daily or weekly window, in the layer's zone, inside which a layer has someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restriction {
    /// The day the window starts on; `None`: every day.
    pub day: Option<Weekday>,
    pub start: NaiveTime,
    /// When `end <= start` the window runs past midnight and ends on the next day; `end ==
    /// start` is therefore a whole day.
    pub end: NaiveTime,
}

/// Someone taking the on-call from `start` to `end`, over every layer. One that covers no
/// whole minute (see [`Override::validate`]) is ignored rather than failing the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Override {
    pub id: Uuid,
    pub user: UserId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Decides between overlapping overrides: the latest created wins.
    pub created_at: DateTime<Utc>,
}

/// One person on call without interruption from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shift {
    pub user: UserId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The layer the shift comes from, `None` for an override. A shift merged from parts
    /// of different sources (the same person continuing) names the source it started in.
    pub layer: Option<String>,
}

/// A schedule or override that cannot be computed as its author meant it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule `{schedule}` has no layers")]
    NoLayers { schedule: String },
    #[error("layer `{layer}` has no members")]
    EmptyMembers { layer: String },
    #[error("layer `{layer}` has a rotation of zero or less; it must be longer than zero")]
    RotationNotPositive { layer: String },
    #[error("layer `{layer}`: {field} must be a whole number of minutes")]
    NotWholeMinutes { layer: String, field: &'static str },
    #[error("override {id} ends at {end}, which is not after its start at {start}")]
    OverrideEndNotAfterStart {
        id: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

impl Schedule {
    /// Checks what the computations would otherwise silently read as "nobody on call" or
    /// round to the minute.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.layers.is_empty() {
            return Err(ScheduleError::NoLayers {
                schedule: self.id.clone(),
            });
        }
        self.layers.iter().try_for_each(Layer::validate)
    }

    /// Who is on call at `at` (`None`: nobody), given overrides.
    pub fn on_call(&self, overrides: &[Override], at: DateTime<Utc>) -> Option<UserId> {
        let at = floor_minute(at);
        let next = at.checked_add_signed(TimeDelta::minutes(1))?;
        self.shifts(overrides, at, next)
            .into_iter()
            .next()
            .map(|shift| shift.user)
    }

    /// The final shifts covering `[from, until)`, in order: non-overlapping, merged where
    /// the same person continues, with gaps where nobody is on call, and clipped to the
    /// range.
    ///
    /// The work is proportional to the number of boundaries in the range (hand-offs, window
    /// edges, override edges), not to its length in minutes.
    pub fn shifts(
        &self,
        overrides: &[Override],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<Shift> {
        let (from, until) = (floor_minute(from), floor_minute(until));
        if from >= until {
            return Vec::new();
        }

        // In increasing precedence, as the layers are, with the overrides on top.
        let mut sources: Vec<Vec<Span<'_>>> = self
            .layers
            .iter()
            .map(|layer| layer.spans(self.time_zone, from, until))
            .collect();
        sources.push(override_spans(overrides, from, until));

        // Between two consecutive edges of any source nothing changes, so one look per
        // piece decides it.
        let mut edges: Vec<DateTime<Utc>> = sources
            .iter()
            .flatten()
            .flat_map(|span| [span.start, span.end])
            .chain([from])
            .collect();
        edges.sort_unstable();
        edges.dedup();

        let mut cursors = vec![0; sources.len()];
        let mut shifts: Vec<Shift> = Vec::new();
        for piece in edges.windows(2) {
            let (start, end) = (piece[0], piece[1]);
            let winner =
                sources
                    .iter()
                    .zip(cursors.iter_mut())
                    .rev()
                    .find_map(|(spans, cursor)| {
                        while spans.get(*cursor).is_some_and(|span| span.end <= start) {
                            *cursor += 1;
                        }
                        spans.get(*cursor).filter(|span| span.start <= start)
                    });
            let Some(span) = winner else { continue };
            match shifts.last_mut() {
                Some(last) if last.end == start && last.user == *span.user => last.end = end,
                _ => shifts.push(Shift {
                    user: span.user.clone(),
                    start,
                    end,
                    layer: span.layer.map(str::to_owned),
                }),
            }
        }
        shifts
    }

    /// The next shift starting after `at` with someone other than whoever is on call at
    /// `at` (anyone, if nobody is), for "/oncall: now X, next Y at …".
    ///
    /// Gaps and further shifts of the current person are skipped. Looks at most
    /// [`NEXT_CHANGE_HORIZON_DAYS`] ahead: `None` means nobody else is on call in that time
    /// (a one-person schedule), and a shift running past it is cut there.
    pub fn next_change(&self, overrides: &[Override], at: DateTime<Utc>) -> Option<Shift> {
        let at = floor_minute(at);
        let current = self.on_call(overrides, at);
        // Most schedules change within days; widening the look-ahead keeps those cheap and
        // still finds the rare change months away. A found shift cut at the horizon is
        // looked at again with a wider one to learn its real end.
        let mut found = None;
        for days in [8, 32, 128, NEXT_CHANGE_HORIZON_DAYS] {
            let Some(horizon) = at.checked_add_days(Days::new(days)) else {
                break;
            };
            found = self
                .shifts(overrides, at, horizon)
                .into_iter()
                .find(|shift| shift.start > at && Some(&shift.user) != current.as_ref());
            if found.as_ref().is_some_and(|shift| shift.end < horizon) {
                break;
            }
        }
        found
    }
}

/// How far [`Schedule::next_change`] looks ahead: a year, beyond any rotation people write.
pub const NEXT_CHANGE_HORIZON_DAYS: u64 = 366;

impl Layer {
    fn validate(&self) -> Result<(), ScheduleError> {
        let layer = || self.name.clone();
        if self.members.is_empty() {
            return Err(ScheduleError::EmptyMembers { layer: layer() });
        }
        if self.rotation <= TimeDelta::zero() {
            return Err(ScheduleError::RotationNotPositive { layer: layer() });
        }
        let sub_minute = [
            (
                "rotation",
                self.rotation.subsec_nanos() != 0 || self.rotation.num_seconds() % 60 != 0,
            ),
            (
                "handoff",
                self.handoff.second() != 0 || self.handoff.nanosecond() != 0,
            ),
            (
                "a restriction's start or end",
                self.restrictions.iter().any(|r| {
                    [r.start, r.end]
                        .iter()
                        .any(|time| time.second() != 0 || time.nanosecond() != 0)
                }),
            ),
        ];
        match sub_minute.into_iter().find(|(_, bad)| *bad) {
            Some((field, _)) => Err(ScheduleError::NotWholeMinutes {
                layer: layer(),
                field,
            }),
            None => Ok(()),
        }
    }

    fn zone(&self, schedule_zone: Tz) -> Tz {
        self.time_zone.unwrap_or(schedule_zone)
    }

    /// Who this layer has on call within `[from, until)`, in order and without overlaps.
    fn spans(&self, schedule_zone: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Span<'_>> {
        let zone = self.zone(schedule_zone);
        // An invalid layer (see `validate`) has nobody rather than making the schedule fail.
        let Some(rotation) = Rotation::new(self, zone) else {
            return Vec::new();
        };
        let turns = rotation.turns(from, until, &self.name);
        if self.restrictions.is_empty() {
            turns
        } else {
            intersect(&turns, &windows(&self.restrictions, zone, from, until))
        }
    }
}

impl Override {
    /// An override must cover at least one minute.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if floor_minute(self.end) <= floor_minute(self.start) {
            return Err(ScheduleError::OverrideEndNotAfterStart {
                id: self.id,
                start: self.start,
                end: self.end,
            });
        }
        Ok(())
    }
}

/// Someone on call from one source (a layer or the overrides) within the asked range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span<'a> {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    user: &'a UserId,
    /// `None` for an override.
    layer: Option<&'a str>,
}

/// How a layer's turn `k` (0: the one starting at the hand-off) maps to instants.
struct Rotation<'a> {
    members: &'a [UserId],
    zone: Tz,
    handoff: NaiveDateTime,
    step: Step,
}

enum Step {
    /// Whole days, added to the local hand-off so turns keep their wall-clock time.
    Days(i64),
    /// Real minutes, added to the hand-off instant.
    Minutes {
        minutes: i64,
        handoff: DateTime<Utc>,
    },
}

impl<'a> Rotation<'a> {
    /// `None` for a layer that can never have anyone on call.
    fn new(layer: &'a Layer, zone: Tz) -> Option<Self> {
        let minutes = layer.rotation.num_minutes();
        if layer.members.is_empty() || minutes <= 0 {
            return None;
        }
        let handoff = floor_naive(layer.handoff);
        let step = if minutes % MINUTES_PER_DAY == 0 {
            Step::Days(minutes / MINUTES_PER_DAY)
        } else {
            Step::Minutes {
                minutes,
                handoff: resolve(zone, handoff)?,
            }
        };
        Some(Self {
            members: &layer.members,
            zone,
            handoff,
            step,
        })
    }

    fn turn_start(&self, turn: i64) -> Option<DateTime<Utc>> {
        match self.step {
            Step::Days(days) => {
                let offset = TimeDelta::try_days(turn.checked_mul(days)?)?;
                resolve(self.zone, self.handoff.checked_add_signed(offset)?)
            }
            Step::Minutes { minutes, handoff } => {
                handoff.checked_add_signed(TimeDelta::try_minutes(turn.checked_mul(minutes)?)?)
            }
        }
    }

    /// The turn under way at `at`.
    fn turn_at(&self, at: DateTime<Utc>) -> Option<i64> {
        let mut turn = match self.step {
            Step::Days(days) => {
                let local = at.with_timezone(&self.zone).naive_local();
                let elapsed = local.signed_duration_since(self.handoff).num_minutes();
                elapsed.div_euclid(days.checked_mul(MINUTES_PER_DAY)?)
            }
            Step::Minutes { minutes, handoff } => at
                .signed_duration_since(handoff)
                .num_minutes()
                .div_euclid(minutes),
        };
        // Counting in local time is off by one turn when a hand-off falls in a repeated
        // hour (01:50 EDT has happened by 01:40 EST); settle it on real instants. One step
        // suffices in every real zone; the bound only guarantees termination.
        for _ in 0..4 {
            if self.turn_start(turn)? > at {
                turn -= 1;
            } else if self.turn_start(turn + 1)? <= at {
                turn += 1;
            } else {
                break;
            }
        }
        Some(turn)
    }

    fn member(&self, turn: i64) -> &'a UserId {
        let count = i64::try_from(self.members.len()).expect("a member list's length fits in i64");
        let index = usize::try_from(turn.rem_euclid(count))
            .expect("a remainder of a division by a list's length is an index into it");
        &self.members[index]
    }

    /// The turns covering `[from, until)`, clipped to it.
    fn turns(&self, from: DateTime<Utc>, until: DateTime<Utc>, layer: &'a str) -> Vec<Span<'a>> {
        let mut spans = Vec::new();
        let Some(mut turn) = self.turn_at(from) else {
            return spans;
        };
        let mut start = from;
        while start < until {
            // Past the end of the calendar the last turn simply lasts.
            let end = self
                .turn_start(turn + 1)
                .map_or(until, |next| next.min(until));
            if start < end {
                spans.push(Span {
                    start,
                    end,
                    user: self.member(turn),
                    layer: Some(layer),
                });
            }
            start = start.max(end);
            turn += 1;
        }
        spans
    }
}

const MINUTES_PER_DAY: i64 = 24 * 60;

/// The union of the restriction windows within `[from, until)`, sorted and disjoint.
fn windows(
    restrictions: &[Restriction],
    zone: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    // A window starting two local days before `from` can still be open at `from` (a
    // past-midnight window on a long fall-back night); one starting the day after `until`'s
    // local date can open before `until` in a zone that repeats the hour before midnight.
    let first = from.with_timezone(&zone).date_naive();
    let first = first.checked_sub_days(Days::new(2)).unwrap_or(first);
    let last = until.with_timezone(&zone).date_naive();
    let last = last.succ_opt().unwrap_or(last);

    let mut windows = Vec::new();
    for date in first.iter_days().take_while(|date| *date <= last) {
        for restriction in restrictions {
            if restriction.day.is_some_and(|day| day != date.weekday()) {
                continue;
            }
            let Some((start, end)) = window_on(restriction, zone, date) else {
                continue;
            };
            let (start, end) = (start.max(from), end.min(until));
            if start < end {
                windows.push((start, end));
            }
        }
    }

    windows.sort_unstable();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(windows.len());
    for (start, end) in windows {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// The instants of `restriction`'s window starting on the local `date`; `None` if it is
/// empty (wholly inside a skipped hour) or off the calendar.
fn window_on(
    restriction: &Restriction,
    zone: Tz,
    date: NaiveDate,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (start, end) = (floor_time(restriction.start), floor_time(restriction.end));
    let end_date = if end > start { date } else { date.succ_opt()? };
    let start = resolve(zone, date.and_time(start))?;
    let end = resolve(zone, end_date.and_time(end))?;
    (start < end).then_some((start, end))
}

/// The parts of `turns` inside `windows`; both sorted and disjoint.
fn intersect<'a>(turns: &[Span<'a>], windows: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    let (mut t, mut w) = (0, 0);
    while let (Some(turn), Some(&(window_start, window_end))) = (turns.get(t), windows.get(w)) {
        let (start, end) = (turn.start.max(window_start), turn.end.min(window_end));
        if start < end {
            spans.push(Span {
                start,
                end,
                ..*turn
            });
        }
        if turn.end <= window_end {
            t += 1;
        } else {
            w += 1;
        }
    }
    spans
}

/// Who the overrides put on call within `[from, until)`: where they overlap, the latest
/// created wins (and, between two created at the same instant, the later in the slice, so
/// the answer never depends on sorting). Overrides covering no minute are ignored.
fn override_spans(
    overrides: &[Override],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<Span<'_>> {
    let live: Vec<(usize, &Override, DateTime<Utc>, DateTime<Utc>)> = overrides
        .iter()
        .enumerate()
        .filter_map(|(index, o)| {
            let (start, end) = (
                floor_minute(o.start).max(from),
                floor_minute(o.end).min(until),
            );
            (start < end).then_some((index, o, start, end))
        })
        .collect();

    let mut edges: Vec<DateTime<Utc>> = live
        .iter()
        .flat_map(|&(_, _, start, end)| [start, end])
        .collect();
    edges.sort_unstable();
    edges.dedup();

    let mut spans: Vec<(usize, Span<'_>)> = Vec::new();
    for piece in edges.windows(2) {
        let (start, end) = (piece[0], piece[1]);
        let winner = live
            .iter()
            .filter(|&&(_, _, s, e)| s <= start && end <= e)
            .max_by_key(|&&(index, o, _, _)| (o.created_at, index));
        let Some(&(index, o, _, _)) = winner else {
            continue;
        };
        match spans.last_mut() {
            Some((last, span)) if *last == index && span.end == start => span.end = end,
            _ => spans.push((
                index,
                Span {
                    start,
                    end,
                    user: &o.user,
                    layer: None,
                },
            )),
        }
    }
    spans.into_iter().map(|(_, span)| span).collect()
}

/// The UTC instant a local wall-clock minute in `zone` names: a skipped time (spring
/// forward) is the next minute that exists, so a hand-off in the gap happens as soon as the
/// clock allows; a repeated time (fall back) is its first occurrence, so a hand-off is not
/// an hour late. `None` only off the calendar.
fn resolve(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mut local = floor_naive(local);
    // Gaps are an hour, at most a day (Samoa skipped 2011-12-30); two days bound the walk.
    for _ in 0..=2 * MINUTES_PER_DAY {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                // Historical offsets can have seconds (local mean time); keep to the minute.
                return Some(floor_minute(at.with_timezone(&Utc)));
            }
            LocalResult::None => local = local.checked_add_signed(TimeDelta::minutes(1))?,
        }
    }
    None
}

fn floor_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_second(0)
        .and_then(|at| at.with_nanosecond(0))
        .expect("every minute of UTC has a second zero")
}

fn floor_naive(local: NaiveDateTime) -> NaiveDateTime {
    local.date().and_time(floor_time(local.time()))
}

fn floor_time(time: NaiveTime) -> NaiveTime {
    NaiveTime::from_hms_opt(time.hour(), time.minute(), 0)
        .expect("the hour and minute of a valid time make a valid time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;

    fn utc(text: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
            .expect("test instants are written %Y-%m-%d %H:%M")
            .and_utc()
    }

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
            .expect("test local times are written %Y-%m-%d %H:%M")
    }

    fn hm(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").expect("test times are written %H:%M")
    }

    fn layer(members: &[&str], rotation: TimeDelta, handoff: &str) -> Layer {
        Layer {
            name: "primary".to_owned(),
            members: members.iter().copied().map(UserId::from).collect(),
            rotation,
            handoff: local(handoff),
            restrictions: Vec::new(),
            time_zone: None,
        }
    }

    fn schedule(time_zone: Tz, layers: Vec<Layer>) -> Schedule {
        Schedule {
            id: "s".to_owned(),
            name: "S".to_owned(),
            time_zone,
            layers,
        }
    }

    fn overriding(user: &str, start: &str, end: &str, created_at: &str) -> Override {
        Override {
            id: Uuid::nil(),
            user: user.into(),
            start: utc(start),
            end: utc(end),
            created_at: utc(created_at),
        }
    }

    #[test]
    fn a_skipped_local_time_resolves_to_the_first_minute_after_the_gap() {
        // New York springs forward at 02:00 EST on 2027-03-14: 03:00 EDT = 07:00 UTC.
        assert_eq!(
            resolve(New_York, local("2027-03-14 02:30")),
            Some(utc("2027-03-14 07:00"))
        );
        assert_eq!(
            resolve(New_York, local("2027-03-14 02:00")),
            Some(utc("2027-03-14 07:00"))
        );
        // The minute before the gap is still EST: 01:59 EST = 06:59 UTC.
        assert_eq!(
            resolve(New_York, local("2027-03-14 01:59")),
            Some(utc("2027-03-14 06:59"))
        );
    }

    #[test]
    fn a_repeated_local_time_resolves_to_its_first_occurrence() {
        // New York falls back at 02:00 EDT on 2026-11-01: 01:30 happens at 05:30 UTC (EDT)
        // and again at 06:30 UTC (EST); the first counts.
        assert_eq!(
            resolve(New_York, local("2026-11-01 01:30")),
            Some(utc("2026-11-01 05:30"))
        );
        // Berlin falls back at 03:00 CEST on 2026-10-25: 02:30 CEST = 00:30 UTC.
        assert_eq!(
            resolve(Berlin, local("2026-10-25 02:30")),
            Some(utc("2026-10-25 00:30"))
        );
    }

    #[test]
    fn seconds_are_dropped_everywhere() {
        let at = utc("2026-10-21 12:00") + TimeDelta::seconds(59);
        assert_eq!(floor_minute(at), utc("2026-10-21 12:00"));
        let s = schedule(
            Tz::UTC,
            vec![layer(
                &["alice", "bob"],
                TimeDelta::days(1),
                "2026-10-21 12:00",
            )],
        );
        // 11:59:59 is the minute 11:59, still the turn before the hand-off (bob's).
        assert_eq!(
            s.on_call(&[], utc("2026-10-21 11:59") + TimeDelta::seconds(59)),
            Some("bob".into())
        );
        assert_eq!(s.on_call(&[], at), Some("alice".into()));
    }

    #[test]
    fn a_daily_hand_off_inside_the_repeated_hour_happens_at_its_first_occurrence() {
        // Daily at 01:50 New York time. On 2026-11-01 01:50 EDT = 05:50 UTC; 01:40 EST
        // (06:40 UTC) comes later in real time, although it reads earlier on the clock, so
        // bob's turn has already started; it lasts until 01:50 EST on 11-02 = 06:50 UTC.
        let s = schedule(
            New_York,
            vec![layer(
                &["alice", "bob"],
                TimeDelta::days(1),
                "2026-10-31 01:50",
            )],
        );
        assert_eq!(
            s.on_call(&[], utc("2026-11-01 05:49")),
            Some("alice".into())
        );
        assert_eq!(s.on_call(&[], utc("2026-11-01 05:50")), Some("bob".into()));
        assert_eq!(s.on_call(&[], utc("2026-11-01 06:40")), Some("bob".into()));
        assert_eq!(s.on_call(&[], utc("2026-11-02 06:49")), Some("bob".into()));
        assert_eq!(
            s.on_call(&[], utc("2026-11-02 06:50")),
            Some("alice".into())
        );
    }

    #[test]
    fn a_daily_hand_off_inside_the_skipped_hour_happens_when_the_clock_resumes() {
        // Daily at 02:30 New York time. 03-13 02:30 EST = 07:30 UTC; 03-14 02:30 does not
        // exist, so 03:00 EDT = 07:00 UTC; 03-15 02:30 EDT = 06:30 UTC.
        let s = schedule(
            New_York,
            vec![layer(
                &["alice", "bob"],
                TimeDelta::days(1),
                "2027-03-13 02:30",
            )],
        );
        let shifts = s.shifts(&[], utc("2027-03-13 00:00"), utc("2027-03-16 00:00"));
        let got: Vec<_> = shifts
            .iter()
            .map(|s| (s.user.as_str(), s.start, s.end))
            .collect();
        assert_eq!(
            got,
            [
                ("bob", utc("2027-03-13 00:00"), utc("2027-03-13 07:30")),
                ("alice", utc("2027-03-13 07:30"), utc("2027-03-14 07:00")),
                ("bob", utc("2027-03-14 07:00"), utc("2027-03-15 06:30")),
                ("alice", utc("2027-03-15 06:30"), utc("2027-03-16 00:00")),
            ]
        );
    }

    #[test]
    fn weekday_windows_and_windows_past_midnight() {
        // 2026-10-19 is a Monday. Windows: Mondays 09:00-17:00 and Fridays 22:00-02:00.
        let mut only = layer(&["alice"], TimeDelta::weeks(1), "2026-10-19 00:00");
        only.restrictions = vec![
            Restriction {
                day: Some(Weekday::Mon),
                start: hm("09:00"),
                end: hm("17:00"),
            },
            Restriction {
                day: Some(Weekday::Fri),
                start: hm("22:00"),
                end: hm("02:00"),
            },
        ];
        let s = schedule(Tz::UTC, vec![only]);
        let got: Vec<_> = s
            .shifts(&[], utc("2026-10-19 00:00"), utc("2026-10-27 00:00"))
            .iter()
            .map(|s| (s.start, s.end))
            .collect();
        assert_eq!(
            got,
            [
                (utc("2026-10-19 09:00"), utc("2026-10-19 17:00")),
                (utc("2026-10-23 22:00"), utc("2026-10-24 02:00")),
                (utc("2026-10-26 09:00"), utc("2026-10-26 17:00")),
            ]
        );
    }

    #[test]
    fn a_window_with_end_equal_to_start_lasts_a_whole_day_and_overlapping_windows_merge() {
        let mut l = layer(&["alice"], TimeDelta::weeks(1), "2026-10-19 00:00");
        l.restrictions = vec![
            Restriction {
                day: Some(Weekday::Tue),
                start: hm("06:00"),
                end: hm("06:00"),
            },
            Restriction {
                day: Some(Weekday::Wed),
                start: hm("05:00"),
                end: hm("08:00"),
            },
        ];
        let s = schedule(Tz::UTC, vec![l]);
        let got: Vec<_> = s
            .shifts(&[], utc("2026-10-19 00:00"), utc("2026-10-26 00:00"))
            .iter()
            .map(|s| (s.start, s.end))
            .collect();
        assert_eq!(got, [(utc("2026-10-20 06:00"), utc("2026-10-21 08:00"))]);
    }

    #[test]
    fn newest_override_wins_and_ties_go_to_the_later_one_in_the_slice() {
        let overrides = [
            overriding(
                "carol",
                "2026-10-21 10:00",
                "2026-10-21 14:00",
                "2026-10-20 09:00",
            ),
            overriding(
                "dave",
                "2026-10-21 12:00",
                "2026-10-21 16:00",
                "2026-10-20 09:00",
            ),
        ];
        let got: Vec<_> =
            override_spans(&overrides, utc("2026-10-21 00:00"), utc("2026-10-22 00:00"))
                .iter()
                .map(|s| (s.user.as_str(), s.start, s.end))
                .collect();
        assert_eq!(
            got,
            [
                ("carol", utc("2026-10-21 10:00"), utc("2026-10-21 12:00")),
                ("dave", utc("2026-10-21 12:00"), utc("2026-10-21 16:00")),
            ]
        );
    }

    #[test]
    fn invalid_layers_and_overrides_put_nobody_on_call_instead_of_failing() {
        let mut empty = layer(&[], TimeDelta::days(1), "2026-10-19 09:00");
        empty.name = "empty".to_owned();
        let zero = layer(&["alice"], TimeDelta::zero(), "2026-10-19 09:00");
        let s = schedule(Tz::UTC, vec![empty, zero]);
        let backwards = [overriding(
            "carol",
            "2026-10-21 12:00",
            "2026-10-21 10:00",
            "2026-10-20 09:00",
        )];
        assert_eq!(s.on_call(&backwards, utc("2026-10-21 11:00")), None);
        assert!(
            s.shifts(&backwards, utc("2026-10-19 00:00"), utc("2026-10-26 00:00"))
                .is_empty()
        );
        assert!(s.validate().is_err());
    }

    #[test]
    fn validate_rejects_sub_minute_precision() {
        let mut l = layer(&["alice"], TimeDelta::seconds(90), "2026-10-19 09:00");
        assert_eq!(
            l.validate(),
            Err(ScheduleError::NotWholeMinutes {
                layer: "primary".to_owned(),
                field: "rotation"
            })
        );
        l.rotation = TimeDelta::hours(12);
        l.handoff = local("2026-10-19 09:00") + TimeDelta::seconds(30);
        assert_eq!(
            l.validate(),
            Err(ScheduleError::NotWholeMinutes {
                layer: "primary".to_owned(),
                field: "handoff"
            })
        );
        l.handoff = local("2026-10-19 09:00");
        l.restrictions = vec![Restriction {
            day: None,
            start: hm("09:00"),
            end: NaiveTime::from_hms_opt(17, 0, 1).expect("a valid time"),
        }];
        assert_eq!(
            l.validate(),
            Err(ScheduleError::NotWholeMinutes {
                layer: "primary".to_owned(),
                field: "a restriction's start or end"
            })
        );
    }

    #[test]
    fn a_one_person_schedule_has_no_next_change() {
        let s = schedule(
            Berlin,
            vec![layer(&["alice"], TimeDelta::weeks(1), "2026-10-19 09:00")],
        );
        assert_eq!(s.next_change(&[], utc("2026-10-21 12:00")), None);
    }
}
