//! `tocsin.toml`: who the people, teams, schedules, escalation policies and services are, read
//! once at start-up and checked as a whole so that a typo is reported with its line instead of
//! surfacing at 3 a.m. as a page that went nowhere.
//!
//! Secrets never live in the file: it names the environment variables that hold them
//! (`key_env`). Every problem in a file is reported, not just the first, each with the file, the
//! line and the key it is about. Schedules, escalation policies and integrations are parsed and
//! validated here; [`Config::schedules`] hands the schedules to the on-call computation, and the
//! engines for the rest come later.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;

use bot_core::model::{
    AlertSeverity, Directory, Role, Service, ServiceId, Team, TeamId, User, UserId,
};
use bot_core::schedule::{Layer, Restriction, Schedule};
use chrono::{NaiveDateTime, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};

mod actions;
mod postmortem;
mod statuspage;
mod trackers;

pub use actions::{ActionConfig, GroupRoleConfig, ParamConfig, RolesConfig, group_roles, specs};
pub use postmortem::PostmortemConfig;
pub use statuspage::{ComponentConfig, StatusPageConfig};
pub use trackers::TrackersConfig;

/// The chat platforms a user can have an identity on, as named in `[users.chat]`.
const CHAT_PLATFORMS: [&str; 4] = ["console", "slack", "discord", "teams"];

/// The whole file. Every section is optional, so an empty file is a valid (empty) config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    pub incidents: IncidentsConfig,
    pub console: ConsoleConfig,
    /// Discord: where incident channels go; absent, Discord is off.
    pub discord: Option<DiscordConfig>,
    /// Microsoft Teams (`[msteams]`: `[[teams]]` are teams of people): where incident
    /// channels go; absent, Teams is off.
    pub msteams: Option<MsTeamsConfig>,
    pub users: Vec<UserConfig>,
    pub teams: Vec<TeamConfig>,
    pub schedules: Vec<ScheduleConfig>,
    pub escalation_policies: Vec<EscalationPolicyConfig>,
    pub services: Vec<ServiceConfig>,
    /// Where e-mail pages go out; absent: no e-mail pages.
    pub smtp: Option<SmtpConfig>,
    pub paging: PagingConfig,
    /// What chat may run: HTTP requests, allow-listed commands, GitHub reverts and
    /// workflow dispatches.
    pub actions: Vec<ActionConfig>,
    pub roles: RolesConfig,
    /// The public status page and its components.
    pub statuspage: StatusPageConfig,
    /// Post-incident reviews: the template, the reminder, who is asked for an owner.
    pub postmortem: PostmortemConfig,
    /// Where action items are filed as tickets.
    pub trackers: TrackersConfig,
    /// Request rate limits on public routes.
    pub limits: LimitsConfig,
}

/// `[limits]`: how fast one integration key may send alerts and heartbeat pings to this
/// process, so that one runaway sender cannot starve the others. Over the limit the sender
/// is answered 429 with `Retry-After` and retries.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Sustained requests per second, per integration key, per process.
    pub inbound_per_second: u32,
    /// Requests one key may send at once before the sustained rate applies.
    pub inbound_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            inbound_per_second: 100,
            inbound_burst: 500,
        }
    }
}

/// `[paging]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PagingConfig {
    /// Time between attempts at an escalation level; default the guide's minute. Drills
    /// (and tests) may shorten it.
    pub attempt_interval: Option<String>,
    /// The service whose on-call answers the Twilio hotline (`/api/v1/twilio/hotline`):
    /// callers are put through to its escalation levels' people in order, and an alert
    /// opens on it.
    pub hotline_service: Option<ServiceId>,
}

/// `[smtp]`: the relay e-mail pages are sent through. The password comes from the
/// environment variable `SMTP_PASSWORD`, never from the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "smtp_port")]
    pub port: u16,
    /// `none` (plain, for a local relay), `starttls` (the default) or `tls`.
    #[serde(default = "starttls")]
    pub tls: adapters::notify::SmtpTls,
    pub username: Option<String>,
    pub from: String,
}

fn smtp_port() -> u16 {
    587
}

fn starttls() -> adapters::notify::SmtpTls {
    adapters::notify::SmtpTls::StartTls
}

/// `[[users.notify]]`: one way a person is paged, `delay` after their page begins.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NotifyConfig {
    /// `chat`, `webhook`, `email`, `sms` or `voice`.
    pub channel: String,
    #[serde(default = "no_delay")]
    pub delay: String,
    /// Where, for this channel: a webhook URL (required for webhooks); defaults to the
    /// person's e-mail address or phone.
    pub to: Option<String>,
    /// `high` or `low`: the alerts this rule is for; absent: all.
    pub urgency: Option<bot_core::model::Urgency>,
}

fn no_delay() -> String {
    "0m".to_owned()
}

/// The channels a notification rule may name.
pub const NOTIFY_CHANNELS: &[&str] = &["chat", "webhook", "email", "sms", "voice"];

/// `[incidents]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct IncidentsConfig {
    /// How long an incident may go without a status update before its channel is reminded: a
    /// humantime duration (`"30m"`), or `"off"`. Absent means off. Use
    /// [`Config::update_reminder`] to read it.
    pub update_reminder: Option<String>,
    /// Per severity, overriding `update_reminder`: `sev1 = "30m"`, `sev4 = "off"`.
    pub update_reminder_by_severity: std::collections::BTreeMap<bot_core::model::Severity, String>,
    /// The console room / channel where new incidents are announced.
    pub announcements_channel: String,
    /// Record every message said in an incident channel in its timeline, not only those
    /// pinned with 📌. Default false.
    pub capture_chat: bool,
    /// The incident channel's name: `{number}`, `{date}` (YYYYMMDD) and `{slug}` (the
    /// title) are filled in. Default `inc-{number}-{slug}`.
    pub channel_name: Option<String>,
    /// A meeting link for every incident: `{number}` is filled in
    /// (`https://meet.jit.si/tocsin-inc-{number}`). Incident cards get a "Join huddle" link
    /// and the postmortem lists it with the participants. Absent: no link.
    pub conference_url: Option<String>,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        Self {
            update_reminder: None,
            update_reminder_by_severity: Default::default(),
            announcements_channel: "incidents".to_owned(),
            capture_chat: false,
            channel_name: None,
            conference_url: None,
        }
    }
}

/// `[discord]`: the guild (server) Tocsin works in. The bot's credentials come from the
/// environment: `DISCORD_TOKEN`, `DISCORD_APPLICATION_ID`, `DISCORD_PUBLIC_KEY`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DiscordConfig {
    /// The guild's id (Server Settings → Widget, or Developer Mode → Copy Server ID).
    pub guild_id: String,
    /// The category incident channels are created in, if any.
    pub category_id: Option<String>,
    /// Where new incidents are announced, if anywhere: a channel id or a text channel's name.
    pub announcements_channel: Option<String>,
    /// `"channel"` (default): each incident gets a text channel in `category_id`;
    /// `"thread"`: a public thread in `threads_channel`.
    #[serde(default)]
    pub incident_channels: IncidentChannels,
    /// Where incident threads are started in thread mode: a channel id or name.
    pub threads_channel: Option<String>,
    /// Capture incident-channel talk and 📌 reactions through the Gateway (needs the
    /// `MESSAGE_CONTENT` privileged intent). One replica holds it on PostgreSQL.
    #[serde(default)]
    pub gateway: bool,
    /// How long a command may run before Discord is answered "thinking…" and the reply
    /// follows (Discord waits three seconds): a humantime duration under 3 s, default
    /// `"2500ms"`. Read it with [`DiscordConfig::reply_within`].
    pub reply_within: Option<String>,
}

impl DiscordConfig {
    /// `reply_within` as a duration (the default when absent or invalid, which
    /// [`Config::parse`] has already reported).
    pub fn reply_within(&self) -> std::time::Duration {
        self.reply_within
            .as_deref()
            .and_then(|t| humantime::parse_duration(t).ok())
            .unwrap_or(DISCORD_REPLY_WITHIN)
    }
}

/// `[msteams]`: the Microsoft Teams team Tocsin works in. The bot's credentials come from
/// the environment: `MicrosoftAppId`, `MicrosoftAppPassword`, `MicrosoftAppTenantId`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MsTeamsConfig {
    /// The team incident channels are made in (its Entra group id, a GUID), for
    /// `incident_channels = "channel"`.
    pub team_id: Option<String>,
    /// The channel (`19:…@thread.tacv2`) where incidents are announced and, in thread mode,
    /// where their threads start.
    pub incidents_channel: Option<String>,
    /// `"channel"`: a standard channel per incident, through Microsoft Graph (needs the
    /// `Channel.Create.Group` permission); `"thread"` (default): a thread in
    /// `incidents_channel`.
    #[serde(default = "thread_mode")]
    pub incident_channels: IncidentChannels,
    /// The Bot Connector's address for the tenant until an activity tells it; default
    /// `https://smba.trafficmanager.net/teams/`.
    pub service_url: Option<String>,
}

fn thread_mode() -> IncidentChannels {
    IncidentChannels::Thread
}

fn check_msteams(teams: &MsTeamsConfig, c: &mut Checker) {
    let path = KeyPath::of("msteams");
    let missing = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
    match teams.incident_channels {
        IncidentChannels::Channel if missing(&teams.team_id) => c.report(
            &path.key("incident_channels"),
            Part::Value,
            "incident channels need `team_id`: the team (its group id) to make them in".into(),
        ),
        IncidentChannels::Thread if missing(&teams.incidents_channel) => c.report(
            &path.key("incident_channels"),
            Part::Value,
            "incident threads need `incidents_channel`: the channel id (19:…) to start them in"
                .into(),
        ),
        _ => {}
    }
}

/// `[discord] incident_channels` and `[msteams] incident_channels`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentChannels {
    #[default]
    Channel,
    Thread,
}

/// How long a Discord command may run before a deferred answer, unless configured.
pub const DISCORD_REPLY_WITHIN: std::time::Duration = std::time::Duration::from_millis(2500);

fn check_discord(discord: &DiscordConfig, c: &mut Checker) {
    let path = KeyPath::of("discord");
    if discord.incident_channels == IncidentChannels::Thread
        && discord
            .threads_channel
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
    {
        c.report(
            &path.key("incident_channels"),
            Part::Value,
            "incident threads need `threads_channel`: the channel (id or name) to start them in"
                .into(),
        );
    }
    if let Some(text) = &discord.reply_within {
        match humantime::parse_duration(text) {
            Ok(d) if d < std::time::Duration::from_secs(3) => {}
            Ok(_) => c.report(
                &path.key("reply_within"),
                Part::Value,
                format!("`{text}`: Discord gives up after 3 seconds; answer sooner (e.g. `2s`)"),
            ),
            Err(e) => c.report(
                &path.key("reply_within"),
                Part::Value,
                format!("invalid duration `{text}` ({e}); write e.g. `2s` or `1500ms`"),
            ),
        }
    }
}

