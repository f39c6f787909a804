//! On-call schedules against hand-computed answers: every expected instant below was worked
//! out from the zones' offsets (written next to it), never by the code under test.
//!
//! Zones and changes used: New York is EDT (UTC-4) until 2026-11-01 06:00 UTC and from
//! 2027-03-14 07:00 UTC, EST (UTC-5) in between; Berlin is CEST (UTC+2) until 2026-10-25
//! 01:00 UTC and from 2027-03-28 01:00 UTC, CET (UTC+1) in between. 2026-10-19, 2026-10-26,
//! 2026-11-02, 2026-11-23, 2027-03-08, 2027-03-15, 2027-03-22 and 2027-03-29 are Mondays.

use std::time::{Duration, Instant};

use bot_core::model::UserId;
use bot_core::schedule::{Layer, Override, Restriction, Schedule, ScheduleError, Shift};
use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Europe::Berlin;
use chrono_tz::Tz;
use uuid::Uuid;

const FORMAT: &str = "%Y-%m-%d %H:%M";

fn utc(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, FORMAT)
        .expect("test instants are written %Y-%m-%d %H:%M")
        .and_utc()
}

fn hm(text: &str) -> NaiveTime {
    NaiveTime::parse_from_str(text, "%H:%M").expect("test times are written %H:%M")
}

fn layer(name: &str, members: &[&str], rotation: TimeDelta, handoff: &str) -> Layer {
    Layer {
        name: name.to_owned(),
        members: members.iter().copied().map(UserId::from).collect(),
        rotation,
        handoff: NaiveDateTime::parse_from_str(handoff, FORMAT)
            .expect("test hand-offs are written %Y-%m-%d %H:%M"),
        restrictions: Vec::new(),
        time_zone: None,
    }
}

fn daily_window(start: &str, end: &str) -> Restriction {
    Restriction {
        day: None,
        start: hm(start),
        end: hm(end),
    }
}

fn schedule(time_zone: Tz, layers: Vec<Layer>) -> Schedule {
    Schedule {
        id: "checkout".to_owned(),
        name: "Checkout".to_owned(),
        time_zone,
        layers,
    }
}

fn overriding(user: &str, start: &str, end: &str, created_at: &str) -> Override {
    Override {
        id: Uuid::new_v4(),
        user: user.into(),
        start: utc(start),
        end: utc(end),
        created_at: utc(created_at),
    }
}

/// Shifts as `"start..end user (layer)"` lines, so expectations read like a rota.
fn rota(shifts: &[Shift]) -> Vec<String> {
    shifts
        .iter()
        .map(|shift| {
            format!(
                "{}..{} {} ({})",
                shift.start.format(FORMAT),
                shift.end.format(FORMAT),
                shift.user,
                shift.layer.as_deref().unwrap_or("override"),
            )
        })
        .collect()
}

/// Asserts who is on call at each `(instant, user)`; `""` means nobody.
fn assert_on_call(schedule: &Schedule, overrides: &[Override], expected: &[(&str, &str)]) {
    for &(at, user) in expected {
        let got = schedule.on_call(overrides, utc(at));
        let want = (!user.is_empty()).then(|| UserId::from(user));
        assert_eq!(got, want, "on call at {at} UTC");
    }
}

/// Weekly [alice, bob] handing off Mondays 09:00 New York time, alice from 2026-10-19.
fn new_york_weekly() -> Schedule {
    schedule(
        New_York,
        vec![layer(
            "weekly",
            &["alice", "bob"],
            TimeDelta::weeks(1),
            "2026-10-19 09:00",
        )],
    )
}

