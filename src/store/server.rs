//! A Qdrant server or cluster (gRPC, `qdrant-client`) behind the same [`VectorStore`] trait as the
//! embedded store: the same named dense + sparse (IDF) vectors, the same payload indexes, the same
//! filters, and the same deterministic ordering (dense and sparse searches fused by RRF in
//! deskdraft, as in `edge.rs`, because the engine orders equal scores by its internal order and
//! cuts to `limit` before a tie-break could apply).
//!
//! The client is built without I/O; the collection is created (or checked) on first use, so
//! wiring stays synchronous. `ResourceExhausted` maps to rate-limited with its retry-after, lost
//! connections and timeouts to transient; every call goes through the project's retry policy.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DatetimeRange, DeletePointsBuilder, Distance, FieldType, Filter, Modifier, NamedVectors,
    PointId, PointStruct, PointsIdsList, Query, QueryPointsBuilder, ScrollPointsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector,
    VectorInput, VectorParamsBuilder, VectorsConfigBuilder, VectorsSelector, point_id,
    vector_output, vectors_config,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{
    ChunkPayload, DENSE_VECTOR_NAME, HybridQuery, QueryFilter, SPARSE_VECTOR_NAME, ScoredChunk,
    StoreError, StoreStats, StoredPoint, VectorStore, fuse_ranked_hits, normalized,
};
use crate::domain::{DocumentKey, SourceType};
use crate::retry::RetryPolicy;

/// Points per upsert request.
const UPSERT_BATCH: usize = 256;
/// Environment variable holding the server's API key (optional).
pub const QDRANT_API_KEY_ENV: &str = "DESKDRAFT_QDRANT_API_KEY";

pub struct QdrantServerStore {
    client: Qdrant,
    url: String,
    collection: String,
    dimensions: usize,
    ready: OnceCell<String>,
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
            _ => StoreError::Operation(format!("{:?}: {}", status.code(), status.message())),
        },
        other => StoreError::Operation(other.to_string()),
    }
}

fn point_id(id: Uuid) -> PointId {
    PointId::from(id.to_string())
}

fn uuid_of(id: Option<PointId>) -> Uuid {
    match id.and_then(|p| p.point_id_options) {
        Some(point_id::PointIdOptions::Uuid(text)) => Uuid::parse_str(&text).unwrap_or_default(),
        Some(point_id::PointIdOptions::Num(n)) => Uuid::from_u128(u128::from(n)),
        None => Uuid::nil(),
    }
}

fn keyword(field: &str, value: &str) -> Condition {
    Condition::matches(field, value.to_string())
}

/// Our filter in the server's terms; the same conditions as the embedded store's.
pub(crate) fn to_server_filter(filter: &QueryFilter) -> Option<Filter> {
    let mut must = Vec::new();
    match filter.source_types.as_slice() {
        [] => {}
        [only] => must.push(keyword("source_type", only.as_str())),
        several => must.push(Condition::from(Filter::should(
            several
                .iter()
                .map(|kind| keyword("source_type", kind.as_str())),
        ))),
    }
    if let Some(product) = &filter.product {
        must.push(Condition::from(Filter::should([
            keyword("product", product),
            Condition::is_empty("product"),
        ])));
    }
    if let Some(before) = filter.created_before {
        must.push(Condition::datetime_range(
            "created_at",
            DatetimeRange {
                lt: Some(prost_types::Timestamp {
                    seconds: before.timestamp(),
                    nanos: before.timestamp_subsec_nanos() as i32,
                }),
                ..Default::default()
            },
        ));
    }
    let must_not: Vec<Condition> = filter
        .exclude_documents
        .iter()
        .map(|key| keyword("doc_key", &key.to_string()))
        .collect();
    if must.is_empty() && must_not.is_empty() {
        return None;
    }
    Some(Filter {
        must,
        must_not,
        ..Default::default()
    })
}

fn decode(
    id: Uuid,
    payload: HashMap<String, qdrant_client::qdrant::Value>,
) -> Result<ChunkPayload, StoreError> {
    let json = serde_json::Value::from(Payload::from(payload));
    serde_json::from_value(json).map_err(|e| StoreError::InvalidPayload {
        id: id.to_string(),
        reason: e.to_string(),
    })
}

