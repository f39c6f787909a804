//! The postmortem from chat (the console's grammar, the same on every platform), on SQLite
//! and PostgreSQL with the example configuration: `/incident postmortem` creates the draft,
//! posts its link and DMs the owner, shows it and hands it over; `schedule` records the
//! review meeting in the scheduler's time zone and writes the invitation; a resolved sev1
//! asks for an owner with a button; the reminder comes due on a manual clock; incident
//! cards carry the huddle link.

mod support;

#[path = "../adapters/tests/aiosmtpd/mod.rs"]
mod aiosmtpd;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bot_core::Core;
use bot_core::effects::ChatEffects;
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{
    Actor, ChannelRef, Incident, IncidentChange, Job, PostmortemStatus, ServiceId, Severity, UserId,
};
use bot_core::ops::{CoreSettings, Declare};
use bot_core::postmortem::{PostmortemEdit, kinds};
use chrono::{DateTime, Duration, Utc};
use commands::{Audience, Input, Invocation, Reply};
use support::TestApp;

on_both!(
    the_postmortem_is_created_shown_and_handed_over_from_chat,
    scheduling_the_review_takes_the_schedulers_time_zone_and_writes_the_invitation,
    a_resolved_sev1_asks_for_an_owner_and_the_button_makes_the_presser_owner,
    the_reminder_is_posted_only_while_the_postmortem_is_unpublished,
    incident_cards_carry_the_huddle_link_when_one_is_configured,
    the_invitation_job_mails_the_current_schedule_to_each_attendee,
);

const PUBLIC_URL: &str = "https://tocsin.example.com";
const HUDDLE: &str = "https://meet.example.com/tocsin-inc-{number}";

/// What the console printed, for assertions.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl Write for Printed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Printed {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The example's core with a public URL, e-mail set up and (unless `huddle` is false) a
/// huddle link; a console to see what chat gets, and a pool running the core and console
/// queues (not `notify`: the invitation's mail is the adapters' SMTP test).
struct World {
    core: Core,
    pool: WorkerPool,
    printed: Printed,
}

fn world(app: &TestApp, huddle: bool) -> World {
    let mut settings: CoreSettings = (*app.core.settings).clone();
    settings.public_url = PUBLIC_URL.into();
    settings.notifier_channels.push("email".into());
    settings.conference_url = huddle.then(|| HUDDLE.to_owned());
    let core = Core::new(app.db.store.clone(), Arc::new(app.clock.clone()), settings);
    let printed = Printed::default();
    let console = Arc::new(adapters::console::Console::new(
        "incidents",
        Box::new(printed.clone()),
    ));
    let runner = adapters::actions::Runner::new().unwrap();
    let handlers = tocsin::app::core_handlers_with(&core, Arc::new(runner), None)
        .merge(ChatEffects::handlers(&core, console.clone()))
        .merge(bot_core::escalation::PageByChat::handlers(
            core.clone(),
            console,
        ));
    let pool = WorkerPool::new(
        core.store.clone(),
        Arc::new(app.clock.clone()),
        handlers,
        PoolConfig {
            queues: vec!["core".into(), "chat:console".into()],
            ..Default::default()
        },
    );
    World {
        core,
        pool,
        printed,
    }
}

impl World {
    /// `/incident <text>` said by `user` at the console in `channel`.
    async fn say(&self, user: &str, channel: &str, text: &str) -> Reply {
        commands::handle(
            &self.core,
            &Invocation::slash("console", user, channel, "incident", text),
        )
        .await
    }

    async fn press(&self, user: &str, action: &str, value: &str) -> Reply {
        let invocation = Invocation {
            input: Input::Button {
                action: action.into(),
                value: value.into(),
            },
            ..Invocation::slash("console", user, "inc-1", "incident", "")
        };
        commands::handle(&self.core, &invocation).await
    }

