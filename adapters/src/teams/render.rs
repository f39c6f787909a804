//! The platform-neutral `Message` and `Dialog` as Microsoft Teams JSON: an Adaptive Card
//! (schema 1.5) for messages, a card form inside a task module (dialog) for dialogs, the
//! bodies of the invoke responses that carry them, and the way back from a button press or
//! a submitted form to an action or to values by field name.
//!
//! Pure JSON building, shared by the connector, the invoke handlers and the tests. Teams
//! rejects an activity over about 28 KB, so text is cut to a shared budget here rather
//! than failing.
//!
//! A button is an `Action.Execute` whose `verb` is the button's action and whose `data` is
//! `{"action": action, "value": value}` (the press comes back as an `adaptiveCard/action`
//! invoke); older clients fall back to an `Action.Submit` with the same `data` (the press
//! comes back as a message whose `value` is that data). [`parse_action`] reads either.
//! A dialog's submit button carries `{"tocsin_dialog": id}`; [`dialog_id`] and
//! [`dialog_values`] read a `task/submit` back.

use std::collections::{BTreeMap, HashSet};

use bot_core::chat::{Button, ButtonStyle, Dialog, DialogField, DialogFieldKind, Message, Tone};
use serde_json::{Map, Value, json};

/// The attachment content type of an Adaptive Card.
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// The `type` of an `adaptiveCard/action` invoke response that answers with a text.
const INVOKE_MESSAGE_TYPE: &str = "application/vnd.microsoft.activity.message";
const CARD_SCHEMA: &str = "http://adaptivecards.io/schemas/adaptive-card.json";
/// Teams wants 1.5 for `Action.Execute` (the Adaptive Cards docs say 1.4 is enough).
const CARD_VERSION: &str = "1.5";
/// The key of a dialog form's submit data that names the dialog. Not a plausible field
/// name, so it never shadows a field's value.
const DIALOG_KEY: &str = "tocsin_dialog";

/// Characters of all the text of one card together: well under Teams' ~28 KB per
/// activity even for three-byte characters and JSON escaping.
const MAX_CARD_TEXT: usize = 8000;
const MAX_TITLE: usize = 256;
const MAX_FACTS: usize = 20;
const MAX_FACT_TITLE: usize = 100;
const MAX_FACT_VALUE: usize = 1000;
const MAX_CONTEXT: usize = 500;
/// Teams shows six actions on a card; more are hidden or refused.
const MAX_ACTIONS: usize = 6;
const MAX_ACTION_TITLE: usize = 60;
/// A dialog's title, an input's label and placeholder, a choice's title.
const MAX_DIALOG_TITLE: usize = 100;
const MAX_LABEL: usize = 200;
const MAX_PLACEHOLDER: usize = 150;
const MAX_CHOICES: usize = 100;
const MAX_CHOICE_TITLE: usize = 150;

