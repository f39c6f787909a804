//! Postmortem review invitations against a real SMTP server on loopback (Python's aiosmtpd,
//! run as a child process that writes each mail it accepts to a maildir): the mail carries
//! a `text/calendar; method=REQUEST` part that parses as iCalendar with the attendees, the
//! organizer and the meeting's time; rejections sort into retry and refusal.

#[path = "aiosmtpd/mod.rs"]
mod aiosmtpd;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use adapters::notify::{InviteMailer, SmtpSettings, SmtpTls};
use base64::Engine;
use bot_core::ManualClock;
use bot_core::model::PostmortemMeeting;
use bot_core::notify::NotifyError;
use bot_core::postmortem::meeting::{Invitation, MeetingInviter};
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component};

/// Stores every accepted mail, but answers RCPT for `nobody@` permanently (550) and
/// `busy@` transiently (451), as real relays do.
const HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if address.startswith("busy@"):
            return "451 4.7.1 <%s>: Greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

/// A real SMTP server on loopback; its directory goes when dropped, the child by
/// `kill_on_drop`.
struct SmtpServer {
    _child: tokio::process::Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    async fn start(name: &str) -> SmtpServer {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("invite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        std::fs::write(dir.join("tocsin_invite_stub.py"), HANDLER).expect("write the handler");
        let (child, port) = aiosmtpd::start(&dir, "tocsin_invite_stub.Handler", Some(&dir)).await;
        SmtpServer {
            _child: child,
            port,
            dir,
        }
    }

    fn mailer(&self) -> InviteMailer {
        InviteMailer::new(SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "Tocsin <tocsin@example.com>".into(),
        })
        .expect("valid settings")
        .with_clock(Arc::new(ManualClock::at("2026-11-26T09:30:00Z")))
    }

    /// The raw mails in the maildir, line endings normalised.
    fn mails(&self) -> Vec<String> {
        let new = self.dir.join("maildir").join("new");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .expect("mail is text")
                    .replace("\r\n", "\n")
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn invitation(attendees: &[&str]) -> Invitation {
    Invitation {
        postmortem_id: "0193a1b2-0000-7000-8000-000000000042".parse().unwrap(),
        incident: "INC-42".into(),
        incident_title: "Checkout is failing".into(),
        meeting: PostmortemMeeting {
            starts_at: at("2026-12-01T15:00:00Z"),
            duration_minutes: 30,
            attendees: attendees.iter().map(|a| a.to_string()).collect(),
            sequence: 0,
            scheduled_by: "user:alice".into(),
        },
        postmortem_url: "https://tocsin.example.com/postmortems/abc?token=def".into(),
        huddle_url: Some("https://meet.jit.si/tocsin-inc-42".into()),
    }
}

/// One MIME part of a mail: its headers (unfolded, names lower-cased) and decoded body.
struct Part {
    headers: Vec<(String, String)>,
    body: String,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn split_headers(raw: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = raw.split_once("\n\n").expect("headers, blank line, body");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            let (_, value) = headers.last_mut().expect("continuation after a header");
            value.push(' ');
            value.push_str(line.trim());
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

/// The parts of a `multipart/*` mail, bodies decoded (7bit, quoted-printable or base64).
fn parts(mail: &str) -> (Vec<(String, String)>, Vec<Part>) {
    let (headers, body) = split_headers(mail);
    let content_type = &headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .expect("a content type")
        .1;
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("a multipart boundary")
        .trim_matches('"')
        .to_owned();
    let delimiter = format!("--{boundary}");
    let parts = body
        .split(&delimiter)
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .map(|p| {
            let (headers, body) = split_headers(p.trim_start_matches('\n'));
            let encoding = headers
                .iter()
                .find(|(n, _)| n == "content-transfer-encoding")
                .map_or("7bit".to_owned(), |(_, v)| v.to_ascii_lowercase());
            let body = match encoding.as_str() {
                "7bit" | "8bit" => body.to_owned(),
                "base64" => String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(body.split_whitespace().collect::<String>())
                        .expect("base64"),
                )
                .expect("utf-8"),
                "quoted-printable" => unquote(body),
                other => panic!("unexpected transfer encoding {other}"),
            };
            Part { headers, body }
        })
        .collect();
    (headers, parts)
}

/// Quoted-printable (RFC 2045 §6.7): soft line breaks and `=XX` escapes.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let mut bytes = Vec::new();
    let mut rest = joined.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'=' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).expect("ascii");
            bytes.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).expect("utf-8")
}

