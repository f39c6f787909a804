//! Platform outage: Slack, Discord and Teams (their stubs, behind a proxy that can take
//! them away) answer 500 or 429 (with Retry-After, and Discord's `retry_after` body) for a
//! while, then recover. Numbered status updates posted to an incident meanwhile reach its
//! channel on every platform exactly once each, in the order they were written.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::process::Command;

use super::stubs::{self, BIN};
use crate::{discord_stub, slack_stub, support, teams_stub};

/// How a platform says "not now".
#[derive(Clone, Copy)]
enum Platform {
    Slack,
    Discord,
    Teams,
}

/// A proxy in front of one platform stub: passes calls through, except while `down`, when
/// it answers them itself, alternating 500 and 429. Records each call the stub accepted.
struct Outage {
    platform: Platform,
    upstream: String,
    down: AtomicBool,
    refused: AtomicUsize,
    /// Paths and bodies of new messages the stub answered 2xx, in arrival order.
    delivered: Mutex<Vec<(String, String)>>,
    /// Every call: method, path and the answer's status, for a failure's message.
    seen: Mutex<Vec<String>>,
    http: reqwest::Client,
}

/// Starts a proxy for the stub at `upstream` (its origin, `http://127.0.0.1:port`); returns
/// it and its own origin.
async fn proxy(platform: Platform, upstream: &str) -> (Arc<Outage>, String) {
    let outage = Arc::new(Outage {
        platform,
        upstream: upstream.to_owned(),
        down: AtomicBool::new(false),
        refused: AtomicUsize::new(0),
        delivered: Mutex::default(),
        seen: Mutex::default(),
        http: reqwest::Client::new(),
    });
    let app = Router::new().fallback(pass).with_state(outage.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (outage, origin)
}

async fn pass(
    State(outage): State<Arc<Outage>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    // Tokens are the platforms' own business: only posts and edits are taken away.
    let token_call = path.contains("oauth") || path.contains("/login");
    if outage.down.load(Ordering::SeqCst) && !token_call {
        let n = outage.refused.fetch_add(1, Ordering::SeqCst);
        if n % 2 == 0 {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        let body = match outage.platform {
            Platform::Slack => json!({"ok": false, "error": "ratelimited"}),
            Platform::Discord => json!({
                "message": "You are being rate limited.", "retry_after": 1.0, "global": false
            }),
            Platform::Teams => json!({
                "error": {"code": "TooManyRequests", "message": "Too many requests"}
            }),
        };
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1"), ("content-type", "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    // Edits (Slack's chat.update, Discord's PATCH, Teams' PUT) may repeat an update's text
    // in a card; only new messages count.
    let new_message = method == Method::POST && !path.contains("chat.update");
    let call = format!("{method} {path}");
    let mut request = outage
        .http
        .request(method, format!("{}{path}", outage.upstream))
        .body(body.clone());
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    outage.seen.lock().unwrap().push(format!("{call} {status}"));
    let mut reply = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            reply.insert(name, value.clone());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    if status.is_success() && new_message {
        outage
            .delivered
            .lock()
            .unwrap()
            .push((path, String::from_utf8_lossy(&body).into_owned()));
    }
    (
        StatusCode::from_u16(status.as_u16()).unwrap(),
        reply,
        bytes.to_vec(),
    )
        .into_response()
}

/// The jobs table, one line a job, for a failure's message.
async fn jobs(database: &str) -> String {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(database).await.unwrap();
    let rows: Vec<(String, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT queue, kind, state, attempts, last_error FROM jobs ORDER BY created_at",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    rows.iter()
        .map(|r| format!("{r:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The origin (`http://host:port`) of a URL.
fn origin(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("a loopback http URL");
    format!("http://{}", rest.split('/').next().unwrap())
}

/// `url` with its origin replaced by `by`.
fn through(url: &str, by: &str) -> String {
    url.replacen(&origin(url), by, 1)
}

/// The marker of status update `n`: unique, and easy to find in any rendering.
fn marker(n: usize) -> String {
    format!("outage-update-{n:04}")
}

/// The update numbers found in `body`, in the order they appear.
fn markers_in(body: &str) -> Vec<usize> {
    body.match_indices("outage-update-")
        .filter_map(|(i, m)| body.get(i + m.len()..i + m.len() + 4)?.parse().ok())
        .collect()
}

/// The status updates each platform got, in arrival order, and the calls that carried
/// them (the path names the channel on Discord and Teams; the body on Slack).
fn arrived(outage: &Outage) -> (Vec<usize>, Vec<String>) {
    let delivered = outage.delivered.lock().unwrap();
    let mut numbers = Vec::new();
    let mut channels = Vec::new();
    for (path, body) in delivered.iter() {
        let found = markers_in(body);
        if found.is_empty() {
            continue;
        }
        let channel = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|b| b["channel"].as_str().map(str::to_owned))
            .unwrap_or_else(|| path.split('?').next().unwrap_or_default().to_owned());
        // A message carries its own number once; more would be an edit repeating text.
        numbers.push(found[0]);
        channels.push(channel);
    }
    (numbers, channels)
}

#[tokio::test]
async fn status_updates_survive_a_chat_platform_outage_once_each_and_in_order() {
    let updates = stubs::size(12, 40);
    let down_for = if stubs::full() {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(4)
    };
    let started = Instant::now();
    let slack = slack_stub::start().await;
    for name in ["incidents", "alerts"] {
        slack.add_channel(name);
    }
    let discord = discord_stub::start().await;
    discord.add_channel("incidents");
    discord.add_channel("alerts");
    let teams = teams_stub::start().await;
    let (slack_out, slack_origin) = proxy(Platform::Slack, &origin(&slack.url())).await;
    let (discord_out, discord_origin) = proxy(Platform::Discord, &origin(&discord.url())).await;
    let (teams_out, teams_origin) = proxy(Platform::Teams, &origin(&teams.service_url())).await;
    let platforms = [
        ("slack", &slack_out),
        ("discord", &discord_out),
        ("teams", &teams_out),
    ];

    let dir = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml"))
            .unwrap();
    let config = dir.path().join("tocsin.toml");
    std::fs::write(
        &config,
        format!(
            "{example}\n[discord]\nguild_id = \"{}\"\n\n[msteams]\nservice_url = \"{}\"\n\
             team_id = \"{}\"\nincidents_channel = \"{}\"\n",
            discord.guild_id(),
            through(&teams.service_url(), &teams_origin),
            teams_stub::TEAM_ID,
            teams_stub::INCIDENTS_CHANNEL,
        ),
    )
    .unwrap();
    let database = format!("sqlite://{}", dir.path().join("tocsin.db").display());
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", &config)
        .env("DATABASE_URL", &database)
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("SLACK_BOT_TOKEN", slack.token())
        .env("SLACK_SIGNING_SECRET", "reliability-slack-signing-secret")
        .env("TOCSIN_SLACK_API_URL", through(&slack.url(), &slack_origin))
        .env("DISCORD_TOKEN", discord.token())
        .env("DISCORD_APPLICATION_ID", discord.application_id())
        .env(
            "TOCSIN_DISCORD_API_URL",
            through(&discord.url(), &discord_origin),
        )
        .env("MicrosoftAppId", teams_stub::APP_ID)
        .env("MicrosoftAppPassword", teams_stub::APP_PASSWORD)
        .env("MicrosoftAppTenantId", teams_stub::TENANT_ID)
        .env("TOCSIN_TEAMS_LOGIN_URL", teams.login_url())
        .env(
            "TOCSIN_GRAPH_API_URL",
            through(&teams.graph_url(), &teams_origin),
        )
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("DISCORD_PUBLIC_KEY")
        .env_remove("RUST_LOG")
        .current_dir(dir.path())
        .stderr(std::fs::File::create(dir.path().join("tocsin.log")).unwrap());
    let (_process, base) = support::start_serving(command).await;
    let token = support::api_token(dir.path()).await;
    let http = reqwest::Client::new();

    let declared: Value = http
        .post(format!("{base}/api/v1/incidents"))
        .bearer_auth(&token)
        .json(&json!({"title": "Checkout is down", "severity": "sev2"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let incident = declared["id"]
        .as_str()
        .expect("the incident's id")
        .to_owned();
    // Every platform announced the incident before the outage.
    let announced = || {
        platforms.iter().all(|(_, out)| {
            let delivered = out.delivered.lock().unwrap();
            delivered
                .iter()
                .any(|(_, body)| body.contains("Checkout is down"))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !announced() {
        if Instant::now() > deadline {
            for (name, out) in &platforms {
                println!("{name} got {:?}", out.seen.lock().unwrap());
            }
            println!("slack refused {:?}", slack.rejections());
            println!("teams refused {:?}", teams.rejections());
            let log = std::fs::read_to_string(dir.path().join("tocsin.log")).unwrap_or_default();
            panic!(
                "the incident was not announced on every platform; jobs:\n{}\nlog:\n{log}",
                jobs(&database).await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before: Vec<usize> = platforms
        .iter()
        .map(|(_, out)| out.delivered.lock().unwrap().len())
        .collect();

    for (_, out) in &platforms {
        out.down.store(true, Ordering::SeqCst);
    }
    let outage_started = Instant::now();
    for n in 1..=updates {
        let response = http
            .post(format!("{base}/api/v1/incidents/{incident}/updates"))
            .bearer_auth(&token)
            .json(&json!({"text": format!("Status {}: still investigating", marker(n))}))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "update {n}: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
        // Spread over the outage, so some are first tried while it lasts.
        tokio::time::sleep(down_for / (updates as u32 * 2)).await;
    }
    tokio::time::sleep(down_for.saturating_sub(outage_started.elapsed())).await;
    for (_, out) in &platforms {
        out.down.store(false, Ordering::SeqCst);
    }
    let refused: BTreeMap<&str, usize> = platforms
        .iter()
        .map(|(name, out)| (*name, out.refused.load(Ordering::SeqCst)))
        .collect();

    // After the outage, retries (backoff up to a minute or so) bring every update in.
    support::eventually(
        "every update on every platform",
        Duration::from_secs(180),
        || async {
            platforms
                .iter()
                .all(|(_, out)| arrived(out).0.len() >= updates)
                .then_some(())
        },
    )
    .await;
    let mut failures = Vec::new();
    for ((name, out), before) in platforms.iter().zip(before) {
        let (numbers, channels) = arrived(out);
        let expected: Vec<usize> = (1..=updates).collect();
        let mut distinct = numbers.clone();
        distinct.sort();
        distinct.dedup();
        let lost = expected.iter().filter(|n| !numbers.contains(n)).count();
        let duplicated = numbers.len() - distinct.len();
        let out_of_order = numbers.windows(2).filter(|w| w[0] > w[1]).count();
        let mut places = channels.clone();
        places.sort();
        places.dedup();
        println!(
            "platform outage ({name}): expected {updates} delivered {} lost {lost} duplicated \
             {duplicated} out-of-order {out_of_order} refused-during-outage {} channels {} \
             calls-before {before} seconds {:.1}",
            distinct.len(),
            refused[name],
            places.len(),
            started.elapsed().as_secs_f64()
        );
        if lost + duplicated + out_of_order > 0 || places.len() != 1 || refused[name] == 0 {
            failures.push(format!("{name}: {numbers:?} to {places:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
