//! `deskdraft migrate-queue`: copies a SQLite job queue into an empty PostgreSQL queue (schema
//! created first), then checks that every table holds as many rows as the source. Stop `serve`
//! on the SQLite queue first; afterwards set `[queue] backend = "postgres"`.

use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Config, check_queue_url};
use crate::errors::CommandError;
use crate::queue::JobQueue;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueMigrationSummary {
    pub source: String,
    /// Rows copied per table.
    pub rows: std::collections::BTreeMap<String, u64>,
}

pub async fn run_migrate_queue(
    config: &Config,
    from: Option<PathBuf>,
    url_variable: &str,
) -> Result<QueueMigrationSummary, CommandError> {
    let source_path = from.unwrap_or_else(|| config.queue_path());
    if !source_path.is_file() {
        return Err(CommandError::BadInput(format!(
            "no SQLite queue at {} (pass --from PATH)",
            source_path.display()
        )));
    }
    let url = std::env::var(url_variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            CommandError::BadInput(format!(
                "set {url_variable} to the target PostgreSQL URL, e.g. \
                 postgres://deskdraft:secret@localhost:5432/deskdraft"
            ))
        })?;
    check_queue_url(&url, url_variable).map_err(CommandError::BadInput)?;
    let source = JobQueue::open(&source_path, config.serve.max_attempts)?;
    let target = JobQueue::open_postgres(&url, config.serve.max_attempts, 2).await?;
    let summary = source.copy_into(&target).await?;
    let (copied, held) = (source.row_counts().await?, target.row_counts().await?);
    if copied != held {
        return Err(CommandError::Config(format!(
            "after the copy the target holds {held:?} rows, the source {copied:?}"
        )));
    }
    Ok(QueueMigrationSummary {
        source: source_path.display().to_string(),
        rows: summary.rows,
    })
}