    /// Runs every due job and checks that none of them failed.
    async fn run_jobs(&self) {
        self.pool.run_due().await.unwrap();
        let failed: Vec<(String, Option<String>)> = self
            .core
            .store
            .list_jobs(None, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.attempts > 0 && j.last_error.is_some())
            .map(|j| (j.kind, j.last_error))
            .collect();
        assert!(failed.is_empty(), "jobs failed: {failed:?}");
    }

    /// Every job of `kind`, whatever its state, oldest first.
    async fn jobs(&self, kind: &str) -> Vec<Job> {
        let mut jobs: Vec<Job> = self
            .core
            .store
            .list_jobs(None, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == kind)
            .collect();
        jobs.sort_by_key(|j| (j.created_at, j.run_at));
        jobs
    }

    /// `number` declared by alice at `severity` with `commander`, on Checkout when
    /// `checkout`, worked in the console room `inc-<number>`.
    async fn incident(
        &self,
        severity: Severity,
        commander: Option<&str>,
        checkout: bool,
    ) -> Incident {
        let incident = self
            .core
            .declare(
                &Actor::User(UserId::from("alice")),
                Declare {
                    title: "Checkout is failing".into(),
                    severity,
                    services: if checkout {
                        vec![ServiceId::from("checkout")]
                    } else {
                        Vec::new()
                    },
                    commander: commander.map(UserId::from),
                    alerts: Vec::new(),
                    idempotency_key: None,
                    description: None,
                },
            )
            .await
            .expect("declared");
        let room = format!("inc-{}", incident.number);
        self.core
            .store
            .attach_channel(
                incident.id,
                &ChannelRef {
                    platform: "console".into(),
                    channel_id: room.clone(),
                    name: room,
                },
            )
            .await
            .expect("channel");
        incident
    }
}

/// What the console printed in `room` (`inc-1`, `@bob` for direct messages), one block
/// per message.
fn in_room(printed: &str, room: &str) -> Vec<String> {
    printed
        .split("\n#")
        .filter_map(|block| block.split_once('\n'))
        .filter(|(name, _)| *name == room)
        .map(|(_, body)| body.to_owned())
        .collect()
}

