//! Owns the vector store seam: the [`VectorStore`] trait, the chunk payload we keep in it, and the
//! embedded Qdrant Edge implementation, and the Qdrant server (or cluster) implementation.

pub mod edge;
pub mod server;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{DocumentKey, SourceType};
use crate::retry::{Classify, ErrorClass};

pub use edge::EdgeVectorStore;
pub use server::QdrantServerStore;

/// Name of the dense vector in every collection.
pub const DENSE_VECTOR_NAME: &str = "dense";
/// Name of the sparse BM25 vector (IDF modifier) in every collection.
pub const SPARSE_VECTOR_NAME: &str = "bm25";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("vector store at {path} could not be opened: {reason}")]
    Open { path: String, reason: String },
    #[error("vector store operation failed: {0}")]
    Operation(String),
    #[error("vector store is rate-limiting requests")]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    #[error("vector store is unreachable: {0}")]
    Unavailable(String),
    #[error("stored point {id} has an invalid payload: {reason}")]
    InvalidPayload { id: String, reason: String },
    #[error(
        "the collection was built with {existing} dense dimensions but the embedder produces {requested}; re-ingest into a new data dir or collection"
    )]
    DimensionMismatch { existing: usize, requested: usize },
}

impl Classify for StoreError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::RateLimited { retry_after } => ErrorClass::RateLimited {
                retry_after: *retry_after,
            },
            Self::Unavailable(_) => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }
}

/// Metadata kept with every chunk; what retrieval returns and filters on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkPayload {
    pub source_type: SourceType,
    pub doc_id: i64,
    /// `case:123`, used to exclude a ticket's own thread and to delete a document's chunks.
    pub doc_key: String,
    pub chunk_number: usize,
    pub chunk_count: usize,
    pub title: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reply: Option<String>,
    #[serde(default)]
    pub linked_urls: Vec<String>,
    #[serde(default)]
    pub linked_article_ids: Vec<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Agents-only knowledge: never linked in a reply to a customer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub agent_only: bool,
    /// Hash of the chunk text and metadata; unchanged content is never re-embedded.
    pub content_hash: String,
}

impl ChunkPayload {
    pub fn document_key(&self) -> DocumentKey {
        DocumentKey {
            source_type: self.source_type,
            id: self.doc_id,
        }
    }
}

/// A point ready to upsert.
#[derive(Debug, Clone)]
pub struct StoredPoint {
    pub id: Uuid,
    pub dense: Vec<f32>,
    pub sparse_indices: Vec<u32>,
    pub sparse_values: Vec<f32>,
    pub payload: ChunkPayload,
}

/// Restrictions every query can carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryFilter {
    /// Only these source types; empty searches every kind.
    pub source_types: Vec<SourceType>,
    /// Same product, or documents that belong to no product (general articles).
    pub product: Option<String>,
    /// Only documents created strictly before this instant (leak-free replay).
    pub created_before: Option<DateTime<Utc>>,
    /// Never return these documents (a ticket's own thread).
    pub exclude_documents: Vec<DocumentKey>,
}

/// A hybrid query: dense + sparse prefetches fused by reciprocal rank fusion.
#[derive(Debug, Clone)]
pub struct HybridQuery {
    pub dense: Vec<f32>,
    pub sparse_indices: Vec<u32>,
    pub sparse_values: Vec<f32>,
    pub filter: QueryFilter,
    /// Candidates each prefetch contributes before fusion.
    pub prefetch_limit: usize,
    pub limit: usize,
}

/// A chunk returned by a query.
#[derive(Debug, Clone)]
pub struct ScoredChunk {
    pub id: Uuid,
    /// Fused (RRF) score: only meaningful for ranking.
    pub score: f32,
    /// Cosine similarity between the query and this chunk's dense vector.
    pub dense_similarity: f32,
    pub payload: ChunkPayload,
}

