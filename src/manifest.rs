//! App manifests: what a chat platform needs to know about Tocsin, printed by `tocsin
//! manifest <platform>` and committed under `manifests/`.

use serde_json::{Value, json};

/// The bot scopes the Slack adapter uses, each for a reason.
pub const SLACK_BOT_SCOPES: &[(&str, &str)] = &[
    ("commands", "/incident and /oncall"),
    (
        "chat:write",
        "cards, updates and replies in channels Tocsin is in",
    ),
    (
        "chat:write.public",
        "announcements and alert cards in channels Tocsin was not invited to",
    ),
    (
        "channels:manage",
        "create incident channels, set their topic, invite people",
    ),
    ("groups:write", "the same in private channels"),
    (
        "channels:read",
        "find an incident channel whose name is taken",
    ),
    ("groups:read", "the same for private channels"),
    ("pins:write", "pin the incident card"),
    ("im:write", "open a direct message to page someone"),
    ("users:read", "look people up (users.info)"),
    (
        "users:read.email",
        "match Slack people to Tocsin users by e-mail",
    ),
    ("app_mentions:read", "commands said to @Tocsin"),
    (
        "reactions:read",
        "a 📌 reaction pins a message into the timeline",
    ),
    (
        "channels:history",
        "incident channel messages for the timeline",
    ),
    ("groups:history", "the same in private channels"),
];

/// Events Tocsin subscribes to.
pub const SLACK_BOT_EVENTS: &[&str] = &[
    "app_mention",
    "reaction_added",
    "message.channels",
    "message.groups",
];

/// The Slack app manifest (JSON, which Slack's "Create an app from a manifest" accepts).
/// `url` is Tocsin's public base URL; with Socket Mode no request URLs are needed.
pub fn slack(url: &str, socket_mode: bool) -> Value {
    let url = url.trim_end_matches('/');
    let endpoint = |path: &str| format!("{url}{path}");
    let command = |name: &str, description: &str, hint: &str| {
        let mut c = json!({
            "command": name,
            "description": description,
            "usage_hint": hint,
            "should_escape": true,
        });
        if !socket_mode {
            c["url"] = endpoint("/slack/commands").into();
        }
        c
    };
    let mut events = json!({ "bot_events": SLACK_BOT_EVENTS });
    let mut interactivity = json!({ "is_enabled": true });
    if !socket_mode {
        events["request_url"] = endpoint("/slack/events").into();
        interactivity["request_url"] = endpoint("/slack/interactions").into();
    }
    json!({
        "_metadata": { "major_version": 1, "minor_version": 1 },
        "display_information": {
            "name": "Tocsin",
            "description": "Incidents, paging and on-call, run from Slack",
            "background_color": "#7a1f1f"
        },
        "features": {
            "bot_user": { "display_name": "Tocsin", "always_online": true },
            "slash_commands": [
                command("/incident", "Declare and run incidents", "declare [sev1-4] <title> | status | help"),
                command("/oncall", "Who is on call; take a shift", "[service] | take [@user] (for 2h | until 18:00)"),
            ],
            // The message shortcut that puts a message into the incident's timeline, like a
            // 📌 reaction but with the message's text.
            "shortcuts": [{
                "name": "Add to incident timeline",
                "type": "message",
                "callback_id": "add_to_timeline",
                "description": "Record this message in the incident's timeline"
            }]
        },
        "oauth_config": {
            "scopes": {
                "bot": SLACK_BOT_SCOPES.iter().map(|(scope, _)| *scope).collect::<Vec<_>>()
            }
        },
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": false,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": false
        }
    })
}

/// The Discord application commands (`/incident`, `/oncall`), as the JSON array that
/// `PUT /applications/{application_id}/commands` takes.
/// The commands the Teams app package suggests when people type to the bot (Teams shows
/// at most ten per scope): the grammar's most used, as typed after `@Tocsin`.
pub const TEAMS_COMMANDS: &[(&str, &str)] = &[
    (
        "declare",
        "Declare an incident: declare [sev1-4] <title>, or a form",
    ),
    ("status", "The incident's card and last update"),
    ("update", "Post a status update: update <text>"),
    ("resolve", "Resolve the incident: resolve [note]"),
    ("list", "Open incidents"),
    ("severity", "Change severity: severity <sevN>"),
    ("ack", "Acknowledge the incident's alerts"),
    ("escalate", "Page the next escalation level now"),
    ("link", "Link your Teams account to your Tocsin user"),
    ("help", "Every Tocsin command"),
];

