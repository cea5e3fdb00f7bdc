//! Incremental, resumable sync from a live Freshdesk account into the pipeline: published articles
//! become KB documents, resolved/closed tickets become cases, reopened/spam/deleted ones leave the
//! store, and a full reconcile removes tickets that disappeared from the account.
//!
//! Resumability: tickets are listed oldest update first and processed in small groups; after each
//! group is committed to the store a checkpoint records the group's ticket versions and advances the
//! cursor. A killed sync lists again from the cursor and skips every version it already holds, so
//! it re-fetches at most the groups that were in flight (bounded by a permit window).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use super::cases::{ArticleUrlIndex, case_from_ticket, document_from_article};
use super::pipeline::{Checkpoint, IngestError, IngestPipeline, IngestSummary, SourceItem};
use super::sync_state::{ArticleVersion, SyncState};
use crate::domain::{DocumentKey, Ticket};
use crate::helpdesk::{HelpdeskError, HelpdeskRead};

/// Tickets per checkpoint. With [`GROUPS_IN_FLIGHT`] this bounds what a killed sync fetches twice.
const TICKETS_PER_CHECKPOINT: usize = 8;
/// Groups fetched ahead of the last committed one: enough to keep the API busy while the
/// previous group is embedded.
const GROUPS_IN_FLIGHT: usize = 2;

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
    pub tickets_listed: usize,
    /// Listed tickets whose version was already processed (an interrupted run's work, ties).
    pub tickets_already_held: usize,
    pub conversations_fetched: u64,
    /// Tickets the account no longer lists (deleted, marked spam), found by a full reconcile.
    pub tickets_vanished: usize,
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
    let mut leading_items = Vec::new();
    let walk_articles = options.full_reconcile
        || state
            .articles_walked_at
            .is_none_or(|walked| started - walked >= options.articles_refresh);
    let shared_state;
    let url_index;
    if walk_articles {
        let articles = reader.articles().await?;
        summary.articles_walked = true;
        summary.articles_listed = articles.len();
        let versions: BTreeMap<i64, ArticleVersion> = articles
            .iter()
            .map(|a| {
                let version = ArticleVersion {
                    updated_at: a.updated_at,
                    url: a.url.clone(),
                    published: a.is_published(),
                };
                (a.id, version)
            })
            .collect();
        let no_product_names = BTreeMap::new();
        for article in &articles {
            leading_items.push(match document_from_article(article, &no_product_names) {
                Some(document) => SourceItem::Document(Box::new(document)),
                None => SourceItem::Ineligible(DocumentKey::article(article.id)),
            });
        }
        let gone: Vec<i64> = state
            .articles
            .keys()
            .filter(|id| !versions.contains_key(id))
            .copied()
            .collect();
        summary.articles_removed = gone.len();
        leading_items.extend(
            gone.iter()
                .map(|id| SourceItem::Ineligible(DocumentKey::article(*id))),
        );
        url_index = url_index_of_published(&versions);
        shared_state = Arc::new(Mutex::new(state));
        let for_checkpoint = Arc::clone(&shared_state);
        leading_items.push(SourceItem::Checkpoint(Checkpoint::new(move || {
            let mut state = lock(&for_checkpoint);
            state.articles = versions;
            state.articles_walked_at = Some(started);
            Ok(state.save()?)
        })));
    } else {
        url_index = url_index_of_published(&state.articles);
        shared_state = Arc::new(Mutex::new(state));
    }
    let url_index = Arc::new(url_index);

    let since = if options.full_reconcile {
        DateTime::<Utc>::UNIX_EPOCH
    } else {
        lock(&shared_state)
            .cursor
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    };
    let listed = reader.tickets_updated_since(since).await?;
    summary.tickets_listed = listed.len();
    let (work, vanished) = {
        let state = lock(&shared_state);
        let vanished: Vec<i64> = if options.full_reconcile {
            let listed_ids: BTreeSet<i64> = listed.iter().map(|t| t.id).collect();
            state
                .tickets
                .keys()
                .filter(|id| !listed_ids.contains(id))
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        let work: Vec<Ticket> = listed
            .into_iter()
            .filter(|t| !state.holds(t.id, t.updated_at))
            .collect();
        (work, vanished)
    };
    summary.tickets_already_held = summary.tickets_listed - work.len();
    summary.tickets_vanished = vanished.len();
    tracing::info!(
        listed = summary.tickets_listed,
        to_process = work.len(),
        vanished = vanished.len(),
        articles_walked = walk_articles,
        "freshdesk sync: tickets listed"
    );

    let (sender, receiver) = mpsc::channel(TICKETS_PER_CHECKPOINT * 2);
    let fetched = Arc::new(AtomicU64::new(0));
    let feeder = Feeder {
        reader,
        url_index,
        state: Arc::clone(&shared_state),
        sender,
        window: Arc::new(Semaphore::new(TICKETS_PER_CHECKPOINT * GROUPS_IN_FLIGHT)),
        conversations_fetched: Arc::clone(&fetched),
        concurrency: options.concurrency.max(1),
    };
    let full_reconcile = options.full_reconcile;
    let feeding = tokio::spawn(async move {
        feeder
            .feed(leading_items, work, vanished, full_reconcile, started)
            .await
    });
    let outcome = pipeline.run(ChannelItems(receiver), progress).await;
    // The feeder may wait for permits that will never come if the pipeline failed.
    feeding.abort();
    summary.ingest = outcome?;
    summary.conversations_fetched = fetched.load(Ordering::Relaxed);
    summary.cursor_after = lock(&shared_state).cursor;
    Ok(summary)
}

