//! GitHub webhook deliveries (`/github/webhook`): `event-name NUL body` (the
//! `X-GitHub-Event` header and the body), or a body alone delivered as each event the
//! parser tells apart.
#![no_main]

use adapters::tickets::webhook::parse_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((event, body)) = tocsin_fuzz::split_nul(data) {
        let _ = parse_event(event, body);
        return;
    }
    for event in ["issues", "ping", "push"] {
        let _ = parse_event(event, data);
    }
});