#[tokio::test]
async fn the_invitation_reaches_a_real_smtp_server_and_parses_as_an_icalendar_request() {
    let server = SmtpServer::start("deliver").await;
    let mailer = server.mailer();
    let attendees = ["bob@example.com", "carla@example.com"];
    let invitation = invitation(&attendees);
    for to in attendees {
        mailer
            .invite(&invitation, to)
            .await
            .unwrap_or_else(|e| panic!("invite {to}: {e}"));
    }

    let mails = server.mails();
    assert_eq!(mails.len(), 2, "one mail per attendee");
    for (mail, to) in mails.iter().zip(attendees) {
        let (headers, parts) = parts(mail);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        };
        assert_eq!(header("to"), to);
        assert_eq!(header("from"), "Tocsin <tocsin@example.com>");
        assert_eq!(
            header("subject"),
            "Postmortem review: INC-42 Checkout is failing"
        );
        assert!(
            header("content-type").starts_with("multipart/alternative"),
            "{headers:?}"
        );

        let text = parts
            .iter()
            .find(|p| {
                p.header("content-type")
                    .is_some_and(|t| t.starts_with("text/plain"))
            })
            .expect("a text part");
        assert!(
            text.body
                .contains("When: 2026-12-01 15:00 - 15:30 UTC (30 minutes)"),
            "{}",
            text.body
        );
        let calendar_part = parts
            .iter()
            .find(|p| {
                p.header("content-type")
                    .is_some_and(|t| t.starts_with("text/calendar"))
            })
            .expect("a calendar part");
        let content_type = calendar_part.header("content-type").unwrap();
        assert!(content_type.contains("method=REQUEST"), "{content_type}");

        let calendar: Calendar = calendar_part.body.parse().expect("parses as iCalendar");
        assert_eq!(calendar.property_value("METHOD"), Some("REQUEST"));
        let events: Vec<_> = calendar.events().collect();
        assert_eq!(events.len(), 1);
        let event = events[0];
        assert_eq!(
            event.get_uid(),
            Some("postmortem-0193a1b2-0000-7000-8000-000000000042@example.com")
        );
        assert_eq!(event.get_sequence(), Some(0));
        assert_eq!(event.property_value("DTSTART"), Some("20261201T150000Z"));
        assert_eq!(event.property_value("DTEND"), Some("20261201T153000Z"));
        assert_eq!(event.property_value("DTSTAMP"), Some("20261126T093000Z"));
        assert_eq!(
            event.get_summary(),
            Some("Postmortem review: INC-42 Checkout is failing")
        );
        assert_eq!(
            event.property_value("ORGANIZER"),
            Some("mailto:tocsin@example.com")
        );
        let invited: Vec<(String, Option<icalendar::Role>, Option<bool>)> = event
            .get_attendees()
            .into_iter()
            .map(|a| (a.cal_address, a.role, a.rsvp))
            .collect();
        assert_eq!(
            invited,
            attendees
                .iter()
                .map(|a| (
                    format!("mailto:{a}"),
                    Some(icalendar::Role::ReqParticipant),
                    Some(true)
                ))
                .collect::<Vec<_>>()
        );
        let description = event.get_description().expect("a description");
        assert!(
            description.contains("https://tocsin.example.com/postmortems/abc?token=def"),
            "{description}"
        );
        assert!(
            description.contains("Join huddle: https://meet.jit.si/tocsin-inc-42"),
            "{description}"
        );
    }
}

#[tokio::test]
async fn a_moved_meeting_keeps_its_uid_with_the_next_sequence() {
    let server = SmtpServer::start("moved").await;
    let mut invitation = invitation(&["bob@example.com"]);
    invitation.meeting.sequence = 1;
    invitation.meeting.starts_at = at("2026-12-02T09:00:00Z");
    server
        .mailer()
        .invite(&invitation, "bob@example.com")
        .await
        .unwrap();
    let mails = server.mails();
    let (headers, parts) = parts(&mails[0]);
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "subject" && v.starts_with("Moved: Postmortem review")),
        "{headers:?}"
    );
    let ics = &parts
        .iter()
        .find(|p| {
            p.header("content-type")
                .is_some_and(|t| t.starts_with("text/calendar"))
        })
        .unwrap()
        .body;
    let calendar: Calendar = ics.parse().unwrap();
    let event = calendar.events().next().unwrap();
    assert_eq!(
        event.get_uid(),
        Some("postmortem-0193a1b2-0000-7000-8000-000000000042@example.com")
    );
    assert_eq!(event.get_sequence(), Some(1));
    assert_eq!(event.property_value("DTSTART"), Some("20261202T090000Z"));
}

#[tokio::test]
async fn rejections_are_refused_when_permanent_and_unavailable_when_transient() {
    let server = SmtpServer::start("reject").await;
    let mailer = server.mailer();
    let invitation = invitation(&["nobody@example.com", "busy@example.com"]);
    match mailer.invite(&invitation, "nobody@example.com").await {
        Err(NotifyError::Refused(why)) => assert!(why.contains("550"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    match mailer.invite(&invitation, "busy@example.com").await {
        Err(NotifyError::Unavailable(why)) => assert!(why.contains("451"), "{why}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    match mailer.invite(&invitation, "not an address").await {
        Err(NotifyError::Refused(why)) => assert!(why.contains("not an e-mail address"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(server.mails().is_empty());
}
