//! Incremental, resumable sync from a live Freshdesk account into the pipeline: published articles
//! and canned responses become knowledge, resolved/closed tickets (listed or archived) become
//! cases, reopened/spam/deleted ones leave the store, and a full reconcile removes what the
//! account really no longer has (after checking its archive).
//!
//! Resumability: tickets are listed oldest update first and processed in small groups; after each
//! group is committed to the store a checkpoint records the group's ticket versions and advances the
//! cursor. A killed sync lists again from the cursor and skips every version it already holds, so
//! it re-fetches at most the groups that were in flight (bounded by a permit window). Archive
//! probes are checkpointed the same way.

mod archive;
mod feeder;
mod knowledge;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

pub use archive::{ArchiveSummary, Probe, plan_probes};

use super::pipeline::{IngestError, IngestPipeline, IngestSummary, SourceItem};
use super::sync_state::SyncState;
use crate::domain::Ticket;
use crate::helpdesk::{HelpdeskError, HelpdeskRead, RemovedTickets};
use feeder::{Feeder, ProbeCounters, TICKETS_PER_CHECKPOINT, Work};

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Base URL of the account; a data folder belongs to one account.
    pub account: String,
    /// List every ticket (not just those after the cursor), walk the knowledge base, and remove
    /// what the account no longer has.
    pub full_reconcile: bool,
    /// Conversations fetched at once.
    pub concurrency: usize,
    /// An incremental sync walks the knowledge base again only when the last walk is older.
    pub articles_refresh: chrono::Duration,
    /// A full reconcile reads an archived ticket again (to notice one deleted from the archive)
    /// only when its last read is older than this.
    pub archive_recheck: chrono::Duration,
}

/// What a sync did, for the command's output and the closing log line.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncSummary {
    pub full_reconcile: bool,
    pub cursor_before: Option<DateTime<Utc>>,
    pub cursor_after: Option<DateTime<Utc>>,
    pub articles_walked: bool,
    pub articles_listed: usize,
    pub articles_removed: usize,
    pub canned_responses_listed: usize,
    pub canned_responses_removed: usize,
    /// Why canned responses were not read, when they were not (they need an admin's key).
    pub canned_responses_skipped: Option<String>,
    pub tickets_listed: usize,
    /// Listed tickets whose version was already processed (an interrupted run's work, ties).
    pub tickets_already_held: usize,
    pub conversations_fetched: u64,
    /// Held tickets removed because the account no longer has them (in the trash, spam, or
    /// gone from the archive too), found by a full reconcile.
    pub tickets_vanished: usize,
    /// Archived tickets discovered and checked, and what that cost.
    pub archive: ArchiveSummary,
    /// Freshdesk calls this sync made, by endpoint (filled in by the command).
    pub freshdesk_calls: std::collections::BTreeMap<String, u64>,
    pub ingest: IngestSummary,
}

/// Runs one sync. `progress` advances once per article and ticket.
pub async fn sync_freshdesk(
    pipeline: &IngestPipeline,
    reader: Arc<dyn HelpdeskRead>,
    state_path: &Path,
    options: SyncOptions,
    progress: indicatif::ProgressBar,
) -> Result<SyncSummary, IngestError> {
    let mut state = SyncState::load(state_path)?;
    if let Some(synced) = state.account.as_ref().filter(|a| **a != options.account) {
        return Err(IngestError::WrongAccount {
            synced: synced.clone(),
            configured: options.account.clone(),
        });
    }
    state.account = Some(options.account.clone());
    let started = Utc::now();
    let mut summary = SyncSummary {
        full_reconcile: options.full_reconcile,
        cursor_before: state.cursor,
        ..SyncSummary::default()
    };
    let walk = options.full_reconcile
        || state
            .articles_walked_at
            .is_none_or(|walked| started - walked >= options.articles_refresh);
    let shared_state = Arc::new(Mutex::new(state));
    let (leading_items, url_index) = if walk {
        knowledge::walk_knowledge(reader.as_ref(), &shared_state, started, &mut summary).await?
    } else {
        let index = knowledge::url_index_of_published(&lock(&shared_state).articles);
        (Vec::new(), index)
    };

    let since = if options.full_reconcile {
        DateTime::<Utc>::UNIX_EPOCH
    } else {
        lock(&shared_state)
            .cursor
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    };
    let listed = reader.tickets_updated_since(since).await?;
    summary.tickets_listed = listed.len();
    let ArchivePlan {
        probes,
        remove_now,
        first_answer,
    } = plan_archive_work(
        reader.as_ref(),
        &shared_state,
        &listed,
        &options,
        started,
        &mut summary,
    )
    .await?;
    let work: Vec<Ticket> = {
        let state = lock(&shared_state);
        listed
            .into_iter()
            .filter(|t| !state.holds(t.id, t.updated_at))
            .collect()
    };
    summary.tickets_already_held = summary.tickets_listed - work.len();
    tracing::info!(
        listed = summary.tickets_listed,
        to_process = work.len(),
        archive_probes = probes.len(),
        removed_without_call = remove_now.len(),
        articles_walked = walk,
        "freshdesk sync: tickets listed"
    );

    let (sender, receiver) = mpsc::channel(TICKETS_PER_CHECKPOINT * 2);
    let fetched = Arc::new(AtomicU64::new(0));
    let probe_counters = Arc::new(ProbeCounters::default());
    let feeder = Feeder {
        reader,
        url_index: Arc::new(url_index),
        state: Arc::clone(&shared_state),
        sender,
        window: Feeder::new_window(),
        conversations_fetched: Arc::clone(&fetched),
        probe_counters: Arc::clone(&probe_counters),
        concurrency: options.concurrency.max(1),
    };
    let removed_without_call = remove_now.len();
    let work = Work {
        leading_items,
        tickets: work,
        remove_now,
        probes,
        first_answer,
        full_reconcile: options.full_reconcile,
        started,
    };
    let feeding = tokio::spawn(async move { feeder.feed(work).await });
    let outcome = pipeline.run(ChannelItems(receiver), progress).await;
    // The feeder may wait for permits that will never come if the pipeline failed.
    feeding.abort();
    summary.ingest = outcome?;
    summary.conversations_fetched = fetched.load(Ordering::Relaxed);
    summary.archive.probes = probe_counters.probes.load(Ordering::Relaxed);
    summary.archive.archived_found = probe_counters.found.load(Ordering::Relaxed);
    summary.archive.absent = probe_counters.absent.load(Ordering::Relaxed);
    summary.archive.removed_as_purged = probe_counters.purged.load(Ordering::Relaxed);
    summary.tickets_vanished = removed_without_call + summary.archive.removed_as_purged;
    summary.cursor_after = lock(&shared_state).cursor;
    Ok(summary)
}

