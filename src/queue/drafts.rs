//! The drafts agents review: one per ticket (its id is derived from the ticket id, so a job that
//! runs twice finds the same draft), with the note it was posted as, the decision, the text that
//! was sent, and the feedback derived from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{JobQueue, QueueError, from_ms, now_ms};

pub(super) fn create_tables(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS drafts (
             id TEXT PRIMARY KEY,
             ticket_id INTEGER NOT NULL UNIQUE,
             status TEXT NOT NULL,
             kind TEXT NOT NULL,
             product TEXT,
             confidence REAL NOT NULL,
             draft_text TEXT NOT NULL,
             note_html TEXT NOT NULL,
             draft_json TEXT NOT NULL,
             note_id INTEGER,
             reply_id INTEGER,
             sent_text TEXT,
             decided_by TEXT,
             reject_reason TEXT,
             created_at INTEGER NOT NULL,
             decided_at INTEGER);",
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftStatus {
    /// Posted as a note, waiting for an agent.
    Pending,
    /// No draft was good enough; the note says why. Nothing to approve.
    Abstained,
    /// An approval is sending the reply right now (or crashed while doing so).
    Sending,
    Approved,
    Rejected,
}

impl DraftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Abstained => "abstained",
            Self::Sending => "sending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
    fn parse(text: &str) -> Self {
        match text {
            "abstained" => Self::Abstained,
            "sending" => Self::Sending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DraftRecord {
    pub id: String,
    pub ticket_id: i64,
    pub status: DraftStatus,
    pub kind: String,
    pub product: Option<String>,
    pub confidence: f32,
    pub draft_text: String,
    pub note_html: String,
    /// The full draft (sources, flags, retrieval) as JSON.
    pub draft: serde_json::Value,
    pub note_id: Option<i64>,
    pub reply_id: Option<i64>,
    pub sent_text: Option<String>,
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// Acceptance and edit feedback over decided drafts.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FeedbackStats {
    pub drafts: u64,
    pub pending: u64,
    pub abstained: u64,
    pub approved: u64,
    pub approved_unedited: u64,
    pub rejected: u64,
    /// approved / (approved + rejected).
    pub acceptance_rate: Option<f64>,
    /// Mean normalised character edit distance between draft and sent text (0 = sent as is).
    pub mean_edit_distance: Option<f64>,
    pub per_product: BTreeMap<String, ProductFeedback>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ProductFeedback {
    pub approved: u64,
    pub rejected: u64,
    pub acceptance_rate: Option<f64>,
    pub mean_edit_distance: Option<f64>,
}

const COLUMNS: &str = "id, ticket_id, status, kind, product, confidence, draft_text, note_html, draft_json, \
     note_id, reply_id, sent_text, decided_by, reject_reason, created_at, decided_at";

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DraftRecord> {
    let json: String = row.get(8)?;
    Ok(DraftRecord {
        id: row.get(0)?,
        ticket_id: row.get(1)?,
        status: DraftStatus::parse(&row.get::<_, String>(2)?),
        kind: row.get(3)?,
        product: row.get(4)?,
        confidence: row.get::<_, f64>(5)? as f32,
        draft_text: row.get(6)?,
        note_html: row.get(7)?,
        draft: serde_json::from_str(&json).unwrap_or(serde_json::Value::Null),
        note_id: row.get(9)?,
        reply_id: row.get(10)?,
        sent_text: row.get(11)?,
        decided_by: row.get(12)?,
        reject_reason: row.get(13)?,
        created_at: from_ms(row.get(14)?),
        decided_at: row.get::<_, Option<i64>>(15)?.map(from_ms),
    })
}

fn database(error: rusqlite::Error) -> QueueError {
    QueueError::Database {
        path: "drafts".into(),
        message: error.to_string(),
    }
}

fn get(connection: &Connection, id: &str) -> Result<DraftRecord, QueueError> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM drafts WHERE id=?1"),
            [id],
            record_from_row,
        )
        .optional()
        .map_err(database)?
        .ok_or_else(|| QueueError::DraftNotFound(id.to_string()))
}

/// Normalised Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> f64 {
    1.0 - strsim::normalized_levenshtein(a.trim(), b.trim())
}

impl JobQueue {
    /// Stores a new draft unless the ticket already has one; returns the stored draft (an
    /// earlier run's, if any, so a retried job posts exactly what it may already have posted).
    pub async fn insert_draft(&self, record: DraftRecord) -> Result<DraftRecord, QueueError> {
        self.with_drafts(move |connection| {
            connection
                .execute(
                    &format!(
                        "INSERT INTO drafts ({COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)
                         ON CONFLICT(ticket_id) DO NOTHING"
                    ),
                    params![
                        record.id,
                        record.ticket_id,
                        record.status.as_str(),
                        record.kind,
                        record.product,
                        f64::from(record.confidence),
                        record.draft_text,
                        record.note_html,
                        record.draft.to_string(),
                        record.note_id,
                        record.reply_id,
                        record.sent_text,
                        record.decided_by,
                        record.reject_reason,
                        record.created_at.timestamp_millis(),
                        record.decided_at.map(|t| t.timestamp_millis()),
                    ],
                )
                .map_err(database)?;
            connection
                .query_row(
                    &format!("SELECT {COLUMNS} FROM drafts WHERE ticket_id=?1"),
                    [record.ticket_id],
                    record_from_row,
                )
                .map_err(database)
        })
        .await
    }

    pub async fn draft_for_ticket(
        &self,
        ticket_id: i64,
    ) -> Result<Option<DraftRecord>, QueueError> {
        self.with_drafts(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {COLUMNS} FROM drafts WHERE ticket_id=?1"),
                    [ticket_id],
                    record_from_row,
                )
                .optional()
                .map_err(database)
        })
        .await
    }

    pub async fn set_note(&self, id: &str, note_id: i64) -> Result<(), QueueError> {
        let id = id.to_string();
        self.with_drafts(move |connection| {
            connection
                .execute(
                    "UPDATE drafts SET note_id=?2 WHERE id=?1",
                    params![id, note_id],
                )
                .map_err(database)?;
            Ok(())
        })
        .await
    }

    pub async fn draft(&self, id: &str) -> Result<DraftRecord, QueueError> {
        let id = id.to_string();
        self.with_drafts(move |connection| get(connection, &id))
            .await
    }

    /// Drafts, newest first, optionally only one status.
    pub async fn drafts(
        &self,
        status: Option<DraftStatus>,
    ) -> Result<Vec<DraftRecord>, QueueError> {
        self.with_drafts(move |connection| {
            let mut statement = connection
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM drafts WHERE ?1 IS NULL OR status=?1 ORDER BY created_at DESC, id"
                ))
                .map_err(database)?;
            let rows = statement
                .query_map([status.map(DraftStatus::as_str)], record_from_row)
                .map_err(database)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(database)
        })
        .await
    }

    /// Reserves a pending draft for sending (`sending`), atomically: of two concurrent approvals
    /// only one gets `Ok(Some)`. An already approved draft returns `Ok(None)`; a draft left in
    /// `sending` by a crash is handed out again (the sender checks the ticket first).
    pub async fn begin_approval(
        &self,
        id: &str,
        sent_text: &str,
        by: &str,
    ) -> Result<Option<DraftRecord>, QueueError> {
        let (id, sent_text, by) = (id.to_string(), sent_text.to_string(), by.to_string());
        self.with_drafts(move |connection| {
            let transaction = connection.transaction().map_err(database)?;
            let record = get(&transaction, &id)?;
            match record.status {
                DraftStatus::Approved => return Ok(None),
                DraftStatus::Pending | DraftStatus::Sending => {}
                other => {
                    return Err(QueueError::InvalidTransition {
                        id,
                        status: other.as_str().into(),
                        action: "approved",
                    });
                }
            }
            transaction
                .execute(
                    "UPDATE drafts SET status='sending', sent_text=?2, decided_by=?3 WHERE id=?1",
                    params![id, sent_text, by],
                )
                .map_err(database)?;
            let updated = get(&transaction, &id)?;
            transaction.commit().map_err(database)?;
            Ok(Some(updated))
        })
        .await
    }

    pub async fn finish_approval(
        &self,
        id: &str,
        reply_id: i64,
    ) -> Result<DraftRecord, QueueError> {
        let id = id.to_string();
        self.with_drafts(move |connection| {
            connection
                .execute(
                    "UPDATE drafts SET status='approved', reply_id=?2, decided_at=?3 WHERE id=?1",
                    params![id, reply_id, now_ms()],
                )
                .map_err(database)?;
            get(connection, &id)
        })
        .await
    }

    /// Returns a draft stuck in `sending` (the reply failed) to `pending`.
    pub async fn abort_approval(&self, id: &str) -> Result<(), QueueError> {
        let id = id.to_string();
        self.with_drafts(move |connection| {
            connection
                .execute(
                    "UPDATE drafts SET status='pending', sent_text=NULL, decided_by=NULL WHERE id=?1 AND status='sending'",
                    [id],
                )
                .map_err(database)?;
            Ok(())
        })
        .await
    }

    pub async fn reject(
        &self,
        id: &str,
        reason: &str,
        by: &str,
    ) -> Result<DraftRecord, QueueError> {
        let (id, reason, by) = (id.to_string(), reason.to_string(), by.to_string());
        self.with_drafts(move |connection| {
            let record = get(connection, &id)?;
            match record.status {
                DraftStatus::Rejected => return Ok(record),
                DraftStatus::Pending | DraftStatus::Abstained => {}
                other => {
                    return Err(QueueError::InvalidTransition {
                        id,
                        status: other.as_str().into(),
                        action: "rejected",
                    });
                }
            }
            connection
                .execute(
                    "UPDATE drafts SET status='rejected', reject_reason=?2, decided_by=?3, decided_at=?4 WHERE id=?1",
                    params![id, reason, by, now_ms()],
                )
                .map_err(database)?;
            get(connection, &id)
        })
        .await
    }

    pub async fn feedback(&self) -> Result<FeedbackStats, QueueError> {
        let drafts = self.drafts(None).await?;
        let mut stats = FeedbackStats::default();
        let mut distances: Vec<f64> = Vec::new();
        let mut per_product: BTreeMap<String, (u64, u64, Vec<f64>)> = BTreeMap::new();
        for draft in &drafts {
            stats.drafts += 1;
            let product = draft.product.clone().unwrap_or_else(|| "(none)".into());
            let entry = per_product.entry(product).or_default();
            match draft.status {
                DraftStatus::Pending | DraftStatus::Sending => stats.pending += 1,
                DraftStatus::Abstained => stats.abstained += 1,
                DraftStatus::Rejected => {
                    stats.rejected += 1;
                    entry.1 += 1;
                }
                DraftStatus::Approved => {
                    stats.approved += 1;
                    entry.0 += 1;
                    let distance = edit_distance(
                        &draft.draft_text,
                        draft.sent_text.as_deref().unwrap_or(&draft.draft_text),
                    );
                    if distance < 1e-9 {
                        stats.approved_unedited += 1;
                    }
                    distances.push(distance);
                    entry.2.push(distance);
                }
            }
        }
        let rate = |approved: u64, rejected: u64| {
            (approved + rejected > 0).then(|| approved as f64 / (approved + rejected) as f64)
        };
        let mean = |values: &[f64]| {
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        stats.acceptance_rate = rate(stats.approved, stats.rejected);
        stats.mean_edit_distance = mean(&distances);
        stats.per_product = per_product
            .into_iter()
            .filter(|(_, (a, r, _))| a + r > 0)
            .map(|(product, (approved, rejected, distances))| {
                (
                    product,
                    ProductFeedback {
                        approved,
                        rejected,
                        acceptance_rate: rate(approved, rejected),
                        mean_edit_distance: mean(&distances),
                    },
                )
            })
            .collect();
        Ok(stats)
    }
}
