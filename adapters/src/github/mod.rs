//! GitHub: the core's [`Vcs`] port through octocrab. A revert opens a pull request that
//! reverts a merged one (GraphQL `revertPullRequest`, optionally followed by
//! `enablePullRequestAutoMerge`); a rollback dispatches a `workflow_dispatch` run of a
//! GitHub Actions workflow and then follows it.
//!
//! - `client.rs`: the one octocrab client, its base URL (`TOCSIN_GITHUB_API_URL`), and how
//!   GitHub's answers become [`VcsError`]s: 404 -> `NotFound`, 401/403/422 -> `Refused`
//!   with GitHub's message, 429 and exhausted rate limits -> `RateLimited`, 5xx and
//!   connection errors -> `Unavailable`.
//! - `revert.rs`: finding the pull request (by number, or the one that merged a commit)
//!   and the GraphQL mutations.
//! - `workflows.rs`: workflow dispatch and workflow runs.
//!
//! This module knows GitHub's wire format and nothing of chat, incidents or who may run a
//! revert: the core checks that before it calls the port.
//!
//! [`Vcs`]: bot_core::actions::Vcs
//! [`VcsError`]: bot_core::actions::VcsError

mod client;
mod revert;
mod workflows;

pub(crate) use client::{error_message, segment};

pub use client::{API_URL_ENV, DEFAULT_API_URL, GitHub, TOKEN_ENV};

use async_trait::async_trait;
use bot_core::actions::{Revert, RevertRequest, Vcs, VcsError, WorkflowDispatch, WorkflowRun};

#[async_trait]
impl Vcs for GitHub {
    async fn revert(&self, req: &RevertRequest) -> Result<Revert, VcsError> {
        revert::revert(self, req).await
    }

    async fn dispatch_workflow(&self, req: &WorkflowDispatch) -> Result<WorkflowRun, VcsError> {
        workflows::dispatch(self, req).await
    }

    async fn workflow_run(
        &self,
        owner: &str,
        repo: &str,
        run_id: u64,
    ) -> Result<WorkflowRun, VcsError> {
        workflows::run(self, owner, repo, run_id).await
    }
}
