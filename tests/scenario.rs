//! One scenario file, every chat platform: `tests/scenarios/declare_to_resolve.toml` is
//! played on the console (`tocsin console`), on Slack (signed slash commands, stub Web API)
//! on Discord (signed interactions, stub REST API) and on Microsoft Teams (activities with
//! a Bot Framework token, stub Bot Connector), each against its own
//! `tocsin serve` on a fresh SQLite file. Each step's reply must say what the file says,
//! and the store must end the same way on every platform, read back over the REST API.

mod support;

#[path = "../adapters/tests/discord_stub/mod.rs"]
mod discord_stub;
#[path = "../adapters/tests/slack_stub/mod.rs"]
mod slack_stub;
#[path = "../adapters/tests/teams_identity/mod.rs"]
mod teams_identity;
#[path = "../adapters/tests/teams_stub/mod.rs"]
mod teams_stub;

use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml");
const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/scenarios/declare_to_resolve.toml"
);
/// alice's identities in tocsin.example.toml.
const SLACK_ALICE: &str = "U0123ABC";
const DISCORD_ALICE: &str = "80351110224678912";
const SLACK_SECRET: &str = "scenario-slack-signing-secret";
/// The Discord test application's secret key: fixed, public, for tests only.
const DISCORD_SECRET: [u8; 32] = [9; 32];
const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
struct Scenario {
    step: Vec<Step>,
    outcome: Outcome,
}

#[derive(Debug, Deserialize)]
struct Step {
    say: String,
    reply: String,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Outcome {
    status: String,
    severity: String,
    declared_by: String,
    channel: String,
    updates: Vec<String>,
    timeline: Vec<String>,
}

fn scenario() -> Scenario {
    toml::from_str(&std::fs::read_to_string(SCENARIO).unwrap()).unwrap()
}

/// A scratch directory with the example configuration (plus `extra`) and a database.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(extra: &str) -> Self {
        let example = std::fs::read_to_string(EXAMPLE).unwrap();
        Site::with_config(&format!("{example}\n{extra}\n"))
    }

    fn with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tocsin.toml"), config).unwrap();
        Site { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("TOCSIN_CONFIG", self.dir.path().join("tocsin.toml"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("tocsin.db").display()),
            )
            .env("TOCSIN_LISTEN", "127.0.0.1:0")
            .env_remove("SLACK_BOT_TOKEN")
            .env_remove("SLACK_APP_TOKEN")
            .env_remove("DISCORD_TOKEN")
            .env_remove("MicrosoftAppId")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn serve(&self, command: Command) -> (Child, String) {
        support::start_serving(command).await
    }

    /// An admin API token, made with the CLI.
    async fn token(&self) -> String {
        support::api_token(self.dir.path()).await
    }
}

/// What each platform's run left in its store, read over the REST API.
async fn outcome(base: &str, token: &str, platform: &str) -> Outcome {
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // The channel is made by a job: wait for it before reading the rest.
    let incident = support::eventually("the incident's channel", PATIENCE, || async move {
        let incident = get("/api/v1/incidents/1".into()).await;
        incident["channels"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["platform"] == platform))
            .then_some(incident)
    })
    .await;
    let channel = incident["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"] == platform)
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let updates = get("/api/v1/incidents/1/updates".into()).await;
    let timeline = get("/api/v1/incidents/1/timeline".into()).await;
    let wanted = scenario().outcome.timeline;
    let entries = timeline
        .as_array()
        .or_else(|| timeline["entries"].as_array())
        .unwrap_or_else(|| panic!("a timeline: {timeline}"));
    Outcome {
        status: incident["status"].as_str().unwrap().to_owned(),
        severity: incident["severity"].as_str().unwrap().to_owned(),
        declared_by: incident["declared_by"].as_str().unwrap().to_owned(),
        channel,
        updates: updates
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["text"].as_str().unwrap().to_owned())
            .collect(),
        timeline: entries
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .filter(|k| wanted.iter().any(|w| w == k))
            .map(str::to_owned)
            .collect(),
    }
}

#[tokio::test]
async fn the_scenario_ends_the_same_on_the_console() {
    let scenario = scenario();
    let site = Site::new("");
    let (_server, base) = site.serve(site.command(&["serve"])).await;
    let token = site.token().await;
    let mut console = Console::start(&site);
    for step in &scenario.step {
        console.say(&step.say, &step.reply).await;
    }
    console.quit().await;
    assert_eq!(outcome(&base, &token, "console").await, scenario.outcome);
}