/// Follow the sun, in New York's zone: a round-the-clock weekly backup [erin, frank], an
/// Americas layer [alice, bob] on 09:00-21:00 New York time, and on top a Europe layer
/// [carla, dieter] on 09:00-21:00 Berlin time, written in Berlin's own zone. All hand off
/// weekly at Monday 09:00 local, the first turns in the week of 2026-10-19.
fn follow_the_sun() -> Schedule {
    let backup = layer(
        "backup",
        &["erin", "frank"],
        TimeDelta::weeks(1),
        "2026-10-19 09:00",
    );
    let mut americas = layer(
        "americas",
        &["alice", "bob"],
        TimeDelta::weeks(1),
        "2026-10-19 09:00",
    );
    americas.restrictions = vec![daily_window("09:00", "21:00")];
    let mut europe = layer(
        "europe",
        &["carla", "dieter"],
        TimeDelta::weeks(1),
        "2026-10-19 09:00",
    );
    europe.restrictions = vec![daily_window("09:00", "21:00")];
    europe.time_zone = Some(Berlin);
    schedule(New_York, vec![backup, americas, europe])
}

/// An earlier shape of the example's "checkout-primary", kept as a case of its own: two
/// restricted layers in New York's zone, Americas 09:00-21:00 from Monday 2026-11-23 09:00
/// and Europe 21:00-09:00 from 21:00, together covering the day. (The example now uses
/// per-layer zones and a base layer; src/config.rs tests that shape.)
fn guide_example() -> Schedule {
    let mut americas = layer(
        "americas",
        &["alice", "bob"],
        TimeDelta::weeks(1),
        "2026-11-23 09:00",
    );
    americas.restrictions = vec![daily_window("09:00", "21:00")];
    let mut europe = layer(
        "europe",
        &["carla", "dieter"],
        TimeDelta::weeks(1),
        "2026-11-23 21:00",
    );
    europe.restrictions = vec![daily_window("21:00", "09:00")];
    schedule(New_York, vec![americas, europe])
}

#[test]
fn weekly_new_york_rotation_hands_off_at_nine_local_across_us_dst_changes() {
    let s = new_york_weekly();
    assert_on_call(
        &s,
        &[],
        &[
            // Before the first hand-off the rotation runs backwards: bob had the week before.
            ("2026-10-19 12:59", "bob"),   // 08:59 EDT
            ("2026-10-19 13:00", "alice"), // 09:00 EDT, the first hand-off
            ("2026-10-22 03:00", "alice"),
            ("2026-10-26 12:59", "alice"), // 08:59 EDT
            ("2026-10-26 13:00", "bob"),   // 09:00 EDT
            // After 2026-11-01 New York is on EST: 09:00 is now 14:00 UTC.
            ("2026-11-02 13:00", "bob"),   // 08:00 EST
            ("2026-11-02 13:59", "bob"),   // 08:59 EST
            ("2026-11-02 14:00", "alice"), // 09:00 EST
            ("2026-11-09 13:59", "alice"),
            ("2026-11-09 14:00", "bob"),
            // 20 weeks after 2026-10-19 is 2027-03-08 (alice's turn, still EST); the spring
            // change on 2027-03-14 puts the next hand-off back at 13:00 UTC.
            ("2027-03-08 13:59", "bob"),
            ("2027-03-08 14:00", "alice"), // 09:00 EST
            ("2027-03-15 12:59", "alice"), // 08:59 EDT
            ("2027-03-15 13:00", "bob"),   // 09:00 EDT
        ],
    );
    // The turn spanning the fall-back change lasts a week and an hour.
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-10-24 00:00"), utc("2026-11-08 00:00"))),
        [
            "2026-10-24 00:00..2026-10-26 13:00 alice (weekly)",
            "2026-10-26 13:00..2026-11-02 14:00 bob (weekly)",
            "2026-11-02 14:00..2026-11-08 00:00 alice (weekly)",
        ]
    );
}

