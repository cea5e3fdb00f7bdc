//! Qdrant Edge (Qdrant's engine in-process) as the embedded default vector store.
//!
//! Edge calls are synchronous and CPU-bound, so every call runs on tokio's blocking pool; the shard
//! itself is internally synchronised and shared through an `Arc`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use qdrant_edge::{
    CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams,
    FieldIndexOperations, Filter, Modifier, PayloadFieldSchema, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, QueryRequest, Record, RetrieveRequest, ScoringQuery,
    ScrollRequest, SparseVector, UpdateOperation, VectorInternal, VectorStructInternal,
    WithPayloadInterface, WithVector,
};
use uuid::Uuid;

use super::{
    ChunkPayload, DENSE_VECTOR_NAME, HybridQuery, QueryFilter, SPARSE_VECTOR_NAME, ScoredChunk,
    StoreError, StoreStats, StoredPoint, TIE_WINDOW, VectorStore, cut_by_score_then_id,
    fuse_ranked_ids, normalized, threshold_keeping, tied_score_at_cut,
};
use crate::domain::{DocumentKey, SourceType};

mod conversions;

use conversions::*;

/// The embedded store: one Edge shard in a folder of the data directory.
pub struct EdgeVectorStore {
    shard: Arc<EdgeShard>,
    path: PathBuf,
}

impl EdgeVectorStore {
    /// Open the shard at `path`, creating it with `dense_dimensions` if it does not exist yet.
    pub fn open(path: &Path, dense_dimensions: usize) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(path).map_err(|e| open_error(e.to_string()))?;
        let config = edge_config(dense_dimensions);
        let existed = path.join("edge_config.json").exists();
        if existed {
            let stored: EdgeConfig = std::fs::read_to_string(path.join("edge_config.json"))
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
                .ok_or_else(|| open_error("edge_config.json is unreadable".to_string()))?;
            if let Some(existing) = stored.vectors.get(DENSE_VECTOR_NAME)
                && existing.size != dense_dimensions
            {
                return Err(StoreError::DimensionMismatch {
                    existing: existing.size,
                    requested: dense_dimensions,
                });
            }
        }
        let shard = EdgeShard::load(path, Some(config)).map_err(|e| open_error(e.to_string()))?;
        let store = Self {
            shard: Arc::new(shard),
            path: path.to_path_buf(),
        };
        if !existed {
            store.create_payload_indexes()?;
        }
        Ok(store)
    }

    /// Open an existing store read-only in spirit (fails when there is none).
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.join("edge_config.json").exists() {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                reason: "no store here yet: run `deskdraft ingest` first".to_string(),
            });
        }
        let shard = EdgeShard::load(path, None).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            shard: Arc::new(shard),
            path: path.to_path_buf(),
        })
    }

    /// Payload indexes make the filters we always use (product, source, time) cheap.
    fn create_payload_indexes(&self) -> Result<(), StoreError> {
        let fields = [
            ("product", PayloadSchemaType::Keyword),
            ("source_type", PayloadSchemaType::Keyword),
            ("doc_key", PayloadSchemaType::Keyword),
            ("created_at", PayloadSchemaType::Datetime),
        ];
        for (field, schema) in fields {
            self.shard
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: json_path(field),
                        field_schema: Some(PayloadFieldSchema::FieldType(schema)),
                    }),
                ))
                .map_err(operation_error)?;
        }
        Ok(())
    }

    /// Every point with its vectors, a page at a time (for `migrate-store`): returns the page and
    /// the offset of the next one.
    pub async fn export_page(
        &self,
        offset: Option<Uuid>,
        limit: usize,
    ) -> Result<(Vec<StoredPoint>, Option<Uuid>), StoreError> {
        self.blocking(move |shard| {
            let request = ScrollRequest {
                offset: offset.map(PointId::Uuid),
                limit: Some(limit),
                filter: None,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(true),
                order_by: None,
            };
            let (records, next) = shard.scroll(request).map_err(operation_error)?;
            let mut points = Vec::with_capacity(records.len());
            for record in records {
                let payload = decode_payload(&record.id, record.payload)?;
                let (dense, sparse_indices, sparse_values) = match record.vector {
                    Some(VectorStructInternal::Named(mut named)) => {
                        let dense = match named.remove(DENSE_VECTOR_NAME) {
                            Some(VectorInternal::Dense(values)) => values,
                            _ => Vec::new(),
                        };
                        let (indices, values) = match named.remove(SPARSE_VECTOR_NAME) {
                            Some(VectorInternal::Sparse(sparse)) => (sparse.indices, sparse.values),
                            _ => (Vec::new(), Vec::new()),
                        };
                        (dense, indices, values)
                    }
                    _ => (Vec::new(), Vec::new(), Vec::new()),
                };
                points.push(StoredPoint {
                    id: point_uuid(&record.id),
                    dense,
                    sparse_indices,
                    sparse_values,
                    payload,
                });
            }
            Ok((points, next.as_ref().map(point_uuid)))
        })
        .await
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&EdgeShard) -> Result<T, StoreError> + Send + 'static,
    {
        let shard = Arc::clone(&self.shard);
        tokio::task::spawn_blocking(move || work(&shard))
            .await
            .map_err(task_failed)?
    }

    /// Runs `work` on this thread when the runtime allows blocking in place, else on the
    /// blocking pool (see [`crate::runtime::can_block_in_place`]).
    async fn here_or_blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&EdgeShard) -> Result<T, StoreError> + Send + 'static,
    {
        if crate::runtime::can_block_in_place() {
            return tokio::task::block_in_place(|| work(&self.shard));
        }
        self.blocking(work).await
    }
}