fn lock(state: &Mutex<SyncState>) -> std::sync::MutexGuard<'_, SyncState> {
    // A panic while holding the lock cannot leave the state half-written on disk (saves are
    // atomic), so the in-memory value is still usable.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn url_index_of_published(articles: &BTreeMap<i64, ArticleVersion>) -> ArticleUrlIndex {
    let mut index = ArticleUrlIndex::default();
    for (id, version) in articles.iter().filter(|(_, v)| v.published) {
        index.insert(*id, version.url.as_deref());
    }
    index
}

/// The pipeline reads items on a blocking thread; this adapts the feeder's channel to it.
struct ChannelItems(mpsc::Receiver<Result<SourceItem, IngestError>>);

impl Iterator for ChannelItems {
    type Item = Result<SourceItem, IngestError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.blocking_recv()
    }
}

/// Fetches conversations group by group and sends items plus a checkpoint per group.
struct Feeder {
    reader: Arc<dyn HelpdeskRead>,
    url_index: Arc<ArticleUrlIndex>,
    state: Arc<Mutex<SyncState>>,
    sender: mpsc::Sender<Result<SourceItem, IngestError>>,
    /// One permit per ticket fetched but not yet committed.
    window: Arc<Semaphore>,
    conversations_fetched: Arc<AtomicU64>,
    concurrency: usize,
}

impl Feeder {
    async fn feed(
        self,
        leading_items: Vec<SourceItem>,
        work: Vec<Ticket>,
        vanished: Vec<i64>,
        full_reconcile: bool,
        started: DateTime<Utc>,
    ) {
        for item in leading_items {
            if self.sender.send(Ok(item)).await.is_err() {
                return;
            }
        }
        let mut work = work.into_iter().peekable();
        while work.peek().is_some() {
            let group: Vec<Ticket> = work.by_ref().take(TICKETS_PER_CHECKPOINT).collect();
            let Ok(permits) = Arc::clone(&self.window)
                .acquire_many_owned(group.len() as u32)
                .await
            else {
                return;
            };
            // Given back by the group's checkpoint, once it is committed.
            permits.forget();
            let versions: Vec<(i64, DateTime<Utc>)> =
                group.iter().map(|t| (t.id, t.updated_at)).collect();
            let items: Vec<Result<SourceItem, IngestError>> = futures::stream::iter(group)
                .map(|ticket| self.item_for(ticket))
                .buffered(self.concurrency)
                .collect()
                .await;
            for item in items {
                let failed = item.is_err();
                if self.sender.send(item).await.is_err() || failed {
                    return;
                }
            }
            let state = Arc::clone(&self.state);
            let window = Arc::clone(&self.window);
            let checkpoint = Checkpoint::new(move || {
                let mut state = lock(&state);
                state.commit_tickets(&versions);
                state.save()?;
                window.add_permits(versions.len());
                Ok(())
            });
            if self
                .sender
                .send(Ok(SourceItem::Checkpoint(checkpoint)))
                .await
                .is_err()
            {
                return;
            }
        }
        for id in &vanished {
            let item = SourceItem::Ineligible(DocumentKey::case(*id));
            if self.sender.send(Ok(item)).await.is_err() {
                return;
            }
        }
        let state = Arc::clone(&self.state);
        let finish = Checkpoint::new(move || {
            let mut state = lock(&state);
            for id in &vanished {
                state.tickets.remove(id);
            }
            if full_reconcile {
                state.last_full_reconcile = Some(started);
            }
            state.last_sync_finished = Some(Utc::now());
            Ok(state.save()?)
        });
        let _ = self.sender.send(Ok(SourceItem::Checkpoint(finish))).await;
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
