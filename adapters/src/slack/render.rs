//! The platform-neutral `Message` and `Dialog` as Slack Block Kit: message blocks for
//! `chat.postMessage`, `chat.update` and response URLs, modal views for `views.open`, and
//! the way back from a submitted modal to values by field name.
//!
//! Everything here is pure JSON building, so the client, the inbound handlers and the
//! tests share one rendering. Block Kit's limits are enforced here (Slack rejects a whole
//! message with `invalid_blocks` when one is exceeded), by truncating text and chunking
//! lists rather than failing.
//!
//! Buttons keep `action_id == button.action` and `value == button.value`, so inbound code
//! reads a press back without any decoding. Slack wants action ids unique within one
//! actions block, so two buttons with the same action go into separate actions blocks.

use std::collections::{BTreeMap, HashSet};

use bot_core::chat::{Button, ButtonStyle, Dialog, DialogField, DialogFieldKind, Message, Tone};
use serde_json::{Map, Value, json};

/// Blocks in one message.
const MAX_BLOCKS: usize = 50;
/// Inputs in one modal.
const MAX_MODAL_BLOCKS: usize = 100;
/// Characters of a section's (or context element's) text.
const MAX_SECTION_TEXT: usize = 3000;
/// Characters of one section field.
const MAX_FIELD_TEXT: usize = 2000;
/// Fields in one section.
const MAX_FIELDS: usize = 10;
/// Characters of a header block's text.
const MAX_HEADER: usize = 150;
/// Elements in one actions block.
const MAX_ACTIONS: usize = 25;
/// Characters of a button's label.
const MAX_BUTTON_TEXT: usize = 75;
/// Characters of a modal's title, submit and close labels.
const MAX_MODAL_TITLE: usize = 24;
/// Characters of an input's label.
const MAX_LABEL: usize = 2000;
/// Characters of a placeholder.
const MAX_PLACEHOLDER: usize = 150;
/// Characters a `plain_text_input` may allow.
const MAX_INPUT_LENGTH: usize = 3000;
/// Options in a select, characters of an option's label and of its value.
const MAX_OPTIONS: usize = 100;
const MAX_OPTION_TEXT: usize = 75;
const MAX_OPTION_VALUE: usize = 150;
/// Characters of the notification fallback `text` (Slack truncates past 40 000; a
/// notification shows far less).
const MAX_FALLBACK: usize = 3000;