/// The Adaptive Card of a message.
///
/// `body`: the title in a `Container` whose `style` is the tone's colour (with the tone's
/// name under it), one wrapping `TextBlock` per paragraph (Teams' Markdown subset passes
/// through), the fields as a `FactSet`, and the context as a small subtle `TextBlock`.
/// `actions`: the buttons as `Action.Execute` (see the module docs), `positive` for
/// primary and `destructive` for danger. `msteams.width: Full` so facts are not squeezed.
pub fn card(m: &Message) -> Value {
    let mut budget = MAX_CARD_TEXT;
    let mut take = |text: &str, max: usize| -> String {
        let out = truncate(text, max.min(budget));
        budget -= out.chars().count();
        out
    };
    // The budget goes to the title, the context and the facts first: long paragraphs
    // are what gets cut.
    let title = m
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| take(t, MAX_TITLE));
    let context = m
        .context
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| take(c, MAX_CONTEXT))
        .filter(|c| !c.is_empty());
    let mut facts = Vec::new();
    for f in m
        .fields
        .iter()
        .filter(|f| !f.label.trim().is_empty() || !f.value.trim().is_empty())
        .take(MAX_FACTS)
    {
        let title = take(&f.label, MAX_FACT_TITLE);
        let value = take(&f.value, MAX_FACT_VALUE);
        if title.is_empty() && value.is_empty() {
            break;
        }
        facts.push(json!({ "title": title, "value": value }));
    }
    let mut paragraphs = Vec::new();
    for paragraph in m.text.iter().filter(|t| !t.trim().is_empty()) {
        let text = take(paragraph, MAX_CARD_TEXT);
        if text.is_empty() {
            break;
        }
        paragraphs.push(json!({ "type": "TextBlock", "text": text, "wrap": true }));
    }

    let mut body = Vec::new();
    if title.is_some() || m.tone.is_some() {
        let mut items = Vec::new();
        if let Some(title) = title {
            items.push(json!({
                "type": "TextBlock",
                "text": title,
                "style": "heading",
                "size": "large",
                "weight": "bolder",
                "wrap": true,
            }));
        }
        if let Some(tone) = m.tone {
            // The colour alone says nothing to a screen reader.
            items.push(json!({
                "type": "TextBlock",
                "text": tone_label(tone),
                "size": "small",
                "weight": "bolder",
                "spacing": "none",
                "wrap": true,
            }));
        }
        let mut container = json!({ "type": "Container", "items": items, "bleed": true });
        if let Some(tone) = m.tone {
            container["style"] = json!(container_style(tone));
        }
        body.push(container);
    }
    body.extend(paragraphs);
    if !facts.is_empty() {
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }
    if let Some(context) = context {
        body.push(json!({
            "type": "TextBlock",
            "text": context,
            "size": "small",
            "isSubtle": true,
            "wrap": true,
        }));
    }
    let mut card = adaptive_card(body);
    card["msteams"] = json!({ "width": "Full" });
    let actions: Vec<Value> = m.buttons.iter().take(MAX_ACTIONS).map(action).collect();
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    card
}

/// A message's card as an activity attachment.
pub fn attachment(m: &Message) -> Value {
    card_attachment(card(m))
}

/// The body of an `adaptiveCard/action` invoke response that replaces the pressed card
/// with `m`'s card.
///
/// The Adaptive Cards docs spell the type `application/vnd.microsoft.adaptive.card`;
/// Microsoft's SDKs (teamsfx, agents-hosting-teams) send the attachment content type,
/// which is what this sends.
pub fn invoke_card_response(m: &Message) -> Value {
    json!({ "statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card(m) })
}

/// The body of an `adaptiveCard/action` invoke response that leaves the card as it is and
/// shows `text` to the person who pressed.
pub fn invoke_message_response(text: &str) -> Value {
    json!({ "statusCode": 200, "type": INVOKE_MESSAGE_TYPE, "value": text })
}

fn action(b: &Button) -> Value {
    let title = truncate(or_placeholder(&b.label, &b.action), MAX_ACTION_TITLE);
    if b.opens_form() {
        // Only a task/fetch submit makes Teams ask for the form (see dialog_launcher).
        return json!({
            "type": "Action.Submit",
            "title": title,
            "data": { "msteams": { "type": "task/fetch" }, "action": b.action, "value": b.value },
        });
    }
    let data = json!({ "action": b.action, "value": b.value });
    let mut execute = json!({
        "type": "Action.Execute",
        "title": title,
        "verb": b.action,
        "data": data,
    });
    let mut submit = json!({ "type": "Action.Submit", "title": title, "data": data });
    let style = match b.style {
        ButtonStyle::Primary => Some("positive"),
        ButtonStyle::Danger => Some("destructive"),
        ButtonStyle::Default => None,
    };
    if let Some(style) = style {
        execute["style"] = json!(style);
        submit["style"] = json!(style);
    }
    execute["fallback"] = submit;
    execute
}

/// The action and value of a button press, from the `value` of
///
/// - an `adaptiveCard/action` invoke: `{"action": {"type": "Action.Execute", "verb": …,
///   "data": {"value": …}}}` — the action is the `verb`;
/// - a message sent by an `Action.Submit` (the fallback of old clients): the `data` merged
///   into `value`, `{"action": …, "value": …}`;
/// - a `task/fetch` invoke from [`dialog_launcher`]: `{"data": {"action": …, "value": …}}`.
///
/// A missing `value` is empty. `None` when there is no action (another bot's card, a
/// `messageBack` of some other shape).
pub fn parse_action(value: &Value) -> Option<(String, String)> {
    if let Some(execute) = value.get("action").filter(|a| a.is_object()) {
        let verb = execute
            .get("verb")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())?;
        return Some((verb.to_owned(), data_value(&execute["data"])));
    }
    let data = value.get("data").filter(|d| d.is_object()).unwrap_or(value);
    let action = data
        .get("action")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())?;
    Some((action.to_owned(), data_value(data)))
}

