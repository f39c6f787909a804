//! Running actions: the core operations behind `/incident run` and `/incident revert`
//! (request, confirm, cancel) and the jobs that run them and report back.
//!
//! A run is at most once: a worker marks it `running` before calling out, and a run found
//! `running` when its job comes round again (the process died mid-call) is reported as
//! interrupted instead of being repeated, because an action may not be safe to repeat.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::actions::{
    ActionError, ActionKind, ActionOutput, ActionRunner, ActionSpec, Args, RevertRequest,
    RevertTarget, Vcs, WorkflowDispatch,
};
use crate::jobs::{Handlers, JobError, JobHandler};
use crate::model::{
    ActionRun, ActionRunState, ActionRunUpdate, Actor, AuditEvent, IncidentId, Job, NewAuditEntry,
    NewJob, NewTimelineEntry, Subject, TimelineKind,
};
use crate::ops::{CORE_QUEUE, Core, CoreResult, chat_queue, kinds};
use crate::store::{ActionRunTransition, NewActionRun, StoreError};

/// Someone's request to run a configured action.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub action: String,
    pub args: Args,
    pub incident: Option<IncidentId>,
    pub actor: Actor,
    /// How the audit log names the person (`user:alice`, or `slack:U0123` when unlinked).
    pub actor_label: String,
    pub platform: String,
    pub channel: String,
}

fn args_json(args: &Args) -> serde_json::Value {
    serde_json::to_value(args).unwrap_or_default()
}

/// `name a=1 b=2` for the timeline and chat.
pub fn describe(action: &str, args: &serde_json::Value) -> String {
    let mut out = action.to_owned();
    if let Some(map) = args.as_object() {
        for (k, v) in map {
            out.push_str(&format!(" {k}={}", v.as_str().unwrap_or_default()));
        }
    }
    out
}

impl Core {
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.settings.actions.iter().find(|a| a.name == name)
    }

    /// Records a refused request in the audit log: who asked for what, and why not.
    pub async fn refuse_action(
        &self,
        req: &RunRequest,
        reason: &str,
    ) -> Result<(), crate::StoreError> {
        self.store
            .append_audit(NewAuditEntry {
                at: self.clock.now(),
                actor: req.actor_label.clone(),
                event: AuditEvent::Refused,
                action: req.action.clone(),
                run_id: None,
                incident_id: req.incident,
                args: args_json(&req.args),
                detail: reason.to_owned(),
            })
            .await?;
        Ok(())
    }

    /// Records the run and, unless its action asks for confirmation, queues it. The caller
    /// has checked the role and bound the arguments.
    pub async fn request_action(
        &self,
        spec: &ActionSpec,
        req: RunRequest,
    ) -> CoreResult<ActionRun> {
        let now = self.clock.now();
        let state = if spec.confirm {
            ActionRunState::AwaitingConfirmation
        } else {
            ActionRunState::Queued
        };
        let run = ActionRun {
            id: uuid::Uuid::now_v7(),
            action: spec.name.clone(),
            kind: spec.kind.name().to_owned(),
            args: args_json(&req.args),
            incident_id: req.incident,
            requested_by: req.actor_label.clone(),
            platform: req.platform,
            channel: req.channel,
            state,
            summary: None,
            detail: None,
            link: None,
            external: json!({}),
            created_at: now,
            updated_at: now,
        };
        let said = describe(&run.action, &run.args);
        let audit = NewAuditEntry {
            at: now,
            actor: req.actor_label,
            event: AuditEvent::Requested,
            action: run.action.clone(),
            run_id: Some(run.id),
            incident_id: run.incident_id,
            args: run.args.clone(),
            detail: if spec.confirm {
                "waiting for confirmation".into()
            } else {
                "queued".into()
            },
        };
        let timeline = run.incident_id.map(|id| NewTimelineEntry {
            subject: Subject::Incident(id),
            at: now,
            kind: TimelineKind::ActionRun,
            actor: req.actor.to_string(),
            text: format!("Asked to run {said}"),
            data: json!({ "run_id": run.id, "action": run.action, "args": run.args }),
        });
        let jobs = if spec.confirm {
            Vec::new()
        } else {
            vec![run_job(run.id, now)]
        };
        Ok(self
            .store
            .create_action_run(NewActionRun {
                run,
                audit,
                timeline,
                jobs,
            })
            .await?)
    }

    /// The confirmation button: queues a run that waits for it.
    pub async fn confirm_action(&self, actor_label: &str, id: uuid::Uuid) -> CoreResult<ActionRun> {
        self.answer_confirmation(actor_label, id, true).await
    }

    /// The cancel button: the run never happens.
    pub async fn cancel_action(&self, actor_label: &str, id: uuid::Uuid) -> CoreResult<ActionRun> {
        self.answer_confirmation(actor_label, id, false).await
    }

    /// Moves a run waiting for confirmation on: queued (with its job) or cancelled (with a
    /// timeline entry), audited either way. A run no longer waiting is a Conflict.
    async fn answer_confirmation(
        &self,
        actor_label: &str,
        id: uuid::Uuid,
        confirmed: bool,
    ) -> CoreResult<ActionRun> {
        let now = self.clock.now();
        let run = self.store.get_action_run(id).await?;
        let (to, event, detail) = if confirmed {
            (ActionRunState::Queued, AuditEvent::Confirmed, "confirmed")
        } else {
            (
                ActionRunState::Cancelled,
                AuditEvent::Cancelled,
                "cancelled",
            )
        };
        let timeline = match (confirmed, run.incident_id) {
            (false, Some(incident)) => Some(NewTimelineEntry {
                subject: Subject::Incident(incident),
                at: now,
                kind: TimelineKind::ActionRun,
                actor: actor_label.to_owned(),
                text: format!("Cancelled {}", describe(&run.action, &run.args)),
                data: json!({ "run_id": run.id }),
            }),
            _ => None,
        };
        Ok(self
            .store
            .transition_action_run(ActionRunTransition {
                id,
                from: vec![ActionRunState::AwaitingConfirmation],
                to,
                update: ActionRunUpdate::default(),
                at: now,
                audit: Some(audit(&run, actor_label, event, detail, now)),
                timeline,
                jobs: if confirmed {
                    vec![run_job(id, now)]
                } else {
                    Vec::new()
                },
            })
            .await?)
    }
}

