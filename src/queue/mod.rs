//! Owns durable work: the job queue (a draft job per ticket, a send job per approved draft;
//! at-least-once with renewable, fenced leases, retries with backoff, dead letters) and the
//! drafts agents review, one per customer message, on one of two backends behind one API:
//! SQLite (embedded, one `serve` process) or PostgreSQL (shared by several `serve` replicas).
//! Every operation is written once against `sql::Sql`; only the schema and the few row-lock
//! clauses differ.
//!
//! Durability: SQLite runs WAL with `synchronous=FULL`, PostgreSQL commits before returning, so
//! a job acknowledged to Freshdesk is durable before the 202 is sent, and an approval is
//! recorded before its request returns. A worker that dies mid-job leaves its lease to expire
//! (on SQLite, a restart also returns every `running` job to the queue); the job runs again,
//! and the checks in the workers (the note marker, the reply text since the approval began)
//! prevent a second note or reply.

mod advisory;
mod approvals;
mod console;
mod copy;
mod drafts;
mod events;
mod feedback;
mod jobs;
mod listen;
mod live;
mod outcomes;
mod pg_schema;
mod postgres;
pub mod postgres_tls;
mod schema;
mod sessions;
mod sql;
mod sqlite;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests_shared;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use sql::{Sql, params};

pub use advisory::{AdvisoryGuard, AdvisoryLocks, ReconcilerElection};
pub use approvals::{ApprovalIntent, ApprovalOutcome};
pub use console::{Neighbours, QueueFilter, QueuePage, QueueRow, TicketContext};
pub use copy::CopySummary;
pub use drafts::{DraftRecord, DraftStatus, GapDraft, NewDraft};
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
    /// The database was written by a newer deskdraft.
    #[error("{0}")]
    NewerSchema(String),
    /// `migrate-queue` copies only into an empty queue.
    #[error("the target queue is not empty ({0}): migrate-queue copies only into an empty queue")]
    TargetNotEmpty(String),
}

/// Where the queue lives.
#[derive(Clone)]
enum Backend {
    /// One process's file: every operation holds the connection's mutex.
    Sqlite {
        connection: Arc<Mutex<rusqlite::Connection>>,
        path: String,
    },
    /// Shared by every replica: row locks and advisory locks keep them apart. `connection`
    /// opens the one connection outside the pool that listens for queued jobs.
    Postgres {
        pool: deadpool_postgres::Pool,
        connection: Arc<postgres_tls::QueueConnection>,
        /// Whether this process's `LISTEN` connection is up (see `listen`).
        listening: Arc<std::sync::atomic::AtomicBool>,
    },
}

/// The queue. Cheap to clone; every call runs on the blocking pool.
#[derive(Clone)]
pub struct JobQueue {
    backend: Backend,
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
    /// Opens (or creates, or upgrades) a SQLite queue and returns jobs a crashed process left
    /// `running`.
    pub fn open(path: &Path, max_attempts: u32) -> Result<Self, QueueError> {
        let connection = sqlite::open(path)?;
        Ok(Self::with_backend(
            Backend::Sqlite {
                connection: Arc::new(Mutex::new(connection)),
                path: path.display().to_string(),
            },
            max_attempts,
        ))
    }

    /// Connects to a PostgreSQL queue shared by replicas (`url` is a secret: it is never
    /// logged nor repeated in errors) with a pool of `connections`, and applies migrations.
    /// Jobs left `running` are not touched: another replica may be running them, and a dead
    /// replica's leases expire.
    pub async fn open_postgres(
        url: &str,
        max_attempts: u32,
        connections: usize,
    ) -> Result<Self, QueueError> {
        let connection = Arc::new(postgres::parse_url(url)?);
        let pool = postgres::pool(&connection, connections)?;
        let backend = Backend::Postgres {
            pool,
            connection,
            listening: Arc::default(),
        };
        let queue = Self::with_backend(backend, max_attempts);
        let text_search_indexed = queue.with(pg_schema::migrate).await?;
        if !text_search_indexed {
            tracing::warn!(
                "the PostgreSQL extension pg_trgm could not be installed (it needs CREATE on the \
                 database): the review console's text search reads every draft, slow past tens of \
                 thousands; `CREATE EXTENSION pg_trgm` as the database owner takes effect at the \
                 next start"
            );
        }
        Ok(queue)
    }

    fn with_backend(backend: Backend, max_attempts: u32) -> Self {
        Self {
            backend,
            max_attempts: max_attempts.max(1),
            lease: Duration::from_secs(300),
        }
    }

    /// `postgres` or `sqlite`, for logs and `/metrics`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// The PostgreSQL pool, for advisory locks (none on SQLite: one process owns the queue).
    pub(crate) fn postgres_pool(&self) -> Option<&deadpool_postgres::Pool> {
        match &self.backend {
            Backend::Postgres { pool, .. } => Some(pool),
            Backend::Sqlite { .. } => None,
        }
    }

    /// Runs `work` with a connection of the queue's backend on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let joined = match &self.backend {
            Backend::Sqlite { connection, path } => {
                let (connection, path) = (Arc::clone(connection), path.clone());
                tokio::task::spawn_blocking(move || {
                    let mut guard = connection.lock().unwrap_or_else(|e| e.into_inner());
                    work(&mut sqlite::SqliteSql {
                        connection: &mut guard,
                        path: &path,
                    })
                })
                .await
            }
            Backend::Postgres { pool, .. } => {
                let client = postgres::connection(pool).await?;
                let runtime = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        work(&mut postgres::PostgresSql {
                            client: &client,
                            runtime,
                        })
                    }));
                    match outcome {
                        Ok(result) => result,
                        Err(panic) => {
                            // It may have panicked inside a transaction: close the connection
                            // rather than hand it back to the pool mid-transaction.
                            drop(deadpool_postgres::Object::take(client));
                            std::panic::resume_unwind(panic)
                        }
                    }
                })
                .await
            }
        };
        joined.map_err(|e| QueueError::Database {
            path: "queue".into(),
            message: e.to_string(),
        })?
    }

    /// A small persistent key-value store (the reconciler's last poll, cached agent ids).
    pub async fn get_value(&self, key: &str) -> Result<Option<String>, QueueError> {
        let key = key.to_string();
        self.with(move |db| {
            db.query_opt("SELECT value FROM kv WHERE key=$1", params![key])?
                .map(|row| row.text(0))
                .transpose()
        })
        .await
    }

    pub async fn set_value(&self, key: &str, value: &str) -> Result<(), QueueError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.with(move |db| {
            db.execute(
                "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
        .await
    }
}
