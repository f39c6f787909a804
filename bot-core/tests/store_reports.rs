//! Reports on SQLite and PostgreSQL: over a fixed data set (`reports_data`), the store
//! returns the rows of the range and scope, and the report's figures (counts, MTTA and
//! MTTR medians and p90, escalation rate, noisiest alerts, pages out of hours, postmortem
//! completion, weekly figures) equal the ones computed by hand in the comments below.
//! Bad ranges and unknown services or teams are refused as invalid input.

mod common;
mod reports_data;

use std::collections::HashMap;
use std::sync::Arc;

use bot_core::model::{Directory, Role, Service, Team, User};
use bot_core::reports::{ReportQuery, ReportSettings};
use bot_core::store::{ReportScope, Store};
use bot_core::{Core, CoreError, CoreSettings};
use common::{clock, conformance};
use reports_data::{CARLA_HOURS, SINCE, UNTIL, at, seed};

conformance!(
    the_store_returns_the_rows_of_the_range,
    the_report_equals_the_hand_computed_figures,
    a_service_or_team_scope_keeps_only_its_alerts_and_incidents,
    bad_ranges_and_unknown_names_are_refused,
    an_empty_range_reports_zeros_and_no_medians,
);

fn user(id: &str, tz: &str) -> User {
    User {
        id: id.into(),
        name: id.to_uppercase(),
        email: None,
        time_zone: tz.into(),
        phone: None,
        role: Role::Responder,
        chat: Default::default(),
    }
}

fn service(id: &str, team: Option<&str>) -> Service {
    Service {
        id: id.into(),
        name: id.into(),
        description: None,
        team: team.map(Into::into),
        escalation_policy: None,
    }
}

async fn core(store: Arc<dyn Store>) -> Core {
    store
        .replace_directory(&Directory {
            users: vec![
                user("alice", "America/New_York"),
                user("carla", "Europe/Berlin"),
            ],
            teams: vec![Team {
                id: "payments".into(),
                name: "Payments".into(),
                members: vec!["alice".into(), "carla".into()],
            }],
            services: vec![service("checkout", Some("payments")), service("api", None)],
        })
        .await
        .unwrap();
    let settings = CoreSettings {
        teams: HashMap::from([("payments".into(), vec!["alice".into(), "carla".into()])]),
        reports: ReportSettings {
            working_hours: HashMap::from([("carla".into(), CARLA_HOURS.parse().unwrap())]),
        },
        ..Default::default()
    };
    Core::new(store, Arc::new(clock()), settings)
}

fn query(service: Option<&str>, team: Option<&str>) -> ReportQuery {
    ReportQuery {
        since: at(SINCE),
        until: at(UNTIL),
        service: service.map(Into::into),
        team: team.map(Into::into),
    }
}

fn scope(services: Option<&[&str]>) -> ReportScope {
    ReportScope {
        since: at(SINCE),
        until: at(UNTIL),
        services: services.map(|s| s.iter().map(|s| (*s).into()).collect()),
    }
}

async fn the_store_returns_the_rows_of_the_range(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    let all = scope(None);

    // A1..A5 (A0 triggered before the range); escalated A2 (level 2) and A4 (cycle 2).
    let mut groups = store.report_alert_groups(&all).await.unwrap();
    groups.sort_by(|a, b| (&a.service, &a.severity).cmp(&(&b.service, &b.severity)));
    let groups: Vec<(&str, &str, i64, i64)> = groups
        .iter()
        .map(|g| {
            (
                g.service.as_str(),
                g.severity.as_str(),
                g.alerts,
                g.escalated,
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("api", "error", 1, 0),
            ("api", "warning", 1, 0),
            ("checkout", "critical", 3, 2)
        ]
    );

    let times = store.report_alert_times(&all).await.unwrap();
    assert_eq!(times.len(), 5);
    assert_eq!(
        times.iter().filter(|t| t.acknowledged_at.is_some()).count(),
        4
    );
    assert_eq!(times.iter().filter(|t| t.resolved_at.is_some()).count(), 4);

    // db-down: 3 alerts, 3 events; latency: 1 alert folding 3 events; disk: 1 and 1.
    let noisy = store.report_noisiest_alerts(&all, 10).await.unwrap();
    let noisy: Vec<(&str, &str, i64, i64)> = noisy
        .iter()
        .map(|n| (n.service.as_str(), n.dedup_key.as_str(), n.alerts, n.events))
        .collect();
    assert_eq!(
        noisy,
        [
            ("checkout", "db-down", 3, 3),
            ("api", "latency", 1, 3),
            ("api", "disk", 1, 1)
        ]
    );
    assert_eq!(
        store.report_noisiest_alerts(&all, 1).await.unwrap().len(),
        1
    );

    // One page per alert and person, at its first time; the repeat, the SMS delivery and
    // the attempt that found nobody are not pages of their own.
    let mut pages: Vec<(String, String)> = store
        .report_pages(&all)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.user.0, p.at.to_rfc3339()))
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            ("alice".to_owned(), "2026-11-16T10:00:00+00:00".to_owned()),
            ("alice".to_owned(), "2026-11-17T15:00:00+00:00".to_owned()),
            ("alice".to_owned(), "2026-11-28T12:00:00+00:00".to_owned()),
            ("carla".to_owned(), "2026-11-17T15:05:00+00:00".to_owned()),
            ("carla".to_owned(), "2026-11-23T09:00:00+00:00".to_owned()),
        ]
    );

    let mut incidents = store.report_incidents(&all).await.unwrap();
    incidents.sort_by_key(|i| i.declared_at);
    let incidents: Vec<(&str, Option<&str>, i64)> = incidents
        .iter()
        .map(|i| {
            (
                i.severity.as_str(),
                i.postmortem.as_deref(),
                i.open_action_items,
            )
        })
        .collect();
    assert_eq!(
        incidents,
        [
            ("sev1", Some("published"), 1),
            ("sev2", Some("draft"), 1),
            ("sev3", None, 0)
        ]
    );
}

