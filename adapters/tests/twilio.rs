//! The Twilio adapter against a stub Twilio on loopback: what a page sends (method, path
//! with the account SID, basic auth, form fields), how Twilio's answers are sorted for the
//! job runner, webhook signature validation with Twilio's documented example, reading
//! replies, and TwiML that stays well-formed whatever an alert summary contains.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::twilio::{
    self, Reply, TwilioClient, TwilioSettings, TwilioSms, TwilioVoice, expected_signature,
    sms_reply, verify,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bot_core::model::{Alert, AlertId, AlertSeverity, AlertStatus, Role, Urgency, User, UserId};
use bot_core::notify::{Notifier, NotifyError, Page};
use chrono::{DateTime, Utc};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "test-auth-token";
const FROM: &str = "+14155550100";
const TO: &str = "+14155550199";
const PUBLIC: &str = "https://tocsin.example.com";

/// One request the stub received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    form: BTreeMap<String, String>,
}

/// What the stub answers every request with.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: String,
}

#[derive(Clone)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Answer,
}

async fn record(
    State(stub): State<Stub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    stub.seen.lock().unwrap().push(Seen {
        method,
        path: uri.path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        form: form.into_iter().collect(),
    });
    let mut response = (stub.answer.status, stub.answer.body.clone()).into_response();
    response.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("static header value"),
    );
    for (name, value) in &stub.answer.headers {
        response
            .headers_mut()
            .insert(*name, value.parse().expect("test header value"));
    }
    response
}

