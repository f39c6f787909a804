//! Database outage: a private PostgreSQL cluster (so the machine's shared server is never
//! touched) stopped with `pg_ctl stop -m immediate` while alerts arrive, then started
//! again. Senders get 503 with Retry-After and retry; every alert answered 2xx is stored
//! once and paged as its policy says; nothing is answered 500.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection;

use super::stubs::{self, Rng, Tally};

/// A PostgreSQL cluster of this test's own, run as the `postgres` OS user (initdb refuses
/// root) on a free port. Stopped (immediately) when dropped.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries in /usr/lib/postgresql")
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        as_postgres(
            &["chown", "-R", "postgres", &dir.path().display().to_string()],
            true,
        )
        .await;
        as_postgres(
            &[
                &bin.join("initdb").display().to_string(),
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
            false,
        )
        .await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            bin,
            data,
            port,
            _dir: dir,
        };
        cluster.up().await;
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec![
            self.bin.join("pg_ctl").display().to_string(),
            "-D".to_owned(),
            self.data.display().to_string(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    }

    async fn up(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log").display().to_string();
        let args = self.pg_ctl(&["-o", &options, "-l", &log, "-w", "start"]);
        as_postgres(&args.iter().map(String::as_str).collect::<Vec<_>>(), false).await;
    }

    async fn stop_immediately(&self) {
        let args = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        as_postgres(&args.iter().map(String::as_str).collect::<Vec<_>>(), false).await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut args = self.pg_ctl(&["-m", "immediate", "stop"]);
        let program = args.remove(0);
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--", &program])
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Runs `args` (as root when `as_root`, which only `chown` needs) and fails on failure.
async fn as_postgres(args: &[&str], as_root: bool) {
    let mut command = if as_root {
        let mut c = tokio::process::Command::new(args[0]);
        c.args(&args[1..]);
        c
    } else {
        let mut c = tokio::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).args(args);
        c
    };
    let out = command.output().await.expect("running a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn readable(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn postgresql_stopped_and_restarted_during_ingest_loses_nothing_accepted() {
    let alerts = stubs::size(100, 1_000);
    // Longer than the pool waits for a connection (10 s): a shorter outage only delays
    // answers, and the alerts are stored once it ends.
    let (outages, down) = if stubs::full() {
        (3, Duration::from_secs(20))
    } else {
        (1, Duration::from_secs(12))
    };
    let mut rng = Rng::for_scenario("database outage");
    let started = Instant::now();
    let cluster = Cluster::start().await;
    let (webhook, pages) = stubs::receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = stubs::write_config(dir.path(), &webhook);
    let (process, base) = stubs::serve(&config, &cluster.url()).await;
    let targets = Arc::new(Mutex::new(vec![base]));
    // Alerts keep coming through every outage: a batch every 200 ms.
    let batches = (outages as u32 + 1) * (down.as_millis() as u32 / 200 + 5);
    let batch = alerts.div_ceil(batches as usize);
    let sender = tokio::spawn(stubs::send_alerts(
        targets,
        alerts,
        batch,
        Duration::from_millis(200),
        rng.next(),
    ));
    for _ in 0..outages {
        tokio::time::sleep(rng.millis(500, 1_500)).await;
        cluster.stop_immediately().await;
        tokio::time::sleep(down).await;
        cluster.up().await;
    }
    let sent = sender.await.unwrap();
    println!(
        "database outage: alert batches answered {:?}; slowest answer {:.1} s",
        sent.answers,
        sent.slowest.as_secs_f64()
    );

    let mut db = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
    let stored: Vec<(String, i64)> =
        sqlx::query_as("SELECT dedup_key, COUNT(*) FROM alerts GROUP BY dedup_key")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let accepted: usize = sent.accepted.iter().map(|r| r.len()).sum();
    assert_eq!(accepted, alerts);
    let twice: Vec<_> = stored.iter().filter(|(_, n)| *n != 1).collect();
    assert!(twice.is_empty(), "alerts stored more than once: {twice:?}");
    assert_eq!(stored.len(), alerts, "alerts stored");

    stubs::settle(&pages, alerts, &cluster.url(), Duration::from_secs(120)).await;
    let tally = Tally::of(&pages.lock().unwrap(), alerts);
    tally.report("database outage", 0, started);
    println!("database outage: outages {outages} of {down:?} each");
    drop(process);

    // Senders were told to come back later, and told nothing else.
    let wrong: Vec<_> = sent
        .answers
        .keys()
        .filter(|k| !k.starts_with('2') && *k != "503 with Retry-After")
        .collect();
    assert!(
        wrong.is_empty(),
        "answers besides 2xx and 503: {:?}",
        sent.answers
    );
    assert!(
        sent.answers.contains_key("503 with Retry-After"),
        "no sender was answered 503 while the database was down: {:?}\n{}",
        sent.answers,
        readable(&cluster.data.join("server.log"))
    );
}
