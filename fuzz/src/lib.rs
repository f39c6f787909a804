//! What the fuzz targets share: following a parsed invocation on into the chat grammar, as
//! `commands::handle` would, so that one input covers the path from the platform's bytes to
//! a typed command; and the fixed inputs some targets need besides the fuzzer's bytes.

use std::collections::BTreeMap;

use commands::{Input, Invocation};

/// Parses what `invocation` carries the way the commands crate would before running it.
pub fn follow(invocation: &Invocation) {
    match &invocation.input {
        Input::Slash { command, text } => match command.as_str() {
            "incident" => {
                let _ = commands::fuzzing::parse_incident(text);
            }
            "oncall" => {
                let _ = commands::fuzzing::parse_oncall(text);
            }
            _ => {}
        },
        Input::DialogSubmit { dialog, fields } => {
            let _ = commands::fuzzing::dialog_submit(dialog, fields);
        }
        Input::Button { .. } | Input::Pin { .. } | Input::Said { .. } => {}
    }
}

/// Splits `data` at its first NUL: the part before (as UTF-8) and the rest. `None` without
/// a NUL or when the first part is not UTF-8. Targets with two inputs read them this way.
pub fn split_nul(data: &[u8]) -> Option<(&str, &[u8])> {
    let at = data.iter().position(|&b| b == 0)?;
    let head = std::str::from_utf8(&data[..at]).ok()?;
    Some((head, &data[at + 1..]))
}

/// Dialog fields from `name=value` lines, for the dialog part of the grammar target.
pub fn fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