fn audit(
    run: &ActionRun,
    actor: &str,
    event: AuditEvent,
    detail: &str,
    at: DateTime<Utc>,
) -> NewAuditEntry {
    NewAuditEntry {
        at,
        actor: actor.to_owned(),
        event,
        action: run.action.clone(),
        run_id: Some(run.id),
        incident_id: run.incident_id,
        args: run.args.clone(),
        detail: detail.to_owned(),
    }
}

fn run_job(id: uuid::Uuid, at: DateTime<Utc>) -> NewJob {
    NewJob {
        // Retried only for store trouble before the call; the call itself is at most once.
        max_attempts: 5,
        ..NewJob::new(CORE_QUEUE, kinds::ACTION_RUN, json!({ "run_id": id }), at)
    }
}

fn result_job(run: &ActionRun, at: DateTime<Utc>) -> NewJob {
    NewJob::new(
        chat_queue(&run.platform),
        kinds::ACTION_RESULT,
        json!({ "run_id": run.id, "state": run.state }),
        at,
    )
}

#[derive(Deserialize)]
struct RunPayload {
    run_id: uuid::Uuid,
}

/// Runs queued actions and follows workflow runs to their end.
pub struct ActionJobs {
    core: Core,
    runner: Arc<dyn ActionRunner>,
    vcs: Option<Arc<dyn Vcs>>,
}

impl ActionJobs {
    pub fn handlers(
        core: Core,
        runner: Arc<dyn ActionRunner>,
        vcs: Option<Arc<dyn Vcs>>,
    ) -> Handlers {
        let me: Arc<dyn JobHandler> = Arc::new(Self { core, runner, vcs });
        Handlers::new()
            .on(kinds::ACTION_RUN, me.clone())
            .on(kinds::ACTION_POLL, me)
    }

    fn vcs(&self) -> Result<&Arc<dyn Vcs>, ActionError> {
        self.vcs.as_ref().ok_or_else(|| {
            ActionError::NotConfigured("GitHub actions need GITHUB_TOKEN to be set".into())
        })
    }

