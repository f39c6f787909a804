//! `tocsin.toml`: parsing and validation; a file that passes must convert to the core's
//! types without the panics `Config::schedules` reserves for unvalidated configs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse("fuzz.toml", text) else {
        return;
    };
    let _ = config.schedules();
    let _ = config.directory();
    let _ = config.update_reminder();
    let _ = config.update_reminder_by_severity();
    let _ = tocsin::config::report_settings(&config);
    let _ = tocsin::config::specs(&config.actions);
    let _ = tocsin::config::group_roles(&config.roles);
    let _ = config.postmortem.settings();
    let _ = config
        .statuspage
        .settings(Some("https://status.example.com"));
    let _ = config.trackers.settings();
});
