//! Freshdesk API v2 client: one paced, retried, counted HTTP client per account, exposed as a
//! read capability ([`FreshdeskReader`], a `HelpdeskRead`) and a write capability
//! ([`FreshdeskWriter`], a `HelpdeskWrite`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use deskdraft::helpdesk::HelpdeskRead;
//! use deskdraft::helpdesk::freshdesk::{ApiKey, Freshdesk, FreshdeskConfig};
//! let settings = deskdraft::config::Config::load(None)?.freshdesk;
//! let freshdesk = Freshdesk::new(FreshdeskConfig::from_settings(&settings, ApiKey::from_env()?)?)?;
//! let read: Arc<dyn HelpdeskRead> = Arc::new(freshdesk.reader());
//! let writer = freshdesk.writer(); // only the drafting service gets this
//! # let _ = (read, writer); Ok(()) }
//! ```

mod canned;
mod config;
mod directory;
mod metrics;
mod ratelimit;
mod reader;
mod solutions;
mod transport;
mod wire;

pub use wire::{next_link, retry_after};
mod writer;

use std::sync::Arc;
use std::time::Duration;

pub use config::{API_KEY_ENV, ApiKey, ConfigError, FreshdeskConfig, plan_list_limit};
pub use metrics::{CallCount, CallMetrics, NO_RESPONSE, RecentHealth};
pub use reader::{Agent, AgentContact, FreshdeskReader};
pub use solutions::{SolutionCategory, SolutionFolder};
pub use writer::FreshdeskWriter;

use transport::Inner;

/// The account-level client; hand out [`Freshdesk::reader`] and [`Freshdesk::writer`].
#[derive(Clone)]
pub struct Freshdesk {
    inner: Arc<Inner>,
}

/// Pacing state, for status pages and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateStatus {
    /// Credits per window this service may use (plan limit x share).
    pub budget_per_window: u32,
    /// The budget in force now (lower while the account's remaining credits are low).
    pub effective_budget_per_window: u32,
    /// Last `X-RateLimit-Total` / `X-RateLimit-Remaining` seen (0 before the first response).
    pub last_total: u64,
    pub last_remaining: u64,
    /// Time left of a 429 pause, if one is in force.
    pub blocked_for: Option<Duration>,
}

impl Freshdesk {
    /// Builds the client. Clients built for the same base URL share one rate limiter.
    pub fn new(config: FreshdeskConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            inner: Arc::new(Inner::new(config)?),
        })
    }

    /// The read capability (give simulation/export an `Arc<dyn HelpdeskRead>` of it).
    pub fn reader(&self) -> FreshdeskReader {
        FreshdeskReader {
            inner: self.inner.clone(),
        }
    }

    /// The write capability.
    pub fn writer(&self) -> FreshdeskWriter {
        FreshdeskWriter {
            inner: self.inner.clone(),
        }
    }

    /// The API base URL, e.g. `https://acme.freshdesk.com/api/v2`.
    pub fn base_url(&self) -> &url::Url {
        &self.inner.config.base_url
    }

    /// Calls by endpoint and status, and credits charged.
    pub fn metrics(&self) -> Arc<CallMetrics> {
        self.inner.metrics.clone()
    }

    pub fn rate_status(&self) -> RateStatus {
        let limiter = &self.inner.limiter;
        let (last_total, last_remaining) = limiter.last_seen();
        RateStatus {
            budget_per_window: self.inner.config.budget_per_window(),
            effective_budget_per_window: limiter.effective_budget(),
            last_total,
            last_remaining,
            blocked_for: limiter.blocked_remaining(),
        }
    }
}
