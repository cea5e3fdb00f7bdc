//! Owns durable work: the SQLite-backed job queue (a draft job per ticket, a send job per
//! approved draft; at-least-once with renewable, fenced leases, retries with backoff, dead
//! letters) and the drafts agents review, one per customer message.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a job acknowledged to Freshdesk is on disk
//! before the 202 is sent, and an approval is recorded before its request returns. A worker that
//! dies mid-job leaves its lease to expire (or, on restart, every `running` job is returned to
//! the queue); the job runs again, and the checks in the workers (the note marker, the reply
//! text since the approval began) prevent a second note or reply.

mod approvals;
mod console;
mod drafts;
mod events;
mod feedback;
mod jobs;
mod live;
mod outcomes;
mod schema;
mod sessions;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

pub use approvals::{ApprovalIntent, ApprovalOutcome};
pub use console::{Neighbours, QueueFilter, QueuePage, QueueRow, TicketContext};
pub use drafts::{DraftRecord, DraftStatus, NewDraft};
pub use events::{DraftEvent, DraftEventKind};
pub use feedback::{FeedbackStats, ProductFeedback, edit_distance as drafts_edit_distance};
pub use jobs::{Enqueued, Job, JobKind, JobState, QueueDepth};
pub use live::{LiveCoveragePoint, LiveQuality, OutcomeCounts, live_quality};
pub use outcomes::{DraftOutcome, Outcome, ReplyOrigin};
pub use schema::SCHEMA_VERSION;
pub use sessions::Session;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("job queue database {path}: {message}")]
    Database { path: String, message: String },
    #[error("draft {0} not found")]
    DraftNotFound(String),
    #[error("draft {id} is {status} and cannot be {action}")]
    InvalidTransition {
        id: String,
        status: String,
        action: &'static str,
    },
    /// Another worker holds the job now (this one's lease expired): its result is discarded.
    #[error("job {job_id} is no longer leased to this worker")]
    LeaseLost { job_id: i64 },
}

/// The queue. Cheap to clone; every call runs on the blocking pool.
#[derive(Clone)]
pub struct JobQueue {
    connection: Arc<Mutex<Connection>>,
    path: String,
    /// Attempts before a job becomes a dead letter.
    pub max_attempts: u32,
    /// How long a claimed job is reserved before another worker may take it; workers renew it
    /// while they work.
    pub lease: Duration,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl JobQueue {
    /// Opens (or creates, or upgrades) the database and returns jobs a crashed process left
    /// `running`.
    pub fn open(path: &Path, max_attempts: u32) -> Result<Self, QueueError> {
        let display = path.display().to_string();
        let database = |message: String| QueueError::Database {
            path: display.clone(),
            message,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| database(e.to_string()))?;
        }
        let mut connection = Connection::open(path).map_err(|e| database(e.to_string()))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA busy_timeout=5000;",
            )
            .map_err(|e| database(e.to_string()))?;
        schema::migrate(&mut connection)
            .map_err(|e| database(e.to_string()))?
            .map_err(database)?;
        // One process owns the queue: whatever it left running died with it.
        connection
            .execute(
                "UPDATE jobs SET state='queued', lease_until=NULL WHERE state='running'",
                [],
            )
            .map_err(|e| database(e.to_string()))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: display,
            max_attempts: max_attempts.max(1),
            lease: Duration::from_secs(300),
        })
    }

    /// Runs `work` with the connection on the blocking pool; SQLite errors name the database.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, QueueError> {
        let path = self.path.clone();
        self.with_checked(move |connection| {
            work(connection).map_err(|e| QueueError::Database {
                path,
                message: e.to_string(),
            })
        })
        .await
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with_checked<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let connection = Arc::clone(&self.connection);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection.lock().unwrap_or_else(|e| e.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| QueueError::Database {
            path,
            message: e.to_string(),
        })?
    }

    /// A small persistent key-value store (the reconciler's last poll, cached agent ids).
    pub async fn get_value(&self, key: &str) -> Result<Option<String>, QueueError> {
        let key = key.to_string();
        self.with(move |connection| {
            connection
                .query_row("SELECT value FROM kv WHERE key=?1", [key], |row| row.get(0))
                .optional()
        })
        .await
    }

    pub async fn set_value(&self, key: &str, value: &str) -> Result<(), QueueError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.with(move |connection| {
            connection.execute(
                "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
        .await
    }
}

fn database(error: rusqlite::Error) -> QueueError {
    QueueError::Database {
        path: "queue".into(),
        message: error.to_string(),
    }
}