#[tokio::test]
async fn the_scenario_ends_the_same_on_slack() {
    let scenario = scenario();
    let slack = slack_stub::start().await;
    for name in ["incidents", "alerts"] {
        slack.add_channel(name);
    }
    let site = Site::new("");
    let mut command = site.command(&["serve"]);
    command
        .env("SLACK_BOT_TOKEN", slack.token())
        .env("SLACK_SIGNING_SECRET", SLACK_SECRET)
        .env("TOCSIN_SLACK_API_URL", slack.url());
    let (_server, base) = site.serve(command).await;
    let token = site.token().await;
    let http = reqwest::Client::new();
    for (i, step) in scenario.step.iter().enumerate() {
        let form = serde_urlencoded::to_string([
            ("team_id", "T0001"),
            ("channel_id", "C0GENERAL"),
            ("user_id", SLACK_ALICE),
            ("command", "/incident"),
            ("text", step.say.as_str()),
            ("response_url", "http://127.0.0.1:9/unused"),
            ("trigger_id", &format!("scenario-{i}")),
        ])
        .unwrap();
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature =
            adapters::slack::verify::sign(SLACK_SECRET.as_bytes(), &timestamp, form.as_bytes());
        let answer = http
            .post(format!("{base}/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(form)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            answer.contains(&step.reply),
            "`{}` answered {answer}",
            step.say
        );
    }
    assert_eq!(outcome(&base, &token, "slack").await, scenario.outcome);
}

#[tokio::test]
async fn the_scenario_ends_the_same_on_discord() {
    let scenario = scenario();
    let discord = discord_stub::start().await;
    let site = Site::new(&format!(
        "[discord]\nguild_id = \"{}\"\n",
        discord.guild_id()
    ));
    let mut command = site.command(&["serve"]);
    command
        .env("DISCORD_TOKEN", discord.token())
        .env("DISCORD_APPLICATION_ID", discord.application_id())
        .env(
            "DISCORD_PUBLIC_KEY",
            adapters::discord::verify::public_key_hex(&DISCORD_SECRET),
        )
        .env("TOCSIN_DISCORD_API_URL", discord.url());
    let (_server, base) = site.serve(command).await;
    let token = site.token().await;
    let http = reqwest::Client::new();
    for (i, step) in scenario.step.iter().enumerate() {
        let body = discord_command(&format!("13000000000000000{i:02}"), &step.say).to_string();
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature =
            adapters::discord::verify::sign(&DISCORD_SECRET, &timestamp, body.as_bytes());
        let answer = http
            .post(format!("{base}/discord/interactions"))
            .header("content-type", "application/json")
            .header(adapters::discord::verify::TIMESTAMP_HEADER, timestamp)
            .header(adapters::discord::verify::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            answer.contains(&step.reply),
            "`{}` answered {answer}",
            step.say
        );
    }
    assert_eq!(outcome(&base, &token, "discord").await, scenario.outcome);
}

#[tokio::test]
async fn the_scenario_ends_the_same_on_teams() {
    let scenario = scenario();
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let alice_on_discord = format!("discord = \"{DISCORD_ALICE}\"\n");
    assert!(
        example.contains(&alice_on_discord),
        "alice's chat table moved"
    );
    let site = Site::with_config(&format!(
        "{}\n[msteams]\nteam_id = \"{}\"\nincidents_channel = \"{}\"\nservice_url = \"{}\"\n",
        example.replacen(
            &alice_on_discord,
            &format!("{alice_on_discord}teams = \"{}\"\n", teams_stub::USER),
            1
        ),
        teams_stub::TEAM_ID,
        teams_stub::INCIDENTS_CHANNEL,
        teams.service_url(),
    ));
    let mut command = site.command(&["serve"]);
    command
        .env("MicrosoftAppId", teams_stub::APP_ID)
        .env("MicrosoftAppPassword", teams_stub::APP_PASSWORD)
        .env("MicrosoftAppTenantId", teams_stub::TENANT_ID)
        .env("TOCSIN_TEAMS_LOGIN_URL", teams.login_url())
        .env("TOCSIN_GRAPH_API_URL", teams.graph_url())
        .env("TOCSIN_TEAMS_OPENID_URL", identity.openid_url());
    let (_server, base) = site.serve(command).await;
    let token = site.token().await;
    let http = reqwest::Client::new();
    teams.add_personal_chat("a:alice-and-tocsin", teams_stub::USER);
    for (i, step) in scenario.step.iter().enumerate() {
        // A 1:1 chat with the bot, as Teams sends it (the published personal message's
        // shape): no @mention needed there.
        let id = format!("1700000000{i:03}");
        let activity = json!({
            "type": "message",
            "id": id,
            "text": step.say,
            "textFormat": "plain",
            "timestamp": "2026-11-26T10:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": teams.service_url(),
            "from": { "id": teams_stub::USER, "name": "Alice" },
            "conversation": { "conversationType": "personal", "id": "a:alice-and-tocsin" },
            "recipient": { "id": format!("28:{}", teams_stub::APP_ID), "name": "Tocsin" },
            "channelData": { "tenant": { "id": teams_stub::TENANT_ID } }
        });
        let status = http
            .post(format!("{base}/teams/messages"))
            .header(
                "authorization",
                identity.authorization(teams_stub::APP_ID, &teams.service_url()),
            )
            .json(&activity)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "`{}`", step.say);
        // The reply comes into the conversation, answering the activity.
        let reply = support::until(&format!("the reply to `{}`", step.say), || {
            teams
                .activities_in("a:alice-and-tocsin")
                .into_iter()
                .find(|a| a.reply_to.as_deref() == Some(id.as_str()))
        })
        .await;
        assert!(
            reply.body.to_string().contains(&step.reply),
            "`{}` answered {}",
            step.say,
            reply.body
        );
    }
    assert_eq!(outcome(&base, &token, "teams").await, scenario.outcome);
    teams.assert_no_rejections();
}

