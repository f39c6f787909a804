//! Slack slash commands: the form body of `/slack/commands`, and the same fields as JSON
//! (Socket Mode), followed into the chat grammar.
#![no_main]

use adapters::slack::inbound;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = inbound::slash_command(data) {
        tocsin_fuzz::follow(&command.invocation);
    }
    if let Ok(value) = serde_json::from_slice(data)
        && let Ok(command) = inbound::slash_command_json(value)
    {
        tocsin_fuzz::follow(&command.invocation);
    }
});
