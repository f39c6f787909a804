//! Slack's deadline, measured: the time from a signed slash-command request to Tocsin's
//! HTTP 200, over loopback, with 50 requests in flight at once (Slack allows 3 s; our goal
//! is p99 under 100 ms). Three commands: `help` (no database), `status 1` (reads) and
//! `declare` (a durable transaction with its timeline entry and jobs), on SQLite and
//! PostgreSQL (`TEST_DATABASE_URL`, default local).
//!
//! `cargo bench --bench slack_commands -- [--requests N] [--concurrency N]`

mod chat_latency;
#[path = "../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
mod db;

const SECRET: &str = "bench-signing-secret";
/// alice's Slack id in tocsin.example.toml.
const ALICE: &str = "U0123ABC";

struct Slack;

impl chat_latency::Signer for Slack {
    fn path(&self) -> &'static str {
        "/slack/commands"
    }

    fn state(&self, state: tocsin::http::AppState) -> tocsin::http::AppState {
        state.with_slack(Some(tocsin::http::SlackInbound {
            signing_secret: SECRET.into(),
            client: None,
        }))
    }

    fn request(
        &self,
        http: &reqwest::Client,
        url: &str,
        text: &str,
        id: &str,
    ) -> reqwest::RequestBuilder {
        let form = serde_urlencoded::to_string([
            ("team_id", "T0001"),
            ("channel_id", "C0GENERAL"),
            ("user_id", ALICE),
            ("command", "/incident"),
            ("text", text),
            ("response_url", "http://127.0.0.1:9/unused"),
            ("trigger_id", id),
        ])
        .unwrap();
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature =
            adapters::slack::verify::sign(SECRET.as_bytes(), &timestamp, form.as_bytes());
        http.post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(form)
    }
}

#[tokio::main]
async fn main() {
    chat_latency::main(Slack).await;
}
