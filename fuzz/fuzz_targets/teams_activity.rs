//! Teams activities (`/teams/messages`): the envelope read before the token check, then
//! the activity in both channel modes, followed into the chat grammar.
#![no_main]

use adapters::teams::connector::ChannelMode;
use adapters::teams::inbound::{self, Activity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inbound::envelope(data);
    for mode in [ChannelMode::Channel, ChannelMode::Thread] {
        if let Ok(Activity::Request(request)) = inbound::activity(data, mode) {
            tocsin_fuzz::follow(&request.invocation);
        }
    }
});
