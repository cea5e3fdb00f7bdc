//! Feeds the pipeline: listed tickets group by group (conversations fetched a few at once), then
//! the archive probes group by group, each group followed by a checkpoint that records it once
//! it is committed. A permit window bounds how far fetching runs ahead of committing, which
//! bounds what a killed sync fetches twice.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc};

use super::archive::Probe;
use super::lock;
use crate::domain::{DocumentKey, Ticket};
use crate::helpdesk::{HelpdeskError, HelpdeskRead};
use crate::ingest::cases::{ArticleUrlIndex, case_from_ticket};
use crate::ingest::pipeline::{Checkpoint, IngestError, SourceItem};
use crate::ingest::sync_state::SyncState;

/// Tickets per checkpoint. With [`GROUPS_IN_FLIGHT`] this bounds what a killed sync fetches twice.
pub(super) const TICKETS_PER_CHECKPOINT: usize = 8;
/// Groups fetched ahead of the last committed one: enough to keep the API busy while the
/// previous group is embedded.
const GROUPS_IN_FLIGHT: usize = 2;

/// What the probes found, counted as they commit.
#[derive(Debug, Default)]
pub(super) struct ProbeCounters {
    pub probes: AtomicUsize,
    pub found: AtomicUsize,
    pub absent: AtomicUsize,
    pub purged: AtomicUsize,
}

/// The outcome of one archive probe.
enum ProbeResult {
    Archived(Box<Ticket>),
    Absent,
}

pub(super) struct Feeder {
    pub reader: Arc<dyn HelpdeskRead>,
    pub url_index: Arc<ArticleUrlIndex>,
    pub state: Arc<Mutex<SyncState>>,
    pub sender: mpsc::Sender<Result<SourceItem, IngestError>>,
    /// One permit per ticket fetched but not yet committed.
    pub window: Arc<Semaphore>,
    pub conversations_fetched: Arc<AtomicU64>,
    pub probe_counters: Arc<ProbeCounters>,
    pub concurrency: usize,
}

/// The work of one sync, in the order it is fed.
pub(super) struct Work {
    pub leading_items: Vec<SourceItem>,
    pub tickets: Vec<Ticket>,
    /// Held tickets to remove without a call (in the trash or spam).
    pub remove_now: Vec<i64>,
    pub probes: Vec<Probe>,
    /// A probe already answered while planning (id, what the archive said).
    pub first_answer: Option<(i64, Option<Ticket>)>,
    pub full_reconcile: bool,
    pub started: DateTime<Utc>,
}

impl Feeder {
    pub(super) fn new_window() -> Arc<Semaphore> {
        Arc::new(Semaphore::new(TICKETS_PER_CHECKPOINT * GROUPS_IN_FLIGHT))
    }

    async fn send(&self, item: Result<SourceItem, IngestError>) -> bool {
        self.sender.send(item).await.is_ok()
    }

    /// Takes permits for a group; they come back with the group's checkpoint.
    async fn reserve(&self, count: usize) -> bool {
        match Arc::clone(&self.window)
            .acquire_many_owned(count as u32)
            .await
        {
            Ok(permits) => {
                permits.forget();
                true
            }
            Err(_) => false,
        }
    }

    pub(super) async fn feed(self, work: Work) {
        for item in work.leading_items {
            if !self.send(Ok(item)).await {
                return;
            }
        }
        let mut tickets = work.tickets.into_iter().peekable();
        while tickets.peek().is_some() {
            let group: Vec<Ticket> = tickets.by_ref().take(TICKETS_PER_CHECKPOINT).collect();
            if !self.reserve(group.len()).await {
                return;
            }
            let versions: Vec<(i64, DateTime<Utc>)> =
                group.iter().map(|t| (t.id, t.updated_at)).collect();
            let items: Vec<Result<SourceItem, IngestError>> = futures::stream::iter(group)
                .map(|ticket| self.item_for(ticket))
                .buffered(self.concurrency)
                .collect()
                .await;
            for item in items {
                let failed = item.is_err();
                if !self.send(item).await || failed {
                    return;
                }
            }
            let (state, window) = (Arc::clone(&self.state), Arc::clone(&self.window));
            let checkpoint = Checkpoint::new(move || {
                let mut state = lock(&state);
                state.commit_tickets(&versions);
                state.save()?;
                window.add_permits(versions.len());
                Ok(())
            });
            if !self.send(Ok(SourceItem::Checkpoint(checkpoint))).await {
                return;
            }
        }
        for id in &work.remove_now {
            if !self
                .send(Ok(SourceItem::Ineligible(DocumentKey::case(*id))))
                .await
            {
                return;
            }
        }
        if !self
            .feed_probes(work.probes, work.first_answer, work.started)
            .await
        {
            return;
        }
        let state = Arc::clone(&self.state);
        let (remove_now, full_reconcile, started) =
            (work.remove_now, work.full_reconcile, work.started);
        let finish = Checkpoint::new(move || {
            let mut state = lock(&state);
            for id in &remove_now {
                state.tickets.remove(id);
                state.archived.remove(id);
            }
            if full_reconcile {
                state.last_full_reconcile = Some(started);
            }
            state.last_sync_finished = Some(Utc::now());
            Ok(state.save()?)
        });
        let _ = self.send(Ok(SourceItem::Checkpoint(finish))).await;
    }

