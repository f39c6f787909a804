//! The Teams app package: the zip an admin uploads to Teams (`manifest.json` and the two
//! icons), built by `tocsin manifest teams --out …`.
//!
//! The manifest follows schema version 1.29 (the schema Tocsin tests against, under
//! `shared/fixtures/teams/app-manifest/`). Everything Teams would refuse at upload time
//! (an app id that is no GUID, a name too long, a URL that is not https, too many
//! commands) is a [`ManifestError`] here instead. The icons are drawn in code so the
//! package needs no files: a white bell, on Tocsin's red for the colour icon and on
//! transparency for the outline icon.

use std::io::{Cursor, Write};

use serde_json::{Value, json};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

pub const MANIFEST_VERSION: &str = "1.29";
pub const SCHEMA_URL: &str =
    "https://developer.microsoft.com/json-schemas/teams/v1.29/MicrosoftTeams.schema.json";
/// Tocsin's colour (the Slack app's background too); the colour icon's background.
pub const ACCENT_COLOR: &str = "#7A1F1F";
const ACCENT_RGB: [u8; 3] = [0x7A, 0x1F, 0x1F];

/// Sizes Teams requires: the colour icon 192x192, the outline icon 32x32.
pub const COLOR_ICON_SIZE: u32 = 192;
pub const OUTLINE_ICON_SIZE: u32 = 32;

/// Limits of the manifest schema.
const MAX_SHORT_NAME: usize = 30;
const MAX_COMMANDS: usize = 12;
const MAX_COMMAND_TITLE: usize = 128;
const MAX_COMMAND_DESCRIPTION: usize = 4000;

const SHORT_DESCRIPTION: &str = "Incidents, paging and on-call, run from Teams";
const FULL_DESCRIPTION: &str = "Tocsin is a chat-ops incident bot. Declare an incident \
with a message or a form, and Tocsin pages the on-call responder with automatic \
escalation, opens a channel for the incident, and keeps its timeline. Acknowledge, \
escalate, update the status or resolve with a button on the incident card, run \
pre-configured diagnostics and rollbacks from chat, and ask who is on call.";

/// What the package needs to know about this installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSettings {
    /// The bot's Microsoft App Id (`MicrosoftAppId`), a GUID. It is both the bot id and
    /// the Teams app's id.
    pub app_id: String,
    /// The app's name in Teams, at most 30 characters.
    pub name: String,
    /// Tocsin's public https URL (`TOCSIN_PUBLIC_URL`): the developer website, and the
    /// domain the app trusts.
    pub developer_url: String,
    /// The package version, `major.minor.patch`; raise it for each upload.
    pub version: String,
    /// The privacy statement and terms of use; the developer URL when not given.
    pub privacy_url: Option<String>,
    pub terms_of_use_url: Option<String>,
}