#[test]
fn weekly_berlin_rotation_hands_off_at_nine_local_across_eu_dst_changes() {
    let s = schedule(
        Berlin,
        vec![layer(
            "weekly",
            &["alice", "bob"],
            TimeDelta::weeks(1),
            "2026-10-19 09:00",
        )],
    );
    assert_on_call(
        &s,
        &[],
        &[
            ("2026-10-19 06:59", "bob"),   // 08:59 CEST
            ("2026-10-19 07:00", "alice"), // 09:00 CEST
            // Berlin is on CET from 2026-10-25: 09:00 is now 08:00 UTC.
            ("2026-10-26 07:00", "alice"), // 08:00 CET
            ("2026-10-26 07:59", "alice"), // 08:59 CET
            ("2026-10-26 08:00", "bob"),   // 09:00 CET
            // 22 weeks after 2026-10-19 is 2027-03-22 (alice, CET); after the spring change on
            // 2027-03-28, 09:00 is 07:00 UTC again.
            ("2027-03-22 07:59", "bob"),
            ("2027-03-22 08:00", "alice"), // 09:00 CET
            ("2027-03-29 06:59", "alice"), // 08:59 CEST
            ("2027-03-29 07:00", "bob"),   // 09:00 CEST
        ],
    );
}

#[test]
fn daily_rotation_keeps_local_hand_off_so_dst_days_last_23_or_25_hours() {
    // New York, daily at 09:00 from Friday 2026-10-30 (EDT, 13:00 UTC): bob's Saturday turn
    // ends at 09:00 EST on Sunday 11-01 (14:00 UTC), 25 hours later.
    let fall = schedule(
        New_York,
        vec![layer(
            "daily",
            &["alice", "bob", "carol"],
            TimeDelta::days(1),
            "2026-10-30 09:00",
        )],
    );
    assert_eq!(
        rota(&fall.shifts(&[], utc("2026-10-31 00:00"), utc("2026-11-03 00:00"))),
        [
            "2026-10-31 00:00..2026-10-31 13:00 alice (daily)",
            "2026-10-31 13:00..2026-11-01 14:00 bob (daily)",
            "2026-11-01 14:00..2026-11-02 14:00 carol (daily)",
            "2026-11-02 14:00..2026-11-03 00:00 alice (daily)",
        ]
    );

    // New York, daily at 09:00 from 2027-03-13 (EST, 14:00 UTC): the Saturday turn ends at
    // 09:00 EDT on Sunday 03-14 (13:00 UTC), 23 hours later.
    let spring = schedule(
        New_York,
        vec![layer(
            "daily",
            &["alice", "bob"],
            TimeDelta::days(1),
            "2027-03-13 09:00",
        )],
    );
    assert_eq!(
        rota(&spring.shifts(&[], utc("2027-03-13 14:00"), utc("2027-03-16 00:00"))),
        [
            "2027-03-13 14:00..2027-03-14 13:00 alice (daily)",
            "2027-03-14 13:00..2027-03-15 13:00 bob (daily)",
            "2027-03-15 13:00..2027-03-16 00:00 alice (daily)",
        ]
    );

    // Berlin, daily at 09:00 from Saturday 2026-10-24 (CEST, 07:00 UTC): the Saturday turn
    // ends at 09:00 CET on Sunday (08:00 UTC), 25 hours later.
    let fall = schedule(
        Berlin,
        vec![layer(
            "daily",
            &["alice", "bob"],
            TimeDelta::days(1),
            "2026-10-24 09:00",
        )],
    );
    assert_eq!(
        rota(&fall.shifts(&[], utc("2026-10-24 00:00"), utc("2026-10-27 00:00"))),
        [
            "2026-10-24 00:00..2026-10-24 07:00 bob (daily)",
            "2026-10-24 07:00..2026-10-25 08:00 alice (daily)",
            "2026-10-25 08:00..2026-10-26 08:00 bob (daily)",
            "2026-10-26 08:00..2026-10-27 00:00 alice (daily)",
        ]
    );

    // Berlin, daily at 09:00 from 2027-03-27 (CET, 08:00 UTC): 09:00 CEST on Sunday 03-28
    // is 07:00 UTC, 23 hours later.
    let spring = schedule(
        Berlin,
        vec![layer(
            "daily",
            &["alice", "bob"],
            TimeDelta::days(1),
            "2027-03-27 09:00",
        )],
    );
    assert_eq!(
        rota(&spring.shifts(&[], utc("2027-03-27 08:00"), utc("2027-03-29 08:00"))),
        [
            "2027-03-27 08:00..2027-03-28 07:00 alice (daily)",
            "2027-03-28 07:00..2027-03-29 07:00 bob (daily)",
            "2027-03-29 07:00..2027-03-29 08:00 alice (daily)",
        ]
    );
}