/// Counts for `deskdraft stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StoreStats {
    pub points: u64,
    pub points_by_source: BTreeMap<String, u64>,
}

/// The vector store seam. Implementations must order results by (score desc, id asc) so equal
/// inputs give equal outputs.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Human-readable description for logs and reports (`qdrant-edge at ./data/store`).
    fn describe(&self) -> String;
    async fn upsert(&self, points: Vec<StoredPoint>) -> Result<(), StoreError>;
    async fn delete_points(&self, ids: Vec<Uuid>) -> Result<(), StoreError>;
    /// Remove every chunk of these documents.
    async fn delete_documents(&self, keys: Vec<DocumentKey>) -> Result<(), StoreError>;
    async fn hybrid_query(&self, query: HybridQuery) -> Result<Vec<ScoredChunk>, StoreError>;
    /// Payloads of every point of one source type (used to build in-memory maps, e.g. article URLs).
    async fn scroll_payloads(
        &self,
        source_type: SourceType,
    ) -> Result<Vec<(Uuid, ChunkPayload)>, StoreError>;
    async fn stats(&self) -> Result<StoreStats, StoreError>;
    /// Persist everything written so far.
    async fn flush(&self) -> Result<(), StoreError>;
    /// Rebuild indexes after a bulk load (off the async runtime).
    async fn optimize(&self) -> Result<(), StoreError>;
}

/// Reciprocal rank fusion of ranked `(id, score)` lists: `sum(1 / (k + rank))`, ranks 1-based.
/// Equal scores in a list share a rank (competition ranking), so identical points get identical
/// fused scores and the final (score desc, id asc) order is decided by id alone.
pub fn reciprocal_rank_fusion(lists: &[Vec<(Uuid, f32)>], k: f32) -> Vec<(Uuid, f32)> {
    let mut fused: std::collections::HashMap<Uuid, f32> = std::collections::HashMap::new();
    for list in lists {
        let mut sorted = list.clone();
        sorted.sort_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.0.cmp(&b.0))
        });
        let mut rank = 0usize;
        let mut previous: Option<f32> = None;
        for (position, (id, score)) in sorted.iter().enumerate() {
            if previous != Some(*score) {
                rank = position + 1;
                previous = Some(*score);
            }
            *fused.entry(*id).or_insert(0.0) += 1.0 / (k + rank as f32);
        }
    }
    let mut fused: Vec<(Uuid, f32)> = fused.into_iter().collect();
    fused.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    fused
}

/// Reciprocal rank fusion constant; 60 is the value from the original RRF paper and Qdrant's default.
pub const RRF_K: f32 = 60.0;

/// The ids of a hybrid query's result: the ranked `(id, score)` lists of its dense and sparse
/// searches fused by RRF, in deterministic (score desc, id asc) order, cut to `limit` only after
/// sorting. Shared by every store so they rank identically; a store may fetch payloads for just
/// these ids.
pub fn fuse_ranked_ids(lists: &[Vec<(Uuid, f32)>], limit: usize) -> Vec<(Uuid, f32)> {
    let mut fused = reciprocal_rank_fusion(lists, RRF_K);
    fused.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    fused.truncate(limit);
    fused
}

/// The chunks of a hybrid query: [`fuse_ranked_ids`], each id's payload and dense similarity
/// taken from `points` (ids without one are dropped before the cut to `limit`).
pub fn fuse_ranked_hits(
    lists: &[Vec<(Uuid, f32)>],
    mut points: std::collections::HashMap<Uuid, (ChunkPayload, f32)>,
    limit: usize,
) -> Vec<ScoredChunk> {
    let mut chunks: Vec<ScoredChunk> = fuse_ranked_ids(lists, usize::MAX)
        .into_iter()
        .filter_map(|(id, score)| {
            points
                .remove(&id)
                .map(|(payload, dense_similarity)| ScoredChunk {
                    id,
                    score,
                    dense_similarity,
                    payload,
                })
        })
        .collect();
    chunks.truncate(limit);
    chunks
}