/// The fields to merge into `chat.postMessage`, `chat.update` or a response body:
/// `{"text": fallback, "blocks": [...]}`.
///
/// Blocks, each with a stable `block_id`: a `header` (`title`) with the tone's emoji, one
/// `section` of fields per ten fields (`fields`, `fields-2`, …), one `section` per text
/// paragraph (`text-1`, …), a `context` (`context`) with the tone's label and the context
/// line, and the buttons as `actions` blocks (`actions`, `actions-2`, …).
pub fn message(m: &Message) -> Value {
    let mut head = Vec::new();
    if let Some(title) = m.title.as_deref().filter(|t| !t.trim().is_empty()) {
        let text = match m.tone {
            Some(tone) => format!("{} {title}", tone_emoji(tone)),
            None => title.to_owned(),
        };
        head.push(json!({
            "type": "header",
            "block_id": "title",
            "text": plain(&truncate(&text, MAX_HEADER)),
        }));
    }

    let fields: Vec<Value> = m
        .fields
        .iter()
        .filter(|f| !f.label.trim().is_empty() || !f.value.trim().is_empty())
        .map(|f| {
            let text = format!("*{}*\n{}", escape(&f.label), escape(&f.value));
            mrkdwn(&truncate_escaped(&text, MAX_FIELD_TEXT))
        })
        .collect();
    for (i, chunk) in fields.chunks(MAX_FIELDS).enumerate() {
        head.push(json!({
            "type": "section",
            "block_id": numbered("fields", i),
            "fields": chunk,
        }));
    }

    let mut tail = Vec::new();
    let mut context = Vec::new();
    if let Some(tone) = m.tone {
        context.push(mrkdwn(&format!(
            "{} *{}*",
            tone_emoji(tone),
            tone_label(tone)
        )));
    }
    if let Some(line) = m.context.as_deref().filter(|c| !c.trim().is_empty()) {
        context.push(mrkdwn(&truncate_escaped(&escape(line), MAX_SECTION_TEXT)));
    }
    if !context.is_empty() {
        tail.push(json!({ "type": "context", "block_id": "context", "elements": context }));
    }
    tail.extend(actions(&m.buttons));

    // Paragraphs get what the other blocks leave of the 50; the last one that fits says
    // how many did not.
    let paragraphs: Vec<&String> = m.text.iter().filter(|t| !t.trim().is_empty()).collect();
    let budget = MAX_BLOCKS.saturating_sub(head.len() + tail.len());
    let mut texts: Vec<String> = paragraphs
        .iter()
        .map(|p| truncate_escaped(&escape(p), MAX_SECTION_TEXT))
        .collect();
    if texts.len() > budget {
        texts.truncate(budget.saturating_sub(1));
        if budget > 0 {
            texts.push(format!(
                "_… {} more paragraphs not shown_",
                paragraphs.len() - texts.len()
            ));
        }
    }
    let body = texts.iter().enumerate().map(|(i, text)| {
        json!({
            "type": "section",
            "block_id": format!("text-{}", i + 1),
            "text": mrkdwn(text),
        })
    });

    let mut blocks: Vec<Value> = head.into_iter().chain(body).chain(tail).collect();
    blocks.truncate(MAX_BLOCKS);

    let mut fallback = m.plain();
    if fallback.trim().is_empty() {
        fallback = m.context.clone().unwrap_or_else(|| "…".to_owned());
    }
    json!({
        "text": truncate_escaped(&escape(&fallback), MAX_FALLBACK),
        "blocks": blocks,
    })
}

/// A modal view for `views.open`: `callback_id` = `dialog.id`, one `input` block per field
/// with `block_id` = `action_id` = the field's name.
pub fn modal(dialog: &Dialog, private_metadata: &str) -> Value {
    let submit = if dialog.submit_label.trim().is_empty() {
        "Submit"
    } else {
        dialog.submit_label.as_str()
    };
    let blocks: Vec<Value> = dialog
        .fields
        .iter()
        .take(MAX_MODAL_BLOCKS)
        .map(input)
        .collect();
    json!({
        "type": "modal",
        "callback_id": dialog.id,
        "title": plain(&truncate(&dialog.title, MAX_MODAL_TITLE)),
        "submit": plain(&truncate(submit, MAX_MODAL_TITLE)),
        "close": plain("Cancel"),
        "private_metadata": private_metadata,
        "blocks": blocks,
    })
}

/// The submitted values of a modal, from a `view_submission`'s `view` (its
/// `state.values`), by field name: the input block's id (which is also the element's
/// action id in [`modal`]'s views; a block holding several elements gives each by its
/// action id). A multi-select's values are joined with `,`. Empty inputs and element
/// types without a value (or unknown shapes) are left out.
pub fn view_values(view: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(blocks) = view
        .get("state")
        .and_then(|s| s.get("values"))
        .and_then(Value::as_object)
    else {
        return out;
    };
    for (block_id, actions) in blocks {
        let Some(actions) = actions.as_object() else {
            continue;
        };
        for (action_id, state) in actions {
            let Some(value) = element_value(state) else {
                continue;
            };
            let key = if actions.len() == 1 {
                block_id
            } else {
                action_id
            };
            out.insert(key.clone(), value);
        }
    }
    out
}

/// The answer to a `view_submission` that does not validate: Slack shows each message
/// under the input block of that field.
pub fn modal_errors(errors: &BTreeMap<String, String>) -> Value {
    json!({ "response_action": "errors", "errors": errors })
}

