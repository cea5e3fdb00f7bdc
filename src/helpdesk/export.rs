//! Exports a live helpdesk into a bundle folder (the format of `helpdesk::bundle`), so simulations
//! run on a frozen snapshot without touching the account. Resumable and incremental: tickets are
//! appended in groups of 8 (oldest update first) with an fsync each; a rerun into the same folder keeps
//! what is there, drops a half-written last line, and fetches only tickets it does not hold in that
//! version. Earlier versions of re-fetched tickets are dropped when the export completes.
//!
//! Archived tickets (no longer listed) are found in the gaps of the listed ids and read at the
//! archive, like the sync does; ids the archive does not have are kept in `archive-probes.json`
//! so a rerun does not probe them again. Canned responses go to `canned_responses.jsonl`.
//!
//! It holds only the read capability: `Arc<dyn HelpdeskRead>` has no write methods, so an export
//! (or a simulation snapshot) cannot post a note or a reply. That does not compile:
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
//! Reading compiles:
//!
//! ```no_run
//! use std::sync::Arc;
//! use deskdraft::helpdesk::HelpdeskRead;
//! async fn reads(history: Arc<dyn HelpdeskRead>) {
//!     let _ = history.articles().await;
//! }
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::bundle::{BundleError, BundleMeta, BundleWriter};
use super::{HelpdeskError, HelpdeskRead};
use crate::domain::Ticket;

/// Tickets appended (and fsynced) together: the most a killed export fetches twice.
pub const TICKETS_PER_GROUP: usize = 8;
/// Canned responses of an exported account, one per line (optional in a bundle).
pub const CANNED_RESPONSES_FILE: &str = "canned_responses.jsonl";
/// Marks an export in progress whose knowledge base is already written.
const ARTICLES_DONE_MARKER: &str = ".export-articles-done";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Helpdesk(#[from] HelpdeskError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ExportSummary {
    /// Tickets already in the folder in their current version (a resumed or repeated export).
    pub tickets_kept: usize,
    pub tickets_written: usize,
    pub conversations_written: usize,
    pub articles_written: usize,
    pub canned_responses_written: usize,
    /// Why canned responses were not exported (they need an admin's key).
    pub canned_responses_skipped: Option<String>,
    /// Ids read at `/tickets/archived/{id}`, archived tickets written among them.
    pub archive_probes: usize,
    pub archived_tickets_written: usize,
    pub archive_skipped: Option<String>,
    /// Older versions of re-fetched tickets dropped at the end.
    pub superseded_versions_dropped: usize,
}