#[test]
fn sub_day_rotations_count_real_hours_so_local_hand_offs_move_across_dst() {
    // New York, 12h from 2026-10-31 08:00 EDT = 12:00 UTC: every 12 real hours, so after the
    // fall-back change the hand-offs are at 07:00 and 19:00 EST.
    let s = schedule(
        New_York,
        vec![layer(
            "half-day",
            &["alice", "bob"],
            TimeDelta::hours(12),
            "2026-10-31 08:00",
        )],
    );
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-10-31 00:00"), utc("2026-11-02 12:00"))),
        [
            "2026-10-31 00:00..2026-10-31 12:00 bob (half-day)",
            "2026-10-31 12:00..2026-11-01 00:00 alice (half-day)",
            "2026-11-01 00:00..2026-11-01 12:00 bob (half-day)",
            "2026-11-01 12:00..2026-11-02 00:00 alice (half-day)",
            "2026-11-02 00:00..2026-11-02 12:00 bob (half-day)",
        ]
    );
    assert_on_call(
        &s,
        &[],
        &[
            ("2026-10-31 11:59", "bob"),
            ("2026-10-31 12:00", "alice"), // 08:00 EDT
            ("2026-11-01 11:59", "bob"),
            ("2026-11-01 12:00", "alice"), // 07:00 EST
        ],
    );

    // Berlin, 8h through [a, b, c] from 2027-03-27 06:00 CET = 05:00 UTC: turns at 05:00,
    // 13:00 and 21:00 UTC; after the spring change that is 07:00, 15:00 and 23:00 CEST.
    let s = schedule(
        Berlin,
        vec![layer(
            "eight",
            &["a", "b", "c"],
            TimeDelta::hours(8),
            "2027-03-27 06:00",
        )],
    );
    assert_on_call(
        &s,
        &[],
        &[
            ("2027-03-27 04:59", "c"),
            ("2027-03-27 05:00", "a"),
            ("2027-03-27 13:00", "b"),
            ("2027-03-27 21:00", "c"),
            ("2027-03-28 04:59", "c"),
            ("2027-03-28 05:00", "a"), // 07:00 CEST
        ],
    );
}

