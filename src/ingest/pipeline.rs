//! The ingest pipeline: documents -> chunks -> dense + sparse vectors -> upserts, with the stages
//! overlapped through a bounded channel (reading, cleaning and chunking on one thread while the
//! previous batch is embedded and written), and unchanged documents skipped by content hash.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::chunk::{Chunker, DocumentChunk};
use super::state::{DocumentState, IngestState, StateError, document_content_hash};
use crate::domain::{DocumentKey, IndexedDocument, deterministic_point_id};
use crate::embed::{DenseEmbedder, EmbedError, SparseEncoder};
use crate::helpdesk::bundle::BundleError;
use crate::store::{ChunkPayload, StoreError, StoredPoint, VectorStore};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Bad input: exit code 2.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    KnowledgeFolder(#[from] crate::helpdesk::knowledge_folder::KnowledgeFolderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Helpdesk(#[from] crate::helpdesk::HelpdeskError),
    /// Bad input: exit code 2.
    #[error(
        "this data folder was synced from {synced}, not {configured}: use another --data-dir per account"
    )]
    WrongAccount { synced: String, configured: String },
    #[error("ingest pipeline failed: {0}")]
    Pipeline(String),
}

/// One item from a source: a document to index, or a document that must no longer be indexed
/// (a reopened ticket, spam, a deleted or unpublished article).
#[derive(Debug)]
pub enum SourceItem {
    Document(Box<IndexedDocument>),
    Ineligible(DocumentKey),
    /// Runs once every item before it is committed (upserted, removed, state saved): a source
    /// persists its resume cursor here, so a killed run never skips uncommitted work.
    Checkpoint(Checkpoint),
}

/// A callback run after everything before it in the stream is committed.
pub struct Checkpoint(Box<dyn FnOnce() -> Result<(), IngestError> + Send>);

impl Checkpoint {
    pub fn new(on_commit: impl FnOnce() -> Result<(), IngestError> + Send + 'static) -> Self {
        Self(Box::new(on_commit))
    }
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpoint")
    }
}

/// What an ingest run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IngestSummary {
    pub documents_seen: u64,
    pub documents_indexed: u64,
    pub documents_unchanged: u64,
    pub documents_removed: u64,
    pub ineligible_skipped: u64,
    pub invalid_lines_skipped: u64,
    pub chunks_embedded: u64,
    pub chunks_reused_within_run: u64,
    pub points_deleted: u64,
    pub elapsed_seconds: f64,
}

struct PreparedDocument {
    document: IndexedDocument,
    content_hash: String,
    chunks: Vec<DocumentChunk>,
}

enum Message {
    Batch(Vec<PreparedDocument>),
    Unchanged(u64),
    Remove(Vec<DocumentKey>),
    Checkpoint(Checkpoint),
}

/// Everything the pipeline needs, shared by every run.
pub struct IngestPipeline {
    pub embedder: Arc<dyn DenseEmbedder>,
    pub sparse: Arc<SparseEncoder>,
    pub chunker: Arc<Chunker>,
    pub store: Arc<dyn VectorStore>,
    pub state_path: PathBuf,
    /// Chunking parameters and model id; part of every content hash.
    pub fingerprint: String,
    /// Documents per committed batch: the unit of resumability.
    pub documents_per_batch: usize,
}

impl IngestPipeline {
    /// Index `items`; `progress` is advanced once per source item.
    pub async fn run<I>(
        &self,
        items: I,
        progress: indicatif::ProgressBar,
    ) -> Result<IngestSummary, IngestError>
    where
        I: Iterator<Item = Result<SourceItem, IngestError>> + Send + 'static,
    {
        let started = Instant::now();
        let mut state = IngestState::load(&self.state_path)?;
        if state.embedding_model.as_deref() != Some(self.embedder.model_id()) {
            // Vectors from another model are not comparable: re-embed everything.
            state.documents.clear();
            state.embedding_model = Some(self.embedder.model_id().to_string());
        }
        let known: Arc<BTreeMap<String, DocumentState>> = Arc::new(state.documents.clone());
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Message, IngestError>>(2);
        let chunker = Arc::clone(&self.chunker);
        let fingerprint = self.fingerprint.clone();
        let batch_size = self.documents_per_batch.max(1);
        let producer_progress = progress.clone();
        let producer = tokio::task::spawn_blocking(move || {
            produce(
                items,
                &known,
                &chunker,
                &fingerprint,
                batch_size,
                &sender,
                &producer_progress,
            )
        });

        let mut summary = IngestSummary::default();
        let mut failure = None;
        while let Some(message) = receiver.recv().await {
            let outcome = match message {
                Ok(Message::Unchanged(count)) => {
                    summary.documents_seen += count;
                    summary.documents_unchanged += count;
                    Ok(())
                }
                Ok(Message::Remove(keys)) => self.remove(keys, &mut state, &mut summary).await,
                Ok(Message::Batch(batch)) => {
                    self.commit_batch(batch, &mut state, &mut summary).await
                }
                // Messages arrive in order and each is committed before the next is read.
                Ok(Message::Checkpoint(checkpoint)) => (checkpoint.0)(),
                Err(error) => Err(error),
            };
            if let Err(error) = outcome {
                failure = Some(error);
                break;
            }
        }
        // Dropping the receiver stops the producer at its next send.
        drop(receiver);
        let produced = producer
            .await
            .map_err(|e| IngestError::Pipeline(e.to_string()))?;
        if let Some(error) = failure {
            return Err(error);
        }
        let counters = produced?;
        summary.ineligible_skipped = counters.ineligible;
        summary.documents_seen += counters.ineligible;
        self.store.flush().await?;
        state.last_ingest_finished = Some(chrono::Utc::now());
        state.save()?;
        summary.elapsed_seconds = started.elapsed().as_secs_f64();
        progress.finish_and_clear();
        Ok(summary)
    }

