//! The Teams app package as an admin would upload it: unzipped, its manifest checked
//! against Microsoft's published v1.29 JSON schema (offline, from the shared fixtures),
//! its icons decoded.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};

use adapters::teams::manifest::{self, ManifestError, PackageSettings};
use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

const APP_ID: &str = "8d88f59b-ae61-4300-bec0-caace7d28446";
const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/teams/app-manifest/"
);

const COMMANDS: &[(&str, &str)] = &[
    (
        "declare",
        "declare [sev1|sev2|sev3|sev4] <title>: declare an incident",
    ),
    ("status", "status [INC-n]: show an incident"),
    ("resolve", "resolve [INC-n]: resolve an incident"),
    ("oncall", "oncall [service]: who is on call"),
    ("help", "every command"),
];

fn settings() -> PackageSettings {
    PackageSettings::new(APP_ID, "https://tocsin.example.com")
}

fn fixture(name: &str) -> Value {
    let path = format!("{FIXTURES}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The v1.29 schema, checked to refer only to itself: built without remote resolution,
/// nothing may be fetched.
fn schema() -> Value {
    let schema = fixture("MicrosoftTeams.schema.v1.29.json");
    let mut refs = Vec::new();
    collect_refs(&schema, &mut refs);
    assert!(!refs.is_empty());
    let remote: Vec<&String> = refs.iter().filter(|r| !r.starts_with('#')).collect();
    assert!(remote.is_empty(), "remote $refs: {remote:?}");
    schema
}

fn collect_refs(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The schema declares draft-04 but uses `const` (draft-06) for `manifestVersion`; a
/// draft-04 validator ignores `const`, so it is read as draft-07, which keeps every
/// draft-04 keyword it uses (no boolean `exclusiveMaximum`, no `id`) and honours `const`,
/// as Microsoft's own validation does.
fn validator() -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .build(&schema())
        .expect("the schema compiles")
}

fn errors(validator: &Validator, manifest: &Value) -> Vec<String> {
    validator
        .iter_errors(manifest)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn unzip(package: &[u8]) -> zip::ZipArchive<Cursor<&[u8]>> {
    zip::ZipArchive::new(Cursor::new(package)).expect("the package is a zip")
}

fn entry(package: &[u8], name: &str) -> Vec<u8> {
    let mut archive = unzip(package);
    let mut file = archive
        .by_name(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).expect("entry reads");
    bytes
}

fn packaged_manifest(package: &[u8]) -> Value {
    serde_json::from_slice(&entry(package, "manifest.json")).expect("manifest.json is JSON")
}

#[test]
fn the_package_holds_the_manifest_and_two_icons_at_its_root() {
    let package = manifest::app_package(&settings(), COMMANDS).expect("package builds");
    let archive = unzip(&package);
    let names: BTreeSet<String> = archive
        .file_names()
        .map(|n| n.expect("names are UTF-8").into_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["manifest.json", "color.png", "outline.png"].map(String::from))
    );
    let manifest = packaged_manifest(&package);
    assert_eq!(manifest["icons"]["color"], "color.png");
    assert_eq!(manifest["icons"]["outline"], "outline.png");
    // The same settings make the same bytes (no timestamps), so a committed package
    // does not churn.
    assert_eq!(
        manifest::app_package(&settings(), COMMANDS).expect("package builds"),
        package
    );
}

#[test]
fn the_manifest_validates_against_the_v1_29_schema() {
    let package = manifest::app_package(&settings(), COMMANDS).expect("package builds");
    let manifest = packaged_manifest(&package);
    assert_eq!(
        manifest,
        manifest::manifest_json(&settings(), COMMANDS).expect("manifest")
    );
    let problems = errors(&validator(), &manifest);
    assert!(problems.is_empty(), "{problems:#?}");
    // And as the draft the schema declares.
    let draft4 = jsonschema::options()
        .with_draft(Draft::Draft4)
        .build(&schema())
        .expect("the schema compiles as draft-04");
    let problems = errors(&draft4, &manifest);
    assert!(problems.is_empty(), "{problems:#?}");

    let schema = schema();
    assert_eq!(
        schema["properties"]["manifestVersion"]["const"],
        manifest["manifestVersion"]
    );
    assert_eq!(
        manifest["$schema"],
        "https://developer.microsoft.com/json-schemas/teams/v1.29/MicrosoftTeams.schema.json"
    );
    // Settings beyond the defaults validate too.
    let full = PackageSettings {
        name: "Tocsin (production)".into(),
        version: "2.10.3".into(),
        privacy_url: Some("https://example.com/privacy".into()),
        terms_of_use_url: Some("https://example.com/terms".into()),
        ..settings()
    };
    let commands: Vec<(&str, &str)> = (0..12).map(|_| ("declare", "x")).collect();
    let manifest = manifest::manifest_json(&full, &commands).expect("manifest");
    let problems = errors(&validator(), &manifest);
    assert!(problems.is_empty(), "{problems:#?}");
    let no_commands = manifest::manifest_json(&settings(), &[]).expect("manifest");
    assert!(no_commands["bots"][0].get("commandLists").is_none());
    let problems = errors(&validator(), &no_commands);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// What a broken manifest has, and how to break one.
type Breakage = (&'static str, fn(&mut Value));

#[test]
fn the_schema_rejects_broken_manifests() {
    let validator = validator();
    let good = manifest::manifest_json(&settings(), COMMANDS).expect("manifest");
    assert!(validator.is_valid(&good));
    let broken: Vec<Breakage> = vec![
        ("no botId", |m| {
            m["bots"][0].as_object_mut().expect("bot").remove("botId");
        }),
        ("an older manifestVersion", |m| {
            m["manifestVersion"] = json!("1.28")
        }),
        ("an id that is no GUID", |m| m["id"] = json!("tocsin")),
        ("a lower-case scope spelled as in the v1.14 sample", |m| {
            m["bots"][0]["scopes"] = json!(["personal", "groupchat"])
        }),
        ("a short name over 30 characters", |m| {
            m["name"]["short"] = json!("T".repeat(31))
        }),
        ("a short description over 80 characters", |m| {
            m["description"]["short"] = json!("d".repeat(81))
        }),
        ("no privacy URL", |m| {
            m["developer"]
                .as_object_mut()
                .expect("developer")
                .remove("privacyUrl");
        }),
        ("a named accent colour", |m| m["accentColor"] = json!("red")),
        ("an unknown property", |m| {
            m["packageName"] = json!("com.example.tocsin")
        }),
        ("thirteen commands", |m| {
            m["bots"][0]["commandLists"][0]["commands"] = json!(vec![json!({"title": "x"}); 13]);
        }),
    ];
    for (what, break_it) in broken {
        let mut manifest = good.clone();
        break_it(&mut manifest);
        assert!(
            !validator.is_valid(&manifest),
            "a manifest with {what} passed validation"
        );
    }
}

#[test]
fn the_manifest_has_the_shape_of_microsofts_bot_sample() {
    // Every key Tocsin writes is one the published bot sample (v1.14) writes too, apart
    // from those the sample leaves out.
    let sample = fixture("manifest.bot-conversation.json");
    let ours = manifest::manifest_json(&settings(), COMMANDS).expect("manifest");
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    };
    assert!(keys(&ours).is_subset(&keys(&sample)));
    assert!(keys(&ours["bots"][0]).is_subset(&keys(&sample["bots"][0])));
    assert!(keys(&ours["developer"]).is_subset(&keys(&sample["developer"])));
}

#[test]
fn the_command_list_is_the_commands_given_for_every_scope() {
    let manifest = manifest::manifest_json(&settings(), COMMANDS).expect("manifest");
    let bot = &manifest["bots"][0];
    assert_eq!(bot["botId"], APP_ID);
    assert_eq!(manifest["id"], APP_ID);
    assert_eq!(bot["scopes"], json!(["personal", "team", "groupChat"]));
    assert_eq!(bot["isNotificationOnly"], false);
    assert_eq!(bot["supportsFiles"], false);
    let lists = bot["commandLists"].as_array().expect("command lists");
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0]["scopes"], bot["scopes"]);
    let given: Vec<Value> = COMMANDS
        .iter()
        .map(|(title, description)| json!({"title": title, "description": description}))
        .collect();
    assert_eq!(lists[0]["commands"], Value::Array(given));
    assert_eq!(manifest["validDomains"], json!(["tocsin.example.com"]));
    assert_eq!(
        manifest["developer"]["websiteUrl"],
        "https://tocsin.example.com"
    );

    let too_many: Vec<(&str, &str)> = (0..13).map(|_| ("x", "y")).collect();
    let err = manifest::app_package(&settings(), &too_many).expect_err("13 commands");
    assert!(matches!(err, ManifestError::TooManyCommands(13)), "{err}");
    assert!(err.to_string().contains("at most 12"), "{err}");
}

fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
    let decoder = png::Decoder::new(Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    pixels.truncate(info.buffer_size());
    (info, pixels)
}

#[test]
fn the_icons_are_rgba_pngs_of_the_sizes_teams_requires() {
    let package = manifest::app_package(&settings(), COMMANDS).expect("package builds");

    let (info, color) = decode(&entry(&package, "color.png"));
    assert_eq!((info.width, info.height), (192, 192));
    assert_eq!(info.color_type, png::ColorType::Rgba);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    assert!(
        color.chunks(4).all(|p| p[3] == 255),
        "the colour icon is opaque"
    );
    let white = color
        .chunks(4)
        .filter(|p| p[..3] == [255, 255, 255])
        .count();
    assert!(
        white > 192 * 192 / 20,
        "a glyph is drawn ({white} white pixels)"
    );
    assert!(white < 192 * 192 / 2, "on a background");

    let (info, outline) = decode(&entry(&package, "outline.png"));
    assert_eq!((info.width, info.height), (32, 32));
    assert_eq!(info.color_type, png::ColorType::Rgba);
    for (i, p) in outline.chunks(4).enumerate() {
        assert!(
            p[3] == 0 || p[..3] == [255, 255, 255],
            "pixel {i} is {p:?}: only white or transparent"
        );
    }
    let opaque = outline.chunks(4).filter(|p| p[3] == 255).count();
    let clear = outline.chunks(4).filter(|p| p[3] == 0).count();
    assert!(opaque > 32 * 32 / 10, "a glyph is drawn ({opaque})");
    assert!(clear > 32 * 32 / 3, "on transparency ({clear})");
}

#[test]
fn a_bad_app_id_is_a_clear_error() {
    let bad = PackageSettings::new("tocsin-bot", "https://tocsin.example.com");
    let err = manifest::app_package(&bad, COMMANDS).expect_err("not a GUID");
    assert!(matches!(err, ManifestError::InvalidAppId(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("`tocsin-bot`"), "{message}");
    assert!(message.contains("GUID"), "{message}");

    let http = PackageSettings::new(APP_ID, "http://tocsin.example.com");
    let err = manifest::manifest_json(&http, COMMANDS).expect_err("not https");
    assert!(err.to_string().contains("https"), "{err}");
    let version = PackageSettings {
        version: "1.0".into(),
        ..settings()
    };
    assert!(matches!(
        manifest::manifest_json(&version, COMMANDS),
        Err(ManifestError::InvalidVersion(_))
    ));
}
