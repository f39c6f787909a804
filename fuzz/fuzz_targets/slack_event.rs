//! Slack Events API bodies (`/slack/events`), and the same JSON as Socket Mode delivers it.
#![no_main]

use adapters::slack::inbound;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inbound::event(data);
    if let Ok(value) = serde_json::from_slice(data) {
        let _ = inbound::event_json(value);
    }
});