fn text(reply: &Reply) -> String {
    reply.message.plain()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

async fn the_postmortem_is_created_shown_and_handed_over_from_chat(app: TestApp) {
    let w = world(&app, true);
    let incident = w.incident(Severity::Sev2, Some("bob"), true).await;

    // Refusals: nothing is created.
    let viewer = text(&w.say("erin", "inc-1", "postmortem").await);
    assert!(viewer.contains("needs the responder role"), "{viewer}");
    let unknown = text(&w.say("alice", "general", "postmortem INC-99").await);
    assert!(
        unknown.starts_with("Sorry:") && unknown.contains("not found"),
        "{unknown}"
    );
    let nobody = text(&w.say("alice", "inc-1", "postmortem --owner @nobody").await);
    assert!(
        nobody.contains("no Tocsin user is known as @nobody"),
        "{nobody}"
    );
    let elsewhere = text(&w.say("alice", "general", "postmortem").await);
    assert!(
        elsewhere.contains("name the incident: INC-<number>"),
        "{elsewhere}"
    );
    assert_eq!(w.core.postmortem_of(incident.id).await.unwrap(), None);

    // Created with the commander as owner; the reply has its state and signed link.
    let created = w.say("alice", "inc-1", "postmortem").await;
    assert_eq!(created.audience, Audience::Channel);
    let said = text(&created);
    let postmortem = w
        .core
        .postmortem_of(incident.id)
        .await
        .unwrap()
        .expect("created");
    assert_eq!(postmortem.owner, Some(UserId::from("bob")));
    assert_eq!(postmortem.created_by, "user:alice");
    assert!(
        said.contains("Postmortem of INC-1 created: draft, owner bob."),
        "{said}"
    );
    let link = format!("{PUBLIC_URL}/postmortems/{}?token=", postmortem.id);
    assert!(said.contains(&link), "{said}");

    // Its jobs post the link in the incident's room and DM the owner.
    w.run_jobs().await;
    let printed = w.printed.text();
    let room = in_room(&printed, "inc-1")
        .into_iter()
        .find(|block| block.contains("Postmortem of INC-1"))
        .unwrap_or_else(|| panic!("no postmortem card in #inc-1:\n{printed}"));
    // The console prints fields as `Label  value`.
    assert!(
        room.contains("Owner  bob") && room.contains(&link),
        "{room}"
    );
    let dm = in_room(&printed, "@bob")
        .into_iter()
        .find(|block| block.contains("postmortem"))
        .unwrap_or_else(|| panic!("no DM to bob:\n{printed}"));
    assert!(dm.contains("You own the postmortem of INC-1"), "{dm}");
    assert!(dm.contains(&link), "{dm}");

    // Again: shown (a viewer may look), not created twice.
    let shown = w.say("erin", "inc-1", "postmortem").await;
    assert_eq!(shown.audience, Audience::Ephemeral);
    let shown = text(&shown);
    assert!(
        shown.contains("State: draft") && shown.contains("Owner: bob"),
        "{shown}"
    );
    assert!(shown.contains(&link), "{shown}");

    // --owner hands it over; a viewer may not.
    let refused = text(&w.say("erin", "inc-1", "postmortem --owner @erin").await);
    assert!(refused.contains("needs the responder role"), "{refused}");
    let handed = text(
        &w.say("alice", "inc-1", "postmortem INC-1 --owner @carla")
            .await,
    );
    assert!(
        handed.contains("carla now owns the postmortem of INC-1"),
        "{handed}"
    );
    let postmortem = w.core.postmortem_of(incident.id).await.unwrap().unwrap();
    assert_eq!(postmortem.owner, Some(UserId::from("carla")));
    assert_eq!(w.jobs(kinds::CREATED).await.len(), 1, "one creation");
}

async fn scheduling_the_review_takes_the_schedulers_time_zone_and_writes_the_invitation(
    app: TestApp,
) {
    let w = world(&app, true);
    let incident = w.incident(Severity::Sev2, Some("bob"), true).await;
    w.core
        .change(
            &Actor::User("alice".into()),
            incident.id,
            vec![IncidentChange::AddResponder("erin".into())],
        )
        .await
        .unwrap();

    let early = text(
        &w.say("alice", "inc-1", "postmortem schedule 2026-12-01 10:00")
            .await,
    );
    assert!(early.contains("has no postmortem yet"), "{early}");
    w.say("alice", "inc-1", "postmortem").await;

    // Bad input: a usage reply or a refusal, nothing recorded.
    for (said, expected) in [
        (
            "postmortem schedule 2026-13-01 10:00",
            "`2026-13-01` is not a date",
        ),
        ("postmortem schedule 2026-12-01 7pm", "`7pm` is not a time"),
        ("postmortem schedule 2026-11-20 10:00", "in the past"),
        (
            "postmortem schedule 2026-12-01 10:00 9h",
            "15 to 480 minutes",
        ),
    ] {
        let reply = text(&w.say("alice", "inc-1", said).await);
        assert!(reply.contains(expected), "{said}: {reply}");
    }
    let viewer = text(
        &w.say("erin", "inc-1", "postmortem schedule 2026-12-01 10:00")
            .await,
    );
    assert!(viewer.contains("needs the responder role"), "{viewer}");
    let postmortem = w.core.postmortem_of(incident.id).await.unwrap().unwrap();
    assert_eq!(postmortem.meeting, None);
    assert!(w.jobs(kinds::INVITE).await.is_empty());

    // Alice is in New York: 10:00 there on 1 December is 15:00 UTC.
    let scheduled = w
        .say("alice", "inc-1", "postmortem schedule 2026-12-01 10:00 30m")
        .await;
    assert_eq!(scheduled.audience, Audience::Channel);
    let said = text(&scheduled);
    assert!(
        said.contains("10:00–10:30 America/New_York (your time zone; 2026-12-01 15:00–15:30 UTC)"),
        "{said}"
    );
    let postmortem = w.core.postmortem_of(incident.id).await.unwrap().unwrap();
    let meeting = postmortem.meeting.clone().expect("meeting recorded");
    assert_eq!(meeting.starts_at, at("2026-12-01T15:00:00Z"));
    assert_eq!(meeting.duration_minutes, 30);
    assert_eq!(meeting.sequence, 0);
    assert_eq!(meeting.scheduled_by, "user:alice");
    // The commander (and owner) bob, the Payments team that owns Checkout, the responder.
    assert_eq!(
        meeting.attendees,
        [
            "bob@example.com",
            "alice@example.com",
            "carla@example.com",
            "dieter@example.com",
            "erin@example.com"
        ]
    );
    let invites = w.jobs(kinds::INVITE).await;
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0].queue, "notify");
    assert_eq!(
        invites[0].payload["postmortem_id"],
        postmortem.id.to_string()
    );
    assert_eq!(invites[0].payload["sequence"], 0);

    // Carla in Berlin moves it: the same event, one sequence on.
    let moved = text(
        &w.say("carla", "inc-1", "postmortem schedule 2026-12-02 16:00")
            .await,
    );
    assert!(
        moved.contains("moved")
            && moved.contains("Europe/Berlin")
            && moved.contains("15:00–16:00 UTC"),
        "{moved}"
    );
    let meeting = w
        .core
        .postmortem_of(incident.id)
        .await
        .unwrap()
        .unwrap()
        .meeting
        .unwrap();
    assert_eq!(
        (meeting.starts_at, meeting.sequence),
        (at("2026-12-02T15:00:00Z"), 1)
    );
    let mut sequences: Vec<i64> = w
        .jobs(kinds::INVITE)
        .await
        .iter()
        .map(|j| j.payload["sequence"].as_i64().unwrap())
        .collect();
    sequences.sort();
    assert_eq!(sequences, [0, 1], "one invitation per schedule");

    // The channel hears of the current schedule only, with the huddle link.
    w.run_jobs().await;
    let printed = w.printed.text();
    assert!(
        printed.contains("Postmortem review of INC-1 moved"),
        "{printed}"
    );
    assert!(
        !printed.contains("Postmortem review of INC-1 scheduled"),
        "the superseded schedule is not posted:\n{printed}"
    );
    assert!(printed.contains("2026-12-02 15:00–16:00 UTC"), "{printed}");
    assert!(
        printed.contains("Join huddle: https://meet.example.com/tocsin-inc-1"),
        "{printed}"
    );
}

