//! The API of the Freshdesk sidebar app (`freshdesk-app/`): the draft for a ticket's latest
//! customer message, feedback on it (not useful, inserted into the reply editor), and redrafts.
//! Authenticated by the app token (`DESKDRAFT_APP_TOKEN`), which opens these routes only; the
//! review token opens them too. The app reaches them through the Freshworks request proxy, so
//! browsers call them only from origins listed in `serve.app_origins` (CORS).

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ServeState;
use super::auth::bearer_authorised;
use super::webhook::error;
use crate::draft::confidence::band_of;
use crate::queue::{DraftEventKind, DraftRecord, JobState, QueueError};

/// The app token or the review token, as a bearer token.
pub async fn require_app(
    State(state): State<ServeState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let app = state
        .app_token
        .as_ref()
        .is_some_and(|token| bearer_authorised(headers, token));
    if app || bearer_authorised(headers, &state.review_token) {
        return next.run(request).await;
    }
    error(
        StatusCode::UNAUTHORIZED,
        "send Authorization: Bearer <DESKDRAFT_APP_TOKEN> (the app token set in the app's settings)",
    )
}

fn queue_error(e: QueueError) -> Response {
    match e {
        QueueError::DraftNotFound(_) => error(StatusCode::NOT_FOUND, e.to_string()),
        QueueError::InvalidTransition { .. } => error(StatusCode::CONFLICT, e.to_string()),
        other => {
            tracing::error!(error = %other, "app API: queue unavailable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "deskdraft's queue is unavailable; try again",
            )
        }
    }
}

/// A draft as the app shows it.
fn draft_view(draft: &DraftRecord) -> Value {
    let sources: Vec<Value> = draft.draft["sources"]
        .as_array()
        .map(|sources| {
            sources
                .iter()
                .map(|s| {
                    let key = s["key"].as_str().unwrap_or("");
                    json!({
                        "key": key,
                        "kind": key.split(':').next().unwrap_or(""),
                        "title": s["title"],
                        "url": s["url"],
                        "age_days": s["age_days"],
                        "agent_only": s["agent_only"].as_bool().unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": draft.id,
        "message_id": draft.message_id,
        "revision": draft.revision,
        "status": draft.status,
        "kind": draft.kind,
        "text": draft.draft_text,
        "confidence": draft.confidence,
        "confidence_band": band_of(draft.confidence),
        "flags": draft.draft["flags"].as_array().cloned().unwrap_or_default(),
        "sources": sources,
        "abstain_reason": draft.draft["abstain_reason"],
        "created_at": draft.created_at,
    })
}

/// `GET /api/tickets/{ticket_id}/draft`: the current draft, or why there is none.
pub async fn ticket_draft(State(state): State<ServeState>, Path(ticket_id): Path<i64>) -> Response {
    let draft = match state.queue.latest_draft_for_ticket(ticket_id).await {
        Ok(draft) => draft,
        Err(e) => return queue_error(e),
    };
    let job = match state.queue.draft_job_state(ticket_id).await {
        Ok(job) => job,
        Err(e) => return queue_error(e),
    };
    let working = matches!(job, Some(JobState::Queued | JobState::Running));
    let (status, reason) = match (&draft, job) {
        (Some(d), _) if d.redraft_requested && working => (
            "drafting",
            Some("a new draft was asked for and is being written".to_string()),
        ),
        (Some(d), _) if d.kind == "abstained" => ("abstained", None),
        (Some(_), _) => ("drafted", None),
        (None, _) if working => (
            "drafting",
            Some("deskdraft is drafting this ticket now".to_string()),
        ),
        (None, Some(JobState::Done)) => (
            "answered",
            Some("the customer's latest message already has an agent's reply, or the ticket is closed".to_string()),
        ),
        (None, Some(JobState::Dead)) => (
            "not_drafted",
            Some("drafting this ticket failed; ask for a redraft, or see deskdraft's dead letters".to_string()),
        ),
        (None, _) => (
            "not_drafted",
            Some("deskdraft has not seen this ticket yet (check the automation rules), or ask for a draft now".to_string()),
        ),
    };
    Json(json!({
        "ticket_id": ticket_id,
        "state": status,
        "reason": reason,
        "draft": draft.as_ref().map(draft_view),
        "job": job.map(|state| json!({"state": state})),
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub struct FeedbackBody {
    pub kind: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
}

/// `POST /api/drafts/{id}/feedback`: "not useful" (with a reason) or "inserted".
pub async fn draft_feedback(
    State(state): State<ServeState>,
    Path(id): Path<String>,
    Json(body): Json<FeedbackBody>,
) -> Response {
    let kind = match body.kind.as_str() {
        "not_useful" => DraftEventKind::NotUseful,
        "inserted" => DraftEventKind::Inserted,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("unknown feedback kind {other:?}: use \"not_useful\" or \"inserted\""),
            );
        }
    };
    let reason = body
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if kind == DraftEventKind::NotUseful && reason.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "a reason is required for \"not_useful\"",
        );
    }
    if let Err(e) = state.queue.draft(&id).await {
        return queue_error(e);
    }
    match state
        .queue
        .record_event(&id, kind, reason, body.agent.as_deref())
        .await
    {
        Ok(()) => (StatusCode::CREATED, Json(json!({"recorded": true}))).into_response(),
        Err(e) => queue_error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RedraftBody {
    #[serde(default)]
    pub agent: Option<String>,
}

/// `POST /api/tickets/{ticket_id}/redraft`: a new draft of the latest customer message (or a
/// first draft of a ticket deskdraft has not seen).
pub async fn redraft(
    State(state): State<ServeState>,
    Path(ticket_id): Path<i64>,
    body: Option<Json<RedraftBody>>,
) -> Response {
    let agent = body.and_then(|Json(b)| b.agent);
    let superseded = match state.queue.request_redraft(ticket_id).await {
        Ok(draft) => Some(draft.id),
        Err(QueueError::DraftNotFound(_)) => None,
        Err(e) => return queue_error(e),
    };
    if let Some(id) = &superseded
        && let Err(e) = state
            .queue
            .record_event(id, DraftEventKind::Redraft, None, agent.as_deref())
            .await
    {
        return queue_error(e);
    }
    match state.queue.enqueue(ticket_id, "redraft").await {
        Ok(enqueued) => {
            state.job_signal.notify_one();
            (
                StatusCode::ACCEPTED,
                Json(json!({
                    "ticket_id": ticket_id,
                    "job_id": enqueued.job_id,
                    "superseded_draft_id": superseded,
                })),
            )
                .into_response()
        }
        Err(e) => queue_error(e),
    }
}