/// One search's ranked `(id, score)` list, without payloads or vectors (read after fusion), cut
/// to `limit` in (score desc, id asc) order: when the cut falls inside a group of equal scores,
/// every tied hit is fetched so the id decides which make it, as on every other store.
fn ranked_ids(
    shard: &EdgeShard,
    scoring: Option<ScoringQuery>,
    filter: Option<Filter>,
    limit: usize,
) -> Result<Vec<(Uuid, f32)>, StoreError> {
    let search = |limit: usize, score_threshold: Option<f32>| {
        let hits = shard
            .query(QueryRequest {
                prefetches: vec![],
                query: scoring.clone(),
                filter: filter.clone(),
                score_threshold,
                limit,
                offset: 0,
                params: None,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(false),
            })
            .map_err(operation_error)?;
        Ok::<_, StoreError>(
            hits.into_iter()
                .map(|hit| (point_uuid(&hit.id), hit.score))
                .collect::<Vec<_>>(),
        )
    };
    let mut hits = search(limit + 1, None)?;
    if let Some(tied) = tied_score_at_cut(&hits, limit, |hit| hit.1) {
        hits = search(limit + TIE_WINDOW, Some(threshold_keeping(tied)))?;
    }
    Ok(cut_by_score_then_id(hits, limit, |hit| (hit.1, hit.0)))
}

fn task_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::Operation(format!("store task panicked: {e}"))
}

fn edge_config(dense_dimensions: usize) -> EdgeConfig {
    let dense = EdgeVectorParams::builder(dense_dimensions, Distance::Cosine).build();
    let sparse = EdgeSparseVectorParams {
        modifier: Some(Modifier::Idf),
        ..Default::default()
    };
    EdgeConfig {
        vectors: HashMap::from([(DENSE_VECTOR_NAME.to_string(), dense)]),
        sparse_vectors: HashMap::from([(SPARSE_VECTOR_NAME.to_string(), sparse)]),
        ..Default::default()
    }
}

#[async_trait]
impl VectorStore for EdgeVectorStore {
    fn describe(&self) -> String {
        format!("qdrant-edge at {}", self.path.display())
    }

