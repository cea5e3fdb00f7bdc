//! Test support: the same queue test on each backend. SQLite always runs; PostgreSQL runs on a
//! throwaway cluster (one per test process, a database per test) and is skipped visibly on a
//! machine without PostgreSQL.

use std::path::PathBuf;

use super::JobQueue;

#[path = "../../tests/support/postgres.rs"]
mod throwaway_postgres;

pub use throwaway_postgres::PostgresCluster;

/// A fresh queue and how to open it again (a restart, or a second replica).
pub struct TestQueue {
    pub queue: JobQueue,
    location: Location,
    _dir: Option<tempfile::TempDir>,
}

enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl TestQueue {
    pub fn sqlite(max_attempts: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.sqlite");
        Self {
            queue: JobQueue::open(&path, max_attempts).unwrap(),
            location: Location::Sqlite(path),
            _dir: Some(dir),
        }
    }

    /// `None` (after printing "skipped: ...") without PostgreSQL on this machine.
    pub async fn postgres(test: &str, max_attempts: u32) -> Option<Self> {
        let cluster = PostgresCluster::shared(test)?;
        let url = cluster.create_database(test);
        Some(Self {
            queue: JobQueue::open_postgres(&url, max_attempts, 8)
                .await
                .unwrap(),
            location: Location::Postgres(url),
            _dir: None,
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.location, Location::Postgres(_))
    }

    /// The same database opened again: a restarted process, or another replica.
    pub async fn open_again(&self, max_attempts: u32) -> JobQueue {
        match &self.location {
            Location::Sqlite(path) => JobQueue::open(path, max_attempts).unwrap(),
            Location::Postgres(url) => JobQueue::open_postgres(url, max_attempts, 8).await.unwrap(),
        }
    }

    pub fn postgres_url(&self) -> Option<&str> {
        match &self.location {
            Location::Postgres(url) => Some(url),
            Location::Sqlite(_) => None,
        }
    }
}

/// `on_both_backends!(check, max_attempts)`: a `sqlite` and a `postgres` test running
/// `async fn check(TestQueue)`, in a module named after it.
macro_rules! on_both_backends {
    ($check:ident, $max_attempts:expr) => {
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$check($crate::queue::testing::TestQueue::sqlite($max_attempts)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(queue) =
                    $crate::queue::testing::TestQueue::postgres(stringify!($check), $max_attempts)
                        .await
                else {
                    return;
                };
                super::$check(queue).await;
            }
        }
    };
}
pub(crate) use on_both_backends;
