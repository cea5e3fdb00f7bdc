//! Owns logging setup: `tracing` to stderr, human-readable or JSON, level from `DESKDRAFT_LOG`
//! (default `info`). Ticket bodies are never logged at info level anywhere in the crate.

use tracing_subscriber::EnvFilter;

pub fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_env("DESKDRAFT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,qdrant_edge=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests) is harmless: keep the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}
