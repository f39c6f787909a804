//! The core's [`ActionRunner`] port for `http` actions ([`http`]) and `command` actions
//! ([`command`]). GitHub reverts and workflow dispatches go through the GitHub adapter.
//!
//! Everything a run needs is resolved before anything is sent or spawned: each template
//! ([`template`]) is rendered, each `${NAME}` secret looked up, the program checked. A
//! missing secret or an unknown parameter is an [`ActionError::NotConfigured`] and nothing
//! happens. The output that comes back has every secret the action used redacted, then is
//! cut to [`MAX_OUTPUT`] characters. Logs name the action and its outcome, never a URL, a
//! header value, an argument or an output: any of them may carry a secret.
//!
//! [`MAX_OUTPUT`]: bot_core::actions::MAX_OUTPUT

mod command;
mod http;
mod template;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bot_core::actions::{ActionError, ActionKind, ActionOutput, ActionRunner, ActionSpec, Args};
use tracing::Instrument;

pub use template::{Placeholder, placeholders};

use template::EnvLookup;

/// How much of a response body or of a process's stdout (and, separately, stderr) is read;
/// the rest is dropped. Far more than [`MAX_OUTPUT`](bot_core::actions::MAX_OUTPUT)
/// characters, so that the cut that counts is the one made after redaction.
const READ_CAP: usize = 64 * 1024;

/// Runs `http` and `command` actions.
pub struct Runner {
    http: reqwest::Client,
    env: Arc<EnvLookup>,
}

impl Runner {
    /// A runner with its own HTTP client (redirects followed only within the same origin,
    /// so that a redirect cannot carry an action's credentials to another host) that reads
    /// `${NAME}` secrets and the child processes' `PATH` from the process environment.
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(Runner {
            http: http::client()?,
            env: Arc::new(|name: &str| std::env::var(name).ok()),
        })
    }

    /// Reads `${NAME}` secrets and `PATH` through `lookup` instead of the process
    /// environment.
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(lookup);
        self
    }
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

#[async_trait]
impl ActionRunner for Runner {
    async fn run(&self, spec: &ActionSpec, args: &Args) -> Result<ActionOutput, ActionError> {
        let span = tracing::info_span!("action", action = %spec.name, kind = spec.kind.name());
        async {
            let outcome = match &spec.kind {
                ActionKind::Http(action) => http::run(&self.http, &*self.env, action, args).await,
                ActionKind::Command(action) => command::run(&*self.env, action, args).await,
                ActionKind::GithubRevert(_) | ActionKind::GithubWorkflow(_) => {
                    Err(ActionError::NotConfigured(format!(
                        "{} actions run through the GitHub adapter",
                        spec.kind.name()
                    )))
                }
            };
            match &outcome {
                Ok(output) => {
                    tracing::info!(ok = output.ok, summary = %output.summary, "action ran")
                }
                Err(e) => tracing::warn!(error = %e, "action did not run"),
            }
            outcome
        }
        .instrument(span)
        .await
    }
}

/// `10s`, `300ms`: a timeout as the person who configured it wrote it.
fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
