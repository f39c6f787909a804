//! Assembling a running Tocsin from its configuration and environment: the store, the
//! core, the job handlers, the HTTP server and its workers.

use std::net::SocketAddr;
use std::sync::Arc;

use adapters::notify::{SmtpNotifier, SmtpSettings, WebhookNotifier};
use adapters::twilio::{TwilioClient, TwilioSettings, TwilioSms, TwilioVoice};
use anyhow::Context;
use bot_core::auth::hash_token;
use bot_core::effects::{ChatEffects, UpdateReminders};
use bot_core::escalation::PageByNotifier;
use bot_core::health::{Role, WatchedChat};
use bot_core::ingest::HeartbeatChecks;
use bot_core::jobs::{Handlers, PoolConfig, WorkerPool};
use bot_core::model::{
    Directory, EscalationLevel, EscalationPolicy, NewHeartbeat, NewIntegration, NotifyRule, Target,
};
use bot_core::notify::Notifier;
use bot_core::ops::{CORE_QUEUE, Core, CoreSettings, NOTIFY_QUEUE, ServiceSettings};
use bot_core::statuspage::subscribers::{ChatNotices, SubscriberNotices};
use bot_core::{Clock, Store, SystemClock};

use crate::config::{Config, duration};
use crate::http;

/// The console platform's name, as used in queues and user identities.
pub const CONSOLE: &str = adapters::console::PLATFORM;