/// Extra hits a search asks for when its cut falls inside a group of equal scores (see
/// [`tied_score_at_cut`]); a tie group larger than this is cut by the engine's order.
pub const TIE_WINDOW: usize = 256;

/// A search asks the engine for `limit + 1` hits. When the hit after the cut ties the last one
/// kept, the engine chose which of the tied points made the cut (by its internal order, which
/// differs between engines and, on a cluster, between shards): returns that score, so the store
/// can fetch every hit scoring at least as much and cut them with [`cut_by_score_then_id`].
pub fn tied_score_at_cut<T>(hits: &[T], limit: usize, score: impl Fn(&T) -> f32) -> Option<f32> {
    if limit == 0 || hits.len() <= limit {
        return None;
    }
    let kept = score(&hits[limit - 1]);
    (score(&hits[limit]) == kept).then_some(kept)
}

/// The score threshold that keeps `score` itself (Qdrant keeps only scores strictly above a
/// threshold).
pub fn threshold_keeping(score: f32) -> f32 {
    score.next_down()
}

/// Hits in (score desc, id asc) order, cut to `limit`: the same points whatever order the engine
/// returned them in.
pub fn cut_by_score_then_id<T>(
    mut hits: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> (f32, Uuid),
) -> Vec<T> {
    hits.sort_by(|a, b| {
        let (score_a, id_a) = key(a);
        let (score_b, id_b) = key(b);
        score_b
            .partial_cmp(&score_a)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| id_a.cmp(&id_b))
    });
    hits.truncate(limit);
    hits
}

/// The vector scaled to unit length (unchanged when it is all zeros).
pub fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        vector.to_vec()
    } else {
        vector.iter().map(|x| x / norm).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_gives_ties_one_rank_and_orders_them_by_id() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let c = Uuid::from_u128(3);
        let fused = reciprocal_rank_fusion(&[vec![(b, 0.9), (a, 0.9), (c, 0.5)]], 60.0);
        assert_eq!(fused[0], (a, 1.0 / 61.0));
        assert_eq!(fused[1], (b, 1.0 / 61.0));
        // Competition ranking: after two at rank 1 comes rank 3.
        assert_eq!(fused[2], (c, 1.0 / 63.0));
    }

    #[test]
    fn fusion_sums_over_lists() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let fused = reciprocal_rank_fusion(&[vec![(a, 1.0), (b, 0.5)], vec![(b, 3.0)]], 1.0);
        assert_eq!(fused[0].0, b);
        assert!((fused[0].1 - (1.0 / 3.0 + 1.0 / 2.0)).abs() < 1e-6);
    }

    #[test]
    fn a_cut_inside_a_tie_group_is_detected_and_decided_by_id() {
        let id = Uuid::from_u128;
        let score = |hit: &(Uuid, f32)| hit.1;
        // The engine returned the tied points 5 and 2 in its own order around the cut at 2.
        let hits = vec![(id(9), 0.9), (id(5), 0.5), (id(2), 0.5)];
        assert_eq!(tied_score_at_cut(&hits, 2, score), Some(0.5));
        assert_eq!(tied_score_at_cut(&hits, 1, score), None, "0.9 is alone");
        assert_eq!(
            tied_score_at_cut(&hits, 3, score),
            None,
            "nothing beyond the cut"
        );
        let cut = cut_by_score_then_id(hits, 2, |hit| (hit.1, hit.0));
        assert_eq!(cut, vec![(id(9), 0.9), (id(2), 0.5)]);
        let threshold = threshold_keeping(0.5);
        assert!(threshold < 0.5 && threshold > 0.499_999);
    }

    #[test]
    fn normalising_gives_unit_length() {
        let unit = normalized(&[3.0, 4.0]);
        assert!((unit[0] - 0.6).abs() < 1e-6 && (unit[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
