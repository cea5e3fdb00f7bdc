//! The one retry policy of the project: every external call (HTTP APIs, Qdrant, LLM, embeddings)
//! classifies its errors into [`ErrorClass`] and runs through [`RetryPolicy::run`].
//!
//! Why one place: waits and bounds must be consistent (a 429's `Retry-After` is always honoured,
//! permanent errors are never retried), and tests can reason about a single behaviour.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// What the caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The server asked us to slow down; wait at least `retry_after` before the next request.
    RateLimited { retry_after: Option<Duration> },
    /// Likely to succeed if tried again later (timeouts, 5xx, connection resets).
    Transient,
    /// Retrying cannot help (bad credentials, missing permission, malformed request).
    Permanent,
}

/// Implemented by every error type that crosses a module boundary to an external system.
pub trait Classify {
    fn class(&self) -> ErrorClass;
}

/// Exponential backoff with full jitter, bounded in attempts and in a single wait.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Upper bound on a server-requested wait; a longer `Retry-After` is treated as permanent
    /// for this call so a job does not hang for an hour.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// The longest wait a server can impose through `Retry-After`: a larger (or infinite) value is
/// read as this, so no header can overflow a timer or park a task for years.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A `Retry-After` header value: delta-seconds (fractions tolerated, as some servers send) or an
/// HTTP date. Negative waits are no wait; `inf`, `1e20` and dates far ahead are
/// [`MAX_RETRY_AFTER`]; anything else unreadable (`NaN`, text) is `None`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return clamp_seconds(seconds);
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let seconds = (date.to_utc() - chrono::Utc::now()).num_milliseconds() as f64 / 1e3;
    clamp_seconds(seconds)
}

/// OpenAI's `retry-after-ms`: milliseconds, clamped like [`parse_retry_after`].
pub fn parse_retry_after_millis(value: &str) -> Option<Duration> {
    let millis = value.trim().parse::<f64>().ok()?;
    clamp_seconds(millis / 1e3)
}

fn clamp_seconds(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() {
        return None;
    }
    let bounded = seconds.clamp(0.0, MAX_RETRY_AFTER.as_secs_f64());
    Some(Duration::try_from_secs_f64(bounded).unwrap_or(MAX_RETRY_AFTER))
}

/// The decision for one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    RetryAfter(Duration),
    GiveUp,
}

impl RetryPolicy {
    /// A policy with no waits, for tests that exercise retry counts.
    pub fn immediate(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            max_retry_after: Duration::from_secs(3600),
        }
    }

    /// Decide what to do after attempt number `attempt` (1-based) failed with `class`.
    pub fn decide(&self, attempt: u32, class: ErrorClass) -> RetryDecision {
        if attempt >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        match class {
            ErrorClass::Permanent => RetryDecision::GiveUp,
            ErrorClass::RateLimited {
                retry_after: Some(wait),
            } => {
                if wait > self.max_retry_after {
                    RetryDecision::GiveUp
                } else {
                    // Never earlier than asked: a small positive margin absorbs clock rounding.
                    RetryDecision::RetryAfter(wait + Duration::from_millis(50))
                }
            }
            ErrorClass::RateLimited { retry_after: None } | ErrorClass::Transient => {
                RetryDecision::RetryAfter(self.backoff(attempt))
            }
        }
    }

    /// Full-jitter exponential backoff: uniform in [0, min(max, initial * 2^(attempt-1))].
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        if ceiling.is_zero() {
            return Duration::ZERO;
        }
        let millis = rand::rng().random_range(0..=ceiling.as_millis() as u64);
        Duration::from_millis(millis)
    }

    /// Run `operation` until it succeeds, fails permanently, or attempts run out.
    pub async fn run<T, E, F, Fut>(&self, mut operation: F) -> Result<T, E>
    where
        E: Classify + std::fmt::Display,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 1;
        loop {
            match operation(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) => match self.decide(attempt, error.class()) {
                    RetryDecision::GiveUp => return Err(error),
                    RetryDecision::RetryAfter(wait) => {
                        tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, %error, "retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_retry_after_values_are_clamped_not_panics() {
        assert_eq!(parse_retry_after("34"), Some(Duration::from_secs(34)));
        assert_eq!(
            parse_retry_after(" 1.5 "),
            Some(Duration::from_millis(1500))
        );
        for huge in ["inf", "+inf", "1e20", "18446744073709551616", "1e308"] {
            assert_eq!(parse_retry_after(huge), Some(MAX_RETRY_AFTER), "{huge}");
        }
        assert_eq!(parse_retry_after("-5"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-inf"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after(""), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past is no wait"
        );
        assert_eq!(
            parse_retry_after("Fri, 01 Jan 9999 00:00:00 GMT"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after_millis("250"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after_millis("1e300"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after_millis("-1"), Some(Duration::ZERO));
    }

    #[derive(Debug)]
    struct FakeError(ErrorClass);
    impl std::fmt::Display for FakeError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl Classify for FakeError {
        fn class(&self) -> ErrorClass {
            self.0
        }
    }

    #[test]
    fn permanent_errors_are_never_retried() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.decide(1, ErrorClass::Permanent),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn retry_after_is_honoured_and_never_shortened() {
        let policy = RetryPolicy::default();
        let class = ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        };
        match policy.decide(1, class) {
            RetryDecision::RetryAfter(wait) => assert!(wait >= Duration::from_secs(7)),
            RetryDecision::GiveUp => panic!("should retry"),
        }
    }

    #[test]
    fn a_retry_after_beyond_the_bound_gives_up() {
        let policy = RetryPolicy::default();
        let class = ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(policy.decide(1, class), RetryDecision::GiveUp);
    }

    #[test]
    fn backoff_grows_but_stays_bounded() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            ..RetryPolicy::default()
        };
        for attempt in 1..30 {
            assert!(policy.backoff(attempt) <= Duration::from_millis(800));
        }
    }

    #[tokio::test]
    async fn run_stops_after_max_attempts_on_transient_errors() {
        let policy = RetryPolicy::immediate(4);
        let mut calls = 0;
        let result: Result<(), FakeError> = policy
            .run(|_| {
                calls += 1;
                async { Err(FakeError(ErrorClass::Transient)) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls, 4);
    }

    #[tokio::test]
    async fn run_returns_the_first_success() {
        let policy = RetryPolicy::immediate(5);
        let result: Result<u32, FakeError> = policy
            .run(|attempt| async move {
                if attempt < 3 {
                    Err(FakeError(ErrorClass::Transient))
                } else {
                    Ok(attempt)
                }
            })
            .await;
        assert_eq!(result.unwrap(), 3);
    }
}
