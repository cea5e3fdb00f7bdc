//! The approval API (bearer token): list and read drafts, approve (optionally edited, as an agent,
//! with a status to set; recorded at once and sent exactly once by a worker), reject with a
//! reason, dead letters, and feedback statistics.

use axum::Json;
use axum::extract::Request;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::ServeState;
use super::auth::{bearer_authorised, current_session, same_site_request};
use super::webhook::error;
use crate::queue::{
    ApprovalIntent, ApprovalOutcome, DraftStatus, JobState, QueueError, live_quality,
};

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
        QueueError::Database { .. }
        | QueueError::LeaseLost { .. }
        | QueueError::NewerSchema(_)
        | QueueError::TargetNotEmpty(_) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Every `/api` route needs the reviewer's bearer token, or a review-page session; a session's
/// state-changing calls must also prove they come from our page (CSRF token or our origin). As
/// a route layer it runs before any extractor, so a request without either learns nothing, not
/// even whether its body parses.
pub async fn require_reviewer(
    State(state): State<ServeState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if bearer_authorised(headers, &state.review_token) {
        return next.run(request).await;
    }
    let Some(session) = current_session(&state.queue, headers).await else {
        return unauthorised();
    };
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe
        && !same_site_request(
            headers,
            &session.csrf,
            None,
            state.settings.public_url.as_deref(),
        )
    {
        return error(
            StatusCode::FORBIDDEN,
            "a session's API call must carry X-CSRF-Token (the review page's token); scripts use Authorization: Bearer",
        );
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
        "pending, abstained, sending, approved, rejected, superseded",
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
    /// Who approved (shown on the note). Default: the agent's email, else "reviewer".
    pub by: Option<String>,
    /// The Freshdesk agent the reply is sent as (their id), or
    pub agent_id: Option<i64>,
    /// their email (resolved once by the sender and cached). Neither: the API key's agent.
    pub agent_email: Option<String>,
    /// Ticket status once sent: `"pending"`, `"resolved"`, `"closed"` or a status number.
    pub status: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct RejectBody {
    pub reason: String,
    pub by: Option<String>,
}

/// Why an approval failed, with the HTTP status it maps to.
pub struct ApprovalError(pub StatusCode, pub String);

/// A status the agent may choose when sending, as Freshdesk's number.
pub fn send_status(value: &serde_json::Value) -> Result<i64, String> {
    let number = match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "pending" => Some(3),
            "resolved" => Some(4),
            "closed" => Some(5),
            other => other.parse().ok(),
        },
        _ => None,
    };
    number.filter(|n| (2..=99).contains(n)).ok_or_else(|| {
        format!("status {value} is not one of \"pending\", \"resolved\", \"closed\" or a Freshdesk status number")
    })
}

/// Records an approval: the request returns once the intent and its send job are stored; a
/// worker sends the reply. Approving again (a second tab, a retried request) changes nothing.
pub async fn approve(
    state: &ServeState,
    id: &str,
    body: ApproveBody,
) -> Result<ApprovalOutcome, ApprovalError> {
    let map = |e: QueueError| match e {
        QueueError::DraftNotFound(_) => ApprovalError(StatusCode::NOT_FOUND, e.to_string()),
        QueueError::InvalidTransition { .. } => ApprovalError(StatusCode::CONFLICT, e.to_string()),
        other => ApprovalError(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
    };
    let current = state.queue.draft(id).await.map_err(map)?;
    let text = body.text.unwrap_or_else(|| current.draft_text.clone());
    if text.trim().is_empty() {
        return Err(ApprovalError(
            StatusCode::BAD_REQUEST,
            "the reply text is empty".into(),
        ));
    }
    let send_status = body
        .status
        .as_ref()
        .filter(|v| !v.is_null())
        .map(send_status)
        .transpose()
        .map_err(|message| ApprovalError(StatusCode::BAD_REQUEST, message))?;
    let agent_email = body
        .agent_email
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty());
    if agent_email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(ApprovalError(
            StatusCode::BAD_REQUEST,
            "agent_email is not an email address".into(),
        ));
    }
    let by = body
        .by
        .or_else(|| agent_email.clone())
        .unwrap_or_else(|| "reviewer".into());
    let intent = ApprovalIntent {
        text,
        by,
        agent_id: body.agent_id,
        agent_email,
        send_status,
    };
    let outcome = state.queue.begin_approval(id, intent).await.map_err(map)?;
    if matches!(outcome, ApprovalOutcome::Recorded(_)) {
        state.job_signal.notify_one();
    }
    Ok(outcome)
}

pub async fn approve_draft(
    State(state): State<ServeState>,
    Path(id): Path<String>,
    body: Option<Json<ApproveBody>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    match approve(&state, &id, body).await {
        Ok(ApprovalOutcome::AlreadyApproved(draft)) => Json(draft).into_response(),
        // Accepted: the reply is (being) sent by a worker; GET the draft to follow it.
        Ok(outcome) => (StatusCode::ACCEPTED, Json(outcome.draft())).into_response(),
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

/// Decisions in deskdraft (`feedback`), what agents did with drafts in Freshdesk (`live`),
/// their clicks in the sidebar app (`events`), and the queue.
pub async fn stats(State(state): State<ServeState>) -> Response {
    let gathered = async {
        Ok::<_, QueueError>((
            state.queue.feedback().await?,
            state.queue.depth().await?,
            state.queue.outcomes().await?,
            state.queue.event_counts().await?,
        ))
    };
    match gathered.await {
        Ok((feedback, depth, outcomes, events)) => {
            let live = live_quality(&outcomes, state.target_precision);
            Json(json!({"feedback": feedback, "queue": depth, "live": live, "events": events}))
                .into_response()
        }
        Err(e) => queue_error(e),
    }
}

/// The knowledge gaps of live drafts: topics of the customer messages that got no good draft
/// (abstained, not useful, rejected, rewritten or not used), newest drafts only.
pub async fn knowledge_gaps(State(state): State<ServeState>) -> Response {
    let gathered = async {
        let outcomes = state.queue.outcomes().await?;
        super::live_gaps::gather_live_gaps(&state, &outcomes).await
    };
    match gathered.await {
        Ok((gaps, drafts)) => Json(json!({
            "drafts_considered": drafts,
            "drafts_limit": super::live_gaps::LIVE_GAP_DRAFTS,
            "knowledge_gaps": gaps,
        }))
        .into_response(),
        Err(e) => queue_error(e),
    }
}
