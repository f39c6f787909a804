//! Test harness shared by the store and job suites: a fresh, migrated store per test on
//! SQLite (a file in a temporary directory) and on PostgreSQL (a database of its own on
//! the server `TEST_DATABASE_URL` names), and the `conformance!` macro that runs one test
//! body on both, so a failure names its backend (`name::sqlite`, `name::postgres`).

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use bot_core::ManualClock;
use bot_core::store::{self, Store};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// For every `name` given, expects an `async fn name(store: Arc<dyn Store>)` beside the
/// macro call and generates `mod name { sqlite, postgres }`, two tests running it on a
/// fresh, migrated store of each backend. `conformance!(db: …)` passes the whole [`Db`]
/// instead, for tests that open the database a second time (a restart, a replica).
macro_rules! conformance {
    (db: $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    $crate::common::on($crate::common::Backend::Sqlite, super::$name).await;
                }

                #[tokio::test]
                async fn postgres() {
                    $crate::common::on($crate::common::Backend::Postgres, super::$name).await;
                }
            }
        )+
    };
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    $crate::common::on(
                        $crate::common::Backend::Sqlite,
                        |db| super::$name(db.store),
                    )
                    .await;
                }

                #[tokio::test]
                async fn postgres() {
                    $crate::common::on(
                        $crate::common::Backend::Postgres,
                        |db| super::$name(db.store),
                    )
                    .await;
                }
            }
        )+
    };
}
pub(crate) use conformance;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A test's database: the migrated store, and the URL to open more connections to it
/// (a second replica).
#[derive(Clone)]
pub struct Db {
    pub store: Arc<dyn Store>,
    pub url: String,
}

impl Db {
    /// Another store on the same database, as a second process would open it.
    pub async fn open_again(&self) -> Arc<dyn Store> {
        store::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening {} again: {e}", self.url))
    }
}

/// Runs `body` on a fresh, migrated database of `backend`, then removes the database,
/// whether the body passed or panicked.
pub async fn on<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run(backend, true, body).await;
}

/// Like [`on`], but the store is not migrated.
pub async fn on_unmigrated<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run(backend, false, body).await;
}

async fn run<F, Fut>(backend: Backend, migrate: bool, body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let scratch = match backend {
        Backend::Sqlite => Scratch::sqlite(),
        Backend::Postgres => Scratch::postgres().await,
    };
    let store = store::connect(&scratch.url)
        .await
        .unwrap_or_else(|e| panic!("opening the {backend:?} test store: {e}"));
    if migrate {
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrating the {backend:?} test store: {e}"));
    }
    let db = Db {
        store,
        url: scratch.url.clone(),
    };
    // On its own task so that a failing assertion comes back here as a value and the
    // database is still removed before the panic goes on.
    let outcome = tokio::spawn(body(db)).await;
    scratch.remove().await;
    if let Err(failed) = outcome {
        match failed.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task did not finish: {e}"),
        }
    }
}

/// Where a test's database lives, and how to remove it afterwards.
struct Scratch {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Removed with the directory when dropped.
    Sqlite(tempfile::TempDir),
    Postgres {
        server_url: String,
        database: String,
    },
}

impl Scratch {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("tocsin.db").display());
        Scratch {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    async fn postgres() -> Self {
        let server_url = postgres_server_url();
        let database = format!("tocsin_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(&server_url).await;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("creating test database {database}: {e}"));
        let _ = admin.close().await;
        Scratch {
            url: with_database(&server_url, &database),
            cleanup: Cleanup::Postgres {
                server_url,
                database,
            },
        }
    }

    /// Best effort: a database left behind must not fail the test that used it.
    async fn remove(self) {
        match self.cleanup {
            Cleanup::Sqlite(dir) => drop(dir),
            Cleanup::Postgres {
                server_url,
                database,
            } => {
                let Ok(mut admin) = PgConnection::connect(&server_url).await else {
                    return;
                };
                let dropped = // The name is ours (`tocsin_test_` and hex digits), never input.
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await;
                if let Err(e) = dropped {
                    eprintln!("warning: could not drop test database {database}: {e}");
                }
                let _ = admin.close().await;
            }
        }
    }
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

async fn admin_connection(server_url: &str) -> PgConnection {
    PgConnection::connect(server_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {server_url} ({e}). Start it \
             (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) \
             or set TEST_DATABASE_URL to a server where this user may create databases."
        )
    })
}

/// `url` with its database replaced by `database`, everything else (credentials, host,
/// port, parameters) kept as written. A `dbname` parameter would override the path, so it
/// is dropped. Checked by parsing the result the way sqlx will.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base
        .find("://")
        .map(|i| i + 3)
        .unwrap_or_else(|| panic!("TEST_DATABASE_URL `{url}` is not a postgres:// URL"));
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut edited = format!("{}/{database}", &base[..authority_end]);
    let params: Vec<&str> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
        .collect();
    if !params.is_empty() {
        edited.push('?');
        edited.push_str(&params.join("&"));
    }
    let parsed = PgConnectOptions::from_str(&edited)
        .unwrap_or_else(|e| panic!("test database URL `{edited}` does not parse: {e}"));
    assert_eq!(
        parsed.get_database(),
        Some(database),
        "replacing the database in `{url}`"
    );
    edited
}

/// A manual clock at a time with microseconds, so every timestamp the tests write checks
/// that the stores keep sub-second precision.
pub fn clock() -> ManualClock {
    ManualClock::at("2026-11-24T03:00:00.123456Z")
}