/// `/incident <say>` as Discord sends it: Discord takes no free text after a command, so
/// the words become the subcommand's typed options, as `tocsin manifest discord` defines
/// them (`INC-n` is the `incident` option).
fn discord_command(id: &str, say: &str) -> Value {
    let mut words: Vec<&str> = say.split_whitespace().collect();
    let verb = words.remove(0);
    if verb == "timeline" && words.first() == Some(&"add") {
        words.remove(0);
    }
    let mut options = Vec::new();
    if let Some(at) = words.iter().position(|w| w.starts_with("INC-")) {
        let number: i64 = words.remove(at)["INC-".len()..].parse().unwrap();
        options.push(json!({ "type": 4, "name": "incident", "value": number }));
    }
    if words.first().is_some_and(|w| w.starts_with("sev")) {
        options.push(json!({ "type": 3, "name": "severity", "value": words.remove(0) }));
    }
    let rest = words.join(" ");
    let text_option = match verb {
        "declare" => Some("title"),
        "timeline" | "resolve" => Some("note"),
        "update" => Some("text"),
        _ => None,
    };
    if let Some(name) = text_option.filter(|_| !rest.is_empty()) {
        options.push(json!({ "type": 3, "name": name, "value": rest }));
    }
    json!({
        "type": 2,
        "id": id,
        "application_id": discord_stub::APPLICATION_ID,
        "token": format!("interaction-token-{id}"),
        "version": 1,
        "guild_id": discord_stub::GUILD_ID,
        "channel_id": "1400000000000000099",
        "member": {
            "user": { "id": DISCORD_ALICE, "username": "alice", "discriminator": "0" },
            "roles": [],
            "permissions": "2147483647"
        },
        "data": {
            "type": 1, "name": "incident", "id": "771825006014889984",
            "options": [{ "type": 1, "name": verb, "options": options }]
        }
    })
}

/// `tocsin console --as alice` on the site's database.
struct Console {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Console {
    fn start(site: &Site) -> Self {
        let mut child = site
            .command(&["console", "--as", "alice"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Console {
            child,
            stdin,
            lines,
        }
    }

    async fn say(&mut self, say: &str, reply: &str) {
        self.stdin
            .write_all(format!("/incident {say}\n").as_bytes())
            .await
            .unwrap();
        let lines = &mut self.lines;
        let mut seen = String::new();
        let found = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(reply) {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(found, Ok(true)),
            "`{say}` was not answered with {reply:?}; the console printed:\n{seen}"
        );
    }

    async fn quit(mut self) {
        self.stdin.write_all(b"/quit\n").await.unwrap();
        assert!(self.child.wait().await.unwrap().success());
    }
}