    async fn remove(
        &self,
        keys: Vec<DocumentKey>,
        state: &mut IngestState,
        summary: &mut IngestSummary,
    ) -> Result<(), IngestError> {
        let keys: Vec<DocumentKey> = keys
            .into_iter()
            .filter(|k| state.documents.contains_key(&k.to_string()))
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        self.store.delete_documents(keys.clone()).await?;
        self.store.flush().await?;
        for key in &keys {
            state.documents.remove(&key.to_string());
        }
        state.save()?;
        summary.documents_removed += keys.len() as u64;
        Ok(())
    }

    async fn commit_batch(
        &self,
        batch: Vec<PreparedDocument>,
        state: &mut IngestState,
        summary: &mut IngestSummary,
    ) -> Result<(), IngestError> {
        // Never embed the same text twice: identical chunks (templated replies) share one vector.
        let mut unique_texts: Vec<String> = Vec::new();
        let mut index_of_text: HashMap<&str, usize> = HashMap::new();
        let mut chunk_vector_index = Vec::new();
        for prepared in &batch {
            for chunk in &prepared.chunks {
                let index = *index_of_text.entry(chunk.text.as_str()).or_insert_with(|| {
                    unique_texts.push(chunk.text.clone());
                    unique_texts.len() - 1
                });
                chunk_vector_index.push(index);
            }
        }
        let total_chunks = chunk_vector_index.len() as u64;
        let dense = self.embed_all(&unique_texts).await?;
        summary.chunks_embedded += unique_texts.len() as u64;
        summary.chunks_reused_within_run += total_chunks - unique_texts.len() as u64;

        let mut points = Vec::with_capacity(chunk_vector_index.len());
        let mut stale_points = Vec::new();
        let mut vector_indexes = chunk_vector_index.into_iter();
        for prepared in &batch {
            let document = &prepared.document;
            for chunk in &prepared.chunks {
                let vector_index = vector_indexes.next().expect("one index per chunk");
                let sparse = self.sparse.encode_document(&chunk.text);
                points.push(StoredPoint {
                    id: deterministic_point_id(&document.key, chunk.chunk_number),
                    dense: dense[vector_index].clone(),
                    sparse_indices: sparse.indices,
                    sparse_values: sparse.values,
                    payload: payload_for(
                        document,
                        chunk,
                        prepared.chunks.len(),
                        &prepared.content_hash,
                    ),
                });
            }
            if let Some(previous) = state.documents.get(&document.key.to_string()) {
                for stale in prepared.chunks.len()..previous.chunk_count {
                    stale_points.push(deterministic_point_id(&document.key, stale));
                }
            }
        }
        self.store.upsert(points).await?;
        summary.points_deleted += stale_points.len() as u64;
        self.store.delete_points(stale_points).await?;
        self.store.flush().await?;
        for prepared in batch {
            state.documents.insert(
                prepared.document.key.to_string(),
                DocumentState {
                    content_hash: prepared.content_hash,
                    chunk_count: prepared.chunks.len(),
                },
            );
            summary.documents_seen += 1;
            summary.documents_indexed += 1;
        }
        state.save()?;
        Ok(())
    }

