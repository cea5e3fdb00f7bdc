//! `Retry-After` and `retry-after-ms` values: never a panic, never a wait beyond
//! `MAX_RETRY_AFTER`, and the same value (padded with spaces) reads the same.
#![no_main]

use deskdraft::retry::{MAX_RETRY_AFTER, parse_retry_after, parse_retry_after_millis};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let seconds = parse_retry_after(value);
    if let Some(wait) = seconds {
        assert!(wait <= MAX_RETRY_AFTER, "{value:?} gave {wait:?}");
    }
    if let Some(wait) = parse_retry_after_millis(value) {
        assert!(wait <= MAX_RETRY_AFTER, "{value:?} (ms) gave {wait:?}");
    }
    // Delta-seconds do not depend on the clock, so surrounding spaces change nothing. (Dates
    // are compared with `now`, which moves between two calls.)
    if value.trim().parse::<f64>().is_ok() {
        assert_eq!(
            parse_retry_after(&format!(" {value} ")),
            seconds,
            "{value:?}"
        );
    }
});
