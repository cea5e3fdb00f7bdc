//! Queue workers and the polling reconciler.
//!
//! A job drafts one ticket and posts one private note. Exactly once, across crashes: the draft is
//! stored before the note is posted (a rerun reuses it, so the note body is identical), the note
//! carries a marker with the draft id, and before posting the worker looks for that marker among
//! the ticket's notes. A crash after posting but before recording the note therefore finds the
//! note instead of posting a second one.

use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use super::ServeState;
use crate::draft::render::render_note_html;
use crate::draft::{DraftKind, DraftRequest};
use crate::helpdesk::HelpdeskError;
use crate::queue::{DraftRecord, DraftStatus, Job, JobState};
use crate::retry::{Classify, ErrorClass, RetryPolicy};

/// Namespace of draft ids (UUIDv5 of the ticket id): one draft per ticket, the same on a rerun.
const DRAFT_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_4c1e_9f2b_4d7e_8c3a_51d0_e2b4_77a1);

pub fn draft_id(ticket_id: i64) -> String {
    Uuid::new_v5(&DRAFT_NAMESPACE, ticket_id.to_string().as_bytes()).to_string()
}

/// The text that identifies a draft's note; kept as visible text because Freshdesk sanitises
/// note HTML (comments and data attributes may not survive), and text always does.
pub fn note_marker(draft_id: &str) -> String {
    format!("deskdraft:{draft_id}")
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Helpdesk(#[from] HelpdeskError),
    #[error(transparent)]
    Draft(#[from] crate::draft::DraftError),
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
}

impl JobError {
    fn permanent(&self) -> bool {
        match self {
            Self::Helpdesk(error) => error.class() == ErrorClass::Permanent,
            _ => false,
        }
    }
}

/// What a finished job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Posted,
    /// The note existed already (an earlier attempt posted it before crashing).
    FoundPosted,
    /// Nothing to do: the draft's note was already recorded.
    AlreadyDone,
}

/// Drafts the job's ticket and posts its note, exactly once.
pub async fn process_job(state: &ServeState, job: &Job) -> Result<JobOutcome, JobError> {
    let existing = state.queue.draft_for_ticket(job.ticket_id).await?;
    if existing.as_ref().is_some_and(|d| d.note_id.is_some()) {
        return Ok(JobOutcome::AlreadyDone);
    }
    let record = match existing {
        Some(record) => record,
        None => {
            let ticket = state.read.ticket_with_conversations(job.ticket_id).await?;
            let request = DraftRequest::from_ticket(&ticket, None);
            let draft = state.drafter.draft(&request).await?;
            let id = draft_id(job.ticket_id);
            let note_html = format!(
                "{}<p><small>{}</small></p>",
                render_note_html(&draft),
                note_marker(&id)
            );
            let outcome = outcome_name(&draft);
            let record = DraftRecord {
                id,
                ticket_id: job.ticket_id,
                status: if draft.kind == DraftKind::Abstained {
                    DraftStatus::Abstained
                } else {
                    DraftStatus::Pending
                },
                kind: outcome.to_string(),
                product: request.product.clone(),
                confidence: draft.confidence,
                draft_text: draft.text.clone(),
                note_html,
                draft: serde_json::to_value(&draft).unwrap_or_default(),
                note_id: None,
                reply_id: None,
                sent_text: None,
                decided_by: None,
                reject_reason: None,
                created_at: Utc::now(),
                decided_at: None,
            };
            state.queue.insert_draft(record).await?
        }
    };
    let marker = note_marker(&record.id);
    let conversations = state.write.conversations_of(job.ticket_id).await?;
    if let Some(posted) = conversations.iter().find(|n| {
        n.private
            && (n.body.contains(&marker)
                || n.body_text.as_deref().is_some_and(|t| t.contains(&marker)))
    }) {
        state.queue.set_note(&record.id, posted.id).await?;
        return Ok(JobOutcome::FoundPosted);
    }
    let note = state
        .write
        .create_private_note(job.ticket_id, &record.note_html, &marker)
        .await?;
    state.queue.set_note(&record.id, note.id).await?;
    let tokens = record.draft["llm"]["prompt_tokens"]
        .as_u64()
        .zip(record.draft["llm"]["completion_tokens"].as_u64())
        .map(|(p, c)| (p as u32, c as u32));
    let waited = (Utc::now() - job.created_at).num_milliseconds().max(0) as f64 / 1e3;
    state.metrics.drafted(&record.kind, waited, tokens);
    Ok(JobOutcome::Posted)
}

fn outcome_name(draft: &crate::draft::Draft) -> &'static str {
    match (draft.kind, draft.llm_fallback.is_some()) {
        (DraftKind::RetrievalOnly, true) => "llm_fallback",
        (kind, _) => kind.as_str(),
    }
}

