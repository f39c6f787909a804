//! The chat grammar: the text after `/incident` and `/oncall` as any platform delivers it,
//! the incident reference at the start of arguments, and dialog submissions
//! (`dialog-id NUL name=value lines`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((dialog, rest)) = tocsin_fuzz::split_nul(data) {
        if let Ok(text) = std::str::from_utf8(rest) {
            let _ = commands::fuzzing::dialog_submit(dialog, &tocsin_fuzz::fields(text));
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = commands::fuzzing::parse_incident(text);
    let _ = commands::fuzzing::parse_oncall(text);
    let (_, rest) = commands::fuzzing::incident_ref(text);
    assert!(text.contains(rest), "the rest is a part of the arguments");
});
