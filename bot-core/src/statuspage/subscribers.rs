//! Subscribers of the public status page: e-mail addresses (double opt-in), webhook URLs and
//! chat channels. Subscribing, confirming and unsubscribing; and the delivery of one notice
//! per subscriber and public change, each its own durable job, so that a subscriber whose
//! mailbox or endpoint fails is retried alone and never holds the others up.
//!
//! Links in mails and webhook payloads carry a token: the HMAC-SHA256, keyed with an
//! installation secret (see [`SECRET_NAME`]), of the subscriber's id and what the link is
//! for. Nothing secret is stored per subscriber, a token is good for one subscriber and one
//! purpose only, and removing a subscriber retires its tokens (a new subscription gets a new
//! id).
//!
//! This module knows no transport: e-mail and webhooks are [`SubscriberChannel`]s supplied
//! by the adapters, chat goes through the [`ChatPlatform`] port.

use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use super::{NoticeEvent, NoticeJob, StatusPageSettings, invalid, kinds};
use crate::chat::{ChatPlatform, Field, Message, Tone};
use crate::jobs::{Handlers, JobError, JobHandler};
use crate::model::{
    AffectedComponent, Impact, Job, NewJob, NewSubscriber, PublicIncident, PublicUpdate,
    Subscriber, SubscriberKind,
};
use crate::notify::NotifyError;
use crate::ops::{Core, CoreError, CoreResult, NOTIFY_QUEUE};
use crate::store::{StoreError, no_jobs};

/// The name of the installation secret that keys subscriber tokens.
pub const SECRET_NAME: &str = "statuspage-subscribers";

/// Longest e-mail address accepted (RFC 5321's limit on a forward path).
const MAX_ADDRESS: usize = 254;
/// Longest webhook URL accepted.
const MAX_URL: usize = 2_000;

/// What a subscriber token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Confirm an e-mail subscription (the link in the confirmation mail).
    Confirm,
    /// Remove the subscription (the link in every notice).
    Unsubscribe,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Confirm => "confirm",
            TokenPurpose::Unsubscribe => "unsubscribe",
        }
    }
}

fn token_mac(key: &str, id: Uuid, purpose: TokenPurpose) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("statuspage-subscriber:{}:{id}", purpose.as_str()).as_bytes());
    mac
}

/// The token of subscriber `id` for `purpose`, as lower-case hex.
pub fn token_with(key: &str, id: Uuid, purpose: TokenPurpose) -> String {
    hex::encode(token_mac(key, id, purpose).finalize().into_bytes())
}

/// Whether `token` is [`token_with`]'s, compared in constant time.
pub fn verify_token_with(key: &str, id: Uuid, purpose: TokenPurpose, token: &str) -> bool {
    hex::decode(token.trim())
        .is_ok_and(|bytes| token_mac(key, id, purpose).verify_slice(&bytes).is_ok())
}

/// An unknown subscriber and a wrong token get the same answer, so that a guess tells
/// nothing about which subscribers exist.
fn no_such_subscription() -> CoreError {
    CoreError::Store(StoreError::NotFound("subscription".into()))
}