async fn a_resolved_sev1_asks_for_an_owner_and_the_button_makes_the_presser_owner(app: TestApp) {
    let w = world(&app, false);
    // A sev3 resolved: nobody is asked.
    let minor = w.incident(Severity::Sev3, None, false).await;
    let resolved = text(&w.say("alice", "inc-1", "resolve").await);
    assert!(resolved.contains("resolved"), "{resolved}");
    assert!(w.jobs(kinds::OWNER_PROMPT).await.is_empty());
    assert_eq!(w.core.postmortem_of(minor.id).await.unwrap(), None);

    // A sev1 without a commander, resolved: its channel is asked, with the button.
    let serious = w.incident(Severity::Sev1, None, false).await;
    w.say("alice", "inc-2", "resolve").await;
    let prompts = w.jobs(kinds::OWNER_PROMPT).await;
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].queue, "chat:console");
    w.run_jobs().await;
    let printed = w.printed.text();
    let prompt = in_room(&printed, "inc-2")
        .into_iter()
        .find(|block| block.contains("who owns the postmortem?"))
        .unwrap_or_else(|| panic!("no owner prompt in #inc-2:\n{printed}"));
    assert!(prompt.contains("I'll own it"), "{prompt}");

    // A viewer cannot take it; carla can, and the draft is created for her.
    let value = serious.id.to_string();
    let refused = text(&w.press("erin", "postmortem_owner", &value).await);
    assert!(refused.contains("needs the responder role"), "{refused}");
    let taken = w.press("carla", "postmortem_owner", &value).await;
    assert_eq!(taken.audience, Audience::Channel);
    assert!(
        text(&taken).contains("carla owns the postmortem of INC-2 (draft)"),
        "{taken:?}"
    );
    let postmortem = w.core.postmortem_of(serious.id).await.unwrap().unwrap();
    assert_eq!(postmortem.owner, Some(UserId::from("carla")));
    assert_eq!(postmortem.created_by, "user:carla");
    // A second press by someone else does not take it over.
    let second = text(&w.press("dieter", "postmortem_owner", &value).await);
    assert!(
        second.contains("carla owns the postmortem of INC-2 already"),
        "{second}"
    );
    let bad = text(&w.press("carla", "postmortem_owner", "not-an-id").await);
    assert!(bad.contains("is not an incident id"), "{bad}");

    // A sev1 whose postmortem has an owner already is not asked about.
    let owned = w.incident(Severity::Sev1, Some("bob"), false).await;
    w.say("bob", "inc-3", "postmortem").await;
    w.say("bob", "inc-3", "resolve").await;
    assert_eq!(w.jobs(kinds::OWNER_PROMPT).await.len(), 1, "{owned:?}");
}

