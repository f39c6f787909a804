//! `[statuspage]` and `[[statuspage.components]]`: the public status page and the
//! components customers see on it.

use std::collections::HashSet;

use bot_core::model::{ComponentSpec, ServiceId};
use bot_core::statuspage::StatusPageSettings;
use serde::Deserialize;

use super::{Checker, KeyPath, Part};

/// `[statuspage]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StatusPageConfig {
    /// The page's title; default "Status".
    pub name: Option<String>,
    /// Where the page is published (`https://status.example.com/status`); default
    /// `TOCSIN_PUBLIC_URL` + `/status`.
    pub url: Option<String>,
    pub logo_url: Option<String>,
    /// `#RRGGBB`; default a blue that keeps WCAG AA contrast on white.
    pub accent: Option<String>,
    /// IANA time zone of the page; default `Etc/UTC`.
    pub time_zone: Option<String>,
    /// The page id in the Statuspage-compatible JSON; default one derived from the name.
    pub page_id: Option<String>,
    pub components: Vec<ComponentConfig>,
}

/// `[[statuspage.components]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComponentConfig {
    /// A slug: what chat commands and URLs call it.
    pub id: String,
    pub name: String,
    /// The group heading it is shown under.
    pub group: Option<String>,
    pub description: Option<String>,
    /// Services whose incidents affect it.
    #[serde(default)]
    pub services: Vec<ServiceId>,
}

impl StatusPageConfig {
    /// The core's settings; `public_url` is Tocsin's own base URL, for the default `url`.
    pub fn settings(&self, public_url: Option<&str>) -> StatusPageSettings {
        let defaults = StatusPageSettings::default();
        let name = self.name.clone().unwrap_or(defaults.name);
        let url = self
            .url
            .clone()
            .or_else(|| public_url.map(|base| format!("{}/status", base.trim_end_matches('/'))));
        StatusPageSettings {
            page_id: self.page_id.clone().unwrap_or_else(|| page_id(&name)),
            name,
            url: url.map(|u| u.trim_end_matches('/').to_owned()),
            logo_url: self.logo_url.clone(),
            accent: self.accent.clone().unwrap_or(defaults.accent),
            time_zone: self.time_zone.clone().unwrap_or(defaults.time_zone),
            components: self
                .components
                .iter()
                .enumerate()
                .map(|(i, c)| ComponentSpec {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    group: c.group.clone(),
                    description: c.description.clone(),
                    services: c.services.clone(),
                    position: i as i32 + 1,
                })
                .collect(),
        }
    }
}

/// A stable 12-character id from the page's name, in Statuspage's alphabet.
fn page_id(name: &str) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    Sha256::digest(name.as_bytes())
        .iter()
        .take(12)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

pub(super) fn check(page: &StatusPageConfig, services: &HashSet<&str>, c: &mut Checker) {
    let path = KeyPath::of("statuspage");
    if let Some(accent) = &page.accent {
        let hex = accent.strip_prefix('#').unwrap_or_default();
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            c.report(
                &path.key("accent"),
                Part::Value,
                format!("`{accent}` is not a colour; write `#RRGGBB`, e.g. `#0b5cad`"),
            );
        }
    }
    if let Some(zone) = &page.time_zone {
        c.time_zone(&path.key("time_zone"), zone);
    }
    for (key, value) in [("url", &page.url), ("logo_url", &page.logo_url)] {
        if let Some(url) = value
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            c.report(
                &path.key(key),
                Part::Value,
                format!("`{url}` must be an http:// or https:// URL"),
            );
        }
    }
    if let Some(id) = &page.page_id
        && (id.is_empty()
            || id.len() > 32
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    {
        c.report(
            &path.key("page_id"),
            Part::Value,
            format!("page id `{id}` must be 1 to 32 lowercase letters and digits"),
        );
    }
    let entries: Vec<(KeyPath, &str)> = page
        .components
        .iter()
        .enumerate()
        .map(|(i, comp)| (path.key("components").at(i).key("id"), comp.id.as_str()))
        .collect();
    for (at, id) in &entries {
        c.slug_named(at, "component id", id);
    }
    c.distinct("component id", entries.into_iter());
    for (i, component) in page.components.iter().enumerate() {
        let at = path.key("components").at(i);
        if component.name.trim().is_empty() {
            c.report(
                &at.key("name"),
                Part::Value,
                "a component needs a name".into(),
            );
        }
        for (j, service) in component.services.iter().enumerate() {
            c.reference(
                &at.key("services").at(j),
                "service",
                service.as_str(),
                services,
            );
        }
    }
}
