//! The reconciler: every `poll_interval_seconds` it lists the tickets updated since its last
//! poll (fields only: 1 credit a page of 100) and queues a draft job for each ticket that changed
//! since its job last looked at it and is open (webhooks Freshdesk dropped or delayed, new tickets
//! and customer follow-ups alike) or has a draft whose outcome is unknown (an agent's reply to
//! learn from). The job itself decides what there is to do.
//!
//! It runs once per queue: on PostgreSQL the replicas elect one of them through an advisory
//! lock held by a dedicated connection; the others check every few seconds and take over when
//! the leader's connection ends (it died, or lost the database).

use std::time::Duration;

use chrono::Utc;

use super::ServeState;
use super::supervise::supervise;
use super::worker::JobError;
use crate::queue::ReconcilerElection;

const LAST_POLL_KEY: &str = "reconciler_last_poll";

/// Freshdesk's "Open" status: a new ticket, or one the customer wrote to again (Freshdesk
/// reopens a ticket on a customer reply).
const OPEN: i64 = 2;

/// How often a replica that does not run the reconciler checks whether the leader is gone.
const ELECTION_RETRY: Duration = Duration::from_secs(5);

/// Runs the supervised reconciler until `shutdown` flips (not at all when polling is off).
pub async fn run_reconciler(state: ServeState, shutdown: tokio::sync::watch::Receiver<bool>) {
    if state.settings.poll_interval_seconds == 0 {
        return;
    }
    let health = std::sync::Arc::clone(&state.loop_health);
    let _ = supervise("reconciler".into(), health, move || {
        reconcile_loop(state.clone(), shutdown.clone())
    })
    .await;
}

async fn reconcile_loop(state: ServeState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let interval = Duration::from_secs(state.settings.poll_interval_seconds);
    let mut election = ReconcilerElection::new(&state.queue);
    loop {
        let wait = if election.lead().await {
            state.metrics.set_reconciler_leader(true);
            if let Err(error) = reconcile_once(&state).await {
                tracing::warn!(%error, "reconciler poll failed; trying again next interval");
            }
            interval
        } else {
            state.metrics.set_reconciler_leader(false);
            interval.min(ELECTION_RETRY)
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One poll; returns how many jobs it queued.
pub async fn reconcile_once(state: &ServeState) -> Result<usize, JobError> {
    let now = Utc::now();
    // First run: look back one day (Freshdesk drops webhooks it could not deliver for 24 h).
    let since = state
        .queue
        .get_value(LAST_POLL_KEY)
        .await?
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(&text).ok())
        .map(|t| t.to_utc())
        .unwrap_or(now - chrono::Duration::hours(24));
    let updated: Vec<_> = state
        .read
        .ticket_fields_updated_since(since)
        .await?
        .into_iter()
        .filter(|t| !t.spam && !t.deleted)
        .collect();
    // Open tickets may have a customer message to draft; any ticket with a draft whose outcome
    // is unknown may have the agent's reply to learn from.
    let awaiting_outcome: std::collections::HashSet<i64> = state
        .queue
        .tickets_awaiting_outcome(updated.iter().map(|t| t.id).collect())
        .await?
        .into_iter()
        .collect();
    let candidates: Vec<_> = updated
        .into_iter()
        .filter(|t| t.status == OPEN || awaiting_outcome.contains(&t.id))
        .collect();
    let handled = state
        .queue
        .handled_through(candidates.iter().map(|t| t.id).collect())
        .await?;
    let mut queued = 0;
    for ticket in candidates {
        if handled
            .get(&ticket.id)
            .is_some_and(|through| ticket.updated_at <= *through)
        {
            continue;
        }
        let enqueued = state.queue.enqueue(ticket.id, "poll").await?;
        if !enqueued.duplicate() {
            queued += 1;
        }
    }
    // Overlap by a minute so a ticket updated during the poll is not missed.
    let next = now - chrono::Duration::minutes(1);
    state
        .queue
        .set_value(LAST_POLL_KEY, &next.to_rfc3339())
        .await?;
    if queued > 0 {
        state.job_signal.notify_waiters();
        tracing::info!(
            queued,
            "reconciler queued tickets with changes no job has seen"
        );
    }
    Ok(queued)
}
