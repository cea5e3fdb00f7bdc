//! Call counters by endpoint and HTTP status, for metrics and for measuring cost per ticket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
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
    /// Unix milliseconds of the last answer that shows the account reachable with a valid key
    /// (2xx, or a 4xx about the request itself), and of the last one that does not (no
    /// response, 401, 403 on every call alike, 5xx); 0 before any.
    last_healthy_ms: AtomicI64,
    last_unhealthy_ms: AtomicI64,
}

/// What recent calls say about Freshdesk, so health checks need no call of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentHealth {
    pub last_healthy: Option<chrono::DateTime<chrono::Utc>>,
    pub last_unhealthy: Option<chrono::DateTime<chrono::Utc>>,
}

impl RecentHealth {
    /// Healthy when the latest answer within `window` of `now` was a healthy one.
    pub fn healthy_within(
        &self,
        window: chrono::Duration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<bool> {
        let recent = |t: Option<chrono::DateTime<chrono::Utc>>| t.filter(|t| now - *t <= window);
        match (recent(self.last_healthy), recent(self.last_unhealthy)) {
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some(ok), Some(bad)) => Some(ok > bad),
        }
    }
}

impl CallMetrics {
    pub(crate) fn record(&self, endpoint: &'static str, status: u16) {
        let now = chrono::Utc::now().timestamp_millis();
        let healthy = matches!(status, 200..=299 | 400 | 404 | 405 | 409 | 429);
        if healthy {
            self.last_healthy_ms.fetch_max(now, Ordering::Relaxed);
        } else {
            self.last_unhealthy_ms.fetch_max(now, Ordering::Relaxed);
        }
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

    /// Calls sent per endpoint, whatever their outcome.
    pub fn calls_by_endpoint(&self) -> std::collections::BTreeMap<String, u64> {
        let mut by_endpoint = std::collections::BTreeMap::new();
        for row in self.snapshot() {
            *by_endpoint.entry(row.endpoint.to_string()).or_insert(0) += row.count;
        }
        by_endpoint
    }

    /// When Freshdesk last answered well and badly.
    pub fn recent_health(&self) -> RecentHealth {
        let at = |ms: i64| {
            (ms > 0)
                .then(|| chrono::DateTime::from_timestamp_millis(ms))
                .flatten()
        };
        RecentHealth {
            last_healthy: at(self.last_healthy_ms.load(Ordering::Relaxed)),
            last_unhealthy: at(self.last_unhealthy_ms.load(Ordering::Relaxed)),
        }
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
