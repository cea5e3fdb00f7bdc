//! `[queue]`: where `serve` keeps jobs, drafts, approvals and feedback. SQLite (a file, one
//! `serve` process) is the embedded default; PostgreSQL lets several replicas share one queue.
//! The PostgreSQL URL carries a password, so it is never a config key: it comes only from
//! `DESKDRAFT_QUEUE_URL` (or `DATABASE_URL`).

use serde::{Deserialize, Serialize};

/// The environment variable holding the PostgreSQL queue's URL.
pub const QUEUE_URL_ENV: &str = "DESKDRAFT_QUEUE_URL";
/// Read when `DESKDRAFT_QUEUE_URL` is not set (the name hosting platforms use).
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    /// `sqlite` (the file `serve.queue_path`, one `serve` process) or `postgres` (shared by
    /// replicas; URL from `DESKDRAFT_QUEUE_URL`). Default `sqlite`.
    pub backend: QueueBackend,
    /// Connections each process keeps to PostgreSQL. A worker holds two at once while it
    /// posts (the ticket's advisory lock and its queue writes), so at least
    /// `2 x serve.workers + 2`. Default 16.
    pub max_connections: usize,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QueueBackend {
    Sqlite,
    Postgres,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            backend: QueueBackend::Sqlite,
            max_connections: 16,
        }
    }
}

/// The PostgreSQL queue URL from the environment (`DESKDRAFT_QUEUE_URL`, else `DATABASE_URL`),
/// with the name of the variable it came from. Empty values count as unset.
pub fn queue_url_from_env() -> Option<(String, &'static str)> {
    [QUEUE_URL_ENV, DATABASE_URL_ENV]
        .into_iter()
        .find_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
                .map(|value| (value, name))
        })
}

/// Checks the URL's shape without ever repeating it (it holds a password).
pub fn check_queue_url(url: &str, variable: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| {
        format!("{variable} is not a URL (expected postgres://user:password@host:5432/database)")
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "{variable} must be a postgres:// or postgresql:// URL, not {}://",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{variable} names no host"));
    }
    // sslmode, sslrootcert (the file is read: a missing one fails here, not at the first job).
    let connection = crate::queue::postgres_tls::parse_queue_url(url)
        .map_err(|problem| format!("{variable}: {problem}"))?;
    connection
        .tls_connector()
        .map_err(|problem| format!("{variable}: {problem}"))?;
    Ok(())
}