/// `[console]`: the terminal chat platform (`tocsin console`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConsoleConfig {
    pub enabled: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `[[users]]`: a person who can be paged or run commands.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserConfig {
    /// A slug, unique among users.
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    /// IANA time zone name, checked against chrono-tz.
    pub time_zone: String,
    /// E.164: `+` then 8 to 15 digits.
    pub phone: Option<String>,
    #[serde(default = "responder")]
    pub role: Role,
    /// The user's identity on each chat platform, by platform name.
    #[serde(default)]
    pub chat: BTreeMap<String, String>,
    /// How the user is paged; empty: chat at once, SMS after a minute, a call after two.
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
    /// When the user works, in their time zone, for reports' out-of-hours pages:
    /// `Mon-Fri 09:00-17:00` (the default), spans joined by `;`, or `none`.
    pub working_hours: Option<String>,
}

fn responder() -> Role {
    Role::Responder
}

/// Reports' settings: each user's working hours (checked at load; the default for a user
/// without any).
pub fn report_settings(config: &Config) -> bot_core::reports::ReportSettings {
    let working_hours = config
        .users
        .iter()
        .filter_map(|u| Some((u.id.clone(), u.working_hours.as_deref()?.parse().ok()?)))
        .collect();
    bot_core::reports::ReportSettings { working_hours }
}

/// `[[teams]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TeamConfig {
    pub id: TeamId,
    pub name: String,
    /// Ids of users declared in `[[users]]`.
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// `[[schedules]]`: who is on call when; [`Config::schedules`] hands it to the on-call
/// computation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScheduleConfig {
    pub id: String,
    pub name: String,
    /// IANA time zone name in which the layers' hand-offs and restrictions are written,
    /// unless a layer names its own.
    pub time_zone: String,
    /// In increasing precedence: a later layer wins wherever it has someone on call.
    #[serde(default)]
    pub layers: Vec<LayerConfig>,
}

/// `[[schedules.layers]]`: a rotation through `members`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LayerConfig {
    pub name: String,
    /// Ids of users, in rotation order.
    #[serde(default)]
    pub members: Vec<UserId>,
    /// How long each member is on call: a humantime duration (`"1w"`), longer than zero.
    pub rotation: String,
    /// When the rotation starts, as a local date-time in the layer's zone
    /// (`"2026-11-23T09:00:00"`, a [`NaiveDateTime`]).
    #[serde(deserialize_with = "quoted_or_bare")]
    pub handoff: String,
    /// Windows outside which this layer puts nobody on call; none means always.
    #[serde(default)]
    pub restrictions: Vec<RestrictionConfig>,
    /// IANA time zone name of `handoff` and `restrictions` when it differs from the
    /// schedule's, so that a follow-the-sun layer keeps its own team's local hours across
    /// the other team's daylight-saving changes. Absent: the schedule's zone.
    pub time_zone: Option<String>,
}

/// `[[schedules.layers.restrictions]]`: a daily (or, with `day`, weekly) window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RestrictionConfig {
    /// `mon`..`sun`; absent means every day.
    pub day: Option<Weekday>,
    /// `HH:MM` in the layer's zone.
    #[serde(deserialize_with = "quoted_or_bare")]
    pub start: String,
    /// `HH:MM` in the layer's zone; not after `start` means the window crosses midnight
    /// (equal to it: a whole day).
    #[serde(deserialize_with = "quoted_or_bare")]
    pub end: String,
}

/// Reads a date-time or time written quoted or as a bare TOML value (`09:00`,
/// `2026-11-23T09:00:00`): both read naturally, and without this the bare form fails with
/// "invalid type: map". The text is checked with the other values after parsing.
fn quoted_or_bare<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Text;

    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date-time or time such as \"2026-11-23T09:00:00\" or \"09:00\"")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_owned())
        }

        // toml hands its own date-times to serde as a one-entry map.
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
            let bare = serde::de::value::MapAccessDeserializer::new(map);
            toml::value::Datetime::deserialize(bare).map(|datetime| datetime.to_string())
        }
    }

    deserializer.deserialize_any(Text)
}

/// `[[escalation_policies]]`: whom to page, in order, until someone acknowledges. Parsed and
/// validated only: the escalation engine comes later.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EscalationPolicyConfig {
    pub id: String,
    /// How many times to go through the levels again after the last one.
    #[serde(default)]
    pub repeat: u32,
    #[serde(default)]
    pub levels: Vec<LevelConfig>,
}

/// `[[escalation_policies.levels]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LevelConfig {
    /// How long to wait for an acknowledgement before the next level: a humantime duration.
    #[serde(default = "five_minutes")]
    pub timeout: String,
    /// Each `user:ID`, `schedule:ID` or `team:ID`.
    #[serde(default)]
    pub targets: Vec<String>,
}

fn five_minutes() -> String {
    "5m".to_owned()
}

/// `[[services]]`: what breaks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServiceConfig {
    pub id: ServiceId,
    pub name: String,
    pub description: Option<String>,
    pub team: Option<TeamId>,
    pub escalation_policy: Option<String>,
    /// Where the service's alert cards are posted: a console room or chat channel name.
    #[serde(default = "alerts_channel")]
    pub alerts_channel: String,
    /// Alert severities that are high urgency (page at once); the others are low urgency
    /// (PagerDuty's severity-based urgency). Default: critical and error.
    #[serde(default = "high_urgency")]
    pub high_urgency: Vec<AlertSeverity>,
    #[serde(default)]
    pub integrations: Vec<IntegrationConfig>,
    #[serde(default)]
    pub heartbeats: Vec<HeartbeatConfig>,
}

fn alerts_channel() -> String {
    "alerts".to_owned()
}

fn high_urgency() -> Vec<AlertSeverity> {
    vec![AlertSeverity::Critical, AlertSeverity::Error]
}

/// `[[services.heartbeats]]`: a job that must check in every `interval`; when no ping
/// arrives within `interval` + `grace`, an alert opens on the service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HeartbeatConfig {
    /// Unique within the service; a slug.
    pub name: String,
    pub interval: String,
    #[serde(default = "one_minute")]
    pub grace: String,
    /// The environment variable holding the heartbeat's secret key (part of its ping URL).
    pub key_env: String,
}

fn one_minute() -> String {
    "1m".to_owned()
}

/// A duration as written in the file (`5m`, `1h 30m`); `None` when it does not parse,
/// which [`Config::parse`] has already reported.
pub fn duration(text: &str) -> Option<chrono::Duration> {
    humantime::parse_duration(text)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
}

/// `[[services.integrations]]`: an alert source. Parsed and validated only: the endpoints that
/// receive alerts come later.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IntegrationConfig {
    /// Unique within the service.
    pub name: String,
    pub kind: IntegrationKind,
    /// The name of the environment variable holding the secret integration key.
    pub key_env: String,
    /// For `kind = "generic"` only: where in the JSON body the alert's fields are.
    pub mapping: Option<adapters::alerts::generic::Mapping>,
}

impl IntegrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Alertmanager => "alertmanager",
            IntegrationKind::Grafana => "grafana",
            IntegrationKind::Pagerduty => "pagerduty",
            IntegrationKind::Generic => "generic",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    Alertmanager,
    Grafana,
    Pagerduty,
    Generic,
}

