//! Discord's deadline, measured: the time from a signed interaction (an `/incident`
//! application command) to Tocsin's HTTP answer, over loopback, with 50 requests in flight
//! at once (Discord allows 3 s; our goal is p99 under 100 ms). Three commands: `help` (no
//! database), `status 1` (reads) and `declare` (a durable transaction with its timeline
//! entry and jobs), on SQLite and PostgreSQL (`TEST_DATABASE_URL`, default local).
//!
//! `cargo bench --bench discord_interactions -- [--requests N] [--concurrency N]`

mod chat_latency;
#[path = "../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
mod db;

use serde_json::json;

const SECRET: [u8; 32] = [9; 32];
/// alice's Discord id in tocsin.example.toml.
const ALICE: &str = "80351110224678912";

struct Discord;

impl chat_latency::Signer for Discord {
    fn path(&self) -> &'static str {
        "/discord/interactions"
    }

    fn state(&self, state: tocsin::http::AppState) -> tocsin::http::AppState {
        state.with_discord(Some(tocsin::http::DiscordInbound {
            public_key: adapters::discord::verify::public_key_hex(&SECRET),
            client: None,
            reply_within: tocsin::config::DISCORD_REPLY_WITHIN,
        }))
    }

    fn request(
        &self,
        http: &reqwest::Client,
        url: &str,
        text: &str,
        id: &str,
    ) -> reqwest::RequestBuilder {
        // `text` is the grammar: the verb, then the rest as the command's options.
        let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
        let options = match verb {
            "declare" => json!([
                { "type": 3, "name": "severity", "value": "sev3" },
                { "type": 3, "name": "title", "value": rest.trim_start_matches("sev3 ") }
            ]),
            "status" => json!([{ "type": 4, "name": "incident", "value": 1 }]),
            _ => json!([]),
        };
        let body = json!({
            "type": 2, "id": id, "application_id": "1", "token": "t", "version": 1,
            "guild_id": "2", "channel_id": "3",
            "member": { "user": { "id": ALICE, "username": "alice" }, "roles": [] },
            "data": { "type": 1, "name": "incident", "id": "4",
                "options": [{ "type": 1, "name": verb, "options": options }] }
        })
        .to_string();
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = adapters::discord::verify::sign(&SECRET, &timestamp, body.as_bytes());
        http.post(url)
            .header("content-type", "application/json")
            .header(adapters::discord::verify::TIMESTAMP_HEADER, timestamp)
            .header(adapters::discord::verify::SIGNATURE_HEADER, signature)
            .body(body)
    }
}

#[tokio::main]
async fn main() {
    chat_latency::main(Discord).await;
}