    /// Reads each probe's id at the archive, group by group. Returns false when the pipeline is
    /// gone or a probe failed (the failure was sent).
    async fn feed_probes(
        &self,
        probes: Vec<Probe>,
        first_answer: Option<(i64, Option<Ticket>)>,
        started: DateTime<Utc>,
    ) -> bool {
        let first_answer = std::sync::Mutex::new(first_answer);
        let answered = |ticket_id: i64| {
            let mut slot = first_answer.lock().unwrap_or_else(|e| e.into_inner());
            match slot.take() {
                Some((id, answer)) if id == ticket_id => Some(answer),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        let mut probes = probes.into_iter().peekable();
        while probes.peek().is_some() {
            let group: Vec<Probe> = probes.by_ref().take(TICKETS_PER_CHECKPOINT).collect();
            if !self.reserve(group.len()).await {
                return false;
            }
            let results: Vec<Result<(Probe, ProbeResult), HelpdeskError>> =
                futures::stream::iter(group.iter().copied())
                    .map(|probe| {
                        let already = answered(probe.ticket_id);
                        async move {
                            let found = match already {
                                Some(answer) => answer,
                                None => self.reader.archived_ticket(probe.ticket_id).await?,
                            };
                            Ok((
                                probe,
                                match found {
                                    Some(ticket) => ProbeResult::Archived(Box::new(ticket)),
                                    None => ProbeResult::Absent,
                                },
                            ))
                        }
                    })
                    .buffered(self.concurrency)
                    .collect()
                    .await;
            let mut found = Vec::new();
            let mut absent = Vec::new();
            let mut purged = Vec::new();
            for result in results {
                let (probe, outcome) = match result {
                    Ok(pair) => pair,
                    Err(error) => {
                        let _ = self.send(Err(error.into())).await;
                        return false;
                    }
                };
                let item = match outcome {
                    ProbeResult::Archived(ticket) => {
                        found.push((ticket.id, ticket.updated_at));
                        let key = DocumentKey::case(ticket.id);
                        match case_from_ticket(&ticket, &self.url_index) {
                            Some(document) => SourceItem::Document(Box::new(document)),
                            None => SourceItem::Ineligible(key),
                        }
                    }
                    ProbeResult::Absent if probe.held => {
                        purged.push(probe.ticket_id);
                        SourceItem::Ineligible(DocumentKey::case(probe.ticket_id))
                    }
                    ProbeResult::Absent => {
                        absent.push(probe.ticket_id);
                        continue;
                    }
                };
                if !self.send(Ok(item)).await {
                    return false;
                }
            }
            let (state, window) = (Arc::clone(&self.state), Arc::clone(&self.window));
            let counters = Arc::clone(&self.probe_counters);
            let probed = group.len();
            let checkpoint = Checkpoint::new(move || {
                let mut state = lock(&state);
                for &(id, updated_at) in &found {
                    state.tickets.insert(id, updated_at);
                    state.archived.insert(id, started);
                }
                for id in absent.iter().chain(&purged) {
                    state.tickets.remove(id);
                    state.archived.remove(id);
                    state.probed_absent.insert(*id);
                }
                state.save()?;
                counters.probes.fetch_add(probed, Ordering::Relaxed);
                counters.found.fetch_add(found.len(), Ordering::Relaxed);
                counters.absent.fetch_add(absent.len(), Ordering::Relaxed);
                counters.purged.fetch_add(purged.len(), Ordering::Relaxed);
                window.add_permits(probed);
                Ok(())
            });
            if !self.send(Ok(SourceItem::Checkpoint(checkpoint))).await {
                return false;
            }
        }
        true
    }

    /// A resolved/closed ticket is fetched whole and becomes a case; any other ticket is
    /// ineligible without a call (a reopened one leaves the store until it is resolved again).
    async fn item_for(&self, mut ticket: Ticket) -> Result<SourceItem, IngestError> {
        let key = DocumentKey::case(ticket.id);
        if !ticket.status().is_resolved() || ticket.spam || ticket.deleted {
            return Ok(SourceItem::Ineligible(key));
        }
        self.conversations_fetched.fetch_add(1, Ordering::Relaxed);
        ticket.conversations = match self.reader.conversations(ticket.id).await {
            Ok(conversations) => conversations,
            // Deleted between the list and this call: nothing to learn from any more.
            Err(HelpdeskError::NotFound(_)) => return Ok(SourceItem::Ineligible(key)),
            Err(error) => return Err(error.into()),
        };
        Ok(match case_from_ticket(&ticket, &self.url_index) {
            Some(document) => SourceItem::Document(Box::new(document)),
            None => SourceItem::Ineligible(key),
        })
    }
}