#[test]
fn follow_the_sun_hands_off_at_each_teams_local_hours() {
    let s = follow_the_sun();
    // Wednesday 2026-10-21, both on summer time: Europe 09:00-21:00 CEST = 07:00-19:00 UTC,
    // Americas 09:00-21:00 EDT = 13:00-01:00 UTC (Europe wins the overlap), backup between.
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-10-21 00:00"), utc("2026-10-22 00:00"))),
        [
            "2026-10-21 00:00..2026-10-21 01:00 alice (americas)",
            "2026-10-21 01:00..2026-10-21 07:00 erin (backup)",
            "2026-10-21 07:00..2026-10-21 19:00 carla (europe)",
            "2026-10-21 19:00..2026-10-22 00:00 alice (americas)",
        ]
    );
    // Sunday 2026-10-25, Berlin changes at 01:00 UTC: its window is 09:00-21:00 CET =
    // 08:00-20:00 UTC that day, New York's still 13:00-01:00 UTC.
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-10-25 00:00"), utc("2026-10-26 00:00"))),
        [
            "2026-10-25 00:00..2026-10-25 01:00 alice (americas)",
            "2026-10-25 01:00..2026-10-25 08:00 erin (backup)",
            "2026-10-25 08:00..2026-10-25 20:00 carla (europe)",
            "2026-10-25 20:00..2026-10-26 00:00 alice (americas)",
        ]
    );
    // Monday 2026-10-26, hand-off day: Europe hands to dieter at 09:00 CET = 08:00 UTC,
    // Americas and backup at 09:00 EDT = 13:00 UTC (backup hidden under Europe then).
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-10-26 00:00"), utc("2026-10-27 00:00"))),
        [
            "2026-10-26 00:00..2026-10-26 01:00 alice (americas)",
            "2026-10-26 01:00..2026-10-26 08:00 erin (backup)",
            "2026-10-26 08:00..2026-10-26 20:00 dieter (europe)",
            "2026-10-26 20:00..2026-10-27 00:00 bob (americas)",
        ]
    );
    // Wednesday 2026-10-28, only Europe has changed: Europe 08:00-20:00 UTC (CET), Americas
    // still 13:00-01:00 UTC (EDT).
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-10-28 00:00"), utc("2026-10-29 00:00"))),
        [
            "2026-10-28 00:00..2026-10-28 01:00 bob (americas)",
            "2026-10-28 01:00..2026-10-28 08:00 frank (backup)",
            "2026-10-28 08:00..2026-10-28 20:00 dieter (europe)",
            "2026-10-28 20:00..2026-10-29 00:00 bob (americas)",
        ]
    );
    assert_on_call(
        &s,
        &[],
        &[
            ("2026-10-28 07:59", "frank"),
            ("2026-10-28 08:00", "dieter"),
            ("2026-10-28 19:59", "dieter"),
            ("2026-10-28 20:00", "bob"),
            ("2026-10-29 00:59", "bob"),
            ("2026-10-29 01:00", "frank"),
        ],
    );
    // Wednesday 2026-11-04, both on winter time, third turn (alice, carla, erin since Monday
    // 11-02): Europe 08:00-20:00 UTC (CET), Americas 14:00-02:00 UTC (EST).
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-11-04 00:00"), utc("2026-11-05 00:00"))),
        [
            "2026-11-04 00:00..2026-11-04 02:00 alice (americas)",
            "2026-11-04 02:00..2026-11-04 08:00 erin (backup)",
            "2026-11-04 08:00..2026-11-04 20:00 carla (europe)",
            "2026-11-04 20:00..2026-11-05 00:00 alice (americas)",
        ]
    );
}

#[test]
fn guide_example_covers_every_minute_including_the_long_fall_back_night() {
    let s = guide_example();
    // Tuesday 2026-11-24 (EST): Americas 09:00-21:00 = 14:00-02:00 UTC, Europe the rest;
    // Europe's first turn (carla) began Monday 21:00 EST = Tuesday 02:00 UTC.
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-11-24 00:00"), utc("2026-11-25 00:00"))),
        [
            "2026-11-24 00:00..2026-11-24 02:00 alice (americas)",
            "2026-11-24 02:00..2026-11-24 14:00 carla (europe)",
            "2026-11-24 14:00..2026-11-25 00:00 alice (americas)",
        ]
    );
    // Four weeks before the first hand-offs (turn -4: alice and carla again). Saturday
    // 10-31's Americas window is 09:00-21:00 EDT = 13:00-01:00 UTC; the Europe window that
    // night runs 21:00 EDT to 09:00 EST = 01:00-14:00 UTC, 13 real hours.
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-10-31 12:00"), utc("2026-11-01 16:00"))),
        [
            "2026-10-31 12:00..2026-10-31 13:00 carla (europe)",
            "2026-10-31 13:00..2026-11-01 01:00 alice (americas)",
            "2026-11-01 01:00..2026-11-01 14:00 carla (europe)",
            "2026-11-01 14:00..2026-11-01 16:00 alice (americas)",
        ]
    );
}