/// Opens the store `DATABASE_URL` names and applies pending migrations.
pub async fn open_store(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let store = bot_core::store::connect(database_url)
        .await
        .with_context(|| format!("opening the database ({})", redact(database_url)))?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The configuration's directory, with every user reachable on the console under their
/// Tocsin id unless the file names another console identity.
pub fn directory(config: &Config) -> Directory {
    let mut directory = config.directory();
    for user in &mut directory.users {
        user.chat
            .entry(CONSOLE.to_owned())
            .or_insert_with(|| user.id.to_string());
    }
    directory
}

/// Discord's client settings when it is set up: `[discord]` in the file and `DISCORD_TOKEN`
/// and `DISCORD_APPLICATION_ID` in the environment (`TOCSIN_DISCORD_API_URL` overrides the
/// API's address).
pub fn discord_settings(config: &Config) -> Option<adapters::discord::client::DiscordSettings> {
    let discord = config.discord.as_ref()?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let token = env("DISCORD_TOKEN")?;
    let Some(application_id) = env("DISCORD_APPLICATION_ID") else {
        tracing::warn!("DISCORD_TOKEN is set but DISCORD_APPLICATION_ID is not: Discord stays off");
        return None;
    };
    Some(adapters::discord::client::DiscordSettings {
        token,
        api_url: env("TOCSIN_DISCORD_API_URL")
            .unwrap_or_else(|| adapters::discord::client::DEFAULT_API_URL.to_owned()),
        application_id,
        guild_id: discord.guild_id.clone(),
        category_id: discord.category_id.clone(),
        announcements_channel: discord.announcements_channel.clone(),
        incident_channels: match discord.incident_channels {
            crate::config::IncidentChannels::Channel => {
                adapters::discord::client::IncidentChannels::Channel
            }
            crate::config::IncidentChannels::Thread => {
                adapters::discord::client::IncidentChannels::Thread
            }
        },
        threads_channel: discord.threads_channel.clone(),
    })
}

/// Microsoft Teams' client settings when it is set up: `[msteams]` in the file and
/// `MicrosoftAppId` and `MicrosoftAppPassword` in the environment (`MicrosoftAppTenantId`
/// for a single-tenant bot; `TOCSIN_TEAMS_LOGIN_URL` and `TOCSIN_GRAPH_API_URL` move the
/// login and Graph addresses).
pub fn teams_settings(config: &Config) -> Option<adapters::teams::connector::TeamsSettings> {
    use adapters::teams::connector::{ChannelMode, DEFAULT_GRAPH_URL, DEFAULT_SERVICE_URL};
    let teams = config.msteams.as_ref()?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let app_id = env("MicrosoftAppId")?;
    let Some(app_password) = env("MicrosoftAppPassword") else {
        tracing::warn!("MicrosoftAppId is set but MicrosoftAppPassword is not: Teams stays off");
        return None;
    };
    let tenant_id = env("MicrosoftAppTenantId");
    Some(adapters::teams::connector::TeamsSettings {
        credentials: adapters::teams::token::AppCredentials {
            app_id,
            app_password,
            tenant_id: tenant_id.clone(),
            login_url: env("TOCSIN_TEAMS_LOGIN_URL")
                .unwrap_or_else(|| adapters::teams::token::DEFAULT_LOGIN_URL.to_owned()),
        },
        service_url: teams
            .service_url
            .clone()
            .unwrap_or_else(|| DEFAULT_SERVICE_URL.to_owned()),
        tenant_id,
        team_id: teams.team_id.clone(),
        incidents_channel: teams.incidents_channel.clone(),
        incident_channels: match teams.incident_channels {
            crate::config::IncidentChannels::Channel => ChannelMode::Channel,
            crate::config::IncidentChannels::Thread => ChannelMode::Thread,
        },
        graph_url: env("TOCSIN_GRAPH_API_URL").unwrap_or_else(|| DEFAULT_GRAPH_URL.to_owned()),
    })
}

/// Whether Slack is set up in this environment (`SLACK_BOT_TOKEN`).
pub fn slack_enabled() -> bool {
    std::env::var("SLACK_BOT_TOKEN").is_ok_and(|t| !t.trim().is_empty())
}

/// Adds the chat identities Tocsin found at run time (a Slack member matched by e-mail) to
/// the configuration's directory, wherever the file does not say otherwise: a person the
/// file gives an identity on that platform keeps it, and an identity the file gives someone
/// else stays theirs.
pub fn with_links(
    directory: &mut Directory,
    links: Vec<(String, String, bot_core::model::UserId)>,
) {
    for (platform, external_id, user) in links {
        let taken = directory
            .users
            .iter()
            .any(|u| u.chat.get(&platform) == Some(&external_id));
        if taken {
            continue;
        }
        if let Some(u) = directory.users.iter_mut().find(|u| u.id == user) {
            u.chat.entry(platform).or_insert(external_id);
        }
    }
}

pub fn core(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: &Config) -> Core {
    let mut chat_platforms = Vec::new();
    if config.console.enabled {
        chat_platforms.push(CONSOLE.to_owned());
    }
    // Every process on the database writes Slack's jobs when Slack is set up, so that a
    // console's declare also opens the Slack channel; `serve` runs them.
    if slack_enabled() {
        chat_platforms.push(adapters::slack::PLATFORM.to_owned());
    }
    if discord_settings(config).is_some() {
        chat_platforms.push(adapters::discord::PLATFORM.to_owned());
    }
    if teams_settings(config).is_some() {
        chat_platforms.push(adapters::teams::PLATFORM.to_owned());
    }
    let services = config
        .services
        .iter()
        .map(|s| {
            let settings = ServiceSettings {
                alerts_channel: s.alerts_channel.clone(),
                high_urgency: s.high_urgency.clone(),
                escalation_policy: s.escalation_policy.clone(),
            };
            (s.id.clone(), settings)
        })
        .collect();
    let teams = config
        .teams
        .iter()
        .map(|t| (t.id.clone(), t.members.clone()))
        .collect();
    let policies = escalation_policies(config)
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    Core::new(
        store,
        clock,
        CoreSettings {
            chat_platforms,
            update_reminder: config.update_reminder(),
            update_reminder_by_severity: config.update_reminder_by_severity(),
            services,
            schedules: config
                .schedules()
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect(),
            policies,
            teams,
            notify_rules: notify_rules(config),
            notifier_channels: Notifiers::channels(config),
            attempt_interval: config.paging.attempt_interval.as_deref().and_then(duration),
            actions: crate::config::specs(&config.actions),
            group_roles: crate::config::group_roles(&config.roles),
            capture_chat: config.incidents.capture_chat,
            channel_name: config.incidents.channel_name.clone(),
            status_page: config.statuspage.settings(Some(&public_url())),
            postmortem: config.postmortem.settings(),
            trackers: config.trackers.settings(),
            conference_url: config.incidents.conference_url.clone(),
            reports: crate::config::report_settings(config),
            public_url: public_url(),
        },
    )
}

/// Tocsin's public base URL: `TOCSIN_PUBLIC_URL`, default `http://` + `TOCSIN_LISTEN`.
pub fn public_url() -> String {
    std::env::var("TOCSIN_PUBLIC_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| {
            let listen = std::env::var("TOCSIN_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
            format!("http://{listen}")
        })
}

/// The channels pages can go out on besides chat, from the environment and configuration:
/// signed webhooks (`TOCSIN_WEBHOOK_SECRET`), e-mail (`[smtp]`, `SMTP_PASSWORD`), Twilio SMS
/// and voice (`TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_FROM`).
pub struct Notifiers {
    pub list: Vec<Arc<dyn Notifier>>,
    /// For the inbound Twilio routes.
    pub twilio: Option<http::TwilioInbound>,
    /// Tocsin's public base URL (`TOCSIN_PUBLIC_URL`, default `http://` + `TOCSIN_LISTEN`).
    pub public_url: String,
}

impl Notifiers {
    pub fn from_env(config: &Config) -> anyhow::Result<Notifiers> {
        let public_url = public_url();
        let mut list: Vec<Arc<dyn Notifier>> = Vec::new();
        let mut twilio = None;
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(secret) = var("TOCSIN_WEBHOOK_SECRET") {
            list.push(Arc::new(WebhookNotifier::new(secret, reqwest_client()?)));
        }
        if let Some(smtp) = &config.smtp {
            let settings = SmtpSettings {
                host: smtp.host.clone(),
                port: smtp.port,
                tls: smtp.tls,
                username: smtp.username.clone(),
                password: var("SMTP_PASSWORD"),
                from: smtp.from.clone(),
            };
            let notifier =
                SmtpNotifier::new(settings).map_err(|e| anyhow::anyhow!("[smtp]: {e}"))?;
            list.push(Arc::new(notifier));
        }
        if let (Some(sid), Some(token), Some(from)) = (
            var("TWILIO_ACCOUNT_SID"),
            var("TWILIO_AUTH_TOKEN"),
            var("TWILIO_FROM"),
        ) {
            let settings = TwilioSettings::new(sid, token.clone(), from, public_url.clone());
            let client = TwilioClient::new(settings).context("setting up Twilio")?;
            list.push(Arc::new(TwilioSms::new(client.clone())));
            list.push(Arc::new(
                TwilioVoice::new(client).context("setting up Twilio voice")?,
            ));
            twilio = Some(http::TwilioInbound {
                auth_token: token.into(),
                public_url: public_url.clone().into(),
                hotline_service: config.paging.hotline_service.clone(),
            });
        }
        Ok(Notifiers {
            list,
            twilio,
            public_url,
        })
    }

    /// The channels [`Notifiers::from_env`] sets up, without building anything.
    pub fn channels(config: &Config) -> Vec<String> {
        Notifiers::from_env(config)
            .map(|n| n.list.iter().map(|n| n.channel().to_owned()).collect())
            .unwrap_or_default()
    }
}

/// How status page subscribers are told besides chat, from the same settings as pages:
/// e-mail (`[smtp]`, `SMTP_PASSWORD`) and signed webhooks (`TOCSIN_WEBHOOK_SECRET`).
fn subscriber_channels(
    config: &Config,
) -> anyhow::Result<Vec<Arc<dyn bot_core::statuspage::subscribers::SubscriberChannel>>> {
    let mut list: Vec<Arc<dyn bot_core::statuspage::subscribers::SubscriberChannel>> = Vec::new();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(secret) = var("TOCSIN_WEBHOOK_SECRET") {
        list.push(Arc::new(adapters::notify::StatusPageWebhook::new(
            secret,
            reqwest_client()?,
        )));
    }
    if let Some(smtp) = &config.smtp {
        let settings = SmtpSettings {
            host: smtp.host.clone(),
            port: smtp.port,
            tls: smtp.tls,
            username: smtp.username.clone(),
            password: var("SMTP_PASSWORD"),
            from: smtp.from.clone(),
        };
        let mailer = adapters::notify::StatusPageMailer::new(settings)
            .map_err(|e| anyhow::anyhow!("[smtp]: {e}"))?;
        list.push(Arc::new(mailer));
    }
    Ok(list)
}

/// Mails postmortem review invitations through `[smtp]` (with `SMTP_PASSWORD`), if set up.
fn invite_mailer(
    config: &Config,
) -> anyhow::Result<Option<Arc<dyn bot_core::postmortem::meeting::MeetingInviter>>> {
    let Some(smtp) = &config.smtp else {
        return Ok(None);
    };
    let settings = SmtpSettings {
        host: smtp.host.clone(),
        port: smtp.port,
        tls: smtp.tls,
        username: smtp.username.clone(),
        password: std::env::var("SMTP_PASSWORD")
            .ok()
            .filter(|v| !v.trim().is_empty()),
        from: smtp.from.clone(),
    };
    let mailer = adapters::notify::InviteMailer::new(settings)
        .map_err(|e| anyhow::anyhow!("[smtp]: {e}"))?;
    Ok(Some(Arc::new(mailer)))
}

/// One HTTP client for webhook pages, with a bounded wait.
fn reqwest_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .context("building the HTTP client for webhook pages")
}

