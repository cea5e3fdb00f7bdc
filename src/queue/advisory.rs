//! What keeps `serve` replicas sharing one PostgreSQL queue apart beyond row locks: a per-ticket
//! advisory lock held around every "is it already on the ticket? then post" step (the
//! in-process lock only covers one replica's workers), and the election of the one replica that
//! runs the reconciler. Both are PostgreSQL session-level advisory locks, which the server
//! releases when their connection ends, so a replica that dies (even SIGKILLed) frees them.
//! On SQLite there is one process: the in-process lock is enough and it always leads.

use deadpool_postgres::{Object, Pool};

use super::postgres::{self, postgres_error};
use super::{JobQueue, QueueError};

/// Tickets' keys: the ticket id in the low 48 bits under a namespace of ours, so other users of
/// advisory locks in the same database do not collide with us.
const TICKET_NAMESPACE: i64 = 0x6464 << 48; // "dd"
/// The reconciler's leadership.
const RECONCILER_KEY: i64 = 0x6472_6563_6f6e_6369; // "dreconci"

fn ticket_key(ticket_id: i64) -> i64 {
    TICKET_NAMESPACE | (ticket_id & 0xFFFF_FFFF_FFFF)
}

/// Per-ticket locks shared by every replica of a PostgreSQL queue.
#[derive(Clone)]
pub struct AdvisoryLocks {
    pool: Pool,
}

impl AdvisoryLocks {
    /// None for a SQLite queue.
    pub fn for_queue(queue: &JobQueue) -> Option<Self> {
        queue
            .postgres_pool()
            .map(|pool| Self { pool: pool.clone() })
    }

    /// Waits until no other replica holds the ticket; released when the guard drops.
    pub async fn lock_ticket(&self, ticket_id: i64) -> Result<AdvisoryGuard, QueueError> {
        let key = ticket_key(ticket_id);
        // Until the lock is ours, the connection is closed rather than pooled if this future is
        // dropped or fails: its server session may still be waiting for (or just got) the lock.
        let mut waiting = Unpooled(Some(postgres::connection(&self.pool).await?));
        if let Some(client) = &waiting.0 {
            client
                .execute("SELECT pg_advisory_lock($1)", &[&key])
                .await
                .map_err(postgres_error)?;
        }
        Ok(AdvisoryGuard {
            client: waiting.0.take(),
            key,
        })
    }
}

/// A connection closed (never returned to the pool) if dropped while still held here.
struct Unpooled(Option<Object>);

impl Drop for Unpooled {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}

/// Holds a ticket's advisory lock on its own pooled connection.
pub struct AdvisoryGuard {
    client: Option<Object>,
    key: i64,
}

impl Drop for AdvisoryGuard {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let key = self.key;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to unlock with: closing the connection releases the lock.
            drop(Object::take(client));
            return;
        };
        runtime.spawn(async move {
            let unlocked = client
                .query_one("SELECT pg_advisory_unlock($1)", &[&key])
                .await
                .map(|row| row.get::<_, bool>(0));
            if !matches!(unlocked, Ok(true)) {
                // The lock may still be held by this session: never hand such a connection
                // back to the pool (its next user would hold the ticket unknowingly).
                tracing::warn!("could not release a ticket lock; closing its connection");
                drop(Object::take(client));
            }
        });
    }
}

/// The reconciler's election: the replica whose dedicated connection holds the advisory lock
/// runs it; the others try again every few seconds and take over when the holder's connection
/// ends (the replica died or lost the database).
pub struct ReconcilerElection {
    pool: Option<Pool>,
    leader: Option<deadpool_postgres::ClientWrapper>,
}

impl ReconcilerElection {
    pub fn new(queue: &JobQueue) -> Self {
        Self {
            pool: queue.postgres_pool().cloned(),
            leader: None,
        }
    }

    /// Whether this process runs the reconciler now (a SQLite queue's only process always
    /// does). Checks that a held leadership's connection is still alive.
    pub async fn lead(&mut self) -> bool {
        let Some(pool) = &self.pool else {
            return true;
        };
        if let Some(leader) = &self.leader {
            if leader.simple_query("SELECT 1").await.is_ok() {
                return true;
            }
            tracing::warn!("lost the reconciler leadership (its database connection ended)");
            self.leader = None;
        }
        let client = match postgres::connection(pool).await {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, "reconciler election: no database connection");
                return false;
            }
        };
        match client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&RECONCILER_KEY])
            .await
        {
            Ok(row) if row.get::<_, bool>(0) => {
                tracing::info!("this replica now runs the reconciler");
                // Out of the pool: the lock lives as long as this connection, kept for it alone.
                self.leader = Some(Object::take(client));
                true
            }
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(error = %postgres_error(error), "reconciler election failed");
                false
            }
        }
    }

    /// Whether this process holds the leadership (without checking the connection).
    pub fn is_leader(&self) -> bool {
        self.pool.is_none() || self.leader.is_some()
    }
}
