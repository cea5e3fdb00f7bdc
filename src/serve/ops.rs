//! Operations endpoints: liveness, readiness (store, queue and Freshdesk reachable, at most one
//! Freshdesk call a minute) and Prometheus metrics.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ServeState;

pub async fn healthz() -> Response {
    (StatusCode::OK, "ok").into_response()
}

/// How far back calls the service made anyway tell whether Freshdesk answers, and how often
/// `/readyz` may ask Freshdesk itself when none did.
const FRESHDESK_EVIDENCE_WINDOW: Duration = Duration::from_secs(60);

/// Whether Freshdesk answers: judged from the calls the service made in the last minute, else
/// from one `GET /agents/me` (1 credit), made at most once a minute however often this is
/// polled.
async fn freshdesk_ready(state: &ServeState) -> bool {
    let window = chrono::Duration::from_std(FRESHDESK_EVIDENCE_WINDOW).unwrap_or_default();
    if let Some(calls) = &state.freshdesk_calls
        && let Some(healthy) = calls
            .recent_health()
            .healthy_within(window, chrono::Utc::now())
    {
        return healthy;
    }
    let mut probe = state.freshdesk_probe.lock().await;
    if let Some((at, healthy)) = *probe
        && at.elapsed() < FRESHDESK_EVIDENCE_WINDOW
    {
        return healthy;
    }
    let answer = tokio::time::timeout(Duration::from_secs(10), state.read.check_access()).await;
    let healthy = match answer {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: Freshdesk check failed");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: Freshdesk check timed out after 10 s");
            false
        }
    };
    *probe = Some((Instant::now(), healthy));
    healthy
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
    let freshdesk = freshdesk_ready(&state).await;
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
    let text = state
        .metrics
        .render(&depth, state.freshdesk_calls.as_deref());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
