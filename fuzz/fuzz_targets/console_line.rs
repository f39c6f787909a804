//! What a person types at `tocsin console`, followed into the chat grammar for commands.
#![no_main]

use adapters::console::{Line, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Line::Slash { command, text } = parse(text) {
        let invocation = commands::Invocation::slash("console", "fuzz", "fuzz", &command, &text);
        tocsin_fuzz::follow(&invocation);
    }
});