impl Config {
    /// Reads and validates a file. All problems found, not just the first.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let origin = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&origin, &text),
            Err(err) => Err(ConfigErrors(vec![Problem {
                file: origin,
                line: None,
                key: String::new(),
                message: format!("cannot read the file: {err}"),
            }])),
        }
    }

    /// Same from a string; `origin` is the file name used in messages.
    pub fn parse(origin: &str, text: &str) -> Result<Config, ConfigErrors> {
        let document = match DeTable::parse(text) {
            Ok(document) => document,
            Err(err) => {
                return Err(ConfigErrors(vec![Problem {
                    file: origin.to_owned(),
                    line: err.span().map(|span| line_at(text, span.start)),
                    key: String::new(),
                    message: err.message().to_owned(),
                }]));
            }
        };
        let mut checker = Checker {
            file: origin,
            text,
            document: document.get_ref(),
            problems: Vec::new(),
        };

        // serde stops at the first type error but serde_ignored has seen every unknown key up
        // to there, so both kinds are reported together.
        let mut unknown = Vec::new();
        let mut note_unknown = |path: serde_ignored::Path<'_>| unknown.push(KeyPath::from(&path));
        let parsed: Result<Config, _> =
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
                toml::de::Deserializer::from(document.clone()),
                &mut note_unknown,
            ));
        for path in &unknown {
            checker.report(path, Part::Key, "unknown key".to_owned());
        }
        let config = match parsed {
            Ok(config) => {
                config.check(&mut checker);
                Some(config)
            }
            Err(err) => {
                let key = match err.path().to_string() {
                    root if root == "." => String::new(),
                    key => key,
                };
                let err = err.into_inner();
                checker.problems.push(Problem {
                    file: origin.to_owned(),
                    line: err.span().map(|span| line_at(text, span.start)),
                    key,
                    message: err.message().to_owned(),
                });
                None
            }
        };

        let mut problems = checker.problems;
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => {
                problems.sort_by_key(|problem| problem.line);
                Err(ConfigErrors(problems))
            }
        }
    }

    /// The directory to mirror into the store.
    pub fn directory(&self) -> Directory {
        Directory {
            users: self
                .users
                .iter()
                .map(|user| User {
                    id: user.id.clone(),
                    name: user.name.clone(),
                    email: user.email.clone(),
                    time_zone: user.time_zone.clone(),
                    phone: user.phone.clone(),
                    role: user.role,
                    chat: user.chat.clone(),
                })
                .collect(),
            teams: self
                .teams
                .iter()
                .map(|team| Team {
                    id: team.id.clone(),
                    name: team.name.clone(),
                    members: team.members.clone(),
                })
                .collect(),
            services: self
                .services
                .iter()
                .map(|service| Service {
                    id: service.id.clone(),
                    name: service.name.clone(),
                    description: service.description.clone(),
                    team: service.team.clone(),
                    escalation_policy: service.escalation_policy.clone(),
                })
                .collect(),
        }
    }

    /// `incidents.update_reminder` as a [`chrono::Duration`], `None` when off or absent.
    pub fn update_reminder(&self) -> Option<chrono::Duration> {
        match self.incidents.update_reminder.as_deref() {
            None | Some("off") => None,
            Some(text) => duration(text),
        }
    }

    /// `incidents.update_reminder_by_severity`, each "off" as None.
    pub fn update_reminder_by_severity(
        &self,
    ) -> std::collections::HashMap<bot_core::model::Severity, Option<chrono::Duration>> {
        self.incidents
            .update_reminder_by_severity
            .iter()
            .map(|(severity, text)| {
                let every = match text.as_str() {
                    "off" => None,
                    text => duration(text),
                };
                (*severity, every)
            })
            .collect()
    }

    /// Every schedule, for the on-call computation, each passing [`Schedule::validate`].
    ///
    /// # Panics
    ///
    /// Only on a `Config` that did not come from [`Config::parse`] (or [`Config::load`]):
    /// those have had every zone, duration, hand-off and time checked, so converting them
    /// cannot fail here.
    pub fn schedules(&self) -> Vec<Schedule> {
        const CHECKED: &str = "validated by Config::parse";
        let zone = |name: &str| name.parse::<Tz>().expect(CHECKED);
        self.schedules
            .iter()
            .map(|schedule| Schedule {
                id: schedule.id.clone(),
                name: schedule.name.clone(),
                time_zone: zone(&schedule.time_zone),
                layers: schedule
                    .layers
                    .iter()
                    .map(|layer| Layer {
                        name: layer.name.clone(),
                        members: layer.members.clone(),
                        rotation: duration(&layer.rotation).expect(CHECKED),
                        handoff: local_date_time(&layer.handoff).expect(CHECKED),
                        restrictions: layer
                            .restrictions
                            .iter()
                            .map(|restriction| Restriction {
                                day: restriction.day,
                                start: time_of_day(&restriction.start).expect(CHECKED),
                                end: time_of_day(&restriction.end).expect(CHECKED),
                            })
                            .collect(),
                        time_zone: layer.time_zone.as_deref().map(zone),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The checks serde cannot express: formats, uniqueness and references between sections.
    fn check(&self, c: &mut Checker) {
        actions::check(&self.actions, &self.roles, c);
        if let Some(discord) = &self.discord {
            check_discord(discord, c);
        }
        if let Some(teams) = &self.msteams {
            check_msteams(teams, c);
            // Teams finds a channel by name only through Graph, in the configured team.
            if teams.team_id.is_none() {
                for (i, service) in self.services.iter().enumerate() {
                    if !service.alerts_channel.contains(':') {
                        c.report(
                            &KeyPath::of("services").at(i).key("alerts_channel"),
                            Part::Value,
                            format!(
                                "`{}` is a name, and Microsoft Teams finds channels by name only with \
                                 [msteams] team_id: give the channel's id (19:…@thread.tacv2) or set team_id",
                                service.alerts_channel
                            ),
                        );
                    }
                }
            }
        }
        if let Some(text) = self.incidents.update_reminder.as_deref()
            && text != "off"
        {
            c.duration(&KeyPath::of("incidents").key("update_reminder"), text);
        }
        if let Some(template) = &self.incidents.conference_url {
            // Checked as the link it becomes, so that a typo shows now, not on every card.
            let url = reqwest::Url::parse(&template.replace("{number}", "42"));
            let web =
                url.is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !web {
                c.report(
                    &KeyPath::of("incidents").key("conference_url"),
                    Part::Value,
                    format!(
                        "`{template}` must be an http:// or https:// URL ({{number}} is filled in), \
                         such as https://meet.jit.si/tocsin-inc-{{number}}"
                    ),
                );
            }
        }
        if let Some(template) = &self.incidents.channel_name {
            let rest = template
                .replace("{number}", "1")
                .replace("{date}", "20261124")
                .replace("{slug}", "x");
            let ok = rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !template.contains("{number}") && !template.contains("{slug}") {
                c.report(
                    &KeyPath::of("incidents").key("channel_name"),
                    Part::Value,
                    "the channel name needs {number} or {slug}, or every incident gets the same channel"
                        .into(),
                );
            } else if !ok {
                c.report(
                    &KeyPath::of("incidents").key("channel_name"),
                    Part::Value,
                    format!(
                        "`{template}`: besides {{number}}, {{date}} and {{slug}}, use lowercase letters, \
                         digits, `-` and `_` (what every chat platform accepts in a channel name)"
                    ),
                );
            }
        }
        for (severity, text) in &self.incidents.update_reminder_by_severity {
            if text != "off" {
                c.duration(
                    &KeyPath::of("incidents")
                        .key("update_reminder_by_severity")
                        .key(severity.as_str()),
                    text,
                );
            }
        }

        let users = c.ids("users", "user", self.users.iter().map(|u| u.id.as_str()));
        let teams = c.ids("teams", "team", self.teams.iter().map(|t| t.id.as_str()));
        let schedules = c.ids(
            "schedules",
            "schedule",
            self.schedules.iter().map(|s| s.id.as_str()),
        );
        let policies = c.ids(
            "escalation_policies",
            "escalation policy",
            self.escalation_policies.iter().map(|p| p.id.as_str()),
        );
        let services = c.ids(
            "services",
            "service",
            self.services.iter().map(|s| s.id.as_str()),
        );
        for (key, value) in [
            ("inbound_per_second", self.limits.inbound_per_second),
            ("inbound_burst", self.limits.inbound_burst),
        ] {
            if value == 0 {
                c.report(
                    &KeyPath::of("limits").key(key),
                    Part::Value,
                    "must be greater than 0".into(),
                );
            }
        }
        statuspage::check(&self.statuspage, &services, c);
        postmortem::check(&self.postmortem, c);
        trackers::check(&self.trackers, c);

        // One chat identity belongs to one person, or a button press could not be attributed.
        let mut identities: HashMap<(&str, &str), (&str, KeyPath)> = HashMap::new();
        for (i, user) in self.users.iter().enumerate() {
            let at = KeyPath::of("users").at(i);
            c.time_zone(&at.key("time_zone"), &user.time_zone);
            if let Some(Err(e)) = user
                .working_hours
                .as_deref()
                .map(str::parse::<bot_core::reports::WorkingHours>)
            {
                c.report(&at.key("working_hours"), Part::Value, e);
            }
            if let Some(phone) = &user.phone
                && !is_e164(phone)
            {
                c.report(
                    &at.key("phone"),
                    Part::Value,
                    format!("phone `{phone}` is not E.164: write `+` then 8 to 15 digits"),
                );
            }
            for (platform, identity) in &user.chat {
                let path = at.key("chat").key(platform);
                if !CHAT_PLATFORMS.contains(&platform.as_str()) {
                    c.report(
                        &path,
                        Part::Key,
                        format!(
                            "unknown chat platform `{platform}`; expected one of: {}",
                            CHAT_PLATFORMS.join(" ")
                        ),
                    );
                }
                match identities.get(&(platform.as_str(), identity.as_str())) {
                    Some((owner, first)) => {
                        let message = format!(
                            "{platform} identity `{identity}` already belongs to user `{owner}`{}",
                            c.first_at(first)
                        );
                        c.report(&path, Part::Value, message);
                    }
                    None => {
                        let key = (platform.as_str(), identity.as_str());
                        identities.insert(key, (user.id.as_str(), path));
                    }
                }
            }
        }

        if let Some(interval) = &self.paging.attempt_interval {
            c.duration(&KeyPath::of("paging").key("attempt_interval"), interval);
        }
        if let Some(service) = &self.paging.hotline_service
            && !self.services.iter().any(|s| &s.id == service)
        {
            c.report(
                &KeyPath::of("paging").key("hotline_service"),
                Part::Value,
                format!("no service `{service}`"),
            );
        }
        for (i, user) in self.users.iter().enumerate() {
            for (j, rule) in user.notify.iter().enumerate() {
                let at = KeyPath::of("users").at(i).key("notify").at(j);
                if !NOTIFY_CHANNELS.contains(&rule.channel.as_str()) {
                    c.report(
                        &at.key("channel"),
                        Part::Value,
                        format!(
                            "unknown channel `{}`; expected one of: {}",
                            rule.channel,
                            NOTIFY_CHANNELS.join(" ")
                        ),
                    );
                }
                if rule.delay != "0m" && rule.delay != "0s" {
                    c.duration(&at.key("delay"), &rule.delay);
                }
                let needs = match rule.channel.as_str() {
                    "webhook" if rule.to.is_none() => {
                        Some("a webhook rule needs `to`, the URL to POST to")
                    }
                    "email" if rule.to.is_none() && user.email.is_none() => {
                        Some("an e-mail rule needs `to` or the user's `email`")
                    }
                    "sms" | "voice" if rule.to.is_none() && user.phone.is_none() => {
                        Some("an SMS or voice rule needs `to` or the user's `phone`")
                    }
                    _ => None,
                };
                if let Some(message) = needs {
                    c.report(&at.key("to"), Part::Value, message.to_owned());
                }
            }
        }

        for (i, team) in self.teams.iter().enumerate() {
            let at = KeyPath::of("teams").at(i);
            for (j, member) in team.members.iter().enumerate() {
                c.reference(&at.key("members").at(j), "user", member.as_str(), &users);
            }
        }

        for (i, schedule) in self.schedules.iter().enumerate() {
            let at = KeyPath::of("schedules").at(i);
            let zone = c.time_zone(&at.key("time_zone"), &schedule.time_zone);
            if schedule.layers.is_empty() {
                c.report(
                    &at.key("layers"),
                    Part::Value,
                    format!("schedule `{}` has no layers", schedule.id),
                );
            }
            for (j, layer) in schedule.layers.iter().enumerate() {
                let at = at.key("layers").at(j);
                if layer.members.is_empty() {
                    c.report(
                        &at.key("members"),
                        Part::Value,
                        format!("layer `{}` has no members", layer.name),
                    );
                }
                for (k, member) in layer.members.iter().enumerate() {
                    c.reference(&at.key("members").at(k), "user", member.as_str(), &users);
                }
                c.duration(&at.key("rotation"), &layer.rotation);
                // On-call is computed to the minute; a second more would be silently dropped.
                if duration(&layer.rotation)
                    .is_some_and(|d| d.subsec_nanos() != 0 || d.num_seconds() % 60 != 0)
                {
                    c.report(
                        &at.key("rotation"),
                        Part::Value,
                        format!(
                            "rotation `{}` must be a whole number of minutes",
                            layer.rotation
                        ),
                    );
                }
                // A layer's own zone replaces the schedule's; when it is not a zone, the
                // hand-off cannot be checked against it (and the zone is reported already).
                let zone = match &layer.time_zone {
                    Some(name) => c.time_zone(&at.key("time_zone"), name),
                    None => zone,
                };
                c.handoff(&at.key("handoff"), &layer.handoff, zone);
                for (k, restriction) in layer.restrictions.iter().enumerate() {
                    let at = at.key("restrictions").at(k);
                    c.time_of_day(&at.key("start"), &restriction.start);
                    c.time_of_day(&at.key("end"), &restriction.end);
                }
            }
        }

        for (i, policy) in self.escalation_policies.iter().enumerate() {
            let at = KeyPath::of("escalation_policies").at(i);
            if policy.levels.is_empty() {
                c.report(
                    &at.key("levels"),
                    Part::Value,
                    format!("escalation policy `{}` has no levels", policy.id),
                );
            }
            for (j, level) in policy.levels.iter().enumerate() {
                let at = at.key("levels").at(j);
                c.duration(&at.key("timeout"), &level.timeout);
                if level.targets.is_empty() {
                    c.report(
                        &at.key("targets"),
                        Part::Value,
                        "a level needs at least one target".to_owned(),
                    );
                }
                for (k, target) in level.targets.iter().enumerate() {
                    let path = at.key("targets").at(k);
                    match target.split_once(':') {
                        Some(("user", id)) => c.reference(&path, "user", id, &users),
                        Some(("schedule", id)) => c.reference(&path, "schedule", id, &schedules),
                        Some(("team", id)) => c.reference(&path, "team", id, &teams),
                        _ => c.report(
                            &path,
                            Part::Value,
                            format!(
                                "target `{target}` must be `user:ID`, `schedule:ID` or `team:ID`"
                            ),
                        ),
                    }
                }
            }
        }

        for (i, service) in self.services.iter().enumerate() {
            let at = KeyPath::of("services").at(i);
            if let Some(team) = &service.team {
                c.reference(&at.key("team"), "team", team.as_str(), &teams);
            }
            if let Some(policy) = &service.escalation_policy {
                c.reference(
                    &at.key("escalation_policy"),
                    "escalation policy",
                    policy,
                    &policies,
                );
            }
            c.distinct(
                "integration name",
                service
                    .integrations
                    .iter()
                    .enumerate()
                    .map(|(j, integration)| {
                        (
                            at.key("integrations").at(j).key("name"),
                            integration.name.as_str(),
                        )
                    }),
            );
            for (j, integration) in service.integrations.iter().enumerate() {
                let at = at.key("integrations").at(j);
                c.env_var(&at.key("key_env"), &integration.key_env);
                match (&integration.mapping, integration.kind) {
                    (None, IntegrationKind::Generic) => c.report(
                        &at.key("mapping"),
                        Part::Value,
                        "a generic integration needs a [services.integrations.mapping] with at \
                         least `summary` and `dedup_key` (JSON pointers)"
                            .to_owned(),
                    ),
                    (Some(_), kind) if kind != IntegrationKind::Generic => c.report(
                        &at.key("mapping"),
                        Part::Key,
                        format!(
                            "only generic integrations take a mapping; this one is {}",
                            kind.as_str()
                        ),
                    ),
                    (Some(mapping), _) => {
                        if let Err(message) = mapping.validate() {
                            c.report(&at.key("mapping"), Part::Value, message);
                        }
                    }
                    (None, _) => {}
                }
            }
            c.distinct(
                "heartbeat name",
                service.heartbeats.iter().enumerate().map(|(j, heartbeat)| {
                    (
                        at.key("heartbeats").at(j).key("name"),
                        heartbeat.name.as_str(),
                    )
                }),
            );
            for (j, heartbeat) in service.heartbeats.iter().enumerate() {
                let at = at.key("heartbeats").at(j);
                c.slug(&at.key("name"), &heartbeat.name);
                c.duration(&at.key("interval"), &heartbeat.interval);
                c.duration(&at.key("grace"), &heartbeat.grace);
                c.env_var(&at.key("key_env"), &heartbeat.key_env);
            }
        }
    }
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based; `None` when the problem has no place in the file (e.g. it cannot be read).
    pub line: Option<usize>,
    /// The full key path, e.g. `services[0].team`; empty when the problem is not about a key
    /// (a syntax error).
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    /// `tocsin.toml:12: key `services[0].team`: no team `paymnts``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": key `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything wrong with a config file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A key's place in the document, e.g. `services[0].integrations[1].key_env`: both what a
/// problem names and how its line is found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    fn of(key: &str) -> KeyPath {
        KeyPath(vec![Segment::Key(key.to_owned())])
    }

    fn key(&self, key: &str) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    fn at(&self, index: usize) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }
}

impl From<&serde_ignored::Path<'_>> for KeyPath {
    fn from(path: &serde_ignored::Path<'_>) -> KeyPath {
        match path {
            serde_ignored::Path::Root => KeyPath(Vec::new()),
            serde_ignored::Path::Seq { parent, index } => KeyPath::from(*parent).at(*index),
            serde_ignored::Path::Map { parent, key } => KeyPath::from(*parent).key(key),
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => KeyPath::from(*parent),
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Which end of `key = value` a problem points at: a misspelt key, or a bad value.
#[derive(Debug, Clone, Copy)]
enum Part {
    Key,
    Value,
}

/// Collects problems, placing each on its line by looking its key path up in the parsed
/// document (serde's structs have no spans).
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    document: &'a DeTable<'a>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, path: &KeyPath, part: Part, message: String) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line: self.line(path, part),
            key: path.to_string(),
            message,
        });
    }

    /// The 1-based line where `path`'s key or value starts. A path that is not written out
    /// (an empty list left out, say) gets the line of its nearest written ancestor.
    fn line(&self, path: &KeyPath, part: Part) -> Option<usize> {
        let mut span = None;
        let mut current: Option<&toml::Spanned<DeValue<'_>>> = None;
        for segment in &path.0 {
            let found = match segment {
                Segment::Key(key) => current
                    .map_or(Some(self.document), |value| value.get_ref().as_table())
                    .and_then(|table| table.get_key_value(key.as_str()))
                    .map(|(key, value)| (key.span(), value)),
                Segment::Index(index) => current
                    .and_then(|value| value.get_ref().as_array())
                    .and_then(|array| array.get(*index))
                    .map(|value| (value.span(), value)),
            };
            let Some((key_span, value)) = found else {
                break;
            };
            span = Some(match part {
                Part::Key => key_span,
                Part::Value => value.span(),
            });
            current = Some(value);
        }
        span.map(|span| line_at(self.text, span.start))
    }

    /// " (first at line N)", to point from a duplicate back at the original.
    fn first_at(&self, first: &KeyPath) -> String {
        match self.line(first, Part::Value) {
            Some(line) => format!(" (first at line {line})"),
            None => String::new(),
        }
    }

    /// Reports repeated values among `entries`; returns the distinct ones.
    fn distinct<'v>(
        &mut self,
        noun: &str,
        entries: impl Iterator<Item = (KeyPath, &'v str)>,
    ) -> HashSet<&'v str> {
        let mut seen: HashMap<&str, KeyPath> = HashMap::new();
        for (path, value) in entries {
            match seen.get(value) {
                Some(first) => {
                    let message = format!("duplicate {noun} `{value}`{}", self.first_at(first));
                    self.report(&path, Part::Value, message);
                }
                None => {
                    seen.insert(value, path);
                }
            }
        }
        seen.into_keys().collect()
    }

    /// Checks the `id` of every entry of `section`: a slug, and unique. Returns the ids, for
    /// checking references to them.
    fn ids<'v>(
        &mut self,
        section: &str,
        noun: &str,
        ids: impl Iterator<Item = &'v str>,
    ) -> HashSet<&'v str> {
        let entries: Vec<(KeyPath, &str)> = ids
            .enumerate()
            .map(|(i, id)| (KeyPath::of(section).at(i).key("id"), id))
            .collect();
        for (path, id) in &entries {
            self.slug_named(path, &format!("{noun} id"), id);
        }
        self.distinct(&format!("{noun} id"), entries.into_iter())
    }

    fn slug(&mut self, path: &KeyPath, name: &str) {
        self.slug_named(path, "name", name);
    }

    fn slug_named(&mut self, path: &KeyPath, what: &str, id: &str) {
        if !is_slug(id) {
            self.report(
                path,
                Part::Value,
                format!("{what} `{id}` must be lowercase letters, digits, `-` and `_`"),
            );
        }
    }

    fn reference(&mut self, path: &KeyPath, noun: &str, id: &str, known: &HashSet<&str>) {
        if !known.contains(id) {
            self.report(path, Part::Value, format!("no {noun} `{id}`"));
        }
    }

    fn time_zone(&mut self, path: &KeyPath, name: &str) -> Option<chrono_tz::Tz> {
        let zone = name.parse::<chrono_tz::Tz>().ok();
        if zone.is_none() {
            self.report(
                path,
                Part::Value,
                format!("unknown time zone `{name}`; use an IANA name such as `Europe/Berlin`"),
            );
        }
        zone
    }

    fn env_var(&mut self, path: &KeyPath, name: &str) {
        if !is_env_var_name(name) {
            self.report(
                path,
                Part::Value,
                format!(
                    "`{name}` is not an environment variable name (A-Z, 0-9 and `_`); \
                     name the variable that holds the key, not the key itself"
                ),
            );
        }
    }

    fn duration(&mut self, path: &KeyPath, text: &str) {
        let message = match humantime::parse_duration(text) {
            Ok(duration) if duration.is_zero() => {
                format!("duration `{text}` must be longer than zero")
            }
            // Beyond what chrono can hold (about 292 million years), so [`duration`] has none.
            Ok(duration) if chrono::Duration::from_std(duration).is_err() => {
                format!("duration `{text}` is too long")
            }
            Ok(_) => return,
            Err(err) => {
                format!("invalid duration `{text}` ({err}); write e.g. `5m`, `1h 30m`, `1w`")
            }
        };
        self.report(path, Part::Value, message);
    }

    /// A hand-off is a wall-clock time in the layer's zone, so it must also exist there:
    /// a time skipped by a daylight-saving change would make the rotation start nowhere.
    fn handoff(&mut self, path: &KeyPath, text: &str, zone: Option<chrono_tz::Tz>) {
        let message = match (local_date_time(text), zone) {
            (None, _) => format!(
                "invalid hand-off `{text}`: write a local date-time such as `2026-11-23T09:00:00`"
            ),
            (Some(local), _) if !is_whole_minute(local.time()) => {
                format!("hand-off `{text}` must be a whole minute, without seconds")
            }
            (Some(local), Some(zone)) if zone.from_local_datetime(&local).earliest().is_none() => {
                format!("hand-off `{text}` does not exist in {zone}: the clocks skip it")
            }
            (Some(_), _) => return,
        };
        self.report(path, Part::Value, message);
    }

    fn time_of_day(&mut self, path: &KeyPath, text: &str) {
        let message = match time_of_day(text) {
            None => format!("invalid time `{text}`: write `HH:MM`, e.g. `09:00`"),
            Some(time) if !is_whole_minute(time) => {
                format!("time `{text}` must be a whole minute: write `HH:MM`, e.g. `09:00`")
            }
            Some(_) => return,
        };
        self.report(path, Part::Value, message);
    }
}

