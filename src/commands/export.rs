//! `deskdraft export --freshdesk --out DIR`: a frozen bundle of the account for simulations.

use std::path::Path;
use std::sync::Arc;

use super::freshdesk::{check_credentials, freshdesk_from_config};
use crate::config::Config;
use crate::errors::CommandError;
use crate::helpdesk::HelpdeskRead;
use crate::helpdesk::export::{ExportSummary, export_bundle};

pub async fn run_export(config: Config, out: &Path) -> Result<ExportSummary, CommandError> {
    let freshdesk = freshdesk_from_config(&config)?;
    let reader = freshdesk.reader();
    check_credentials(&reader).await?;
    let source = format!("freshdesk:{}", freshdesk.base_url());
    let read_only: Arc<dyn HelpdeskRead> = Arc::new(reader);
    let summary = export_bundle(read_only, out, &source, config.freshdesk.concurrency).await?;
    let metrics = freshdesk.metrics();
    tracing::info!(
        tickets_written = summary.tickets_written,
        tickets_kept = summary.tickets_kept,
        articles = summary.articles_written,
        calls = metrics.total_calls(),
        "export finished"
    );
    Ok(summary)
}
