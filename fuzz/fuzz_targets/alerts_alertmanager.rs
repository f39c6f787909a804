//! Prometheus Alertmanager webhook (version 4) bodies (`/api/v1/integrations/{key}/alertmanager`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = adapters::alerts::alertmanager::parse(data);
});
