//! The postmortem as Markdown, for pasting into a wiki: a title, the facts (status, owner,
//! dates, participants, huddle), each template section under its heading, and the parts
//! Tocsin knows itself filled in under the sections keyed `impact` (the duration),
//! `timeline` (a table of the visible entries) and `action_items` (the items with their
//! tickets). A template without a `timeline` or `action_items` section gets them at the end.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::SectionTemplate;
use crate::model::{
    ActionItem, ActionItemState, Incident, Postmortem, PostmortemTimelineItem, TicketStatus,
};

/// Everything the document shows.
pub(super) struct Document<'a> {
    pub postmortem: &'a Postmortem,
    pub incident: &'a Incident,
    pub action_items: &'a [ActionItem],
    /// For the prompts of empty sections.
    pub template: &'a [SectionTemplate],
    pub huddle: Option<String>,
}

/// A time as the document writes it: UTC, to the second.
pub fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `1h 02m 05s`: hours, then minutes and seconds, to the second.
pub fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    format!("{h}h {m:02}m {s:02}s")
}

/// How an actor string (`user:alice`, `token:ci`, `system`) reads in the document.
pub fn who(actor: &str) -> String {
    if let Some(user) = actor.strip_prefix("user:") {
        user.to_owned()
    } else if let Some(token) = actor.strip_prefix("token:") {
        format!("{token} (API)")
    } else if actor == "system" {
        "Tocsin".to_owned()
    } else {
        actor.to_owned()
    }
}

/// The impact line: its duration and window, or why it is not known.
pub fn impact_line(postmortem: &Postmortem) -> String {
    match (
        postmortem.impact_seconds(),
        postmortem.impact_started_at,
        postmortem.impact_ended_at,
    ) {
        (Some(seconds), Some(start), Some(end)) => format!(
            "Duration of impact: {} ({} – {})",
            duration(seconds),
            utc(start),
            utc(end)
        ),
        (_, Some(start), None) => format!(
            "Duration of impact: not known yet (started {}, not ended)",
            utc(start)
        ),
        _ => "Duration of impact: not known".to_owned(),
    }
}

/// The incident's participants: the commander first, then the other responders.
pub fn participants(incident: &Incident) -> Vec<String> {
    let mut people = Vec::new();
    if let Some(commander) = &incident.commander {
        people.push(format!("{commander} (commander)"));
    }
    if let Some(comms) = &incident.communications_lead
        && incident.commander.as_ref() != Some(comms)
    {
        people.push(format!("{comms} (communications)"));
    }
    for responder in &incident.responders {
        if incident.commander.as_ref() != Some(responder)
            && incident.communications_lead.as_ref() != Some(responder)
        {
            people.push(responder.to_string());
        }
    }
    people
}

/// Text made safe for one table cell: no column breaks, no line breaks.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

/// Text made safe for one line of a list.
fn inline(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

pub(super) fn render(doc: &Document<'_>) -> String {
    let pm = doc.postmortem;
    let incident = doc.incident;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Postmortem: {} {}\n",
        incident.reference(),
        inline(&incident.title)
    );
    let _ = writeln!(out, "- Status: {}", pm.status);
    let _ = writeln!(
        out,
        "- Owner: {}",
        pm.owner
            .as_ref()
            .map_or("nobody yet".to_owned(), |o| o.to_string())
    );
    let _ = writeln!(out, "- Severity: {}", incident.severity);
    let _ = writeln!(out, "- Declared: {}", utc(incident.declared_at));
    if let Some(resolved) = incident.resolved_at {
        let _ = writeln!(out, "- Resolved: {}", utc(resolved));
    }
    if let Some(published) = pm.published_at {
        let _ = writeln!(out, "- Published: {}", utc(published));
    }
    let people = participants(incident);
    if !people.is_empty() {
        let _ = writeln!(out, "- Participants: {}", people.join(", "));
    }
    if let Some(huddle) = &doc.huddle {
        let _ = writeln!(out, "- Huddle: <{huddle}>");
    }
    if let Some(meeting) = &pm.meeting {
        let _ = writeln!(
            out,
            "- Review meeting: {} ({} minutes)",
            utc(meeting.starts_at),
            meeting.duration_minutes
        );
    }
    out.push('\n');

    let mut had_timeline = false;
    let mut had_items = false;
    for section in &pm.sections {
        let _ = writeln!(
            out,
            "{} {}\n",
            "#".repeat(section.level.clamp(2, 6) as usize),
            inline(&section.title)
        );
        let generated = match section.key.as_str() {
            "impact" => Some(format!("{}\n", impact_line(pm))),
            "timeline" => {
                had_timeline = true;
                Some(timeline_table(&pm.timeline))
            }
            "action_items" => {
                had_items = true;
                Some(action_item_list(doc.action_items))
            }
            _ => None,
        };
        if let Some(generated) = &generated {
            out.push_str(generated);
            out.push('\n');
        }
        if !section.body.trim().is_empty() {
            let _ = writeln!(out, "{}\n", section.body.trim_end());
        } else if generated.is_none() || section.key == "impact" {
            let prompt = doc
                .template
                .iter()
                .find(|t| t.key == section.key)
                .map_or("Not written yet.", |t| t.prompt.as_str());
            let _ = writeln!(out, "_{}_\n", inline(prompt));
        }
    }
    if !had_timeline {
        let _ = writeln!(out, "## Timeline\n\n{}", timeline_table(&pm.timeline));
    }
    if !had_items {
        let _ = writeln!(
            out,
            "## Action items\n\n{}",
            action_item_list(doc.action_items)
        );
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The visible entries as a table, oldest first.
fn timeline_table(items: &[PostmortemTimelineItem]) -> String {
    let visible: Vec<&PostmortemTimelineItem> = items.iter().filter(|i| !i.hidden).collect();
    if visible.is_empty() {
        return "_No timeline entries._\n".to_owned();
    }
    let mut out = String::from("| Time (UTC) | Event | Who | Note |\n|---|---|---|---|\n");
    for item in visible {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            item.at.format("%Y-%m-%d %H:%M:%S"),
            cell(item.text.trim()),
            cell(&who(&item.actor)),
            cell(item.annotation.as_deref().unwrap_or(""))
        );
    }
    out
}

/// `- [ ] title — [owner/repo#12](url) (assignee)`, done items ticked.
fn action_item_list(items: &[ActionItem]) -> String {
    if items.is_empty() {
        return "_No action items yet._\n".to_owned();
    }
    let mut out = String::new();
    for item in items {
        let tick = if item.state == ActionItemState::Done {
            "x"
        } else {
            " "
        };
        let _ = write!(out, "- [{tick}] {}", inline(&item.title));
        match (&item.ticket_key, &item.ticket_url, item.ticket_status) {
            (Some(key), Some(url), _) => {
                let _ = write!(out, " — [{}]({url})", inline(key));
            }
            (Some(key), None, _) => {
                let _ = write!(out, " — {}", inline(key));
            }
            (None, _, TicketStatus::Pending) => out.push_str(" — ticket being filed"),
            (None, _, TicketStatus::Failed) => out.push_str(" — filing the ticket failed"),
            _ => {}
        }
        if let Some(assignee) = &item.assignee {
            let _ = write!(out, " ({assignee})");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_to_the_second() {
        assert_eq!(duration(3725), "1h 02m 05s");
        assert_eq!(duration(59), "0h 00m 59s");
        assert_eq!(duration(26 * 3600), "26h 00m 00s");
    }

    #[test]
    fn table_cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b<br>c");
    }
}