async fn the_report_equals_the_hand_computed_figures(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    let core = core(store).await;
    let r = core.report(&query(None, None)).await.unwrap();

    assert_eq!(r.alerts.total, 5);
    let by = |c: &[bot_core::reports::Count]| -> Vec<(String, i64)> {
        c.iter().map(|c| (c.key.clone(), c.count)).collect()
    };
    assert_eq!(
        by(&r.alerts.by_service),
        [("api".into(), 2), ("checkout".into(), 3)]
    );
    assert_eq!(
        by(&r.alerts.by_severity),
        [
            ("critical".into(), 3),
            ("error".into(), 1),
            ("warning".into(), 1)
        ]
    );
    // I1 checkout, I2 api, I3 both.
    assert_eq!(r.incidents.total, 3);
    assert_eq!(
        by(&r.incidents.by_service),
        [("api".into(), 2), ("checkout".into(), 2)]
    );
    assert_eq!(
        by(&r.incidents.by_severity),
        [("sev1".into(), 1), ("sev2".into(), 1), ("sev3".into(), 1)]
    );

    // MTTA over A1 120, A2 300, A4 60, A5 600 s (A3 never acknowledged): sorted
    // [60, 120, 300, 600]; median = rank ceil(0.5 * 4) = 2 -> 120 s; p90 = rank
    // ceil(0.9 * 4) = 4 -> 600 s.
    assert_eq!(r.mtta.count, 4);
    assert_eq!(r.mtta.median_seconds, Some(120.0));
    assert_eq!(r.mtta.p90_seconds, Some(600.0));
    // MTTR alerts over A1 1800, A2 3600, A3 600, A4 1200 s (A5 open): sorted
    // [600, 1200, 1800, 3600]; median rank 2 -> 1200 s; p90 rank 4 -> 3600 s.
    assert_eq!(r.mttr.alerts.count, 4);
    assert_eq!(r.mttr.alerts.median_seconds, Some(1200.0));
    assert_eq!(r.mttr.alerts.p90_seconds, Some(3600.0));
    // MTTR incidents over I1 7200, I2 2700 s (I3 open): sorted [2700, 7200]; median rank
    // ceil(1.0) = 1 -> 2700 s; p90 rank ceil(1.8) = 2 -> 7200 s.
    assert_eq!(r.mttr.incidents.count, 2);
    assert_eq!(r.mttr.incidents.median_seconds, Some(2700.0));
    assert_eq!(r.mttr.incidents.p90_seconds, Some(7200.0));

    // Escalated A2 and A4 of 5 alerts: 0.4.
    assert_eq!((r.escalation.alerts, r.escalation.escalated), (5, 2));
    assert_eq!(r.escalation.rate, Some(0.4));

    assert_eq!(r.noisiest_alerts.len(), 3);
    assert_eq!(r.noisiest_alerts[0].dedup_key, "db-down");

    // alice: A1 05:00 NY Mon (out), A2 10:00 NY Tue (in), A5 07:00 NY Sat (out): 3 pages,
    // 2 out. carla: A2 16:05 Berlin Tue, her day ends 16:00 (out), A4 10:00 Berlin Mon
    // (in): 2 pages, 1 out. In all 5 pages, 3 out of hours.
    assert_eq!((r.pages.total, r.pages.out_of_hours), (5, 3));
    let pages: Vec<(&str, i64, i64, &str)> = r
        .pages
        .by_responder
        .iter()
        .map(|p| {
            (
                p.user.as_str(),
                p.pages,
                p.out_of_hours,
                p.working_hours.as_str(),
            )
        })
        .collect();
    assert_eq!(
        pages,
        [
            ("alice", 3, 2, "Mon-Fri 09:00-17:00"),
            ("carla", 2, 1, "Mon-Thu 08:00-16:00")
        ]
    );

    // I1 published of 3 incidents; open items: I1's one, I2's one.
    assert_eq!(r.postmortems.incidents, 3);
    assert_eq!(r.postmortems.published, 1);
    assert_eq!(r.postmortems.completion_rate, Some(1.0 / 3.0));
    assert_eq!(r.postmortems.open_action_items, 2);

    // W47: A1, A2, A3; MTTA [120, 300] -> rank 1 -> 120; MTTR [600, 1800, 3600] -> rank
    // ceil(1.5) = 2 -> 1800; incidents I1 -> 7200. W48: A4, A5; MTTA [60, 600] -> 60;
    // MTTR [1200] -> 1200; incidents I2 -> 2700. W49: I3 only, nothing measured.
    let weeks: Vec<_> = r
        .weeks
        .iter()
        .map(|w| {
            (
                w.week.as_str(),
                w.alerts,
                w.incidents,
                w.mtta.median_seconds,
                w.mttr_alerts.median_seconds,
                w.mttr_incidents.median_seconds,
            )
        })
        .collect();
    assert_eq!(
        weeks,
        [
            ("2026-W47", 3, 1, Some(120.0), Some(1800.0), Some(7200.0)),
            ("2026-W48", 2, 1, Some(60.0), Some(1200.0), Some(2700.0)),
            ("2026-W49", 0, 1, None, None, None),
        ]
    );
}