    async fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, IngestError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.embedder.max_batch().max(1)) {
            let embedded = self.embedder.embed_batch(batch).await?;
            if embedded.len() != batch.len() {
                return Err(IngestError::Pipeline(format!(
                    "embedder returned {} vectors for {} texts",
                    embedded.len(),
                    batch.len()
                )));
            }
            vectors.extend(embedded);
        }
        Ok(vectors)
    }
}

fn payload_for(
    document: &IndexedDocument,
    chunk: &DocumentChunk,
    chunk_count: usize,
    hash: &str,
) -> ChunkPayload {
    ChunkPayload {
        source_type: document.key.source_type,
        doc_id: document.key.id,
        doc_key: document.key.to_string(),
        chunk_number: chunk.chunk_number,
        chunk_count,
        title: document.title.clone(),
        text: chunk.text.clone(),
        product: document.product.clone(),
        created_at: document.created_at,
        updated_at: document.updated_at,
        url: document.url.clone(),
        language: document.language.clone(),
        // The reusable answer is kept once, on the first chunk, to keep payloads small.
        resolution: if chunk.chunk_number == 0 {
            document.resolution.clone()
        } else {
            None
        },
        first_reply: if chunk.chunk_number == 0 {
            document.first_reply.clone()
        } else {
            None
        },
        linked_urls: document.linked_urls.clone(),
        linked_article_ids: document.linked_article_ids.clone(),
        tags: document.tags.clone(),
        agent_only: document.agent_only,
        content_hash: hash.to_string(),
    }
}

#[derive(Default)]
struct ProducerCounters {
    ineligible: u64,
}

/// Runs on a blocking thread: reads the source, skips unchanged documents, chunks the rest.
fn produce<I>(
    items: I,
    known: &BTreeMap<String, DocumentState>,
    chunker: &Chunker,
    fingerprint: &str,
    batch_size: usize,
    sender: &tokio::sync::mpsc::Sender<Result<Message, IngestError>>,
    progress: &indicatif::ProgressBar,
) -> Result<ProducerCounters, IngestError>
where
    I: Iterator<Item = Result<SourceItem, IngestError>>,
{
    let mut counters = ProducerCounters::default();
    let mut batch = Vec::with_capacity(batch_size);
    let mut unchanged = 0u64;
    let mut removals = Vec::new();
    let mut last_flush = Instant::now();
    let send = |message: Result<Message, IngestError>| sender.blocking_send(message).is_ok();
    for item in items {
        if !matches!(item, Ok(SourceItem::Checkpoint(_))) {
            progress.inc(1);
        }
        match item {
            Err(error) => {
                send(Err(error));
                return Ok(counters);
            }
            Ok(SourceItem::Checkpoint(checkpoint)) => {
                // Everything before the checkpoint goes out first, in order.
                let pending = [
                    (!batch.is_empty()).then(|| Message::Batch(std::mem::take(&mut batch))),
                    (unchanged > 0).then(|| Message::Unchanged(std::mem::take(&mut unchanged))),
                    (!removals.is_empty()).then(|| Message::Remove(std::mem::take(&mut removals))),
                    Some(Message::Checkpoint(checkpoint)),
                ];
                for message in pending.into_iter().flatten() {
                    if !send(Ok(message)) {
                        return Ok(counters);
                    }
                }
                continue;
            }
            Ok(SourceItem::Ineligible(key)) => {
                counters.ineligible += 1;
                if known.contains_key(&key.to_string()) {
                    removals.push(key);
                }
            }
            Ok(SourceItem::Document(document)) => {
                let content_hash = document_content_hash(&document, fingerprint);
                let key = document.key.to_string();
                if known
                    .get(&key)
                    .is_some_and(|state| state.content_hash == content_hash)
                {
                    unchanged += 1;
                } else {
                    let chunks = chunker.chunk_document(&document);
                    batch.push(PreparedDocument {
                        document: *document,
                        content_hash,
                        chunks,
                    });
                }
            }
        }
        if batch.len() >= batch_size && !send(Ok(Message::Batch(std::mem::take(&mut batch)))) {
            return Ok(counters);
        }
        // Report skipped work now and then so progress and counts stay current.
        if last_flush.elapsed() > Duration::from_millis(500) {
            last_flush = Instant::now();
            if unchanged > 0 && !send(Ok(Message::Unchanged(std::mem::take(&mut unchanged)))) {
                return Ok(counters);
            }
        }
    }
    let finals = [
        (!batch.is_empty()).then_some(Message::Batch(batch)),
        (unchanged > 0).then_some(Message::Unchanged(unchanged)),
        (!removals.is_empty()).then_some(Message::Remove(removals)),
    ];
    for message in finals.into_iter().flatten() {
        if !send(Ok(message)) {
            break;
        }
    }
    Ok(counters)
}
