//! SMS and voice pages through a Twilio-compatible API, and what comes back from them: an
//! SMS reply or a key pressed during the call ("1" acknowledges, "2" escalates).
//!
//! - `client.rs`: the `Notifier` port over Twilio's REST API (`sms` and `voice` channels).
//! - `verify.rs`: `X-Twilio-Signature` validation, done before any inbound webhook is read.
//! - `inbound.rs`: form bodies -> replies, and the TwiML Tocsin answers Twilio with.
//!
//! This module knows Twilio's wire format and nothing of HTTP routing: the binary mounts
//! the webhook routes ([`VOICE_GATHER_PATH`], and the SMS webhook configured on the Twilio
//! number), verifies them with [`verify::verify`] and hands the parsed reply to the core.

mod client;
pub mod inbound;
pub mod verify;

pub use client::{
    API_URL_ENV, DEFAULT_API_URL, SMS_MAX_CHARS, TwilioClient, TwilioSettings, TwilioSetupError,
    TwilioSms, TwilioVoice, VOICE_GATHER_PATH, gather_action_url, sms_body,
};
pub use inbound::{
    Reply, dial_twiml, parse_form, say_twiml, sms_reply, sms_twiml, voice_digits, voice_page_twiml,
};
pub use verify::{SIGNATURE_HEADER, expected_signature};
