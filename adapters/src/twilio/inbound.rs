//! What Twilio sends Tocsin (form-encoded webhooks: an SMS reply, the digits pressed during
//! a page call) and the TwiML Tocsin answers with. Pure functions, no HTTP framework: the
//! route handlers verify the signature (`verify.rs`), call these, and send the string back
//! as `text/xml`.
//!
//! Every piece of text that ends up in TwiML passes through [`xml_escape`]: an alert
//! summary comes from a monitoring tool, and `<`/`&` in it must neither break the document
//! nor inject verbs (a `<Dial>` smuggled into a page call would be a toll-fraud hole).

/// Parses an `application/x-www-form-urlencoded` body into its pairs, in order, repeated
/// names kept (the signature covers all of them). Uses `serde_urlencoded`, as axum's `Form`
/// does, so the webhook routes decode exactly like the rest of Tocsin's forms.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    // Twilio percent-encodes everything; raw non-UTF-8 bytes mean it was not Twilio.
    std::str::from_utf8(body).map_err(|e| format!("form body is not UTF-8: {e}"))?;
    serde_urlencoded::from_bytes(body).map_err(|e| format!("malformed form body: {e}"))
}

/// What a person answered to a page, by SMS or with the phone's keypad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Acknowledge,
    Escalate,
    /// Anything else, trimmed, so the answer can quote it back ("`yes` is not a reply…").
    Unknown(String),
}

/// Reads an SMS reply. Phones autocorrect and capitalise ("Ack.", "ESC!"), so case and
/// trailing punctuation are ignored; anything that is not clearly 1/ack or 2/escalate is
/// `Unknown`, because acting on a guess would silence or wake the wrong people.
pub fn sms_reply(body: &str) -> Reply {
    let trimmed = body.trim();
    let word = trimmed
        .trim_end_matches(['.', '!'])
        .trim_end()
        .to_lowercase();
    match word.as_str() {
        "1" | "ack" | "acknowledge" => Reply::Acknowledge,
        "2" | "esc" | "escalate" => Reply::Escalate,
        _ => Reply::Unknown(trimmed.to_owned()),
    }
}

/// Reads the `Digits` a `<Gather>` collected: `1` acknowledges, `2` escalates.
pub fn voice_digits(digits: &str) -> Reply {
    match digits.trim() {
        "1" => Reply::Acknowledge,
        "2" => Reply::Escalate,
        other => Reply::Unknown(other.to_owned()),
    }
}

/// The page call: read the alert, collect one key, POST it to `gather_action_url`. If the
/// person presses nothing, `<Gather>` falls through to the goodbye and the escalation
/// carries on as for any unanswered page.
pub fn voice_page_twiml(alert_summary: &str, gather_action_url: &str) -> String {
    // "Disk full." would otherwise be read as "Disk full.. Press 1".
    let summary = alert_summary.trim().trim_end_matches(['.', '!', '?']);
    format!(
        "<Response><Gather numDigits=\"1\" action=\"{}\" method=\"POST\"><Say>Tocsin alert: {}. \
         Press 1 to acknowledge, 2 to escalate.</Say></Gather><Say>No input received. \
         Goodbye.</Say></Response>",
        xml_escape(gather_action_url),
        xml_escape(summary),
    )
}

/// Says `text` and hangs up (the answer to a gathered key: "Acknowledged. Thank you.").
pub fn say_twiml(text: &str) -> String {
    format!("<Response><Say>{}</Say></Response>", xml_escape(text))
}

/// Answers an incoming SMS with one SMS.
pub fn sms_twiml(text: &str) -> String {
    format!(
        "<Response><Message>{}</Message></Response>",
        xml_escape(text)
    )
}

/// How long each on-call number rings before the hotline tries the next one. Below the
/// usual 25-30 s after which carriers hand the call to voicemail, which would otherwise
/// "answer" and stop the hunt.
const HOTLINE_RING_SECONDS: u32 = 20;

/// The hotline: says `say_first`, then rings `numbers` one after another until someone
/// answers.
///
/// One `<Dial>` with several `<Number>`s would ring them all at once (first to answer wins);
/// escalation is about order, so each number gets its own `<Dial>`. Without an `action`
/// URL, Twilio moves on to the next verb when a `<Dial>` ends unanswered (TwiML `<Dial>`
/// docs). The catch: it also moves on after a connected call if the callee hangs up first
/// while the caller is still on the line; callers normally hang up themselves, and ringing
/// the next person is the safe failure.
pub fn dial_twiml(numbers: &[String], say_first: &str) -> String {
    let mut twiml = String::from("<Response>");
    if !say_first.trim().is_empty() {
        twiml.push_str(&format!("<Say>{}</Say>", xml_escape(say_first)));
    }
    for number in numbers {
        twiml.push_str(&format!(
            "<Dial timeout=\"{HOTLINE_RING_SECONDS}\"><Number>{}</Number></Dial>",
            xml_escape(number)
        ));
    }
    let goodbye = if numbers.is_empty() {
        "Nobody is on call right now. Goodbye."
    } else {
        "Nobody else on call could be reached. Goodbye."
    };
    twiml.push_str(&format!("<Say>{goodbye}</Say></Response>"));
    twiml
}

/// Escapes text for XML element content and attribute values alike. Characters XML 1.0
/// forbids altogether (most C0 controls, U+FFFE/U+FFFF) become spaces: escaping cannot
/// make them legal, and Twilio rejects a document that contains them.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_forbidden_controls() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{0}\u{7}\td"),
            "a&lt;b&gt;&amp;&quot;c&apos;  \td"
        );
    }

    #[test]
    fn form_keeps_order_and_repeated_names() {
        let pairs = parse_form(b"Body=Ack+it%21&From=%2B14155550100&Body=2").unwrap();
        assert_eq!(
            pairs,
            [
                ("Body".to_owned(), "Ack it!".to_owned()),
                ("From".to_owned(), "+14155550100".to_owned()),
                ("Body".to_owned(), "2".to_owned()),
            ]
        );
    }

    #[test]
    fn raw_non_utf8_form_is_an_error() {
        assert!(parse_form(b"Body=\xff").is_err());
    }

    #[test]
    fn digits_other_than_1_and_2_are_unknown() {
        assert_eq!(voice_digits("1"), Reply::Acknowledge);
        assert_eq!(voice_digits(" 2 "), Reply::Escalate);
        assert_eq!(voice_digits("#"), Reply::Unknown("#".into()));
        assert_eq!(voice_digits(""), Reply::Unknown(String::new()));
    }

    #[test]
    fn hotline_dials_each_number_in_its_own_dial() {
        let twiml = dial_twiml(&["+15550001".into(), "+15550002".into()], "Connecting you.");
        assert_eq!(
            twiml,
            "<Response><Say>Connecting you.</Say>\
             <Dial timeout=\"20\"><Number>+15550001</Number></Dial>\
             <Dial timeout=\"20\"><Number>+15550002</Number></Dial>\
             <Say>Nobody else on call could be reached. Goodbye.</Say></Response>"
        );
    }
}
