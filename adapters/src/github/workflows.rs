//! GitHub Actions: start a `workflow_dispatch` run (a rollback) and read a run's state,
//! which the core polls until the run finishes.

use std::collections::BTreeMap;
use std::time::Duration;

use bot_core::actions::{VcsError, WorkflowDispatch, WorkflowRun};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client::{GitHub, Method, segment};

/// How often the list of runs is read after a 204 dispatch before giving up, and the
/// (growing) pause between reads.
const RUN_LOOKUPS: u32 = 3;
const RUN_LOOKUP_DELAY: Duration = Duration::from_secs(1);

/// `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches`. GitHub answers
/// 200 with the run's id and URLs when asked to (`return_run_details`); a server that
/// predates that answers 204 and the run is looked up instead.
pub(super) async fn dispatch(gh: &GitHub, req: &WorkflowDispatch) -> Result<WorkflowRun, VcsError> {
    let what = format!("workflow {} in {}/{}", req.workflow, req.owner, req.repo);
    let route = format!(
        "/repos/{}/{}/actions/workflows/{}/dispatches",
        segment(&req.owner),
        segment(&req.repo),
        segment(&req.workflow)
    );
    let body = serde_json::to_value(DispatchBody {
        git_ref: &req.git_ref,
        inputs: &req.inputs,
        return_run_details: true,
    })
    .expect("a struct of strings always serialises");
    let reply = gh.rest(Method::Post, &route, Some(&body), &what).await?;
    // The run exists from here on: nothing below may fail with an error the job runner
    // retries, or the rollback would run twice.
    let dispatched_at = reply.date;
    if reply.status != 204 {
        match reply.json::<Dispatched>(&what) {
            Ok(run) => {
                return Ok(WorkflowRun {
                    id: run.workflow_run_id,
                    html_url: run.html_url,
                    // A run is queued when it is created; the caller polls for the rest.
                    status: "queued".to_owned(),
                    conclusion: None,
                });
            }
            Err(error) => {
                tracing::warn!(%error, what, "dispatch answer without run details; looking the run up");
            }
        }
    }
    find_dispatched_run(gh, req, dispatched_at, &what).await
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}`.
pub(super) async fn run(
    gh: &GitHub,
    owner: &str,
    repo: &str,
    run_id: u64,
) -> Result<WorkflowRun, VcsError> {
    let route = format!(
        "/repos/{}/{}/actions/runs/{run_id}",
        segment(owner),
        segment(repo)
    );
    let what = format!("workflow run {run_id} in {owner}/{repo}");
    let run: Run = gh.get_json(&route, &what).await?;
    Ok(run.into())
}

/// Finds the run a 204 dispatch created: the newest `workflow_dispatch` run of the
/// workflow on the ref, created at or after GitHub's `Date` of the 204 (GitHub's clock on
/// both sides).
///
/// This is a race by nature: GitHub creates the run shortly after it answers, so the first
/// read may not list it yet (hence a few reads), and a second dispatch of the same
/// workflow on the same ref within the same second is indistinguishable from ours.
/// Servers that know `return_run_details` avoid all of this.
async fn find_dispatched_run(
    gh: &GitHub,
    req: &WorkflowDispatch,
    dispatched_at: Option<DateTime<Utc>>,
    what: &str,
) -> Result<WorkflowRun, VcsError> {
    let query = serde_urlencoded::to_string([
        ("event", "workflow_dispatch"),
        ("branch", req.git_ref.as_str()),
        ("per_page", "5"),
    ])
    .expect("string pairs always encode");
    let route = format!(
        "/repos/{}/{}/actions/workflows/{}/runs?{query}",
        segment(&req.owner),
        segment(&req.repo),
        segment(&req.workflow)
    );
    let mut last_error = None;
    for lookup in 0..RUN_LOOKUPS {
        if lookup > 0 {
            tokio::time::sleep(RUN_LOOKUP_DELAY * lookup).await;
        }
        match gh.get_json::<RunList>(&route, what).await {
            Ok(list) => {
                if let Some(run) = newest_since(list.workflow_runs, dispatched_at) {
                    return Ok(run.into());
                }
            }
            Err(error) => last_error = Some(error),
        }
    }
    // Not `Unavailable`: the dispatch went through, and a retry would dispatch again.
    let cause = last_error.map_or_else(String::new, |e| format!(" ({e})"));
    Err(VcsError::NotFound(format!(
        "{what} was dispatched on `{}`, but its run did not show up; look in the repository's Actions tab{cause}",
        req.git_ref
    )))
}

/// The newest run created at or after `since`; without a time, the newest run.
fn newest_since(runs: Vec<Run>, since: Option<DateTime<Utc>>) -> Option<Run> {
    runs.into_iter()
        .filter(|run| match (since, run.created_at) {
            (Some(since), Some(created)) => created >= since,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .max_by_key(|run| (run.created_at, run.id))
}

#[derive(Serialize)]
struct DispatchBody<'a> {
    #[serde(rename = "ref")]
    git_ref: &'a str,
    inputs: &'a BTreeMap<String, String>,
    return_run_details: bool,
}

/// `workflow-dispatch-response`.
#[derive(Deserialize)]
struct Dispatched {
    workflow_run_id: u64,
    html_url: String,
}

/// The fields of a `workflow-run` Tocsin uses.
#[derive(Deserialize)]
struct Run {
    id: u64,
    html_url: String,
    status: Option<String>,
    conclusion: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

impl From<Run> for WorkflowRun {
    fn from(run: Run) -> Self {
        WorkflowRun {
            id: run.id,
            html_url: run.html_url,
            // The schema allows null; a run GitHub has not given a status is not finished.
            status: run.status.unwrap_or_else(|| "pending".to_owned()),
            conclusion: run.conclusion,
        }
    }
}

#[derive(Deserialize)]
struct RunList {
    workflow_runs: Vec<Run>,
}
