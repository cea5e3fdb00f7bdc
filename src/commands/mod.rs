//! Owns the runners behind each CLI subcommand; `main.rs` only parses arguments and calls these.

pub mod check_config;
pub mod draft;
pub mod export;
pub mod freshdesk;
pub mod ingest;
pub mod migrate_queue;
pub mod migrate_store;
pub mod serve;
pub mod stats;

/// A progress bar that draws only when stderr is a terminal (quiet in CI and pipes).
pub fn progress_bar(length: Option<u64>, message: &'static str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match length {
        Some(length) => indicatif::ProgressBar::new(length),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let template = if length.is_some() {
        "{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})"
    } else {
        "{msg:>10} {spinner} {pos} ({per_sec})"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}
