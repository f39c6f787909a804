//! Who and what: users, teams and services, declared in `tocsin.toml` and mirrored into the
//! store so that the REST API and later reports can join against them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Role, ServiceId, TeamId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    pub phone: Option<String>,
    pub role: Role,
    /// The user's identity on each chat platform, by platform name.
    pub chat: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Service {
    pub id: ServiceId,
    pub name: String,
    pub description: Option<String>,
    pub team: Option<TeamId>,
    pub escalation_policy: Option<String>,
}

/// Everything the configuration declares about people and services, replaced as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    pub users: Vec<User>,
    pub teams: Vec<Team>,
    pub services: Vec<Service>,
}
