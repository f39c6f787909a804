//! Grafana webhook bodies (`/api/v1/integrations/{key}/grafana`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = adapters::alerts::grafana::parse(data);
});