/// A hand-off as [`quoted_or_bare`] left it (`2026-11-23T09:00:00`); `None` when it is not a
/// local date-time. The one reading shared by the check and [`Config::schedules`].
fn local_date_time(text: &str) -> Option<NaiveDateTime> {
    text.parse().ok()
}

/// A restriction's start or end as [`quoted_or_bare`] left it (`09:00`, `17:30:00`); `None`
/// when it is not a time of day. Shared like [`local_date_time`].
fn time_of_day(text: &str) -> Option<NaiveTime> {
    text.parse().ok()
}

/// Schedules are computed to the minute ([`Schedule::validate`] refuses anything finer).
fn is_whole_minute(time: NaiveTime) -> bool {
    time.second() == 0 && time.nanosecond() == 0
}

/// The 1-based line holding byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let before = &text.as_bytes()[..offset.min(text.len())];
    before.iter().filter(|&&byte| byte == b'\n').count() + 1
}

/// Ids appear in commands and URLs, so they are kept to characters that need no quoting.
fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Upper case only, by convention and because a pasted secret (the usual mistake) is almost
/// never all capitals.
fn is_env_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml");

    /// A small valid file for the tests to break one thing at a time.
    const BASE: &str = r#"
[[users]]
id = "alice"
name = "Alice"
time_zone = "America/New_York"
[users.chat]
console = "alice"