fn element_value(state: &Value) -> Option<String> {
    let string = |key: &str| state.get(key).and_then(Value::as_str).map(str::to_owned);
    let joined = |key: &str, inner: Option<&str>| {
        state.get(key).and_then(Value::as_array).map(|items| {
            items
                .iter()
                .filter_map(|i| match inner {
                    Some(inner) => i.get(inner).and_then(Value::as_str),
                    None => i.as_str(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
    };
    let value = string("value")
        .or_else(|| {
            state
                .get("selected_option")
                .and_then(|o| o.get("value"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| joined("selected_options", Some("value")))
        .or_else(|| string("selected_date"))
        .or_else(|| string("selected_time"))
        .or_else(|| {
            state
                .get("selected_date_time")
                .and_then(Value::as_i64)
                .map(|t| t.to_string())
        })
        .or_else(|| string("selected_user"))
        .or_else(|| string("selected_channel"))
        .or_else(|| string("selected_conversation"))
        .or_else(|| joined("selected_users", None))
        .or_else(|| joined("selected_channels", None))
        .or_else(|| joined("selected_conversations", None))?;
    (!value.is_empty()).then_some(value)
}

fn input(field: &DialogField) -> Value {
    let mut element = Map::new();
    let options = |options: &[(String, String)]| -> Vec<Value> {
        options.iter().take(MAX_OPTIONS).map(option).collect()
    };
    match &field.kind {
        DialogFieldKind::Text { max_length } | DialogFieldKind::Paragraph { max_length } => {
            element.insert("type".into(), "plain_text_input".into());
            if matches!(field.kind, DialogFieldKind::Paragraph { .. }) {
                element.insert("multiline".into(), true.into());
            }
            if *max_length > 0 {
                element.insert(
                    "max_length".into(),
                    (*max_length).min(MAX_INPUT_LENGTH).into(),
                );
            }
            if let Some(initial) = field.initial.as_deref().filter(|i| !i.is_empty()) {
                element.insert("initial_value".into(), initial.into());
            }
        }
        DialogFieldKind::Select { options: choices } => {
            element.insert("type".into(), "static_select".into());
            element.insert("options".into(), options(choices).into());
            // Slack rejects an initial option that is not one of the options.
            let initial = field.initial.as_deref().and_then(|initial| {
                choices
                    .iter()
                    .take(MAX_OPTIONS)
                    .find(|(value, _)| value == initial)
            });
            if let Some(choice) = initial {
                element.insert("initial_option".into(), option(choice));
            }
        }
        DialogFieldKind::MultiSelect { options: choices } => {
            element.insert("type".into(), "multi_static_select".into());
            element.insert("options".into(), options(choices).into());
            let wanted: HashSet<&str> = field
                .initial
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .collect();
            let initial: Vec<Value> = choices
                .iter()
                .take(MAX_OPTIONS)
                .filter(|(value, _)| wanted.contains(value.as_str()))
                .map(option)
                .collect();
            if !initial.is_empty() {
                element.insert("initial_options".into(), initial.into());
            }
        }
    }
    element.insert("action_id".into(), field.name.clone().into());
    if let Some(placeholder) = field.placeholder.as_deref().filter(|p| !p.is_empty()) {
        element.insert(
            "placeholder".into(),
            plain(&truncate(placeholder, MAX_PLACEHOLDER)),
        );
    }
    json!({
        "type": "input",
        "block_id": field.name,
        "label": plain(&truncate(&field.label, MAX_LABEL)),
        "optional": !field.required,
        "element": element,
    })
}

fn option((value, label): &(String, String)) -> Value {
    json!({
        "text": plain(&truncate(label, MAX_OPTION_TEXT)),
        "value": truncate(value, MAX_OPTION_VALUE),
    })
}

/// Buttons as actions blocks of at most 25, starting a new block where an action id
/// would repeat within one.
fn actions(buttons: &[Button]) -> Vec<Value> {
    let mut blocks: Vec<Vec<Value>> = Vec::new();
    let mut ids: HashSet<&str> = HashSet::new();
    for b in buttons {
        let full = blocks.last().is_none_or(|l| l.len() >= MAX_ACTIONS);
        if full || ids.contains(b.action.as_str()) {
            blocks.push(Vec::new());
            ids.clear();
        }
        ids.insert(&b.action);
        let mut button = json!({
            "type": "button",
            "action_id": b.action,
            "text": plain(&truncate(&b.label, MAX_BUTTON_TEXT)),
            "value": b.value,
        });
        match b.style {
            ButtonStyle::Primary => button["style"] = "primary".into(),
            ButtonStyle::Danger => button["style"] = "danger".into(),
            ButtonStyle::Default => {}
        }
        if let Some(block) = blocks.last_mut() {
            block.push(button);
        }
    }
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, elements)| {
            json!({ "type": "actions", "block_id": numbered("actions", i), "elements": elements })
        })
        .collect()
}

fn tone_emoji(tone: Tone) -> &'static str {
    match tone {
        Tone::Critical => ":red_circle:",
        Tone::Major => ":large_orange_circle:",
        Tone::Minor => ":large_yellow_circle:",
        Tone::Info => ":large_blue_circle:",
        Tone::Resolved => ":large_green_circle:",
    }
}

fn tone_label(tone: Tone) -> &'static str {
    match tone {
        Tone::Critical => "Critical",
        Tone::Major => "Major",
        Tone::Minor => "Minor",
        Tone::Info => "Info",
        Tone::Resolved => "Resolved",
    }
}

/// `name` for the first, then `name-2`, `name-3`, …
fn numbered(name: &str, index: usize) -> String {
    if index == 0 {
        name.to_owned()
    } else {
        format!("{name}-{}", index + 1)
    }
}

fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text })
}

fn mrkdwn(text: &str) -> Value {
    json!({ "type": "mrkdwn", "text": text })
}

/// Slack's mrkdwn escaping: only `&`, `<` and `>` are control characters.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters, ending in `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// [`truncate`] for escaped mrkdwn: never cuts an `&amp;`-style entity in half.
fn truncate_escaped(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    if let Some(amp) = out.rfind('&')
        && !out[amp..].contains(';')
    {
        out.truncate(amp);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::chat::Field;

    fn button(action: &str, value: &str, style: ButtonStyle) -> Button {
        Button {
            action: action.into(),
            value: value.into(),
            label: format!("{action} label"),
            style,
        }
    }

    fn card() -> Message {
        Message {
            title: Some("INC-42 Checkout is failing".into()),
            tone: Some(Tone::Critical),
            fields: vec![
                Field {
                    label: "Severity".into(),
                    value: "sev1".into(),
                },
                Field {
                    label: "Services".into(),
                    value: "checkout & <payments>".into(),
                },
            ],
            text: vec!["Errors > 50% since 10:00 <https://x>".into()],
            buttons: vec![
                button("ack", "inc-42", ButtonStyle::Primary),
                button("status", "inc-42", ButtonStyle::Default),
                button("resolve", "inc-42", ButtonStyle::Danger),
            ],
            context: Some("Declared by alice & bob".into()),
        }
    }

    fn kinds_and_ids(rendered: &Value) -> Vec<(String, String)> {
        rendered["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .map(|b| {
                (
                    b["type"].as_str().unwrap_or_default().to_owned(),
                    b["block_id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn a_card_with_every_element_becomes_header_fields_text_context_and_actions() {
        let rendered = message(&card());
        let pairs: Vec<(&str, &str)> = [
            ("header", "title"),
            ("section", "fields"),
            ("section", "text-1"),
            ("context", "context"),
            ("actions", "actions"),
        ]
        .into();
        assert_eq!(
            kinds_and_ids(&rendered),
            pairs
                .iter()
                .map(|(k, i)| (k.to_string(), i.to_string()))
                .collect::<Vec<_>>()
        );
        let blocks = &rendered["blocks"];
        assert_eq!(
            blocks[0]["text"],
            json!({"type": "plain_text", "text": ":red_circle: INC-42 Checkout is failing"})
        );
        assert_eq!(
            blocks[1]["fields"][1],
            json!({"type": "mrkdwn", "text": "*Services*\ncheckout &amp; &lt;payments&gt;"})
        );
        assert_eq!(
            blocks[2]["text"]["text"],
            "Errors &gt; 50% since 10:00 &lt;https://x&gt;"
        );
        assert_eq!(
            blocks[3]["elements"],
            json!([
                {"type": "mrkdwn", "text": ":red_circle: *Critical*"},
                {"type": "mrkdwn", "text": "Declared by alice &amp; bob"},
            ])
        );
        assert_eq!(
            blocks[4]["elements"],
            json!([
                {"type": "button", "action_id": "ack", "value": "inc-42", "style": "primary",
                 "text": {"type": "plain_text", "text": "ack label"}},
                {"type": "button", "action_id": "status", "value": "inc-42",
                 "text": {"type": "plain_text", "text": "status label"}},
                {"type": "button", "action_id": "resolve", "value": "inc-42", "style": "danger",
                 "text": {"type": "plain_text", "text": "resolve label"}},
            ])
        );
        let fallback = rendered["text"].as_str().expect("fallback text");
        assert!(fallback.starts_with("INC-42 Checkout is failing\nSeverity: sev1"));
        assert!(
            fallback.contains("checkout &amp; &lt;payments&gt;"),
            "{fallback}"
        );
    }

    #[test]
    fn tones_have_their_own_colour() {
        let labels: Vec<String> = [
            Tone::Critical,
            Tone::Major,
            Tone::Minor,
            Tone::Info,
            Tone::Resolved,
        ]
        .into_iter()
        .map(|tone| {
            let m = message(&Message {
                tone: Some(tone),
                ..Message::text("x")
            });
            m["blocks"][1]["elements"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
        assert_eq!(
            labels,
            [
                ":red_circle: *Critical*",
                ":large_orange_circle: *Major*",
                ":large_yellow_circle: *Minor*",
                ":large_blue_circle: *Info*",
                ":large_green_circle: *Resolved*",
            ]
        );
    }

    #[test]
    fn plain_text_is_one_section() {
        let rendered = message(&Message::text("hello <world>"));
        assert_eq!(
            rendered,
            json!({
                "text": "hello &lt;world&gt;",
                "blocks": [{"type": "section", "block_id": "text-1",
                            "text": {"type": "mrkdwn", "text": "hello &lt;world&gt;"}}],
            })
        );
    }

    #[test]
    fn block_kit_limits_hold_for_oversized_messages() {
        let m = Message {
            title: Some("t".repeat(400)),
            tone: Some(Tone::Info),
            fields: (0..23)
                .map(|i| Field {
                    label: format!("f{i}"),
                    value: "&".repeat(2500),
                })
                .collect(),
            text: (0..80)
                .map(|i| format!("{i} {}", "<".repeat(4000)))
                .collect(),
            buttons: (0..30)
                .map(|i| button(&format!("a{i}"), "v", ButtonStyle::Default))
                .collect(),
            context: Some("c".repeat(5000)),
        };
        let rendered = message(&m);
        let blocks = rendered["blocks"].as_array().expect("blocks");
        assert_eq!(blocks.len(), MAX_BLOCKS);
        let ids: HashSet<&str> = blocks
            .iter()
            .map(|b| b["block_id"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(ids.len(), blocks.len(), "block ids are unique");
        assert!(ids.contains("context") && ids.contains("actions-2"));
        let header = blocks[0]["text"]["text"].as_str().unwrap_or_default();
        assert_eq!(header.chars().count(), MAX_HEADER);
        let mut sections = 0;
        for b in blocks {
            match b["type"].as_str() {
                Some("section") if b.get("fields").is_some() => {
                    let fields = b["fields"].as_array().expect("fields");
                    assert!(fields.len() <= MAX_FIELDS);
                    for f in fields {
                        let text = f["text"].as_str().unwrap_or_default();
                        assert!(text.chars().count() <= MAX_FIELD_TEXT);
                        // Cut between entities, never inside one.
                        assert!(text.ends_with("&amp;…"), "{}", &text[text.len() - 20..]);
                    }
                }
                Some("section") => {
                    sections += 1;
                    let text = b["text"]["text"].as_str().unwrap_or_default();
                    assert!(text.chars().count() <= MAX_SECTION_TEXT);
                }
                Some("actions") => {
                    assert!(b["elements"].as_array().expect("elements").len() <= MAX_ACTIONS);
                }
                Some("context") => {
                    for e in b["elements"].as_array().expect("elements") {
                        let text = e["text"].as_str().unwrap_or_default();
                        assert!(text.chars().count() <= MAX_SECTION_TEXT);
                    }
                }
                _ => {}
            }
        }
        // 50 - header - 3 field sections - context - 2 actions blocks.
        assert_eq!(sections, 43);
        assert_eq!(
            blocks[46]["text"]["text"],
            "_… 38 more paragraphs not shown_"
        );
    }

    #[test]
    fn buttons_sharing_an_action_go_into_separate_actions_blocks() {
        let m = Message {
            buttons: vec![
                button("page", "alice", ButtonStyle::Default),
                button("page", "bob", ButtonStyle::Default),
                button("ack", "x", ButtonStyle::Primary),
            ],
            ..Message::text("who?")
        };
        let rendered = message(&m);
        let actions: Vec<Vec<(&str, &str)>> = rendered["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .filter(|b| b["type"] == "actions")
            .map(|b| {
                b["elements"]
                    .as_array()
                    .expect("elements")
                    .iter()
                    .map(|e| {
                        (
                            e["action_id"].as_str().unwrap_or_default(),
                            e["value"].as_str().unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            actions,
            vec![vec![("page", "alice")], vec![("page", "bob"), ("ack", "x")]]
        );
    }

    fn dialog() -> Dialog {
        let choices = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(v, l)| (v.to_string(), l.to_string()))
                .collect()
        };
        Dialog {
            id: "declare".into(),
            title: "Declare a new incident right now".into(),
            submit_label: "Declare".into(),
            fields: vec![
                DialogField {
                    name: "title".into(),
                    label: "Title".into(),
                    kind: DialogFieldKind::Text { max_length: 150 },
                    required: true,
                    initial: None,
                    placeholder: Some("What is broken?".into()),
                },
                DialogField {
                    name: "summary".into(),
                    label: "Summary".into(),
                    kind: DialogFieldKind::Paragraph { max_length: 5000 },
                    required: false,
                    initial: Some("Started after the deploy".into()),
                    placeholder: None,
                },
                DialogField {
                    name: "severity".into(),
                    label: "Severity".into(),
                    kind: DialogFieldKind::Select {
                        options: choices(&[("sev1", "SEV1 critical"), ("sev2", "SEV2 major")]),
                    },
                    required: true,
                    initial: Some("sev2".into()),
                    placeholder: None,
                },
                DialogField {
                    name: "services".into(),
                    label: "Services".into(),
                    kind: DialogFieldKind::MultiSelect {
                        options: choices(&[
                            ("checkout", "Checkout"),
                            ("search", "Search"),
                            ("payments", "Payments"),
                        ]),
                    },
                    required: false,
                    initial: Some("search,unknown".into()),
                    placeholder: None,
                },
            ],
        }
    }

    #[test]
    fn a_modal_has_one_input_per_field_named_by_the_field() {
        let view = modal(&dialog(), "{\"channel\":\"C1\"}");
        assert_eq!(view["type"], "modal");
        assert_eq!(view["callback_id"], "declare");
        assert_eq!(view["private_metadata"], "{\"channel\":\"C1\"}");
        let title = view["title"]["text"].as_str().expect("title");
        assert_eq!(title, "Declare a new incident …");
        assert_eq!(title.chars().count(), MAX_MODAL_TITLE);
        assert_eq!(view["submit"]["text"], "Declare");
        let blocks = view["blocks"].as_array().expect("blocks");
        let elements: Vec<(&str, &str, &str, bool)> = blocks
            .iter()
            .map(|b| {
                (
                    b["block_id"].as_str().unwrap_or_default(),
                    b["element"]["action_id"].as_str().unwrap_or_default(),
                    b["element"]["type"].as_str().unwrap_or_default(),
                    b["optional"].as_bool().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            elements,
            [
                ("title", "title", "plain_text_input", false),
                ("summary", "summary", "plain_text_input", true),
                ("severity", "severity", "static_select", false),
                ("services", "services", "multi_static_select", true),
            ]
        );
        assert_eq!(blocks[0]["element"]["max_length"], 150);
        assert_eq!(
            blocks[0]["element"]["placeholder"]["text"],
            "What is broken?"
        );
        assert_eq!(blocks[1]["element"]["multiline"], true);
        assert_eq!(blocks[1]["element"]["max_length"], MAX_INPUT_LENGTH);
        assert_eq!(
            blocks[1]["element"]["initial_value"],
            "Started after the deploy"
        );
        assert_eq!(blocks[2]["element"]["initial_option"]["value"], "sev2");
        assert_eq!(
            blocks[3]["element"]["initial_options"],
            json!([{"text": {"type": "plain_text", "text": "Search"}, "value": "search"}])
        );
    }

    /// What Slack sends back for a view: each input's element state under
    /// `state.values[block_id][action_id]`.
    fn submitted(view: &Value, answers: &BTreeMap<&str, Value>) -> Value {
        let mut values = Map::new();
        for block in view["blocks"].as_array().expect("blocks") {
            let block_id = block["block_id"].as_str().expect("block id");
            let element = &block["element"];
            let mut state = json!({ "type": element["type"] });
            if let Some(answer) = answers.get(block_id) {
                match element["type"].as_str() {
                    Some("plain_text_input") => state["value"] = answer.clone(),
                    Some("static_select") => {
                        state["selected_option"] =
                            json!({"text": {"type": "plain_text", "text": "x"}, "value": answer})
                    }
                    Some("multi_static_select") => state["selected_options"] = answer
                        .as_array()
                        .expect("list")
                        .iter()
                        .map(|v| json!({"text": {"type": "plain_text", "text": "x"}, "value": v}))
                        .collect(),
                    other => panic!("unexpected element {other:?}"),
                }
            } else if element["type"] == "plain_text_input" {
                state["value"] = Value::Null;
            } else if element["type"] == "multi_static_select" {
                state["selected_options"] = json!([]);
            }
            values.insert(
                block_id.to_owned(),
                json!({ element["action_id"].as_str().expect("action id"): state }),
            );
        }
        let mut submitted = view.clone();
        submitted["state"] = json!({ "values": values });
        submitted
    }

    #[test]
    fn a_submitted_modal_gives_its_values_back_by_field_name() {
        let view = modal(&dialog(), "");
        let answers = BTreeMap::from([
            ("title", json!("Checkout is failing")),
            ("severity", json!("sev1")),
            ("services", json!(["checkout", "payments"])),
        ]);
        assert_eq!(
            view_values(&submitted(&view, &answers)),
            BTreeMap::from([
                ("services".to_owned(), "checkout,payments".to_owned()),
                ("severity".to_owned(), "sev1".to_owned()),
                ("title".to_owned(), "Checkout is failing".to_owned()),
            ])
        );
    }

    use crate::slack::test_fixture as fixture;

    #[test]
    fn recorded_view_submissions_parse() {
        let squarebot = fixture("interactivity/view_submission_modal.json");
        assert_eq!(
            view_values(&squarebot["view"]),
            BTreeMap::from([("license".to_owned(), "mit".to_owned())])
        );
        // Three inputs whose elements share one action id: the block ids tell them apart.
        let rating = fixture("interactivity/view_submission_rating_form.json");
        assert_eq!(
            view_values(&rating["view"]),
            BTreeMap::from([
                ("comment".to_owned(), "Just amazing!".to_owned()),
                ("date-of-visit".to_owned(), "2019-09-23".to_owned()),
                ("rating".to_owned(), "3".to_owned()),
            ])
        );
        assert!(view_values(&json!({"state": {"values": {"b": "x", "c": {"a": 1}}}})).is_empty());
        assert!(view_values(&json!(null)).is_empty());
    }

    #[test]
    fn validation_errors_answer_the_submission() {
        let errors = BTreeMap::from([("title".to_owned(), "A title, please".to_owned())]);
        assert_eq!(
            modal_errors(&errors),
            json!({"response_action": "errors", "errors": {"title": "A title, please"}})
        );
    }
}