fn data_value(data: &Value) -> String {
    match data.get("value") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A card that opens a dialog: Teams opens one only in answer to a `task/fetch` invoke,
/// and only an `Action.Submit` with `msteams.type: task/fetch` sends one. The press comes
/// back as `task/fetch` with `action` and `value` for [`parse_action`]; answer it with
/// [`task_module`]. Returns the attachment.
pub fn dialog_launcher(d: &Dialog, action: &str, value: &str) -> Value {
    let title = truncate(or_placeholder(&d.title, "Form"), MAX_DIALOG_TITLE);
    let mut card = adaptive_card(vec![json!({
        "type": "TextBlock",
        "text": title,
        "weight": "bolder",
        "wrap": true,
    })]);
    card["actions"] = json!([{
        "type": "Action.Submit",
        "title": "Open",
        "data": { "msteams": { "type": "task/fetch" }, "action": action, "value": value },
    }]);
    card_attachment(card)
}

/// The Adaptive Card form of a dialog: one input per field, `id` the field's name, and an
/// `Action.Submit` labelled with `submit_label` whose data names the dialog.
///
/// `Text` and `Paragraph` are `Input.Text` (multiline for `Paragraph`, `maxLength` unless
/// 0), `Select` and `MultiSelect` a compact `Input.ChoiceSet`. Required fields are
/// `isRequired` with an `errorMessage`, so Teams checks them before submitting.
pub fn dialog_card(d: &Dialog) -> Value {
    form(d, &BTreeMap::new(), &BTreeMap::new())
}

/// The body of the `task/fetch` invoke response that opens `d` as a dialog.
pub fn task_module(d: &Dialog) -> Value {
    continue_with(d, dialog_card(d))
}

/// The body of a `task/submit` invoke response that keeps the dialog open with what was
/// entered (`values`, by field name) and each field's error (`errors`, as in
/// `commands::Reply::field_errors`) under its input. Errors for names that are no field
/// are shown above the form.
pub fn dialog_with_errors(
    d: &Dialog,
    values: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> Value {
    continue_with(d, form(d, values, errors))
}

/// The body of a `task/submit` invoke response that closes the dialog and shows `text`.
pub fn task_message(text: &str) -> Value {
    json!({ "task": { "type": "message", "value": text } })
}

/// The id of the dialog a `task/submit` invoke's `value` submits.
pub fn dialog_id(value: &Value) -> Option<String> {
    submitted(value)
        .get(DIALOG_KEY)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The values of a submitted form by field name, from a `task/submit` invoke's `value`
/// (`{"data": {…}, "context": …}`) or from the `value` of a message an `Action.Submit`
/// sent (the inputs at the top level). A multi-select `Input.ChoiceSet` already gives its
/// values joined by commas. The dialog's own key and Teams' `msteams` are left out.
pub fn dialog_values(value: &Value) -> BTreeMap<String, String> {
    let Some(data) = submitted(value).as_object() else {
        return BTreeMap::new();
    };
    data.iter()
        .filter(|(k, _)| k.as_str() != DIALOG_KEY && k.as_str() != "msteams")
        .filter_map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null | Value::Object(_) => return None,
            };
            Some((k.clone(), v))
        })
        .collect()
}

