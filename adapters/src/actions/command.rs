//! `command` actions: one allow-listed program, started directly (no shell, no `PATH`
//! lookup) with each configured argument as exactly one argv item, whatever the values
//! substituted into it contain. The child gets no stdin and an environment of `PATH` and
//! the configured variables only; it runs in a process group of its own so that, when the
//! timeout strikes, whatever it started is killed with it.

use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bot_core::actions::{
    ActionError, ActionOutput, Args, CommandAction, MAX_OUTPUT, redact, truncate,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::template::{Context, EnvLookup, Values};
use super::{READ_CAP, human};

/// How long the output pipes get to close after the program ended or was killed, before
/// what was read is taken as it is (a process that left the group may still hold them).
const DRAIN_GRACE: Duration = Duration::from_millis(250);

pub(super) async fn run(
    env: &EnvLookup,
    action: &CommandAction,
    args: &Args,
) -> Result<ActionOutput, ActionError> {
    check_program(&action.program).await?;
    let mut values = Values::new(args, env);
    let mut argv = Vec::with_capacity(action.args.len());
    for (i, arg) in action.args.iter().enumerate() {
        argv.push(values.render(arg, Context::Raw, &format!("argument {}", i + 1))?);
    }
    let mut vars = Vec::with_capacity(action.env.len());
    for (name, value) in &action.env {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(ActionError::NotConfigured(format!(
                "`{name}` is not an environment variable name"
            )));
        }
        let value = values.render(value, Context::Raw, &format!("environment variable {name}"))?;
        vars.push((name, value));
    }
    let secrets = values.redactions();

    let mut command = Command::new(&action.program);
    command
        .args(&argv)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = env("PATH") {
        command.env("PATH", path);
    }
    command.envs(vars);
    #[cfg(unix)]
    command.process_group(0);

    tracing::debug!(program = %action.program, "starting the action's command");
    let deadline = Instant::now() + action.timeout;
    let mut child = command
        .spawn()
        .map_err(|e| spawn_error(&action.program, e))?;
    let pid = child.id();
    let (stdout, mut stdout_task) = collect(child.stdout.take().expect("stdout is piped"));
    let (stderr, mut stderr_task) = collect(child.stderr.take().expect("stderr is piped"));

    let status = match timeout_at(deadline, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(e)) => {
            kill_group(pid);
            return Err(ActionError::Unavailable(format!(
                "waiting for {}: {e}",
                action.program
            )));
        }
        Err(_) => {
            // The group first, while its leader is not yet reaped and its id is still ours.
            kill_group(pid);
            // Best effort: kill_on_drop covers a failure here.
            let _ = child.kill().await;
            None
        }
    };
    // A process that outlives the program (started in the background) may keep the pipes
    // open; it gets until the deadline, then it is killed and the output taken as it is.
    let drain_until = match status {
        Some(_) => deadline.max(Instant::now() + DRAIN_GRACE),
        None => Instant::now() + DRAIN_GRACE,
    };
    let drained = timeout_at(drain_until, async {
        let _ = (&mut stdout_task).await;
        let _ = (&mut stderr_task).await;
    })
    .await;
    if drained.is_err() {
        kill_group(pid);
        stdout_task.abort();
        stderr_task.abort();
    }

    let text = combine(&taken(&stdout), &taken(&stderr));
    let (ok, summary) = match status {
        None => (
            false,
            format!("timed out after {} (killed)", human(action.timeout)),
        ),
        Some(status) => describe(status),
    };
    Ok(ActionOutput {
        ok,
        summary,
        // Redacted before the cut, so that a secret cut in half cannot slip through.
        detail: truncate(&redact(&text, &secrets), MAX_OUTPUT),
        link: None,
    })
}

/// An absolute path to an executable file: no `PATH` lookup decides what runs.
async fn check_program(program: &str) -> Result<(), ActionError> {
    let not = |why: String| ActionError::NotConfigured(format!("cannot run {program}: {why}"));
    if !Path::new(program).is_absolute() {
        return Err(not(
            "not an absolute path (commands run without a shell or a PATH lookup)".into(),
        ));
    }
    let meta = tokio::fs::metadata(program)
        .await
        .map_err(|e| not(e.to_string()))?;
    if !meta.is_file() {
        return Err(not("not a file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(not("not executable".into()));
        }
    }
    Ok(())
}

fn spawn_error(program: &str, e: io::Error) -> ActionError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied | io::ErrorKind::InvalidInput => {
            ActionError::NotConfigured(format!("cannot run {program}: {e}"))
        }
        _ => ActionError::Unavailable(format!("cannot start {program}: {e}")),
    }
}

type Captured = Arc<Mutex<Vec<u8>>>;

/// Reads `pipe` to its end in a task, keeping the first [`READ_CAP`] bytes where they can be
/// taken even if the task never ends, and dropping the rest, so that the child never blocks
/// on a full pipe and a chatty one cannot fill memory.
fn collect(mut pipe: impl AsyncRead + Unpin + Send + 'static) -> (Captured, JoinHandle<()>) {
    let captured = Captured::default();
    let sink = Arc::clone(&captured);
    let task = tokio::spawn(async move {
        let mut chunk = vec![0u8; 8 * 1024];
        loop {
            match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut kept = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    let room = READ_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        }
    });
    (captured, task)
}

fn taken(captured: &Captured) -> Vec<u8> {
    std::mem::take(&mut *captured.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Stdout, then stderr under a `--- stderr ---` line when there is any.
fn combine(stdout: &[u8], stderr: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(stdout).into_owned();
    if !stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("--- stderr ---\n");
        text.push_str(&String::from_utf8_lossy(stderr));
    }
    text
}

fn describe(status: ExitStatus) -> (bool, String) {
    if let Some(code) = status.code() {
        return (code == 0, format!("exit code {code}"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return (false, format!("killed by signal {signal}"));
        }
    }
    (false, "killed by signal".into())
}

/// Kills the process group the child leads (it was started with `process_group(0)`), so
/// that what it started dies with it.
#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    let Some(pgid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) else {
        return;
    };
    // SAFETY: killpg only asks the kernel to signal a process group; it reads and writes no
    // memory of ours. A group that no longer exists is an ESRCH error, ignored.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}
