//! Queue workers: claim a job, keep its lease alive while working, run it (a draft job or a send
//! job), and record the result under the lease token, so a worker that lost its lease to
//! another cannot overwrite the newer result.

use std::time::{Duration, Instant};

use super::ServeState;
use super::drafting::process_draft_job;
use super::sending::process_send_job;
use super::supervise::supervise;
use crate::helpdesk::HelpdeskError;
use crate::queue::{Job, JobKind, JobState, QueueError};
use crate::retry::{Classify, ErrorClass, RetryPolicy};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Helpdesk(#[from] HelpdeskError),
    #[error(transparent)]
    Draft(#[from] crate::draft::DraftError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("send job {0} names no draft")]
    MissingDraft(i64),
    #[error("the job panicked: {0}")]
    Panicked(String),
}

impl JobError {
    fn permanent(&self) -> bool {
        match self {
            Self::Helpdesk(error) => error.class() == ErrorClass::Permanent,
            Self::MissingDraft(_) | Self::Queue(QueueError::DraftNotFound(_)) => true,
            _ => false,
        }
    }
}

/// Runs one job to its result. `handled_through` is the ticket's `updated_at` as a draft job
/// left it.
pub async fn process_job(
    state: &ServeState,
    job: &Job,
) -> Result<(String, Option<chrono::DateTime<chrono::Utc>>), JobError> {
    match job.kind {
        JobKind::Draft => {
            let (outcome, handled) =
                process_draft_job(state, job.ticket_id, job.created_at).await?;
            Ok((format!("{outcome:?}"), Some(handled)))
        }
        JobKind::Send => {
            let draft_id = job
                .draft_id
                .as_deref()
                .ok_or(JobError::MissingDraft(job.id))?;
            let outcome = process_send_job(state, draft_id).await?;
            Ok((format!("{outcome:?}"), None))
        }
    }
}

/// Runs `workers` supervised worker loops until `shutdown` flips; a job in progress is
/// finished first (or, if the process is killed, returned to the queue on the next start).
pub async fn run_workers(state: ServeState, shutdown: tokio::sync::watch::Receiver<bool>) {
    let workers = state.settings.workers.max(1);
    let mut handles = Vec::with_capacity(workers);
    for number in 1..=workers {
        let (state, shutdown) = (state.clone(), shutdown.clone());
        let health = std::sync::Arc::clone(&state.loop_health);
        handles.push(supervise(format!("worker-{number}"), health, move || {
            worker_loop(state.clone(), shutdown.clone())
        }));
    }
    for handle in handles {
        let _ = handle.await;
    }
}

/// One worker: claim, run, record; idle until a webhook, a retry coming due, or shutdown.
async fn worker_loop(state: ServeState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let backoff = RetryPolicy::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        match state.queue.claim().await {
            Ok(Some(job)) => run_one(&state, &job, &backoff).await,
            Ok(None) => {
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
}

/// Renews `job`'s lease every third of its length until dropped.
fn keep_lease(state: &ServeState, job: &Job) -> tokio::task::JoinHandle<()> {
    let (queue, job) = (state.queue.clone(), job.clone());
    let every = (queue.lease / 3).max(Duration::from_millis(10));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match queue.renew(&job).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job_id = job.id, "lease lost to another worker");
                    return;
                }
                Err(error) => tracing::warn!(job_id = job.id, %error, "could not renew a lease"),
            }
        }
    })
}

async fn run_one(state: &ServeState, job: &Job, backoff: &RetryPolicy) {
    let started = Instant::now();
    let renewal = keep_lease(state, job);
    // A job that panics is a failed attempt (retried, then a dead letter), not a dead worker.
    let result = {
        let (state, job) = (state.clone(), job.clone());
        tokio::spawn(async move { process_job(&state, &job).await })
            .await
            .unwrap_or_else(|error| Err(JobError::Panicked(error.to_string())))
    };
    renewal.abort();
    match result {
        Ok((outcome, handled_through)) => {
            tracing::info!(
                ticket_id = job.ticket_id,
                job_id = job.id,
                kind = job.kind.as_str(),
                outcome,
                millis = started.elapsed().as_millis() as u64,
                "job done"
            );
            if let Err(error) = state.queue.complete(job, handled_through).await {
                tracing::error!(%error, job_id = job.id, "could not mark the job done; it will run again and find its work done");
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
                .fail(job, &message, retry_in, error.permanent())
                .await
            {
                Ok(JobState::Dead) => {
                    tracing::error!(ticket_id = job.ticket_id, job_id = job.id, error = %message, "job is a dead letter");
                    if let (JobKind::Send, Some(draft_id)) = (job.kind, job.draft_id.as_deref()) {
                        // The agent sees why and may approve again.
                        let reason = format!("sending failed: {message}");
                        if let Err(e) = state.queue.sending_failed(draft_id, &reason).await {
                            tracing::error!(error = %e, "could not return the draft to pending");
                        }
                    }
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