[[users]]
id = "bob"
name = "Bob"
time_zone = "Europe/Berlin"
[users.chat]
console = "bob"

[[teams]]
id = "payments"
name = "Payments"
members = ["alice", "bob"]

[[schedules]]
id = "primary"
name = "Primary"
time_zone = "America/New_York"
[[schedules.layers]]
name = "weekly"
members = ["alice", "bob"]
rotation = "1w"
handoff = "2026-11-23T09:00:00"

[[escalation_policies]]
id = "checkout"
[[escalation_policies.levels]]
targets = ["schedule:primary", "team:payments", "user:alice"]

[[services]]
id = "checkout"
name = "Checkout"
team = "payments"
escalation_policy = "checkout"
[[services.integrations]]
name = "prometheus"
kind = "alertmanager"
key_env = "CHECKOUT_KEY"
"#;

    /// `text` with `old`, which must occur exactly once, replaced by `new`.
    fn edit(text: &str, old: &str, new: &str) -> String {
        assert_eq!(text.matches(old).count(), 1, "`{old}` should occur once");
        text.replacen(old, new, 1)
    }

    /// The 1-based line of the `nth` (from 0) occurrence of `needle`.
    fn line_of(text: &str, needle: &str, nth: usize) -> usize {
        let (offset, _) = text.match_indices(needle).nth(nth).expect("needle in text");
        text[..offset].matches('\n').count() + 1
    }

    fn problems(text: &str) -> Vec<Problem> {
        match Config::parse("tocsin.toml", text) {
            Ok(_) => panic!("expected problems in:\n{text}"),
            Err(ConfigErrors(problems)) => problems,
        }
    }

    /// The single problem in `text`, as (line, key, message).
    fn only_problem(text: &str) -> (Option<usize>, String, String) {
        let problems = problems(text);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let Problem {
            line, key, message, ..
        } = problems[0].clone();
        (line, key, message)
    }

    fn example() -> String {
        std::fs::read_to_string(EXAMPLE).expect("the example file is in the repository")
    }

    /// Asserts that `text` has exactly one problem, about `key`, saying `message`, on the line
    /// where `needle` occurs for the `nth` time (from 0).
    fn assert_problem(text: &str, needle: &str, nth: usize, key: &str, message: &str) {
        let (line, actual_key, actual_message) = only_problem(text);
        assert_eq!(
            (line, actual_key.as_str(), actual_message.as_str()),
            (Some(line_of(text, needle, nth)), key, message),
            "in:\n{text}"
        );
    }

    #[test]
    fn the_example_loads_with_its_people_team_and_service() {
        let config = Config::load(Path::new(EXAMPLE)).unwrap_or_else(|errors| panic!("{errors}"));
        let directory = config.directory();

        let users: Vec<(&str, &str, Role)> = directory
            .users
            .iter()
            .map(|u| (u.id.as_str(), u.time_zone.as_str(), u.role))
            .collect();
        assert_eq!(
            users,
            [
                ("alice", "America/New_York", Role::Admin),
                ("bob", "America/New_York", Role::Commander),
                ("carla", "Europe/Berlin", Role::Responder),
                ("dieter", "Europe/Berlin", Role::Responder),
                ("erin", "Europe/London", Role::Viewer),
            ]
        );
        for user in &directory.users {
            assert_eq!(user.chat.get("console"), Some(&user.id.0), "{}", user.id);
        }
        assert_eq!(directory.teams.len(), 1);
        assert_eq!(directory.teams[0].id.as_str(), "payments");
        assert_eq!(directory.teams[0].members.len(), 4);
        assert_eq!(
            directory.services,
            [Service {
                id: "checkout".into(),
                name: "Checkout".into(),
                description: Some("Cart, payment and order confirmation".into()),
                team: Some("payments".into()),
                escalation_policy: Some("checkout".into()),
            }]
        );

        let schedules: Vec<&str> = config.schedules.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(schedules, ["checkout-primary", "checkout-secondary"]);
        let levels: Vec<(&str, Vec<&str>)> = config.escalation_policies[0]
            .levels
            .iter()
            .map(|l| {
                (
                    l.timeout.as_str(),
                    l.targets.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            levels,
            [
                ("5m", vec!["schedule:checkout-primary"]),
                ("5m", vec!["schedule:checkout-secondary"]),
                ("5m", vec!["team:payments"]),
            ]
        );
        let integration = &config.services[0].integrations[0];
        assert_eq!(integration.kind, IntegrationKind::Alertmanager);
        assert_eq!(integration.key_env, "CHECKOUT_ALERTMANAGER_KEY");
        assert_eq!(
            config.update_reminder(),
            Some(chrono::Duration::minutes(30))
        );
    }

    #[test]
    fn no_file_means_console_on_announcements_in_incidents_and_no_reminder() {
        let config = Config::default();
        assert!(config.console.enabled);
        assert_eq!(config.incidents.announcements_channel, "incidents");
        assert_eq!(config.update_reminder(), None);
        assert_eq!(Config::parse("empty.toml", ""), Ok(Config::default()));
    }

    #[test]
    fn teams_needs_ids_or_a_team_to_find_named_channels() {
        let base = "[[services]]\nid = \"web\"\nname = \"Web\"\n";
        let errors = Config::parse(
            "t.toml",
            &format!("{base}[msteams]\nincidents_channel = \"19:a@thread.tacv2\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            errors.contains("finds channels by name only with [msteams] team_id"),
            "{errors}"
        );
        let with_team = format!(
            "{base}[msteams]\nteam_id = \"e5c5e0f1-1111-4222-8333-444455556666\"\nincidents_channel = \"19:a@thread.tacv2\"\n"
        );
        assert!(Config::parse("t.toml", &with_team).is_ok());
        let threads_without_channel = Config::parse(
            "t.toml",
            "[msteams]\nteam_id = \"e5c5e0f1-1111-4222-8333-444455556666\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            threads_without_channel.contains("incidents_channel"),
            "{threads_without_channel}"
        );
    }

    #[test]
    fn update_reminder_off_means_none() {
        let config = Config::parse("t.toml", "[incidents]\nupdate_reminder = \"off\"\n");
        assert_eq!(config.map(|c| c.update_reminder()), Ok(None));
        let config = Config::parse("t.toml", "[incidents]\nupdate_reminder = \"1h 15m\"\n");
        assert_eq!(
            config.map(|c| c.update_reminder()),
            Ok(Some(chrono::Duration::minutes(75)))
        );
    }

    #[test]
    fn a_misspelt_key_in_the_example_is_reported_with_its_line_and_path() {
        let text = edit(&example(), "escalation_policy =", "escalaton_policy =");
        let errors = Config::parse("tocsin.toml", &text).expect_err("misspelt key");
        let line = line_of(&text, "escalaton_policy =", 0);
        assert_eq!(
            errors.to_string(),
            format!("tocsin.toml:{line}: key `services[0].escalaton_policy`: unknown key")
        );
    }

    #[test]
    fn every_misspelt_key_is_reported_not_just_the_first() {
        let text = edit(&example(), "escalation_policy =", "escalaton_policy =");
        let text = edit(&text, "update_reminder =", "update_remindr =");
        let found: Vec<(Option<usize>, String)> = problems(&text)
            .into_iter()
            .map(|p| (p.line, p.key))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some(line_of(&text, "update_remindr =", 0)),
                    "incidents.update_remindr".to_owned()
                ),
                (
                    Some(line_of(&text, "escalaton_policy =", 0)),
                    "services[0].escalaton_policy".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn unknown_keys_in_nested_tables_and_arrays_of_tables_have_full_paths() {
        let text = edit(
            BASE,
            "handoff = \"2026-11-23T09:00:00\"\n",
            "handoff = \"2026-11-23T09:00:00\"\n\
             [[schedules.layers.restrictions]]\nstart = \"09:00\"\nend = \"17:00\"\ndya = \"mon\"\n",
        );
        let text = format!("{text}\n[sevrer]\nlisten = \"0.0.0.0:8080\"\n");
        let found: Vec<(Option<usize>, String, String)> = problems(&text)
            .into_iter()
            .map(|p| (p.line, p.key, p.message))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some(line_of(&text, "dya =", 0)),
                    "schedules[0].layers[0].restrictions[0].dya".to_owned(),
                    "unknown key".to_owned()
                ),
                (
                    Some(line_of(&text, "[sevrer]", 0)),
                    "sevrer".to_owned(),
                    "unknown key".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let text = edit(BASE, "name = \"Bob\"", "name = \"Bob");
        let (line, key, message) = only_problem(&text);
        assert_eq!(line, Some(line_of(&text, "name = \"Bob", 0)));
        assert_eq!(key, "");
        assert_eq!(message, "invalid basic string, expected `\"`");
    }

    #[test]
    fn a_type_error_names_its_line_and_key() {
        let text = edit(
            BASE,
            "id = \"checkout\"\n[[escalation_policies.levels]]",
            "id = \"checkout\"\nrepeat = \"twice\"\n[[escalation_policies.levels]]",
        );
        assert_problem(
            &text,
            "repeat =",
            0,
            "escalation_policies[0].repeat",
            "invalid type: string \"twice\", expected u32",
        );
    }

    #[test]
    fn an_unknown_role_lists_the_roles() {
        let text = edit(
            BASE,
            "name = \"Bob\"\n",
            "name = \"Bob\"\nrole = \"owner\"\n",
        );
        assert_problem(
            &text,
            "role =",
            0,
            "users[1].role",
            "unknown variant `owner`, expected one of `viewer`, `responder`, `commander`, `admin`",
        );
    }

    #[test]
    fn a_missing_required_key_points_at_its_table() {
        let text = edit(BASE, "name = \"Bob\"\n", "");
        assert_problem(&text, "[[users]]", 1, "users[1]", "missing field `name`");
    }

    #[test]
    fn unknown_keys_before_a_type_error_are_reported_with_it() {
        let text = edit(BASE, "name = \"Alice\"", "nmae = \"Alice\"");
        let found: Vec<(String, String)> = problems(&text)
            .into_iter()
            .map(|p| (p.key, p.message))
            .collect();
        assert_eq!(
            found,
            [
                ("users[0]".to_owned(), "missing field `name`".to_owned()),
                ("users[0].nmae".to_owned(), "unknown key".to_owned()),
            ]
        );
    }

    #[test]
    fn duplicate_ids_are_reported_with_the_line_of_the_first() {
        let cases = [
            (
                "[[users]]\nid = \"alice\"\nname = \"Al\"\ntime_zone = \"UTC\"\n",
                "id = \"alice\"",
                "users[2].id",
                "user id",
            ),
            (
                "[[teams]]\nid = \"payments\"\nname = \"P\"\n",
                "id = \"payments\"",
                "teams[1].id",
                "team id",
            ),
            (
                "[[schedules]]\nid = \"primary\"\nname = \"P\"\ntime_zone = \"UTC\"\n\
                 [[schedules.layers]]\nname = \"l\"\nmembers = [\"bob\"]\nrotation = \"1d\"\n\
                 handoff = \"2026-11-23T09:00:00\"\n",
                "id = \"primary\"",
                "schedules[1].id",
                "schedule id",
            ),
            (
                "[[escalation_policies]]\nid = \"paging\"\n\
                 [[escalation_policies.levels]]\ntargets = [\"user:bob\"]\n\
                 [[escalation_policies]]\nid = \"paging\"\n\
                 [[escalation_policies.levels]]\ntargets = [\"user:bob\"]\n",
                "id = \"paging\"",
                "escalation_policies[2].id",
                "escalation policy id",
            ),
            (
                "[[services]]\nid = \"checkout\"\nname = \"Checkout again\"\n",
                "id = \"checkout\"",
                "services[1].id",
                "service id",
            ),
        ];
        for (added, needle, key, noun) in cases {
            let text = format!("{BASE}\n{added}");
            let count = text.matches(needle).count();
            let value = needle.trim_start_matches("id = ").trim_matches('"');
            let first = line_of(&text, needle, count - 2);
            let message = format!("duplicate {noun} `{value}` (first at line {first})");
            assert_problem(&text, needle, count - 1, key, &message);
        }
    }

    #[test]
    fn integration_names_are_unique_within_a_service_only() {
        let second = "[[services.integrations]]\nname = \"prometheus\"\nkind = \"grafana\"\nkey_env = \"K2\"\n";
        let text = format!("{BASE}{second}");
        let first = line_of(&text, "name = \"prometheus\"", 0);
        assert_problem(
            &text,
            "name = \"prometheus\"",
            1,
            "services[0].integrations[1].name",
            &format!("duplicate integration name `prometheus` (first at line {first})"),
        );

        let other = format!("[[services]]\nid = \"search\"\nname = \"Search\"\n{second}");
        assert!(Config::parse("t.toml", &format!("{BASE}{other}")).is_ok());
    }

    #[test]
    fn ids_must_be_slugs() {
        let text = format!("{BASE}[[services]]\nid = \"Check Out\"\nname = \"Checkout\"\n");
        assert_problem(
            &text,
            "id = \"Check Out\"",
            0,
            "services[1].id",
            "service id `Check Out` must be lowercase letters, digits, `-` and `_`",
        );
    }

    #[test]
    fn references_to_unknown_ids_are_reported() {
        let cases = [
            (
                "members = [\"alice\", \"bob\"]\n\n[[schedules]]",
                "members = [\"alice\", \"bobby\"]\n\n[[schedules]]",
                "teams[0].members[1]",
                "no user `bobby`",
            ),
            (
                "members = [\"alice\", \"bob\"]\nrotation",
                "members = [\"alice\", \"carol\"]\nrotation",
                "schedules[0].layers[0].members[1]",
                "no user `carol`",
            ),
            (
                "\"schedule:primary\"",
                "\"schedule:secondary\"",
                "escalation_policies[0].levels[0].targets[0]",
                "no schedule `secondary`",
            ),
            (
                "\"team:payments\"",
                "\"team:billing\"",
                "escalation_policies[0].levels[0].targets[1]",
                "no team `billing`",
            ),
            (
                "\"user:alice\"",
                "\"user:eve\"",
                "escalation_policies[0].levels[0].targets[2]",
                "no user `eve`",
            ),
            (
                "\"user:alice\"",
                "\"pager:alice\"",
                "escalation_policies[0].levels[0].targets[2]",
                "target `pager:alice` must be `user:ID`, `schedule:ID` or `team:ID`",
            ),
            (
                "team = \"payments\"",
                "team = \"paymnts\"",
                "services[0].team",
                "no team `paymnts`",
            ),
            (
                "escalation_policy = \"checkout\"",
                "escalation_policy = \"checkot\"",
                "services[0].escalation_policy",
                "no escalation policy `checkot`",
            ),
        ];
        for (old, new, key, message) in cases {
            assert_problem(&edit(BASE, old, new), new, 0, key, message);
        }
    }

    #[test]
    fn a_problem_reads_file_line_key_and_message() {
        let text = edit(BASE, "team = \"payments\"", "team = \"paymnts\"");
        let line = line_of(&text, "team = \"paymnts\"", 0);
        assert_eq!(
            Config::parse("tocsin.toml", &text).map_err(|e| e.to_string()),
            Err(format!(
                "tocsin.toml:{line}: key `services[0].team`: no team `paymnts`"
            ))
        );
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        let text = edit(
            BASE,
            "time_zone = \"Europe/Berlin\"",
            "time_zone = \"Europe/Berln\"",
        );
        assert_problem(
            &text,
            "Europe/Berln",
            0,
            "users[1].time_zone",
            "unknown time zone `Europe/Berln`; use an IANA name such as `Europe/Berlin`",
        );
        let text = edit(
            BASE,
            "name = \"Primary\"\ntime_zone = \"America/New_York\"",
            "name = \"Primary\"\ntime_zone = \"EST5\"",
        );
        assert_problem(
            &text,
            "EST5",
            0,
            "schedules[0].time_zone",
            "unknown time zone `EST5`; use an IANA name such as `Europe/Berlin`",
        );
    }

    #[test]
    fn inbound_limits_default_read_from_the_example_and_must_be_positive() {
        assert_eq!(
            Config::parse("t.toml", "").unwrap().limits,
            LimitsConfig {
                inbound_per_second: 100,
                inbound_burst: 500
            }
        );
        let text = format!("{}\n", example())
            .replace("inbound_per_second = 100", "inbound_per_second = 7")
            .replace("inbound_burst = 500", "inbound_burst = 9");
        let limits = Config::parse("t.toml", &text).unwrap().limits;
        assert_eq!((limits.inbound_per_second, limits.inbound_burst), (7, 9));

        let text = example().replace("inbound_burst = 500", "inbound_burst = 0");
        assert_problem(
            &text,
            "inbound_burst =",
            0,
            "limits.inbound_burst",
            "must be greater than 0",
        );
        let text = example().replace("inbound_per_second = 100", "inbound_per_second = 0");
        assert_problem(
            &text,
            "inbound_per_second =",
            0,
            "limits.inbound_per_second",
            "must be greater than 0",
        );
    }

    #[test]
    fn durations_must_parse_and_be_longer_than_zero() {
        let text = edit(BASE, "rotation = \"1w\"", "rotation = \"0s\"");
        assert_problem(
            &text,
            "rotation =",
            0,
            "schedules[0].layers[0].rotation",
            "duration `0s` must be longer than zero",
        );
        let text = edit(BASE, "rotation = \"1w\"", "rotation = \"1 wek\"");
        assert_problem(
            &text,
            "rotation =",
            0,
            "schedules[0].layers[0].rotation",
            "invalid duration `1 wek` (unknown time unit \"wek\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)); write e.g. `5m`, `1h 30m`, `1w`",
        );
        let text = edit(
            BASE,
            "[[escalation_policies.levels]]\n",
            "[[escalation_policies.levels]]\ntimeout = \"soon\"\n",
        );
        let (line, key, message) = only_problem(&text);
        assert_eq!(line, Some(line_of(&text, "timeout =", 0)));
        assert_eq!(key, "escalation_policies[0].levels[0].timeout");
        assert!(message.starts_with("invalid duration `soon`"), "{message}");
        let text = format!("[incidents]\nupdate_reminder = \"30\"\n{BASE}");
        let (line, key, message) = only_problem(&text);
        assert_eq!(line, Some(2));
        assert_eq!(key, "incidents.update_reminder");
        assert!(message.starts_with("invalid duration `30`"), "{message}");
    }

    #[test]
    fn phones_must_be_e164() {
        let text = edit(
            BASE,
            "name = \"Alice\"\n",
            "name = \"Alice\"\nphone = \"555-0100\"\n",
        );
        assert_problem(
            &text,
            "phone =",
            0,
            "users[0].phone",
            "phone `555-0100` is not E.164: write `+` then 8 to 15 digits",
        );
    }

    #[test]
    fn a_handoff_must_be_a_local_date_time_that_exists_in_the_zone() {
        let text = edit(
            BASE,
            "handoff = \"2026-11-23T09:00:00\"",
            "handoff = \"next monday\"",
        );
        assert_problem(
            &text,
            "handoff =",
            0,
            "schedules[0].layers[0].handoff",
            "invalid hand-off `next monday`: write a local date-time such as `2026-11-23T09:00:00`",
        );
        // US clocks jump from 02:00 to 03:00 on 8 March 2026.
        let text = edit(
            BASE,
            "handoff = \"2026-11-23T09:00:00\"",
            "handoff = \"2026-03-08T02:30:00\"",
        );
        assert_problem(
            &text,
            "handoff =",
            0,
            "schedules[0].layers[0].handoff",
            "hand-off `2026-03-08T02:30:00` does not exist in America/New_York: the clocks skip it",
        );
    }

    #[test]
    fn bare_toml_date_times_and_times_are_accepted() {
        let text = edit(
            BASE,
            "handoff = \"2026-11-23T09:00:00\"\n",
            "handoff = 2026-11-23T09:00:00\n\
             [[schedules.layers.restrictions]]\nday = \"mon\"\nstart = 09:00\nend = 17:30:00\n",
        );
        let config = Config::parse("t.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        let layer = &config.schedules[0].layers[0];
        assert_eq!(layer.handoff, "2026-11-23T09:00:00");
        assert_eq!(
            layer.restrictions,
            [RestrictionConfig {
                day: Some(Weekday::Mon),
                start: "09:00".into(),
                end: "17:30:00".into()
            }]
        );
    }

    #[test]
    fn restriction_times_must_be_times_of_day() {
        let text = edit(
            BASE,
            "handoff = \"2026-11-23T09:00:00\"\n",
            "handoff = \"2026-11-23T09:00:00\"\n\
             [[schedules.layers.restrictions]]\nstart = \"9am\"\nend = \"17:00\"\n",
        );
        assert_problem(
            &text,
            "start =",
            0,
            "schedules[0].layers[0].restrictions[0].start",
            "invalid time `9am`: write `HH:MM`, e.g. `09:00`",
        );
    }

    #[test]
    fn key_env_must_name_an_environment_variable() {
        let text = edit(
            BASE,
            "key_env = \"CHECKOUT_KEY\"",
            "key_env = \"s3cr3t-k3y\"",
        );
        assert_problem(
            &text,
            "key_env =",
            0,
            "services[0].integrations[0].key_env",
            "`s3cr3t-k3y` is not an environment variable name (A-Z, 0-9 and `_`); \
             name the variable that holds the key, not the key itself",
        );
    }

    const HEARTBEAT: &str = r#"
[[services.heartbeats]]
name = "nightly-backup"
interval = "24h"
key_env = "BACKUP_KEY"
"#;

    #[test]
    fn heartbeats_parse_with_a_default_grace_and_their_durations_are_checked() {
        let text = format!("{BASE}{HEARTBEAT}");
        let config = Config::parse("tocsin.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        let heartbeat = &config.services[0].heartbeats[0];
        assert_eq!(
            duration(&heartbeat.interval),
            Some(chrono::Duration::hours(24))
        );
        assert_eq!(
            duration(&heartbeat.grace),
            Some(chrono::Duration::minutes(1))
        );

        let text = edit(&text, "interval = \"24h\"", "interval = \"daily\"");
        let (line, key, message) = only_problem(&text);
        assert_eq!(line, Some(line_of(&text, "interval =", 0)));
        assert_eq!(key, "services[0].heartbeats[0].interval");
        assert!(message.starts_with("invalid duration `daily`"), "{message}");
    }

    #[test]
    fn heartbeat_names_are_unique_slugs_with_an_env_var_key() {
        let text = format!("{BASE}{HEARTBEAT}{HEARTBEAT}");
        let first = line_of(&text, "name = \"nightly-backup\"", 0);
        assert_problem(
            &text,
            "name = \"nightly-backup\"",
            1,
            "services[0].heartbeats[1].name",
            &format!("duplicate heartbeat name `nightly-backup` (first at line {first})"),
        );
        let text = edit(
            &format!("{BASE}{HEARTBEAT}"),
            "\"nightly-backup\"",
            "\"Nightly Backup\"",
        );
        assert_problem(
            &text,
            "name = \"Nightly Backup\"",
            0,
            "services[0].heartbeats[0].name",
            "name `Nightly Backup` must be lowercase letters, digits, `-` and `_`",
        );
        let text = edit(
            &format!("{BASE}{HEARTBEAT}"),
            "\"BACKUP_KEY\"",
            "\"tcn_abc\"",
        );
        let (_, key, _) = only_problem(&text);
        assert_eq!(key, "services[0].heartbeats[0].key_env");
    }

    #[test]
    fn a_generic_integration_needs_a_valid_mapping_and_only_generic_ones_take_one() {
        let generic = edit(BASE, "kind = \"alertmanager\"", "kind = \"generic\"");
        let (line, key, message) = only_problem(&generic);
        assert_eq!(key, "services[0].integrations[0].mapping");
        assert_eq!(
            line,
            Some(line_of(&generic, "[[services.integrations]]", 0))
        );
        assert!(
            message.starts_with("a generic integration needs"),
            "{message}"
        );

        let mapped = format!(
            "{generic}[services.integrations.mapping]\nsummary = \"/title\"\ndedup_key = \"/id\"\n"
        );
        let config = Config::parse("tocsin.toml", &mapped).unwrap_or_else(|e| panic!("{e}"));
        let mapping = config.services[0].integrations[0].mapping.as_ref().unwrap();
        assert_eq!(
            (mapping.summary.as_str(), mapping.dedup_key.as_str()),
            ("/title", "/id")
        );

        let bad_pointer = edit(&mapped, "\"/title\"", "\"title\"");
        let (_, key, _) = only_problem(&bad_pointer);
        assert_eq!(key, "services[0].integrations[0].mapping");

        let not_generic = edit(&mapped, "kind = \"generic\"", "kind = \"grafana\"");
        let (_, key, message) = only_problem(&not_generic);
        assert_eq!(key, "services[0].integrations[0].mapping");
        assert_eq!(
            message,
            "only generic integrations take a mapping; this one is grafana"
        );
    }

    #[test]
    fn alert_routing_defaults_and_unknown_urgency_severities() {
        let config = Config::parse("tocsin.toml", BASE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.services[0].alerts_channel, "alerts");
        assert_eq!(
            config.services[0].high_urgency,
            [AlertSeverity::Critical, AlertSeverity::Error]
        );
        let text = edit(
            BASE,
            "escalation_policy = \"checkout\"\n[[services.integrations]]",
            "escalation_policy = \"checkout\"\nhigh_urgency = [\"urgent\"]\n[[services.integrations]]",
        );
        let (line, key, message) = only_problem(&text);
        assert_eq!(line, Some(line_of(&text, "high_urgency", 0)));
        assert!(key.starts_with("services[0].high_urgency"), "{key}");
        assert!(message.contains("urgent"), "{message}");
    }

    #[test]
    fn notification_rules_name_a_known_channel_a_delay_and_somewhere_to_deliver() {
        let rules = "[[users.notify]]\nchannel = \"chat\"\n[[users.notify]]\nchannel = \"email\"\ndelay = \"1m\"\n";
        let text = edit(
            BASE,
            "[users.chat]\nconsole = \"bob\"\n",
            &format!("[users.chat]\nconsole = \"bob\"\n{rules}"),
        );
        let (line, key, message) = only_problem(&text);
        assert_eq!(line, Some(line_of(&text, "channel = \"email\"", 0) - 1));
        assert_eq!(key, "users[1].notify[1].to");
        assert_eq!(message, "an e-mail rule needs `to` or the user's `email`");

        let text = edit(&text, "channel = \"email\"", "channel = \"pigeon\"");
        let (line, key, message) = only_problem(&text);
        assert_eq!(line, Some(line_of(&text, "channel = \"pigeon\"", 0)));
        assert_eq!(key, "users[1].notify[1].channel");
        assert_eq!(
            message,
            "unknown channel `pigeon`; expected one of: chat webhook email sms voice"
        );

        let fine = edit(
            &text,
            "channel = \"pigeon\"\ndelay = \"1m\"",
            "channel = \"webhook\"\ndelay = \"1m\"\nto = \"https://hooks.example.com/page\"",
        );
        let config = Config::parse("tocsin.toml", &fine).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.users[1].notify[1].to.as_deref(),
            Some("https://hooks.example.com/page")
        );
        assert_eq!(config.users[1].notify[0].delay, "0m");
    }

    #[test]
    fn two_users_cannot_share_a_chat_identity_on_one_platform() {
        let text = edit(BASE, "console = \"bob\"", "console = \"alice\"");
        let first = line_of(&text, "console = \"alice\"", 0);
        assert_problem(
            &text,
            "console = \"alice\"",
            1,
            "users[1].chat.console",
            &format!(
                "console identity `alice` already belongs to user `alice` (first at line {first})"
            ),
        );
        // The same identity on different platforms is not a clash.
        let text = edit(
            BASE,
            "console = \"bob\"",
            "console = \"bob\"\nslack = \"alice\"",
        );
        assert!(Config::parse("t.toml", &text).is_ok());
    }

    #[test]
    fn chat_platforms_must_be_known() {
        let text = edit(
            BASE,
            "console = \"bob\"",
            "console = \"bob\"\nslak = \"U0123\"",
        );
        assert_problem(
            &text,
            "slak =",
            0,
            "users[1].chat.slak",
            "unknown chat platform `slak`; expected one of: console slack discord teams",
        );
    }

    #[test]
    fn a_policy_without_levels_is_reported_at_the_policy() {
        let text = edit(
            BASE,
            "[[escalation_policies.levels]]\ntargets = [\"schedule:primary\", \"team:payments\", \"user:alice\"]\n",
            "",
        );
        assert_problem(
            &text,
            "[[escalation_policies]]",
            0,
            "escalation_policies[0].levels",
            "escalation policy `checkout` has no levels",
        );
    }

    #[test]
    fn a_level_without_targets_is_reported() {
        let text = edit(
            BASE,
            "targets = [\"schedule:primary\", \"team:payments\", \"user:alice\"]",
            "targets = []",
        );
        assert_problem(
            &text,
            "targets = []",
            0,
            "escalation_policies[0].levels[0].targets",
            "a level needs at least one target",
        );
    }

    #[test]
    fn a_layer_without_members_is_reported() {
        let text = edit(
            BASE,
            "members = [\"alice\", \"bob\"]\nrotation",
            "members = []\nrotation",
        );
        assert_problem(
            &text,
            "members = []",
            0,
            "schedules[0].layers[0].members",
            "layer `weekly` has no members",
        );
    }

    #[test]
    fn a_schedule_without_layers_is_reported() {
        let text = edit(
            BASE,
            "[[schedules.layers]]\nname = \"weekly\"\nmembers = [\"alice\", \"bob\"]\nrotation = \"1w\"\nhandoff = \"2026-11-23T09:00:00\"\n",
            "",
        );
        assert_problem(
            &text,
            "[[schedules]]",
            0,
            "schedules[0].layers",
            "schedule `primary` has no layers",
        );
    }

    #[test]
    fn all_problems_are_reported_in_file_order_one_per_line() {
        let text = edit(
            BASE,
            "time_zone = \"Europe/Berlin\"",
            "time_zone = \"Mars/Olympus\"",
        );
        let text = edit(&text, "team = \"payments\"", "team = \"paymnts\"");
        let text = edit(
            &text,
            "name = \"Alice\"",
            "name = \"Alice\"\nnickname = \"al\"",
        );
        let errors = Config::parse("tocsin.toml", &text).expect_err("three problems");
        let lines: Vec<String> = errors.to_string().lines().map(str::to_owned).collect();
        assert_eq!(
            lines,
            [
                format!(
                    "tocsin.toml:{}: key `users[0].nickname`: unknown key",
                    line_of(&text, "nickname", 0)
                ),
                format!(
                    "tocsin.toml:{}: key `users[1].time_zone`: unknown time zone `Mars/Olympus`; \
                     use an IANA name such as `Europe/Berlin`",
                    line_of(&text, "Mars/Olympus", 0)
                ),
                format!(
                    "tocsin.toml:{}: key `services[0].team`: no team `paymnts`",
                    line_of(&text, "paymnts", 0)
                ),
            ]
        );
    }

    #[test]
    fn an_unreadable_file_is_one_problem_without_a_line() {
        let errors = Config::load(Path::new("/nonexistent/tocsin.toml")).expect_err("no file");
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].line, None);
        assert!(
            errors
                .to_string()
                .starts_with("/nonexistent/tocsin.toml: cannot read the file: "),
            "{errors}"
        );
    }

    /// BASE with a second layer, `europe`, in its own zone.
    fn with_europe_layer(handoff: &str, time_zone: &str) -> String {
        edit(
            BASE,
            "handoff = \"2026-11-23T09:00:00\"\n",
            &format!(
                "handoff = \"2026-11-23T09:00:00\"\n\
                 [[schedules.layers]]\nname = \"europe\"\nmembers = [\"bob\"]\nrotation = \"1w\"\n\
                 handoff = \"{handoff}\"\ntime_zone = \"{time_zone}\"\n"
            ),
        )
    }

    fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
            .expect("test instants are written %Y-%m-%d %H:%M")
            .and_utc()
    }

    #[test]
    fn the_example_schedules_convert_and_validate() {
        let config = Config::load(Path::new(EXAMPLE)).unwrap_or_else(|errors| panic!("{errors}"));
        let schedules = config.schedules();
        for schedule in &schedules {
            assert_eq!(schedule.validate(), Ok(()), "{}", schedule.id);
        }

        let primary = &schedules[0];
        assert_eq!(
            (primary.id.as_str(), primary.time_zone),
            ("checkout-primary", Tz::America__New_York)
        );
        let nine_to_nine = Restriction {
            day: None,
            start: NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
            end: NaiveTime::from_hms_opt(21, 0, 0).expect("a valid time"),
        };
        let layers: Vec<_> = primary
            .layers
            .iter()
            .map(|l| {
                (
                    l.name.as_str(),
                    l.members.iter().map(UserId::as_str).collect::<Vec<_>>(),
                    l.restrictions.clone(),
                    l.time_zone,
                )
            })
            .collect();
        assert_eq!(
            layers,
            [
                (
                    "base",
                    vec!["alice", "carla", "bob", "dieter"],
                    vec![],
                    None
                ),
                (
                    "americas",
                    vec!["alice", "bob"],
                    vec![nine_to_nine],
                    Some(Tz::America__New_York)
                ),
                (
                    "europe",
                    vec!["carla", "dieter"],
                    vec![nine_to_nine],
                    Some(Tz::Europe__Berlin)
                ),
            ]
        );
        let monday_nine = NaiveDateTime::parse_from_str("2026-11-23 09:00", "%Y-%m-%d %H:%M")
            .expect("a valid date-time");
        for layer in &primary.layers {
            assert_eq!(
                (layer.rotation, layer.handoff),
                (chrono::Duration::weeks(1), monday_nine),
                "{}",
                layer.name
            );
        }
        assert_eq!(schedules[1].id, "checkout-secondary");
        assert_eq!(schedules[1].time_zone, Tz::Europe__Berlin);
    }

    #[test]
    fn the_example_follows_the_sun_with_the_base_layer_in_the_gaps() {
        let config = Config::load(Path::new(EXAMPLE)).unwrap_or_else(|errors| panic!("{errors}"));
        let primary = &config.schedules()[0];
        let on_call = |at: &str| primary.on_call(&[], utc(at)).map(|user| user.0);

        // In December New York is on EST (UTC-5) and Berlin on CET (UTC+1). Every layer
        // hands off weekly at Monday 09:00 local, turn 0 from 2026-11-23, so any instant in
        // Tuesday 2026-12-01 or Wednesday 2026-12-02 local is turn 1 (the second member) of
        // every layer: base [alice, carla, bob, dieter] -> carla, americas [alice, bob] ->
        // bob, europe [carla, dieter] -> dieter.

        // 14:30 UTC = 09:30 New York, 15:30 Berlin: both windows open; europe is the later
        // layer, so it wins.
        assert_eq!(on_call("2026-12-02 14:30").as_deref(), Some("dieter"));
        // 03:00 UTC = 22:00 Tuesday New York, 04:00 Berlin: neither window, the base layer.
        assert_eq!(on_call("2026-12-02 03:00").as_deref(), Some("carla"));
        // 01:00 UTC = 20:00 Tuesday New York (open), 02:00 Berlin (closed): americas.
        assert_eq!(on_call("2026-12-02 01:00").as_deref(), Some("bob"));
        // 09:00 UTC = 04:00 New York (closed), 10:00 Berlin (open): europe. Read in New
        // York's zone its window would be closed and the base layer would show.
        assert_eq!(on_call("2026-12-02 09:00").as_deref(), Some("dieter"));
        // A week earlier, Wednesday 2026-11-25 14:30 UTC = 15:30 Berlin, europe's turn 0.
        assert_eq!(on_call("2026-11-25 14:30").as_deref(), Some("carla"));
    }

    #[test]
    fn bare_and_quoted_times_convert_alike() {
        let restricted = |handoff: &str, start: &str, end: &str| {
            edit(
                BASE,
                "handoff = \"2026-11-23T09:00:00\"\n",
                &format!(
                    "handoff = {handoff}\n\
                     [[schedules.layers.restrictions]]\nday = \"mon\"\nstart = {start}\nend = {end}\n"
                ),
            )
        };
        let schedules = |text: &str| {
            Config::parse("t.toml", text)
                .unwrap_or_else(|e| panic!("{e}"))
                .schedules()
        };
        let bare = schedules(&restricted("2026-11-23T09:00:00", "09:00", "17:30:00"));
        let quoted = schedules(&restricted(
            "\"2026-11-23T09:00:00\"",
            "\"09:00\"",
            "\"17:30\"",
        ));
        assert_eq!(bare, quoted);
        assert_eq!(
            bare[0].layers[0].restrictions,
            [Restriction {
                day: Some(Weekday::Mon),
                start: NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
                end: NaiveTime::from_hms_opt(17, 30, 0).expect("a valid time"),
            }]
        );
    }

    #[test]
    fn a_layer_time_zone_must_be_an_iana_name() {
        let text = with_europe_layer("2026-11-23T09:00:00", "CEST");
        assert_problem(
            &text,
            "time_zone = \"CEST\"",
            0,
            "schedules[0].layers[1].time_zone",
            "unknown time zone `CEST`; use an IANA name such as `Europe/Berlin`",
        );
    }

    #[test]
    fn a_layer_hand_off_must_exist_in_the_layers_own_zone() {
        // Berlin's clocks jump from 02:00 to 03:00 on 29 March 2026; New York's (the
        // schedule's zone) do not.
        let text = with_europe_layer("2026-03-29T02:30:00", "Europe/Berlin");
        assert_problem(
            &text,
            "handoff = \"2026-03-29T02:30:00\"",
            0,
            "schedules[0].layers[1].handoff",
            "hand-off `2026-03-29T02:30:00` does not exist in Europe/Berlin: the clocks skip it",
        );
        // New York's jump on 8 March 2026 is no gap in Berlin.
        let text = with_europe_layer("2026-03-08T02:30:00", "Europe/Berlin");
        let config = Config::parse("t.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.schedules()[0].layers[1].time_zone,
            Some(Tz::Europe__Berlin)
        );
    }

    #[test]
    fn schedules_are_whole_minutes_so_they_convert_to_valid_schedules() {
        let text = edit(BASE, "rotation = \"1w\"", "rotation = \"90s\"");
        assert_problem(
            &text,
            "rotation =",
            0,
            "schedules[0].layers[0].rotation",
            "rotation `90s` must be a whole number of minutes",
        );
        let text = edit(
            BASE,
            "handoff = \"2026-11-23T09:00:00\"",
            "handoff = \"2026-11-23T09:00:30\"",
        );
        assert_problem(
            &text,
            "handoff =",
            0,
            "schedules[0].layers[0].handoff",
            "hand-off `2026-11-23T09:00:30` must be a whole minute, without seconds",
        );
        let text = edit(
            BASE,
            "handoff = \"2026-11-23T09:00:00\"\n",
            "handoff = \"2026-11-23T09:00:00\"\n\
             [[schedules.layers.restrictions]]\nstart = \"09:00\"\nend = \"17:00:30\"\n",
        );
        assert_problem(
            &text,
            "end =",
            0,
            "schedules[0].layers[0].restrictions[0].end",
            "time `17:00:30` must be a whole minute: write `HH:MM`, e.g. `09:00`",
        );
        // Longer than chrono can hold, so there would be nothing to convert.
        let text = edit(BASE, "rotation = \"1w\"", "rotation = \"1000000000y\"");
        assert_problem(
            &text,
            "rotation =",
            0,
            "schedules[0].layers[0].rotation",
            "duration `1000000000y` is too long",
        );
    }
}
