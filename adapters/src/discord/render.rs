//! The platform-neutral `Message` and `Dialog` as Discord JSON: an embed with action rows
//! of buttons for messages, a modal for dialogs, and the way back from a submitted modal
//! to values by field name.
//!
//! Pure JSON building, shared by the REST client, the interaction responses and the tests.
//! Discord rejects a whole message when one limit is exceeded (`50035 Invalid Form Body`),
//! so the limits are enforced here by truncating and dropping rather than failing.
//!
//! A button's `custom_id` is `action:value` ([`custom_id`]); [`parse_custom_id`] reads a
//! press back. Discord wants custom ids unique within a message, so a second button with
//! the same action and value is dropped.

use std::collections::{BTreeMap, HashSet};

use bot_core::chat::{Button, ButtonStyle, Dialog, DialogField, DialogFieldKind, Message, Tone};
use serde_json::{Map, Value, json};

/// Characters of a message's `content`.
const MAX_CONTENT: usize = 2000;
/// An embed's title, description, fields, field name and value, footer, and the total of
/// all of them.
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 4096;
const MAX_FIELDS: usize = 25;
const MAX_FIELD_NAME: usize = 256;
const MAX_FIELD_VALUE: usize = 1024;
const MAX_FOOTER: usize = 2048;
const MAX_EMBED_TOTAL: usize = 6000;
/// Buttons per action row, rows per message, characters of a label and of a custom id.
const MAX_ROW: usize = 5;
const MAX_ROWS: usize = 5;
const MAX_BUTTON_LABEL: usize = 80;
const MAX_CUSTOM_ID: usize = 100;
/// A modal's title, its components, a label's text, a text input's
/// value and placeholder, a select's options and an option's label and value.
const MAX_MODAL_TITLE: usize = 45;
const MAX_MODAL_COMPONENTS: usize = 5;
const MAX_LABEL: usize = 45;
const MAX_INPUT: usize = 4000;
const MAX_PLACEHOLDER: usize = 100;
const MAX_OPTIONS: usize = 25;
const MAX_OPTION_TEXT: usize = 100;

/// Component types (Discord's numbers).
const ACTION_ROW: u64 = 1;
const BUTTON: u64 = 2;
const STRING_SELECT: u64 = 3;
const TEXT_INPUT: u64 = 4;
const LABEL: u64 = 18;

/// The body of `POST /channels/{id}/messages`, `PATCH …/messages/{id}`, a follow-up or an
/// interaction response's `data`.
///
/// A card (a title, tone, fields or context) is one embed: `title`, `description` (the
/// text paragraphs), `color` (the tone), `fields`, `footer` (the context). A message of
/// text only is `content`. Buttons are `components`: action rows of at most five.
/// `embeds` and `components` are always present, so an update replaces what was there.
/// Only user mentions notify (`allowed_mentions`), never `@everyone` from some title.
pub fn message(m: &Message) -> Value {
    let mut body = Map::new();
    let is_card =
        m.title.is_some() || m.tone.is_some() || !m.fields.is_empty() || m.context.is_some();
    if is_card {
        body.insert("embeds".into(), json!([embed(m)]));
    } else {
        let text = m.text.join("\n\n");
        let text = if text.trim().is_empty() {
            "\u{200b}".to_owned()
        } else {
            text
        };
        body.insert("content".into(), json!(truncate(&text, MAX_CONTENT)));
        body.insert("embeds".into(), json!([]));
    }
    body.insert("components".into(), Value::Array(rows(&m.buttons)));
    body.insert("allowed_mentions".into(), json!({ "parse": ["users"] }));
    Value::Object(body)
}

