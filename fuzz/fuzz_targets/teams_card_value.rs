//! Adaptive Card action values as Teams sends them back (`value` of a message or invoke):
//! the action, the dialog id and the submitted fields.
#![no_main]

use adapters::teams::render::{dialog_id, dialog_values, parse_action};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = parse_action(&value);
    let values = dialog_values(&value);
    if let Some(dialog) = dialog_id(&value) {
        let _ = commands::fuzzing::dialog_submit(&dialog, &values);
    }
});
