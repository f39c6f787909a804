//! `[postmortem]` and `[[postmortem.sections]]`: the postmortem template, the reminder
//! when a draft stays unpublished, and which severities ask for an owner on resolve.

use bot_core::model::Severity;
use bot_core::postmortem::{PostmortemSettings, SectionTemplate};
use serde::Deserialize;

use super::{Checker, KeyPath, Part};

/// `[postmortem]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PostmortemConfig {
    /// Remind the incident channel when a postmortem is not published this long after it
    /// was created: a humantime duration (`"5d"`), or `"off"`. Absent: five days.
    pub reminder_after: Option<String>,
    /// Severities whose resolve asks for a postmortem owner; absent: sev1 and sev2.
    pub owner_prompt_severities: Option<Vec<Severity>>,
    /// The template of new postmortems, replacing the default one when given.
    pub sections: Vec<SectionConfig>,
}

/// `[[postmortem.sections]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SectionConfig {
    /// Stable key, what a PATCH names: lowercase letters, digits, `_`, `-` and `.`.
    /// `impact`, `timeline` and `action_items` get Tocsin's generated content (the
    /// duration, the timeline table, the items); a template without the last two gets
    /// them appended at the end of the export.
    pub key: String,
    pub title: String,
    /// 2 for a section, 3 for a part of one; default 2.
    #[serde(default = "default_level")]
    pub level: u8,
    /// The question the section answers, shown while it is empty.
    #[serde(default)]
    pub prompt: String,
}

fn default_level() -> u8 {
    2
}

impl PostmortemConfig {
    pub fn settings(&self) -> PostmortemSettings {
        let defaults = PostmortemSettings::default();
        PostmortemSettings {
            template: if self.sections.is_empty() {
                defaults.template
            } else {
                self.sections
                    .iter()
                    .map(|s| SectionTemplate {
                        key: s.key.clone(),
                        title: s.title.clone(),
                        level: s.level,
                        prompt: s.prompt.clone(),
                    })
                    .collect()
            },
            reminder_after: match self.reminder_after.as_deref() {
                None => defaults.reminder_after,
                Some("off") => None,
                Some(text) => super::duration(text),
            },
            owner_prompt_severities: self
                .owner_prompt_severities
                .clone()
                .unwrap_or(defaults.owner_prompt_severities),
        }
    }
}

fn is_section_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'))
}

pub(super) fn check(config: &PostmortemConfig, c: &mut Checker) {
    let path = KeyPath::of("postmortem");
    if let Some(text) = config.reminder_after.as_deref()
        && text != "off"
    {
        c.duration(&path.key("reminder_after"), text);
    }
    let entries: Vec<(KeyPath, &str)> = config
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| (path.key("sections").at(i).key("key"), s.key.as_str()))
        .collect();
    for (at, key) in &entries {
        if !is_section_key(key) {
            c.report(
                at,
                Part::Value,
                format!(
                    "section key `{key}` must be 1 to 64 lowercase letters, digits, `_`, `-` \
                     and `.`"
                ),
            );
        }
    }
    c.distinct("section key", entries.into_iter());
    for (i, section) in config.sections.iter().enumerate() {
        let at = path.key("sections").at(i);
        if section.title.trim().is_empty() {
            c.report(
                &at.key("title"),
                Part::Value,
                "a section needs a title".into(),
            );
        }
        if !matches!(section.level, 2 | 3) {
            c.report(
                &at.key("level"),
                Part::Value,
                format!(
                    "level {} is not a section level: 2 for a section, 3 for a part of one",
                    section.level
                ),
            );
        }
        if i == 0 && section.level == 3 {
            c.report(
                &at.key("level"),
                Part::Value,
                "the first section must be level 2: a part (level 3) belongs under a section"
                    .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::time::Duration as StdDuration;

    fn problems(text: &str) -> Vec<(String, String)> {
        match Config::parse("t.toml", text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .0
                .iter()
                .map(|p| (p.key.clone(), p.message.clone()))
                .collect(),
        }
    }

    #[test]
    fn defaults_are_the_guides_template_five_days_and_sev1_sev2() {
        let config = Config::parse("t.toml", "").expect("an empty file is valid");
        let settings = config.postmortem.settings();
        assert_eq!(settings.template, bot_core::postmortem::default_template());
        assert_eq!(
            settings.reminder_after.map(|d| d.to_std().unwrap()),
            Some(StdDuration::from_secs(5 * 86_400))
        );
        assert_eq!(settings.owner_prompt_severities.len(), 2);
    }

    #[test]
    fn sections_replace_the_template_and_off_turns_the_reminder_off() {
        let config = Config::parse(
            "t.toml",
            "[postmortem]\nreminder_after = \"off\"\nowner_prompt_severities = [\"sev1\"]\n\
             [[postmortem.sections]]\nkey = \"summary\"\ntitle = \"Summary\"\n\
             [[postmortem.sections]]\nkey = \"summary.more\"\ntitle = \"More\"\nlevel = 3\n\
             prompt = \"And?\"\n",
        )
        .expect("valid");
        let settings = config.postmortem.settings();
        assert_eq!(settings.reminder_after, None);
        assert_eq!(settings.template.len(), 2);
        assert_eq!(settings.template[1].level, 3);
        assert_eq!(settings.template[1].prompt, "And?");
        assert_eq!(
            settings.owner_prompt_severities,
            [bot_core::model::Severity::Sev1]
        );
    }

    #[test]
    fn bad_sections_and_durations_are_reported_by_key() {
        let found = problems(
            "[postmortem]\nreminder_after = \"soon\"\n\
             [[postmortem.sections]]\nkey = \"Summary!\"\ntitle = \"S\"\n\
             [[postmortem.sections]]\nkey = \"x\"\ntitle = \"X\"\nlevel = 4\n\
             [[postmortem.sections]]\nkey = \"x\"\ntitle = \" \"\n",
        );
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"postmortem.reminder_after"), "{found:?}");
        assert!(keys.contains(&"postmortem.sections[0].key"), "{found:?}");
        assert!(keys.contains(&"postmortem.sections[1].level"), "{found:?}");
        assert!(keys.contains(&"postmortem.sections[2].key"), "{found:?}");
        assert!(keys.contains(&"postmortem.sections[2].title"), "{found:?}");
    }
}