#[test]
fn a_restricted_only_schedule_has_gaps_where_nobody_is_on_call() {
    let mut s = guide_example();
    s.layers.truncate(1); // Americas only, 09:00-21:00 EST = 14:00-02:00 UTC.
    assert_eq!(
        rota(&s.shifts(&[], utc("2026-11-24 00:00"), utc("2026-11-26 00:00"))),
        [
            "2026-11-24 00:00..2026-11-24 02:00 alice (americas)",
            "2026-11-24 14:00..2026-11-25 02:00 alice (americas)",
            "2026-11-25 14:00..2026-11-26 00:00 alice (americas)",
        ]
    );
    assert_on_call(
        &s,
        &[],
        &[
            ("2026-11-24 01:59", "alice"),
            ("2026-11-24 02:00", ""),
            ("2026-11-24 13:59", ""),
            ("2026-11-24 14:00", "alice"),
        ],
    );
}

#[test]
fn an_override_in_the_middle_of_a_shift_splits_it() {
    let s = new_york_weekly();
    let overrides = [overriding(
        "carol",
        "2026-10-21 15:00",
        "2026-10-21 17:00",
        "2026-10-20 10:00",
    )];
    assert_eq!(
        rota(&s.shifts(&overrides, utc("2026-10-21 00:00"), utc("2026-10-22 00:00"))),
        [
            "2026-10-21 00:00..2026-10-21 15:00 alice (weekly)",
            "2026-10-21 15:00..2026-10-21 17:00 carol (override)",
            "2026-10-21 17:00..2026-10-22 00:00 alice (weekly)",
        ]
    );
    assert_on_call(
        &s,
        &overrides,
        &[
            ("2026-10-21 14:59", "alice"),
            ("2026-10-21 15:00", "carol"),
            ("2026-10-21 16:59", "carol"),
            ("2026-10-21 17:00", "alice"),
        ],
    );
    // Clipped to the range asked about.
    assert_eq!(
        rota(&s.shifts(&overrides, utc("2026-10-21 16:00"), utc("2026-10-21 18:00"))),
        [
            "2026-10-21 16:00..2026-10-21 17:00 carol (override)",
            "2026-10-21 17:00..2026-10-21 18:00 alice (weekly)",
        ]
    );
}

#[test]
fn overlapping_overrides_are_resolved_by_the_latest_created() {
    let s = new_york_weekly();
    let day = |overrides: &[Override]| {
        rota(&s.shifts(overrides, utc("2026-10-21 00:00"), utc("2026-10-22 00:00")))
    };

    // dave's (created 11:00) wins over carol's (10:00) where they overlap; erin's (09:00)
    // is hidden entirely. The order of the slice does not matter.
    let carol = overriding(
        "carol",
        "2026-10-21 15:00",
        "2026-10-21 18:00",
        "2026-10-20 10:00",
    );
    let dave = overriding(
        "dave",
        "2026-10-21 16:00",
        "2026-10-21 20:00",
        "2026-10-20 11:00",
    );
    let erin = overriding(
        "erin",
        "2026-10-21 17:00",
        "2026-10-21 17:30",
        "2026-10-20 09:00",
    );
    let expected = [
        "2026-10-21 00:00..2026-10-21 15:00 alice (weekly)",
        "2026-10-21 15:00..2026-10-21 16:00 carol (override)",
        "2026-10-21 16:00..2026-10-21 20:00 dave (override)",
        "2026-10-21 20:00..2026-10-22 00:00 alice (weekly)",
    ];
    assert_eq!(day(&[carol.clone(), dave.clone(), erin.clone()]), expected);
    assert_eq!(day(&[erin.clone(), dave.clone(), carol.clone()]), expected);

    // Created later, carol's now wins; and erin's, created last, cuts into hers.
    let carol = Override {
        created_at: utc("2026-10-20 12:00"),
        ..carol
    };
    let erin = Override {
        created_at: utc("2026-10-20 13:00"),
        ..erin
    };
    assert_eq!(
        day(&[dave, carol, erin]),
        [
            "2026-10-21 00:00..2026-10-21 15:00 alice (weekly)",
            "2026-10-21 15:00..2026-10-21 17:00 carol (override)",
            "2026-10-21 17:00..2026-10-21 17:30 erin (override)",
            "2026-10-21 17:30..2026-10-21 18:00 carol (override)",
            "2026-10-21 18:00..2026-10-21 20:00 dave (override)",
            "2026-10-21 20:00..2026-10-22 00:00 alice (weekly)",
        ]
    );
}