/// An e-mail address as subscribers are kept: trimmed and lower-cased (mail providers
/// treat local parts case-insensitively in practice, and two spellings of one mailbox must
/// not make two subscriptions). Only plain ASCII `local@domain` addresses are accepted:
/// no display names, comments, quoted local parts, IP literals or internationalized
/// addresses.
pub fn normalize_email(address: &str) -> CoreResult<String> {
    let address = address.trim().to_ascii_lowercase();
    let bad = |why: &str| {
        invalid(
            "email",
            format!("`{}` is not an e-mail address: {why}", shorten(&address)),
        )
    };
    if address.is_empty() {
        return Err(invalid("email", "an e-mail address is required"));
    }
    if address.len() > MAX_ADDRESS {
        return Err(bad("it is longer than 254 characters"));
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(bad("it has no @"));
    };
    const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-.";
    if local.is_empty()
        || local.len() > 64
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || !local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
    {
        return Err(bad("the part before the @ is not valid"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.starts_with("xn--") || t.chars().all(|c| c.is_ascii_alphabetic()));
    if labels.len() < 2 || !labels.iter().all(label_ok) || !tld_ok {
        return Err(bad("the domain after the @ is not valid"));
    }
    Ok(address)
}

/// A webhook URL: `http` or `https`, with a host, no spaces or control characters. Whether
/// anything answers there is the delivery's business.
pub fn checked_webhook_url(url: &str) -> CoreResult<String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("url", "a webhook URL starts with https:// or http://"))?;
    if url.len() > MAX_URL {
        return Err(invalid(
            "url",
            format!("a webhook URL is at most {MAX_URL} characters"),
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "url",
            "a webhook URL has no spaces or control characters",
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(invalid("url", "the webhook URL has no host"));
    }
    Ok(url.to_owned())
}

/// Input quoted back in a message: one line, at most 60 characters.
fn shorten(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.chars().count() > 60 {
        let mut short: String = line.chars().take(60).collect();
        short.push('…');
        short
    } else {
        line
    }
}

/// `components` without repeats, each one configured.
fn checked_components(core: &Core, components: Vec<String>) -> CoreResult<Vec<String>> {
    let mut unique: Vec<String> = Vec::with_capacity(components.len());
    for c in components {
        let c = c.trim().to_owned();
        if !c.is_empty() && !unique.contains(&c) {
            unique.push(c);
        }
    }
    core.known_components(&unique)?;
    Ok(unique)
}

/// The payload of [`kinds::CONFIRM`] jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ConfirmJob {
    subscriber_id: Uuid,
}

fn confirm_job(subscriber: Uuid, now: DateTime<Utc>) -> NewJob {
    NewJob::new(
        NOTIFY_QUEUE,
        kinds::CONFIRM,
        json!(ConfirmJob {
            subscriber_id: subscriber
        }),
        now,
    )
}

impl Core {
    /// Subscribes an e-mail address from the public page: unconfirmed until its owner
    /// follows the link mailed to it. The link is (re)sent while the address is unconfirmed;
    /// a confirmed address gets nothing. The caller is not told which happened, so that the
    /// page cannot be used to find out who is subscribed.
    pub async fn subscribe_email(
        &self,
        address: &str,
        components: Vec<String>,
    ) -> CoreResult<Subscriber> {
        Ok(self
            .add_email_subscriber(address, components, false)
            .await?
            .0)
    }

    /// Adds an e-mail subscriber; with `confirmed` (an administrator vouching for the
    /// address) without the opt-in mail, confirming it if it was waiting. Returns whether it
    /// was created.
    pub async fn add_email_subscriber(
        &self,
        address: &str,
        components: Vec<String>,
        confirmed: bool,
    ) -> CoreResult<(Subscriber, bool)> {
        let address = normalize_email(address)?;
        let components = checked_components(self, components)?;
        let now = self.clock.now();
        let new = NewSubscriber {
            id: Uuid::now_v7(),
            kind: SubscriberKind::Email,
            target: address,
            components,
            at: now,
            confirmed,
        };
        let jobs = move |s: &Subscriber| {
            if s.confirmed_at.is_none() {
                vec![confirm_job(s.id, now)]
            } else {
                Vec::new()
            }
        };
        let (subscriber, created) = self.store.add_subscriber(new, &jobs).await?;
        if created || subscriber.confirmed_at.is_some() {
            return Ok((subscriber, created));
        }
        if confirmed {
            let subscriber = self.store.confirm_subscriber(subscriber.id, now).await?;
            return Ok((subscriber, false));
        }
        // Still waiting for its owner: the first mail may have been lost or deleted.
        self.store
            .enqueue(&[confirm_job(subscriber.id, now)])
            .await?;
        Ok((subscriber, false))
    }

    /// Subscribes a webhook URL (by an administrator: confirmed at once). Returns whether it
    /// was created; an existing one keeps its component list.
    pub async fn subscribe_webhook(
        &self,
        url: &str,
        components: Vec<String>,
    ) -> CoreResult<(Subscriber, bool)> {
        let url = checked_webhook_url(url)?;
        self.add_confirmed(SubscriberKind::Webhook, url, components)
            .await
    }

    /// Subscribes a chat channel (`/incident statuspage subscribe`): confirmed at once, the
    /// person asking being in it. Returns whether it was created; an existing one keeps its
    /// component list.
    pub async fn subscribe_chat(
        &self,
        platform: &str,
        channel: &str,
        components: Vec<String>,
    ) -> CoreResult<(Subscriber, bool)> {
        let target = chat_target(platform, channel)?;
        self.add_confirmed(SubscriberKind::Chat, target, components)
            .await
    }

    /// Removes a chat channel's subscription; false when it had none.
    pub async fn unsubscribe_chat(&self, platform: &str, channel: &str) -> CoreResult<bool> {
        let target = chat_target(platform, channel)?;
        let found = self
            .store
            .list_subscribers(false)
            .await?
            .into_iter()
            .find(|s| s.kind == SubscriberKind::Chat && s.target == target);
        match found {
            Some(s) => Ok(self.store.remove_subscriber(s.id).await?),
            None => Ok(false),
        }
    }

    async fn add_confirmed(
        &self,
        kind: SubscriberKind,
        target: String,
        components: Vec<String>,
    ) -> CoreResult<(Subscriber, bool)> {
        let components = checked_components(self, components)?;
        let new = NewSubscriber {
            id: Uuid::now_v7(),
            kind,
            target,
            components,
            at: self.clock.now(),
            confirmed: true,
        };
        let (subscriber, created) = self.store.add_subscriber(new, &no_jobs).await?;
        tracing::info!(subscriber_id = %subscriber.id, kind = %kind, created, "status page subscriber added");
        Ok((subscriber, created))
    }

    /// The token of subscriber `id` for `purpose` (whether or not it exists).
    pub async fn subscriber_token(&self, id: Uuid, purpose: TokenPurpose) -> CoreResult<String> {
        Ok(token_with(&self.subscriber_key().await?, id, purpose))
    }

    async fn subscriber_key(&self) -> CoreResult<String> {
        let fresh = crate::auth::generate_token();
        Ok(self.store.instance_secret(SECRET_NAME, &fresh).await?)
    }

    /// The subscription a link is about: NotFound when the token is wrong (whatever the
    /// id), None when the token is right but the subscriber is gone already.
    pub async fn subscription(
        &self,
        id: Uuid,
        purpose: TokenPurpose,
        token: &str,
    ) -> CoreResult<Option<Subscriber>> {
        let key = self.subscriber_key().await?;
        if !verify_token_with(&key, id, purpose, token) {
            return Err(no_such_subscription());
        }
        match self.store.get_subscriber(id).await {
            Ok(s) => Ok(Some(s)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Confirms an e-mail subscription from its link (again: no harm). NotFound for a wrong
    /// token or a subscriber that is gone.
    pub async fn confirm_subscription(&self, id: Uuid, token: &str) -> CoreResult<Subscriber> {
        if self
            .subscription(id, TokenPurpose::Confirm, token)
            .await?
            .is_none()
        {
            return Err(no_such_subscription());
        }
        let subscriber = self
            .store
            .confirm_subscriber(id, self.clock.now())
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => no_such_subscription(),
                other => other.into(),
            })?;
        tracing::info!(subscriber_id = %id, "status page subscription confirmed");
        Ok(subscriber)
    }

    /// Removes a subscription from its unsubscribe link. NotFound for a wrong token; a
    /// right one for a subscriber removed already is fine (false), as a mail client's
    /// one-click unsubscribe may be sent twice.
    pub async fn unsubscribe(&self, id: Uuid, token: &str) -> CoreResult<bool> {
        if self
            .subscription(id, TokenPurpose::Unsubscribe, token)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let removed = self.store.remove_subscriber(id).await?;
        tracing::info!(subscriber_id = %id, removed, "status page subscription removed");
        Ok(removed)
    }

    /// The links of subscriber `id`, under the page's URL; None when the page has none.
    pub async fn subscription_links(&self, id: Uuid) -> CoreResult<Option<SubscriptionLinks>> {
        let Some(page) = self.settings.status_page.url.clone() else {
            return Ok(None);
        };
        let key = self.subscriber_key().await?;
        let link = |purpose: TokenPurpose| {
            format!(
                "{page}/subscriptions/{id}/{}?token={}",
                purpose.as_str(),
                token_with(&key, id, purpose)
            )
        };
        Ok(Some(SubscriptionLinks {
            confirm: link(TokenPurpose::Confirm),
            unsubscribe: link(TokenPurpose::Unsubscribe),
        }))
    }
}

/// Where a subscriber confirms and leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionLinks {
    pub confirm: String,
    pub unsubscribe: String,
}

fn chat_target(platform: &str, channel: &str) -> CoreResult<String> {
    let (platform, channel) = (platform.trim(), channel.trim());
    if platform.is_empty() || platform.contains(':') || channel.is_empty() {
        return Err(invalid(
            "channel",
            "a chat subscription needs a platform and a channel",
        ));
    }
    Ok(format!("{platform}:{channel}"))
}

/// The public page of one incident or maintenance.
pub fn incident_url(page_url: &str, id: Uuid) -> String {
    format!("{}/incidents/{id}", page_url.trim_end_matches('/'))
}

// ---------------------------------------------------------------------------------------
// Notices

/// What one notice tells, whatever carries it: text for people, a JSON document for
/// machines, and the links both need.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The status page's name: "Acme Status".
    pub page_name: String,
    /// One line: `[Acme Status] Investigating: Checkout is failing`.
    pub subject: String,
    /// The notice as plain text, without the unsubscribe link (each channel places it).
    pub text: String,
    pub content: NoticeContent,
    /// The names of the components concerned, in display order.
    pub components: Vec<String>,
    /// The public page (`http://host/status`), when it has a URL.
    pub page_url: Option<String>,
    /// The public incident's own page, for notices of an update.
    pub incident_url: Option<String>,
    /// The subscriber's unsubscribe link (e-mail and webhooks; chat channels leave with a
    /// command).
    pub unsubscribe_url: Option<String>,
    /// The webhook body; its shape is documented on [`notice_payload`].
    pub payload: Value,
}

