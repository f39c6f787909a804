//! `/incident statuspage …`: the public status page from chat.
//!
//! - `statuspage` alone: the components and their states.
//! - `statuspage [INC-n] <component> <state> [text]`: sets a component's state. Inside an
//!   incident (its channel, or INC-n) it is a public update of the incident's public
//!   incident, opened on first use; elsewhere it only moves the component.
//! - `statuspage subscribe [component…]` / `unsubscribe`: this channel hears of every public
//!   update (or only those touching the components named).
//!
//! The "Update status page" button of incident and alert cards opens the same as a form.

use std::collections::BTreeMap;

use bot_core::chat::{Dialog, DialogField, DialogFieldKind};
use bot_core::model::{AlertId, ComponentStatus, Impact, Incident, PublicStatus, Role};
use bot_core::ops::{MAX_TEXT, MAX_TITLE};
use bot_core::statuspage::OpenPublic;

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

/// The form of an incident card's button: `statuspage:<incident id>`.
pub(crate) const DIALOG: &str = "statuspage";
/// The form of an alert card's button: `statuspage_alert:<alert id>`.
pub(crate) const ALERT_DIALOG: &str = "statuspage_alert";

#[derive(Debug, PartialEq)]
pub(crate) enum StatusPage {
    Show,
    Set {
        incident: Option<i64>,
        component: String,
        state: String,
        text: Option<String>,
    },
    Subscribe(Vec<String>),
    Unsubscribe,
}

impl StatusPage {
    pub const USAGE: &'static str =
        "/incident statuspage [INC-n] <component> <state> [public text]";
    pub const SUMMARY: &'static str =
        "set a status page component's state (in an incident: a public update)";
    pub const SUBSCRIBE_USAGE: &'static str =
        "/incident statuspage subscribe|unsubscribe [component…]";
    pub const SUBSCRIBE_SUMMARY: &'static str =
        "tell this channel of every public status page update";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let args = args.trim();
        if args.is_empty() {
            return Ok(StatusPage::Show);
        }
        let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        match first.to_ascii_lowercase().as_str() {
            "subscribe" => {
                return Ok(StatusPage::Subscribe(
                    rest.split([',', ' '])
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_ascii_lowercase)
                        .collect(),
                ));
            }
            "unsubscribe" if rest.trim().is_empty() => return Ok(StatusPage::Unsubscribe),
            _ => {}
        }
        let (incident, rest) = incident_ref(args);
        let mut words = rest.splitn(3, char::is_whitespace);
        let (Some(component), Some(state)) = (words.next(), words.next()) else {
            return Err(Failure::Usage(Self::USAGE.into()));
        };
        let text = words
            .next()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Ok(StatusPage::Set {
            incident,
            component: component.to_ascii_lowercase(),
            state: state.to_ascii_lowercase(),
            text,
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        match self {
            StatusPage::Show => show(ctx).await,
            StatusPage::Set {
                incident,
                component,
                state,
                text,
            } => {
                let state = checked(ctx, &component, &state)?;
                ctx.require(Role::Responder, "changing the status page")?;
                let incident = match incident {
                    Some(_) => Some(ctx.incident(incident, Self::USAGE).await?),
                    None => ctx.here.clone(),
                };
                match incident {
                    Some(incident) => {
                        let text = text.unwrap_or_else(|| default_text(ctx, &component, state));
                        public_update(ctx, &incident, &text, vec![(component, state)]).await
                    }
                    None if text.is_some() => Err(Failure::Usage(format!(
                        "{}\nPublic text goes to an incident's public update: run it in the incident's channel or name the incident (INC-n).",
                        Self::USAGE
                    ))),
                    None => {
                        let affected = ctx
                            .core
                            .set_component_states(&ctx.actor, vec![(component.clone(), state)])
                            .await?;
                        let name = component_name(ctx, &component);
                        Ok(Reply::card(
                            Audience::Channel,
                            bot_core::chat::Message::text(if affected.is_empty() {
                                format!("{name} is already {}.", state.label().to_lowercase())
                            } else {
                                format!(
                                    "Status page: {name} is now {} (by {}).",
                                    state.label().to_lowercase(),
                                    ctx.actor_label
                                )
                            }),
                        ))
                    }
                }
            }
            StatusPage::Subscribe(components) => {
                ctx.require(Role::Responder, "subscribing a channel to the status page")?;
                let (_, created) = ctx
                    .core
                    .subscribe_chat(
                        &ctx.invocation.platform,
                        &ctx.invocation.channel,
                        components.clone(),
                    )
                    .await?;
                let which = if components.is_empty() {
                    "every public status page update".to_owned()
                } else {
                    format!("public updates touching {}", components.join(", "))
                };
                Ok(Reply::card(
                    Audience::Channel,
                    bot_core::chat::Message::text(if created {
                        format!("This channel now hears of {which}.")
                    } else {
                        "This channel is already subscribed to the status page.".to_owned()
                    }),
                ))
            }
            StatusPage::Unsubscribe => {
                ctx.require(
                    Role::Responder,
                    "unsubscribing a channel from the status page",
                )?;
                let removed = ctx
                    .core
                    .unsubscribe_chat(&ctx.invocation.platform, &ctx.invocation.channel)
                    .await?;
                Ok(Reply::ephemeral(if removed {
                    "This channel no longer hears of status page updates."
                } else {
                    "This channel was not subscribed to the status page."
                }))
            }
        }
    }
}

