//! On-call over REST and chat, on SQLite and PostgreSQL, against the example configuration's
//! follow-the-sun schedule at the harness's clock, Tuesday 2026-11-24 03:00 UTC: 22:00 on
//! Monday in New York (EST, UTC-5), 04:00 in Berlin (CET, UTC+1). Neither 09:00-21:00 window
//! is open, so the round-the-clock base layer has the pager: its turn 0 (from Monday 09:00 New
//! York), alice. Berlin's window opens at 09:00 CET = 08:00 UTC: the europe layer's turn 0,
//! carla.

mod support;

use axum::http::StatusCode;
use commands::{Input, Invocation};
use serde_json::{Value, json};
use support::TestApp;

on_both!(
    schedules_show_who_is_on_call_and_the_next_hand_over,
    shifts_follow_the_sun_and_overrides_win,
    bad_overrides_are_refused_and_change_nothing,
    a_service_lists_who_each_escalation_level_reaches,
    the_calendar_feed_parses_and_matches_the_shifts,
    oncall_in_chat_shows_levels_and_take_creates_an_override,
);

async fn schedules_show_who_is_on_call_and_the_next_hand_over(app: TestApp) {
    let (status, schedules) = app.get("/api/v1/schedules", &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{schedules}");
    let primary = &schedules[0];
    assert_eq!(primary["id"], "checkout-primary");
    assert_eq!(primary["layers"], json!(["base", "americas", "europe"]));
    assert_eq!(primary["on_call"], "alice");
    assert_eq!(primary["next"]["user"], "carla");
    assert_eq!(primary["next"]["start"], "2026-11-24T08:00:00Z");
}

fn shift_lines(shifts: &Value) -> Vec<String> {
    shifts
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}..{}",
                s["user"].as_str().unwrap(),
                s["start"].as_str().unwrap(),
                s["end"].as_str().unwrap()
            )
        })
        .collect()
}

async fn shifts_follow_the_sun_and_overrides_win(app: TestApp) {
    let day = "/api/v1/schedules/checkout-primary/shifts?from=2026-11-24T00:00:00Z&until=2026-11-25T00:00:00Z";
    let (status, shifts) = app.get(day, &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{shifts}");
    // 00:00-02:00 UTC is 19:00-21:00 in New York (americas, alice), 02:00-08:00 the gap
    // (base, alice again: merged), 08:00-20:00 Berlin's 09:00-21:00 (europe, carla),
    // 20:00-24:00 New York's 15:00-19:00 (americas, alice).
    assert_eq!(
        shift_lines(&shifts),
        [
            "alice 2026-11-24T00:00:00Z..2026-11-24T08:00:00Z",
            "carla 2026-11-24T08:00:00Z..2026-11-24T20:00:00Z",
            "alice 2026-11-24T20:00:00Z..2026-11-25T00:00:00Z",
        ]
    );

    let (status, created) = app
        .json(
            "POST",
            "/api/v1/schedules/checkout-primary/overrides",
            &app.responder,
            json!({"user": "bob", "start": "2026-11-24T03:00:00Z", "end": "2026-11-24T09:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, shifts) = app.get(day, &app.viewer).await;
    assert_eq!(
        shift_lines(&shifts),
        [
            "alice 2026-11-24T00:00:00Z..2026-11-24T03:00:00Z",
            "bob 2026-11-24T03:00:00Z..2026-11-24T09:00:00Z",
            "carla 2026-11-24T09:00:00Z..2026-11-24T20:00:00Z",
            "alice 2026-11-24T20:00:00Z..2026-11-25T00:00:00Z",
        ]
    );
    let (_, schedules) = app.get("/api/v1/schedules", &app.viewer).await;
    assert_eq!(schedules[0]["on_call"], "bob");
    let (_, overrides) = app
        .get("/api/v1/schedules/checkout-primary/overrides", &app.viewer)
        .await;
    assert_eq!(overrides.as_array().unwrap().len(), 1);
    assert_eq!(overrides[0]["user"], "bob");
}

async fn bad_overrides_are_refused_and_change_nothing(app: TestApp) {
    let post = |body: Value, schedule: &'static str| {
        let path = format!("/api/v1/schedules/{schedule}/overrides");
        let app = &app;
        async move { app.json("POST", &path, &app.responder, body).await }
    };
    let (s, b) = post(
        json!({"user": "bob", "start": "2026-11-24T09:00:00Z", "end": "2026-11-24T03:00:00Z"}),
        "checkout-primary",
    )
    .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("end")),
        "{b}"
    );
    let (s, b) = post(
        json!({"user": "mallory", "start": "2026-11-24T03:00:00Z", "end": "2026-11-24T09:00:00Z"}),
        "checkout-primary",
    )
    .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("user")),
        "{b}"
    );
    let (s, _) = post(
        json!({"user": "bob", "start": "2026-11-24T03:00:00Z", "end": "2026-11-24T09:00:00Z"}),
        "nope",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = post(
        json!({"user": "bob", "start": "tomorrow", "end": "2026-11-24T09:00:00Z"}),
        "checkout-primary",
    )
    .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("start")),
        "{b}"
    );
    let (s, _) = app
        .json(
            "POST",
            "/api/v1/schedules/checkout-primary/overrides",
            &app.viewer,
            json!({"user": "bob", "start": "2026-11-24T03:00:00Z", "end": "2026-11-24T09:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = app
        .get("/api/v1/schedules/checkout-primary/shifts?from=2026-01-01T00:00:00Z&until=2027-06-01T00:00:00Z", &app.viewer)
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("until")),
        "{b}"
    );
    let (_, overrides) = app
        .get("/api/v1/schedules/checkout-primary/overrides", &app.viewer)
        .await;
    assert_eq!(overrides, json!([]));
}

