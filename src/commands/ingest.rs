//! `deskdraft ingest`: index a bundle and/or knowledge folders into the store, or sync a live
//! Freshdesk account (`--freshdesk`).

use std::path::PathBuf;
use std::sync::Arc;

use super::freshdesk::{check_credentials, freshdesk_from_config};
use crate::app::Components;
use crate::config::Config;
use crate::errors::CommandError;
use crate::helpdesk::HelpdeskRead;
use crate::helpdesk::bundle::Bundle;
use crate::helpdesk::knowledge_folder::read_knowledge_folder;
use crate::ingest::freshdesk_sync::{SyncOptions, SyncSummary, sync_freshdesk};
use crate::ingest::pipeline::IngestSummary;
use crate::ingest::sources::{InvalidLineCounter, collect_articles, source_items};

#[derive(Debug, Clone, Default)]
pub struct IngestArgs {
    pub bundle: Option<PathBuf>,
    pub knowledge: Vec<PathBuf>,
    pub skip_invalid: bool,
    /// Sync the configured Freshdesk account instead of reading files.
    pub freshdesk: bool,
    /// With `freshdesk`: list everything and remove what the account no longer has.
    pub full_reconcile: bool,
}

/// What `ingest` did: a file ingest or a Freshdesk sync.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum IngestOutcome {
    Files(IngestSummary),
    Freshdesk(Box<SyncSummary>),
}

/// Index everything the arguments name; returns what was done.
pub async fn run_ingest(config: Config, args: IngestArgs) -> Result<IngestOutcome, CommandError> {
    if args.freshdesk {
        return Ok(IngestOutcome::Freshdesk(Box::new(
            run_freshdesk_sync(config, args.full_reconcile).await?,
        )));
    }
    if args.bundle.is_none() && args.knowledge.is_empty() {
        return Err(CommandError::BadInput(
            "nothing to ingest: give --bundle DIR and/or --knowledge DIR, or --freshdesk"
                .to_string(),
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
    Ok(IngestOutcome::Files(
        ingest_with(&components, bundle, extra_articles, args.skip_invalid).await?,
    ))
}

/// Incremental (or, with `full_reconcile`, full) sync of the configured Freshdesk account.
pub async fn run_freshdesk_sync(
    config: Config,
    full_reconcile: bool,
) -> Result<SyncSummary, CommandError> {
    let freshdesk = freshdesk_from_config(&config)?;
    let reader = freshdesk.reader();
    check_credentials(&reader).await?;
    let options = SyncOptions {
        account: freshdesk.base_url().to_string(),
        full_reconcile,
        concurrency: config.freshdesk.concurrency,
        articles_refresh: chrono::Duration::minutes(
            i64::try_from(config.freshdesk.articles_refresh_minutes).unwrap_or(i64::MAX / 60_000),
        ),
        archive_recheck: chrono::Duration::days(
            i64::try_from(config.freshdesk.archive_recheck_days).unwrap_or(i64::MAX / 86_400_000),
        ),
    };
    let state_path = config.freshdesk_sync_state_path();
    let components = Components::open(config)?;
    let pipeline = components.ingest_pipeline()?;
    let read_only: Arc<dyn HelpdeskRead> = Arc::new(reader);
    let progress = super::progress_bar(None, "sync");
    let mut summary = sync_freshdesk(&pipeline, read_only, &state_path, options, progress).await?;
    if summary.ingest.documents_indexed > 0 {
        components.store.optimize().await?;
    }
    let metrics = freshdesk.metrics();
    summary.freshdesk_calls = metrics.calls_by_endpoint();
    tracing::info!(
        listed = summary.tickets_listed,
        already_held = summary.tickets_already_held,
        conversations_fetched = summary.conversations_fetched,
        indexed = summary.ingest.documents_indexed,
        removed = summary.ingest.documents_removed,
        archive_probes = summary.archive.probes,
        archived_found = summary.archive.archived_found,
        calls = metrics.total_calls(),
        credits = metrics.credits_used(),
        "freshdesk sync finished"
    );
    Ok(summary)
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
