//! Discord component `custom_id`s (`action:value`): any text parses without panicking, and
//! an id Tocsin made reads back as what went in, as long as it was not cut to 100 chars.
#![no_main]

use adapters::discord::render::{custom_id, parse_custom_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_custom_id(text);
    let (action, value) = text.split_once('\n').unwrap_or((text, ""));
    let id = custom_id(action, value);
    assert!(
        id.chars().count() <= 100,
        "custom_id longer than Discord allows"
    );
    if !action.is_empty()
        && !action.contains(':')
        && action.chars().count() + value.chars().count() < 100
    {
        assert_eq!(
            parse_custom_id(&id),
            Some((action.to_owned(), value.to_owned()))
        );
    }
});
