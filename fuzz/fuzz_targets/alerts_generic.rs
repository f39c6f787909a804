//! Generic JSON webhooks (`/api/v1/integrations/{key}/generic`) read through a mapping:
//! `mapping-json NUL body` (the mapping validated first, as configuration is), or a body
//! alone read through a few fixed mappings of the shapes operators write.
#![no_main]

use adapters::alerts::generic::{Mapping, parse};
use libfuzzer_sys::fuzz_target;

fn mapping(
    summary: &str,
    dedup: &str,
    severity: &str,
    status: &str,
    alerts: Option<&str>,
) -> Mapping {
    Mapping {
        summary: summary.into(),
        dedup_key: dedup.into(),
        severity: Some(severity.into()),
        status: Some(status.into()),
        resolved_values: vec!["resolved".into(), "ok".into(), "OK".into()],
        alerts: alerts.map(Into::into),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some((text, body)) = tocsin_fuzz::split_nul(data) {
        if let Ok(mapping) = serde_json::from_str::<Mapping>(text)
            && mapping.validate().is_ok()
        {
            let _ = parse(body, &mapping);
        }
        return;
    }
    let fixed = [
        mapping("/title", "/id", "/level", "/state", None),
        mapping(
            "/annotations/summary",
            "/fingerprint",
            "/labels/severity",
            "/status",
            Some("/alerts"),
        ),
        mapping(
            "/payload/summary",
            "/dedup_key",
            "/payload/severity",
            "/event_action",
            None,
        ),
        mapping("", "", "", "", Some("")),
    ];
    for mapping in &fixed {
        let _ = parse(data, mapping);
    }
});