#[test]
fn an_override_across_a_hand_off_covers_both_turns() {
    let s = new_york_weekly();
    // The hand-off alice -> bob is at 2026-10-26 09:00 EDT = 13:00 UTC.
    let overrides = [overriding(
        "carol",
        "2026-10-26 12:00",
        "2026-10-26 14:00",
        "2026-10-25 10:00",
    )];
    assert_eq!(
        rota(&s.shifts(&overrides, utc("2026-10-26 10:00"), utc("2026-10-26 16:00"))),
        [
            "2026-10-26 10:00..2026-10-26 12:00 alice (weekly)",
            "2026-10-26 12:00..2026-10-26 14:00 carol (override)",
            "2026-10-26 14:00..2026-10-26 16:00 bob (weekly)",
        ]
    );
}

#[test]
fn shifts_merge_when_the_same_person_continues() {
    let s = new_york_weekly();
    // alice stays two hours past her 13:00 UTC hand-off: one shift, named after its start.
    let overrides = [overriding(
        "alice",
        "2026-10-26 13:00",
        "2026-10-26 15:00",
        "2026-10-25 10:00",
    )];
    assert_eq!(
        rota(&s.shifts(&overrides, utc("2026-10-26 10:00"), utc("2026-10-26 16:00"))),
        [
            "2026-10-26 10:00..2026-10-26 15:00 alice (weekly)",
            "2026-10-26 15:00..2026-10-26 16:00 bob (weekly)",
        ]
    );
    // Two back-to-back overrides for carol are one shift.
    let overrides = [
        overriding(
            "carol",
            "2026-10-21 15:00",
            "2026-10-21 17:00",
            "2026-10-20 10:00",
        ),
        overriding(
            "carol",
            "2026-10-21 17:00",
            "2026-10-21 19:00",
            "2026-10-20 11:00",
        ),
    ];
    assert_eq!(
        rota(&s.shifts(&overrides, utc("2026-10-21 14:00"), utc("2026-10-21 20:00"))),
        [
            "2026-10-21 14:00..2026-10-21 15:00 alice (weekly)",
            "2026-10-21 15:00..2026-10-21 19:00 carol (override)",
            "2026-10-21 19:00..2026-10-21 20:00 alice (weekly)",
        ]
    );
}

#[test]
fn ninety_days_of_three_layers_are_contiguous_merged_and_fast() {
    let s = follow_the_sun();
    let overrides = [
        overriding(
            "zoe",
            "2026-11-10 10:00",
            "2026-11-12 10:00",
            "2026-11-01 00:00",
        ),
        overriding(
            "yan",
            "2026-11-11 00:00",
            "2026-11-11 06:00",
            "2026-11-02 00:00",
        ),
    ];
    let (from, until) = (utc("2026-10-15 00:00"), utc("2027-01-13 00:00"));
    let started = Instant::now();
    let shifts = s.shifts(&overrides, from, until);
    let took = started.elapsed();
    // A few milliseconds in a debug build; the bound only catches per-minute stepping.
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // The backup layer covers every minute, so the shifts tile the range exactly, and two
    // neighbours are always different people.
    assert_eq!(shifts.first().map(|shift| shift.start), Some(from));
    assert_eq!(shifts.last().map(|shift| shift.end), Some(until));
    for pair in shifts.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{pair:?}");
        assert_ne!(pair[0].user, pair[1].user, "{pair:?}");
    }
    for shift in &shifts {
        assert!(shift.start < shift.end, "{shift:?}");
        assert_eq!(
            s.on_call(&overrides, shift.start).as_ref(),
            Some(&shift.user)
        );
        let last_minute = shift.end - TimeDelta::minutes(1);
        assert_eq!(
            s.on_call(&overrides, last_minute).as_ref(),
            Some(&shift.user)
        );
    }
    // Roughly three shifts a day (Americas, backup, Europe) over 90 days.
    assert!((260..=280).contains(&shifts.len()), "{}", shifts.len());
}