async fn a_service_lists_who_each_escalation_level_reaches(app: TestApp) {
    let (status, levels) = app
        .get("/api/v1/services/checkout/oncall", &app.viewer)
        .await;
    assert_eq!(status, StatusCode::OK, "{levels}");
    let levels = levels.as_array().unwrap();
    assert_eq!(levels.len(), 3);
    assert_eq!(levels[0]["timeout_minutes"], 5);
    assert_eq!(
        levels[0]["targets"][0]["target"],
        "schedule:checkout-primary"
    );
    assert_eq!(levels[0]["targets"][0]["on_call"], json!(["alice"]));
    // Secondary rotates weekly [dieter, carla, bob, alice] from Monday 09:00 Berlin: turn 0.
    assert_eq!(levels[1]["targets"][0]["on_call"], json!(["dieter"]));
    assert_eq!(levels[2]["targets"][0]["target"], "team:payments");
    assert_eq!(
        levels[2]["targets"][0]["on_call"],
        json!(["alice", "bob", "carla", "dieter"])
    );
}

async fn the_calendar_feed_parses_and_matches_the_shifts(app: TestApp) {
    use axum::body::Body;
    use axum::http::Request;
    use icalendar::Component;

    let feed = |query: String| {
        Request::get(format!("/api/v1/schedules/checkout-primary/ical{query}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, _) = app.send(feed(String::new())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.send(feed("?token=tcn_forged".into())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app.send(feed(format!("?token={}", app.viewer))).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().expect("a calendar is text");
    let calendar: icalendar::Calendar = text.parse().expect("the feed parses as iCalendar");
    let events: Vec<_> = calendar.events().collect();

    // The feed covers a week back and eight weeks ahead of the clock.
    let range = "from=2026-11-17T03:00:00.123456Z&until=2027-01-19T03:00:00.123456Z";
    let (_, shifts) = app
        .get(
            &format!("/api/v1/schedules/checkout-primary/shifts?{range}"),
            &app.viewer,
        )
        .await;
    let shifts = shifts.as_array().unwrap();
    assert!(
        shifts.len() > 100,
        "two shifts a day or more over nine weeks"
    );
    assert_eq!(events.len(), shifts.len());
    for (event, shift) in events.iter().zip(shifts) {
        let summary = format!(
            "On call: {} (checkout-primary)",
            shift["user"].as_str().unwrap()
        );
        assert_eq!(event.get_summary(), Some(summary.as_str()));
        let utc = |d: Option<icalendar::DatePerhapsTime>| match d {
            Some(icalendar::DatePerhapsTime::DateTime(icalendar::CalendarDateTime::Utc(t))) => {
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }
            other => panic!("expected a UTC date-time, got {other:?}"),
        };
        assert_eq!(utc(event.get_start()), shift["start"].as_str().unwrap());
        assert_eq!(utc(event.get_end()), shift["end"].as_str().unwrap());
    }
}

/// `/oncall <text>` typed on the console by `user`.
fn said(user: &str, text: &str) -> Invocation {
    Invocation {
        platform: "console".into(),
        user: user.into(),
        channel: "incidents".into(),
        input: Input::Slash {
            command: "oncall".into(),
            text: text.into(),
        },
        delivery: None,
        groups: Vec::new(),
    }
}

async fn oncall_in_chat_shows_levels_and_take_creates_an_override(app: TestApp) {
    let reply = commands::handle(&app.core, &said("carla", "checkout")).await;
    let shown = reply.message.plain();
    assert!(shown.contains("checkout level 1 (5 min)"), "{shown}");
    // carla reads times in Berlin: the next hand-over, 08:00 UTC, is 09:00 CET.
    assert!(
        shown.contains("alice (schedule checkout-primary; next carla from Tue 24 Nov 09:00 CET)"),
        "{shown}"
    );

    let reply = commands::handle(&app.core, &said("bob", "take for 2h")).await;
    assert!(
        reply
            .message
            .plain()
            .contains("name the schedule, one of: checkout-primary, checkout-secondary"),
        "{}",
        reply.message.plain()
    );

    let reply = commands::handle(&app.core, &said("bob", "take checkout-primary for 2h")).await;
    // bob is in New York: 05:00 UTC is 00:00 EST on Tuesday.
    assert_eq!(
        reply.message.plain(),
        "You are on call for checkout-primary until Tue 24 Nov 00:00 EST."
    );
    let (_, schedules) = app.get("/api/v1/schedules", &app.viewer).await;
    assert_eq!(schedules[0]["on_call"], "bob");

    // Handing over: dieter, on call on the secondary, gives his shift to carla.
    let reply = commands::handle(&app.core, &said("dieter", "take @carla until 09:00")).await;
    assert_eq!(
        reply.message.plain(),
        "carla is on call for checkout-secondary instead of you until Tue 24 Nov 09:00 CET."
    );
    let (_, levels) = app
        .get("/api/v1/services/checkout/oncall", &app.viewer)
        .await;
    assert_eq!(levels[1]["targets"][0]["on_call"], json!(["carla"]));
}
