//! `deskdraft stats`: what the store holds and when it was last filled.

use serde::Serialize;

use crate::config::Config;
use crate::config::StoreBackend;
use crate::errors::CommandError;
use crate::ingest::state::IngestState;
use crate::store::server::CollectionLayout;
use crate::store::{EdgeVectorStore, QdrantServerStore, StoreStats, VectorStore};

#[derive(Debug, Serialize)]
pub struct Stats {
    pub store: String,
    pub documents: usize,
    pub cases: usize,
    pub articles: usize,
    pub chunks: usize,
    pub points: StoreStats,
    pub last_ingest_finished: Option<chrono::DateTime<chrono::Utc>>,
    pub embedding_model: Option<String>,
}

pub async fn run_stats(config: Config) -> Result<Stats, CommandError> {
    let store: Box<dyn VectorStore> = match config.store.backend {
        StoreBackend::Edge => Box::new(EdgeVectorStore::open_existing(&config.store_dir())?),
        // The dimension only matters when the collection is created, which stats never needs.
        StoreBackend::Qdrant => Box::new(
            QdrantServerStore::new(
                config.store.url.as_deref().unwrap_or_default(),
                std::env::var(crate::store::server::QDRANT_API_KEY_ENV).ok(),
                &config.store.collection,
                config.embedding.endpoint_dimensions.unwrap_or(384),
            )?
            .with_layout(CollectionLayout::from_settings(&config.store)),
        ),
    };
    let state = IngestState::load(&config.ingest_state_path())
        .map_err(|e| CommandError::Config(e.to_string()))?;
    let count = |prefix: &str| {
        state
            .documents
            .keys()
            .filter(|k| k.starts_with(prefix))
            .count()
    };
    Ok(Stats {
        store: store.describe(),
        documents: state.documents.len(),
        cases: count("case:"),
        articles: count("article:"),
        chunks: state.documents.values().map(|d| d.chunk_count).sum(),
        points: store.stats().await?,
        last_ingest_finished: state.last_ingest_finished,
        embedding_model: state.embedding_model,
    })
}