/// What a notice is about.
#[derive(Debug, Clone, PartialEq)]
pub enum NoticeContent {
    /// A public update: the record as it stands now, and the update.
    Update {
        record: Box<PublicIncident>,
        update: Box<PublicUpdate>,
    },
    /// Components changed outside any public record.
    Components {
        changes: Vec<AffectedComponent>,
        at: DateTime<Utc>,
    },
}

impl Notice {
    /// How bad it is, for a card's colour.
    pub fn tone(&self) -> Tone {
        match &self.content {
            NoticeContent::Update { record, update } => {
                if update.status.is_closed() {
                    Tone::Resolved
                } else {
                    match record.impact {
                        Impact::Critical => Tone::Critical,
                        Impact::Major => Tone::Major,
                        Impact::Minor => Tone::Minor,
                        Impact::None | Impact::Maintenance => Tone::Info,
                    }
                }
            }
            NoticeContent::Components { changes, .. } => {
                use crate::model::ComponentStatus as C;
                match changes.iter().map(|c| c.new_status).max() {
                    Some(C::MajorOutage) => Tone::Critical,
                    Some(C::PartialOutage) => Tone::Major,
                    Some(C::DegradedPerformance) => Tone::Minor,
                    Some(C::UnderMaintenance) => Tone::Info,
                    Some(C::Operational) | None => Tone::Resolved,
                }
            }
        }
    }

    /// The notice as a chat card.
    pub fn card(&self) -> Message {
        let mut fields = Vec::new();
        let (title, text) = match &self.content {
            NoticeContent::Update { record, update } => {
                fields.push(Field {
                    label: "Status".into(),
                    value: update.status.label().into(),
                });
                if let Some(window) = window(record) {
                    fields.push(Field {
                        label: "Scheduled".into(),
                        value: window,
                    });
                }
                if !self.components.is_empty() {
                    fields.push(Field {
                        label: "Components".into(),
                        value: self.components.join(", "),
                    });
                }
                (record.name.clone(), vec![update.body.clone()])
            }
            NoticeContent::Components { changes, .. } => (
                "Component status changed".to_owned(),
                changes
                    .iter()
                    .zip(&self.components)
                    .map(|(c, name)| {
                        format!(
                            "{name}: {} → {}",
                            c.old_status.label(),
                            c.new_status.label()
                        )
                    })
                    .collect(),
            ),
        };
        let link = self.incident_url.as_ref().or(self.page_url.as_ref());
        Message {
            title: Some(title),
            tone: Some(self.tone()),
            fields,
            text,
            buttons: Vec::new(),
            context: Some(match link {
                Some(link) => format!("{} · {link}", self.page_name),
                None => self.page_name.clone(),
            }),
        }
    }
}

/// What a confirmation asks of an e-mail subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub page_name: String,
    pub subject: String,
    /// The whole message as plain text, links included.
    pub text: String,
    pub confirm_url: String,
    pub unsubscribe_url: String,
    pub page_url: String,
}

/// One way of telling subscribers: e-mail or webhooks (chat channels go through the
/// [`ChatPlatform`] port instead). Sends once and sorts the outcome as a [`NotifyError`]:
/// worth retrying, or never going to work.
#[async_trait]
pub trait SubscriberChannel: Send + Sync {
    /// The subscribers this channel delivers to.
    fn kind(&self) -> SubscriberKind;
    async fn deliver(&self, subscriber: &Subscriber, notice: &Notice) -> Result<(), NotifyError>;
    /// Sends the double opt-in link. Only e-mail subscribers need one.
    async fn confirm(
        &self,
        _subscriber: &Subscriber,
        _confirmation: &Confirmation,
    ) -> Result<(), NotifyError> {
        Err(NotifyError::Refused(format!(
            "{} subscribers need no confirmation",
            self.kind()
        )))
    }
}