/// A stub Twilio answering `answer` to everything; returns its address and what it saw.
async fn stub_twilio(answer: Answer) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().fallback(record).with_state(Stub {
        seen: seen.clone(),
        answer,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn created(sid: &str) -> Answer {
    // Trimmed from the Message/Call resource Twilio returns on create.
    Answer {
        status: StatusCode::CREATED,
        headers: vec![],
        body: format!(r#"{{"sid":"{sid}","account_sid":"{SID}","status":"queued"}}"#),
    }
}

fn settings(api_url: String) -> TwilioSettings {
    TwilioSettings {
        account_sid: SID.into(),
        auth_token: TOKEN.into(),
        from: FROM.into(),
        api_url,
        public_url: PUBLIC.into(),
    }
}

fn client(addr: SocketAddr) -> TwilioClient {
    TwilioClient::new(settings(format!("http://{addr}"))).unwrap()
}

fn page(summary: &str) -> Page {
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T03:00:00Z")
        .unwrap()
        .to_utc();
    Page {
        alert: Alert {
            id: AlertId::new(),
            service: "checkout".into(),
            source: "alertmanager".into(),
            dedup_key: "disk-full".into(),
            severity: AlertSeverity::Critical,
            urgency: Urgency::High,
            summary: summary.into(),
            details: serde_json::json!({}),
            labels: BTreeMap::new(),
            links: vec![],
            status: AlertStatus::Open,
            event_count: 1,
            created_at: at,
            last_seen_at: at,
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_by: None,
            resolved_at: None,
        },
        user: User {
            id: UserId::from("alice"),
            name: "Alice".into(),
            email: None,
            time_zone: "Europe/Berlin".into(),
            phone: Some(TO.into()),
            role: Role::Responder,
            chat: BTreeMap::new(),
        },
        to: TO.into(),
        level: 1,
        attempt: 2,
        ack_url: None,
        idempotency_key: "job-1".into(),
    }
}

fn only_request(seen: &Mutex<Vec<Seen>>) -> Seen {
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "expected exactly one request: {seen:?}");
    seen[0].clone()
}

fn assert_twilio_create(seen: &Seen, resource: &str) {
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, format!("/2010-04-01/Accounts/{SID}/{resource}"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert_eq!(
        seen.authorization.as_deref(),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.form.get("To").map(String::as_str), Some(TO));
    assert_eq!(seen.form.get("From").map(String::as_str), Some(FROM));
}

#[tokio::test]
async fn sms_page_posts_a_message_with_basic_auth_and_reply_instructions() {
    let (addr, seen) = stub_twilio(created("SM0123456789abcdef0123456789abcdef")).await;
    let sms = TwilioSms::new(client(addr));
    assert_eq!(sms.channel(), "sms");

    let delivery = sms.deliver(&page("Disk full on db-1")).await.unwrap();

    assert_eq!(
        delivery.provider_id.as_deref(),
        Some("SM0123456789abcdef0123456789abcdef")
    );
    let req = only_request(&seen);
    assert_twilio_create(&req, "Messages.json");
    assert_eq!(
        req.form.get("Body").map(String::as_str),
        Some(
            "[CRITICAL] checkout: Disk full on db-1 (level 1, attempt 2). \
             Reply 1 to acknowledge, 2 to escalate."
        )
    );
    assert_eq!(req.form.len(), 3, "only To, From, Body: {:?}", req.form);
}

#[tokio::test]
async fn sms_carries_the_acknowledge_link_when_tocsin_has_a_public_url() {
    let (addr, seen) = stub_twilio(created("SM1")).await;
    let mut p = page("Disk full");
    p.ack_url = Some(format!("{PUBLIC}/api/v1/alerts/{}/ack", p.alert.id));

    TwilioSms::new(client(addr)).deliver(&p).await.unwrap();

    let body = only_request(&seen).form["Body"].clone();
    assert!(
        body.ends_with(&format!(
            " Acknowledge: {PUBLIC}/api/v1/alerts/{}/ack",
            p.alert.id
        )),
        "{body}"
    );
}

#[test]
fn a_huge_summary_is_cut_but_the_reply_instructions_survive() {
    let body = twilio::sms_body(&page(&"🔥 disk full ".repeat(400)));
    assert!(body.encode_utf16().count() <= twilio::SMS_MAX_CHARS);
    assert!(body.starts_with("[CRITICAL] checkout: 🔥 disk full"));
    assert!(
        body.ends_with("… (level 1, attempt 2). Reply 1 to acknowledge, 2 to escalate."),
        "{body}"
    );
}

#[tokio::test]
async fn voice_page_creates_a_call_whose_inline_twiml_gathers_one_key() {
    let (addr, seen) = stub_twilio(created("CA0123456789abcdef0123456789abcdef")).await;
    let voice = TwilioVoice::new(client(addr)).unwrap();
    assert_eq!(voice.channel(), "voice");
    let p = page("Disk full on db-1.");

    let delivery = voice.deliver(&p).await.unwrap();

    assert_eq!(
        delivery.provider_id.as_deref(),
        Some("CA0123456789abcdef0123456789abcdef")
    );
    let req = only_request(&seen);
    assert_twilio_create(&req, "Calls.json");
    assert!(!req.form.contains_key("Url"), "TwiML goes inline");
    let twiml = &req.form["Twiml"];
    assert_eq!(
        twiml,
        &format!(
            "<Response><Gather numDigits=\"1\" \
             action=\"{PUBLIC}/api/v1/twilio/voice?alert={}&amp;user=alice\" method=\"POST\">\
             <Say>Tocsin alert: critical on checkout: Disk full on db-1. \
             Press 1 to acknowledge, 2 to escalate.</Say></Gather>\
             <Say>No input received. Goodbye.</Say></Response>",
            p.alert.id
        )
    );
    well_formed(twiml).unwrap();
}

#[test]
fn voice_needs_a_public_url_for_its_callback() {
    let mut s = settings(twilio::DEFAULT_API_URL.into());
    s.public_url = String::new();
    assert!(TwilioVoice::new(TwilioClient::new(s).unwrap()).is_err());
}

#[tokio::test]
async fn twilio_429_is_rate_limited_for_its_retry_after() {
    let (addr, _) = stub_twilio(Answer {
        status: StatusCode::TOO_MANY_REQUESTS,
        headers: vec![("retry-after", "7".into())],
        body: r#"{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}"#.into(),
    })
    .await;

    let err = TwilioSms::new(client(addr))
        .deliver(&page("Disk full"))
        .await
        .unwrap_err();

    match err {
        NotifyError::RateLimited { retry_after } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn twilio_400_is_refused_with_twilios_message() {
    // Twilio's error body shape: code, message, more_info, status.
    let (addr, _) = stub_twilio(Answer {
        status: StatusCode::BAD_REQUEST,
        headers: vec![],
        body: r#"{"code":21211,"message":"Invalid 'To' Phone Number: +1415555019","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#.into(),
    })
    .await;

    let err = TwilioVoice::new(client(addr))
        .unwrap()
        .deliver(&page("Disk full"))
        .await
        .unwrap_err();

    match err {
        NotifyError::Refused(message) => {
            assert!(
                message.contains("Invalid 'To' Phone Number: +1415555019"),
                "{message}"
            );
            assert!(message.contains("21211"), "{message}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn twilio_5xx_and_no_twilio_at_all_are_unavailable() {
    let (addr, _) = stub_twilio(Answer {
        status: StatusCode::SERVICE_UNAVAILABLE,
        headers: vec![],
        body: "<html>down</html>".into(),
    })
    .await;
    let err = TwilioSms::new(client(addr))
        .deliver(&page("Disk full"))
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::Unavailable(_)), "{err:?}");

    // A port nobody listens on: bind one, then let it go.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = TwilioSms::new(client(closed))
        .deliver(&page("Disk full"))
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
}

// --- webhook signatures ---------------------------------------------------------------

/// Twilio's documented worked example for request validation: auth token `12345`, a POST to
/// this URL with these parameters is signed `GvWf1cFY/Q7PnoempGyD5oXAezc=`. From Twilio's
/// "Secure webhooks" guide, https://www.twilio.com/docs/usage/webhooks/webhooks-security
/// (formerly https://www.twilio.com/docs/usage/security#validating-requests).
const DOC_TOKEN: &str = "12345";
const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const DOC_SIGNATURE: &str = "GvWf1cFY/Q7PnoempGyD5oXAezc=";

fn doc_params() -> Vec<(String, String)> {
    [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675310"),
        ("Digits", "1234"),
        ("From", "+14158675310"),
        ("To", "+18005551212"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn signature_matches_twilios_documented_example() {
    assert_eq!(
        expected_signature(DOC_TOKEN, DOC_URL, &doc_params()),
        DOC_SIGNATURE
    );
    assert!(verify::verify(
        DOC_TOKEN,
        DOC_URL,
        &doc_params(),
        DOC_SIGNATURE
    ));
    // Twilio posts its fields in whatever order; the signature sorts them.
    let mut reversed = doc_params();
    reversed.reverse();
    assert!(verify::verify(DOC_TOKEN, DOC_URL, &reversed, DOC_SIGNATURE));
}

#[test]
fn forged_signature_is_rejected() {
    // Right shape, wrong bytes; and a signature made with another token.
    assert!(!verify::verify(
        DOC_TOKEN,
        DOC_URL,
        &doc_params(),
        "XXXXXcFY/Q7PnoempGyD5oXAezc="
    ));
    let other = expected_signature("not-the-token", DOC_URL, &doc_params());
    assert!(!verify::verify(DOC_TOKEN, DOC_URL, &doc_params(), &other));
    assert!(!verify::verify(DOC_TOKEN, DOC_URL, &doc_params(), ""));
}

#[test]
fn tampered_param_or_url_is_rejected() {
    let mut tampered = doc_params();
    tampered[2].1 = "1".into(); // Digits: someone pressing "acknowledge" for the callee
    assert!(!verify::verify(
        DOC_TOKEN,
        DOC_URL,
        &tampered,
        DOC_SIGNATURE
    ));

    let mut added = doc_params();
    added.push(("Extra".into(), "x".into()));
    assert!(!verify::verify(DOC_TOKEN, DOC_URL, &added, DOC_SIGNATURE));

    let http = DOC_URL.replacen("https", "http", 1);
    assert!(!verify::verify(
        DOC_TOKEN,
        &http,
        &doc_params(),
        DOC_SIGNATURE
    ));
}

#[test]
fn a_signed_form_body_round_trips_through_parse_form() {
    let body = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675310&Digits=1234\
                 &From=%2B14158675310&To=%2B18005551212";
    let params = twilio::parse_form(body).unwrap();
    assert!(verify::verify(DOC_TOKEN, DOC_URL, &params, DOC_SIGNATURE));
}

// --- replies --------------------------------------------------------------------------

#[test]
fn sms_replies_are_read_case_insensitively_and_trimmed() {
    for ack in ["1", "ack", "ACK", " Ack ", "ack.", "Acknowledge", "1\n"] {
        assert_eq!(sms_reply(ack), Reply::Acknowledge, "{ack:?}");
    }
    for esc in ["2", "esc", "ESC", "escalate", " Escalate! "] {
        assert_eq!(sms_reply(esc), Reply::Escalate, "{esc:?}");
    }
    assert_eq!(
        sms_reply(" yes please "),
        Reply::Unknown("yes please".into())
    );
    assert_eq!(sms_reply("12"), Reply::Unknown("12".into()));
    assert_eq!(sms_reply(""), Reply::Unknown(String::new()));
}

#[test]
fn voice_digits_map_1_and_2() {
    assert_eq!(twilio::voice_digits("1"), Reply::Acknowledge);
    assert_eq!(twilio::voice_digits("2"), Reply::Escalate);
    assert_eq!(twilio::voice_digits("9"), Reply::Unknown("9".into()));
}

// --- TwiML ----------------------------------------------------------------------------

#[test]
fn markup_in_a_summary_is_escaped_and_the_twiml_stays_well_formed() {
    let twiml = twilio::voice_page_twiml(
        "<script>alert(1)</script> & <Dial>+15551234</Dial> \"quoted\"",
        "https://tocsin.example.com/api/v1/twilio/voice?alert=a&user=b",
    );
    assert!(!twiml.contains("<script>"), "{twiml}");
    assert!(!twiml.contains("<Dial>"), "{twiml}");
    assert!(twiml.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;Dial&gt;"));
    assert!(twiml.contains("&quot;quoted&quot;"));
    assert!(twiml.contains("?alert=a&amp;user=b"));
    well_formed(&twiml).unwrap();

    for doc in [
        twilio::say_twiml("Acknowledged <b> & thanks\u{0}"),
        twilio::sms_twiml("R&D's alert <ok>"),
        twilio::dial_twiml(&["+15550001".into(), "<+1&>".into()], "Hotline & co"),
        twilio::dial_twiml(&[], ""),
    ] {
        well_formed(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    }
    assert_eq!(
        twilio::sms_twiml("R&D <ok>"),
        "<Response><Message>R&amp;D &lt;ok&gt;</Message></Response>"
    );
    assert_eq!(
        twilio::say_twiml("Acknowledged."),
        "<Response><Say>Acknowledged.</Say></Response>"
    );
}

/// A small XML well-formedness check, enough for TwiML (elements, double-quoted
/// attributes, text, the five predefined entities and character references): tags nest
/// and close, one root, no raw `<` or stray `&` in text or attributes, no forbidden
/// control characters.
fn well_formed(doc: &str) -> Result<(), String> {
    fn entity_ok(rest: &str) -> bool {
        let Some(end) = rest.find(';') else {
            return false;
        };
        let name = &rest[1..end];
        matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || name
                .strip_prefix("#x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || name
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
    }
    fn check_chars(s: &str, what: &str) -> Result<(), String> {
        for (i, c) in s.char_indices() {
            if c == '<' {
                return Err(format!("raw '<' in {what}: {s:?}"));
            }
            if c == '&' && !entity_ok(&s[i..]) {
                return Err(format!("stray '&' in {what}: {s:?}"));
            }
            if (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}' {
                return Err(format!("forbidden character {c:?} in {what}"));
            }
        }
        Ok(())
    }
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };

    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = doc.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').ok_or("unterminated tag")?;
            let tag = &after[..end];
            rest = &after[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let (tag, self_closing) = match tag.strip_suffix('/') {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            if !is_name(name) {
                return Err(format!("bad element name {name:?}"));
            }
            while !attrs.trim().is_empty() {
                let a = attrs.trim_start();
                let (key, value_part) = a.split_once("=\"").ok_or("attribute not `k=\"v\"`")?;
                if !is_name(key) {
                    return Err(format!("bad attribute name {key:?}"));
                }
                let close = value_part.find('"').ok_or("unterminated attribute")?;
                check_chars(&value_part[..close], "attribute")?;
                attrs = &value_part[close + 1..];
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            if stack.is_empty() {
                return Err("text outside the root element".into());
            }
            check_chars(&rest[..end], "text")?;
            rest = &rest[end..];
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

#[test]
fn the_well_formedness_check_catches_what_it_must() {
    assert!(well_formed("<Response><Say>a &amp; b</Say></Response>").is_ok());
    assert!(well_formed("<Response><Say>a & b</Say></Response>").is_err());
    assert!(well_formed("<Response><Say>a</Response>").is_err());
    assert!(well_formed("<Response><Say x=\"<\">a</Say></Response>").is_err());
    assert!(well_formed("<Response/><Response/>").is_err());
}
