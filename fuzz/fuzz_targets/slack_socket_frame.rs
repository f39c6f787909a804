//! Slack Socket Mode text frames, and an envelope's payload read as the socket loop reads it
//! (`src/slack_socket.rs`: by the envelope's type).
#![no_main]

use adapters::slack::inbound;
use adapters::slack::socket::{Incoming, ack, parse_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(Incoming::Envelope(envelope)) = parse_frame(text) else {
        return;
    };
    let _ = ack(&envelope.envelope_id, Some(envelope.payload.clone()));
    match envelope.kind.as_str() {
        "slash_commands" => {
            if let Ok(command) = inbound::slash_command_json(envelope.payload) {
                tocsin_fuzz::follow(&command.invocation);
            }
        }
        "interactive" => {
            let _ = inbound::interaction_json(envelope.payload);
        }
        "events_api" => {
            let _ = inbound::event_json(envelope.payload);
        }
        _ => {}
    }
});