/// The people with paging rules of their own, and those rules.
fn notify_rules(
    config: &Config,
) -> std::collections::HashMap<bot_core::model::UserId, Vec<NotifyRule>> {
    config
        .users
        .iter()
        .filter(|u| !u.notify.is_empty())
        .map(|u| {
            let rules = u
                .notify
                .iter()
                .map(|n| NotifyRule {
                    channel: n.channel.clone(),
                    delay: duration(&n.delay).unwrap_or_else(chrono::Duration::zero),
                    to: n.to.clone(),
                    urgency: n.urgency,
                })
                .collect();
            (u.id.clone(), rules)
        })
        .collect()
}

/// The configuration's escalation policies, as the core reads them. `Config::parse` has
/// checked every duration and target.
fn escalation_policies(config: &Config) -> Vec<EscalationPolicy> {
    config
        .escalation_policies
        .iter()
        .map(|p| EscalationPolicy {
            id: p.id.clone(),
            repeat: p.repeat,
            levels: p
                .levels
                .iter()
                .map(|l| EscalationLevel {
                    timeout: duration(&l.timeout).unwrap_or(chrono::Duration::minutes(5)),
                    targets: l
                        .targets
                        .iter()
                        .filter_map(|t| match t.split_once(':') {
                            Some(("user", id)) => Some(Target::User(id.into())),
                            Some(("schedule", id)) => Some(Target::Schedule(id.to_owned())),
                            Some(("team", id)) => Some(Target::Team(id.into())),
                            _ => None,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

/// Reads a secret from the environment variable `name`; `None` (with a warning naming the
/// variable, never the value) when it is unset or empty.
fn secret_from_env(name: &str, what: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Some(value.trim().to_owned()),
        _ => {
            tracing::warn!(
                variable = name,
                "{what} is disabled: set {name} to its secret key"
            );
            None
        }
    }
}

/// Makes the stored integrations and heartbeat monitors those the configuration declares,
/// with keys from the environment. One whose variable is unset is left out (and said so).
pub async fn sync_sources(core: &Core, config: &Config) -> anyhow::Result<()> {
    let now = core.clock.now();
    let mut integrations = Vec::new();
    let mut heartbeats = Vec::new();
    for service in &config.services {
        for i in &service.integrations {
            let what = format!("integration `{}` of service `{}`", i.name, service.id);
            let Some(key) = secret_from_env(&i.key_env, &what) else {
                continue;
            };
            integrations.push(NewIntegration {
                service: service.id.clone(),
                name: i.name.clone(),
                kind: i.kind.as_str().to_owned(),
                key_hash: hash_token(&key),
                origin: "config".into(),
                settings: serde_json::json!({ "mapping": i.mapping }),
                at: now,
            });
        }
        for h in &service.heartbeats {
            let what = format!("heartbeat `{}` of service `{}`", h.name, service.id);
            let Some(key) = secret_from_env(&h.key_env, &what) else {
                continue;
            };
            let (Some(interval), Some(grace)) = (duration(&h.interval), duration(&h.grace)) else {
                anyhow::bail!("{what}: invalid interval or grace (run tocsin check-config)");
            };
            heartbeats.push(NewHeartbeat {
                service: service.id.clone(),
                name: h.name.clone(),
                key_hash: hash_token(&key),
                interval,
                grace,
                origin: "config".into(),
                at: now,
            });
        }
    }
    core.store
        .sync_config_integrations(&integrations)
        .await
        .context("saving integrations from the configuration")?;
    core.sync_config_heartbeats(&heartbeats)
        .await
        .context("saving heartbeat monitors from the configuration")?;
    Ok(())
}

/// Handlers for the `core` queue: heartbeats, escalations, reminders, declare pages,
/// actions (HTTP and commands here; GitHub with `GITHUB_TOKEN`, at `TOCSIN_GITHUB_API_URL`),
/// and action items' tickets (`[trackers]`, with the same GitHub token or a Jira API token).
pub fn core_handlers(core: &Core) -> anyhow::Result<Handlers> {
    let runner: Arc<dyn bot_core::actions::ActionRunner> =
        Arc::new(adapters::actions::Runner::new().context("building the HTTP client for actions")?);
    let vcs: Option<Arc<dyn bot_core::actions::Vcs>> = adapters::github::GitHub::from_env()
        .context("setting up the GitHub client (GITHUB_TOKEN, TOCSIN_GITHUB_API_URL)")?
        .map(|g| Arc::new(g) as Arc<dyn bot_core::actions::Vcs>);
    // Action items' tickets need the trackers' credentials, like GitHub actions.
    let trackers = adapters::tickets::from_env(&core.settings.trackers).map_err(|e| {
        anyhow::anyhow!("setting up issue trackers ([trackers], GITHUB_TOKEN, Jira token): {e}")
    })?;
    Ok(core_handlers_with(core, runner, vcs).merge(
        bot_core::postmortem::action_items::TicketJobs::handlers(core.clone(), trackers),
    ))
}

/// [`core_handlers`] with the action runner and GitHub client given (tests point them at
/// stubs).
pub fn core_handlers_with(
    core: &Core,
    runner: Arc<dyn bot_core::actions::ActionRunner>,
    vcs: Option<Arc<dyn bot_core::actions::Vcs>>,
) -> Handlers {
    let mut handlers = HeartbeatChecks::handlers(core.clone())
        .merge(bot_core::escalation::EscalationSteps::handlers(
            core.clone(),
        ))
        .merge(bot_core::declare_paging::IncidentPages::handlers(
            core.clone(),
        ))
        .merge(bot_core::runs::ActionJobs::handlers(
            core.clone(),
            runner,
            vcs,
        ))
        .merge(bot_core::statuspage::MaintenanceSteps::handlers(
            core.clone(),
        ))
        .merge(bot_core::postmortem::meeting::PostmortemReminders::handlers(core.clone()));
    if core.settings.reminds() {
        handlers = handlers.merge(UpdateReminders::handlers(core));
    }
    handlers
}

/// Opens the store, mirrors the directory and builds the core: what every command that
/// works on live data starts with.
pub async fn start(config: &Config, database_url: &str) -> anyhow::Result<Core> {
    let store = open_store(database_url).await?;
    let mut directory = directory(config);
    let links = store
        .chat_links()
        .await
        .context("reading chat identities found earlier")?;
    with_links(&mut directory, links);
    store
        .replace_directory(&directory)
        .await
        .context("saving users, teams and services from the configuration")?;
    let core = core(store, Arc::new(SystemClock), config);
    sync_sources(&core, config).await?;
    Ok(core)
}

/// Finds the Slack member of every directory user with an e-mail address and no Slack id
/// in the file (`users.lookupByEmail`), so that channels invite and pages reach them before
/// they ever type a command. Runs in the background at start; paced by the client's limiter.
async fn link_slack_people(core: Core, slack: Arc<adapters::slack::client::SlackClient>) {
    let platform = adapters::slack::PLATFORM;
    let users = match core.store.list_users().await {
        Ok(users) => users,
        Err(e) => {
            tracing::warn!(error = %e, "listing users to find them on Slack");
            return;
        }
    };
    let mut linked = 0;
    for user in users.iter().filter(|u| !u.chat.contains_key(platform)) {
        let Some(email) = &user.email else { continue };
        match slack.lookup_by_email(email).await {
            Ok(Some(member)) => match core
                .store
                .link_chat_identity(platform, &member, &user.id, core.clock.now())
                .await
            {
                Ok(()) => linked += 1,
                Err(e) => {
                    tracing::warn!(user = %user.id, error = %e, "could not link a Slack member")
                }
            },
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(user = %user.id, error = %e, "Slack lookup by e-mail failed; linking stops here");
                break;
            }
        }
    }
    tracing::info!(linked, "Slack members linked by e-mail");
}

/// Something only one replica may hold at a time (a chat platform's single connection),
/// started by `hold` with a future that ends when it must let go. `hold` answers whether
/// to try again later (false: a fault no retry can mend, already logged).
type Holding = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Runs `hold` while this process leads `work`: on PostgreSQL one replica at a time (an
/// advisory lock), the others waiting to take over within seconds of its death; on SQLite
/// the one process.
async fn while_leading<F, Fut>(
    core: Core,
    work: &'static str,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut hold: F,
) where
    F: FnMut(Holding) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(2);
    let health = core.health.clone();
    loop {
        health.set_role(work, Role::Follower);
        if *stop.borrow() {
            return;
        }
        let lease = match core.store.try_lead(work).await {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(work, error = %e, "could not ask the database who leads");
                None
            }
        };
        let Some(mut lease) = lease else {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(LOOK_AGAIN) => continue,
            }
        };
        tracing::info!(work, "leading");
        health.set_role(work, Role::Leader);
        let mut held_stop = stop.clone();
        let ended: Holding = Box::pin(async move {
            tokio::select! {
                _ = held_stop.wait_for(|s| *s) => {},
                () = async {
                    while lease.still_leading().await {
                        tokio::time::sleep(LOOK_AGAIN).await;
                    }
                    tracing::warn!(work, "lost the lead; letting go");
                } => {},
            }
        });
        if !hold(ended).await {
            health.set_role(work, Role::Follower);
            return;
        }
    }
}

/// The single-owner work `serve` may lead; `/readyz` names each, led or not.
const SLACK_SOCKET_MODE: &str = "slack-socket-mode";
const DISCORD_GATEWAY: &str = "discord-gateway";

/// The lock `serve` holds on a SQLite database file so that no second process serves it.
/// None for an in-memory database, which no other process can open anyway.
fn sqlite_lock_path(database_url: &str) -> Option<std::path::PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(format!("{path}.lock")))
}

/// Takes the exclusive lock beside a SQLite database for this process's life (the
/// operating system drops it when the process ends, however it ends). A second `serve` on
/// the same file would run every job twice and fight over the one writer: it is refused.
fn lock_sqlite(database_url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = sqlite_lock_path(database_url) else {
        return Ok(None);
    };
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `tocsin serve` is already serving this SQLite database (it holds {}). \
             SQLite takes one process; to run replicas, use PostgreSQL (DATABASE_URL=postgres://…)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// The jobs a chat platform runs (incident channels and cards, notices, direct-message
/// pages), through a wrapper that records each call's outcome in the channel health.
fn chat_handlers(core: &Core, platform: Arc<dyn bot_core::chat::ChatPlatform>) -> Handlers {
    // Every platform handles the same kinds, each in its own queue.
    let queue = bot_core::ops::chat_queue(platform.name());
    let watched: Arc<dyn bot_core::chat::ChatPlatform> = Arc::new(WatchedChat::new(
        platform,
        core.health.clone(),
        core.clock.clone(),
    ));
    ChatEffects::handlers(core, watched.clone())
        .merge(ChatNotices::handlers(core, watched.clone()))
        .merge(bot_core::escalation::PageByChat::handlers(
            core.clone(),
            watched,
        ))
        .for_queue(&queue)
}

/// `tocsin serve`: the HTTP server and the core job workers until SIGTERM or Ctrl-C.
pub async fn serve(config: Config, database_url: &str, listen: &str) -> anyhow::Result<()> {
    // Held until `serve` returns, which is the process's end.
    let _sole_server = lock_sqlite(database_url)?;
    let core = start(&config, database_url).await?;
    for work in [SLACK_SOCKET_MODE, DISCORD_GATEWAY] {
        core.health.set_role(work, Role::NotConfigured);
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr: SocketAddr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let notifiers = Notifiers::from_env(&config)?;
    let mut handlers = core_handlers(&core)?
        .merge(PageByNotifier::handlers(
            core.clone(),
            notifiers.list.clone(),
            Some(notifiers.public_url.clone()),
        ))
        .merge(SubscriberNotices::handlers(
            core.clone(),
            subscriber_channels(&config)?,
        ))
        .merge(bot_core::postmortem::meeting::MeetingInvites::handlers(
            core.clone(),
            invite_mailer(&config)?,
        ));
    let mut queues = vec![CORE_QUEUE.into(), NOTIFY_QUEUE.into()];
    let slack = adapters::slack::client::SlackClient::from_env(Some(
        config.incidents.announcements_channel.clone(),
    ))
    .map_err(|e| anyhow::anyhow!("setting up Slack (SLACK_BOT_TOKEN, TOCSIN_SLACK_API_URL): {e}"))?
    .map(Arc::new);
    if let Some(slack) = &slack {
        tokio::spawn(link_slack_people(core.clone(), slack.clone()));
        handlers = handlers.merge(chat_handlers(&core, slack.clone()));
        queues.push(bot_core::ops::chat_queue(adapters::slack::PLATFORM));
    }
    // Socket Mode (`SLACK_APP_TOKEN`) needs no signing secret: its connection is
    // authenticated by the app token, and its messages are not signed.
    let socket_mode = adapters::slack::socket::SocketSettings::from_env();
    if let Some(settings) = &socket_mode {
        // Checked now, so a bad token stops the start rather than a background task.
        adapters::slack::socket::SocketMode::new(settings.clone())
            .map_err(|e| anyhow::anyhow!("setting up Slack Socket Mode (SLACK_APP_TOKEN): {e}"))?;
    }
    if socket_mode.is_some() && slack.is_none() {
        tracing::warn!(
            "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not: Slack's commands are answered, \
             but nothing else can be sent to Slack"
        );
    }
    let discord = discord_settings(&config)
        .map(adapters::discord::client::DiscordClient::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("setting up Discord: {e}"))?
        .map(Arc::new);
    if let Some(discord) = &discord {
        handlers = handlers.merge(chat_handlers(&core, discord.clone()));
        queues.push(bot_core::ops::chat_queue(adapters::discord::PLATFORM));
    }
    let discord_inbound = match std::env::var("DISCORD_PUBLIC_KEY") {
        Ok(key) if !key.trim().is_empty() => Some(http::DiscordInbound {
            public_key: key,
            client: discord.clone(),
            reply_within: config
                .discord
                .as_ref()
                .map_or(crate::config::DISCORD_REPLY_WITHIN, |d| d.reply_within()),
        }),
        _ => None,
    };
    let teams = teams_settings(&config)
        .map(|settings| {
            let mode = settings.incident_channels;
            let app_id = settings.credentials.app_id.clone();
            adapters::teams::connector::TeamsClient::new(settings)
                .map(|c| (Arc::new(c), mode, app_id))
        })
        .transpose()
        .map_err(|e| anyhow::anyhow!("setting up Microsoft Teams: {e}"))?;
    let teams_inbound = match &teams {
        Some((client, mode, app_id)) => {
            handlers = handlers.merge(chat_handlers(&core, client.clone()));
            queues.push(bot_core::ops::chat_queue(adapters::teams::PLATFORM));
            let openid = std::env::var("TOCSIN_TEAMS_OPENID_URL")
                .ok()
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| adapters::teams::auth::DEFAULT_OPENID_URL.to_owned());
            Some(http::TeamsInbound::new(
                adapters::teams::auth::TeamsAuth::new(app_id.clone(), openid)
                    .map_err(|e| anyhow::anyhow!("setting up Microsoft Teams: {e}"))?,
                Some(client.clone()),
                *mode,
            ))
        }
        None => None,
    };
    let slack_inbound = match std::env::var("SLACK_SIGNING_SECRET") {
        Ok(secret) if !secret.trim().is_empty() => Some(http::SlackInbound {
            signing_secret: secret,
            client: slack.clone(),
        }),
        _ => {
            if slack.is_some() && socket_mode.is_none() {
                tracing::warn!(
                    "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN is: Slack's requests will be refused"
                );
            }
            None
        }
    };
    // A pool per queue: jobs are claimed in due order within a pool, so with one pool an
    // alert storm's backlog of escalation steps would hold every page back until the last
    // step ran. Each queue gets its own workers instead.
    let mut workers = tokio::task::JoinSet::new();
    for queue in queues {
        let pool = WorkerPool::new(
            core.store.clone(),
            core.clock.clone(),
            handlers.clone(),
            PoolConfig {
                queues: vec![queue],
                ..Default::default()
            },
        );
        let mut workers_stop = stop_rx.clone();
        workers.spawn(pool.run(async move {
            let _ = workers_stop.wait_for(|stop| *stop).await;
        }));
    }
    let app = http::router(
        http::AppState::new(core.clone())
            .with_twilio(notifiers.twilio)
            .with_slack(slack_inbound)
            .with_discord(discord_inbound)
            .with_teams(teams_inbound)
            .with_limits(config.limits),
    );
    let shutdown = shutdown_signal();
    tracing::info!(%addr, backend = core.store.backend(), "listening");
    // A stable line on stdout for scripts and tests that started us on port 0.
    println!("listening on http://{addr}");
    let socket = socket_mode.map(|settings| {
        let envelopes = Arc::new(crate::slack_socket::SocketEnvelopes {
            handler: http::SlackHandler {
                core: core.clone(),
                client: slack.clone(),
            },
        });
        tracing::info!("Slack Socket Mode on (SLACK_APP_TOKEN)");
        tokio::spawn(while_leading(
            core.clone(),
            SLACK_SOCKET_MODE,
            stop_rx.clone(),
            move |ended| {
                let settings = settings.clone();
                let envelopes = envelopes.clone();
                async move {
                    match adapters::slack::socket::SocketMode::new(settings) {
                        Ok(socket) => {
                            socket.run(envelopes, ended).await;
                            true
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "Slack Socket Mode cannot start");
                            false
                        }
                    }
                }
            },
        ))
    });
    let gateway = match (&discord, config.discord.as_ref().is_some_and(|d| d.gateway)) {
        (Some(client), true) => {
            // DISCORD_TOKEN is set, or there would be no client.
            let settings = adapters::discord::gateway::GatewaySettings::from_env()
                .ok_or_else(|| anyhow::anyhow!("the Discord Gateway needs DISCORD_TOKEN"))?;
            // Checked now, so a bad setting stops the start rather than a background task.
            adapters::discord::gateway::Gateway::new(settings.clone())
                .map_err(|e| anyhow::anyhow!("setting up the Discord Gateway: {e}"))?;
            let handler: Arc<dyn adapters::discord::gateway::GatewayHandler> =
                Arc::new(crate::discord_gateway::GatewayCapture {
                    core: core.clone(),
                    client: client.clone(),
                });
            tracing::info!("Discord Gateway on ([discord] gateway = true)");
            Some(tokio::spawn(while_leading(
                core.clone(),
                DISCORD_GATEWAY,
                stop_rx.clone(),
                move |ended| {
                    let settings = settings.clone();
                    let handler = handler.clone();
                    async move {
                        let gateway = match adapters::discord::gateway::Gateway::new(settings) {
                            Ok(gateway) => gateway,
                            Err(e) => {
                                tracing::error!(error = %e, "the Discord Gateway cannot start");
                                return false;
                            }
                        };
                        match gateway.run(handler, ended).await {
                            Ok(()) => true,
                            // Fatal closes (a bad token, intents not enabled) are logged
                            // with what to fix; retrying would only repeat them.
                            Err(e) => {
                                tracing::error!(error = %e, "the Discord Gateway stopped");
                                false
                            }
                        }
                    }
                },
            )))
        }
        (None, true) => {
            tracing::warn!(
                "[discord] gateway = true, but Discord is not set up (DISCORD_TOKEN): no capture"
            );
            None
        }
        _ => None,
    };
    let mut http_stop = stop_rx;
    let server = http::serve(listener, app, async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    });
    let signals = async {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests and jobs");
        let _ = stop_tx.send(true);
    };
    let (served, ()) = tokio::join!(server, signals);
    served.context("serving HTTP")?;
    if let Some(socket) = socket {
        socket.await.context("Slack Socket Mode")?;
    }
    if let Some(gateway) = gateway {
        gateway.await.context("Discord Gateway")?;
    }
    while let Some(done) = workers.join_next().await {
        done.context("job workers")?;
    }
    Ok(())
}

/// SIGTERM or Ctrl-C. The handlers are installed when this is called, not when it is
/// first awaited, so a signal that arrives right after start-up is not missed (and does not
/// kill the process the default way).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match handlers {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            (term, int) => {
                for e in [term.err(), int.err()].into_iter().flatten() {
                    tracing::warn!(error = %e, "cannot listen for signals");
                }
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_found_at_run_time_fill_gaps_but_never_override_the_file() {
        let config = Config::parse(
            "t.toml",
            "[[users]]\nid = \"alice\"\nname = \"A\"\ntime_zone = \"UTC\"\n\
             [[users]]\nid = \"bob\"\nname = \"B\"\ntime_zone = \"UTC\"\n[users.chat]\nslack = \"U02\"\n",
        )
        .unwrap();
        let mut dir = directory(&config);
        with_links(
            &mut dir,
            vec![
                ("slack".into(), "U01".into(), "alice".into()),
                // The file gives bob U02 already, and U02 to bob: both links are passed over.
                ("slack".into(), "U03".into(), "bob".into()),
                ("slack".into(), "U02".into(), "alice".into()),
            ],
        );
        assert_eq!(dir.users[0].chat["slack"], "U01");
        assert_eq!(dir.users[1].chat["slack"], "U02");
    }

    #[test]
    fn only_sqlite_files_are_locked_and_the_lock_sits_beside_the_database() {
        let lock = |url| sqlite_lock_path(url).map(|p| p.display().to_string());
        assert_eq!(
            lock("sqlite://tocsin.db").as_deref(),
            Some("tocsin.db.lock")
        );
        assert_eq!(
            lock("sqlite:///var/lib/tocsin/t.db?mode=rwc").as_deref(),
            Some("/var/lib/tocsin/t.db.lock")
        );
        assert_eq!(lock("sqlite::memory:"), None);
        assert_eq!(lock("sqlite://shared?mode=memory&cache=shared"), None);
        assert_eq!(lock("postgres://u@h/db"), None);
    }

    #[test]
    fn database_passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://tocsin:s3cret@db.internal:5432/tocsin"),
            "postgres://tocsin:***@db.internal:5432/tocsin"
        );
        assert_eq!(redact("sqlite://tocsin.db"), "sqlite://tocsin.db");
    }
}