async fn the_reminder_is_posted_only_while_the_postmortem_is_unpublished(app: TestApp) {
    let w = world(&app, false);
    let reminder_after = w
        .core
        .settings
        .postmortem
        .reminder_after
        .expect("the example reminds");
    assert_eq!(reminder_after, Duration::days(5));
    let draft = w.incident(Severity::Sev2, Some("bob"), false).await;
    let published = w.incident(Severity::Sev2, Some("bob"), false).await;
    w.say("alice", "inc-1", "postmortem").await;
    w.say("alice", "inc-2", "postmortem").await;
    for status in [PostmortemStatus::InReview, PostmortemStatus::Published] {
        w.core
            .edit_postmortem(
                &Actor::User("bob".into()),
                published.id,
                PostmortemEdit {
                    status: Some(status),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    w.run_jobs().await;

    // Not yet: one second before the reminder is due, nothing.
    let created = w
        .core
        .postmortem_of(draft.id)
        .await
        .unwrap()
        .unwrap()
        .created_at;
    w.core
        .store
        .list_jobs(None, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|j| j.kind == kinds::REMINDER)
        .for_each(|j| assert_eq!(j.run_at, created + reminder_after, "{j:?}"));
    app.clock
        .set(created + reminder_after - Duration::seconds(1));
    w.run_jobs().await;
    assert!(w.jobs(kinds::REMINDER_POST).await.is_empty());

    // Due: the draft's channel is reminded, the published one's is not.
    app.clock.set(created + reminder_after);
    w.run_jobs().await;
    let posts = w.jobs(kinds::REMINDER_POST).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let draft_postmortem = w.core.postmortem_of(draft.id).await.unwrap().unwrap();
    assert_eq!(
        posts[0].payload["postmortem_id"],
        draft_postmortem.id.to_string()
    );
    let printed = w.printed.text();
    let reminder = in_room(&printed, "inc-1")
        .into_iter()
        .find(|block| block.contains("not published yet"))
        .unwrap_or_else(|| panic!("no reminder in #inc-1:\n{printed}"));
    assert!(reminder.contains("Created 5 days ago"), "{reminder}");
    assert!(reminder.contains("Owner  bob"), "{reminder}");
    assert!(
        !in_room(&printed, "inc-2")
            .iter()
            .any(|block| block.contains("not published yet")),
        "{printed}"
    );
}

async fn incident_cards_carry_the_huddle_link_when_one_is_configured(app: TestApp) {
    let with = world(&app, true);
    with.incident(Severity::Sev3, Some("alice"), false).await;
    with.run_jobs().await;
    let printed = with.printed.text();
    assert!(
        printed.contains("Join huddle: https://meet.example.com/tocsin-inc-1"),
        "{printed}"
    );

    // `/incident status` shows the same card, with the link.
    let status = with.say("alice", "general", "status INC-1").await;
    assert!(
        status
            .message
            .text
            .iter()
            .any(|line| line == "Join huddle: https://meet.example.com/tocsin-inc-1"),
        "{status:?}"
    );

    let without = world(&app, false);
    without.incident(Severity::Sev3, Some("alice"), false).await;
    without.run_jobs().await;
    let printed = without.printed.text();
    assert!(printed.contains("INC-2 Checkout is failing"), "{printed}");
    assert!(!printed.contains("Join huddle"), "{printed}");
    let status = without.say("alice", "general", "status INC-2").await;
    assert!(
        !status
            .message
            .text
            .iter()
            .any(|l| l.contains("Join huddle")),
        "{status:?}"
    );
}

/// The invitation job end to end: scheduled and moved from chat, the `notify` queue mails
/// the current event (the superseded one is not sent) to each attendee through a real SMTP
/// server on loopback, where it parses as an iCalendar request.
async fn the_invitation_job_mails_the_current_schedule_to_each_attendee(app: TestApp) {
    use bot_core::Clock;
    use icalendar::{Calendar, Component};

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "postmortem-invite-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (_smtp, port) = aiosmtpd::start(&dir, "aiosmtpd.handlers.Mailbox", None).await;
    let mailer = adapters::notify::InviteMailer::new(adapters::notify::SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: adapters::notify::SmtpTls::None,
        username: None,
        password: None,
        from: "Tocsin <tocsin@example.com>".into(),
    })
    .unwrap()
    .with_clock(Arc::new(app.clock.clone()));

    let w = world(&app, true);
    let incident = w.incident(Severity::Sev2, Some("bob"), true).await;
    w.say("alice", "inc-1", "postmortem").await;
    w.say("alice", "inc-1", "postmortem schedule 2026-12-01 10:00")
        .await;
    w.say("alice", "inc-1", "postmortem schedule 2026-12-01 11:00 45m")
        .await;
    let notify = WorkerPool::new(
        w.core.store.clone(),
        Arc::new(app.clock.clone()),
        bot_core::postmortem::meeting::MeetingInvites::handlers(
            w.core.clone(),
            Some(Arc::new(mailer)),
        ),
        PoolConfig {
            queues: vec!["notify".into()],
            ..Default::default()
        },
    );
    assert_eq!(
        notify.run_due().await.unwrap(),
        2,
        "both invitation jobs ran"
    );
    let failed: Vec<_> = w
        .jobs(kinds::INVITE)
        .await
        .into_iter()
        .filter(|j| j.last_error.is_some())
        .collect();
    assert!(failed.is_empty(), "{failed:?}");

    let maildir = dir.join("maildir").join("new");
    let mails: Vec<String> = std::fs::read_dir(&maildir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let meeting = w
        .core
        .postmortem_of(incident.id)
        .await
        .unwrap()
        .unwrap()
        .meeting
        .unwrap();
    assert_eq!(
        mails.len(),
        meeting.attendees.len(),
        "one mail per attendee"
    );
    let mut recipients = Vec::new();
    for mail in &mails {
        let mail = mail.replace("\r\n", "\n");
        let to = mail
            .lines()
            .find_map(|l| l.strip_prefix("To: "))
            .expect("a To header");
        recipients.push(to.to_owned());
        let calendar = calendar_part(&mail);
        let calendar: Calendar = calendar.parse().expect("parses as iCalendar");
        assert_eq!(calendar.property_value("METHOD"), Some("REQUEST"));
        let event = calendar.events().next().expect("an event");
        // 11:00 in New York on 1 December, for 45 minutes; the moved event, not the first.
        assert_eq!(event.property_value("DTSTART"), Some("20261201T160000Z"));
        assert_eq!(event.property_value("DTEND"), Some("20261201T164500Z"));
        assert_eq!(event.property_value("SEQUENCE"), Some("1"));
        let invited: Vec<String> = event
            .get_attendees()
            .into_iter()
            .map(|a| a.cal_address.trim_start_matches("mailto:").to_owned())
            .collect();
        assert_eq!(invited, meeting.attendees);
        let description = event.get_description().unwrap_or_default().to_owned();
        assert!(
            description.contains(&format!("{PUBLIC_URL}/postmortems/")),
            "{description}"
        );
    }
    recipients.sort();
    let mut expected = meeting.attendees.clone();
    expected.sort();
    assert_eq!(recipients, expected);

    // A rerun of the job sends nothing twice.
    let job = w
        .jobs(kinds::INVITE)
        .await
        .into_iter()
        .find(|j| j.payload["sequence"] == 1)
        .unwrap();
    w.core
        .store
        .enqueue(&[bot_core::model::NewJob::new(
            "notify",
            kinds::INVITE,
            job.payload.clone(),
            app.clock.now(),
        )])
        .await
        .unwrap();
    assert_eq!(notify.run_due().await.unwrap(), 1);
    assert_eq!(
        std::fs::read_dir(&maildir).unwrap().count(),
        meeting.attendees.len(),
        "every attendee was mailed already"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `text/calendar` part of a raw mail (base64, as the invitation sends it), decoded.
fn calendar_part(mail: &str) -> String {
    use base64::Engine;

    let (_, part) = mail
        .split_once("Content-Type: text/calendar; method=REQUEST")
        .unwrap_or_else(|| panic!("no calendar part in\n{mail}"));
    let (headers, body) = part
        .split_once("\n\n")
        .expect("part headers, blank line, body");
    assert!(
        headers.contains("Content-Transfer-Encoding: base64"),
        "{headers}"
    );
    let encoded: String = body.lines().take_while(|l| !l.starts_with("--")).collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64"),
    )
    .expect("utf-8")
}

/// `[incidents] conference_url` is checked as the link it becomes: an http(s) URL, with
/// the line of the mistake.
#[test]
fn the_huddle_link_must_be_a_web_url() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml"))
            .unwrap();
    // The example has a huddle link of its own: each case replaces it.
    let without: String = example
        .lines()
        .filter(|line| !line.starts_with("conference_url"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(without, example, "the example sets conference_url");
    let with = |url: &str| {
        without.replacen(
            "[incidents]\n",
            &format!("[incidents]\nconference_url = \"{url}\"\n"),
            1,
        )
    };
    let config = tocsin::config::Config::parse(
        "tocsin.toml",
        &with("https://meet.jit.si/tocsin-inc-{number}"),
    )
    .expect("a web URL is fine");
    assert_eq!(
        config.incidents.conference_url.as_deref(),
        Some("https://meet.jit.si/tocsin-inc-{number}")
    );
    for bad in [
        "meet.jit.si/inc-{number}",
        "ftp://meet.example.com/{number}",
        "https://",
    ] {
        let problems = tocsin::config::Config::parse("tocsin.toml", &with(bad))
            .expect_err(bad)
            .0;
        assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
        assert_eq!(problems[0].key, "incidents.conference_url", "{bad}");
        assert!(
            problems[0]
                .message
                .contains("must be an http:// or https:// URL"),
            "{bad}: {}",
            problems[0].message
        );
        assert!(problems[0].line.is_some(), "{bad}");
    }
}
