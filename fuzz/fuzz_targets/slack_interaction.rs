//! Slack interactions: the `payload=` form of `/slack/interactions`, and the payload JSON
//! itself (Socket Mode).
#![no_main]

use adapters::slack::inbound;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inbound::interaction(data);
    if let Ok(value) = serde_json::from_slice(data) {
        let _ = inbound::interaction_json(value);
    }
});
