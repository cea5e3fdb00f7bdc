//! The archive part of an export: tickets that no longer appear in the list, found in the gaps
//! of the ticket ids and read at `/tickets/archived/{id}`. Ids the archive does not have are
//! remembered in `archive-probes.json` in the bundle folder, so a rerun pays only for new gaps.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::bundle::BundleWriter;
use super::export::{ExportError, ExportSummary, TICKETS_PER_GROUP};
use super::{HelpdeskError, HelpdeskRead};

/// What earlier exports into this folder learnt from the archive.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ArchiveProbes {
    /// Probed ids the archive did not have.
    #[serde(default)]
    absent: BTreeSet<i64>,
    /// The account's plan has no archive (403 `require_feature`).
    #[serde(default)]
    unavailable: bool,
}

const PROBES_FILE: &str = "archive-probes.json";

fn load(path: &Path) -> Result<ArchiveProbes, ExportError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| ExportError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(ArchiveProbes::default()),
        Err(source) => Err(ExportError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

fn save(path: &Path, probes: &ArchiveProbes) -> Result<(), ExportError> {
    let temporary = path.with_extension("json.tmp");
    let io = |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_vec(probes).expect("probes always serialise");
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

/// Probes every id below the highest held one that the folder neither holds nor knows to be
/// absent (and that is not in the trash or spam), appending the archived tickets found.
pub(super) async fn export_archived(
    reader: &dyn HelpdeskRead,
    writer: &BundleWriter,
    out: &Path,
    held: &HashMap<i64, DateTime<Utc>>,
    concurrency: usize,
    summary: &mut ExportSummary,
) -> Result<(), ExportError> {
    let path = out.join(PROBES_FILE);
    let mut probes = load(&path)?;
    if probes.unavailable {
        summary.archive_skipped = Some("the account's plan has no ticket archive".into());
        return Ok(());
    }
    let highest = held.keys().max().copied().unwrap_or(0);
    let unknown = |id: &i64| !held.contains_key(id) && !probes.absent.contains(id);
    if !(1..=highest).any(|id| unknown(&id)) {
        return Ok(());
    }
    let removed = reader.removed_ticket_ids().await?;
    let gaps: Vec<i64> = (1..=highest)
        .filter(|id| unknown(id) && !removed.contains(*id))
        .collect();
    tracing::info!(gaps = gaps.len(), "export: probing the ticket archive");
    for group in gaps.chunks(TICKETS_PER_GROUP) {
        let answers: Vec<Result<(i64, Option<crate::domain::Ticket>), HelpdeskError>> =
            futures::stream::iter(group.iter().copied())
                .map(|id| async move { Ok((id, reader.archived_ticket(id).await?)) })
                .buffered(concurrency.max(1))
                .collect()
                .await;
        let mut found = Vec::new();
        for answer in answers {
            match answer {
                Ok((_, Some(ticket))) => found.push(ticket),
                Ok((id, None)) => {
                    probes.absent.insert(id);
                }
                Err(HelpdeskError::Forbidden(reason)) if summary.archive_probes == 0 => {
                    probes.unavailable = true;
                    save(&path, &probes)?;
                    summary.archive_skipped =
                        Some(format!("the ticket archive cannot be read: {reason}"));
                    return Ok(());
                }
                Err(other) => return Err(other.into()),
            }
            summary.archive_probes += 1;
        }
        summary.archived_tickets_written += found.len();
        summary.tickets_written += found.len();
        summary.conversations_written += found.iter().map(|t| t.conversations.len()).sum::<usize>();
        // Tickets first, then the probe record: a crash between them probes a group again but
        // never forgets a ticket.
        writer.append_tickets(&found)?;
        save(&path, &probes)?;
    }
    Ok(())
}
