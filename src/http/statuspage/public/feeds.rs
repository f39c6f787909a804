//! `/status/history.atom` and `/status/history.rss`: the latest incidents and maintenance,
//! current and past, newest first. Each entry links to the record's page and carries its
//! updates as HTML (built with maud, so escaped, then escaped again as XML text by the
//! feed writers).

use atom_syndication as atom;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bot_core::model::{PublicFilter, PublicIncident, PublicKind};
use bot_core::statuspage::StatusPageSettings;
use chrono::{DateTime, Utc};
use maud::html;

use super::{Prepared, PublicError, incident_url, page_url, stored_document};
use crate::http::AppState;

/// Entries per feed.
const ENTRIES: i64 = 50;

/// The latest records, any kind, any status.
async fn latest(core: &bot_core::Core) -> Result<Vec<PublicIncident>, PublicError> {
    Ok(core
        .store
        .list_public_incidents(&PublicFilter {
            kind: None,
            statuses: Vec::new(),
            limit: ENTRIES,
            offset: 0,
        })
        .await?)
}

/// The record's updates, newest first, as an HTML fragment.
fn content(r: &PublicIncident) -> String {
    html! {
        @for u in &r.updates {
            p {
                strong { (u.status.label()) }
                " – "
                (u.created_at.format("%b %-d, %Y %H:%M UTC").to_string())
            }
            p { (u.body) }
        }
    }
    .into_string()
}

fn title(r: &PublicIncident) -> String {
    match r.kind {
        PublicKind::Incident => r.name.clone(),
        PublicKind::Maintenance => format!("Maintenance: {}", r.name),
    }
}

/// When the feed last changed: the page's last change, else its newest record's.
fn feed_updated(updated_at: Option<DateTime<Utc>>, records: &[PublicIncident]) -> DateTime<Utc> {
    updated_at
        .or_else(|| records.iter().map(|r| r.updated_at).max())
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn atom_feed(
    settings: &StatusPageSettings,
    updated_at: Option<DateTime<Utc>>,
    records: &[PublicIncident],
) -> atom::Feed {
    let page = page_url(settings);
    atom::Feed {
        title: atom::Text::plain(format!("{} – incident history", settings.name)),
        id: format!("{page}/history.atom"),
        updated: feed_updated(updated_at, records).fixed_offset(),
        links: vec![
            atom::Link {
                href: page.clone(),
                ..Default::default()
            },
            atom::Link {
                href: format!("{page}/history.atom"),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            },
        ],
        authors: vec![atom::Person {
            name: settings.name.clone(),
            ..Default::default()
        }],
        entries: records
            .iter()
            .map(|r| atom::Entry {
                title: atom::Text::plain(title(r)),
                id: format!("urn:uuid:{}", r.id),
                updated: r.updated_at.fixed_offset(),
                published: Some(r.created_at.fixed_offset()),
                links: vec![atom::Link {
                    href: incident_url(settings, r.id),
                    mime_type: Some("text/html".into()),
                    ..Default::default()
                }],
                content: Some(atom::Content {
                    value: Some(content(r)),
                    content_type: Some("html".into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn rss_channel(
    settings: &StatusPageSettings,
    updated_at: Option<DateTime<Utc>>,
    records: &[PublicIncident],
) -> rss::Channel {
    rss::Channel {
        title: format!("{} – incident history", settings.name),
        link: page_url(settings),
        description: format!("Incidents and maintenance on {}", settings.name),
        last_build_date: Some(feed_updated(updated_at, records).to_rfc2822()),
        ttl: Some("1".into()),
        items: records
            .iter()
            .map(|r| {
                let url = incident_url(settings, r.id);
                rss::Item {
                    title: Some(title(r)),
                    link: Some(url.clone()),
                    guid: Some(rss::Guid {
                        value: url,
                        permalink: true,
                    }),
                    pub_date: Some(r.created_at.to_rfc2822()),
                    description: Some(content(r)),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }
}

fn xml(
    content_type: &'static str,
    written: Result<Vec<u8>, String>,
) -> Result<Prepared, PublicError> {
    written
        .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
        .map(|body| Prepared::new(content_type, body))
        .map_err(|e| PublicError::Internal(format!("writing a status feed: {e}")))
}

pub(super) async fn atom(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let core = &state.core;
    stored_document(core, &headers, "history.atom", async |version| {
        let updated_at = version.updated_at;
        let records = latest(core).await?;
        let feed = atom_feed(&core.settings.status_page, updated_at, &records);
        xml(
            "application/atom+xml; charset=utf-8",
            feed.write_to(Vec::new()).map_err(|e| e.to_string()),
        )
    })
    .await
}

pub(super) async fn rss(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let core = &state.core;
    stored_document(core, &headers, "history.rss", async |version| {
        let updated_at = version.updated_at;
        let records = latest(core).await?;
        let channel = rss_channel(&core.settings.status_page, updated_at, &records);
        xml(
            "application/rss+xml; charset=utf-8",
            channel.write_to(Vec::new()).map_err(|e| e.to_string()),
        )
    })
    .await
}
