//! Owns logging setup: `tracing` to stderr, human-readable or JSON, level from `DESKDRAFT_LOG`
//! (default `info`). Ticket bodies are never logged at info level anywhere in the crate.

use tracing_subscriber::EnvFilter;

pub fn init_logging(json: bool) {
    // The embedded Qdrant engine warns about process-wide flags it expects a server to set;
    // silence it unless the user asks for it by name.
    let requested = std::env::var("DESKDRAFT_LOG").unwrap_or_else(|_| "info".to_string());
    let directives = if requested.contains("qdrant_edge") {
        requested
    } else {
        format!("{requested},qdrant_edge=error")
    };
    let filter = EnvFilter::try_new(&directives)
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
