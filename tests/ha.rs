//! High availability with real `tocsin serve` processes. On PostgreSQL any number of
//! replicas serve, one of them leads the single-owner work (here Slack Socket Mode) and
//! says so in `/readyz`; killed with SIGKILL, another takes over within seconds. On
//! SQLite a second `serve` on the same file is refused at once, naming the lock file and
//! pointing at PostgreSQL, while the CLI's reads still work beside the server.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Backend, eventually};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const SOCKET: &str = "slack-socket-mode";

const CONFIG: &str = r#"
[console]
enabled = false

[[users]]
id = "oncall"
name = "On Call"
time_zone = "UTC"
"#;

/// `tocsin serve` on `database_url`. With `socket_mode`, Slack Socket Mode is set up
/// against an address where nothing listens: the connection keeps failing and retrying,
/// which is all the leadership below needs (the lock is taken before connecting).
fn command(config: &Path, database_url: &str, socket_mode: bool) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", config)
        .env("DATABASE_URL", database_url)
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_SIGNING_SECRET")
        .env_remove("DISCORD_TOKEN")
        .env_remove("RUST_LOG")
        .stderr(Stdio::null());
    if socket_mode {
        command
            .env("SLACK_APP_TOKEN", "xapp-1-A0TEST-1-ha")
            .env("TOCSIN_SLACK_API_URL", "http://127.0.0.1:9/api");
    } else {
        command.env_remove("SLACK_APP_TOKEN");
    }
    command
}

async fn readyz(base: &str) -> Option<(u16, Value)> {
    let response = reqwest::get(format!("{base}/readyz")).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

/// Waits until `base`'s `/readyz` says it holds `role` in Socket Mode; returns the body.
async fn role_is(base: &str, role: &str, within: Duration) -> Value {
    eventually(&format!("{base} to report {role}"), within, || async move {
        let (status, body) = readyz(base).await?;
        (status == 200 && body["roles"][SOCKET] == role).then_some(body)
    })
    .await
}

#[tokio::test]
async fn on_postgresql_one_replica_leads_and_another_takes_over_within_seconds_of_a_kill() {
    support::db::on(Backend::Postgres, |db| async move {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tocsin.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let (mut a, a_base) = support::start_serving(command(&config, &db.url, true)).await;
        role_is(&a_base, "leader", Duration::from_secs(30)).await;
        let (_b, b_base) = support::start_serving(command(&config, &db.url, true)).await;
        let follower = role_is(&b_base, "follower", Duration::from_secs(30)).await;
        assert_eq!(follower["status"], "ready");
        assert_eq!(follower["database"]["backend"], "postgres");
        assert_eq!(follower["database"]["state"], "ready");
        assert_eq!(follower["roles"]["discord-gateway"], "not configured");
        assert!(follower["jobs"]["queued"].is_i64(), "{follower}");
        // One leader at a time: A still leads while B follows.
        assert_eq!(readyz(&a_base).await.unwrap().1["roles"][SOCKET], "leader");

        let killed_at = Instant::now();
        a.kill().await.unwrap(); // SIGKILL: no goodbye, the lock goes with the connection
        role_is(&b_base, "leader", Duration::from_secs(10)).await;
        let takeover = killed_at.elapsed();
        println!("takeover after SIGKILL of the leader: {takeover:?}");
    })
    .await;
}

#[tokio::test]
async fn a_second_serve_on_one_sqlite_file_is_refused_while_cli_reads_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tocsin.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let db_path = dir.path().join("tocsin.db");
    let url = format!("sqlite://{}", db_path.display());
    let (mut first, base) = support::start_serving(command(&config, &url, false)).await;
    let (status, body) = readyz(&base).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["database"]["backend"], "sqlite");
    assert_eq!(body["roles"][SOCKET], "not configured");

    let refused = tokio::time::timeout(
        Duration::from_secs(30),
        command(&config, &url, false)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("the second serve exits at once")
    .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    let lock = format!("{}.lock", db_path.display());
    assert!(
        message.contains(&lock) && message.contains("PostgreSQL"),
        "{message}"
    );

    // The CLI opens the same file beside the server, as operators do.
    let token = support::api_token(dir.path()).await;
    assert!(!token.trim().is_empty());

    // The lock dies with its holder: after a SIGKILL the file serves again.
    first.kill().await.unwrap();
    let (_again, base) = support::start_serving(command(&config, &url, false)).await;
    assert_eq!(readyz(&base).await.unwrap().0, 200);
}
