//! Dialogs at the console: each field is a prompt answered on the next line. An empty
//! answer takes the field's initial value; `/cancel` abandons the dialog.

use std::collections::BTreeMap;

use bot_core::chat::{Dialog, DialogFieldKind};
use tokio::io::{AsyncBufRead, Lines};

use super::Console;

/// Asks every field of `dialog`; None when cancelled or the input ended.
pub async fn ask<R: AsyncBufRead + Unpin>(
    console: &Console,
    dialog: &Dialog,
    lines: &mut Lines<R>,
) -> std::io::Result<Option<BTreeMap<String, String>>> {
    console.print(
        None,
        &format!(
            "{} (Enter keeps the value in brackets; /cancel stops)",
            dialog.title
        ),
    );
    let mut fields = BTreeMap::new();
    for field in &dialog.fields {
        let choices = match &field.kind {
            DialogFieldKind::Select { options } => format!(
                " ({})",
                options
                    .iter()
                    .map(|(v, _)| v.as_str())
                    .collect::<Vec<_>>()
                    .join("|")
            ),
            DialogFieldKind::MultiSelect { options } => format!(
                " (any of {}, comma-separated)",
                options
                    .iter()
                    .map(|(v, _)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        };
        let initial = field
            .initial
            .as_deref()
            .map(|i| format!(" [{i}]"))
            .unwrap_or_default();
        let required = if field.required { "" } else { " (optional)" };
        console.print(
            None,
            &format!("{}{choices}{required}{initial}:", field.label),
        );
        let Some(answer) = lines.next_line().await? else {
            return Ok(None);
        };
        let answer = answer.trim();
        if answer == "/cancel" {
            return Ok(None);
        }
        let value = match (answer, &field.initial) {
            ("", Some(initial)) => initial.clone(),
            (answer, _) => answer.to_owned(),
        };
        fields.insert(field.name.clone(), value);
    }
    Ok(Some(fields))
}
