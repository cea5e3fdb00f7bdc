//! What the bench binaries share: they measure only under `cargo bench` (under `cargo test
//! --all-targets` a bench binary only says how to run it), on a multi-threaded runtime, and
//! print their report as JSON; sizes come from the environment.

use std::future::Future;
use std::str::FromStr;

/// Under `cargo bench` (which passes `--bench`): runs `measure` and prints its report. Otherwise
/// prints how to run the bench named `name` with `command`.
pub fn run_and_print<F>(name: &str, command: &str, measure: impl FnOnce() -> F)
where
    F: Future<Output = serde_json::Value>,
{
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("{name} benchmark: run with `{command}` (skipped under cargo test)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(measure());
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
}

/// The number in environment variable `name`, else `default` (also when it does not parse: a
/// bench is run by hand, and its report prints the sizes it used).
pub fn env_number<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
