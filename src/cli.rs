//! The command line: `tocsin serve | migrate | check-config | console | token | report |
//! manifest`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use bot_core::SystemClock;
use bot_core::auth::{generate_token, hash_token};
use bot_core::model::{NewHeartbeat, NewIntegration, Role};
use clap::{Parser, Subcommand, ValueEnum};

use crate::app;
use crate::config::Config;

/// Chat-ops incident management: alerts, paging, escalation and incidents run from chat.
#[derive(Debug, Parser)]
#[command(name = "tocsin", version, about)]
pub struct Cli {
    /// Configuration file [default: ./tocsin.toml if it exists, else an empty configuration]
    #[arg(long, global = true, env = "TOCSIN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Database: sqlite://FILE (embedded, the default) or postgres://USER@HOST/DB
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://tocsin.db"
    )]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot: HTTP API, webhooks and background jobs
    Serve {
        /// Address to listen on
        #[arg(long, env = "TOCSIN_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Check a configuration file and report every problem with its line and key
    CheckConfig {
        /// The file to check [default: the --config file, or ./tocsin.toml]
        file: Option<PathBuf>,
    },
    /// Chat with the bot in this terminal, as USER (their console identity)
    Console {
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Manage REST API tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage alert integrations (sources with a secret key)
    Integration {
        #[command(subcommand)]
        command: IntegrationCommand,
    },
    /// Manage heartbeat monitors
    Heartbeat {
        #[command(subcommand)]
        command: HeartbeatCommand,
    },
    /// Discord: install the application commands
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// Print a report over a time range: alerts and incidents by service and severity,
    /// MTTA and MTTR (median, p90), escalation rate, noisiest alerts, pages per responder
    /// (out of hours too), postmortem completion
    Report(ReportArgs),
    /// Print the app manifest for a chat platform
    Manifest {
        platform: Platform,
        /// Tocsin's public base URL, where the platform sends requests
        #[arg(long, env = "TOCSIN_PUBLIC_URL")]
        url: Option<String>,
        /// Slack: connect over Socket Mode instead of request URLs
        #[arg(long)]
        socket_mode: bool,
        /// Teams: where to write the app package (a zip to upload to Teams)
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Teams: the bot's Microsoft App Id
        #[arg(long, env = "MicrosoftAppId")]
        app_id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Create an integration; its last line of output is the key alone, shown only this once
    Create {
        #[arg(long)]
        service: String,
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Unique within the service [default: the kind]
        #[arg(long)]
        name: Option<String>,
        /// For generic: where the fields are, as JSON, e.g.
        /// '{"summary":"/title","dedup_key":"/id","status":"/state"}'
        #[arg(long)]
        mapping: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Alertmanager,
    Grafana,
    Pagerduty,
    Generic,
}

#[derive(Debug, Subcommand)]
pub enum DiscordCommand {
    /// Install /incident and /oncall (a bulk overwrite, the same JSON `tocsin manifest
    /// discord` prints) in the [discord] guild, another guild, or globally
    Register {
        /// The guild to install in; default: [discord] guild_id
        #[arg(long, conflicts_with = "global")]
        guild: Option<String>,
        /// Install for every guild the application is in (Discord may take up to an hour)
        #[arg(long)]
        global: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HeartbeatCommand {
    /// Create a heartbeat monitor; its last line of output is the key alone (ping
    /// /api/v1/heartbeats/KEY)
    Create {
        #[arg(long)]
        service: String,
        #[arg(long)]
        name: String,
        /// How often it must ping, e.g. 5m, 1h, 30s
        #[arg(long)]
        interval: String,
        /// How late a ping may be before the alert opens
        #[arg(long, default_value = "1m")]
        grace: String,
    },
}

/// `tocsin report`'s range, scope and output.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Start: RFC 3339, a date (2026-11-01, UTC midnight) or a span back from now (30d, 2w)
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// End (exclusive), in the same forms
    #[arg(long, default_value = "now")]
    pub until: String,
    /// Only this service
    #[arg(long)]
    pub service: Option<String>,
    /// Only this team's services
    #[arg(long)]
    pub team: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for a terminal
    Table,
    /// The same document as GET /api/v1/reports
    Json,
    /// One figure a line: section,subject,metric,value
    Csv,
}

/// The report `args` ask for, rendered in their format. Bad input (a range that ends before
/// it starts, an unknown service or team, a date that does not parse) is an error that says
/// what is wrong.
pub async fn report(core: &bot_core::Core, args: &ReportArgs) -> anyhow::Result<String> {
    use bot_core::reports::{ReportQuery, parse_instant};
    let now = core.clock.now();
    let instant = |flag: &str, text: &str| {
        parse_instant(text, now).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
    };
    let query = ReportQuery {
        since: instant("since", &args.since)?,
        until: instant("until", &args.until)?,
        service: args.service.as_deref().map(Into::into),
        team: args.team.as_deref().map(Into::into),
    };
    let report = core.report(&query).await.map_err(|e| match e {
        bot_core::CoreError::Invalid(i) => anyhow::anyhow!("--{}: {}", i.field, i.message),
        other => anyhow::Error::new(other).context("making the report"),
    })?;
    Ok(match args.format {
        ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        ReportFormat::Csv => report_csv(&report),
        ReportFormat::Table => report_table(&report),
    })
}

/// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fn report_csv(report: &bot_core::reports::Report) -> String {
    let mut out = String::from("section,subject,metric,value\n");
    for f in report.figures() {
        let fields = [f.section, &f.subject, f.metric, &f.value];
        let line: Vec<String> = fields.iter().map(|v| csv_field(v)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn report_table(report: &bot_core::reports::Report) -> String {
    let figures = report.figures();
    let width = |get: &dyn Fn(&bot_core::reports::Figure) -> usize, title: usize| {
        figures.iter().map(get).max().unwrap_or(0).max(title)
    };
    let ws = width(&|f| f.section.len(), 7);
    let wj = width(&|f| f.subject.chars().count(), 7);
    let wm = width(&|f| f.metric.len(), 6);
    let mut out = format!(
        "Report {} to {}\n\n{:ws$}  {:wj$}  {:wm$}  value\n",
        report.since.to_rfc3339(),
        report.until.to_rfc3339(),
        "section",
        "subject",
        "metric"
    );
    for f in &figures {
        let value = if f.value.is_empty() { "-" } else { &f.value };
        out.push_str(&format!(
            "{:ws$}  {:wj$}  {:wm$}  {value}\n",
            f.section, f.subject, f.metric
        ));
    }
    out
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its last line of output is the token alone, shown only this once
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Viewer,
    Responder,
    Commander,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Responder => Role::Responder,
            RoleArg::Commander => Role::Commander,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Platform {
    Slack,
    Teams,
    Discord,
}

const DEFAULT_CONFIG: &str = "tocsin.toml";

async fn known_service(
    core: &bot_core::Core,
    id: &str,
) -> anyhow::Result<bot_core::model::Service> {
    core.store
        .get_service(&id.into())
        .await
        .with_context(|| format!("service `{id}` is not in the configuration"))
}

fn humanize(d: chrono::Duration) -> String {
    d.to_std()
        .map(|d| humantime::format_duration(d).to_string())
        .unwrap_or_default()
}

/// The configuration in force: `--config`/`TOCSIN_CONFIG`, else `./tocsin.toml` if present,
/// else an empty one (the console still works; nobody is in the directory).
fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG).exists() => PathBuf::from(DEFAULT_CONFIG),
        None => return Ok(Config::default()),
    };
    Config::load(&path).map_err(|problems| {
        anyhow::anyhow!(
            "{problems}\n{} has problems; `tocsin check-config` lists them",
            path.display()
        )
    })
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { listen } => {
            let config = load_config(cli.config.as_deref())?;
            app::serve(config, &cli.database_url, &listen).await?;
        }
        Command::Migrate => {
            let store = app::open_store(&cli.database_url).await?;
            println!("migrations applied to the {} database", store.backend());
        }
        Command::CheckConfig { file } => {
            let file = file
                .or(cli.config)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
            return Ok(match Config::load(&file) {
                Ok(config) => {
                    println!(
                        "{}: ok ({} users, {} teams, {} services)",
                        file.display(),
                        config.users.len(),
                        config.teams.len(),
                        config.services.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(problems) => {
                    eprintln!("{problems}");
                    eprintln!("{}: {} problem(s)", file.display(), problems.0.len());
                    ExitCode::FAILURE
                }
            });
        }
        Command::Console { user } => {
            let config = load_config(cli.config.as_deref())?;
            if !config.console.enabled {
                anyhow::bail!(
                    "the console is disabled in the configuration ([console] enabled = false)"
                );
            }
            let core = app::start(&config, &cli.database_url).await?;
            let console = Arc::new(adapters::console::Console::new(
                config.incidents.announcements_channel.clone(),
                Box::new(std::io::stdout()),
            ));
            let input = tokio::io::BufReader::new(tokio::io::stdin());
            let handlers = app::core_handlers(&core)?;
            adapters::console::run(core, console, user, handlers, input)
                .await
                .context("console")?;
        }
        Command::Token {
            command: TokenCommand::Create { name, role },
        } => {
            let store = app::open_store(&cli.database_url).await?;
            let token = generate_token();
            let now = bot_core::Clock::now(&SystemClock);
            let created = store
                .create_token(&name, role.into(), &hash_token(&token), now)
                .await
                .with_context(|| format!("creating token `{name}`"))?;
            eprintln!(
                "Created {} token `{}`. It is shown only now; store it as a secret:",
                created.role, created.name
            );
            println!("{token}");
        }
        Command::Integration {
            command:
                IntegrationCommand::Create {
                    service,
                    kind,
                    name,
                    mapping,
                },
        } => {
            let config = load_config(cli.config.as_deref())?;
            let core = app::start(&config, &cli.database_url).await?;
            let kind = format!("{kind:?}").to_lowercase();
            let mapping = match (kind.as_str(), mapping) {
                ("generic", Some(text)) => {
                    let mapping: adapters::alerts::generic::Mapping = serde_json::from_str(&text)
                        .context(
                        "--mapping must be JSON with summary and dedup_key pointers",
                    )?;
                    mapping
                        .validate()
                        .map_err(|e| anyhow::anyhow!("--mapping: {e}"))?;
                    Some(mapping)
                }
                ("generic", None) => anyhow::bail!(
                    "a generic integration needs --mapping '{{\"summary\":\"/title\",\"dedup_key\":\"/id\"}}'"
                ),
                (_, Some(_)) => anyhow::bail!("only generic integrations take --mapping"),
                (_, None) => None,
            };
            let service = known_service(&core, &service).await?;
            let key = generate_token();
            let created = core
                .store
                .create_integration(&NewIntegration {
                    service: service.id.clone(),
                    name: name.unwrap_or_else(|| kind.clone()),
                    kind: kind.clone(),
                    key_hash: hash_token(&key),
                    origin: "cli".into(),
                    settings: serde_json::json!({ "mapping": mapping }),
                    at: core.clock.now(),
                })
                .await
                .context("creating the integration")?;
            let path = match kind.as_str() {
                "pagerduty" => "POST /v2/enqueue with this key as routing_key".to_owned(),
                _ => format!("POST /api/v1/integrations/<key>/{kind}"),
            };
            eprintln!(
                "Created {kind} integration `{}` for service `{}`: {path}. The key is shown only now:",
                created.name, created.service
            );
            println!("{key}");
        }
        Command::Heartbeat {
            command:
                HeartbeatCommand::Create {
                    service,
                    name,
                    interval,
                    grace,
                },
        } => {
            let parse = |flag: &str, text: &str| {
                crate::config::duration(text)
                    .filter(|d| *d > chrono::Duration::zero())
                    .ok_or_else(|| {
                        anyhow::anyhow!("--{flag} `{text}` is not a duration such as 30s, 5m, 1h")
                    })
            };
            let (interval, grace) = (parse("interval", &interval)?, parse("grace", &grace)?);
            let config = load_config(cli.config.as_deref())?;
            let core = app::start(&config, &cli.database_url).await?;
            let service = known_service(&core, &service).await?;
            let key = generate_token();
            let created = core
                .create_heartbeat(&NewHeartbeat {
                    service: service.id.clone(),
                    name: name.clone(),
                    key_hash: hash_token(&key),
                    interval,
                    grace,
                    origin: "cli".into(),
                    at: core.clock.now(),
                })
                .await
                .context("creating the heartbeat monitor")?;
            eprintln!(
                "Created heartbeat `{}` for service `{}`: ping GET or POST /api/v1/heartbeats/<key> \
                 at least every {}; the key is shown only now:",
                created.name,
                created.service,
                humanize(created.interval)
            );
            println!("{key}");
        }
        Command::Discord {
            command: DiscordCommand::Register { guild, global },
        } => {
            let config = load_config(cli.config.as_deref())?;
            let settings = crate::app::discord_settings(&config).ok_or_else(|| {
                anyhow::anyhow!(
                    "Discord is not set up: it needs [discord] guild_id in the configuration and \
                     DISCORD_TOKEN and DISCORD_APPLICATION_ID in the environment"
                )
            })?;
            let guild = match (global, guild) {
                (true, _) => None,
                (false, Some(guild)) => Some(guild),
                (false, None) => Some(settings.guild_id.clone()),
            };
            let client = adapters::discord::client::DiscordClient::new(settings)
                .map_err(|e| anyhow::anyhow!("setting up Discord: {e}"))?;
            let count = client
                .register_commands(&crate::manifest::discord_commands(), guild.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("registering the commands: {e}"))?;
            match guild {
                Some(guild) => println!("Registered {count} commands in guild {guild}."),
                None => println!(
                    "Registered {count} commands globally; Discord may take up to an hour to show them."
                ),
            }
        }
        Command::Manifest {
            platform: Platform::Slack,
            url,
            socket_mode,
            ..
        } => {
            let url = match (url, socket_mode) {
                (Some(url), _) => url,
                (None, true) => "https://tocsin.invalid".to_owned(),
                (None, false) => anyhow::bail!(
                    "give Tocsin's public URL: tocsin manifest slack --url https://tocsin.example.com \
                     (or set TOCSIN_PUBLIC_URL), or use --socket-mode"
                ),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::manifest::slack(&url, socket_mode))?
            );
        }
        Command::Report(args) => {
            let config = load_config(cli.config.as_deref())?;
            let core = app::start(&config, &cli.database_url).await?;
            print!("{}", report(&core, &args).await?);
        }
        Command::Manifest {
            platform: Platform::Discord,
            ..
        } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::manifest::discord_commands())?
            );
        }
        Command::Manifest {
            platform: Platform::Teams,
            url,
            out,
            app_id,
            ..
        } => {
            let (Some(app_id), Some(url), Some(out)) = (app_id, url, out) else {
                anyhow::bail!(
                    "tocsin manifest teams needs the bot's app id, Tocsin's public https URL and                      where to write the package: tocsin manifest teams --app-id <MicrosoftAppId>                      --url https://tocsin.example.com --out tocsin-teams.zip (MicrosoftAppId and                      TOCSIN_PUBLIC_URL work too)"
                );
            };
            let settings = adapters::teams::manifest::PackageSettings::new(app_id, url);
            let package =
                adapters::teams::manifest::app_package(&settings, crate::manifest::TEAMS_COMMANDS)
                    .map_err(|e| anyhow::anyhow!("building the Teams app package: {e}"))?;
            std::fs::write(&out, package).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "Wrote {}: upload it in Teams (Apps → Manage your apps → Upload an app).",
                out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
