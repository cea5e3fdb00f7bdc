//! Operations endpoints: liveness, readiness (store, queue and Freshdesk reachable) and
//! Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ServeState;

pub async fn healthz() -> Response {
    (StatusCode::OK, "ok").into_response()
}

/// 200 only when every dependency answers; the body says which one does not.
pub async fn readyz(State(state): State<ServeState>) -> Response {
    let store = state.store.stats().await.map(|s| s.points);
    let queue = state.queue.depth().await;
    // A cheap authenticated read: the tickets updated from now on (normally one empty page).
    let freshdesk = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        state.read.tickets_updated_since(chrono::Utc::now()),
    )
    .await;
    let freshdesk_ok = matches!(freshdesk, Ok(Ok(_)));
    let ready = store.is_ok() && queue.is_ok() && freshdesk_ok;
    let body = json!({
        "ready": ready,
        "store": store.map(|points| json!({"ok": true, "points": points})).unwrap_or_else(|e| json!({"ok": false, "error": e.to_string()})),
        "queue": queue.map(|d| json!({"ok": true, "depth": d})).unwrap_or_else(|e| json!({"ok": false, "error": e.to_string()})),
        "freshdesk": match freshdesk {
            Ok(Ok(_)) => json!({"ok": true}),
            Ok(Err(e)) => json!({"ok": false, "error": e.to_string()}),
            Err(_) => json!({"ok": false, "error": "timed out after 10 s"}),
        },
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
