//! A Qdrant server or cluster (gRPC, `qdrant-client`) behind the same [`VectorStore`] trait as the
//! embedded store: the same named dense + sparse vectors, the same payload indexes, the same
//! filters, and the same deterministic ordering (dense and sparse searches fused by RRF in
//! deskdraft, as in `edge.rs`, because the engine orders equal scores by its internal order and
//! cuts to `limit` before a tie-break could apply; a cut inside a group of equal scores is
//! decided by id). BM25 IDF is applied by deskdraft from collection-wide counts (`idf.rs`),
//! since the engine's is per shard.
//!
//! The client is built without I/O; the collection is created (or checked, `collection.rs`) on
//! first use, so wiring stays synchronous. `ResourceExhausted` maps to rate-limited with its
//! retry-after; lost connections, timeouts and writes a cluster could not apply on enough replicas
//! to transient; every call goes through the project's retry policy.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use qdrant_client::qdrant::{
    CountPointsBuilder, DeletePointsBuilder, Filter, NamedVectors, PayloadExcludeSelector, PointId,
    PointStruct, PointsIdsList, Query, QueryPointsBuilder, ScrollPointsBuilder,
    UpsertPointsBuilder, Vector, VectorInput, VectorsSelector,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{
    ChunkPayload, DENSE_VECTOR_NAME, HybridQuery, QueryFilter, SPARSE_VECTOR_NAME, ScoredChunk,
    StoreError, StoreStats, StoredPoint, TIE_WINDOW, VectorStore, cut_by_score_then_id,
    fuse_ranked_hits, normalized, threshold_keeping, tied_score_at_cut,
};
use crate::domain::{DocumentKey, SourceType};
use crate::retry::RetryPolicy;

mod collection;
mod conversions;
mod idf;

pub(crate) use conversions::to_server_filter;
use conversions::{decode, dense_of, keyword, point_id, uuid_of};

pub use collection::CollectionLayout;
use collection::IdfWeighting;
pub use idf::{TERMS_FIELD, inverse_document_frequency};

/// Points per upsert request.
const UPSERT_BATCH: usize = 256;
/// Environment variable holding the server's API key (optional).
pub const QDRANT_API_KEY_ENV: &str = "DESKDRAFT_QDRANT_API_KEY";

pub struct QdrantServerStore {
    client: Qdrant,
    url: String,
    collection: String,
    dimensions: usize,
    layout: CollectionLayout,
    /// The server's version and who weighs BM25 terms, once the collection is checked.
    ready: OnceCell<(String, IdfWeighting)>,
    term_counts: idf::TermCounts,
    retry: RetryPolicy,
}

fn classify(error: QdrantError) -> StoreError {
    match error {
        QdrantError::ResourceExhaustedError {
            retry_after_seconds,
            ..
        } => StoreError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(retry_after_seconds)),
        },
        QdrantError::ResponseError { status } => match status.code() {
            tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Aborted
            | tonic::Code::Cancelled
            | tonic::Code::Unknown => StoreError::Unavailable(status.message().to_string()),
            tonic::Code::ResourceExhausted => StoreError::RateLimited { retry_after: None },
            // A cluster reports a write it could not apply on enough replicas (a peer down or
            // unreachable) as an internal error; the write is idempotent (deterministic ids),
            // so it is retried like a lost connection.
            tonic::Code::Internal if replica_unavailable(status.message()) => {
                StoreError::Unavailable(status.message().to_string())
            }
            _ => StoreError::Operation(format!("{:?}: {}", status.code(), status.message())),
        },
        other => StoreError::Operation(other.to_string()),
    }
}

/// Whether a cluster's internal error says a peer or replica was unreachable.
fn replica_unavailable(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "currently unavailable",
        "tcp connect error",
        "connection refused",
        "no active replica",
        "failed to apply operation",
    ]
    .iter()
    .any(|marker| message.contains(marker))
}

