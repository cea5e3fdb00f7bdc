//! `deskdraft ingest`: index a bundle and/or knowledge folders into the store.

use std::path::PathBuf;

use crate::app::Components;
use crate::config::Config;
use crate::errors::CommandError;
use crate::helpdesk::bundle::Bundle;
use crate::helpdesk::knowledge_folder::read_knowledge_folder;
use crate::ingest::pipeline::IngestSummary;
use crate::ingest::sources::{InvalidLineCounter, collect_articles, source_items};

#[derive(Debug, Clone, Default)]
pub struct IngestArgs {
    pub bundle: Option<PathBuf>,
    pub knowledge: Vec<PathBuf>,
    pub skip_invalid: bool,
}

/// Index everything the arguments name; returns what was done.
pub async fn run_ingest(config: Config, args: IngestArgs) -> Result<IngestSummary, CommandError> {
    if args.bundle.is_none() && args.knowledge.is_empty() {
        return Err(CommandError::BadInput(
            "nothing to ingest: give --bundle DIR and/or --knowledge DIR".to_string(),
        ));
    }
    let bundle = args.bundle.as_deref().map(Bundle::open).transpose()?;
    let mut extra_articles = Vec::new();
    for folder in &args.knowledge {
        extra_articles.extend(
            read_knowledge_folder(folder).map_err(crate::ingest::pipeline::IngestError::from)?,
        );
    }
    let components = Components::open(config)?;
    ingest_with(&components, bundle, extra_articles, args.skip_invalid).await
}

/// Index with already-open components (simulation builds its store this way).
pub async fn ingest_with(
    components: &Components,
    bundle: Option<Bundle>,
    extra_articles: Vec<crate::domain::Article>,
    skip_invalid: bool,
) -> Result<IngestSummary, CommandError> {
    let pipeline = components.ingest_pipeline()?;
    let invalid = InvalidLineCounter::default();
    let articles = collect_articles(bundle.as_ref(), extra_articles, skip_invalid, &invalid)?;
    let product_names = bundle
        .as_ref()
        .map(|b| b.meta.products.clone())
        .unwrap_or_default();
    let items = source_items(
        bundle,
        articles,
        product_names,
        skip_invalid,
        invalid.clone(),
    )?;
    let progress = super::progress_bar(None, "ingest");
    let mut summary = pipeline.run(items, progress).await?;
    summary.invalid_lines_skipped = invalid.get();
    if summary.documents_indexed > 0 {
        // Build the HNSW and payload indexes now rather than on the first queries.
        components.store.optimize().await?;
    }
    tracing::info!(
        indexed = summary.documents_indexed,
        unchanged = summary.documents_unchanged,
        removed = summary.documents_removed,
        chunks = summary.chunks_embedded,
        invalid_skipped = summary.invalid_lines_skipped,
        seconds = summary.elapsed_seconds,
        "ingest finished"
    );
    Ok(summary)
}