/// Inputs are strings, so an object under `data` is the `task/submit` wrapper.
fn submitted(value: &Value) -> &Value {
    value.get("data").filter(|d| d.is_object()).unwrap_or(value)
}

fn continue_with(d: &Dialog, form: Value) -> Value {
    json!({
        "task": {
            "type": "continue",
            "value": {
                "title": truncate(or_placeholder(&d.title, "Form"), MAX_DIALOG_TITLE),
                "card": card_attachment(form),
            },
        },
    })
}

fn form(d: &Dialog, values: &BTreeMap<String, String>, errors: &BTreeMap<String, String>) -> Value {
    let names: HashSet<&str> = d.fields.iter().map(|f| f.name.as_str()).collect();
    let mut body: Vec<Value> = errors
        .iter()
        .filter(|(name, _)| !names.contains(name.as_str()))
        .map(|(_, message)| error_text(message))
        .collect();
    for f in &d.fields {
        let value = values
            .get(&f.name)
            .map(String::as_str)
            .or(f.initial.as_deref());
        body.push(input(f, value));
        if let Some(message) = errors.get(&f.name) {
            body.push(error_text(message));
        }
    }
    let mut card = adaptive_card(body);
    card["actions"] = json!([{
        "type": "Action.Submit",
        "title": or_placeholder(&d.submit_label, "Submit"),
        "style": "positive",
        "data": { DIALOG_KEY: d.id },
    }]);
    card
}

fn input(f: &DialogField, value: Option<&str>) -> Value {
    let label = truncate(or_placeholder(&f.label, &f.name), MAX_LABEL);
    let mut input = Map::new();
    input.insert("id".into(), json!(f.name));
    input.insert("label".into(), json!(label));
    input.insert("isRequired".into(), json!(f.required));
    if f.required {
        input.insert("errorMessage".into(), json!(format!("{label} is required")));
    }
    if let Some(p) = f.placeholder.as_deref().filter(|p| !p.is_empty()) {
        input.insert("placeholder".into(), json!(truncate(p, MAX_PLACEHOLDER)));
    }
    let value = value.filter(|v| !v.is_empty());
    match &f.kind {
        DialogFieldKind::Text { max_length } | DialogFieldKind::Paragraph { max_length } => {
            input.insert("type".into(), json!("Input.Text"));
            if matches!(f.kind, DialogFieldKind::Paragraph { .. }) {
                input.insert("isMultiline".into(), json!(true));
            }
            if *max_length > 0 {
                input.insert("maxLength".into(), json!(max_length));
            }
            if let Some(v) = value {
                let v = if *max_length > 0 {
                    truncate(v, *max_length)
                } else {
                    v.to_owned()
                };
                input.insert("value".into(), json!(v));
            }
        }
        DialogFieldKind::Select { options } | DialogFieldKind::MultiSelect { options } => {
            let multi = matches!(f.kind, DialogFieldKind::MultiSelect { .. });
            let choices: Vec<Value> = options
                .iter()
                .take(MAX_CHOICES)
                .map(|(value, title)| {
                    json!({
                        "title": truncate(or_placeholder(title, value), MAX_CHOICE_TITLE),
                        "value": value,
                    })
                })
                .collect();
            input.insert("type".into(), json!("Input.ChoiceSet"));
            input.insert("style".into(), json!("compact"));
            input.insert("isMultiSelect".into(), json!(multi));
            input.insert("choices".into(), Value::Array(choices));
            if let Some(v) = value {
                // A ChoiceSet's value is its selected values joined by commas, no spaces.
                let v = if multi {
                    v.split(',').map(str::trim).collect::<Vec<_>>().join(",")
                } else {
                    v.trim().to_owned()
                };
                input.insert("value".into(), json!(v));
            }
        }
    }
    Value::Object(input)
}

