//! PagerDuty Events API v2 bodies (`/v2/enqueue`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = adapters::alerts::pagerduty::parse(data);
});
