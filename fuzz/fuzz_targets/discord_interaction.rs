//! Discord interaction bodies (`/discord/interactions`), followed into the chat grammar.
#![no_main]

use adapters::discord::inbound::{self, Interaction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Interaction::Request(request)) = inbound::interaction(data) {
        tocsin_fuzz::follow(&request.invocation);
    }
});