/// Exports every listed ticket (with conversations) and every article into `out`.
/// `source` names the account in `meta.json`.
pub async fn export_bundle(
    reader: Arc<dyn HelpdeskRead>,
    out: &Path,
    source: &str,
    concurrency: usize,
) -> Result<ExportSummary, ExportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ExportError::Io { path, source }
    };
    let meta = BundleMeta {
        name: out.file_name().map(|n| n.to_string_lossy().into_owned()),
        source: Some(source.to_string()),
        notes: vec![
            "exported by deskdraft export; incomplete until export_complete is true".into(),
        ],
        ..BundleMeta::default()
    };
    let writer = BundleWriter::create(out, &meta)?;
    let mut summary = ExportSummary::default();
    let marker = out.join(ARTICLES_DONE_MARKER);
    if !marker.exists() {
        let articles = reader.articles().await?;
        write_atomically(&out.join("articles.jsonl"), &articles)?;
        summary.articles_written = articles.len();
        match reader.canned_responses().await {
            Ok(responses) => {
                write_atomically(&out.join(CANNED_RESPONSES_FILE), &responses)?;
                summary.canned_responses_written = responses.len();
            }
            Err(HelpdeskError::Forbidden(reason)) => {
                summary.canned_responses_skipped = Some(format!(
                    "the API key's agent may not read canned responses (admins only): {reason}"
                ));
            }
            Err(other) => return Err(other.into()),
        }
        std::fs::write(&marker, b"").map_err(io(&marker))?;
    }

    let tickets_path = out.join("tickets.jsonl");
    let held = held_versions(&tickets_path)?;
    let since = held
        .values()
        .max()
        .copied()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let listed = reader.tickets_updated_since(since).await?;
    let work: Vec<Ticket> = listed
        .into_iter()
        .filter(|t| held.get(&t.id) != Some(&t.updated_at))
        .collect();
    summary.tickets_kept = held.len() - work.iter().filter(|t| held.contains_key(&t.id)).count();
    tracing::info!(
        held = held.len(),
        to_fetch = work.len(),
        "export: tickets listed"
    );
    let mut work = work.into_iter().peekable();
    while work.peek().is_some() {
        let group: Vec<Ticket> = work.by_ref().take(TICKETS_PER_GROUP).collect();
        let fetched: Vec<Result<Ticket, HelpdeskError>> = futures::stream::iter(group)
            .map(|mut ticket| {
                let reader = Arc::clone(&reader);
                async move {
                    ticket.conversations = reader.conversations(ticket.id).await?;
                    Ok(ticket)
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        let mut complete = Vec::with_capacity(fetched.len());
        for ticket in fetched {
            match ticket {
                Ok(ticket) => complete.push(ticket),
                // Deleted since it was listed: it is simply not part of the snapshot.
                Err(HelpdeskError::NotFound(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        summary.tickets_written += complete.len();
        summary.conversations_written += complete
            .iter()
            .map(|t| t.conversations.len())
            .sum::<usize>();
        writer.append_tickets(&complete)?;
    }
    let held_now = held_versions(&tickets_path)?;
    super::export_archive::export_archived(
        reader.as_ref(),
        &writer,
        out,
        &held_now,
        concurrency,
        &mut summary,
    )
    .await?;
    summary.superseded_versions_dropped = drop_superseded_versions(&tickets_path)?;
    let complete_meta = BundleMeta {
        notes: vec!["exported by deskdraft export".into()],
        other: [
            ("export_complete".to_string(), serde_json::Value::Bool(true)),
            (
                "exported_at".to_string(),
                serde_json::Value::String(Utc::now().to_rfc3339()),
            ),
        ]
        .into_iter()
        .collect(),
        ..meta
    };
    let meta_path = out.join("meta.json");
    let text = serde_json::to_string_pretty(&complete_meta).expect("meta always serialises");
    std::fs::write(&meta_path, text).map_err(io(&meta_path))?;
    std::fs::remove_file(&marker).map_err(io(&marker))?;
    Ok(summary)
}

/// Only what resuming needs from each line.
#[derive(Deserialize)]
struct TicketVersion {
    id: i64,
    updated_at: DateTime<Utc>,
}

/// Ticket id -> newest `updated_at` in the file. A last line cut short by a crash is removed.
pub(super) fn held_versions(path: &Path) -> Result<HashMap<i64, DateTime<Utc>>, ExportError> {
    let io = |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut held = HashMap::new();
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(held);
    };
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut good_bytes = 0u64;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(io)?;
        if read == 0 {
            break;
        }
        let parsed = line
            .ends_with('\n')
            .then(|| serde_json::from_str::<TicketVersion>(&line).ok())
            .flatten();
        let Some(version) = parsed else {
            break;
        };
        good_bytes += read as u64;
        let newest = held.entry(version.id).or_insert(version.updated_at);
        *newest = (*newest).max(version.updated_at);
    }
    let length = std::fs::metadata(path).map_err(io)?.len();
    if length > good_bytes {
        tracing::warn!(
            dropped_bytes = length - good_bytes,
            "export: dropping an unfinished last line"
        );
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        file.set_len(good_bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok(held)
}

/// Keeps only the newest version of each ticket; returns how many lines were dropped.
fn drop_superseded_versions(path: &Path) -> Result<usize, ExportError> {
    let io = |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    };
    if !path.exists() {
        return Ok(0);
    }
    let newest = held_versions(path)?;
    let text = std::fs::read_to_string(path).map_err(io)?;
    let line_count = text.lines().count();
    if line_count == newest.len() {
        return Ok(0);
    }
    let mut written = std::collections::HashSet::new();
    let mut kept = Vec::with_capacity(newest.len());
    for line in text.lines() {
        let Ok(version) = serde_json::from_str::<TicketVersion>(line) else {
            continue;
        };
        if newest.get(&version.id) == Some(&version.updated_at) && written.insert(version.id) {
            kept.push(line);
        }
    }
    let temporary = PathBuf::from(format!("{}.tmp", path.display()));
    let mut file = std::fs::File::create(&temporary).map_err(io)?;
    for line in &kept {
        writeln!(file, "{line}").map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)?;
    Ok(line_count - kept.len())
}

pub(super) fn write_atomically<T: Serialize>(path: &Path, items: &[T]) -> Result<(), ExportError> {
    let io = |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    };
    let temporary = PathBuf::from(format!("{}.tmp", path.display()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary).map_err(io)?);
    for item in items {
        serde_json::to_writer(&mut file, item).expect("items always serialise");
        file.write_all(b"\n").map_err(io)?;
    }
    let file = file.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}