fn embed(m: &Message) -> Value {
    let mut embed = Map::new();
    let mut budget = MAX_EMBED_TOTAL;
    let mut take = |text: &str, max: usize| -> String {
        let out = truncate(text, max.min(budget));
        budget -= out.chars().count();
        out
    };
    if let Some(title) = m.title.as_deref().filter(|t| !t.trim().is_empty()) {
        embed.insert("title".into(), json!(take(title, MAX_TITLE)));
    }
    if let Some(footer) = m.context.as_deref().filter(|t| !t.trim().is_empty()) {
        embed.insert("footer".into(), json!({ "text": take(footer, MAX_FOOTER) }));
    }
    let description = m
        .text
        .iter()
        .filter(|t| !t.trim().is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n\n");
    if !description.is_empty() {
        embed.insert(
            "description".into(),
            json!(take(&description, MAX_DESCRIPTION)),
        );
    }
    if let Some(tone) = m.tone {
        embed.insert("color".into(), json!(color(tone)));
    }
    let mut fields = Vec::new();
    for f in m
        .fields
        .iter()
        .filter(|f| !f.label.trim().is_empty() || !f.value.trim().is_empty())
        .take(MAX_FIELDS)
    {
        // Both must be non-empty; a zero-width space stands in for a missing one.
        let name = take(or_blank(&f.label), MAX_FIELD_NAME);
        let value = take(or_blank(&f.value), MAX_FIELD_VALUE);
        if name.is_empty() || value.is_empty() {
            break;
        }
        let inline = value.chars().count() <= 40;
        fields.push(json!({ "name": name, "value": value, "inline": inline }));
    }
    if !fields.is_empty() {
        embed.insert("fields".into(), Value::Array(fields));
    }
    Value::Object(embed)
}

fn or_blank(text: &str) -> &str {
    if text.trim().is_empty() {
        "\u{200b}"
    } else {
        text
    }
}

/// The embed colour of a tone.
fn color(tone: Tone) -> u32 {
    match tone {
        Tone::Critical => 0xE0_1E_5A,
        Tone::Major => 0xE8_91_2D,
        Tone::Minor => 0xEC_B2_2E,
        Tone::Info => 0x36_C5_F0,
        Tone::Resolved => 0x2E_B6_7D,
    }
}

/// Buttons as action rows: five a row, five rows; duplicates (same custom id) dropped.
fn rows(buttons: &[Button]) -> Vec<Value> {
    let mut seen = HashSet::new();
    let buttons: Vec<Value> = buttons
        .iter()
        .filter_map(|b| {
            let id = custom_id(&b.action, &b.value);
            seen.insert(id.clone()).then(|| button(b, id))
        })
        .take(MAX_ROW * MAX_ROWS)
        .collect();
    buttons
        .chunks(MAX_ROW)
        .map(|row| json!({ "type": ACTION_ROW, "components": row }))
        .collect()
}

fn button(b: &Button, custom_id: String) -> Value {
    let style = match b.style {
        ButtonStyle::Primary => 1,
        ButtonStyle::Danger => 4,
        ButtonStyle::Default => 2,
    };
    json!({
        "type": BUTTON,
        "style": style,
        "label": truncate(or_blank(&b.label), MAX_BUTTON_LABEL),
        "custom_id": custom_id,
    })
}

/// `action:value`, cut to Discord's 100 characters (the value loses its end first).
pub fn custom_id(action: &str, value: &str) -> String {
    truncate(&format!("{action}:{value}"), MAX_CUSTOM_ID)
}

/// The action and value of a custom id made by [`custom_id`]; `None` for any other.
pub fn parse_custom_id(id: &str) -> Option<(String, String)> {
    let (action, value) = id.split_once(':')?;
    (!action.is_empty()).then(|| (action.to_owned(), value.to_owned()))
}

/// The `data` of a MODAL (type 9) interaction response.
///
/// Each field is a label component (type 18) holding a text input (short for `Text`,
/// paragraph for `Paragraph`) or a string select (`Select`, `MultiSelect`); its
/// `custom_id` is the field's name. Discord shows at most five, so later fields are
/// dropped. `submit_label` has no place in a Discord modal (the button says "Submit").
pub fn modal(dialog: &Dialog) -> Value {
    let components: Vec<Value> = dialog
        .fields
        .iter()
        .take(MAX_MODAL_COMPONENTS)
        .map(field)
        .collect();
    json!({
        "custom_id": truncate(&dialog.id, MAX_CUSTOM_ID),
        "title": truncate(or_blank(&dialog.title), MAX_MODAL_TITLE),
        "components": components,
    })
}

fn field(f: &DialogField) -> Value {
    let mut label = Map::new();
    label.insert("type".into(), json!(LABEL));
    label.insert(
        "label".into(),
        json!(truncate(or_blank(&f.label), MAX_LABEL)),
    );
    let mut inner = Map::new();
    inner.insert("custom_id".into(), json!(truncate(&f.name, MAX_CUSTOM_ID)));
    inner.insert("required".into(), json!(f.required));
    if let Some(p) = f.placeholder.as_deref().filter(|p| !p.is_empty()) {
        inner.insert("placeholder".into(), json!(truncate(p, MAX_PLACEHOLDER)));
    }
    match &f.kind {
        DialogFieldKind::Text { max_length } | DialogFieldKind::Paragraph { max_length } => {
            let style = if matches!(f.kind, DialogFieldKind::Text { .. }) {
                1
            } else {
                2
            };
            inner.insert("type".into(), json!(TEXT_INPUT));
            inner.insert("style".into(), json!(style));
            // 0 means no limit of our own: Discord's.
            let max = if *max_length == 0 {
                MAX_INPUT
            } else {
                (*max_length).min(MAX_INPUT)
            };
            inner.insert("max_length".into(), json!(max));
            if let Some(v) = f.initial.as_deref().filter(|v| !v.is_empty()) {
                inner.insert("value".into(), json!(truncate(v, max)));
            }
        }
        DialogFieldKind::Select { options } | DialogFieldKind::MultiSelect { options } => {
            let multi = matches!(f.kind, DialogFieldKind::MultiSelect { .. });
            let initial: HashSet<&str> = f
                .initial
                .as_deref()
                .map(|i| {
                    if multi {
                        i.split(',').map(str::trim).collect()
                    } else {
                        HashSet::from([i.trim()])
                    }
                })
                .unwrap_or_default();
            let options: Vec<Value> = options
                .iter()
                .take(MAX_OPTIONS)
                .map(|(value, text)| {
                    json!({
                        "label": truncate(or_blank(text), MAX_OPTION_TEXT),
                        "value": truncate(value, MAX_OPTION_TEXT),
                        "default": initial.contains(value.as_str()),
                    })
                })
                .collect();
            inner.insert("type".into(), json!(STRING_SELECT));
            let min = usize::from(f.required);
            let max = if multi { options.len().max(1) } else { 1 };
            inner.insert("min_values".into(), json!(min));
            inner.insert("max_values".into(), json!(max));
            inner.insert("options".into(), Value::Array(options));
        }
    }
    label.insert("component".into(), Value::Object(inner));
    Value::Object(label)
}

/// The values of a MODAL_SUBMIT interaction's `data`, by field name (`custom_id`): a text
/// input's `value`, a select's `values` joined by commas. Classic action rows and label
/// components alike.
pub fn modal_values(data: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    collect(&data["components"], &mut out);
    out
}

fn collect(node: &Value, out: &mut BTreeMap<String, String>) {
    match node {
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(o) => {
            if let Some(id) = o.get("custom_id").and_then(Value::as_str) {
                if let Some(v) = o.get("value").and_then(Value::as_str) {
                    out.insert(id.to_owned(), v.to_owned());
                } else if let Some(vs) = o.get("values").and_then(Value::as_array) {
                    let vs: Vec<&str> = vs.iter().filter_map(Value::as_str).collect();
                    out.insert(id.to_owned(), vs.join(","));
                }
            }
            if let Some(c) = o.get("components") {
                collect(c, out);
            }
            if let Some(c) = o.get("component") {
                collect(c, out);
            }
        }
        _ => {}
    }
}

/// At most `max` characters, ending in `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::chat::Field;

    fn fixture(name: &str) -> Value {
        let root = std::env::var_os("TOCSIN_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").into()
            });
        let path = root.join("discord").join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).expect("fixture is JSON")
    }

    fn button(action: &str, value: &str, style: ButtonStyle) -> Button {
        Button {
            action: action.into(),
            value: value.into(),
            label: action.to_uppercase(),
            style,
        }
    }

    fn card() -> Message {
        Message {
            title: Some("INC-7 Checkout is failing".into()),
            tone: Some(Tone::Critical),
            fields: vec![
                Field {
                    label: "Severity".into(),
                    value: "sev1".into(),
                },
                Field {
                    label: "Commander".into(),
                    value: "<@80351110224678912>".into(),
                },
            ],
            text: vec!["Payments time out.".into(), "Since 10:02.".into()],
            buttons: vec![
                button("ack", "7", ButtonStyle::Primary),
                button("resolve", "7", ButtonStyle::Danger),
                button("status", "7", ButtonStyle::Default),
            ],
            context: Some("Declared by alice in #general".into()),
        }
    }

    #[test]
    fn a_card_is_one_embed_with_buttons_that_name_their_action() {
        let body = message(&card());
        assert!(body.get("content").is_none());
        let embed = &body["embeds"][0];
        assert_eq!(embed["title"], "INC-7 Checkout is failing");
        assert_eq!(embed["description"], "Payments time out.\n\nSince 10:02.");
        assert_eq!(embed["color"], 0xE0_1E_5A);
        assert_eq!(embed["footer"]["text"], "Declared by alice in #general");
        assert_eq!(embed["fields"][0]["name"], "Severity");
        assert_eq!(embed["fields"][1]["value"], "<@80351110224678912>");
        let row = &body["components"][0];
        assert_eq!(row["type"], 1);
        let styles: Vec<&Value> = (0..3).map(|i| &row["components"][i]["style"]).collect();
        assert_eq!(styles, [&json!(1), &json!(4), &json!(2)]);
        assert_eq!(row["components"][1]["custom_id"], "resolve:7");
        assert_eq!(row["components"][1]["type"], 2);
        assert_eq!(
            parse_custom_id("resolve:7"),
            Some(("resolve".into(), "7".into()))
        );
        assert_eq!(parse_custom_id("click_one"), None);
        assert_eq!(body["allowed_mentions"]["parse"], json!(["users"]));
    }

    #[test]
    fn plain_text_is_content_and_an_update_clears_embeds() {
        let body = message(&Message::text("hello"));
        assert_eq!(body["content"], "hello");
        assert_eq!(body["embeds"], json!([]));
        assert_eq!(body["components"], json!([]));
    }

    #[test]
    fn discords_limits_are_respected() {
        let mut m = card();
        m.title = Some("t".repeat(300));
        m.text = vec!["d".repeat(5000)];
        m.fields = (0..30)
            .map(|i| Field {
                label: format!("f{i}"),
                value: "v".repeat(2000),
            })
            .collect();
        m.buttons = (0..30)
            .map(|i| {
                button(
                    "run",
                    &format!("{i}-{}", "x".repeat(120)),
                    ButtonStyle::Default,
                )
            })
            .collect();
        m.buttons.push(m.buttons[0].clone());
        let body = message(&m);
        let embed = &body["embeds"][0];
        let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        assert_eq!(len(&embed["title"]), MAX_TITLE);
        assert_eq!(len(&embed["description"]), MAX_DESCRIPTION);
        let fields = embed["fields"].as_array().expect("fields");
        assert!(fields.len() <= MAX_FIELDS);
        let mut total = len(&embed["title"]) + len(&embed["description"]);
        total += len(&embed["footer"]["text"]);
        for f in fields {
            assert!(len(&f["value"]) <= MAX_FIELD_VALUE);
            total += len(&f["name"]) + len(&f["value"]);
        }
        assert!(total <= MAX_EMBED_TOTAL, "{total}");
        let rows = body["components"].as_array().expect("rows");
        assert_eq!(rows.len(), MAX_ROWS);
        let mut ids = HashSet::new();
        for row in rows {
            let buttons = row["components"].as_array().expect("buttons");
            assert!(buttons.len() <= MAX_ROW);
            for b in buttons {
                assert!(len(&b["custom_id"]) <= MAX_CUSTOM_ID);
                assert!(ids.insert(b["custom_id"].clone()), "custom ids are unique");
            }
        }
        assert_eq!(custom_id("a", &"v".repeat(200)).chars().count(), 100);
    }

    fn dialog() -> Dialog {
        let options = vec![
            ("sev1".to_owned(), "SEV1".to_owned()),
            ("sev2".to_owned(), "SEV2".to_owned()),
        ];
        let text = |name: &str, kind| DialogField {
            name: name.into(),
            label: name.to_uppercase(),
            kind,
            required: true,
            initial: None,
            placeholder: None,
        };
        let mut fields = vec![
            DialogField {
                initial: Some("Checkout".into()),
                placeholder: Some("What broke?".into()),
                ..text("title", DialogFieldKind::Text { max_length: 100 })
            },
            DialogField {
                required: false,
                ..text("notes", DialogFieldKind::Paragraph { max_length: 0 })
            },
            DialogField {
                initial: Some("sev2".into()),
                ..text("severity", DialogFieldKind::Select { options })
            },
        ];
        for i in 0..4 {
            fields.push(text(
                &format!("extra{i}"),
                DialogFieldKind::Text { max_length: 5 },
            ));
        }
        Dialog {
            id: "declare".into(),
            title: "Declare an incident, with a title far too long for Discord".into(),
            submit_label: "Declare".into(),
            fields,
        }
    }

    #[test]
    fn a_dialog_is_a_modal_of_labelled_inputs() {
        let data = modal(&dialog());
        assert_eq!(data["custom_id"], "declare");
        assert_eq!(data["title"].as_str().map(|t| t.chars().count()), Some(45));
        let components = data["components"].as_array().expect("components");
        assert_eq!(components.len(), MAX_MODAL_COMPONENTS);
        let title = &components[0];
        assert_eq!(title["type"], 18);
        assert_eq!(title["label"], "TITLE");
        assert_eq!(
            title["component"],
            json!({"type": 4, "custom_id": "title", "style": 1, "required": true,
                   "placeholder": "What broke?", "max_length": 100, "value": "Checkout"})
        );
        assert_eq!(components[1]["component"]["style"], 2);
        assert_eq!(components[1]["component"]["required"], false);
        let select = &components[2]["component"];
        assert_eq!(select["type"], 3);
        assert_eq!(select["options"][1]["default"], true);
        assert_eq!(select["max_values"], 1);

        // The same shape as Discord's own example of a modal with labels.
        let example = fixture("interactions/response_modal_label_select_and_text_input.json");
        let theirs = &example["data"]["components"];
        assert_eq!(theirs[0]["type"], components[2]["type"]);
        assert_eq!(theirs[0]["component"]["type"], select["type"]);
        assert_eq!(theirs[1]["component"]["type"], title["component"]["type"]);
    }

    #[test]
    fn submitted_values_come_back_by_field_name() {
        let classic = fixture("interactions/modal_submit_text_inputs.json");
        assert_eq!(
            modal_values(&classic["data"]),
            BTreeMap::from([("name".to_owned(), "John".to_owned())])
        );
        let labelled = fixture("interactions/modal_submit_label_text_input.json");
        let values = modal_values(&labelled["data"]);
        assert_eq!(values.len(), 1);
        assert!(values["game_feedback"].starts_with("The recent changes"));

        // A round trip: what Discord would send back for our modal.
        let data = modal(&dialog());
        let submitted: Vec<Value> = data["components"]
            .as_array()
            .expect("components")
            .iter()
            .map(|label| {
                let c = &label["component"];
                let mut answer = json!({"type": c["type"], "custom_id": c["custom_id"]});
                if c["type"] == 3 {
                    answer["values"] = json!(["sev1"]);
                } else {
                    answer["value"] = c.get("value").cloned().unwrap_or(json!(""));
                }
                json!({"type": 18, "component": answer})
            })
            .collect();
        let values = modal_values(&json!({"custom_id": "declare", "components": submitted}));
        assert_eq!(values["title"], "Checkout");
        assert_eq!(values["notes"], "");
        assert_eq!(values["severity"], "sev1");
        assert_eq!(values.len(), 5);
    }
}
