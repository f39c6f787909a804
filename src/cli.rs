//! The command line: `tocsin serve | migrate | check-config | console | token | manifest`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use bot_core::SystemClock;
use bot_core::auth::{generate_token, hash_token};
use bot_core::model::Role;
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
    /// Print the app manifest for a chat platform
    Manifest { platform: Platform },
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
            let handlers = app::core_handlers(&core);
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
        Command::Manifest { platform } => {
            anyhow::bail!(
                "`tocsin manifest {}` is not available yet: the {:?} adapter comes in a later release",
                format!("{platform:?}").to_lowercase(),
                platform
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
