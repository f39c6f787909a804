//! Roles decide what a person or API token may do; an `Actor` is who did something, as
//! recorded in the timeline.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{UserId, string_enum};

/// Ordered: each role may do everything the roles before it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Responder,
    Commander,
    Admin,
}

string_enum!(Role, "role", {
    Viewer => "viewer",
    Responder => "responder",
    Commander => "commander",
    Admin => "admin",
});

/// Who caused a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person from the directory, wherever they acted (chat, REST with their token).
    User(UserId),
    /// An API token not tied to a person, by its name.
    Token(String),
    /// Tocsin itself (reminders, escalations, integrations).
    System,
}

impl fmt::Display for Actor {
    /// The stable string stored in the timeline: `user:alice`, `token:ci`, `system`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Token(name) => write!(f, "token:{name}"),
            Actor::System => f.write_str("system"),
        }
    }
}

impl Actor {
    /// The person behind this actor, if any.
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power_and_parse_case_insensitively() {
        assert!(Role::Viewer < Role::Responder && Role::Commander < Role::Admin);
        assert_eq!("Admin".parse::<Role>().unwrap(), Role::Admin);
        let err = "owner".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown role `owner`; expected one of: viewer responder commander admin"
        );
    }

    #[test]
    fn actor_display_is_the_stored_form() {
        assert_eq!(Actor::User("alice".into()).to_string(), "user:alice");
        assert_eq!(Actor::Token("ci".into()).to_string(), "token:ci");
        assert_eq!(Actor::System.to_string(), "system");
    }
}