    /// Ends a run: its result, the audit line, the timeline entry and the chat report,
    /// written together.
    async fn finish(
        &self,
        run: &ActionRun,
        from: ActionRunState,
        outcome: Result<ActionOutput, ActionError>,
    ) -> Result<(), JobError> {
        let now = self.core.clock.now();
        let (to, update, event) = match outcome {
            Ok(out) => (
                if out.ok {
                    ActionRunState::Succeeded
                } else {
                    ActionRunState::Failed
                },
                ActionRunUpdate {
                    summary: Some(out.summary),
                    detail: Some(out.detail),
                    link: out.link,
                    external: None,
                },
                if out.ok {
                    AuditEvent::Succeeded
                } else {
                    AuditEvent::Failed
                },
            ),
            Err(e) => (
                ActionRunState::Failed,
                ActionRunUpdate {
                    summary: Some(e.to_string()),
                    ..Default::default()
                },
                AuditEvent::Failed,
            ),
        };
        self.transition(run, from, to, update, event, now).await
    }

    async fn transition(
        &self,
        run: &ActionRun,
        from: ActionRunState,
        to: ActionRunState,
        update: ActionRunUpdate,
        event: AuditEvent,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let summary = update.summary.clone().unwrap_or_default();
        let mut text = format!("{} {to}: {summary}", describe(&run.action, &run.args));
        if let Some(link) = &update.link {
            text.push_str(&format!(" ({link})"));
        }
        if let Some(detail) = update.detail.as_deref().filter(|d| !d.is_empty()) {
            text.push('\n');
            text.push_str(detail);
        }
        let mut after = run.clone();
        after.state = to;
        let transition = ActionRunTransition {
            id: run.id,
            from: vec![from],
            to,
            audit: Some(audit(run, "system", event, &summary, now)),
            timeline: run.incident_id.map(|incident| NewTimelineEntry {
                subject: Subject::Incident(incident),
                at: now,
                kind: TimelineKind::ActionRun,
                actor: "system".into(),
                text,
                data: json!({ "run_id": run.id, "state": to, "link": update.link }),
            }),
            update,
            at: now,
            jobs: vec![result_job(&after, now)],
        };
        match self.core.store.transition_action_run(transition).await {
            Ok(_) => Ok(()),
            // Someone else finished it first (a duplicate job): nothing more to do.
            Err(StoreError::Conflict(why)) => {
                tracing::warn!(run_id = %run.id, why, "action run already moved on");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn run(&self, p: RunPayload) -> Result<(), JobError> {
        let run = self.core.store.get_action_run(p.run_id).await?;
        let now = self.core.clock.now();
        match run.state {
            ActionRunState::Queued => {}
            ActionRunState::Running => {
                // Our earlier attempt died between starting the call and recording its end.
                return self
                    .transition(
                        &run,
                        ActionRunState::Running,
                        ActionRunState::Interrupted,
                        ActionRunUpdate {
                            summary: Some(
                                "interrupted: Tocsin stopped while it ran; it was not run again \
                                 (check its effect before running it again)"
                                    .into(),
                            ),
                            ..Default::default()
                        },
                        AuditEvent::Interrupted,
                        now,
                    )
                    .await;
            }
            _ => return Ok(()),
        }
        let started = self
            .core
            .store
            .transition_action_run(ActionRunTransition {
                id: run.id,
                from: vec![ActionRunState::Queued],
                to: ActionRunState::Running,
                update: ActionRunUpdate::default(),
                at: now,
                audit: None,
                timeline: None,
                jobs: Vec::new(),
            })
            .await;
        match started {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let Some(spec) = self.core.action(&run.action).cloned() else {
            let gone = Err(ActionError::NotConfigured(format!(
                "action `{}` is no longer configured",
                run.action
            )));
            return self.finish(&run, ActionRunState::Running, gone).await;
        };
        let args: Args = serde_json::from_value(run.args.clone()).unwrap_or_default();
        tracing::info!(run_id = %run.id, action = %run.action, kind = %run.kind, "running action");
        match &spec.kind {
            ActionKind::Http(_) | ActionKind::Command(_) => {
                let out = self.runner.run(&spec, &args).await;
                self.finish(&run, ActionRunState::Running, out).await
            }
            ActionKind::GithubRevert(revert) => {
                let out = self.revert(&run, revert.auto_merge, &args).await;
                self.finish(&run, ActionRunState::Running, out).await
            }
            ActionKind::GithubWorkflow(workflow) => {
                let dispatched = match self.vcs() {
                    Ok(vcs) => {
                        let (owner, repo) = workflow.repo.split_once('/').unwrap_or_default();
                        let inputs = workflow
                            .inputs
                            .iter()
                            .map(|(k, v)| (k.clone(), fill(v, &args)))
                            .collect();
                        vcs.dispatch_workflow(&WorkflowDispatch {
                            owner: owner.into(),
                            repo: repo.into(),
                            workflow: workflow.workflow.clone(),
                            git_ref: workflow.git_ref.clone(),
                            inputs,
                        })
                        .await
                        .map_err(ActionError::from)
                    }
                    Err(e) => Err(e),
                };
                match dispatched {
                    Err(e) => self.finish(&run, ActionRunState::Running, Err(e)).await,
                    Ok(wf) if wf.finished() => {
                        let out = workflow_output(&wf);
                        self.finish(&run, ActionRunState::Running, Ok(out)).await
                    }
                    Ok(wf) => {
                        let (owner, repo) = workflow.repo.split_once('/').unwrap_or_default();
                        let mut transition = ActionRunTransition {
                            id: run.id,
                            from: vec![ActionRunState::Running],
                            to: ActionRunState::Following,
                            update: ActionRunUpdate {
                                summary: Some(format!("workflow run {} {}", wf.id, wf.status)),
                                link: Some(wf.html_url.clone()),
                                external: Some(json!({
                                    "owner": owner, "repo": repo, "workflow_run_id": wf.id
                                })),
                                ..Default::default()
                            },
                            at: now,
                            audit: None,
                            timeline: run.incident_id.map(|incident| NewTimelineEntry {
                                subject: Subject::Incident(incident),
                                at: now,
                                kind: TimelineKind::ActionRun,
                                actor: "system".into(),
                                text: format!(
                                    "{} started workflow run {} ({})",
                                    describe(&run.action, &run.args),
                                    wf.id,
                                    wf.html_url
                                ),
                                data: json!({ "run_id": run.id, "workflow_run_id": wf.id }),
                            }),
                            jobs: Vec::new(),
                        };
                        let mut after = run.clone();
                        after.state = ActionRunState::Following;
                        transition.jobs = vec![
                            result_job(&after, now),
                            poll_job(run.id, now + chrono_of(workflow.poll_every)),
                        ];
                        self.core.store.transition_action_run(transition).await?;
                        Ok(())
                    }
                }
            }
        }
    }

    async fn revert(
        &self,
        run: &ActionRun,
        auto_merge: bool,
        args: &Args,
    ) -> Result<ActionOutput, ActionError> {
        let vcs = self.vcs()?;
        let repo = args.get("repo").cloned().unwrap_or_default();
        let (owner, name) = repo
            .split_once('/')
            .ok_or_else(|| ActionError::Upstream(format!("`{repo}` is not owner/repo")))?;
        let target = args
            .get("target")
            .and_then(|t| RevertTarget::parse(t))
            .ok_or_else(|| ActionError::Upstream("no pull request number or commit".into()))?;
        let incident = match run.incident_id {
            Some(id) => match self.core.store.get_incident(id).await {
                Ok(i) => format!(" during {}", i.reference()),
                Err(_) => String::new(),
            },
            None => String::new(),
        };
        let revert = vcs
            .revert(&RevertRequest {
                owner: owner.into(),
                repo: name.into(),
                target,
                auto_merge,
                reason: format!(
                    "Reverted from chat by {}{incident} with Tocsin.",
                    run.requested_by
                ),
                client_mutation_id: format!("tocsin-{}", run.id),
            })
            .await?;
        Ok(ActionOutput {
            ok: true,
            summary: format!(
                "revert of {repo}#{} opened as #{}{}",
                revert.original_number,
                revert.number,
                if revert.auto_merge {
                    ", auto-merge on"
                } else {
                    ""
                }
            ),
            detail: String::new(),
            link: Some(revert.url),
        })
    }

    async fn poll(&self, p: RunPayload) -> Result<(), JobError> {
        let run = self.core.store.get_action_run(p.run_id).await?;
        if run.state != ActionRunState::Following {
            return Ok(());
        }
        let Some(ActionKind::GithubWorkflow(workflow)) =
            self.core.action(&run.action).map(|s| s.kind.clone())
        else {
            let gone = Err(ActionError::NotConfigured(format!(
                "action `{}` is no longer configured; stopped following its run",
                run.action
            )));
            return self.finish(&run, ActionRunState::Following, gone).await;
        };
        let owner = run.external["owner"].as_str().unwrap_or_default();
        let repo = run.external["repo"].as_str().unwrap_or_default();
        let Some(run_id) = run.external["workflow_run_id"].as_u64() else {
            return Err(JobError::permanent(
                "following run without a workflow run id",
            ));
        };
        let vcs = self.vcs().map_err(JobError::permanent)?;
        let wf = match vcs.workflow_run(owner, repo, run_id).await {
            Ok(wf) => wf,
            Err(e @ crate::actions::VcsError::RateLimited { retry_after }) => {
                return Err(JobError::Retry {
                    message: e.to_string(),
                    after: retry_after,
                });
            }
            Err(e @ crate::actions::VcsError::Unavailable(_)) => return Err(JobError::retry(e)),
            Err(e) => {
                return self
                    .finish(&run, ActionRunState::Following, Err(e.into()))
                    .await;
            }
        };
        let now = self.core.clock.now();
        if wf.finished() {
            return self
                .finish(&run, ActionRunState::Following, Ok(workflow_output(&wf)))
                .await;
        }
        if now - run.created_at >= chrono_of(workflow.give_up_after) {
            let out = ActionOutput {
                ok: false,
                summary: format!(
                    "workflow run {} still {} after {}; stopped following it",
                    wf.id,
                    wf.status,
                    humanize(workflow.give_up_after)
                ),
                detail: String::new(),
                link: Some(wf.html_url),
            };
            return self.finish(&run, ActionRunState::Following, Ok(out)).await;
        }
        self.core
            .store
            .enqueue(&[poll_job(run.id, now + chrono_of(workflow.poll_every))])
            .await?;
        Ok(())
    }
}

fn workflow_output(wf: &crate::actions::WorkflowRun) -> ActionOutput {
    let conclusion = wf.conclusion.clone().unwrap_or_else(|| "unknown".into());
    ActionOutput {
        ok: conclusion == "success",
        summary: format!("workflow run {} finished: {conclusion}", wf.id),
        detail: String::new(),
        link: Some(wf.html_url.clone()),
    }
}

fn poll_job(id: uuid::Uuid, at: DateTime<Utc>) -> NewJob {
    NewJob::new(CORE_QUEUE, kinds::ACTION_POLL, json!({ "run_id": id }), at)
}

fn chrono_of(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn humanize(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Fills `{param}` in a workflow input with its argument; text without placeholders is
/// kept as is. Workflow inputs are data GitHub passes to the workflow, never a URL or a
/// command line, so no encoding applies.
pub fn fill(template: &str, args: &Args) -> String {
    // One pass, so a value that itself looks like `{param}` is never expanded again; `{{`
    // and `}}` are literal braces, as in every action template.
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        match tail[1..].find('}').map(|close| &tail[1..=close]) {
            Some(name) if tail.starts_with('{') && args.contains_key(name) => {
                out.push_str(&args[name]);
                rest = &tail[name.len() + 2..];
            }
            _ => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[async_trait]
impl JobHandler for ActionJobs {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: RunPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad {} payload: {e}", job.kind)))?;
        match job.kind.as_str() {
            kinds::ACTION_RUN => ActionJobs::run(self, p).await,
            kinds::ACTION_POLL => self.poll(p).await,
            other => Err(JobError::permanent(format!(
                "action jobs cannot run `{other}`"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_expands_each_placeholder_once() {
        let args: Args = [
            ("a".to_string(), "{b}".to_string()),
            ("b".into(), "x".into()),
        ]
        .into();
        assert_eq!(fill("{a}-{b}-{c}", &args), "{b}-x-{c}");
        assert_eq!(fill("plain", &args), "plain");
        assert_eq!(fill("{{a}} {a}", &args), "{a} {b}");
    }
}