fn dense_of(vectors: Option<&qdrant_client::qdrant::VectorsOutput>) -> Option<Vec<f32>> {
    match vectors?.get_vector_by_name(DENSE_VECTOR_NAME)? {
        vector_output::Vector::Dense(dense) => Some(dense.data),
        _ => None,
    }
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
            ready: OnceCell::new(),
            retry: RetryPolicy::default(),
        })
    }

    /// Creates the collection and its payload indexes, or checks an existing one's dimension;
    /// returns the server version. Runs once.
    pub async fn ensure_collection(&self) -> Result<&str, StoreError> {
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
                if exists {
                    self.check_dimensions().await?;
                } else {
                    self.create_collection().await?;
                }
                Ok(health.version)
            })
            .await
            .map(String::as_str)
    }

    async fn check_dimensions(&self) -> Result<(), StoreError> {
        let info = self
            .client
            .collection_info(&self.collection)
            .await
            .map_err(classify)?;
        let existing = info
            .result
            .and_then(|r| r.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config)
            .and_then(|config| match config {
                vectors_config::Config::ParamsMap(map) => {
                    map.map.get(DENSE_VECTOR_NAME).map(|p| p.size as usize)
                }
                vectors_config::Config::Params(params) => Some(params.size as usize),
            });
        match existing {
            Some(size) if size != self.dimensions => Err(StoreError::DimensionMismatch {
                existing: size,
                requested: self.dimensions,
            }),
            _ => Ok(()),
        }
    }

    async fn create_collection(&self) -> Result<(), StoreError> {
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params(
            DENSE_VECTOR_NAME,
            VectorParamsBuilder::new(self.dimensions as u64, Distance::Cosine),
        );
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            SPARSE_VECTOR_NAME,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
        );
        self.client
            .create_collection(
                CreateCollectionBuilder::new(&self.collection)
                    .vectors_config(vectors)
                    .sparse_vectors_config(sparse),
            )
            .await
            .map_err(classify)?;
        for (field, kind) in [
            ("product", FieldType::Keyword),
            ("source_type", FieldType::Keyword),
            ("doc_key", FieldType::Keyword),
            ("created_at", FieldType::Datetime),
        ] {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(&self.collection, field, kind)
                        .wait(true),
                )
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    /// Deletes the points a selector (ids or a filter) names, waiting for the server.
    async fn delete_matching(
        &self,
        selector: impl Into<qdrant_client::qdrant::points_selector::PointsSelectorOneOf>,
    ) -> Result<(), StoreError> {
        self.ensure_collection().await?;
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

    async fn search(
        &self,
        query: Query,
        using: &str,
        filter: Option<Filter>,
        limit: usize,
    ) -> Result<Vec<qdrant_client::qdrant::ScoredPoint>, StoreError> {
        let mut builder = QueryPointsBuilder::new(&self.collection)
            .query(query)
            .using(using)
            .limit(limit as u64)
            .with_payload(true)
            .with_vectors(VectorsSelector {
                names: vec![DENSE_VECTOR_NAME.to_string()],
            });
        if let Some(filter) = filter {
            builder = builder.filter(filter);
        }
        let request = builder.build();
        let response = self
            .retry
            .run(|_| async { self.client.query(request.clone()).await.map_err(classify) })
            .await?;
        Ok(response.result)
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
        for batch in points.chunks(UPSERT_BATCH) {
            let mut converted = Vec::with_capacity(batch.len());
            for point in batch {
                let payload = Payload::try_from(
                    serde_json::to_value(&point.payload)
                        .map_err(|e| StoreError::Operation(e.to_string()))?,
                )
                .map_err(|e| StoreError::Operation(e.to_string()))?;
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
            self.search(
                Query::new_nearest(VectorInput::new_sparse(
                    query.sparse_indices.clone(),
                    query.sparse_values.clone(),
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
                .with_payload(true)
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

    /// The server's own optimizers build indexes in the background.
    async fn optimize(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
