//! The real `tocsin` binary on a temporary SQLite file: declaring over REST and in the
//! console, metrics, a job that falls due while the process is killed, graceful shutdown
//! and `check-config`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::eventually;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml");
const PATIENCE: Duration = Duration::from_secs(30);
/// The key the example configuration's Alertmanager integration reads from its `key_env`.
const ALERTMANAGER_KEY: &str = "e2e-alertmanager-key";

/// A scratch directory with a database and a configuration file in it.
struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    /// The example configuration, with the update reminder set to `reminder`.
    fn new(reminder: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tocsin.toml");
        let example = std::fs::read_to_string(EXAMPLE).unwrap();
        let edited = example.replace(
            "update_reminder = \"30m\"",
            &format!("update_reminder = \"{reminder}\""),
        );
        assert!(
            example.contains("update_reminder = \"30m\""),
            "the example sets the reminder"
        );
        std::fs::write(&config, edited).unwrap();
        Site { dir, config }
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("tocsin.db").display())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("TOCSIN_CONFIG", &self.config)
            .env("CHECKOUT_ALERTMANAGER_KEY", ALERTMANAGER_KEY)
            .env("DATABASE_URL", self.database_url())
            .env("TOCSIN_LISTEN", "127.0.0.1:0")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        cmd
    }

    /// `tocsin serve`, once it has said where it listens.
    async fn serve(&self) -> Server {
        let mut child = self
            .command(&["serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("listening on ") {
                    return url.to_owned();
                }
            }
            panic!("tocsin serve exited before listening");
        })
        .await
        .expect("tocsin serve did not start listening");
        Server {
            child,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// `tocsin console --as USER`: the process, its input, and its output line by line.
    fn console(&self, user: &str) -> (Child, ChildStdin, Lines<BufReader<ChildStdout>>) {
        let mut console = self
            .command(&["console", "--as", user])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = console.stdin.take().unwrap();
        let lines = BufReader::new(console.stdout.take().unwrap()).lines();
        (console, stdin, lines)
    }

    async fn token(&self, name: &str, role: &str) -> String {
        let out = self
            .command(&["token", "create", "--name", name, "--role", role])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    }
}

struct Server {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// Reads the console's output until a line contains `needle`; returns everything read.
async fn read_until(lines: &mut Lines<BufReader<ChildStdout>>, needle: &str) -> String {
    let mut seen = String::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(needle) {
                return;
            }
        }
        panic!("console ended before printing {needle:?}; it printed:\n{seen}");
    })
    .await
    .unwrap_or_else(|_| panic!("console did not print {needle:?} in time; it printed:\n{seen}"));
    seen
}

