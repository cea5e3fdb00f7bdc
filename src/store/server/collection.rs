//! The server collection's shape: created with deskdraft's vectors, payload indexes and layout
//! (`[store] shards`, `replication_factor`, `write_consistency`), or an existing one checked: a
//! dense dimension that differs is an error (every query would fail), a layout that differs is a
//! warning (the collection still answers correctly, and resharding or adding replicas is an
//! operator's decision on a live cluster, not something a client should do or refuse to run
//! over). Also the wait for the server's optimizers after a bulk load.

use qdrant_client::qdrant::{
    CollectionParams, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, Distance,
    FieldType, Modifier, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    VectorParamsBuilder, VectorsConfigBuilder, vectors_config,
};

use super::idf::TERMS_FIELD;
use super::{QdrantServerStore, classify};
use crate::store::{DENSE_VECTOR_NAME, SPARSE_VECTOR_NAME, StoreError};

/// How the collection is spread over a cluster. `None` leaves the choice to the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectionLayout {
    pub shards: Option<u32>,
    pub replication_factor: Option<u32>,
    pub write_consistency: Option<u32>,
}

impl CollectionLayout {
    pub fn from_settings(settings: &crate::config::StoreSettings) -> Self {
        Self {
            shards: settings.shards,
            replication_factor: Some(settings.replication_factor),
            write_consistency: Some(settings.write_consistency),
        }
    }

    /// Differences between this layout and an existing collection's, one line each.
    pub fn differences(&self, existing: &CollectionParams) -> Vec<String> {
        let mut differences = Vec::new();
        let mut compare = |key: &str, wanted: Option<u32>, actual: u32| {
            if let Some(wanted) = wanted
                && wanted != actual
            {
                differences.push(format!(
                    "store.{key} is {wanted} but the collection has {actual}"
                ));
            }
        };
        compare("shards", self.shards, existing.shard_number);
        compare(
            "replication_factor",
            self.replication_factor,
            existing.replication_factor.unwrap_or(1),
        );
        compare(
            "write_consistency",
            self.write_consistency,
            existing.write_consistency_factor.unwrap_or(1),
        );
        differences
    }
}

/// Who weighs BM25 terms by their inverse document frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdfWeighting {
    /// deskdraft, from collection-wide counts (collections it creates): the same on any number
    /// of shards.
    Client,
    /// The engine's `Modifier::Idf` (collections created before): per shard, so on several
    /// shards a point's BM25 score depends on where it was placed.
    Engine,
}

/// Longest wait for the server's optimizers after a bulk load.
const OPTIMIZE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

