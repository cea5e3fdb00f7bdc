//! Shared helpers for integration tests.
#![allow(dead_code)]

pub mod binary;
pub mod cdp;
pub mod freshdesk_stand_in;
pub mod freshworks_client;
pub mod openai_stand_in;
pub mod postgres;
pub mod serve_process;

/// Reports a skipped test where it is seen: straight to the process's stderr, which the test
/// harness does not capture (it captures `println!` and `eprintln!`, so a skip printed with
/// them vanishes from a passing run).
pub fn report_skip(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}
