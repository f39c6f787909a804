//! Postmortem review invitations by e-mail: the core's [`MeetingInviter`] port over the
//! `[smtp]` relay.
//!
//! Each attendee gets one mail, `multipart/alternative` with a plain-text part for people
//! and a `text/calendar; method=REQUEST` part for their calendar (iTIP, RFC 5546): one
//! VEVENT whose `UID` is the postmortem's, so a reschedule (a higher `SEQUENCE`) replaces
//! the event instead of adding a second one. Times are in UTC; calendars show them in
//! each reader's own zone. The organizer is the relay's sender; every attendee is listed,
//! as a required participant asked to reply. SMTP's reply classes decide the outcome, as
//! for pages: 4xx and connection trouble are retried, 5xx are not.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bot_core::clock::{Clock, SystemClock};
use bot_core::notify::NotifyError;
use bot_core::postmortem::meeting::{Invitation, MeetingInviter};
use chrono::{DateTime, Utc};
use icalendar::{
    Attendee, Calendar, Component, Event, EventLike, EventStatus, PartStat, Property, Role,
};
use lettre::AsyncTransport;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, Message, MultiPart, SinglePart};

use super::SmtpSettings;
use super::smtp::Relay;

/// The calendar part's content type: what makes mail clients offer accept/decline.
const CALENDAR_TYPE: &str = "text/calendar; method=REQUEST; charset=utf-8";

/// Mails review meeting invitations through the `[smtp]` relay.
pub struct InviteMailer {
    relay: Relay,
    clock: Arc<dyn Clock>,
}

impl InviteMailer {
    /// Checks the settings and prepares the pooled transport; connects on first use.
    pub fn new(settings: SmtpSettings) -> Result<Self, String> {
        Ok(Self {
            relay: Relay::new(settings)?,
            clock: Arc::new(SystemClock),
        })
    }