impl PackageSettings {
    /// Settings named "Tocsin", version 1.0.0, without separate privacy or terms pages.
    pub fn new(app_id: impl Into<String>, developer_url: impl Into<String>) -> Self {
        PackageSettings {
            app_id: app_id.into(),
            name: "Tocsin".into(),
            developer_url: developer_url.into(),
            version: "1.0.0".into(),
            privacy_url: None,
            terms_of_use_url: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "the Microsoft App Id `{0}` is not a GUID (like 00000000-0000-0000-0000-000000000000); \
         copy it from the bot's Azure registration"
    )]
    InvalidAppId(String),
    #[error("the app name must be 1 to {MAX_SHORT_NAME} characters, not `{0}`")]
    InvalidName(String),
    #[error("the package version must be major.minor.patch (like 1.0.0), not `{0}`")]
    InvalidVersion(String),
    #[error("`{url}` is not a usable https URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("Teams lists at most {MAX_COMMANDS} bot commands; {0} were given")]
    TooManyCommands(usize),
    #[error(
        "bot command `{0}`: the title must be 1 to {MAX_COMMAND_TITLE} characters and the \
         description at most {MAX_COMMAND_DESCRIPTION}"
    )]
    InvalidCommand(String),
    #[error("drawing an icon: {0}")]
    Icon(#[from] png::EncodingError),
    #[error("writing the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the zip: {0}")]
    Io(#[from] std::io::Error),
}

/// The app package: a zip with `manifest.json`, `color.png` and `outline.png` at its root.
/// `commands` are the bot commands Teams suggests (title, description), in order.
pub fn app_package(
    settings: &PackageSettings,
    commands: &[(&str, &str)],
) -> Result<Vec<u8>, ManifestError> {
    let manifest = manifest_json(settings, commands)?;
    let manifest = serde_json::to_vec_pretty(&manifest).expect("a JSON value serialises");
    // A fixed timestamp: the same settings give the same bytes.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default());
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in [
        ("manifest.json", manifest),
        ("color.png", color_icon()?),
        ("outline.png", outline_icon()?),
    ] {
        zip.start_file(name, options)?;
        zip.write_all(&bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// `manifest.json` of the app package.
pub fn manifest_json(
    settings: &PackageSettings,
    commands: &[(&str, &str)],
) -> Result<Value, ManifestError> {
    let app_id = guid(&settings.app_id)?;
    let name = settings.name.trim();
    if name.is_empty() || name.chars().count() > MAX_SHORT_NAME {
        return Err(ManifestError::InvalidName(settings.name.clone()));
    }
    if !is_semver(&settings.version) {
        return Err(ManifestError::InvalidVersion(settings.version.clone()));
    }
    let (website, host) = https_url(&settings.developer_url)?;
    let privacy = match &settings.privacy_url {
        Some(url) => https_url(url)?.0,
        None => website.clone(),
    };
    let terms = match &settings.terms_of_use_url {
        Some(url) => https_url(url)?.0,
        None => website.clone(),
    };
    if commands.len() > MAX_COMMANDS {
        return Err(ManifestError::TooManyCommands(commands.len()));
    }
    let commands = commands
        .iter()
        .map(|(title, description)| {
            let title_len = title.trim().chars().count();
            if title_len == 0
                || title_len > MAX_COMMAND_TITLE
                || description.chars().count() > MAX_COMMAND_DESCRIPTION
            {
                return Err(ManifestError::InvalidCommand((*title).to_owned()));
            }
            Ok(json!({ "title": title.trim(), "description": description }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scopes = ["personal", "team", "groupChat"];
    let mut bot = json!({
        "botId": app_id,
        "scopes": scopes,
        "supportsFiles": false,
        "isNotificationOnly": false,
    });
    if !commands.is_empty() {
        bot["commandLists"] = json!([{ "scopes": scopes, "commands": commands }]);
    }
    Ok(json!({
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": settings.version,
        "id": app_id,
        "developer": {
            "name": name,
            "websiteUrl": website,
            "privacyUrl": privacy,
            "termsOfUseUrl": terms,
        },
        "name": { "short": name, "full": format!("{name} incident response") },
        "description": { "short": SHORT_DESCRIPTION, "full": FULL_DESCRIPTION },
        "icons": { "color": "color.png", "outline": "outline.png" },
        "accentColor": ACCENT_COLOR,
        "bots": [bot],
        "validDomains": [host],
    }))
}

/// The app id, lower case, if it is a GUID (8-4-4-4-12 hex digits).
fn guid(id: &str) -> Result<String, ManifestError> {
    let id = id.trim();
    let groups: Vec<&str> = id.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let ok = groups.len() == lengths.len()
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(ManifestError::InvalidAppId(id.to_owned()))
    }
}

/// Three dot-separated numbers without leading zeros, as the schema's `semver`.
fn is_semver(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// The URL (without a trailing slash) and its host, if it is an absolute https URL.
fn https_url(url: &str) -> Result<(String, String), ManifestError> {
    let invalid = |reason: &str| ManifestError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
    if parsed.scheme() != "https" {
        return Err(invalid("Teams requires https"));
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("it has no host"))?;
    Ok((
        parsed.as_str().trim_end_matches('/').to_owned(),
        host.to_owned(),
    ))
}

/// The 192x192 colour icon: the bell in white on Tocsin's red, inside the central 120x120
/// where Teams keeps symbols clear of its rounded corners.
fn color_icon() -> Result<Vec<u8>, ManifestError> {
    let size = COLOR_ICON_SIZE;
    encode_png(size, |x, y| {
        let coverage = bell_coverage(x, y, size, 120.0 / 192.0);
        let blend = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * coverage).round() as u8;
        [
            blend(ACCENT_RGB[0]),
            blend(ACCENT_RGB[1]),
            blend(ACCENT_RGB[2]),
            255,
        ]
    })
}

/// The 32x32 outline icon: the bell in white on transparency, nothing else.
fn outline_icon() -> Result<Vec<u8>, ManifestError> {
    let size = OUTLINE_ICON_SIZE;
    encode_png(size, |x, y| {
        let alpha = (bell_coverage(x, y, size, 1.0) * 255.0).round() as u8;
        if alpha == 0 {
            [0, 0, 0, 0]
        } else {
            [255, 255, 255, alpha]
        }
    })
}

fn encode_png(size: u32, pixel: impl Fn(u32, u32) -> [u8; 4]) -> Result<Vec<u8>, ManifestError> {
    let mut data = Vec::with_capacity((size * size * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            data.extend_from_slice(&pixel(x, y));
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&data)?;
    writer.finish()?;
    Ok(out)
}

/// How much of pixel (x, y) of a `size`-pixel square the bell covers, 0 to 1, sampled
/// 4x4 for smooth edges. The bell is drawn in a unit square scaled by `scale` around the
/// centre.
fn bell_coverage(x: u32, y: u32, size: u32, scale: f64) -> f64 {
    const SAMPLES: u32 = 4;
    let mut hits = 0;
    for sy in 0..SAMPLES {
        for sx in 0..SAMPLES {
            let px = (f64::from(x) + (f64::from(sx) + 0.5) / f64::from(SAMPLES)) / f64::from(size);
            let py = (f64::from(y) + (f64::from(sy) + 0.5) / f64::from(SAMPLES)) / f64::from(size);
            let u = (px - 0.5) / scale + 0.5;
            let v = (py - 0.5) / scale + 0.5;
            if in_bell(u, v) {
                hits += 1;
            }
        }
    }
    f64::from(hits) / f64::from(SAMPLES * SAMPLES)
}

/// The bell in the unit square: a knob, a dome, a flaring body, a rim and a clapper.
fn in_bell(u: f64, v: f64) -> bool {
    let circle = |cx: f64, cy: f64, r: f64| (u - cx).powi(2) + (v - cy).powi(2) <= r * r;
    let knob = circle(0.5, 0.15, 0.06);
    let dome = circle(0.5, 0.38, 0.2);
    let body = (0.38..=0.74).contains(&v) && {
        let t = (v - 0.38) / (0.74 - 0.38);
        (u - 0.5).abs() <= 0.2 + 0.12 * t * t
    };
    let rim = (0.72..=0.79).contains(&v) && (u - 0.5).abs() <= 0.38;
    let clapper = circle(0.5, 0.85, 0.08);
    knob || dome || body || rim || clapper
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_ID: &str = "8D88F59B-AE61-4300-BEC0-CAACE7D28446";

    #[test]
    fn the_app_id_must_be_a_guid_and_is_used_lower_case() {
        assert_eq!(
            guid(APP_ID).expect("a GUID"),
            "8d88f59b-ae61-4300-bec0-caace7d28446"
        );
        for bad in [
            "",
            "tocsin",
            "8d88f59b-ae61-4300-bec0-caace7d2844",
            "8d88f59b-ae61-4300-bec0-caace7d28446-1",
            "8d88f59bae614300bec0caace7d28446",
            "8d88f59b-ae61-4300-bec0-caace7d2844g",
        ] {
            assert!(
                matches!(guid(bad), Err(ManifestError::InvalidAppId(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_developer_url_must_be_https_and_gives_the_valid_domain() {
        assert_eq!(
            https_url("https://tocsin.example.com:8443/").expect("https"),
            (
                "https://tocsin.example.com:8443".to_owned(),
                "tocsin.example.com".to_owned()
            )
        );
        assert!(https_url("http://tocsin.example.com").is_err());
        assert!(https_url("tocsin.example.com").is_err());
    }

    #[test]
    fn versions_are_three_numbers() {
        assert!(is_semver("1.0.0"));
        assert!(is_semver("10.20.3"));
        for bad in ["1.0", "1.0.0-beta", "01.0.0", "1..0", "v1.0.0"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn the_manifest_names_the_bot_its_commands_and_its_domain() {
        let settings = PackageSettings::new(APP_ID, "https://tocsin.example.com/");
        let manifest = manifest_json(&settings, &[("declare", "Declare an incident")])
            .expect("valid settings");
        assert_eq!(manifest["manifestVersion"], "1.29");
        assert_eq!(manifest["id"], "8d88f59b-ae61-4300-bec0-caace7d28446");
        assert_eq!(manifest["bots"][0]["botId"], manifest["id"]);
        assert_eq!(
            manifest["developer"]["websiteUrl"],
            "https://tocsin.example.com"
        );
        assert_eq!(manifest["validDomains"], json!(["tocsin.example.com"]));
        assert_eq!(
            manifest["bots"][0]["commandLists"][0]["commands"],
            json!([{"title": "declare", "description": "Declare an incident"}])
        );
        assert!(manifest["description"]["short"].as_str().map(str::len) <= Some(80));

        let too_many = vec![("x", "y"); 13];
        assert!(matches!(
            manifest_json(&settings, &too_many),
            Err(ManifestError::TooManyCommands(13))
        ));
        let long_name = PackageSettings {
            name: "T".repeat(31),
            ..settings.clone()
        };
        assert!(matches!(
            manifest_json(&long_name, &[]),
            Err(ManifestError::InvalidName(_))
        ));
    }

    #[test]
    fn the_bell_sits_inside_its_square() {
        assert!(in_bell(0.5, 0.5));
        assert!(!in_bell(0.02, 0.02));
        assert!(!in_bell(0.98, 0.5));
        // The edges of the outline icon are clear.
        for i in 0..OUTLINE_ICON_SIZE {
            assert_eq!(bell_coverage(0, i, OUTLINE_ICON_SIZE, 1.0), 0.0);
            assert_eq!(bell_coverage(i, 0, OUTLINE_ICON_SIZE, 1.0), 0.0);
        }
    }
}
