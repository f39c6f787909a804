//! Twilio webhook form bodies (SMS replies, digits pressed in a page call), and the TwiML
//! answers built from what they carry: text from outside never adds an element.
#![no_main]

use adapters::twilio::inbound::{parse_form, say_twiml, sms_reply, sms_twiml, voice_digits};
use libfuzzer_sys::fuzz_target;

fn elements(twiml: &str) -> usize {
    twiml.matches('<').count()
}

fuzz_target!(|data: &[u8]| {
    let Ok(pairs) = parse_form(data) else {
        return;
    };
    let (say, sms) = (elements(&say_twiml("")), elements(&sms_twiml("")));
    for (name, value) in &pairs {
        match name.as_str() {
            "Body" => {
                let _ = sms_reply(value);
            }
            "Digits" => {
                let _ = voice_digits(value);
            }
            _ => {}
        }
        assert_eq!(
            elements(&say_twiml(value)),
            say,
            "text became TwiML: {value:?}"
        );
        assert_eq!(
            elements(&sms_twiml(value)),
            sms,
            "text became TwiML: {value:?}"
        );
    }
});