pub fn discord_commands() -> Value {
    adapters::discord::commands::definitions()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/slack/manifest.json");

    const DISCORD_COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/manifests/discord/commands.json"
    );

    #[test]
    fn the_committed_discord_commands_are_the_ones_printed_and_within_discords_limits() {
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(DISCORD_COMMITTED).unwrap()).unwrap();
        assert_eq!(committed, discord_commands());
        // Discord refuses a whole bulk overwrite for one name, description or count over
        // its limits.
        fn check(d: &Value, path: &str, problems: &mut Vec<String>) {
            let name = d["name"].as_str().unwrap_or_default();
            let path = format!("{path}/{name}");
            if !(1..=32).contains(&name.chars().count())
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
            {
                problems.push(format!("{path}: name"));
            }
            let description = d["description"].as_str().unwrap_or_default();
            if !(1..=100).contains(&description.chars().count()) {
                problems.push(format!("{path}: description"));
            }
            let options = d["options"].as_array().cloned().unwrap_or_default();
            if options.len() > 25 || d["choices"].as_array().is_some_and(|c| c.len() > 25) {
                problems.push(format!("{path}: more than 25 options or choices"));
            }
            for o in &options {
                check(o, &path, problems);
            }
        }
        let mut problems = Vec::new();
        let commands = committed.as_array().unwrap();
        assert!(commands.len() <= 100, "at most 100 global commands");
        for c in commands {
            check(c, "", &mut problems);
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn the_committed_slack_manifest_is_the_one_printed() {
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(COMMITTED).unwrap()).unwrap();
        assert_eq!(committed, slack("https://tocsin.example.com", false));
    }

    /// Every Web API method the Slack adapter calls is allowed by a scope the manifest asks
    /// for, by the scopes Slack's own OpenAPI description lists for it (which uses the
    /// classic names: `channels:write` is the bot's `channels:manage`, `chat:write:bot` its
    /// `chat:write`).
    #[test]
    fn the_slack_manifest_asks_for_a_scope_of_every_method_the_adapter_calls() {
        let fixtures = std::env::var("TOCSIN_FIXTURES").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures").to_owned()
        });
        let spec: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{fixtures}/slack/web-api/slack_web_openapi_v2.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let granular = |scope: &str| match scope {
            "channels:write" => "channels:manage".to_owned(),
            "chat:write:bot" => "chat:write".to_owned(),
            other => other.to_owned(),
        };
        let asked: Vec<&str> = SLACK_BOT_SCOPES.iter().map(|(s, _)| *s).collect();
        for method in [
            "conversations.create",
            "conversations.invite",
            "conversations.setTopic",
            "conversations.open",
            "pins.add",
            "chat.postMessage",
            "chat.postEphemeral",
            "chat.update",
            "users.info",
            "users.lookupByEmail",
            "views.open",
        ] {
            let operations = spec["paths"][format!("/{method}")]
                .as_object()
                .unwrap_or_else(|| panic!("{method} is not in Slack's description"));
            let scopes: Vec<String> = operations
                .values()
                .flat_map(|op| op["security"].as_array().cloned().unwrap_or_default())
                .flat_map(|s| s["slackAuth"].as_array().cloned().unwrap_or_default())
                .filter_map(|s| s.as_str().map(granular))
                .collect();
            assert!(
                scopes
                    .iter()
                    .any(|s| s == "none" || asked.contains(&s.as_str())),
                "{method} needs one of {scopes:?}; the manifest asks for {asked:?}"
            );
        }
    }

    #[test]
    fn the_slack_manifest_points_every_request_url_at_tocsin_unless_socket_mode() {
        let m = slack("https://ops.acme.com/", false);
        assert_eq!(
            m["settings"]["event_subscriptions"]["request_url"],
            "https://ops.acme.com/slack/events"
        );
        assert_eq!(
            m["settings"]["interactivity"]["request_url"],
            "https://ops.acme.com/slack/interactions"
        );
        let commands = m["features"]["slash_commands"].as_array().unwrap();
        let names: Vec<&str> = commands
            .iter()
            .map(|c| c["command"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["/incident", "/oncall"]);
        assert!(
            commands
                .iter()
                .all(|c| c["url"] == "https://ops.acme.com/slack/commands")
        );
        let socket = slack("https://ops.acme.com", true);
        assert_eq!(socket["settings"]["socket_mode_enabled"], true);
        assert!(
            socket["settings"]["interactivity"]
                .get("request_url")
                .is_none()
        );
        assert!(socket["features"]["slash_commands"][0].get("url").is_none());
    }
}
