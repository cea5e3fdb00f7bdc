//! Snapshots a live helpdesk into a bundle, holding only the read capability.
//!
//! The function takes `Arc<dyn HelpdeskRead>`, a trait with no write methods, so the simulation
//! path cannot post a note or a reply: such a call does not compile.
//!
//! ```compile_fail
//! use std::sync::Arc;
//! use deskdraft::helpdesk::HelpdeskRead;
//! async fn tries_to_write(history: Arc<dyn HelpdeskRead>) {
//!     // error[E0599]: no method named `create_private_note` found for `Arc<dyn HelpdeskRead>`
//!     history.create_private_note(1, "<p>oops</p>").await.unwrap();
//! }
//! ```
//!
//! The same function compiles when it only reads:
//!
//! ```no_run
//! use std::sync::Arc;
//! use deskdraft::helpdesk::HelpdeskRead;
//! async fn reads(history: Arc<dyn HelpdeskRead>) {
//!     let _ = history.articles().await;
//! }
//! ```

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::errors::CommandError;
use crate::helpdesk::HelpdeskRead;
use crate::helpdesk::bundle::{BundleMeta, BundleWriter};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SnapshotSummary {
    pub tickets: usize,
    pub conversations: usize,
    pub articles: usize,
}

/// Write every ticket updated since `since` (with its conversations) and every article into a
/// bundle folder at `out`.
pub async fn snapshot_to_bundle(
    history: Arc<dyn HelpdeskRead>,
    out: &Path,
    since: DateTime<Utc>,
    meta: BundleMeta,
) -> Result<SnapshotSummary, CommandError> {
    let writer = BundleWriter::create(out, &meta)?;
    let mut summary = SnapshotSummary::default();
    let articles = history.articles().await?;
    summary.articles = articles.len();
    writer.append_articles(&articles)?;
    let tickets = history.tickets_updated_since(since).await?;
    let mut batch = Vec::with_capacity(100);
    for mut ticket in tickets {
        ticket.conversations = history.conversations(ticket.id).await?;
        summary.conversations += ticket.conversations.len();
        summary.tickets += 1;
        batch.push(ticket);
        if batch.len() == 100 {
            writer.append_tickets(&batch)?;
            batch.clear();
        }
    }
    writer.append_tickets(&batch)?;
    Ok(summary)
}
