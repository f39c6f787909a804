//! Microsoft Teams' side, measured: the time from an activity carrying a Bot Framework
//! token (a 1:1 message to the bot, `/incident` grammar) to Tocsin's HTTP answer, over
//! loopback, 50 requests in flight. Each request's RS256 token is checked against the
//! key set of a loopback OpenID stub, fetched once and then cached, as in production.
//! A message is answered as soon as it is checked and recorded; its command runs on, and
//! its reply would go to the Bot Connector (not configured here, so it is dropped).
//!
//! `cargo bench --bench teams_activities -- [--requests N] [--concurrency N]`

mod chat_latency;
#[path = "../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
mod db;
#[path = "../adapters/tests/teams_identity/mod.rs"]
mod teams_identity;

use serde_json::json;

/// The bot's app id (a GUID) and alice's Teams id, for these runs only.
const APP_ID: &str = "0d9c7a3e-5b1f-4e2d-8c6a-9f8e7d6c5b4a";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";
const ALICE: &str = "29:1benchAliceUserId";

struct Teams {
    openid_url: String,
    authorization: String,
}

impl chat_latency::Signer for Teams {
    fn path(&self) -> &'static str {
        "/teams/messages"
    }

    fn state(&self, state: tocsin::http::AppState) -> tocsin::http::AppState {
        state.with_teams(Some(tocsin::http::TeamsInbound::new(
            adapters::teams::auth::TeamsAuth::new(APP_ID, self.openid_url.clone())
                .expect("the Teams token check"),
            None,
            adapters::teams::connector::ChannelMode::Thread,
        )))
    }

    fn alice(&self) -> Option<(&'static str, &'static str)> {
        Some((adapters::teams::PLATFORM, ALICE))
    }

    fn request(
        &self,
        http: &reqwest::Client,
        url: &str,
        text: &str,
        id: &str,
    ) -> reqwest::RequestBuilder {
        let body = json!({
            "type": "message", "id": id, "text": text, "channelId": "msteams",
            "serviceUrl": SERVICE_URL,
            "from": { "id": ALICE, "name": "Alice" },
            "conversation": { "conversationType": "personal", "id": "a:bench" },
            "recipient": { "id": format!("28:{APP_ID}"), "name": "Tocsin" },
            "channelData": { "tenant": { "id": "72f988bf-86f1-41af-91ab-2d7cd011db47" } }
        });
        http.post(url)
            .header("authorization", &self.authorization)
            .json(&body)
    }
}

#[tokio::main]
async fn main() {
    let identity = teams_identity::start().await;
    let teams = Teams {
        openid_url: identity.openid_url(),
        authorization: identity.authorization(APP_ID, SERVICE_URL),
    };
    chat_latency::main(teams).await;
    drop(identity);
}