fn error_text(message: &str) -> Value {
    json!({
        "type": "TextBlock",
        "text": message,
        "color": "attention",
        "size": "small",
        "spacing": "none",
        "wrap": true,
    })
}

fn adaptive_card(body: Vec<Value>) -> Value {
    json!({
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": body,
    })
}

fn card_attachment(card: Value) -> Value {
    json!({ "contentType": CARD_CONTENT_TYPE, "content": card })
}

/// The container style of a tone: Adaptive Cards have five colours, not a palette.
fn container_style(tone: Tone) -> &'static str {
    match tone {
        Tone::Critical => "attention",
        Tone::Major | Tone::Minor => "warning",
        Tone::Info => "accent",
        Tone::Resolved => "good",
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

fn or_placeholder<'a>(text: &'a str, instead: &'a str) -> &'a str {
    if text.trim().is_empty() {
        instead
    } else {
        text
    }
}

/// At most `max` characters, ending in `…` when cut.
fn truncate(text: &str, max: usize) -> String {
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
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/teams/");
        let path = format!("{path}{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
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

    #[test]
    fn a_button_that_opens_a_form_asks_teams_for_a_task_module() {
        let b = button("statuspage_form", "0190", ButtonStyle::Default);
        assert!(b.opens_form());
        let rendered = action(&b);
        assert_eq!(rendered["type"], "Action.Submit");
        assert_eq!(rendered["data"]["msteams"]["type"], "task/fetch");
        // The task/fetch invoke carries the data back, and it parses as the press.
        let invoke = json!({ "data": rendered["data"].clone() });
        assert_eq!(
            parse_action(&invoke),
            Some(("statuspage_form".to_owned(), "0190".to_owned()))
        );
        let plain = action(&button("resolve", "0190", ButtonStyle::Danger));
        assert_eq!(plain["type"], "Action.Execute");
    }

    fn incident() -> Message {
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
                    value: "Alice".into(),
                },
            ],
            text: vec!["Payments **time out**.".into(), "Since 10:02.".into()],
            buttons: vec![
                button("ack", "7", ButtonStyle::Primary),
                button("resolve", "7", ButtonStyle::Danger),
                button("status", "7", ButtonStyle::Default),
            ],
            context: Some("Declared by alice in General".into()),
        }
    }

    #[test]
    fn a_card_has_a_coloured_title_paragraphs_facts_context_and_execute_buttons() {
        let card = card(&incident());
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.5");
        assert_eq!(card["$schema"], CARD_SCHEMA);
        let body = card["body"].as_array().expect("body");
        let kinds: Vec<&str> = body.iter().filter_map(|b| b["type"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Container",
                "TextBlock",
                "TextBlock",
                "FactSet",
                "TextBlock"
            ]
        );
        assert_eq!(body[0]["style"], "attention");
        assert_eq!(body[0]["items"][0]["text"], "INC-7 Checkout is failing");
        assert_eq!(body[0]["items"][0]["weight"], "bolder");
        assert_eq!(body[0]["items"][1]["text"], "Critical");
        assert_eq!(body[1]["text"], "Payments **time out**.");
        assert_eq!(body[1]["wrap"], true);
        assert_eq!(
            body[3]["facts"],
            json!([{"title": "Severity", "value": "sev1"},
                   {"title": "Commander", "value": "Alice"}])
        );
        assert_eq!(body[4]["text"], "Declared by alice in General");
        assert_eq!(body[4]["isSubtle"], true);
        assert_eq!(body[4]["size"], "small");

        let actions = card["actions"].as_array().expect("actions");
        assert_eq!(actions.len(), 3);
        assert_eq!(
            actions[1],
            json!({
                "type": "Action.Execute",
                "title": "RESOLVE",
                "verb": "resolve",
                "data": {"action": "resolve", "value": "7"},
                "style": "destructive",
                "fallback": {
                    "type": "Action.Submit",
                    "title": "RESOLVE",
                    "data": {"action": "resolve", "value": "7"},
                    "style": "destructive",
                },
            })
        );
        assert_eq!(actions[0]["style"], "positive");
        assert!(actions[2].get("style").is_none());

        let attachment = attachment(&incident());
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(attachment["content"], card);
    }

    #[test]
    fn tones_have_their_own_container_style() {
        let style = |tone| {
            let m = Message {
                tone: Some(tone),
                ..Message::text("x")
            };
            card(&m)["body"][0]["style"].clone()
        };
        assert_eq!(style(Tone::Critical), "attention");
        assert_eq!(style(Tone::Major), "warning");
        assert_eq!(style(Tone::Info), "accent");
        assert_eq!(style(Tone::Resolved), "good");
    }

    #[test]
    fn plain_text_is_one_text_block_and_no_actions() {
        let card = card(&Message::text("hello"));
        assert_eq!(
            card["body"],
            json!([{"type": "TextBlock", "text": "hello", "wrap": true}])
        );
        assert!(card.get("actions").is_none());
    }

    #[test]
    fn long_messages_stay_within_the_card_budget() {
        let mut m = incident();
        m.title = Some("t".repeat(300));
        m.text = vec!["d".repeat(5000), "e".repeat(5000)];
        m.fields = (0..30)
            .map(|i| Field {
                label: format!("f{i}"),
                value: "v".repeat(2000),
            })
            .collect();
        m.buttons = (0..10)
            .map(|i| button(&format!("run{i}"), "x", ButtonStyle::Default))
            .collect();
        let card = card(&m);
        let mut total = 0;
        let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        let body = card["body"].as_array().expect("body");
        assert_eq!(len(&body[0]["items"][0]["text"]), MAX_TITLE);
        for block in body {
            total += len(&block["text"]);
            for item in block["items"].as_array().into_iter().flatten() {
                total += len(&item["text"]);
            }
            for fact in block["facts"].as_array().into_iter().flatten() {
                assert!(len(&fact["value"]) <= MAX_FACT_VALUE);
                total += len(&fact["title"]) + len(&fact["value"]);
            }
        }
        assert!(total <= MAX_CARD_TEXT + "Critical".len(), "{total}");
        assert_eq!(card["actions"].as_array().map(Vec::len), Some(MAX_ACTIONS));
        let bytes = serde_json::to_vec(&card).expect("serialises").len();
        assert!(bytes < 28 * 1024, "{bytes} bytes");

        // A long paragraph is cut, the facts and the context are kept.
        let mut m = incident();
        m.text = vec!["d".repeat(20_000)];
        let card = super::card(&m);
        let body = card["body"].as_array().expect("body");
        assert_eq!(
            body[2]["facts"],
            super::card(&incident())["body"][3]["facts"]
        );
        assert_eq!(body[3]["text"], "Declared by alice in General");
        let cut = len(&body[1]["text"]);
        assert!(cut > 7000 && cut < MAX_CARD_TEXT, "{cut}");
        assert!(body[1]["text"].as_str().is_some_and(|t| t.ends_with('…')));
    }

    #[test]
    fn a_press_of_a_rendered_button_reads_back_as_its_action_and_value() {
        let card = card(&incident());
        for action in card["actions"].as_array().expect("actions") {
            // Teams' adaptiveCard/action invoke carries the action as pressed.
            let invoke = json!({
                "action": {
                    "type": "Action.Execute",
                    "id": "x",
                    "verb": action["verb"],
                    "data": action["data"],
                },
                "trigger": "manual",
            });
            // An old client's Action.Submit sends the data as the message's value.
            let submit = action["fallback"]["data"].clone();
            let expected = Some((
                action["verb"].as_str().expect("verb").to_owned(),
                "7".to_owned(),
            ));
            assert_eq!(parse_action(&invoke), expected);
            assert_eq!(parse_action(&submit), expected);
        }
    }

    #[test]
    fn the_published_action_shapes_parse() {
        let invoke = fixture("activities/completed-invoke-adaptiveCard-action.json");
        assert_eq!(invoke["name"], "adaptiveCard/action");
        assert_eq!(
            parse_action(&invoke["value"]),
            Some(("personalDetailsFormSubmit".into(), String::new()))
        );
        let submit = fixture("activities/completed-message-adaptivecard-action-submit-value.json");
        assert_eq!(
            parse_action(&submit["value"]),
            Some(("personalDetailsFormSubmit".into(), String::new()))
        );
        // Values of other shapes are not presses of ours.
        let card_action = fixture("activities/msteams-docs-invoke-cardaction.json");
        assert_eq!(parse_action(&card_action["value"]), None);
        let message_back =
            fixture("activities/msteams-docs-message-cardaction-messageBack-value.json");
        assert_eq!(parse_action(&message_back["value"]), None);
        let fetch = fixture("activities/completed-invoke-task-fetch.json");
        assert_eq!(parse_action(&fetch["value"]), None);
        assert_eq!(
            parse_action(&json!({"action": {"type": "Action.Execute", "verb": ""}})),
            None
        );
    }

    #[test]
    fn a_dialog_launcher_comes_back_as_a_task_fetch_with_its_action() {
        let launcher = dialog_launcher(&dialog(), "dialog", "declare");
        assert_eq!(launcher["contentType"], CARD_CONTENT_TYPE);
        let submit = &launcher["content"]["actions"][0];
        assert_eq!(submit["type"], "Action.Submit");
        assert_eq!(submit["data"]["msteams"]["type"], "task/fetch");
        // The task/fetch invoke's value wraps the button's data as the fixture's does.
        let mut fetch = fixture("activities/completed-invoke-task-fetch.json");
        fetch["value"]["data"] = submit["data"].clone();
        assert_eq!(
            parse_action(&fetch["value"]),
            Some(("dialog".into(), "declare".into()))
        );
    }

    #[test]
    fn invoke_responses_carry_a_card_or_a_message() {
        let response = invoke_card_response(&incident());
        assert_eq!(response["statusCode"], 200);
        assert_eq!(response["type"], CARD_CONTENT_TYPE);
        assert_eq!(response["value"], card(&incident()));
        assert_eq!(
            invoke_message_response("Acknowledged"),
            json!({"statusCode": 200,
                   "type": "application/vnd.microsoft.activity.message",
                   "value": "Acknowledged"})
        );
    }

    fn dialog() -> Dialog {
        let options = vec![
            ("sev1".to_owned(), "SEV1".to_owned()),
            ("sev2".to_owned(), "SEV2".to_owned()),
        ];
        let services = vec![
            ("checkout".to_owned(), "Checkout".to_owned()),
            ("payments".to_owned(), "Payments".to_owned()),
        ];
        let text = |name: &str, kind| DialogField {
            name: name.into(),
            label: name.to_uppercase(),
            kind,
            required: true,
            initial: None,
            placeholder: None,
        };
        Dialog {
            id: "declare".into(),
            title: "Declare an incident".into(),
            submit_label: "Declare".into(),
            fields: vec![
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
                DialogField {
                    required: false,
                    initial: Some("checkout, payments".into()),
                    ..text(
                        "services",
                        DialogFieldKind::MultiSelect { options: services },
                    )
                },
            ],
        }
    }

    #[test]
    fn a_dialog_is_a_form_with_one_input_per_field() {
        let card = dialog_card(&dialog());
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.5");
        let body = card["body"].as_array().expect("body");
        let ids: Vec<&str> = body.iter().filter_map(|i| i["id"].as_str()).collect();
        assert_eq!(ids, ["title", "notes", "severity", "services"]);
        assert_eq!(
            body[0],
            json!({"type": "Input.Text", "id": "title", "label": "TITLE",
                   "isRequired": true, "errorMessage": "TITLE is required",
                   "placeholder": "What broke?", "maxLength": 100, "value": "Checkout"})
        );
        assert_eq!(body[1]["isMultiline"], true);
        assert_eq!(body[1]["isRequired"], false);
        assert!(body[1].get("errorMessage").is_none());
        assert!(body[1].get("maxLength").is_none());
        assert_eq!(body[2]["type"], "Input.ChoiceSet");
        assert_eq!(body[2]["isMultiSelect"], false);
        assert_eq!(body[2]["value"], "sev2");
        assert_eq!(
            body[2]["choices"][0],
            json!({"title": "SEV1", "value": "sev1"})
        );
        assert_eq!(body[3]["isMultiSelect"], true);
        assert_eq!(body[3]["value"], "checkout,payments");
        assert_eq!(
            card["actions"],
            json!([{"type": "Action.Submit", "title": "Declare", "style": "positive",
                    "data": {"tocsin_dialog": "declare"}}])
        );

        let module = task_module(&dialog());
        assert_eq!(module["task"]["type"], "continue");
        assert_eq!(module["task"]["value"]["title"], "Declare an incident");
        assert_eq!(
            module["task"]["value"]["card"],
            json!({"contentType": CARD_CONTENT_TYPE, "content": card})
        );
    }

    #[test]
    fn submitted_values_come_back_by_field_name() {
        // What Teams sends for our form: the inputs by id merged with the submit's data.
        let card = dialog_card(&dialog());
        let mut data = card["actions"][0]["data"].clone();
        data["title"] = json!("Checkout down");
        data["notes"] = json!("");
        data["severity"] = json!("sev1");
        data["services"] = json!("checkout,payments");
        let task_submit = json!({"data": data, "context": {"theme": "default"}});
        assert_eq!(dialog_id(&task_submit).as_deref(), Some("declare"));
        let values = dialog_values(&task_submit);
        assert_eq!(
            values,
            BTreeMap::from([
                ("notes".to_owned(), String::new()),
                ("services".to_owned(), "checkout,payments".to_owned()),
                ("severity".to_owned(), "sev1".to_owned()),
                ("title".to_owned(), "Checkout down".to_owned()),
            ])
        );

        // The published Action.Submit shape: inputs at the top of the message's value.
        let submit = fixture("activities/completed-message-adaptivecard-action-submit-value.json");
        let values = dialog_values(&submit["value"]);
        assert_eq!(values["firstName"], "John");
        assert_eq!(values["lastName"], "Doe");
        assert_eq!(dialog_id(&submit["value"]), None);
        // And the task/fetch fixture's wrapper.
        let fetch = fixture("activities/completed-invoke-task-fetch.json");
        assert_eq!(dialog_values(&fetch["value"])["key"], "value");
    }

    #[test]
    fn a_form_with_errors_keeps_the_values_and_shows_each_error_under_its_input() {
        let values = BTreeMap::from([
            ("title".to_owned(), "x".to_owned()),
            ("severity".to_owned(), "sev1".to_owned()),
        ]);
        let errors = BTreeMap::from([
            ("title".to_owned(), "Too short".to_owned()),
            ("elsewhere".to_owned(), "No such service".to_owned()),
        ]);
        let response = dialog_with_errors(&dialog(), &values, &errors);
        assert_eq!(response["task"]["type"], "continue");
        let body = response["task"]["value"]["card"]["content"]["body"]
            .as_array()
            .expect("body");
        assert_eq!(body[0]["text"], "No such service");
        assert_eq!(body[0]["color"], "attention");
        assert_eq!(body[1]["id"], "title");
        assert_eq!(body[1]["value"], "x");
        assert_eq!(body[2]["text"], "Too short");
        assert_eq!(body[2]["color"], "attention");
        assert_eq!(body[3]["id"], "notes");
        assert_eq!(body[4]["value"], "sev1");
        assert_eq!(
            task_message("Declared INC-8"),
            json!({"task": {"type": "message", "value": "Declared INC-8"}})
        );
    }
}
