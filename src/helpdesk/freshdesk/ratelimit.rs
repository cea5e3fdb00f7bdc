//! Client-side pacing for one Freshdesk account: a `governor` limiter on this service's budget
//! (plan limit x share), slowed down when the account's `X-RateLimit-Remaining` runs low, and a
//! shared "blocked until" instant that a 429 sets and that every task checks before sending.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

/// Remaining/total below which the budget is halved.
const HALVE_BELOW: f64 = 0.25;
/// Remaining/total below which the budget is quartered.
const QUARTER_BELOW: f64 = 0.10;
/// Remaining/total above which the full budget is restored.
const RESTORE_ABOVE: f64 = 0.50;

/// The pacing state shared by every reader and writer of one account.
pub(crate) struct AccountLimiter {
    window: Duration,
    budget: u32,
    /// Current divisor of the budget: 1, 2 or 4.
    slowdown: AtomicU32,
    general: RwLock<Arc<DefaultDirectRateLimiter>>,
    list: Option<DefaultDirectRateLimiter>,
    blocked_until: Mutex<Option<Instant>>,
    last_total: AtomicU64,
    last_remaining: AtomicU64,
}

fn limiter_for(budget: u32, window: Duration) -> DefaultDirectRateLimiter {
    let budget = budget.max(1);
    let period = window / budget;
    // A small burst keeps the worst case within one window near the budget (GCRA allows
    // burst + budget per window) while still letting a 3-credit list call through.
    let burst = NonZeroU32::new((budget / 10).max(3)).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst);
    RateLimiter::direct(quota)
}

impl AccountLimiter {
    pub(crate) fn new(budget: u32, list_budget: Option<u32>, window: Duration) -> Self {
        Self {
            window,
            budget: budget.max(1),
            slowdown: AtomicU32::new(1),
            general: RwLock::new(Arc::new(limiter_for(budget, window))),
            list: list_budget.map(|b| limiter_for(b, window)),
            blocked_until: Mutex::new(None),
            last_total: AtomicU64::new(0),
            last_remaining: AtomicU64::new(0),
        }
    }

    /// Waits until a request costing `cost` credits may be sent: after any 429 block has
    /// elapsed and within the (possibly slowed) budget. Call right before sending.
    pub(crate) async fn acquire(&self, cost: u32, is_ticket_list: bool) {
        let cost = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
        loop {
            self.wait_unblocked().await;
            if is_ticket_list && let Some(list) = &self.list {
                list.until_ready().await;
            }
            let limiter = self.current();
            if limiter.until_n_ready(cost).await.is_err() {
                // Cost above the burst: pay what the burst allows rather than never sending.
                limiter.until_ready().await;
            }
            // A 429 seen by another task while we waited for a permit blocks us too.
            if self.blocked_remaining().is_none() {
                return;
            }
        }
    }

    async fn wait_unblocked(&self) {
        while let Some(wait) = self.blocked_remaining() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Time left until requests may be sent again, if blocked.
    pub(crate) fn blocked_remaining(&self) -> Option<Duration> {
        let guard = self.blocked_until.lock().unwrap_or_else(|e| e.into_inner());
        let until = (*guard)?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Blocks every task sharing the account for `wait` (a 429's `Retry-After`); without a
    /// header, for a sixth of the window.
    pub(crate) fn block_for(&self, wait: Option<Duration>) {
        let wait = wait.unwrap_or(self.window / 6);
        let until = Instant::now() + wait;
        let mut guard = self.blocked_until.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none_or(|current| current < until) {
            *guard = Some(until);
        }
        tracing::warn!(
            wait_ms = wait.as_millis() as u64,
            "Freshdesk rate limit hit; pausing all requests"
        );
    }

    /// Adapts the pace to the account's remaining credits (shared with humans and other apps).
    pub(crate) fn observe(&self, total: Option<u64>, remaining: Option<u64>) {
        let (Some(total), Some(remaining)) = (total, remaining) else {
            return;
        };
        self.last_total.store(total, Ordering::Relaxed);
        self.last_remaining.store(remaining, Ordering::Relaxed);
        if total == 0 {
            return;
        }
        let fraction = remaining as f64 / total as f64;
        let current = self.slowdown.load(Ordering::Relaxed);
        let wanted = if fraction < QUARTER_BELOW {
            4
        } else if fraction < HALVE_BELOW {
            current.max(2)
        } else if fraction > RESTORE_ABOVE {
            1
        } else {
            current
        };
        if wanted != current
            && self
                .slowdown
                .compare_exchange(current, wanted, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let budget = (self.budget / wanted).max(1);
            let mut guard = self.general.write().unwrap_or_else(|e| e.into_inner());
            *guard = Arc::new(limiter_for(budget, self.window));
            tracing::info!(
                remaining,
                total,
                budget,
                "Freshdesk budget adapted to the account's remaining credits"
            );
        }
    }

    fn current(&self) -> Arc<DefaultDirectRateLimiter> {
        self.general
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The budget now in force, in credits per window.
    pub(crate) fn effective_budget(&self) -> u32 {
        (self.budget / self.slowdown.load(Ordering::Relaxed).max(1)).max(1)
    }

    /// The last `X-RateLimit-Total` / `X-RateLimit-Remaining` seen.
    pub(crate) fn last_seen(&self) -> (u64, u64) {
        (
            self.last_total.load(Ordering::Relaxed),
            self.last_remaining.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_remaining_slows_down_and_recovery_restores() {
        let limiter = AccountLimiter::new(100, None, Duration::from_secs(60));
        assert_eq!(limiter.effective_budget(), 100);
        limiter.observe(Some(200), Some(40));
        assert_eq!(limiter.effective_budget(), 50);
        limiter.observe(Some(200), Some(10));
        assert_eq!(limiter.effective_budget(), 25);
        limiter.observe(Some(200), Some(60));
        assert_eq!(
            limiter.effective_budget(),
            25,
            "hysteresis: no change between 25% and 50%"
        );
        limiter.observe(Some(200), Some(150));
        assert_eq!(limiter.effective_budget(), 100);
        limiter.observe(None, Some(1));
        assert_eq!(limiter.effective_budget(), 100);
    }

    #[tokio::test]
    async fn a_block_delays_acquire_until_it_elapses() {
        let limiter = AccountLimiter::new(1000, None, Duration::from_secs(1));
        limiter.block_for(Some(Duration::from_millis(150)));
        let start = Instant::now();
        limiter.acquire(1, false).await;
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn pace_stays_within_the_budget() {
        // 20 credits per 200 ms window, burst 3: 23 credits need at least ~1 window.
        let limiter = AccountLimiter::new(20, None, Duration::from_millis(200));
        let start = Instant::now();
        for _ in 0..23 {
            limiter.acquire(1, false).await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(190),
            "{:?}",
            start.elapsed()
        );
    }
}
