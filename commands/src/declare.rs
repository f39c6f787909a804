//! `/incident declare [sev1-4] [--service <id>]… [--commander @user] <title>`: open an
//! incident, its channel and its card. Without a title the platform opens a dialog (title,
//! severity, affected services, commander, description) and its submission comes back here.

use std::collections::BTreeMap;

use bot_core::chat::{Dialog, DialogField, DialogFieldKind};
use bot_core::model::{Role, ServiceId, Severity};
use bot_core::ops::{Declare as DeclareRequest, MAX_TITLE};

use crate::{Ctx, Failure, Outcome, Reply};

/// The declare dialog's id, as submissions carry it.
pub(crate) const DIALOG: &str = "declare";

#[derive(Debug, PartialEq)]
pub(crate) struct Declare {
    pub severity: Severity,
    pub title: String,
    pub services: Vec<String>,
    /// A mention; None: the person declaring.
    pub commander: Option<String>,
    pub description: Option<String>,
}

impl Declare {
    pub const USAGE: &'static str =
        "/incident declare [sev1|sev2|sev3|sev4] [--service <id>]… [--commander @user] <title>";
    pub const SUMMARY: &'static str = "declare an incident (default sev3; sev1 and sev2 page the \
         services' on-call); without a title, opens a form";
    const DEFAULT_SEVERITY: Severity = Severity::Sev3;

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let usage = |why: &str| Failure::Usage(format!("{}\n{why}", Self::USAGE));
        let mut words = args.split_whitespace().peekable();
        let mut declare = Declare {
            severity: Self::DEFAULT_SEVERITY,
            title: String::new(),
            services: Vec::new(),
            commander: None,
            description: None,
        };
        let mut title = Vec::new();
        while let Some(word) = words.next() {
            // Options come before the title; after the first title word, all is title.
            if !title.is_empty() {
                title.push(word);
                continue;
            }
            match word {
                "--service" | "-s" => {
                    let id = words
                        .next()
                        .ok_or_else(|| usage("--service needs a service id."))?;
                    declare.services.push(id.to_owned());
                }
                "--commander" => {
                    let who = words
                        .next()
                        .ok_or_else(|| usage("--commander needs a person."))?;
                    declare.commander = Some(who.to_owned());
                }
                flag if flag.starts_with("--") => {
                    return Err(usage(&format!("Unknown option `{flag}`.")));
                }
                // `get`, not `[..3]`: the word's third byte may fall inside a character.
                sev if sev.len() == 4
                    && sev.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("sev")) =>
                {
                    declare.severity = sev.parse().map_err(|_| {
                        usage(&format!(
                            "`{sev}` is not a severity: use sev1 (worst) to sev4."
                        ))
                    })?;
                }
                word => title.push(word),
            }
        }
        if title.is_empty() {
            return Err(usage("Give the incident a title."));
        }
        declare.title = title.join(" ");
        Ok(declare)
    }

    /// The declare dialog's submission; every problem is reported against its field.
    pub fn from_dialog(fields: &BTreeMap<String, String>) -> Result<Self, Failure> {
        let mut errors = BTreeMap::new();
        let get = |name: &str| fields.get(name).map(|v| v.trim()).unwrap_or_default();
        let title = get("title");
        if title.is_empty() {
            errors.insert("title".into(), "Give the incident a title.".into());
        } else if title.chars().count() > MAX_TITLE {
            errors.insert(
                "title".into(),
                format!("Keep the title under {MAX_TITLE} characters."),
            );
        }
        let severity = match get("severity") {
            "" => Self::DEFAULT_SEVERITY,
            s => s.parse().unwrap_or_else(|_| {
                errors.insert("severity".into(), "Choose sev1 to sev4.".into());
                Self::DEFAULT_SEVERITY
            }),
        };
        if !errors.is_empty() {
            return Err(Failure::Fields(errors));
        }
        let services = get("services")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Declare {
            severity,
            title: title.to_owned(),
            services,
            commander: Some(get("commander"))
                .filter(|c| !c.is_empty())
                .map(Into::into),
            description: Some(get("description"))
                .filter(|d| !d.is_empty())
                .map(Into::into),
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        ctx.require(Role::Responder, "declaring an incident")?;
        let commander = match &self.commander {
            Some(mention) => Some(crate::assign::mentioned_user(ctx, mention).await?),
            None => ctx.actor.user().cloned(),
        };
        let mut services = Vec::with_capacity(self.services.len());
        for id in &self.services {
            let id = ServiceId::from(id.as_str());
            match ctx.core.store.get_service(&id).await {
                Ok(_) => services.push(id),
                Err(bot_core::StoreError::NotFound(_)) => {
                    return Err(Failure::Refused(format!(
                        "there is no service `{id}`; /oncall lists them"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let idempotency_key = ctx
            .invocation
            .delivery
            .as_ref()
            .map(|d| format!("{}:{d}", ctx.invocation.platform));
        let incident = ctx
            .core
            .declare(
                &ctx.actor,
                DeclareRequest {
                    title: self.title,
                    severity: self.severity,
                    services,
                    commander: commander.clone(),
                    alerts: Vec::new(),
                    idempotency_key,
                    description: self.description,
                },
            )
            .await?;
        let lead = match (&commander, ctx.actor.user()) {
            (Some(c), Some(me)) if c == me => {
                "you are the commander until you hand over".to_owned()
            }
            (Some(c), _) => format!("{c} is the commander"),
            (None, _) => "it has no commander yet: /incident assign commander @someone".into(),
        };
        let paging = if bot_core::declare_paging::pages_on_declare(incident.severity)
            && !incident.services.is_empty()
        {
            " The on-call of the affected services are being paged."
        } else {
            ""
        };
        Ok(Reply::ephemeral(format!(
            "Declared {} ({}): {}. Its channel #{} is being opened; {lead}.{paging}",
            incident.reference(),
            incident.severity,
            incident.title,
            bot_core::effects::channel_name_with(ctx.core.settings.channel_name(), &incident)
        )))
    }
}

/// The declare form, with this installation's services to choose from.
pub(crate) async fn dialog(ctx: &Ctx<'_>) -> Result<Reply, Failure> {
    ctx.require(Role::Responder, "declaring an incident")?;
    let services = ctx.core.store.list_services().await?;
    let severities = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), s.as_str().to_uppercase()))
        .collect();
    let text = |name: &str, label: &str, required: bool, max_length: usize| DialogField {
        name: name.into(),
        label: label.into(),
        kind: DialogFieldKind::Text { max_length },
        required,
        initial: None,
        placeholder: None,
    };
    let mut fields = vec![
        DialogField {
            placeholder: Some("Checkout is failing for EU customers".into()),
            ..text("title", "Title", true, MAX_TITLE)
        },
        DialogField {
            name: "severity".into(),
            label: "Severity".into(),
            kind: DialogFieldKind::Select {
                options: severities,
            },
            required: true,
            initial: Some(Declare::DEFAULT_SEVERITY.as_str().into()),
            placeholder: None,
        },
    ];
    if !services.is_empty() {
        fields.push(DialogField {
            name: "services".into(),
            label: "Affected services".into(),
            kind: DialogFieldKind::MultiSelect {
                options: services
                    .iter()
                    .map(|s| (s.id.to_string(), s.name.clone()))
                    .collect(),
            },
            required: false,
            initial: None,
            placeholder: None,
        });
    }
    fields.push(DialogField {
        kind: DialogFieldKind::Paragraph { max_length: 3_000 },
        placeholder: Some("What is happening, who is affected, what is known".into()),
        ..text("description", "Description", false, 3_000)
    });
    Ok(Reply::dialog(Dialog {
        id: DIALOG.into(),
        title: "Declare an incident".into(),
        submit_label: "Declare".into(),
        fields,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(r: Result<Declare, Failure>) -> String {
        match r {
            Err(Failure::Usage(u)) => u,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    /// Found by the `chat_grammar` fuzz target: a four-byte word whose third byte is inside
    /// a character (`c蛓`) panicked on a byte slice instead of being a title word.
    #[test]
    fn a_four_byte_word_ending_in_a_multibyte_character_is_a_title_word() {
        let crash =
            b"\t\t\t\t\t\t\tdeclare c\xe8\x9b\x93\t\tk\t\t\t\t\tdeclare c\xe8\x9b\x93k&uusb\x165";
        let text = std::str::from_utf8(crash).expect("the fuzzer's input is UTF-8");
        let Ok(crate::Command::Declare(d)) = crate::parse_incident(text) else {
            panic!("expected a declare");
        };
        assert_eq!(d.severity, Severity::Sev3);
        assert!(d.title.starts_with("c\u{86d3} k"), "{}", d.title);
        let d = Declare::parse("c\u{86d3}").unwrap();
        assert_eq!(d.title, "c\u{86d3}");
    }

    #[test]
    fn severity_is_optional_and_defaults_to_sev3() {
        let d = Declare::parse("sev1 Checkout is failing").unwrap();
        assert_eq!(
            (d.severity, d.title.as_str()),
            (Severity::Sev1, "Checkout is failing")
        );
        let d = Declare::parse("Checkout slow").unwrap();
        assert_eq!(d.severity, Severity::Sev3);
        assert_eq!(d.title, "Checkout slow");
    }

    #[test]
    fn options_come_before_the_title() {
        let d = Declare::parse("sev2 --service checkout -s api --commander @bob Checkout down")
            .unwrap();
        assert_eq!(d.services, ["checkout", "api"]);
        assert_eq!(d.commander.as_deref(), Some("@bob"));
        assert_eq!(d.title, "Checkout down");
        // After the title starts, words that look like options are title.
        let d = Declare::parse("Deploy of --service flag broke").unwrap();
        assert_eq!(d.title, "Deploy of --service flag broke");
        assert!(d.services.is_empty());
    }

    #[test]
    fn a_bad_severity_option_or_missing_title_explains_the_grammar() {
        assert!(usage(Declare::parse("sev9 Checkout")).contains("`sev9` is not a severity"));
        assert!(usage(Declare::parse("sev2")).contains("Give the incident a title"));
        assert!(usage(Declare::parse("--service")).contains("--service needs"));
        assert!(usage(Declare::parse("--team x y")).contains("Unknown option `--team`"));
    }

    #[test]
    fn dialog_submissions_are_checked_field_by_field() {
        let fields = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let d = Declare::from_dialog(&fields(&[
            ("title", "Checkout down"),
            ("severity", "sev1"),
            ("services", "checkout, api"),
            ("description", "EU only"),
        ]))
        .unwrap();
        assert_eq!(d.services, ["checkout", "api"]);
        assert_eq!(d.description.as_deref(), Some("EU only"));
        match Declare::from_dialog(&fields(&[("title", " "), ("severity", "sev7")])) {
            Err(Failure::Fields(errors)) => {
                assert!(errors["title"].contains("title"));
                assert!(errors["severity"].contains("sev1 to sev4"));
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }
}