    async fn upsert(&self, points: Vec<StoredPoint>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        self.blocking(move |shard| {
            let points = points
                .into_iter()
                .map(to_point)
                .collect::<Result<Vec<_>, _>>()?;
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))
                .map_err(operation_error)
        })
        .await
    }

    async fn delete_points(&self, ids: Vec<Uuid>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.blocking(move |shard| {
            let ids = ids.into_iter().map(PointId::Uuid).collect();
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints { ids },
                ))
                .map_err(operation_error)
        })
        .await
    }

    async fn delete_documents(&self, keys: Vec<DocumentKey>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.blocking(move |shard| {
            let filter = Filter {
                should: Some(keys.iter().map(document_condition).collect()),
                ..Filter::new()
            };
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                ))
                .map_err(operation_error)
        })
        .await
    }

    async fn hybrid_query(&self, query: HybridQuery) -> Result<Vec<ScoredChunk>, StoreError> {
        let filter = to_qdrant_filter(&query.filter);
        // Cosine needs a unit query; remote embedders may not normalise.
        let dense_query = normalized(&query.dense);
        // An empty sparse query (only stopwords) would match nothing.
        let sparse_scoring = if query.sparse_indices.is_empty() {
            None
        } else {
            let sparse =
                SparseVector::new(query.sparse_indices.clone(), query.sparse_values.clone())
                    .map_err(operation_error)?;
            Some(nearest(VectorInternal::from(sparse), SPARSE_VECTOR_NAME))
        };
        // The sparse search starts on the blocking pool first; the dense one then runs here
        // when the runtime allows blocking in place. The two overlap, so a query costs the
        // slower of them, and only one pays a blocking-pool thread's wake-up.
        let sparse_search = sparse_scoring.map(|scoring| {
            let (shard, filter, limit) = (
                Arc::clone(&self.shard),
                filter.clone(),
                query.prefetch_limit,
            );
            tokio::task::spawn_blocking(move || ranked_ids(&shard, scoring, filter, limit))
        });
        let dense_scoring = nearest(VectorInternal::from(dense_query.clone()), DENSE_VECTOR_NAME);
        let dense_hits = self
            .here_or_blocking(move |shard| {
                ranked_ids(shard, dense_scoring, filter, query.prefetch_limit)
            })
            .await?;
        let sparse_hits = match sparse_search {
            Some(task) => Some(task.await.map_err(task_failed)??),
            None => None,
        };
        let lists: Vec<Vec<(Uuid, f32)>> = std::iter::once(dense_hits).chain(sparse_hits).collect();
        // Fusion runs here rather than in the engine: the engine ranks equal scores by its
        // internal order and cuts to `limit` before our tie-break could apply.
        let fused = fuse_ranked_ids(&lists, query.limit);
        // Payloads and vectors are read only for the chunks that survive fusion.
        let ids: Vec<PointId> = fused.iter().map(|(id, _)| PointId::Uuid(*id)).collect();
        let records = self
            .here_or_blocking(move |shard| {
                shard
                    .retrieve(RetrieveRequest {
                        point_ids: ids,
                        with_payload: Some(WithPayloadInterface::Bool(true)),
                        with_vector: Some(WithVector::Selector(vec![
                            DENSE_VECTOR_NAME.to_string(),
                        ])),
                    })
                    .map_err(operation_error)
            })
            .await?;
        let mut by_id: HashMap<Uuid, Record> = records
            .into_iter()
            .map(|record| (point_uuid(&record.id), record))
            .collect();
        let mut chunks = Vec::with_capacity(fused.len());
        // A point deleted between the search and the read is simply left out.
        for (id, score) in fused {
            let Some(record) = by_id.remove(&id) else {
                continue;
            };
            let payload = decode_payload(&record.id, record.payload)?;
            let dense_similarity = dense_of(record.vector)
                .map(|v| crate::embed::cosine(&dense_query, &normalized(&v)))
                .unwrap_or(0.0);
            chunks.push(ScoredChunk {
                id,
                score,
                dense_similarity,
                payload,
            });
        }
        Ok(chunks)
    }

    async fn scroll_payloads(
        &self,
        source_type: SourceType,
    ) -> Result<Vec<(Uuid, ChunkPayload)>, StoreError> {
        self.blocking(move |shard| {
            let filter = to_qdrant_filter(&QueryFilter {
                source_types: vec![source_type],
                ..QueryFilter::default()
            });
            let mut all = Vec::new();
            let mut offset = None;
            loop {
                let request = ScrollRequest {
                    offset,
                    limit: Some(1_000),
                    filter: filter.clone(),
                    with_payload: Some(WithPayloadInterface::Bool(true)),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                };
                let (records, next) = shard.scroll(request).map_err(operation_error)?;
                for record in records {
                    let payload = decode_payload(&record.id, record.payload)?;
                    all.push((point_uuid(&record.id), payload));
                }
                match next {
                    Some(next) => offset = Some(next),
                    None => break,
                }
            }
            all.sort_by_key(|a| a.0);
            Ok(all)
        })
        .await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = StoreStats::default();
        let mut by_source = BTreeMap::new();
        for source_type in SourceType::ALL {
            let filter = to_qdrant_filter(&QueryFilter {
                source_types: vec![source_type],
                ..QueryFilter::default()
            });
            let count = self
                .blocking(move |shard| {
                    shard
                        .count(qdrant_edge::CountRequest {
                            filter,
                            exact: true,
                        })
                        .map_err(operation_error)
                })
                .await?;
            by_source.insert(source_type.as_str().to_string(), count as u64);
            stats.points += count as u64;
        }
        stats.points_by_source = by_source;
        Ok(stats)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.blocking(|shard| shard.flush().map_err(operation_error))
            .await
    }

    async fn optimize(&self) -> Result<(), StoreError> {
        self.blocking(|shard| shard.optimize().map(|_| ()).map_err(operation_error))
            .await
    }
}
