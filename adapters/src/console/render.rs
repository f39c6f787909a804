//! `Message` -> lines of text for a terminal. Buttons become numbered choices the person
//! types back.

use bot_core::chat::{ButtonStyle, Message, Tone};

fn tone_tag(tone: Tone) -> &'static str {
    match tone {
        Tone::Critical => "[CRITICAL]",
        Tone::Major => "[MAJOR]",
        Tone::Minor => "[MINOR]",
        Tone::Info => "[INFO]",
        Tone::Resolved => "[RESOLVED]",
    }
}

/// Renders a message; `first_choice` is the number of its first button.
pub fn render(message: &Message, first_choice: usize) -> String {
    let mut lines = Vec::new();
    if let Some(title) = &message.title {
        match message.tone {
            Some(tone) => lines.push(format!("{} {title}", tone_tag(tone))),
            None => lines.push(title.clone()),
        }
    }
    if !message.fields.is_empty() {
        let width = message
            .fields
            .iter()
            .map(|f| f.label.chars().count())
            .max()
            .unwrap_or(0);
        for f in &message.fields {
            lines.push(format!("  {:width$}  {}", f.label, f.value));
        }
    }
    for text in &message.text {
        lines.extend(text.lines().map(|l| {
            if message.title.is_some() {
                format!("  {l}")
            } else {
                l.to_owned()
            }
        }));
    }
    if !message.buttons.is_empty() {
        let choices: Vec<String> = message
            .buttons
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mark = if b.style == ButtonStyle::Danger {
                    "!"
                } else {
                    ""
                };
                format!("[{}] {}{mark}", first_choice + i, b.label)
            })
            .collect();
        lines.push(format!("  {}", choices.join("   ")));
    }
    if let Some(context) = &message.context {
        lines.push(format!("  -- {context}"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::chat::{Button, Field};

    #[test]
    fn a_card_shows_tone_fields_text_numbered_buttons_and_context() {
        let message = Message {
            title: Some("INC-3 Checkout slow".into()),
            tone: Some(Tone::Major),
            fields: vec![
                Field {
                    label: "Severity".into(),
                    value: "sev2".into(),
                },
                Field {
                    label: "Commander".into(),
                    value: "alice".into(),
                },
            ],
            text: vec!["Declared.".into()],
            buttons: vec![
                Button {
                    action: "status".into(),
                    value: "x".into(),
                    label: "Show status".into(),
                    style: ButtonStyle::Default,
                },
                Button {
                    action: "resolve".into(),
                    value: "x".into(),
                    label: "Resolve".into(),
                    style: ButtonStyle::Danger,
                },
            ],
            context: Some("Declared by user:alice".into()),
        };
        assert_eq!(
            render(&message, 4),
            "[MAJOR] INC-3 Checkout slow\n  Severity   sev2\n  Commander  alice\n  Declared.\n  [4] Show status   [5] Resolve!\n  -- Declared by user:alice"
        );
    }

    #[test]
    fn plain_text_is_printed_as_is() {
        assert_eq!(
            render(&Message::text("line one\nline two"), 1),
            "line one\nline two"
        );
    }
}
