//! `deskdraft migrate-store`: copies the embedded Qdrant Edge store of the data dir into the Qdrant
//! server collection configured in `[store]` (vectors and payloads as they are: nothing is
//! re-embedded), then checks that the counts match.

use serde::Serialize;

use crate::config::Config;
use crate::errors::CommandError;
use crate::store::server::CollectionLayout;
use crate::store::server::QDRANT_API_KEY_ENV;
use crate::store::{EdgeVectorStore, QdrantServerStore, VectorStore};

const PAGE: usize = 512;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MigrationSummary {
    pub points_copied: u64,
    pub source_points: u64,
    pub target_points: u64,
    pub target: String,
    pub server_version: String,
}

pub async fn run_migrate_store(config: Config) -> Result<MigrationSummary, CommandError> {
    let url = config.store.url.clone().ok_or_else(|| {
        CommandError::BadInput(
            "set store.url (DESKDRAFT_STORE__URL=http://host:6334) to the target server".into(),
        )
    })?;
    let source = EdgeVectorStore::open_existing(&config.store_dir())?;
    let (first, mut next) = source.export_page(None, PAGE).await?;
    let dimensions = first
        .iter()
        .map(|p| p.dense.len())
        .find(|d| *d > 0)
        .ok_or_else(|| {
            CommandError::BadInput(format!(
                "the store at {} is empty: nothing to migrate",
                config.store_dir().display()
            ))
        })?;
    let target = QdrantServerStore::new(
        &url,
        std::env::var(QDRANT_API_KEY_ENV)
            .ok()
            .filter(|k| !k.is_empty()),
        &config.store.collection,
        dimensions,
    )?
    .with_layout(CollectionLayout::from_settings(&config.store));
    let server_version = target.ensure_collection().await?.to_string();
    let mut copied = first.len() as u64;
    target.upsert(first).await?;
    while let Some(offset) = next {
        let (page, after) = source.export_page(Some(offset), PAGE).await?;
        copied += page.len() as u64;
        target.upsert(page).await?;
        next = after;
        tracing::info!(copied, "migrating");
    }
    let source_points = source.stats().await?.points;
    let target_points = target.stats().await?.points;
    if target_points < source_points {
        return Err(CommandError::Config(format!(
            "the server collection holds {target_points} points after copying {source_points}"
        )));
    }
    Ok(MigrationSummary {
        points_copied: copied,
        source_points,
        target_points,
        target: target.describe(),
        server_version,
    })
}