#[test]
fn next_change_names_the_next_different_person_and_their_whole_shift() {
    let s = new_york_weekly();
    let next = |s: &Schedule, overrides: &[Override], at: &str| {
        rota(
            &s.next_change(overrides, utc(at))
                .into_iter()
                .collect::<Vec<_>>(),
        )
    };
    // alice now; bob from Monday 09:00 EDT until the Monday after, 09:00 EST.
    assert_eq!(
        next(&s, &[], "2026-10-21 12:00"),
        ["2026-10-26 13:00..2026-11-02 14:00 bob (weekly)"]
    );
    // Exactly at a hand-off bob is already on call, so the next change is back to alice.
    assert_eq!(
        next(&s, &[], "2026-10-26 13:00"),
        ["2026-11-02 14:00..2026-11-09 14:00 alice (weekly)"]
    );
    // An override is a change too.
    let overrides = [overriding(
        "carol",
        "2026-10-21 15:00",
        "2026-10-21 17:00",
        "2026-10-20 10:00",
    )];
    assert_eq!(
        next(&s, &overrides, "2026-10-21 12:00"),
        ["2026-10-21 15:00..2026-10-21 17:00 carol (override)"]
    );

    // Follow the sun: dieter until 20:00 UTC, then bob until 01:00 UTC (2026-10-28, EDT).
    assert_eq!(
        next(&follow_the_sun(), &[], "2026-10-28 10:00"),
        ["2026-10-28 20:00..2026-10-29 01:00 bob (americas)"]
    );

    // Americas only: nobody at 03:00 UTC, so the next shift is whoever comes next; while
    // alice is on call, her own next windows are skipped until bob's first one, Monday
    // 11-30 09:00-21:00 EST = 14:00-02:00 UTC.
    let mut americas = guide_example();
    americas.layers.truncate(1);
    assert_eq!(
        next(&americas, &[], "2026-11-24 03:00"),
        ["2026-11-24 14:00..2026-11-25 02:00 alice (americas)"]
    );
    assert_eq!(
        next(&americas, &[], "2026-11-24 15:00"),
        ["2026-11-30 14:00..2026-12-01 02:00 bob (americas)"]
    );
}

#[test]
fn validate_reports_each_mistake() {
    assert_eq!(new_york_weekly().validate(), Ok(()));
    assert_eq!(follow_the_sun().validate(), Ok(()));

    let mut s = new_york_weekly();
    s.layers[0].members.clear();
    assert_eq!(
        s.validate(),
        Err(ScheduleError::EmptyMembers {
            layer: "weekly".to_owned()
        })
    );

    for rotation in [TimeDelta::zero(), TimeDelta::hours(-1)] {
        let mut s = new_york_weekly();
        s.layers[0].rotation = rotation;
        assert_eq!(
            s.validate(),
            Err(ScheduleError::RotationNotPositive {
                layer: "weekly".to_owned()
            })
        );
    }

    let mut s = new_york_weekly();
    s.layers.clear();
    assert_eq!(
        s.validate(),
        Err(ScheduleError::NoLayers {
            schedule: "checkout".to_owned()
        })
    );

    let ok = overriding(
        "carol",
        "2026-10-21 15:00",
        "2026-10-21 15:01",
        "2026-10-20 10:00",
    );
    assert_eq!(ok.validate(), Ok(()));
    for (start, end) in [
        ("2026-10-21 15:00", "2026-10-21 15:00"),
        ("2026-10-21 15:00", "2026-10-21 14:00"),
    ] {
        let o = overriding("carol", start, end, "2026-10-20 10:00");
        let err = o
            .validate()
            .expect_err("an override must end after it starts");
        assert_eq!(
            err,
            ScheduleError::OverrideEndNotAfterStart {
                id: o.id,
                start: o.start,
                end: o.end
            }
        );
        assert!(err.to_string().contains("not after its start"), "{err}");
    }
}