#[tokio::test]
async fn incidents_declared_over_rest_and_console_are_read_back_and_counted() {
    let site = Site::new("30m");
    let server = site.serve().await;
    let token = site.token("e2e", "admin").await;

    let (status, created) = server
        .post(
            "/api/v1/incidents",
            &token,
            json!({"title": "Checkout is failing", "severity": "sev1"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (_, read) = server
        .get(
            &format!("/api/v1/incidents/{}", created["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(read, created);

    let (mut console, mut stdin, mut lines) = site.console("alice");
    read_until(&mut lines, "Tocsin console as alice").await;
    stdin
        .write_all(b"/incident declare sev2 Checkout slow\n")
        .await
        .unwrap();
    read_until(&mut lines, "Declared INC-2 (sev2): Checkout slow").await;
    // The incident card arrives through the console's job queue, with its buttons.
    let card = read_until(&mut lines, "[MAJOR] INC-2 Checkout slow").await;
    let card = card + &read_until(&mut lines, "Resolve").await;
    assert!(card.contains("#inc-2-checkout-slow"), "{card}");
    let resolve = button(&card, "Resolve");
    stdin
        .write_all(b"/join inc-2-checkout-slow\n/incident update Rolled back the deploy\n")
        .await
        .unwrap();
    read_until(&mut lines, "internal update posted to INC-2").await;
    stdin
        .write_all(format!("{resolve}\n").as_bytes())
        .await
        .unwrap();
    read_until(&mut lines, "INC-2 resolved after").await;
    stdin.write_all(b"/quit\n").await.unwrap();
    assert!(console.wait().await.unwrap().success());

    let (_, list) = server.get("/api/v1/incidents", &token).await;
    let incidents = list["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[0]["declared_by"], "user:alice");
    assert_eq!(incidents[0]["status"], "resolved");
    assert_eq!(incidents[0]["channels"][0]["name"], "inc-2-checkout-slow");
    let (_, updates) = server.get("/api/v1/incidents/2/updates", &token).await;
    assert_eq!(updates[0]["text"], "Rolled back the deploy");

    let metrics = server.text("/metrics").await;
    for line in [
        r#"tocsin_incidents{status="investigating"} 1"#,
        r#"tocsin_incidents{status="resolved"} 1"#,
        r#"tocsin_http_requests_total{route="/api/v1/incidents",method="POST",status="201"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing from /metrics:\n{metrics}"
        );
    }
    assert!(metrics.contains("tocsin_jobs{state="), "{metrics}");
}

#[tokio::test]
async fn declaring_at_the_console_opens_a_room_invites_pins_and_announces_and_the_form_declares_too()
 {
    let site = Site::new("30m");
    let (mut console, mut stdin, mut lines) = site.console("bob");
    read_until(&mut lines, "Tocsin console as bob").await;
    stdin
        .write_all(b"/incident declare sev2 --service checkout Checkout is failing\n")
        .await
        .unwrap();
    let mut seen = read_until(&mut lines, "Declared INC-1 (sev2): Checkout is failing").await;
    assert!(seen.contains("you are the commander"), "{seen}");
    // Through the console's job queue: the room, its people, the pinned card, the
    // announcement.
    seen += &read_until(&mut lines, "(pinned ").await;
    seen += &read_until(&mut lines, "[MAJOR] INC-1 Checkout is failing").await;
    assert!(
        seen.contains(
            "#inc-1-checkout-is-failing\nRoom opened. Topic: INC-1 · sev2 · investigating"
        ),
        "{seen}"
    );
    assert!(seen.contains("Invited: bob"), "{seen}");
    // The card in the room, then the same card announced in #incidents.
    let announced = read_until(&mut lines, "#incidents").await;
    let announced = announced + &read_until(&mut lines, "[MAJOR] INC-1 Checkout is failing").await;
    assert!(
        announced.contains("#incidents\n[MAJOR] INC-1"),
        "{announced}"
    );

    // Without a title, the form: one prompt per field.
    stdin
        .write_all(b"/incident declare\nDB replica lag\n\ncheckout\nReads are stale\n")
        .await
        .unwrap();
    let form = read_until(&mut lines, "Declared INC-2 (sev3): DB replica lag").await;
    for prompt in [
        "Declare an incident",
        "Title:",
        "Severity (sev1|sev2|sev3|sev4) [sev3]:",
        "Description (optional):",
    ] {
        assert!(form.contains(prompt), "{prompt} missing from:\n{form}");
    }
    stdin.write_all(b"/quit\n").await.unwrap();
    assert!(console.wait().await.unwrap().success());
}

/// The number printed beside the button labelled `label` on the last card in `printed`.
fn button(printed: &str, label: &str) -> String {
    printed
        .lines()
        .rev()
        .flat_map(|line| line.split("   "))
        .find(|choice| choice.trim().trim_end_matches('!').ends_with(label))
        .and_then(|choice| choice.trim().strip_prefix('['))
        .and_then(|choice| choice.split(']').next())
        .unwrap_or_else(|| panic!("no [{label}] button in:\n{printed}"))
        .to_owned()
}

#[tokio::test]
async fn an_alertmanager_alert_reaches_the_console_and_is_acknowledged_with_its_button() {
    let site = Site::new("30m");
    let server = site.serve().await;
    let token = site.token("e2e", "admin").await;
    let fixtures = std::env::var("TOCSIN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures").to_owned());
    let body = std::fs::read(format!(
        "{fixtures}/alerts/alertmanager/webhook_v4_firing_2.json"
    ))
    .unwrap();
    let response = server
        .http
        .post(format!(
            "{}/api/v1/integrations/{ALERTMANAGER_KEY}/alertmanager",
            server.base
        ))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let (mut console, mut stdin, mut lines) = site.console("alice");
    // The card in the service's alerts room. (Whoever is on call is also paged by direct
    // message, which may come first; who that is depends on the wall clock.)
    read_until(&mut lines, "#alerts").await;
    let card = read_until(&mut lines, "Declare incident").await;
    let summary = card
        .lines()
        .find_map(|l| l.strip_prefix("[CRITICAL] "))
        .unwrap_or_else(|| panic!("no critical card in:\n{card}"))
        .to_owned();
    assert!(
        summary.starts_with("p99 latency above 2s on checkout-"),
        "{card}"
    );
    for label in ["Acknowledge", "Escalate", "Resolve", "Declare incident"] {
        button(&card, label);
    }
    stdin
        .write_all(format!("{}\n", button(&card, "Acknowledge")).as_bytes())
        .await
        .unwrap();
    read_until(&mut lines, &format!("Acknowledged: {summary}")).await;
    // The card is edited in place: acknowledged, and no Acknowledge button any more.
    let updated = read_until(&mut lines, "acknowledged by user:alice").await;
    let updated = updated + &read_until(&mut lines, "Declare incident").await;
    assert!(
        !updated.lines().last().unwrap().contains("Acknowledge"),
        "{updated}"
    );
    stdin.write_all(b"/quit\n").await.unwrap();
    assert!(console.wait().await.unwrap().success());

    let (_, acked) = server
        .get("/api/v1/alerts?status=acknowledged", &token)
        .await;
    let acked = acked["alerts"].as_array().unwrap();
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0]["summary"], summary.as_str());
    assert_eq!(acked[0]["acknowledged_by"], "user:alice");
}

/// Waits until the wall clock passes `deadline`: the real binary runs on the real clock,
/// and this test needs a job to fall due while no process is running.
async fn until_wall_clock(deadline: chrono::DateTime<chrono::Utc>) {
    if let Ok(wait) = (deadline - chrono::Utc::now()).to_std() {
        tokio::time::sleep_until(tokio::time::Instant::now() + wait).await;
    }
}

#[tokio::test]
async fn a_job_due_while_the_process_is_killed_runs_after_restart() {
    let site = Site::new("2s");
    let mut server = site.serve().await;
    let token = site.token("e2e", "admin").await;
    let (status, created) = server
        .post(
            "/api/v1/incidents",
            &token,
            json!({"title": "Payments down", "severity": "sev1"}),
        )
        .await;
    assert_eq!(status, 201);
    // SIGKILL: no chance to finish anything. The reminder job is due 2 s after declaring.
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    let declared: chrono::DateTime<chrono::Utc> =
        created["declared_at"].as_str().unwrap().parse().unwrap();
    until_wall_clock(declared + chrono::Duration::milliseconds(2_500)).await;

    let server = site.serve().await;
    let timeline = eventually("the overdue reminder in the timeline", PATIENCE, || async {
        let (_, timeline) = server.get("/api/v1/incidents/1/timeline", &token).await;
        let reminded = timeline.as_array()?.iter().any(|e| e["kind"] == "reminder");
        reminded.then_some(timeline)
    })
    .await;
    let reminder = timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "reminder")
        .unwrap();
    assert!(
        reminder["text"]
            .as_str()
            .unwrap()
            .contains("No status update on INC-1"),
        "{reminder}"
    );
    let (_, done) = server.get("/api/v1/jobs?state=done", &token).await;
    assert!(
        done.as_array()
            .unwrap()
            .iter()
            .any(|j| j["kind"] == "incident.update_reminder"),
        "{done}"
    );
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let site = Site::new("30m");
    let mut server = site.serve().await;
    let pid = server.child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(PATIENCE, server.child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}

async fn check_config(path: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["check-config"])
        .arg(path)
        .output()
        .await
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn check_config_accepts_the_example_and_names_a_misspelt_key_with_its_line() {
    let (ok, out) = check_config(Path::new(EXAMPLE)).await;
    assert!(ok, "{out}");

    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let line = example
        .lines()
        .position(|l| l.starts_with("escalation_policy ="))
        .expect("a service has a policy")
        + 1;
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        example.replacen("escalation_policy =", "escalaton_policy =", 1),
    )
    .unwrap();
    let (ok, out) = check_config(&broken).await;
    assert!(!ok, "a misspelt key must fail: {out}");
    assert!(
        out.contains(&format!("broken.toml:{line}:")),
        "line {line} not named:\n{out}"
    );
    assert!(out.contains("escalaton_policy"), "key not named:\n{out}");
}

#[tokio::test]
async fn manifests_are_written_and_say_what_they_need() {
    // Teams' package needs the bot's app id, the public URL and a file to write.
    let out = Command::new(BIN)
        .args(["manifest", "teams"])
        .env_remove("MicrosoftAppId")
        .env_remove("TOCSIN_PUBLIC_URL")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--app-id"));
    let dir = tempfile::tempdir().unwrap();
    let package = dir.path().join("tocsin-teams.zip");
    let out = Command::new(BIN)
        .args([
            "manifest",
            "teams",
            "--url",
            "https://ops.example.com",
            "--out",
        ])
        .arg(&package)
        .env("MicrosoftAppId", "0d9c7a3e-5b1f-4e2d-8c6a-9f8e7d6c5b4a")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zip = std::fs::read(&package).unwrap();
    assert!(zip.starts_with(b"PK"), "a zip file");
    // Slack's is printed, valid JSON, with the request URLs under the given base.
    let out = Command::new(BIN)
        .args(["manifest", "slack", "--url", "https://ops.example.com"])
        .env_remove("TOCSIN_PUBLIC_URL")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        manifest["settings"]["interactivity"]["request_url"],
        "https://ops.example.com/slack/interactions"
    );
}
