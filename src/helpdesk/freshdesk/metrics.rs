//! Call counters by endpoint and HTTP status, for metrics and for measuring cost per ticket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Status recorded for calls that got no HTTP response (timeout, reset, refused).
pub const NO_RESPONSE: u16 = 0;

/// One counter row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallCount {
    /// Method and path template, e.g. `GET /tickets/{id}/conversations`.
    pub endpoint: &'static str,
    /// HTTP status, or [`NO_RESPONSE`].
    pub status: u16,
    pub count: u64,
}

/// Lock-light counters: a read lock and an atomic add on the hot path.
#[derive(Debug, Default)]
pub struct CallMetrics {
    counters: RwLock<HashMap<(&'static str, u16), Arc<AtomicU64>>>,
    credits: AtomicU64,
}

impl CallMetrics {
    pub(crate) fn record(&self, endpoint: &'static str, status: u16) {
        let key = (endpoint, status);
        if let Some(counter) = self
            .counters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut map = self.counters.write().unwrap_or_else(|e| e.into_inner());
        map.entry(key).or_default().fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_credits(&self, credits: u64) {
        self.credits.fetch_add(credits, Ordering::Relaxed);
    }

    /// All counters, sorted by endpoint then status.
    pub fn snapshot(&self) -> Vec<CallCount> {
        let map = self.counters.read().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<CallCount> = map
            .iter()
            .map(|(&(endpoint, status), count)| CallCount {
                endpoint,
                status,
                count: count.load(Ordering::Relaxed),
            })
            .collect();
        rows.sort();
        rows
    }

    /// Calls sent, whatever their outcome.
    pub fn total_calls(&self) -> u64 {
        self.snapshot().iter().map(|row| row.count).sum()
    }

    /// Calls that got a given status.
    pub fn calls_with_status(&self, status: u16) -> u64 {
        self.snapshot()
            .iter()
            .filter(|row| row.status == status)
            .map(|row| row.count)
            .sum()
    }

    /// Credits charged according to `X-RateLimit-Used-CurrentRequest`.
    pub fn credits_used(&self) -> u64 {
        self.credits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_endpoint_and_status() {
        let metrics = CallMetrics::default();
        metrics.record("GET /tickets", 200);
        metrics.record("GET /tickets", 200);
        metrics.record("GET /tickets", 429);
        metrics.record("POST /tickets/{id}/notes", 201);
        assert_eq!(metrics.total_calls(), 4);
        assert_eq!(metrics.calls_with_status(429), 1);
        assert_eq!(
            metrics.snapshot()[0],
            CallCount {
                endpoint: "GET /tickets",
                status: 200,
                count: 2
            }
        );
    }
}