async fn a_service_or_team_scope_keeps_only_its_alerts_and_incidents(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    let core = core(store).await;

    // api: A3 (resolved 600 s, never acked), A5 (acked 600 s); I2 and I3.
    let r = core.report(&query(Some("api"), None)).await.unwrap();
    assert_eq!(r.alerts.total, 2);
    assert_eq!(r.mtta.median_seconds, Some(600.0));
    assert_eq!(r.mttr.alerts.median_seconds, Some(600.0));
    assert_eq!(r.escalation.rate, Some(0.0));
    assert_eq!((r.pages.total, r.pages.out_of_hours), (1, 1));
    assert_eq!(r.incidents.total, 2);
    // I3 names checkout too, but only api is in scope.
    assert_eq!(r.incidents.by_service.len(), 1);
    assert_eq!(r.postmortems.open_action_items, 1);

    // payments owns checkout: A1, A2, A4 (MTTA [60, 120, 300] -> rank 2 -> 120 s); I1, I3.
    let r = core.report(&query(None, Some("payments"))).await.unwrap();
    assert_eq!(r.alerts.total, 3);
    assert_eq!(r.mtta.median_seconds, Some(120.0));
    assert_eq!(r.escalation.escalated, 2);
    assert_eq!(r.incidents.total, 2);
    assert_eq!(r.pages.total, 4);

    // A service outside the team: nothing.
    let r = core
        .report(&query(Some("api"), Some("payments")))
        .await
        .unwrap();
    assert_eq!(
        (r.alerts.total, r.incidents.total, r.pages.total),
        (0, 0, 0)
    );
}

async fn bad_ranges_and_unknown_names_are_refused(store: Arc<dyn Store>) {
    let core = core(store).await;
    let field = |e: CoreError| match e {
        CoreError::Invalid(i) => i.field,
        other => panic!("expected invalid input, got {other}"),
    };
    let mut q = query(None, None);
    q.until = q.since;
    assert_eq!(field(core.report(&q).await.unwrap_err()), "until");
    q.until = q.since - chrono::Duration::days(1);
    assert_eq!(field(core.report(&q).await.unwrap_err()), "until");
    q.until = q.since + chrono::Duration::days(5000);
    assert_eq!(field(core.report(&q).await.unwrap_err()), "since");
    let e = core.report(&query(Some("nope"), None)).await.unwrap_err();
    assert!(e.to_string().contains("checkout"), "{e}");
    assert_eq!(field(e), "service");
    let e = core.report(&query(None, Some("nope"))).await.unwrap_err();
    assert_eq!(field(e), "team");
}

async fn an_empty_range_reports_zeros_and_no_medians(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    let core = core(store).await;
    let r = core
        .report(&ReportQuery {
            since: at("2027-01-04T00:00:00Z"),
            until: at("2027-01-11T00:00:00Z"),
            service: None,
            team: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (r.alerts.total, r.incidents.total, r.pages.total),
        (0, 0, 0)
    );
    assert_eq!(r.mtta.median_seconds, None);
    assert_eq!(r.escalation.rate, None);
    assert_eq!(r.postmortems.completion_rate, None);
    assert_eq!(r.weeks.len(), 1);
    assert_eq!(r.weeks[0].week, "2027-W01");
}
