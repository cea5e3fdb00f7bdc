//! One lock per ticket around every "is it already on the ticket? then post" step. Two workers
//! can hold jobs of the same ticket at once (a draft job whose lease was taken over while its
//! model call ran long; a send job beside a draft job; with a PostgreSQL queue, workers of
//! other replicas), and a check followed by a post is only exactly-once if no other post for the
//! ticket happens in between. In-process a mutex per ticket; across replicas, in addition, the
//! ticket's PostgreSQL advisory lock (taken after the mutex, so one replica's workers queue up
//! locally and use one database connection for the ticket at a time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

use crate::queue::{AdvisoryGuard, AdvisoryLocks, JobQueue, QueueError};

/// Per-ticket async locks; entries disappear when nobody holds or waits for them.
#[derive(Default)]
pub struct TicketLocks {
    locks: Mutex<HashMap<i64, Weak<tokio::sync::Mutex<()>>>>,
    /// The advisory locks of a PostgreSQL queue shared with other replicas.
    shared: Option<AdvisoryLocks>,
}

/// Held while a ticket is checked and posted to; both locks are released when it drops.
pub struct TicketLockGuard {
    // Field order is drop order: the replicas' lock goes before this process's.
    _shared: Option<AdvisoryGuard>,
    _local: OwnedMutexGuard<()>,
}

impl TicketLocks {
    /// Locks that also keep other replicas of `queue` out (PostgreSQL), or this process's only.
    pub fn for_queue(queue: &JobQueue) -> Self {
        Self {
            locks: Mutex::default(),
            shared: AdvisoryLocks::for_queue(queue),
        }
    }

    /// Waits for the ticket's lock; released when the guard drops. Fails only when the shared
    /// queue cannot be reached (the job is retried).
    pub async fn lock(&self, ticket_id: i64) -> Result<TicketLockGuard, QueueError> {
        let local = self.lock_local(ticket_id).await;
        let shared = match &self.shared {
            Some(shared) => Some(shared.lock_ticket(ticket_id).await?),
            None => None,
        };
        Ok(TicketLockGuard {
            _shared: shared,
            _local: local,
        })
    }

    async fn lock_local(&self, ticket_id: i64) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.retain(|_, weak| weak.strong_count() > 0);
            match locks.get(&ticket_id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(ticket_id, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_per_ticket_and_other_tickets_are_free() {
        let locks = Arc::new(TicketLocks::default());
        let held = locks.lock(1).await.unwrap();
        let other = tokio::time::timeout(Duration::from_millis(50), locks.lock(2)).await;
        assert!(other.is_ok(), "another ticket is not blocked");
        let same = tokio::time::timeout(Duration::from_millis(50), locks.lock(1)).await;
        assert!(same.is_err(), "the same ticket waits");
        drop(held);
        let again = tokio::time::timeout(Duration::from_millis(50), locks.lock(1)).await;
        assert!(again.is_ok());
    }
}