impl QdrantServerStore {
    /// A store on `url` (e.g. `http://qdrant:6334`, gRPC) in `collection`. No I/O happens here.
    pub fn new(
        url: &str,
        api_key: Option<String>,
        collection: &str,
        dimensions: usize,
    ) -> Result<Self, StoreError> {
        let parsed = url::Url::parse(url).map_err(|e| StoreError::Open {
            path: url.to_string(),
            reason: e.to_string(),
        })?;
        crate::net::check_secret_transport(&parsed, api_key.is_some(), "store.url").map_err(
            |reason| StoreError::Open {
                path: url.to_string(),
                reason,
            },
        )?;
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .skip_compatibility_check()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| StoreError::Open {
                path: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            client,
            url: url.to_string(),
            collection: collection.to_string(),
            dimensions,
            layout: CollectionLayout::default(),
            ready: OnceCell::new(),
            term_counts: idf::TermCounts::default(),
            retry: RetryPolicy::default(),
        })
    }

    /// The shards, replicas and write consistency of the collection when this store creates it
    /// (an existing collection that differs is reported, not changed).
    pub fn with_layout(mut self, layout: CollectionLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Creates the collection and its payload indexes, or checks an existing one (dimension,
    /// layout); returns the server version. Runs once.
    pub async fn ensure_collection(&self) -> Result<&str, StoreError> {
        Ok(self.ready().await?.0.as_str())
    }

    async fn idf_weighting(&self) -> Result<IdfWeighting, StoreError> {
        Ok(self.ready().await?.1)
    }

    async fn ready(&self) -> Result<&(String, IdfWeighting), StoreError> {
        self.ready
            .get_or_try_init(|| async {
                let health = self.client.health_check().await.map_err(|e| StoreError::Open {
                    path: self.url.clone(),
                    reason: format!("server unreachable: {e}"),
                })?;
                tracing::info!(url = %self.url, version = %health.version, collection = %self.collection, "connected to Qdrant server");
                let exists = self
                    .client
                    .collection_exists(&self.collection)
                    .await
                    .map_err(classify)?;
                let weighting = if exists {
                    self.check_collection().await?
                } else {
                    self.create_collection().await?;
                    IdfWeighting::Client
                };
                Ok((health.version, weighting))
            })
            .await
    }

    /// Deletes the points a selector (ids or a filter) names, waiting for the server.
    async fn delete_matching(
        &self,
        selector: impl Into<qdrant_client::qdrant::points_selector::PointsSelectorOneOf>,
    ) -> Result<(), StoreError> {
        self.ensure_collection().await?;
        self.term_counts.invalidate();
        let request = DeletePointsBuilder::new(&self.collection)
            .points(selector)
            .wait(true)
            .build();
        self.retry
            .run(|_| async {
                self.client
                    .delete_points(request.clone())
                    .await
                    .map_err(classify)
            })
            .await?;
        Ok(())
    }

    /// One search, cut to `limit` in (score desc, id asc) order: when the cut falls inside a
    /// group of equal scores (the engine, and on a cluster the merge of the shards' answers,
    /// picks among them by internal order), every tied hit is fetched and the id decides.
    async fn search(
        &self,
        query: Query,
        using: &str,
        filter: Option<Filter>,
        limit: usize,
    ) -> Result<Vec<qdrant_client::qdrant::ScoredPoint>, StoreError> {
        let request = |limit: usize, score_threshold: Option<f32>| {
            let mut builder = QueryPointsBuilder::new(&self.collection)
                .query(query.clone())
                .using(using)
                .limit(limit as u64)
                .with_payload(PayloadExcludeSelector::new(vec![TERMS_FIELD.to_string()]))
                .with_vectors(VectorsSelector {
                    names: vec![DENSE_VECTOR_NAME.to_string()],
                });
            if let Some(filter) = filter.clone() {
                builder = builder.filter(filter);
            }
            if let Some(threshold) = score_threshold {
                builder = builder.score_threshold(threshold);
            }
            builder.build()
        };
        let run = |request: qdrant_client::qdrant::QueryPoints| async move {
            self.retry
                .run(|_| async { self.client.query(request.clone()).await.map_err(classify) })
                .await
                .map(|response| response.result)
        };
        let mut hits = run(request(limit + 1, None)).await?;
        if let Some(tied) = tied_score_at_cut(&hits, limit, |hit| hit.score) {
            hits = run(request(limit + TIE_WINDOW, Some(threshold_keeping(tied)))).await?;
        }
        Ok(cut_by_score_then_id(hits, limit, |hit| {
            (hit.score, uuid_of(hit.id.clone()))
        }))
    }
}

#[async_trait]
impl VectorStore for QdrantServerStore {
    fn describe(&self) -> String {
        format!(
            "qdrant server at {} (collection {})",
            self.url, self.collection
        )
    }

    async fn upsert(&self, points: Vec<StoredPoint>) -> Result<(), StoreError> {
        self.ensure_collection().await?;
        if !points.is_empty() {
            self.term_counts.invalidate();
        }
        for batch in points.chunks(UPSERT_BATCH) {
            let mut converted = Vec::with_capacity(batch.len());
            for point in batch {
                let mut json = serde_json::to_value(&point.payload)
                    .map_err(|e| StoreError::Operation(e.to_string()))?;
                // The term ids, for collection-wide document frequencies (`idf.rs`).
                json[TERMS_FIELD] = serde_json::Value::from(point.sparse_indices.clone());
                let payload =
                    Payload::try_from(json).map_err(|e| StoreError::Operation(e.to_string()))?;
                let vectors = NamedVectors::default()
                    .add_vector(DENSE_VECTOR_NAME, Vector::new_dense(point.dense.clone()))
                    .add_vector(
                        SPARSE_VECTOR_NAME,
                        Vector::new_sparse(
                            point.sparse_indices.clone(),
                            point.sparse_values.clone(),
                        ),
                    );
                converted.push(PointStruct::new(point_id(point.id), vectors, payload));
            }
            let request = UpsertPointsBuilder::new(&self.collection, converted)
                .wait(true)
                .build();
            self.retry
                .run(|_| async {
                    self.client
                        .upsert_points(request.clone())
                        .await
                        .map_err(classify)
                })
                .await?;
        }
        Ok(())
    }

    async fn delete_points(&self, ids: Vec<Uuid>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.delete_matching(PointsIdsList {
            ids: ids.into_iter().map(point_id).collect(),
        })
        .await
    }

    async fn delete_documents(&self, keys: Vec<DocumentKey>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.delete_matching(Filter::should(
            keys.iter().map(|k| keyword("doc_key", &k.to_string())),
        ))
        .await
    }

    async fn hybrid_query(&self, query: HybridQuery) -> Result<Vec<ScoredChunk>, StoreError> {
        self.ensure_collection().await?;
        let filter = to_server_filter(&query.filter);
        let dense_query = normalized(&query.dense);
        let dense_search = self.search(
            Query::new_nearest(VectorInput::new_dense(dense_query.clone())),
            DENSE_VECTOR_NAME,
            filter.clone(),
            query.prefetch_limit,
        );
        // An empty sparse query (only stopwords) would match nothing. Both searches are in flight
        // at once, so a query costs one round trip.
        let sparse_search = async {
            if query.sparse_indices.is_empty() {
                return Ok(None);
            }
            let weights = match self.idf_weighting().await? {
                IdfWeighting::Client => {
                    self.idf_weighted(&query.sparse_indices, &query.sparse_values)
                        .await?
                }
                IdfWeighting::Engine => query.sparse_values.clone(),
            };
            self.search(
                Query::new_nearest(VectorInput::new_sparse(
                    query.sparse_indices.clone(),
                    weights,
                )),
                SPARSE_VECTOR_NAME,
                filter.clone(),
                query.prefetch_limit,
            )
            .await
            .map(Some)
        };
        let (dense_hits, sparse_hits) = tokio::try_join!(dense_search, sparse_search)?;
        let ranked: Vec<_> = std::iter::once(dense_hits).chain(sparse_hits).collect();
        let mut points: HashMap<Uuid, (ChunkPayload, f32)> = HashMap::new();
        let mut lists = Vec::with_capacity(ranked.len());
        for hits in ranked {
            let mut list = Vec::with_capacity(hits.len());
            for hit in hits {
                let id = uuid_of(hit.id.clone());
                list.push((id, hit.score));
                if let std::collections::hash_map::Entry::Vacant(slot) = points.entry(id) {
                    let similarity = dense_of(hit.vectors.as_ref())
                        .map(|v| crate::embed::cosine(&dense_query, &normalized(&v)))
                        .unwrap_or(0.0);
                    slot.insert((decode(id, hit.payload)?, similarity));
                }
            }
            lists.push(list);
        }
        Ok(fuse_ranked_hits(&lists, points, query.limit))
    }

    async fn scroll_payloads(
        &self,
        source_type: SourceType,
    ) -> Result<Vec<(Uuid, ChunkPayload)>, StoreError> {
        self.ensure_collection().await?;
        let filter = to_server_filter(&QueryFilter {
            source_types: vec![source_type],
            ..QueryFilter::default()
        })
        .unwrap_or_default();
        let mut all = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut builder = ScrollPointsBuilder::new(&self.collection)
                .filter(filter.clone())
                .limit(1_000)
                .with_payload(PayloadExcludeSelector::new(vec![TERMS_FIELD.to_string()]))
                .with_vectors(false);
            if let Some(offset) = offset.take() {
                builder = builder.offset(offset);
            }
            let request = builder.build();
            let page = self
                .retry
                .run(|_| async { self.client.scroll(request.clone()).await.map_err(classify) })
                .await?;
            for record in page.result {
                let id = uuid_of(record.id.clone());
                all.push((id, decode(id, record.payload)?));
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        all.sort_by_key(|a| a.0);
        Ok(all)
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.ensure_collection().await?;
        let mut stats = StoreStats::default();
        let mut by_source = BTreeMap::new();
        for source_type in SourceType::ALL {
            let filter = to_server_filter(&QueryFilter {
                source_types: vec![source_type],
                ..QueryFilter::default()
            })
            .unwrap_or_default();
            let request = CountPointsBuilder::new(&self.collection)
                .filter(filter)
                .exact(true)
                .build();
            let count = self
                .retry
                .run(|_| async { self.client.count(request.clone()).await.map_err(classify) })
                .await?
                .result
                .map_or(0, |r| r.count);
            by_source.insert(source_type.as_str().to_string(), count);
            stats.points += count;
        }
        stats.points_by_source = by_source;
        Ok(stats)
    }

    /// Writes use `wait=true`: once they return, the server has applied them.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Waits for the server's optimizers after a bulk load (see `collection.rs`).
    async fn optimize(&self) -> Result<(), StoreError> {
        self.wait_until_optimized().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_a_down_peer_could_not_apply_is_retryable() {
        use crate::retry::{Classify, ErrorClass};
        // As Qdrant v1.19 answers with write_consistency 2 and one replica's node killed.
        let down = tonic::Status::internal(
            "Service internal error: 2 out of 3 shards failed to apply operation. First error captured: Service internal error: Tonic status error: code: 'The service is currently unavailable', message: \"tcp connect error\"",
        );
        let error = classify(QdrantError::ResponseError { status: down });
        assert!(matches!(error.class(), ErrorClass::Transient), "{error}");
        let broken = tonic::Status::internal("Service internal error: segment is corrupted");
        let error = classify(QdrantError::ResponseError { status: broken });
        assert!(matches!(error.class(), ErrorClass::Permanent), "{error}");
    }

    #[test]
    fn a_qdrant_key_never_travels_over_plain_http_to_another_machine() {
        let key = Some("qdrant-key".to_string());
        let refused = QdrantServerStore::new("http://qdrant.internal:6334", key.clone(), "c", 8)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            refused.contains("store.url") && refused.contains("https"),
            "{refused}"
        );
        assert!(
            QdrantServerStore::new("https://qdrant.internal:6334", key.clone(), "c", 8).is_ok()
        );
        assert!(QdrantServerStore::new("http://127.0.0.1:6334", key, "c", 8).is_ok());
        assert!(QdrantServerStore::new("http://qdrant.internal:6334", None, "c", 8).is_ok());
    }
}