/// The component's state from chat, or a usage reply listing the valid ones.
fn checked(ctx: &Ctx<'_>, component: &str, state: &str) -> Result<ComponentStatus, Failure> {
    let components = &ctx.core.settings.status_page.components;
    if components.is_empty() {
        return Err(Failure::Refused(
            "the status page has no components; add [[statuspage.components]] to tocsin.toml"
                .into(),
        ));
    }
    if !components.iter().any(|c| c.id == component) {
        let valid: Vec<&str> = components.iter().map(|c| c.id.as_str()).collect();
        return Err(Failure::Usage(format!(
            "{}\nUnknown component `{component}`; components: {}.",
            StatusPage::USAGE,
            valid.join(", ")
        )));
    }
    parse_state(state).ok_or_else(|| {
        Failure::Usage(format!(
            "{}\nUnknown state `{state}`; states: {}.",
            StatusPage::USAGE,
            STATES
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The states chat accepts: Statuspage's names and their short forms.
const STATES: &[(&str, ComponentStatus)] = &[
    ("operational", ComponentStatus::Operational),
    ("degraded_performance", ComponentStatus::DegradedPerformance),
    ("partial_outage", ComponentStatus::PartialOutage),
    ("major_outage", ComponentStatus::MajorOutage),
    ("under_maintenance", ComponentStatus::UnderMaintenance),
];

fn parse_state(state: &str) -> Option<ComponentStatus> {
    let state = state.trim().to_ascii_lowercase().replace('-', "_");
    let short = match state.as_str() {
        "ok" | "up" => "operational",
        "degraded" => "degraded_performance",
        "partial" => "partial_outage",
        "major" | "down" | "outage" => "major_outage",
        "maintenance" => "under_maintenance",
        other => other,
    };
    STATES.iter().find(|(n, _)| *n == short).map(|(_, s)| *s)
}

fn component_name(ctx: &Ctx<'_>, id: &str) -> String {
    ctx.core
        .settings
        .status_page
        .component(id)
        .map_or_else(|| id.to_owned(), |c| c.name.clone())
}

fn default_text(ctx: &Ctx<'_>, component: &str, state: ComponentStatus) -> String {
    let name = component_name(ctx, component);
    match state {
        ComponentStatus::Operational => format!("{name} is operating normally again."),
        other => format!(
            "We are investigating {} affecting {name}.",
            other.label().to_lowercase()
        ),
    }
}

/// A public update of `incident`'s public incident (opened on first use).
pub(crate) async fn public_update(
    ctx: &Ctx<'_>,
    incident: &Incident,
    text: &str,
    changes: Vec<(String, ComponentStatus)>,
) -> Outcome {
    ctx.require(Role::Responder, "posting to the status page")?;
    let public = ctx
        .core
        .post_public_update(&ctx.actor, incident.id, text, changes)
        .await?;
    let mut line = format!(
        "Status page updated for {}: \"{}\" is {}.",
        incident.reference(),
        public.name,
        public.status.label().to_lowercase()
    );
    if let Some(url) = &ctx.core.settings.status_page.url {
        line.push_str(&format!(" {url}/incidents/{}", public.id));
    }
    Ok(Reply::card(
        Audience::Channel,
        bot_core::chat::Message::text(line),
    ))
}

async fn show(ctx: &Ctx<'_>) -> Outcome {
    let components = ctx.core.status_components().await?;
    if components.is_empty() {
        return Ok(Reply::ephemeral(
            "The status page has no components; add [[statuspage.components]] to tocsin.toml.",
        ));
    }
    let fields = components
        .iter()
        .map(|c| bot_core::chat::Field {
            label: format!("{} ({})", c.name, c.id),
            value: c.status.label().into(),
        })
        .collect();
    let mut text = vec![format!("Usage: {}", StatusPage::USAGE)];
    if let Some(url) = &ctx.core.settings.status_page.url {
        text.insert(0, format!("Public page: {url}"));
    }
    Ok(Reply::card(
        Audience::Ephemeral,
        bot_core::chat::Message {
            title: Some("Status page".into()),
            fields,
            text,
            ..Default::default()
        },
    ))
}

fn select(
    name: &str,
    label: &str,
    options: Vec<(String, String)>,
    initial: Option<String>,
) -> DialogField {
    DialogField {
        name: name.into(),
        label: label.into(),
        kind: DialogFieldKind::Select { options },
        required: true,
        initial,
        placeholder: None,
    }
}

fn paragraph(name: &str, label: &str, initial: Option<String>) -> DialogField {
    DialogField {
        name: name.into(),
        label: label.into(),
        kind: DialogFieldKind::Paragraph {
            max_length: MAX_TEXT,
        },
        required: true,
        initial,
        placeholder: Some("What customers should read".into()),
    }
}

fn component_fields(ctx: &Ctx<'_>, initial: Option<String>) -> Vec<DialogField> {
    let components = ctx
        .core
        .settings
        .status_page
        .components
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    let states = STATES
        .iter()
        .map(|(name, s)| ((*name).to_owned(), s.label().to_owned()))
        .collect();
    vec![
        select("component", "Component", components, initial),
        select(
            "state",
            "State",
            states,
            Some("degraded_performance".into()),
        ),
    ]
}

/// The incident card's "Update status page" button: the form for a public update.
pub(crate) async fn incident_form(ctx: &Ctx<'_>, incident_id: &str) -> Outcome {
    let incident = ctx.incident_by_id(incident_id).await?;
    ctx.require(Role::Responder, "posting to the status page")?;
    if ctx.core.settings.status_page.components.is_empty() {
        return Err(Failure::Refused(
            "the status page has no components; add [[statuspage.components]] to tocsin.toml"
                .into(),
        ));
    }
    let first = ctx
        .core
        .settings
        .status_page
        .components_of(&incident.services)
        .into_iter()
        .next();
    let mut fields = component_fields(ctx, first);
    fields.push(paragraph("text", "Public message", None));
    Ok(Reply::dialog(Dialog {
        id: format!("{DIALOG}:{}", incident.id),
        title: format!("Status page: {}", incident.reference()),
        submit_label: "Publish".into(),
        fields,
    }))
}

/// The alert card's "Update status page" button: the form for a public incident of its
/// own (an alert has no public incident until someone writes one).
pub(crate) async fn alert_form(ctx: &Ctx<'_>, alert_id: &str) -> Outcome {
    let id: AlertId = alert_id
        .parse()
        .map_err(|_| Failure::Refused(format!("`{alert_id}` is not an alert id")))?;
    let alert = ctx.core.store.get_alert(id).await?;
    ctx.require(Role::Responder, "posting to the status page")?;
    if ctx.core.settings.status_page.components.is_empty() {
        return Err(Failure::Refused(
            "the status page has no components; add [[statuspage.components]] to tocsin.toml"
                .into(),
        ));
    }
    let first = ctx
        .core
        .settings
        .status_page
        .components_of(std::slice::from_ref(&alert.service))
        .into_iter()
        .next();
    let mut fields = vec![DialogField {
        name: "title".into(),
        label: "Public title".into(),
        kind: DialogFieldKind::Text {
            max_length: MAX_TITLE,
        },
        required: true,
        initial: None,
        placeholder: Some("Checkout is slow for some customers".into()),
    }];
    fields.extend(component_fields(ctx, first));
    fields.push(paragraph("text", "Public message", None));
    Ok(Reply::dialog(Dialog {
        id: format!("{ALERT_DIALOG}:{}", alert.id),
        title: "Status page".into(),
        submit_label: "Publish".into(),
        fields,
    }))
}

/// A submitted status page form.
pub(crate) async fn submitted(
    ctx: &Ctx<'_>,
    dialog: &str,
    fields: &BTreeMap<String, String>,
) -> Outcome {
    let get = |name: &str| fields.get(name).map(|v| v.trim()).unwrap_or_default();
    let mut errors = BTreeMap::new();
    let component = get("component").to_ascii_lowercase();
    if ctx
        .core
        .settings
        .status_page
        .component(&component)
        .is_none()
    {
        errors.insert("component".into(), "Choose a component.".into());
    }
    let state = parse_state(get("state"));
    if state.is_none() {
        errors.insert("state".into(), "Choose a state.".into());
    }
    let text = get("text");
    if text.is_empty() {
        errors.insert("text".into(), "Write what customers should read.".into());
    } else if text.chars().count() > MAX_TEXT {
        errors.insert(
            "text".into(),
            format!("Keep it under {MAX_TEXT} characters."),
        );
    }
    let (kind, id) = dialog.split_once(':').unwrap_or((dialog, ""));
    let title = get("title");
    if kind == ALERT_DIALOG && title.is_empty() {
        errors.insert("title".into(), "Give the public incident a title.".into());
    }
    if !errors.is_empty() {
        return Err(Failure::Fields(errors));
    }
    let state = state.expect("checked above");
    if kind == DIALOG {
        let incident = ctx.incident_by_id(id).await?;
        return public_update(ctx, &incident, text, vec![(component, state)]).await;
    }
    ctx.require(Role::Responder, "posting to the status page")?;
    let alert: AlertId = id
        .parse()
        .map_err(|_| Failure::Refused(format!("`{id}` is not an alert id")))?;
    ctx.core.store.get_alert(alert).await?;
    let impact = match state {
        ComponentStatus::MajorOutage => Impact::Critical,
        ComponentStatus::PartialOutage => Impact::Major,
        ComponentStatus::DegradedPerformance => Impact::Minor,
        _ => Impact::None,
    };
    let public = ctx
        .core
        .open_public_incident(
            &ctx.actor,
            OpenPublic {
                incident_id: None,
                name: title.to_owned(),
                impact,
                status: PublicStatus::Investigating,
                body: text.to_owned(),
                components: vec![component],
                component_status: Some(state),
            },
        )
        .await?;
    Ok(Reply::card(
        Audience::Channel,
        bot_core::chat::Message::text(format!(
            "Status page: \"{}\" published ({}).",
            public.name, public.impact
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_components_states_incidents_and_subscriptions() {
        assert_eq!(StatusPage::parse("").unwrap(), StatusPage::Show);
        assert_eq!(
            StatusPage::parse("INC-3 Checkout degraded Slow payments for some").unwrap(),
            StatusPage::Set {
                incident: Some(3),
                component: "checkout".into(),
                state: "degraded".into(),
                text: Some("Slow payments for some".into()),
            }
        );
        assert_eq!(
            StatusPage::parse("api major_outage").unwrap(),
            StatusPage::Set {
                incident: None,
                component: "api".into(),
                state: "major_outage".into(),
                text: None,
            }
        );
        assert!(matches!(StatusPage::parse("api"), Err(Failure::Usage(_))));
        assert_eq!(
            StatusPage::parse("subscribe checkout, api").unwrap(),
            StatusPage::Subscribe(vec!["checkout".into(), "api".into()])
        );
        assert_eq!(
            StatusPage::parse("unsubscribe").unwrap(),
            StatusPage::Unsubscribe
        );
    }

    #[test]
    fn states_take_statuspage_names_and_short_forms() {
        assert_eq!(
            parse_state("degraded"),
            Some(ComponentStatus::DegradedPerformance)
        );
        assert_eq!(
            parse_state("partial-outage"),
            Some(ComponentStatus::PartialOutage)
        );
        assert_eq!(parse_state("MAJOR"), Some(ComponentStatus::MajorOutage));
        assert_eq!(parse_state("ok"), Some(ComponentStatus::Operational));
        assert_eq!(
            parse_state("maintenance"),
            Some(ComponentStatus::UnderMaintenance)
        );
        assert_eq!(parse_state("sideways"), None);
    }
}
