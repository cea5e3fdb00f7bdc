//! One lock per ticket around every "is it already on the ticket? then post" step. Two workers
//! can hold jobs of the same ticket at once (a draft job whose lease was taken over while its
//! model call ran long; a send job beside a draft job), and a check followed by a post is only
//! exactly-once if no other post for the ticket happens in between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

/// Per-ticket async locks; entries disappear when nobody holds or waits for them.
#[derive(Default)]
pub struct TicketLocks {
    locks: Mutex<HashMap<i64, Weak<tokio::sync::Mutex<()>>>>,
}

impl TicketLocks {
    /// Waits for the ticket's lock; released when the guard drops.
    pub async fn lock(&self, ticket_id: i64) -> OwnedMutexGuard<()> {
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
        let held = locks.lock(1).await;
        let other = tokio::time::timeout(Duration::from_millis(50), locks.lock(2)).await;
        assert!(other.is_ok(), "another ticket is not blocked");
        let same = tokio::time::timeout(Duration::from_millis(50), locks.lock(1)).await;
        assert!(same.is_err(), "the same ticket waits");
        drop(held);
        let again = tokio::time::timeout(Duration::from_millis(50), locks.lock(1)).await;
        assert!(again.is_ok());
    }
}
