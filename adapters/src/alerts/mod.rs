//! Alert sources: turn the request body each monitoring tool sends into the core's
//! platform-neutral [`AlertEvent`]s. One module per tool, each a pure `parse` over bytes:
//! no I/O, no HTTP framework, no store. Authentication (integration keys) and answering
//! the sender happen in the HTTP layer, before and after these run.
//!
//! The bodies come from the internet: every parser refuses what it cannot use with a
//! [`PayloadError`] that names the alert and field, and never panics.
//!
//! [`AlertEvent`]: bot_core::model::AlertEvent

pub mod alertmanager;
pub mod generic;
pub mod grafana;
pub mod pagerduty;

use bot_core::model::AlertSeverity;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_path_to_error::Segment;

/// Why a payload was refused: which alert of a batch (index into alerts[]) and which field,
/// as a JSON path like `alerts[3].labels` or `payload.severity`. Shown to the sender (4xx).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    pub index: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl PayloadError {
    /// A problem with one field; the message starts with the field so it reads alone.
    fn field(index: Option<usize>, field: String, problem: impl std::fmt::Display) -> Self {
        Self {
            index,
            message: format!("{field}: {problem}"),
            field: Some(field),
        }
    }

    /// A problem with field `name` of `alerts[index]`.
    fn alert(index: usize, name: &str, problem: impl std::fmt::Display) -> Self {
        Self::field(Some(index), format!("alerts[{index}].{name}"), problem)
    }
}

/// Parses the body as JSON, telling a broken body from one of the wrong shape.
fn json(body: &[u8]) -> Result<Value, PayloadError> {
    serde_json::from_slice(body).map_err(|e| PayloadError {
        index: None,
        field: None,
        message: format!("malformed JSON: {e}"),
    })
}

/// Reads the JSON object `value` into a typed payload, naming the first field of the wrong
/// type by its path and, inside `alerts[]`, the alert it belongs to.
fn decode<'a, T: Deserialize<'a>>(value: &'a Value) -> Result<T, PayloadError> {
    // Serde would read an array as a struct's fields in order; no sender means that.
    if !value.is_object() {
        return Err(PayloadError {
            index: None,
            field: None,
            message: "expected a JSON object".to_owned(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path();
        let mut segments = path.iter();
        let first = segments.next();
        let index = match (first, segments.next()) {
            (Some(Segment::Map { key }), Some(Segment::Seq { index })) if key == "alerts" => {
                Some(*index)
            }
            _ => None,
        };
        match first {
            Some(_) => PayloadError::field(index, path.to_string(), e.inner()),
            None => PayloadError {
                index,
                field: None,
                message: e.inner().to_string(),
            },
        }
    })
}

/// For maps that senders write as `null` when empty (Go's nil map): same as absent.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// The severity a `severity` label (or a generic webhook's severity field) stands for.
/// Monitoring setups spell it many ways, so the match is case-insensitive and wide:
///
/// | label value                                    | severity   |
/// |------------------------------------------------|------------|
/// | `critical`, `page`, `p1`, `emergency`, `fatal` | `Critical` |
/// | `error`, `high`, `major`, `p2`                 | `Error`    |
/// | `warning`, `warn`, `medium`, `minor`, `p3`     | `Warning`  |
/// | `info`, `low`, `none`, `p4`, `p5`              | `Info`     |
/// | absent or anything else                        | `Warning`  |
///
/// Unknown values land on `Warning` rather than being refused: an alert with an odd label
/// must still reach someone, but should not wake them like a critical one.
pub(crate) fn severity_from_label(value: Option<&str>) -> AlertSeverity {
    let Some(value) = value else {
        return AlertSeverity::Warning;
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "critical" | "page" | "p1" | "emergency" | "fatal" => AlertSeverity::Critical,
        "error" | "high" | "major" | "p2" => AlertSeverity::Error,
        "info" | "low" | "none" | "p4" | "p5" => AlertSeverity::Info,
        _ => AlertSeverity::Warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_table() {
        let cases = [
            (Some("critical"), AlertSeverity::Critical),
            (Some("PAGE"), AlertSeverity::Critical),
            (Some("P1"), AlertSeverity::Critical),
            (Some("Emergency"), AlertSeverity::Critical),
            (Some("fatal"), AlertSeverity::Critical),
            (Some("error"), AlertSeverity::Error),
            (Some("High"), AlertSeverity::Error),
            (Some("major"), AlertSeverity::Error),
            (Some("p2"), AlertSeverity::Error),
            (Some("warning"), AlertSeverity::Warning),
            (Some("WARN"), AlertSeverity::Warning),
            (Some("medium"), AlertSeverity::Warning),
            (Some("minor"), AlertSeverity::Warning),
            (Some("p3"), AlertSeverity::Warning),
            (Some("info"), AlertSeverity::Info),
            (Some("low"), AlertSeverity::Info),
            (Some("none"), AlertSeverity::Info),
            (Some("p4"), AlertSeverity::Info),
            (Some(" p5 "), AlertSeverity::Info),
            (Some("disaster"), AlertSeverity::Warning),
            (Some(""), AlertSeverity::Warning),
            (None, AlertSeverity::Warning),
        ];
        for (label, expected) in cases {
            assert_eq!(severity_from_label(label), expected, "{label:?}");
        }
    }

    #[test]
    fn broken_json_is_malformed_with_no_field() {
        for body in [&b""[..], b"{", b"{\"a\":1,}", b"\xff", b"{} trailing"] {
            let err = json(body).unwrap_err();
            assert!(err.message.starts_with("malformed JSON:"), "{err:?}");
            assert_eq!((err.index, err.field), (None, None));
        }
    }
}
