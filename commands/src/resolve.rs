//! `/incident resolve [INC-n] [--public <final public message> | note]`: close the
//! incident; the note becomes its last update. An incident with an open public incident
//! needs the final public message (post-incident communication): without `--public` a form
//! asks for it. The public incident is resolved with it and its components return to
//! operational.

use std::collections::BTreeMap;

use bot_core::chat::{Dialog, DialogField, DialogFieldKind};
use bot_core::model::{Incident, IncidentChange, IncidentStatus, Role, Visibility};
use bot_core::ops::MAX_TEXT;

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

/// The form asking for the final public message: `resolve_public:<incident id>`.
pub(crate) const DIALOG: &str = "resolve_public";

const FINAL_MESSAGE: &str = "This incident has been resolved. Thank you for your patience.";

#[derive(Debug, PartialEq)]
pub(crate) struct Resolve {
    incident: Option<i64>,
    by_id: Option<String>,
    note: Option<String>,
    public: Option<String>,
}

impl Resolve {
    pub const USAGE: &'static str =
        "/incident resolve [INC-n] [--public <final public message> | note]";
    pub const SUMMARY: &'static str = "resolve the incident, with an optional closing note (--public: the status page's final message)";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (incident, rest) = incident_ref(args);
        let (public, note) = match rest.strip_prefix("--public") {
            Some(text) if text.trim().is_empty() => {
                return Err(Failure::Usage(format!(
                    "{}\nSay what customers should read last.",
                    Self::USAGE
                )));
            }
            Some(text) => (Some(text.trim().to_owned()), None),
            None => (None, (!rest.is_empty()).then(|| rest.to_owned())),
        };
        Ok(Resolve {
            incident,
            by_id: None,
            note,
            public,
        })
    }

    pub fn for_incident(id: &str) -> Self {
        Resolve {
            incident: None,
            by_id: Some(id.to_owned()),
            note: None,
            public: None,
        }
    }

    /// The submitted final-message form.
    pub fn from_dialog(id: &str, fields: &BTreeMap<String, String>) -> Result<Self, Failure> {
        let get = |name: &str| fields.get(name).map(|v| v.trim()).unwrap_or_default();
        let public = get("public");
        if public.is_empty() {
            return Err(Failure::Fields(BTreeMap::from([(
                "public".to_owned(),
                "Write the final message customers read.".to_owned(),
            )])));
        }
        if public.chars().count() > MAX_TEXT {
            return Err(Failure::Fields(BTreeMap::from([(
                "public".to_owned(),
                format!("Keep it under {MAX_TEXT} characters."),
            )])));
        }
        let note = get("note");
        Ok(Resolve {
            incident: None,
            by_id: Some(id.to_owned()),
            note: (!note.is_empty()).then(|| note.to_owned()),
            public: Some(public.to_owned()),
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = match &self.by_id {
            Some(id) => ctx.incident_by_id(id).await?,
            None => ctx.incident(self.incident, Self::USAGE).await?,
        };
        ctx.require(Role::Responder, "resolving an incident")?;
        let public = ctx.core.store.public_incident_for(incident.id).await?;
        let public_open = public.as_ref().is_some_and(|p| !p.status.is_closed());
        if public_open && self.public.is_none() && incident.is_open() {
            return Ok(final_message_form(&incident));
        }
        let incident = ctx
            .core
            .change(
                &ctx.actor,
                incident.id,
                vec![IncidentChange::Status(IncidentStatus::Resolved)],
            )
            .await?;
        if let Some(note) = &self.note {
            ctx.core
                .post_update(&ctx.actor, incident.id, note, Visibility::Internal)
                .await?;
        }
        let mut line = String::new();
        if let Some(text) = &self.public {
            if ctx
                .core
                .resolve_public(&ctx.actor, incident.id, text)
                .await?
                .is_some()
            {
                ctx.core
                    .post_update(&ctx.actor, incident.id, text, Visibility::Public)
                    .await?;
                line = " The status page says it is resolved.".into();
            } else {
                line = " It had no open public incident; the public message was not posted.".into();
            }
        }
        let duration = incident
            .resolved_at
            .map(|r| r - incident.declared_at)
            .unwrap_or_default();
        Ok(Reply::card(
            Audience::Channel,
            bot_core::chat::Message::text(format!(
                "{} resolved after {}h {:02}m.{line}",
                incident.reference(),
                duration.num_hours(),
                duration.num_minutes() % 60
            )),
        ))
    }
}

/// The form that asks for the final public message before resolving.
fn final_message_form(incident: &Incident) -> Reply {
    let paragraph = |name: &str, label: &str, required: bool, initial: Option<&str>| DialogField {
        name: name.into(),
        label: label.into(),
        kind: DialogFieldKind::Paragraph {
            max_length: MAX_TEXT,
        },
        required,
        initial: initial.map(str::to_owned),
        placeholder: None,
    };
    let mut reply = Reply::dialog(Dialog {
        id: format!("{DIALOG}:{}", incident.id),
        title: format!("Resolve {}", incident.reference()),
        submit_label: "Resolve".into(),
        fields: vec![
            paragraph("public", "Final public message", true, Some(FINAL_MESSAGE)),
            paragraph("note", "Internal closing note", false, None),
        ],
    });
    reply.message = bot_core::chat::Message::text(format!(
        "{} has a public incident on the status page: give its final public message (or run /incident resolve --public <message>).",
        incident.reference()
    ));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_public_message_and_incident_are_optional() {
        let r = Resolve::parse("INC-3 Rolled back").unwrap();
        assert_eq!(
            (r.incident, r.note.as_deref(), r.public),
            (Some(3), Some("Rolled back"), None)
        );
        let r = Resolve::parse("").unwrap();
        assert_eq!((r.incident, r.note, r.public), (None, None, None));
        let r = Resolve::parse("INC-3 --public All payments work again.").unwrap();
        assert_eq!(
            (r.incident, r.note, r.public.as_deref()),
            (Some(3), None, Some("All payments work again."))
        );
        assert!(matches!(Resolve::parse("--public"), Err(Failure::Usage(_))));
    }
}