impl QdrantServerStore {
    /// The server's optimizers merge segments and build indexes in the background after a bulk
    /// load; this waits until they are done (status green), so the queries that follow (a
    /// simulation's) all see the same segments: scores computed on a segment being rebuilt can
    /// differ in their last bit and swap near-equal hits, which made two simulations of the same
    /// bundle differ. Gives up after [`OPTIMIZE_WAIT`] with a warning.
    pub(super) async fn wait_until_optimized(&self) -> Result<(), StoreError> {
        use qdrant_client::qdrant::CollectionStatus;
        self.ensure_collection().await?;
        let started = std::time::Instant::now();
        loop {
            let status = self
                .retry
                .run(|_| async {
                    self.client
                        .collection_info(&self.collection)
                        .await
                        .map_err(classify)
                })
                .await?
                .result
                .map(|info| info.status);
            // Grey: optimizations pending but not running (nothing to wait for).
            if status == Some(CollectionStatus::Green as i32)
                || status == Some(CollectionStatus::Grey as i32)
            {
                return Ok(());
            }
            if started.elapsed() > OPTIMIZE_WAIT {
                tracing::warn!(collection = %self.collection, ?status, "the server is still optimizing the collection; going on");
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
    pub(super) async fn create_collection(&self) -> Result<(), StoreError> {
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params(
            DENSE_VECTOR_NAME,
            VectorParamsBuilder::new(self.dimensions as u64, Distance::Cosine),
        );
        // No modifier: deskdraft applies the IDF itself (see `idf.rs`), because the engine's is
        // computed per shard.
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(SPARSE_VECTOR_NAME, SparseVectorParamsBuilder::default());
        let mut builder = CreateCollectionBuilder::new(&self.collection)
            .vectors_config(vectors)
            .sparse_vectors_config(sparse);
        if let Some(shards) = self.layout.shards {
            builder = builder.shard_number(shards);
        }
        if let Some(copies) = self.layout.replication_factor {
            builder = builder.replication_factor(copies);
        }
        if let Some(acknowledgements) = self.layout.write_consistency {
            builder = builder.write_consistency_factor(acknowledgements);
        }
        self.client
            .create_collection(builder)
            .await
            .map_err(classify)?;
        for (field, kind) in [
            ("product", FieldType::Keyword),
            ("source_type", FieldType::Keyword),
            ("doc_key", FieldType::Keyword),
            ("created_at", FieldType::Datetime),
            (TERMS_FIELD, FieldType::Integer),
        ] {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(&self.collection, field, kind)
                        .wait(true),
                )
                .await
                .map_err(classify)?;
        }
        tracing::info!(collection = %self.collection, layout = ?self.layout, "created the collection");
        Ok(())
    }

    /// Checks an existing collection: its dense dimension (an error when it differs), its layout
    /// (a warning), and who weighs BM25 terms.
    pub(super) async fn check_collection(&self) -> Result<IdfWeighting, StoreError> {
        let info = self
            .client
            .collection_info(&self.collection)
            .await
            .map_err(classify)?
            .result
            .unwrap_or_default();
        let has_terms_index = info.payload_schema.contains_key(TERMS_FIELD);
        let params = info.config.and_then(|c| c.params).unwrap_or_default();
        let existing = params
            .vectors_config
            .as_ref()
            .and_then(|v| v.config.as_ref())
            .and_then(|config| match config {
                vectors_config::Config::ParamsMap(map) => {
                    map.map.get(DENSE_VECTOR_NAME).map(|p| p.size as usize)
                }
                vectors_config::Config::Params(params) => Some(params.size as usize),
            });
        if let Some(size) = existing
            && size != self.dimensions
        {
            return Err(StoreError::DimensionMismatch {
                existing: size,
                requested: self.dimensions,
            });
        }
        for difference in self.layout.differences(&params) {
            tracing::warn!(collection = %self.collection, "{difference}; the collection is used as it is (layout applies only when deskdraft creates a collection)");
        }
        let engine_idf = params
            .sparse_vectors_config
            .as_ref()
            .and_then(|sparse| sparse.map.get(SPARSE_VECTOR_NAME))
            .and_then(|p| p.modifier)
            == Some(Modifier::Idf as i32);
        if engine_idf || !has_terms_index {
            if params.shard_number > 1 {
                tracing::warn!(collection = %self.collection, shards = params.shard_number, "this collection was created by an older deskdraft: BM25 statistics are per shard, so scores depend on shard placement; re-create it (deskdraft migrate-store or a new collection) for collection-wide statistics");
            }
            return Ok(IdfWeighting::Engine);
        }
        Ok(IdfWeighting::Client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_differences_name_the_setting_and_both_values() {
        let layout = CollectionLayout {
            shards: Some(3),
            replication_factor: Some(2),
            write_consistency: Some(1),
        };
        let existing = CollectionParams {
            shard_number: 3,
            replication_factor: Some(1),
            write_consistency_factor: None,
            ..Default::default()
        };
        assert_eq!(
            layout.differences(&existing),
            vec!["store.replication_factor is 2 but the collection has 1".to_string()]
        );
        // Unset values leave the choice to the server and never differ.
        assert!(
            CollectionLayout::default()
                .differences(&existing)
                .is_empty()
        );
    }
}
