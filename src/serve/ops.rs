//! Operations endpoints: liveness, readiness (store, queue and Freshdesk reachable, at most one
//! Freshdesk call a minute) and Prometheus metrics.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ServeState;
use crate::helpdesk::freshdesk::RecentHealth;

/// 200 while every worker loop and the reconciler run; 503 naming the loops that are down (a
/// loop that panicked is restarted after a pause; one that keeps dying keeps this unhealthy).
pub async fn healthz(State(state): State<ServeState>) -> Response {
    let down = state.loop_health.down();
    if down.is_empty() {
        return (StatusCode::OK, "ok").into_response();
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"healthy": false, "loops_down": down})),
    )
        .into_response()
}

/// How far back calls the service made anyway tell whether Freshdesk answers, and how often
/// `/readyz` may ask Freshdesk itself when none did.
const FRESHDESK_EVIDENCE_WINDOW: Duration = Duration::from_secs(60);

/// Whether Freshdesk answers, at most one call of its own per window: the calls the service
/// made anyway decide when there are recent ones; otherwise one check is made and its answer
/// kept for the window, however often readiness is polled.
#[derive(Debug)]
pub struct ReadinessProbe {
    window: Duration,
    last_check: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

impl Default for ReadinessProbe {
    fn default() -> Self {
        Self::new(FRESHDESK_EVIDENCE_WINDOW)
    }
}

impl ReadinessProbe {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last_check: tokio::sync::Mutex::new(None),
        }
    }

    /// `recent`: what the service's own calls say; `check`: one call of our own.
    pub async fn ready<F: std::future::Future<Output = bool>>(
        &self,
        recent: Option<RecentHealth>,
        check: impl FnOnce() -> F,
    ) -> bool {
        let window = chrono::Duration::from_std(self.window).unwrap_or_default();
        if let Some(healthy) =
            recent.and_then(|health| health.healthy_within(window, chrono::Utc::now()))
        {
            return healthy;
        }
        let mut last = self.last_check.lock().await;
        if let Some((at, healthy)) = *last
            && at.elapsed() < self.window
        {
            return healthy;
        }
        let healthy = check().await;
        *last = Some((Instant::now(), healthy));
        healthy
    }
}

/// One `GET /agents/me` (1 credit) with a 10 s limit; failures are logged, not shown.
async fn check_freshdesk(state: &ServeState) -> bool {
    match tokio::time::timeout(Duration::from_secs(10), state.read.check_access()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: Freshdesk check failed");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: Freshdesk check timed out after 10 s");
            false
        }
    }
}

/// 200 only when the store, the queue and Freshdesk answer. Anyone may call it, so the body
/// names what is not ready without internal error text (which is logged instead).
pub async fn readyz(State(state): State<ServeState>) -> Response {
    let store = state.store.stats().await;
    if let Err(error) = &store {
        tracing::warn!(%error, "readiness: the vector store does not answer");
    }
    let queue = state.queue.depth().await;
    if let Err(error) = &queue {
        tracing::warn!(%error, "readiness: the job queue does not answer");
    }
    let recent = state.freshdesk_calls.as_ref().map(|c| c.recent_health());
    let freshdesk = state
        .freshdesk_probe
        .ready(recent, || check_freshdesk(&state))
        .await;
    let ready = store.is_ok() && queue.is_ok() && freshdesk;
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = json!({
        "ready": ready,
        "store": word(store.is_ok()),
        "queue": word(queue.is_ok()),
        "freshdesk": word(freshdesk),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<ServeState>) -> Response {
    let depth = state.queue.depth().await.unwrap_or_default();
    let mut text = state.metrics.render(
        &depth,
        state.freshdesk_calls.as_deref(),
        state.queue.listening_for_jobs(),
    );
    // Live quality from the stored outcomes (re-read at most once a minute); a queue that
    // cannot be read leaves them out rather than failing the whole scrape.
    let live = state
        .metrics
        .live_quality_text(|| async {
            let outcomes = state.queue.outcomes().await?;
            Ok::<_, crate::queue::QueueError>(super::metrics::render_live_quality(
                &crate::queue::live_quality(&outcomes, state.target_precision),
            ))
        })
        .await;
    text.push_str(live.as_deref().unwrap_or_default());
    text.push_str(&format!(
        "# HELP deskdraft_loop_restarts_total Worker and reconciler loops restarted after a panic.\n\
         # TYPE deskdraft_loop_restarts_total counter\ndeskdraft_loop_restarts_total {}\n",
        state.loop_health.restarts()
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn sixty_polls_a_minute_cost_at_most_one_check_and_recent_calls_cost_none() {
        let probe = ReadinessProbe::new(Duration::from_secs(60));
        let checks = AtomicUsize::new(0);
        for _ in 0..60 {
            let ready = probe
                .ready(None, || async {
                    checks.fetch_add(1, Ordering::Relaxed);
                    true
                })
                .await;
            assert!(ready);
        }
        assert_eq!(checks.load(Ordering::Relaxed), 1);

        // Recent calls decide alone, in both directions.
        let fresh = ReadinessProbe::new(Duration::from_secs(60));
        let now = chrono::Utc::now();
        let failing = RecentHealth {
            last_healthy: Some(now - chrono::Duration::seconds(20)),
            last_unhealthy: Some(now - chrono::Duration::seconds(5)),
        };
        let never = || async { panic!("no call of its own when recent calls tell") };
        assert!(!fresh.ready(Some(failing), never).await);
        let healthy = RecentHealth {
            last_healthy: Some(now),
            last_unhealthy: Some(now - chrono::Duration::seconds(5)),
        };
        assert!(fresh.ready(Some(healthy), never).await);
        // Evidence older than the window does not count: one check is made.
        let stale = RecentHealth {
            last_healthy: Some(now - chrono::Duration::minutes(5)),
            last_unhealthy: None,
        };
        assert!(!fresh.ready(Some(stale), || async { false }).await);
    }
}