/// The archive work of this run: probes, the held tickets to remove without a call, and the
/// first probe's answer (already paid for). The trash and spam lists are read only when there is
/// something to decide (gaps, or unlisted held tickets on a full reconcile).
async fn plan_archive_work(
    reader: &dyn HelpdeskRead,
    state: &Arc<Mutex<SyncState>>,
    listed: &[Ticket],
    options: &SyncOptions,
    now: DateTime<Utc>,
    summary: &mut SyncSummary,
) -> Result<ArchivePlan, IngestError> {
    let listed_ids: BTreeSet<i64> = listed.iter().map(|t| t.id).collect();
    let plan_with = |removed: &RemovedTickets, summary: &mut ArchiveSummary| {
        plan_probes(
            &lock(state),
            &listed_ids,
            removed,
            options.full_reconcile,
            options.archive_recheck,
            now,
            summary,
        )
    };
    let (undecided, _) = plan_with(&RemovedTickets::default(), &mut ArchiveSummary::default());
    if undecided.is_empty() {
        let (probes, remove_now) = plan_with(&RemovedTickets::default(), &mut summary.archive);
        return Ok(ArchivePlan {
            probes,
            remove_now,
            first_answer: None,
        });
    }
    let unavailable = lock(state).archive_unavailable;
    let removed = reader.removed_ticket_ids().await?;
    let (probes, mut remove_now) = plan_with(&removed, &mut summary.archive);
    // Without an archive, a held ticket the list no longer shows (and not in the trash or spam)
    // was purged, and a gap is a ticket that never existed or was purged.
    let without_archive = |probes: Vec<Probe>, remove_now: &mut Vec<i64>| {
        remove_now.extend(probes.iter().filter(|p| p.held).map(|p| p.ticket_id));
    };
    if unavailable {
        summary.archive.skipped = Some("the account's plan has no ticket archive".into());
        without_archive(probes, &mut remove_now);
        return Ok(ArchivePlan {
            probes: Vec::new(),
            remove_now,
            first_answer: None,
        });
    }
    let Some(first) = probes.first().copied() else {
        return Ok(ArchivePlan {
            probes,
            remove_now,
            first_answer: None,
        });
    };
    // The first probe alone: an account without the archive feature answers 403
    // `require_feature`, remembered so that no later run asks again.
    match reader.archived_ticket(first.ticket_id).await {
        Ok(answer) => Ok(ArchivePlan {
            probes,
            remove_now,
            first_answer: Some((first.ticket_id, answer)),
        }),
        Err(HelpdeskError::Forbidden(reason)) => {
            tracing::warn!(%reason, "the ticket archive cannot be read; archived tickets are not synced");
            {
                let mut locked = lock(state);
                locked.archive_unavailable = true;
                locked.save()?;
            }
            summary.archive.skipped = Some(format!("the ticket archive cannot be read: {reason}"));
            without_archive(probes, &mut remove_now);
            Ok(ArchivePlan {
                probes: Vec::new(),
                remove_now,
                first_answer: None,
            })
        }
        Err(other) => Err(other.into()),
    }
}

/// What [`plan_archive_work`] decided.
struct ArchivePlan {
    probes: Vec<Probe>,
    remove_now: Vec<i64>,
    /// The first probe's answer, so the feeder does not pay for it twice.
    first_answer: Option<(i64, Option<Ticket>)>,
}

pub(super) fn lock(state: &Mutex<SyncState>) -> std::sync::MutexGuard<'_, SyncState> {
    // A panic while holding the lock cannot leave the state half-written on disk (saves are
    // atomic), so the in-memory value is still usable.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The pipeline reads items on a blocking thread; this adapts the feeder's channel to it.
struct ChannelItems(mpsc::Receiver<Result<SourceItem, IngestError>>);

impl Iterator for ChannelItems {
    type Item = Result<SourceItem, IngestError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.blocking_recv()
    }
}