fn flat(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A maintenance's announced window, as people read it.
fn window(record: &PublicIncident) -> Option<String> {
    let (from, until) = (record.scheduled_for?, record.scheduled_until?);
    Some(if from.date_naive() == until.date_naive() {
        format!(
            "{} – {} UTC",
            from.format("%Y-%m-%d %H:%M"),
            until.format("%H:%M")
        )
    } else {
        format!("{} – {}", when(from), when(until))
    })
}

fn component_name(settings: &StatusPageSettings, id: &str) -> String {
    settings
        .component(id)
        .map_or_else(|| id.to_owned(), |c| c.name.clone())
}

/// The notice of `event` for one subscriber, from what is stored now; None when what it
/// speaks of is gone (the record, or the update).
pub async fn build_notice(
    core: &Core,
    subscriber: &Subscriber,
    event: &NoticeEvent,
) -> Result<Option<Notice>, JobError> {
    let settings = &core.settings.status_page;
    let content = match event {
        NoticeEvent::Update {
            public_incident_id,
            update_id,
        } => {
            let record = match core.store.get_public_incident(*public_incident_id).await {
                Ok(r) => r,
                Err(StoreError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let Some(update) = record.updates.iter().find(|u| u.id == *update_id).cloned() else {
                return Ok(None);
            };
            NoticeContent::Update {
                record: Box::new(record),
                update: Box::new(update),
            }
        }
        NoticeEvent::Components { changes, at } => NoticeContent::Components {
            changes: changes.clone(),
            at: *at,
        },
    };
    let unsubscribe_url = match subscriber.kind {
        SubscriberKind::Chat => None,
        _ => core
            .subscription_links(subscriber.id)
            .await?
            .map(|l| l.unsubscribe),
    };
    Ok(Some(compose(settings, content, unsubscribe_url)))
}

/// The notice of `content`: subject, text and webhook payload.
pub fn compose(
    settings: &StatusPageSettings,
    content: NoticeContent,
    unsubscribe_url: Option<String>,
) -> Notice {
    let page_url = settings.url.clone();
    let mut text = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason only.
    let (subject, components, incident_url) = match &content {
        NoticeContent::Update { record, update } => {
            let mut ids: Vec<&String> = update
                .affected_components
                .iter()
                .map(|a| &a.component)
                .collect();
            for c in &record.components {
                if !ids.contains(&c) {
                    ids.push(c);
                }
            }
            let mut ordered: Vec<&String> = settings
                .components
                .iter()
                .map(|c| &c.id)
                .filter(|id| ids.contains(id))
                .collect();
            let unconfigured: Vec<&String> = ids
                .iter()
                .filter(|id| !ordered.contains(id))
                .copied()
                .collect();
            ordered.extend(unconfigured);
            let names: Vec<String> = ordered
                .iter()
                .map(|id| component_name(settings, id))
                .collect();
            let incident_url = page_url.as_deref().map(|p| incident_url(p, record.id));
            let _ = writeln!(text, "{}", record.name);
            let _ = writeln!(
                text,
                "{} · {}",
                update.status.label(),
                when(update.created_at)
            );
            let _ = writeln!(text);
            let _ = writeln!(text, "{}", update.body.trim());
            let _ = writeln!(text);
            if let Some(window) = window(record) {
                let _ = writeln!(text, "Scheduled: {window}");
            }
            if !update.affected_components.is_empty() {
                let _ = writeln!(text, "Components:");
                for a in &update.affected_components {
                    let _ = writeln!(
                        text,
                        "  {}: {} → {}",
                        component_name(settings, &a.component),
                        a.old_status.label(),
                        a.new_status.label()
                    );
                }
            } else if !names.is_empty() {
                let _ = writeln!(text, "Components: {}", names.join(", "));
            }
            if let Some(url) = &incident_url {
                let _ = writeln!(text, "Details: {url}");
            }
            let subject = format!(
                "[{}] {}: {}",
                flat(&settings.name),
                update.status.label(),
                flat(&record.name)
            );
            (subject, names, incident_url)
        }
        NoticeContent::Components { changes, at } => {
            let names: Vec<String> = changes
                .iter()
                .map(|c| component_name(settings, &c.component))
                .collect();
            let _ = writeln!(text, "Component status changed · {}", when(*at));
            let _ = writeln!(text);
            for (c, name) in changes.iter().zip(&names) {
                let _ = writeln!(
                    text,
                    "{name}: {} → {}",
                    c.old_status.label(),
                    c.new_status.label()
                );
            }
            let subject = match changes.as_slice() {
                [one] => format!(
                    "[{}] {}: {}",
                    flat(&settings.name),
                    names[0],
                    one.new_status.label()
                ),
                _ => format!(
                    "[{}] Component status changed: {}",
                    flat(&settings.name),
                    names.join(", ")
                ),
            };
            (subject, names, None)
        }
    };
    if let Some(url) = &page_url {
        let _ = writeln!(text);
        let _ = writeln!(text, "{}: {url}", settings.name);
    }
    let payload = notice_payload(
        settings,
        &content,
        incident_url.as_deref(),
        unsubscribe_url.as_deref(),
    );
    Notice {
        page_name: settings.name.clone(),
        subject,
        text,
        content,
        components,
        page_url,
        incident_url,
        unsubscribe_url,
        payload,
    }
}

/// The JSON a webhook subscriber receives, modelled on Atlassian Statuspage's subscriber
/// webhooks (`meta`, `page`, `incident` with `incident_updates`, component updates):
///
/// ```json
/// {
///   "event": "incident.update",
///   "meta": { "unsubscribe": "https://status.example.com/status/subscriptions/…/unsubscribe?token=…" },
///   "page": { "id": "acmestatus", "name": "Acme Status", "url": "https://status.example.com/status" },
///   "incident": {
///     "id": "0193…", "kind": "incident", "name": "Checkout is failing",
///     "status": "investigating", "impact": "major",
///     "shortlink": "https://status.example.com/status/incidents/0193…",
///     "created_at": "…", "updated_at": "…", "started_at": "…",
///     "monitoring_at": null, "resolved_at": null,
///     "scheduled_for": null, "scheduled_until": null,
///     "components": [{ "id": "checkout", "name": "Checkout" }],
///     "incident_updates": [ /* every update, newest first, shaped as below */ ]
///   },
///   "incident_update": {
///     "id": "0193…", "incident_id": "0193…", "status": "investigating",
///     "body": "We are looking into failed payments.", "created_at": "…",
///     "affected_components": [
///       { "code": "checkout", "name": "Checkout",
///         "old_status": "operational", "new_status": "partial_outage" }
///     ]
///   }
/// }
/// ```
///
/// Components changed outside any public record:
///
/// ```json
/// {
///   "event": "component.update",
///   "meta": { "unsubscribe": "…" },
///   "page": { "id": "acmestatus", "name": "Acme Status", "url": "…" },
///   "component_updates": [
///     { "component_id": "api", "name": "API", "old_status": "operational",
///       "new_status": "degraded_performance", "created_at": "…" }
///   ]
/// }
/// ```
///
/// `kind` is `incident` or `maintenance` (then `impact` is `maintenance` and `status` one of
/// `scheduled`, `in_progress`, `verifying`, `completed`, with `scheduled_for`/`_until`
/// set). Times are RFC 3339 in UTC; absent values are `null`, never omitted.
pub fn notice_payload(
    settings: &StatusPageSettings,
    content: &NoticeContent,
    incident_url: Option<&str>,
    unsubscribe_url: Option<&str>,
) -> Value {
    let meta = json!({ "unsubscribe": unsubscribe_url });
    let page = json!({ "id": settings.page_id, "name": settings.name, "url": settings.url });
    let update_json = |u: &PublicUpdate| {
        json!({
            "id": u.id,
            "incident_id": u.public_incident_id,
            "status": u.status,
            "body": u.body,
            "created_at": u.created_at,
            "affected_components": u.affected_components.iter().map(|a| json!({
                "code": a.component,
                "name": component_name(settings, &a.component),
                "old_status": a.old_status,
                "new_status": a.new_status,
            })).collect::<Vec<_>>(),
        })
    };
    match content {
        NoticeContent::Update { record, update } => json!({
            "event": "incident.update",
            "meta": meta,
            "page": page,
            "incident": {
                "id": record.id,
                "kind": record.kind,
                "name": record.name,
                "status": record.status,
                "impact": record.impact,
                "shortlink": incident_url,
                "created_at": record.created_at,
                "updated_at": record.updated_at,
                "started_at": record.started_at,
                "monitoring_at": record.monitoring_at,
                "resolved_at": record.resolved_at,
                "scheduled_for": record.scheduled_for,
                "scheduled_until": record.scheduled_until,
                "components": record.components.iter().map(|c| json!({
                    "id": c,
                    "name": component_name(settings, c),
                })).collect::<Vec<_>>(),
                "incident_updates": record.updates.iter().map(update_json).collect::<Vec<_>>(),
            },
            "incident_update": update_json(update),
        }),
        NoticeContent::Components { changes, at } => json!({
            "event": "component.update",
            "meta": meta,
            "page": page,
            "component_updates": changes.iter().map(|c| json!({
                "component_id": c.component,
                "name": component_name(settings, &c.component),
                "old_status": c.old_status,
                "new_status": c.new_status,
                "created_at": at,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// The confirmation mail's words for `subscriber`.
pub fn confirmation(
    settings: &StatusPageSettings,
    subscriber: &Subscriber,
    links: SubscriptionLinks,
    page_url: String,
) -> Confirmation {
    let name = flat(&settings.name);
    let which = if subscriber.components.is_empty() {
        "every update".to_owned()
    } else {
        let names: Vec<String> = subscriber
            .components
            .iter()
            .map(|c| component_name(settings, c))
            .collect();
        format!("updates about {}", names.join(", "))
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Someone, hopefully you, asked for {which} of {name} to be mailed to {}.",
        subscriber.target
    );
    let _ = writeln!(text);
    let _ = writeln!(text, "To confirm, open this link:");
    let _ = writeln!(text, "{}", links.confirm);
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "If it was not you, ignore this mail: nothing will be sent until the link is opened."
    );
    let _ = writeln!(text);
    let _ = writeln!(text, "{name}: {page_url}");
    Confirmation {
        page_name: settings.name.clone(),
        subject: format!("[{name}] Confirm your subscription"),
        text,
        confirm_url: links.confirm,
        unsubscribe_url: links.unsubscribe,
        page_url,
    }
}

/// The subscriber a notice job is for; None when it is gone (unsubscribed since the job
/// was written: nothing to send) or never confirmed.
async fn live_subscriber(core: &Core, id: Uuid) -> Result<Option<Subscriber>, JobError> {
    match core.store.get_subscriber(id).await {
        Ok(s) if s.confirmed_at.is_some() => Ok(Some(s)),
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, JobError> {
    serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::permanent(format!("bad {} payload: {e}", job.kind)))
}

/// Runs [`kinds::NOTIFY`] and [`kinds::CONFIRM`] jobs over the e-mail and webhook
/// channels set up in this installation.
pub struct SubscriberNotices {
    core: Core,
    channels: Vec<Arc<dyn SubscriberChannel>>,
}

impl SubscriberNotices {
    pub fn handlers(core: Core, channels: Vec<Arc<dyn SubscriberChannel>>) -> Handlers {
        let me: Arc<dyn JobHandler> = Arc::new(SubscriberNotices { core, channels });
        Handlers::new()
            .on(kinds::NOTIFY, me.clone())
            .on(kinds::CONFIRM, me)
    }

    fn channel(&self, kind: SubscriberKind) -> Result<&dyn SubscriberChannel, JobError> {
        self.channels
            .iter()
            .find(|c| c.kind() == kind)
            .map(|c| &**c)
            .ok_or_else(|| {
                // Kept as a dead job, where an operator looks, rather than dropped.
                JobError::permanent(match kind {
                    SubscriberKind::Email => "no e-mail channel is set up ([smtp] in tocsin.toml)",
                    SubscriberKind::Webhook => {
                        "no webhook channel is set up (TOCSIN_WEBHOOK_SECRET)"
                    }
                    SubscriberKind::Chat => "chat subscribers are told in their platform's queue",
                })
            })
    }

    async fn notify(&self, job: &Job) -> Result<(), JobError> {
        let p: NoticeJob = payload(job)?;
        let Some(subscriber) = live_subscriber(&self.core, p.subscriber_id).await? else {
            return Ok(());
        };
        let channel = self.channel(subscriber.kind)?;
        let Some(notice) = build_notice(&self.core, &subscriber, &p.event).await? else {
            return Ok(());
        };
        channel.deliver(&subscriber, &notice).await?;
        tracing::info!(subscriber_id = %subscriber.id, kind = %subscriber.kind, "status page notice delivered");
        Ok(())
    }

    async fn confirm(&self, job: &Job) -> Result<(), JobError> {
        let p: ConfirmJob = payload(job)?;
        let subscriber = match self.core.store.get_subscriber(p.subscriber_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if subscriber.confirmed_at.is_some() {
            return Ok(());
        }
        let channel = self.channel(subscriber.kind)?;
        let settings = &self.core.settings.status_page;
        let (Some(links), Some(page_url)) = (
            self.core.subscription_links(subscriber.id).await?,
            settings.url.clone(),
        ) else {
            return Err(JobError::permanent(
                "the status page has no URL to link to (TOCSIN_PUBLIC_URL or [statuspage] url)",
            ));
        };
        let confirmation = confirmation(settings, &subscriber, links, page_url);
        channel.confirm(&subscriber, &confirmation).await?;
        tracing::info!(subscriber_id = %subscriber.id, "status page confirmation sent");
        Ok(())
    }
}

#[async_trait]
impl JobHandler for SubscriberNotices {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        match job.kind.as_str() {
            kinds::CONFIRM => self.confirm(job).await,
            _ => self.notify(job).await,
        }
    }
}

/// Runs [`kinds::CHAT_NOTICE`] jobs: posts the notice as a card in the subscribed channel.
pub struct ChatNotices {
    core: Core,
    platform: Arc<dyn ChatPlatform>,
}

impl ChatNotices {
    pub fn handlers(core: &Core, platform: Arc<dyn ChatPlatform>) -> Handlers {
        Handlers::new().on(
            kinds::CHAT_NOTICE,
            Arc::new(ChatNotices {
                core: core.clone(),
                platform,
            }),
        )
    }
}

#[async_trait]
impl JobHandler for ChatNotices {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: NoticeJob = payload(job)?;
        let Some(subscriber) = live_subscriber(&self.core, p.subscriber_id).await? else {
            return Ok(());
        };
        let name = self.platform.name();
        let channel = match subscriber.target.split_once(':') {
            Some((platform, channel)) if platform == name => channel.to_owned(),
            _ => {
                return Err(JobError::permanent(format!(
                    "subscriber {} is not a {name} channel",
                    subscriber.id
                )));
            }
        };
        let Some(notice) = build_notice(&self.core, &subscriber, &p.event).await? else {
            return Ok(());
        };
        let card = notice.card();
        // Keyed by the job: a rerun (a worker died after posting) edits the card it posted
        // instead of posting it twice.
        let key = format!("statuspage-notice:{}", job.id);
        let store = &self.core.store;
        if let Some(posted) = store.posted_message(&key, name).await? {
            self.platform
                .update_message(&posted.channel_id, &posted.message_id, &card)
                .await?;
            return Ok(());
        }
        let message_id = self.platform.post_message(&channel, &card).await?;
        store
            .save_posted_message(
                &key,
                name,
                &crate::store::PostedMessage {
                    channel_id: channel,
                    message_id,
                },
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::{
        ChannelRef, ComponentSpec, ComponentStatus, JobState, PublicKind, PublicStatus,
    };
    use crate::ops::CoreSettings;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn settings() -> StatusPageSettings {
        let spec = |id: &str, name: &str, position| ComponentSpec {
            id: id.into(),
            name: name.into(),
            group: None,
            description: None,
            services: vec![],
            position,
        };
        StatusPageSettings {
            name: "Acme Status".into(),
            url: Some("https://status.example.com/status".into()),
            page_id: "acmestatus".into(),
            components: vec![spec("checkout", "Checkout", 0), spec("api", "API", 1)],
            ..Default::default()
        }
    }

    fn record() -> (PublicIncident, PublicUpdate) {
        let id: Uuid = "0193a5b0-7c1e-7000-8000-000000000001".parse().unwrap();
        let update = PublicUpdate {
            id: "0193a5b0-7c1e-7000-8000-0000000000aa".parse().unwrap(),
            public_incident_id: id,
            status: PublicStatus::Identified,
            body: "A bad deploy; rolling back.".into(),
            created_at: at("2026-11-24T03:10:00Z"),
            affected_components: vec![AffectedComponent {
                component: "checkout".into(),
                old_status: ComponentStatus::Operational,
                new_status: ComponentStatus::PartialOutage,
            }],
            author: "user:alice".into(),
        };
        let record = PublicIncident {
            id,
            kind: PublicKind::Incident,
            incident_id: None,
            name: "Payments failing".into(),
            status: PublicStatus::Identified,
            impact: Impact::Major,
            components: vec!["api".into(), "checkout".into()],
            created_at: at("2026-11-24T03:00:00Z"),
            updated_at: at("2026-11-24T03:10:00Z"),
            started_at: at("2026-11-24T03:00:00Z"),
            monitoring_at: None,
            resolved_at: None,
            scheduled_for: None,
            scheduled_until: None,
            updates: vec![update.clone()],
        };
        (record, update)
    }

    #[test]
    fn addresses_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Alice.Doe+status@Example.COM ").unwrap(),
            "alice.doe+status@example.com"
        );
        assert_eq!(
            normalize_email("ops@xn--bcher-kva.xn--p1ai").unwrap(),
            "ops@xn--bcher-kva.xn--p1ai"
        );
        for (bad, why) in [
            ("", "required"),
            ("alice", "no @"),
            ("@example.com", "before the @"),
            ("a..b@example.com", "before the @"),
            ("a b@example.com", "before the @"),
            ("Alice <a@example.com>", "before the @"),
            ("a@localhost", "domain"),
            ("a@-x.example.com", "domain"),
            ("a@example.c0m", "domain"),
            ("a@[127.0.0.1]", "domain"),
            ("a@example.com\r\nBcc: b@example.com", "before the @"),
            ("jörg@example.com", "before the @"),
        ] {
            let e = normalize_email(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(
            normalize_email(&long)
                .unwrap_err()
                .to_string()
                .contains("254")
        );
    }

    #[test]
    fn webhook_urls_need_a_scheme_and_a_host() {
        assert_eq!(
            checked_webhook_url(" https://hooks.example.com/t/abc?x=1 ").unwrap(),
            "https://hooks.example.com/t/abc?x=1"
        );
        assert!(checked_webhook_url("http://127.0.0.1:9/").is_ok());
        for bad in [
            "ftp://example.com/",
            "hooks.example.com",
            "https://",
            "https:///path",
            "https://:80/",
            "https://exa mple.com/",
            "https://example.com/a\nb",
        ] {
            assert!(checked_webhook_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_token_is_good_for_its_subscriber_and_purpose_only() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let token = token_with("k", a, TokenPurpose::Unsubscribe);
        assert_eq!(token.len(), 64);
        assert!(verify_token_with("k", a, TokenPurpose::Unsubscribe, &token));
        assert!(!verify_token_with(
            "k",
            b,
            TokenPurpose::Unsubscribe,
            &token
        ));
        assert!(!verify_token_with("k", a, TokenPurpose::Confirm, &token));
        assert!(!verify_token_with(
            "other",
            a,
            TokenPurpose::Unsubscribe,
            &token
        ));
        for bad in ["", "zz", &token[..62], &format!("{token}00")] {
            assert!(
                !verify_token_with("k", a, TokenPurpose::Unsubscribe, bad),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_update_notice_says_what_changed_with_links() {
        let (record, update) = record();
        let notice = compose(
            &settings(),
            NoticeContent::Update {
                record: Box::new(record.clone()),
                update: Box::new(update),
            },
            Some("https://u.example/x".into()),
        );
        assert_eq!(notice.subject, "[Acme Status] Identified: Payments failing");
        let url = format!("https://status.example.com/status/incidents/{}", record.id);
        assert_eq!(
            notice.text,
            format!(
                "Payments failing\n\
                 Identified · 2026-11-24 03:10 UTC\n\n\
                 A bad deploy; rolling back.\n\n\
                 Components:\n  Checkout: Operational → Partial outage\n\
                 Details: {url}\n\n\
                 Acme Status: https://status.example.com/status\n"
            )
        );
        // In the page's order, whatever the record's.
        assert_eq!(notice.components, ["Checkout", "API"]);
        assert_eq!(notice.incident_url.as_deref(), Some(url.as_str()));
        assert_eq!(notice.tone(), Tone::Major);
        let p = &notice.payload;
        assert_eq!(p["event"], "incident.update");
        assert_eq!(p["meta"]["unsubscribe"], "https://u.example/x");
        assert_eq!(p["page"]["id"], "acmestatus");
        assert_eq!(p["incident"]["shortlink"], url.as_str());
        assert_eq!(p["incident"]["impact"], "major");
        assert_eq!(p["incident"]["components"][1]["name"], "Checkout");
        assert_eq!(
            p["incident"]["incident_updates"].as_array().unwrap().len(),
            1
        );
        assert_eq!(
            p["incident_update"]["affected_components"][0],
            json!({"code": "checkout", "name": "Checkout",
                   "old_status": "operational", "new_status": "partial_outage"})
        );
        assert_eq!(p["incident"]["resolved_at"], Value::Null);

        let card = notice.card();
        assert_eq!(card.title.as_deref(), Some("Payments failing"));
        assert_eq!(card.text, ["A bad deploy; rolling back."]);
        assert_eq!(card.fields[0].value, "Identified");
        assert_eq!(card.fields[1].value, "Checkout, API");
        assert_eq!(card.context, Some(format!("Acme Status · {url}")));
    }

    #[test]
    fn a_resolved_update_is_green_and_maintenance_shows_its_window() {
        let (mut record, mut update) = record();
        update.status = PublicStatus::Resolved;
        let notice = compose(
            &settings(),
            NoticeContent::Update {
                record: Box::new(record.clone()),
                update: Box::new(update.clone()),
            },
            None,
        );
        assert_eq!(notice.tone(), Tone::Resolved);
        record.kind = PublicKind::Maintenance;
        record.impact = Impact::Maintenance;
        record.scheduled_for = Some(at("2026-11-25T01:00:00Z"));
        record.scheduled_until = Some(at("2026-11-25T03:00:00Z"));
        update.status = PublicStatus::Scheduled;
        update.affected_components.clear();
        let notice = compose(
            &settings(),
            NoticeContent::Update {
                record: Box::new(record),
                update: Box::new(update),
            },
            None,
        );
        assert!(
            notice
                .text
                .contains("Scheduled: 2026-11-25 01:00 – 03:00 UTC\nComponents: Checkout, API\n"),
            "{}",
            notice.text
        );
        assert_eq!(notice.tone(), Tone::Info);
        assert_eq!(notice.payload["incident"]["kind"], "maintenance");
        assert_eq!(notice.payload["meta"]["unsubscribe"], Value::Null);
    }

    #[test]
    fn a_component_notice_lists_each_change() {
        let changes = vec![
            AffectedComponent {
                component: "api".into(),
                old_status: ComponentStatus::Operational,
                new_status: ComponentStatus::DegradedPerformance,
            },
            AffectedComponent {
                component: "gone".into(),
                old_status: ComponentStatus::MajorOutage,
                new_status: ComponentStatus::Operational,
            },
        ];
        let notice = compose(
            &settings(),
            NoticeContent::Components {
                changes: changes[..1].to_vec(),
                at: at("2026-11-24T03:00:00Z"),
            },
            None,
        );
        assert_eq!(notice.subject, "[Acme Status] API: Degraded performance");
        let notice = compose(
            &settings(),
            NoticeContent::Components {
                changes,
                at: at("2026-11-24T03:00:00Z"),
            },
            None,
        );
        assert_eq!(
            notice.subject,
            "[Acme Status] Component status changed: API, gone"
        );
        assert!(notice.text.contains(
            "API: Operational → Degraded performance\ngone: Major outage → Operational\n"
        ));
        assert_eq!(notice.tone(), Tone::Minor);
        assert_eq!(notice.payload["event"], "component.update");
        assert_eq!(
            notice.payload["component_updates"][0],
            json!({"component_id": "api", "name": "API", "old_status": "operational",
                   "new_status": "degraded_performance", "created_at": "2026-11-24T03:00:00Z"})
        );
        assert_eq!(notice.card().text.len(), 2);
    }

    // -----------------------------------------------------------------------------------
    // With a store

    async fn core() -> (Core, ManualClock, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let clock = ManualClock::at("2026-11-24T03:00:00Z");
        let core = Core::new(
            store,
            Arc::new(clock.clone()),
            CoreSettings {
                status_page: settings(),
                ..Default::default()
            },
        );
        (core, clock, dir)
    }

    async fn jobs_of(core: &Core, kind: &str) -> Vec<Job> {
        core.store
            .list_jobs(None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == kind)
            .collect()
    }

    #[tokio::test]
    async fn statuspage_confirmation_is_resent_while_unconfirmed_and_never_after() {
        let (core, _clock, _dir) = core().await;
        let first = core
            .subscribe_email("Alice@Example.com", vec!["api".into(), "api".into()])
            .await
            .unwrap();
        assert_eq!(first.target, "alice@example.com");
        assert_eq!(first.components, ["api"]);
        assert!(first.confirmed_at.is_none());
        let again = core
            .subscribe_email("alice@example.com", vec![])
            .await
            .unwrap();
        assert_eq!(again.id, first.id);
        let confirms = jobs_of(&core, kinds::CONFIRM).await;
        assert_eq!(confirms.len(), 2, "one per request while unconfirmed");
        assert!(confirms.iter().all(|j| j.queue == NOTIFY_QUEUE
            && j.payload == json!({"subscriber_id": first.id})));

        let token = core
            .subscriber_token(first.id, TokenPurpose::Confirm)
            .await
            .unwrap();
        let confirmed = core.confirm_subscription(first.id, &token).await.unwrap();
        assert!(confirmed.confirmed_at.is_some());
        core.subscribe_email("alice@example.com", vec![])
            .await
            .unwrap();
        assert_eq!(jobs_of(&core, kinds::CONFIRM).await.len(), 2);

        let e = core
            .subscribe_email("alice@example.com", vec!["nope".into()])
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("valid: checkout, api"), "{e}");
    }

    #[tokio::test]
    async fn statuspage_wrong_tokens_and_unknown_ids_look_the_same() {
        let (core, _clock, _dir) = core().await;
        let s = core.subscribe_email("a@example.com", vec![]).await.unwrap();
        let unsubscribe = core
            .subscriber_token(s.id, TokenPurpose::Unsubscribe)
            .await
            .unwrap();
        let confirm = core
            .subscriber_token(s.id, TokenPurpose::Confirm)
            .await
            .unwrap();
        let unknown = Uuid::now_v7();
        let unknown_token = core
            .subscriber_token(unknown, TokenPurpose::Confirm)
            .await
            .unwrap();
        let not_found = |r: CoreResult<Subscriber>| matches!(r, Err(CoreError::Store(StoreError::NotFound(ref w))) if w == "subscription");
        assert!(not_found(
            core.confirm_subscription(s.id, &unsubscribe).await
        ));
        assert!(not_found(core.confirm_subscription(s.id, "00").await));
        assert!(not_found(
            core.confirm_subscription(unknown, &unknown_token).await
        ));
        assert!(core.unsubscribe(s.id, &confirm).await.is_err());
        assert!(core.unsubscribe(s.id, &unsubscribe).await.unwrap());
        // A second one-click is no error, and the subscriber is gone.
        assert!(!core.unsubscribe(s.id, &unsubscribe).await.unwrap());
        assert!(not_found(core.confirm_subscription(s.id, &confirm).await));
        let links = core.subscription_links(s.id).await.unwrap().unwrap();
        assert_eq!(
            links.unsubscribe,
            format!(
                "https://status.example.com/status/subscriptions/{}/unsubscribe?token={unsubscribe}",
                s.id
            )
        );
    }

    #[tokio::test]
    async fn statuspage_chat_and_webhook_subscribers_are_confirmed_at_once() {
        let (core, _clock, _dir) = core().await;
        let (s, created) = core
            .subscribe_chat("slack", "C123", vec!["checkout".into()])
            .await
            .unwrap();
        assert!(created && s.confirmed_at.is_some());
        assert_eq!(s.target, "slack:C123");
        let (again, created) = core.subscribe_chat("slack", "C123", vec![]).await.unwrap();
        assert!(!created);
        assert_eq!(again.components, ["checkout"]);
        assert!(core.subscribe_chat("", "C1", vec![]).await.is_err());
        let (w, _) = core
            .subscribe_webhook("https://hooks.example.com/x", vec![])
            .await
            .unwrap();
        assert!(w.confirmed_at.is_some());
        assert!(jobs_of(&core, kinds::CONFIRM).await.is_empty());
        assert!(core.unsubscribe_chat("slack", "C123").await.unwrap());
        assert!(!core.unsubscribe_chat("slack", "C123").await.unwrap());
        let (e, _) = core
            .add_email_subscriber("b@example.com", vec![], true)
            .await
            .unwrap();
        assert!(e.confirmed_at.is_some());
        assert!(jobs_of(&core, kinds::CONFIRM).await.is_empty());
    }

    /// A channel that records what it was given, or fails as told.
    struct Recorder {
        kind: SubscriberKind,
        fail: Option<fn() -> NotifyError>,
        sent: Mutex<Vec<(String, String)>>,
    }

    #[async_trait]
    impl SubscriberChannel for Recorder {
        fn kind(&self) -> SubscriberKind {
            self.kind
        }
        async fn deliver(&self, s: &Subscriber, n: &Notice) -> Result<(), NotifyError> {
            if let Some(fail) = self.fail {
                return Err(fail());
            }
            self.sent
                .lock()
                .unwrap()
                .push((s.target.clone(), n.subject.clone()));
            Ok(())
        }
        async fn confirm(&self, s: &Subscriber, c: &Confirmation) -> Result<(), NotifyError> {
            self.sent
                .lock()
                .unwrap()
                .push((s.target.clone(), c.confirm_url.clone()));
            Ok(())
        }
    }

    fn job(kind: &str, payload: Value) -> Job {
        let now = at("2026-11-24T03:00:00Z");
        Job {
            id: crate::model::JobId(Uuid::now_v7()),
            queue: NOTIFY_QUEUE.into(),
            kind: kind.into(),
            payload,
            state: JobState::Running,
            run_at: now,
            attempts: 1,
            max_attempts: 10,
            lease_until: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[tokio::test]
    async fn statuspage_notices_skip_the_departed_and_retry_the_failing() {
        let (core, _clock, _dir) = core().await;
        let mail = Arc::new(Recorder {
            kind: SubscriberKind::Email,
            fail: None,
            sent: Mutex::default(),
        });
        let hook = Arc::new(Recorder {
            kind: SubscriberKind::Webhook,
            fail: Some(|| NotifyError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(30)),
            }),
            sent: Mutex::default(),
        });
        let handler = SubscriberNotices {
            core: core.clone(),
            channels: vec![mail.clone(), hook.clone()],
        };
        let s = core.subscribe_email("a@example.com", vec![]).await.unwrap();
        handler
            .run(&job(kinds::CONFIRM, json!({"subscriber_id": s.id})))
            .await
            .unwrap();
        let links = core.subscription_links(s.id).await.unwrap().unwrap();
        assert_eq!(
            mail.sent.lock().unwrap().clone(),
            [("a@example.com".to_owned(), links.confirm)]
        );
        let (w, _) = core
            .subscribe_webhook("https://hooks.example.com/x", vec![])
            .await
            .unwrap();
        let event = json!({"type": "components", "at": "2026-11-24T03:00:00Z", "changes": [
            {"component": "api", "old_status": "operational", "new_status": "major_outage"}]});
        // Not confirmed yet: nothing is sent.
        handler
            .run(&job(
                kinds::NOTIFY,
                json!({"subscriber_id": s.id, "event": event}),
            ))
            .await
            .unwrap();
        assert_eq!(mail.sent.lock().unwrap().len(), 1);
        let token = core
            .subscriber_token(s.id, TokenPurpose::Confirm)
            .await
            .unwrap();
        core.confirm_subscription(s.id, &token).await.unwrap();
        handler
            .run(&job(
                kinds::NOTIFY,
                json!({"subscriber_id": s.id, "event": event}),
            ))
            .await
            .unwrap();
        assert_eq!(
            mail.sent.lock().unwrap()[1].1,
            "[Acme Status] API: Major outage"
        );
        match handler
            .run(&job(
                kinds::NOTIFY,
                json!({"subscriber_id": w.id, "event": event}),
            ))
            .await
        {
            Err(JobError::Retry { after, .. }) => {
                assert_eq!(after, Some(std::time::Duration::from_secs(30)));
            }
            other => panic!("{other:?}"),
        }
        core.store.remove_subscriber(w.id).await.unwrap();
        handler
            .run(&job(
                kinds::NOTIFY,
                json!({"subscriber_id": w.id, "event": event}),
            ))
            .await
            .unwrap();
        // A kind with no channel set up is a dead job, where an operator looks.
        let bare = SubscriberNotices {
            core: core.clone(),
            channels: vec![],
        };
        let e = bare
            .run(&job(
                kinds::NOTIFY,
                json!({"subscriber_id": s.id, "event": event}),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(e, JobError::Permanent(ref m) if m.contains("[smtp]")),
            "{e:?}"
        );
        let e = bare
            .run(&job(kinds::NOTIFY, json!({"nope": 1})))
            .await
            .unwrap_err();
        assert!(matches!(e, JobError::Permanent(_)));
    }

    /// A chat platform that records posts and edits.
    #[derive(Default)]
    struct Chat {
        posts: Mutex<Vec<(String, Message)>>,
        edits: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl ChatPlatform for Chat {
        fn name(&self) -> &str {
            "slack"
        }
        fn announcements_channel(&self) -> Option<String> {
            None
        }
        async fn post_message(
            &self,
            channel: &str,
            message: &Message,
        ) -> Result<String, crate::chat::ChatError> {
            let mut posts = self.posts.lock().unwrap();
            posts.push((channel.to_owned(), message.clone()));
            Ok(format!("m{}", posts.len()))
        }
        async fn update_message(
            &self,
            _channel: &str,
            message_id: &str,
            _message: &Message,
        ) -> Result<(), crate::chat::ChatError> {
            self.edits.lock().unwrap().push(message_id.to_owned());
            Ok(())
        }
        async fn create_channel(
            &self,
            _name: &str,
            _topic: &str,
        ) -> Result<ChannelRef, crate::chat::ChatError> {
            Err(crate::chat::ChatError::Unsupported("channels"))
        }
        async fn invite(&self, _c: &str, _u: &[String]) -> Result<(), crate::chat::ChatError> {
            Ok(())
        }
        async fn set_topic(&self, _c: &str, _t: &str) -> Result<(), crate::chat::ChatError> {
            Ok(())
        }
        async fn pin(&self, _c: &str, _m: &str) -> Result<(), crate::chat::ChatError> {
            Ok(())
        }
        async fn send_dm(&self, _u: &str, _m: &Message) -> Result<String, crate::chat::ChatError> {
            Err(crate::chat::ChatError::Unsupported("direct messages"))
        }
    }

    #[tokio::test]
    async fn statuspage_chat_notice_is_a_card_posted_once() {
        let (core, _clock, _dir) = core().await;
        let chat = Arc::new(Chat::default());
        let (s, _) = core.subscribe_chat("slack", "C9", vec![]).await.unwrap();
        let public = core
            .open_public_incident(
                &crate::model::Actor::System,
                super::super::OpenPublic {
                    incident_id: None,
                    name: "Payments failing".into(),
                    impact: Impact::Critical,
                    status: PublicStatus::Investigating,
                    body: "Looking into it.".into(),
                    components: vec!["checkout".into()],
                    component_status: None,
                },
            )
            .await
            .unwrap();
        let written: Vec<Job> = jobs_of(&core, kinds::CHAT_NOTICE).await;
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].queue, "chat:slack");
        let handler = ChatNotices::handlers(&core, chat.clone());
        let runner = ChatNotices {
            core: core.clone(),
            platform: chat.clone(),
        };
        drop(handler);
        runner.run(&written[0]).await.unwrap();
        runner.run(&written[0]).await.unwrap();
        let posts = chat.posts.lock().unwrap().clone();
        assert_eq!(posts.len(), 1, "a rerun edits the card it posted");
        assert_eq!(chat.edits.lock().unwrap().clone(), ["m1"]);
        let (channel, card) = &posts[0];
        assert_eq!(channel, "C9");
        assert_eq!(card.title.as_deref(), Some("Payments failing"));
        assert_eq!(card.tone, Some(Tone::Critical));
        assert_eq!(card.text, ["Looking into it."]);
        assert!(
            card.context
                .as_deref()
                .unwrap()
                .ends_with(&format!("/status/incidents/{}", public.id))
        );
        // Unsubscribed since: nothing is posted.
        core.store.remove_subscriber(s.id).await.unwrap();
        let mut again = written[0].clone();
        again.id = crate::model::JobId(Uuid::now_v7());
        runner.run(&again).await.unwrap();
        assert_eq!(chat.posts.lock().unwrap().len(), 1);
    }
}
