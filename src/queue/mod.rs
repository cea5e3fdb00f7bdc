//! Owns durable work: the SQLite-backed job queue (one draft job per ticket, at-least-once with
//! leases, retries with backoff, dead letters) and the drafts table agents review.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a job acknowledged to Freshdesk is on disk
//! before the 202 is sent. A worker that dies mid-job leaves its lease to expire (or, on restart,
//! every `running` job is returned to the queue); the job runs again, and the note marker check in
//! the worker prevents a second note.

mod drafts;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

pub use drafts::{
    DraftRecord, DraftStatus, FeedbackStats, ProductFeedback, edit_distance as drafts_edit_distance,
};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
    fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "done" => Self::Done,
            "dead" => Self::Dead,
            _ => Self::Queued,
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Job {
    pub id: i64,
    pub ticket_id: i64,
    pub state: JobState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Whether an enqueue created a job or found the ticket's existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub job_id: i64,
    pub created: bool,
}

/// Counts by state, for `/metrics` and the review page.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct QueueDepth {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

/// The queue. Cheap to clone; every call runs on the blocking pool.
#[derive(Clone)]
pub struct JobQueue {
    connection: Arc<Mutex<Connection>>,
    path: String,
    /// Attempts before a job becomes a dead letter.
    pub max_attempts: u32,
    /// How long a claimed job is reserved before another worker may take it.
    pub lease: Duration,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl JobQueue {
    /// Opens (or creates) the database and returns jobs a crashed process left `running`.
    pub fn open(path: &Path, max_attempts: u32) -> Result<Self, QueueError> {
        let display = path.display().to_string();
        let database = |e: rusqlite::Error| QueueError::Database {
            path: display.clone(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| QueueError::Database {
                path: display.clone(),
                message: e.to_string(),
            })?;
        }
        let connection = Connection::open(path).map_err(database)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA busy_timeout=5000;
                 CREATE TABLE IF NOT EXISTS jobs (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     ticket_id INTEGER NOT NULL UNIQUE,
                     state TEXT NOT NULL,
                     attempts INTEGER NOT NULL DEFAULT 0,
                     next_attempt_at INTEGER NOT NULL,
                     lease_until INTEGER,
                     last_error TEXT,
                     source TEXT NOT NULL,
                     created_at INTEGER NOT NULL,
                     updated_at INTEGER NOT NULL);
                 CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(state, next_attempt_at);
                 CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
            )
            .map_err(database)?;
        drafts::create_tables(&connection).map_err(database)?;
        // One process owns the queue: whatever it left running died with it.
        connection
            .execute(
                "UPDATE jobs SET state='queued', lease_until=NULL WHERE state='running'",
                [],
            )
            .map_err(database)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: display,
            max_attempts: max_attempts.max(1),
            lease: Duration::from_secs(300),
        })
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, QueueError> {
        let connection = Arc::clone(&self.connection);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection.lock().unwrap_or_else(|e| e.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| QueueError::Database {
            path: path.clone(),
            message: e.to_string(),
        })?
        .map_err(|e| QueueError::Database {
            path,
            message: e.to_string(),
        })
    }

    pub(crate) async fn with_drafts<T: Send + 'static>(
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

    /// Stores a job for the ticket unless it already has one (duplicate triggers collapse).
    /// Returns only once the row is committed to disk.
    pub async fn enqueue(&self, ticket_id: i64, source: &str) -> Result<Enqueued, QueueError> {
        let source = source.to_string();
        self.with(move |connection| {
            let now = now_ms();
            let inserted = connection.execute(
                "INSERT INTO jobs (ticket_id, state, next_attempt_at, source, created_at, updated_at)
                 VALUES (?1, 'queued', ?2, ?3, ?2, ?2) ON CONFLICT(ticket_id) DO NOTHING",
                params![ticket_id, now, source],
            )?;
            let job_id: i64 = connection.query_row(
                "SELECT id FROM jobs WHERE ticket_id=?1",
                [ticket_id],
                |row| row.get(0),
            )?;
            Ok(Enqueued {
                job_id,
                created: inserted == 1,
            })
        })
        .await
    }

    /// Reserves the oldest ready job (queued and due, or running with an expired lease).
    pub async fn claim(&self) -> Result<Option<Job>, QueueError> {
        let lease_ms = self.lease.as_millis() as i64;
        self.with(move |connection| {
            let now = now_ms();
            connection
                .query_row(
                    "UPDATE jobs SET state='running', attempts=attempts+1, lease_until=?2, updated_at=?1
                     WHERE id = (SELECT id FROM jobs
                                 WHERE (state='queued' AND next_attempt_at<=?1)
                                    OR (state='running' AND lease_until<?1)
                                 ORDER BY next_attempt_at, id LIMIT 1)
                     RETURNING id, ticket_id, state, attempts, last_error, created_at",
                    params![now, now + lease_ms],
                    job_from_row,
                )
                .optional()
        })
        .await
    }

    pub async fn complete(&self, job_id: i64) -> Result<(), QueueError> {
        self.with(move |connection| {
            connection.execute(
                "UPDATE jobs SET state='done', lease_until=NULL, last_error=NULL, updated_at=?2 WHERE id=?1",
                params![job_id, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Puts the job back with a delay, or makes it a dead letter after `max_attempts`.
    /// Returns the state it ended in.
    pub async fn fail(
        &self,
        job_id: i64,
        error: &str,
        retry_in: Duration,
        permanent: bool,
    ) -> Result<JobState, QueueError> {
        let error = error.chars().take(2000).collect::<String>();
        let max_attempts = self.max_attempts;
        self.with(move |connection| {
            let attempts: u32 =
                connection.query_row("SELECT attempts FROM jobs WHERE id=?1", [job_id], |row| {
                    row.get(0)
                })?;
            let state = if permanent || attempts >= max_attempts {
                JobState::Dead
            } else {
                JobState::Queued
            };
            let now = now_ms();
            connection.execute(
                "UPDATE jobs SET state=?2, lease_until=NULL, last_error=?3, next_attempt_at=?4, updated_at=?5 WHERE id=?1",
                params![job_id, state.as_str(), error, now + retry_in.as_millis() as i64, now],
            )?;
            Ok(state)
        })
        .await
    }

    /// Moves a dead letter back to the queue (an operator fixed the cause).
    pub async fn retry_dead(&self, job_id: i64) -> Result<bool, QueueError> {
        self.with(move |connection| {
            let changed = connection.execute(
                "UPDATE jobs SET state='queued', attempts=0, next_attempt_at=?2, updated_at=?2 WHERE id=?1 AND state='dead'",
                params![job_id, now_ms()],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    pub async fn depth(&self) -> Result<QueueDepth, QueueError> {
        self.with(|connection| {
            let mut depth = QueueDepth::default();
            let mut statement =
                connection.prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })?;
            for row in rows {
                let (state, count) = row?;
                match JobState::parse(&state) {
                    JobState::Queued => depth.queued = count,
                    JobState::Running => depth.running = count,
                    JobState::Done => depth.done = count,
                    JobState::Dead => depth.dead = count,
                }
            }
            Ok(depth)
        })
        .await
    }

    pub async fn jobs(&self, state: Option<JobState>) -> Result<Vec<Job>, QueueError> {
        self.with(move |connection| {
            let mut statement = connection.prepare(
                "SELECT id, ticket_id, state, attempts, last_error, created_at FROM jobs
                 WHERE ?1 IS NULL OR state=?1 ORDER BY id",
            )?;
            let rows = statement.query_map([state.map(JobState::as_str)], job_from_row)?;
            rows.collect()
        })
        .await
    }

    /// A small persistent key-value store (the reconciler's last poll time).
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

fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: row.get(0)?,
        ticket_id: row.get(1)?,
        state: JobState::parse(&row.get::<_, String>(2)?),
        attempts: row.get(3)?,
        last_error: row.get(4)?,
        created_at: from_ms(row.get(5)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn duplicates_collapse_jobs_survive_reopening_and_failures_become_dead_letters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.sqlite");
        let queue = JobQueue::open(&path, 2).unwrap();
        let first = queue.enqueue(42, "webhook").await.unwrap();
        let again = queue.enqueue(42, "poll").await.unwrap();
        assert!(first.created && !again.created);
        assert_eq!(first.job_id, again.job_id);
        queue.enqueue(43, "webhook").await.unwrap();

        let claimed = queue.claim().await.unwrap().unwrap();
        assert_eq!((claimed.ticket_id, claimed.attempts), (42, 1));
        drop(queue);
        // A crash while 42 was running: reopening returns it to the queue.
        let queue = JobQueue::open(&path, 2).unwrap();
        let depth = queue.depth().await.unwrap();
        assert_eq!((depth.queued, depth.running), (2, 0));
        let retried = queue.claim().await.unwrap().unwrap();
        assert_eq!((retried.ticket_id, retried.attempts), (42, 2));
        let state = queue
            .fail(retried.id, "helpdesk down", Duration::ZERO, false)
            .await
            .unwrap();
        assert_eq!(state, JobState::Dead, "two attempts were allowed");
        let next = queue.claim().await.unwrap().unwrap();
        assert_eq!(next.ticket_id, 43);
        let state = queue
            .fail(next.id, "timeout", Duration::from_secs(60), false)
            .await
            .unwrap();
        assert_eq!(state, JobState::Queued);
        assert!(
            queue.claim().await.unwrap().is_none(),
            "not due for a minute"
        );
        assert!(queue.retry_dead(retried.id).await.unwrap());
        assert_eq!(queue.claim().await.unwrap().unwrap().ticket_id, 42);
    }
}
