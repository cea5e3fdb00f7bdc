//! The approval API (bearer token): list and read drafts, approve (optionally edited; sends the
//! public reply exactly once and marks the note as sent), reject with a reason, dead letters,
//! and feedback statistics.

use axum::Json;
use axum::extract::Request;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::ServeState;
use super::auth::reviewer_authorised;
use super::webhook::error;
use crate::draft::render::paragraphs;
use crate::queue::{DraftRecord, DraftStatus, JobState, QueueError, drafts_edit_distance};

/// Approvals run one at a time: two concurrent approvals of one draft must not both send.
static APPROVALS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn unauthorised() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "send Authorization: Bearer <DESKDRAFT_REVIEW_TOKEN>",
    )
}

fn queue_error(e: QueueError) -> Response {
    match e {
        QueueError::DraftNotFound(_) => error(StatusCode::NOT_FOUND, e.to_string()),
        QueueError::InvalidTransition { .. } => error(StatusCode::CONFLICT, e.to_string()),
        QueueError::Database { .. } => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Every `/api` route needs the reviewer's bearer token. As a route layer it runs before any
/// extractor, so a request without the token learns nothing, not even whether its body parses.
pub async fn require_reviewer(
    State(state): State<ServeState>,
    request: Request,
    next: Next,
) -> Response {
    if !reviewer_authorised(request.headers(), &state.review_token) {
        return unauthorised();
    }
    next.run(request).await
}

/// A `?status=` or `?state=` value as one of `T`'s snake_case names, or a message listing them.
fn parse_filter<T: DeserializeOwned>(
    name: &str,
    value: Option<&str>,
    allowed: &str,
) -> Result<Option<T>, String> {
    value
        .map(|text| {
            serde_json::from_value::<T>(json!(text))
                .map_err(|_| format!("unknown {name} {text:?}: {allowed}"))
        })
        .transpose()
}

#[derive(Debug, Deserialize)]
pub struct StatusFilter {
    status: Option<String>,
    state: Option<String>,
}

pub async fn list_drafts(
    State(state): State<ServeState>,
    Query(filter): Query<StatusFilter>,
) -> Response {
    let status = match parse_filter::<DraftStatus>(
        "status",
        filter.status.as_deref(),
        "pending, abstained, sending, approved, rejected",
    ) {
        Ok(status) => status,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    match state.queue.drafts(status).await {
        Ok(drafts) => Json(drafts).into_response(),
        Err(e) => queue_error(e),
    }
}

pub async fn get_draft(State(state): State<ServeState>, Path(id): Path<String>) -> Response {
    match state.queue.draft(&id).await {
        Ok(draft) => Json(draft).into_response(),
        Err(e) => queue_error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ApproveBody {
    /// The reply as the agent edited it; the draft's text when absent.
    pub text: Option<String>,
    /// Who approved (shown on the note). Default "reviewer".
    pub by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RejectBody {
    pub reason: String,
    pub by: Option<String>,
}

/// Why an approval failed, with the HTTP status it maps to.
pub struct ApprovalError(pub StatusCode, pub String);

/// Sends the reply once: a second approval returns the approved draft without sending; an
/// approval after a crash mid-send finds the reply on the ticket instead of sending it again.
pub async fn approve(
    state: &ServeState,
    id: &str,
    edited: Option<String>,
    by: &str,
) -> Result<DraftRecord, ApprovalError> {
    let _one_at_a_time = APPROVALS.lock().await;
    let map = |e: QueueError| match e {
        QueueError::DraftNotFound(_) => ApprovalError(StatusCode::NOT_FOUND, e.to_string()),
        QueueError::InvalidTransition { .. } => ApprovalError(StatusCode::CONFLICT, e.to_string()),
        other => ApprovalError(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
    };
    let current = state.queue.draft(id).await.map_err(map)?;
    let text = edited.unwrap_or_else(|| current.draft_text.clone());
    if text.trim().is_empty() {
        return Err(ApprovalError(
            StatusCode::BAD_REQUEST,
            "the reply text is empty".into(),
        ));
    }
    let Some(record) = state
        .queue
        .begin_approval(id, &text, by)
        .await
        .map_err(map)?
    else {
        return state.queue.draft(id).await.map_err(map);
    };
    let reply_html = paragraphs(&text);
    let already_sent = state
        .read
        .conversations(record.ticket_id)
        .await
        .ok()
        .and_then(|all| {
            all.into_iter()
                .find(|c| !c.incoming && !c.private && c.body == reply_html)
        });
    let reply = match already_sent {
        Some(reply) => reply,
        None => match state
            .write
            .create_reply(&crate::helpdesk::ReplyRequest {
                ticket_id: record.ticket_id,
                body_html: reply_html.clone(),
                agent_id: None,
                not_before: None,
            })
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                let _ = state.queue.abort_approval(id).await;
                return Err(ApprovalError(
                    StatusCode::BAD_GATEWAY,
                    format!("the reply could not be sent: {e}"),
                ));
            }
        },
    };
    let approved = state
        .queue
        .finish_approval(id, reply.id)
        .await
        .map_err(map)?;
    if let Some(note_id) = approved.note_id {
        let distance = drafts_edit_distance(&approved.draft_text, &text);
        let edits = if distance < 1e-9 {
            "sent as drafted".to_string()
        } else {
            format!(
                "sent with edits ({:.0}% of the text changed)",
                distance * 100.0
            )
        };
        let footer = format!(
            "<p><b>Sent</b> by {} at {}: {}.</p>",
            html_escape::encode_text(by),
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            edits
        );
        if let Err(e) = state
            .write
            .update_note(note_id, &format!("{}{footer}", approved.note_html))
            .await
        {
            tracing::warn!(draft_id = id, error = %e, "reply sent, but the note could not be updated");
        }
    }
    Ok(approved)
}

pub async fn approve_draft(
    State(state): State<ServeState>,
    Path(id): Path<String>,
    body: Option<Json<ApproveBody>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let by = body.by.unwrap_or_else(|| "reviewer".into());
    match approve(&state, &id, body.text, &by).await {
        Ok(draft) => Json(draft).into_response(),
        Err(ApprovalError(status, message)) => error(status, message),
    }
}

pub async fn reject_draft(
    State(state): State<ServeState>,
    Path(id): Path<String>,
    Json(body): Json<RejectBody>,
) -> Response {
    if body.reason.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "a reason is required");
    }
    let by = body.by.unwrap_or_else(|| "reviewer".into());
    match state.queue.reject(&id, body.reason.trim(), &by).await {
        Ok(draft) => Json(draft).into_response(),
        Err(e) => queue_error(e),
    }
}

pub async fn list_jobs(
    State(state): State<ServeState>,
    Query(filter): Query<StatusFilter>,
) -> Response {
    let job_state = match parse_filter::<JobState>(
        "state",
        filter.state.as_deref(),
        "queued, running, done, dead",
    ) {
        Ok(job_state) => job_state,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    match state.queue.jobs(job_state).await {
        Ok(jobs) => Json(jobs).into_response(),
        Err(e) => queue_error(e),
    }
}

pub async fn retry_job(State(state): State<ServeState>, Path(id): Path<i64>) -> Response {
    match state.queue.retry_dead(id).await {
        Ok(true) => {
            state.job_signal.notify_one();
            Json(json!({"job_id": id, "state": "queued"})).into_response()
        }
        Ok(false) => error(
            StatusCode::CONFLICT,
            format!("job {id} is not a dead letter"),
        ),
        Err(e) => queue_error(e),
    }
}

pub async fn stats(State(state): State<ServeState>) -> Response {
    let feedback = state.queue.feedback().await;
    let depth = state.queue.depth().await;
    match (feedback, depth) {
        (Ok(feedback), Ok(depth)) => {
            Json(json!({"feedback": feedback, "queue": depth})).into_response()
        }
        (Err(e), _) | (_, Err(e)) => queue_error(e),
    }
}