/// Runs `workers` loops until `shutdown` flips; a job in progress is finished first (or, if the
/// process is killed, returned to the queue on the next start).
pub async fn run_workers(state: ServeState, shutdown: tokio::sync::watch::Receiver<bool>) {
    let workers = state.settings.workers.max(1);
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let state = state.clone();
        let mut shutdown = shutdown.clone();
        handles.push(tokio::spawn(async move {
            let backoff = RetryPolicy::default();
            loop {
                if *shutdown.borrow() {
                    return;
                }
                match state.queue.claim().await {
                    Ok(Some(job)) => run_one(&state, &job, &backoff).await,
                    Ok(None) => {
                        // Idle: wait for a webhook, a retry coming due, or shutdown.
                        tokio::select! {
                            _ = state.job_signal.notified() => {}
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "job queue unavailable");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
    }
    for handle in handles {
        let _ = handle.await;
    }
}

async fn run_one(state: &ServeState, job: &Job, backoff: &RetryPolicy) {
    let started = Instant::now();
    match process_job(state, job).await {
        Ok(outcome) => {
            tracing::info!(
                ticket_id = job.ticket_id,
                job_id = job.id,
                ?outcome,
                millis = started.elapsed().as_millis() as u64,
                "job done"
            );
            if let Err(error) = state.queue.complete(job.id).await {
                tracing::error!(%error, job_id = job.id, "could not mark the job done; it will run again and find its note");
            }
        }
        Err(error) => {
            state.metrics.job_failed();
            let retry_in = match &error {
                JobError::Helpdesk(HelpdeskError::RateLimited {
                    retry_after: Some(wait),
                }) => *wait,
                _ => backoff.backoff(job.attempts),
            };
            let message = error.to_string();
            match state
                .queue
                .fail(job.id, &message, retry_in, error.permanent())
                .await
            {
                Ok(JobState::Dead) => {
                    tracing::error!(ticket_id = job.ticket_id, job_id = job.id, error = %message, "job is a dead letter")
                }
                Ok(_) => {
                    tracing::warn!(ticket_id = job.ticket_id, job_id = job.id, error = %message, ?retry_in, "job failed; will retry")
                }
                Err(queue_error) => {
                    tracing::error!(%queue_error, "could not record the job failure")
                }
            }
        }
    }
}

/// Every `poll_interval_seconds`: tickets updated since the last poll that are open and have no
/// draft job yet are enqueued (webhooks Freshdesk dropped or delayed). Duplicates collapse.
pub async fn run_reconciler(state: ServeState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let interval = state.settings.poll_interval_seconds;
    if interval == 0 {
        return;
    }
    loop {
        if let Err(error) = reconcile_once(&state).await {
            tracing::warn!(%error, "reconciler poll failed; trying again next interval");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(interval)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One poll; returns how many jobs it created.
pub async fn reconcile_once(state: &ServeState) -> Result<usize, JobError> {
    const KEY: &str = "reconciler_last_poll";
    let now = Utc::now();
    // First run: look back one day (Freshdesk drops webhooks it could not deliver for 24 h).
    let since = state
        .queue
        .get_value(KEY)
        .await?
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(&text).ok())
        .map(|t| t.to_utc())
        .unwrap_or(now - chrono::Duration::hours(24));
    let tickets = state.read.tickets_updated_since(since).await?;
    let mut created = 0;
    for ticket in tickets {
        // New and open (status 2), not spam or deleted: the tickets a webhook would have reported.
        if ticket.status != 2 || ticket.spam || ticket.deleted || ticket.created_at < since {
            continue;
        }
        if state.queue.enqueue(ticket.id, "poll").await?.created {
            created += 1;
        }
    }
    // Overlap by a minute so a ticket updated during the poll is not missed.
    let next = now - chrono::Duration::minutes(1);
    state.queue.set_value(KEY, &next.to_rfc3339()).await?;
    if created > 0 {
        state.job_signal.notify_waiters();
        tracing::info!(created, "reconciler enqueued tickets the webhook missed");
    }
    Ok(created)
}