    /// Dates mails and `DTSTAMP` by `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl fmt::Debug for InviteMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the transport: it holds the credentials.
        f.debug_struct("InviteMailer")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

/// `Postmortem review: INC-42 Checkout is failing`, on one line whatever the title holds.
pub fn summary(invitation: &Invitation) -> String {
    let title: String = invitation
        .incident_title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "Postmortem review: {} {}",
        invitation.incident,
        title.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// What the event says and the text part repeats: the links people need in the meeting.
pub fn description(invitation: &Invitation) -> String {
    let mut text = format!(
        "Blameless review of {} ({}).\n\nPostmortem: {}\n",
        invitation.incident, invitation.incident_title, invitation.postmortem_url
    );
    if let Some(huddle) = &invitation.huddle_url {
        text.push_str(&format!("Join huddle: {huddle}\n"));
    }
    text
}

/// The invitation as an iCalendar object with `METHOD:REQUEST`, stamped at `stamp`.
/// `organizer` is the sender's address (`mailto:` is added).
pub fn calendar(invitation: &Invitation, organizer: &Mailbox, stamp: DateTime<Utc>) -> String {
    let meeting = &invitation.meeting;
    let mut event = Event::new();
    event
        .uid(&format!(
            "postmortem-{}@{}",
            invitation.postmortem_id,
            organizer.email.domain()
        ))
        .sequence(u32::try_from(meeting.sequence).unwrap_or(0))
        .timestamp(stamp)
        .starts(meeting.starts_at)
        .ends(invitation.ends_at())
        .summary(&summary(invitation))
        .description(&description(invitation))
        .status(EventStatus::Confirmed);
    if let Some(huddle) = &invitation.huddle_url {
        event.location(huddle);
    }
    let mut organizer_property = Property::new("ORGANIZER", format!("mailto:{}", organizer.email));
    if let Some(name) = &organizer.name {
        organizer_property.add_parameter("CN", name);
    }
    event.append_property(organizer_property);
    for address in &meeting.attendees {
        event.attendee(
            Attendee::new(format!("mailto:{address}"))
                .role(Role::ReqParticipant)
                .partstat(PartStat::NeedsAction)
                .rsvp(true),
        );
    }
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//Tocsin//Postmortem review//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "REQUEST"))
        .push(event.done());
    calendar.done().to_string()
}

/// The text part: when (UTC), the links, and how to answer.
fn text_body(invitation: &Invitation) -> String {
    let meeting = &invitation.meeting;
    format!(
        "{}\n\nWhen: {} - {} UTC ({} minutes)\nInvited: {}\n\n{}\nYour calendar shows this \
         in your own time zone; accept or decline there.\n",
        summary(invitation),
        meeting.starts_at.format("%Y-%m-%d %H:%M"),
        invitation.ends_at().format("%H:%M"),
        meeting.duration_minutes,
        meeting.attendees.join(", "),
        description(invitation)
    )
}

#[async_trait]
impl MeetingInviter for InviteMailer {
    async fn invite(&self, invitation: &Invitation, to: &str) -> Result<(), NotifyError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| NotifyError::Refused(format!("`{to}` is not an e-mail address: {e}")))?;
        let now = self.clock.now();
        let ics = calendar(invitation, &self.relay.from, now);
        let calendar_type = ContentType::parse(CALENDAR_TYPE)
            .map_err(|e| NotifyError::Refused(format!("calendar content type: {e}")))?;
        let mut subject = summary(invitation);
        if invitation.meeting.sequence > 0 {
            subject = format!("Moved: {subject}");
        }
        let message = Message::builder()
            .from(self.relay.from.clone())
            .to(to)
            .subject(subject)
            .date(SystemTime::from(now))
            .message_id(None)
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(text_body(invitation)))
                    .singlepart(
                        // Base64, as calendar clients send it: the event's folded lines
                        // arrive exactly as written, whatever the title's characters.
                        SinglePart::builder()
                            .header(calendar_type)
                            .header(ContentTransferEncoding::Base64)
                            .body(ics),
                    ),
            )
            .map_err(|e| NotifyError::Refused(format!("cannot build the mail: {e}")))?;
        self.relay.transport().send(message).await.map_err(|e| {
            if e.is_permanent() {
                NotifyError::Refused(format!("SMTP server refused the invitation: {e}"))
            } else {
                NotifyError::Unavailable(format!("SMTP: {e}"))
            }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::model::PostmortemMeeting;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn invitation(sequence: i32) -> Invitation {
        Invitation {
            postmortem_id: Default::default(),
            incident: "INC-7".into(),
            incident_title: "Checkout\r\nis failing".into(),
            meeting: PostmortemMeeting {
                starts_at: at("2026-11-30T14:00:00Z"),
                duration_minutes: 45,
                attendees: vec!["bob@example.com".into(), "carla@example.com".into()],
                sequence,
                scheduled_by: "user:alice".into(),
            },
            postmortem_url: "https://tocsin.example.com/postmortems/x?token=t".into(),
            huddle_url: Some("https://meet.jit.si/tocsin-inc-7".into()),
        }
    }

    #[test]
    fn the_event_is_a_request_with_a_stable_uid_and_utc_times() {
        let from: Mailbox = "Tocsin <tocsin@example.com>".parse().unwrap();
        let ics = calendar(&invitation(2), &from, at("2026-11-26T10:00:00Z"));
        let parsed: Calendar = ics.parse().expect("parses as iCalendar");
        assert_eq!(parsed.property_value("METHOD"), Some("REQUEST"));
        let event = parsed.events().next().expect("one event");
        assert_eq!(
            event.get_uid(),
            Some("postmortem-00000000-0000-0000-0000-000000000000@example.com")
        );
        assert_eq!(event.get_sequence(), Some(2));
        assert_eq!(event.property_value("DTSTART"), Some("20261130T140000Z"));
        assert_eq!(event.property_value("DTEND"), Some("20261130T144500Z"));
        assert_eq!(event.property_value("DTSTAMP"), Some("20261126T100000Z"));
        assert_eq!(
            event.get_summary(),
            Some("Postmortem review: INC-7 Checkout is failing")
        );
        assert!(
            ics.contains("ORGANIZER;CN=Tocsin:mailto:tocsin@example.com"),
            "{ics}"
        );
        let attendees: Vec<String> = event
            .get_attendees()
            .into_iter()
            .map(|a| a.cal_address)
            .collect();
        assert_eq!(
            attendees,
            ["mailto:bob@example.com", "mailto:carla@example.com"]
        );
        let description = event.get_description().unwrap();
        assert!(
            description.contains("/postmortems/x?token=t"),
            "{description}"
        );
        assert!(
            description.contains("meet.jit.si/tocsin-inc-7"),
            "{description}"
        );
    }
}
