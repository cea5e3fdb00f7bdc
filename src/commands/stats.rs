//! `deskdraft stats`: what the store holds and when it was last filled.

use serde::Serialize;

use crate::config::Config;
use crate::errors::CommandError;
use crate::ingest::state::IngestState;
use crate::store::{EdgeVectorStore, StoreStats, VectorStore};

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
    let store = EdgeVectorStore::open_existing(&config.store_dir())?;
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
