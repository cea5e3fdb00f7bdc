//! The drafts agents review: one per customer message (its id is derived from the ticket and the
//! message, so a job that runs twice finds the same draft), with the note it was posted as, the
//! decision, how the approval's sending went, and the text that was sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::console::TicketContext;
use super::sql::{Row, Sql, params};
use super::{JobQueue, QueueError, from_ms, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftStatus {
    /// Posted as a note, waiting for an agent.
    Pending,
    /// No draft was good enough; the note says why. Nothing to approve.
    Abstained,
    /// Approved: the reply is being sent by a send job.
    Sending,
    Approved,
    Rejected,
    /// The customer wrote again before anyone decided: a newer draft answers the thread.
    Superseded,
}

impl DraftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Abstained => "abstained",
            Self::Sending => "sending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Superseded => "superseded",
        }
    }
    pub(super) fn parse(text: &str) -> Self {
        match text {
            "abstained" => Self::Abstained,
            "sending" => Self::Sending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "superseded" => Self::Superseded,
            _ => Self::Pending,
        }
    }
}

/// A draft as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DraftRecord {
    pub id: String,
    pub ticket_id: i64,
    /// The customer message answered: 0 for the ticket's description, else the conversation id.
    pub message_id: i64,
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
    /// The Freshdesk agent the reply is sent as (resolved from `agent_email` when not given).
    pub agent_id: Option<i64>,
    pub agent_email: Option<String>,
    /// Ticket status to set once the reply is sent (3 pending, 4 resolved, ...).
    pub send_status: Option<i64>,
    /// When the approval was recorded: a reply found on the ticket counts as ours only if it
    /// is at least this recent.
    pub approval_started_at: Option<DateTime<Utc>>,
    pub status_applied: bool,
    pub note_updated: bool,
    /// Why the last attempt to send failed for good (the draft is pending again).
    pub send_error: Option<String>,
    /// 0 for the first draft of a message; an agent's "redraft" makes the next one.
    pub revision: u32,
    /// An agent asked for a new draft of this message: the next job writes revision + 1.
    pub redraft_requested: bool,
    /// The ticket as it was drafted (none for drafts stored before deskdraft kept it).
    pub ticket: Option<TicketContext>,
}

/// A draft as the live knowledge gaps read it: what it answered and how it ended, and the
/// sources it cited (the `sources` of its JSON), without its note or retrieval details.
#[derive(Debug, Clone, PartialEq)]
pub struct GapDraft {
    pub id: String,
    pub ticket_id: i64,
    pub message_id: i64,
    pub status: DraftStatus,
    pub kind: String,
    pub product: Option<String>,
    pub revision: u32,
    pub created_at: DateTime<Utc>,
    pub ticket: Option<TicketContext>,
    pub sources: serde_json::Value,
}

/// A draft as a worker creates it.
#[derive(Debug, Clone)]
pub struct NewDraft {
    pub id: String,
    pub ticket_id: i64,
    pub message_id: i64,
    pub revision: u32,
    pub status: DraftStatus,
    pub kind: String,
    pub product: Option<String>,
    pub confidence: f32,
    pub draft_text: String,
    pub note_html: String,
    pub draft: serde_json::Value,
    /// The ticket as the draft saw it, for the review console.
    pub ticket: Option<TicketContext>,
}

pub(super) const COLUMNS: &str = "id, ticket_id, message_id, status, kind, product, confidence, \
     draft_text, note_html, draft_json, note_id, reply_id, sent_text, decided_by, reject_reason, \
     created_at, decided_at, agent_id, agent_email, send_status, approval_started_at, \
     status_applied, note_updated, send_error, revision, redraft_requested, ticket_json";

pub(super) fn record_from_row(row: &Row) -> Result<DraftRecord, QueueError> {
    Ok(DraftRecord {
        id: row.text(0)?,
        ticket_id: row.i64(1)?,
        message_id: row.i64(2)?,
        status: DraftStatus::parse(&row.text(3)?),
        kind: row.text(4)?,
        product: row.opt_text(5)?,
        confidence: row.f64(6)? as f32,
        draft_text: row.text(7)?,
        note_html: row.text(8)?,
        draft: json_column(row, 9)?.unwrap_or_default(),
        note_id: row.opt_i64(10)?,
        reply_id: row.opt_i64(11)?,
        sent_text: row.opt_text(12)?,
        decided_by: row.opt_text(13)?,
        reject_reason: row.opt_text(14)?,
        created_at: from_ms(row.i64(15)?),
        decided_at: row.opt_i64(16)?.map(from_ms),
        agent_id: row.opt_i64(17)?,
        agent_email: row.opt_text(18)?,
        send_status: row.opt_i64(19)?,
        approval_started_at: row.opt_i64(20)?.map(from_ms),
        status_applied: row.bool(21)?,
        note_updated: row.bool(22)?,
        send_error: row.opt_text(23)?,
        revision: row.u32(24)?,
        redraft_requested: row.bool(25)?,
        ticket: json_column(row, 26)?,
    })
}

/// A JSON text column read as `T`: `None` when NULL or no longer readable as `T` (the ticket a
/// draft kept, written by an older deskdraft, is best effort).
fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row,
    index: usize,
) -> Result<Option<T>, QueueError> {
    Ok(row
        .opt_text(index)?
        .and_then(|json| serde_json::from_str(&json).ok()))
}

fn records(rows: Vec<Row>) -> Result<Vec<DraftRecord>, QueueError> {
    rows.iter().map(record_from_row).collect()
}

/// A draft by id; on PostgreSQL `locked` keeps other replicas from changing it until the
/// transaction ends (a decision reads the status, then writes the next one).
pub(super) fn get_locked(
    db: &mut dyn Sql,
    id: &str,
    locked: bool,
) -> Result<DraftRecord, QueueError> {
    let lock = if locked {
        db.dialect().for_update()
    } else {
        ""
    };
    let row = db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM drafts WHERE id=$1{lock}"),
            params![id],
        )?
        .ok_or_else(|| QueueError::DraftNotFound(id.to_string()))?;
    record_from_row(&row)
}

pub(super) fn get(db: &mut dyn Sql, id: &str) -> Result<DraftRecord, QueueError> {
    get_locked(db, id, false)
}

const LATEST_OF_TICKET: &str = "SELECT {COLUMNS} FROM drafts WHERE ticket_id=$1
     ORDER BY message_id DESC, revision DESC LIMIT 1";

fn latest_of_ticket(
    db: &mut dyn Sql,
    ticket_id: i64,
    lock: &str,
) -> Result<Option<DraftRecord>, QueueError> {
    db.query_opt(
        &format!("{}{lock}", LATEST_OF_TICKET.replace("{COLUMNS}", COLUMNS)),
        params![ticket_id],
    )?
    .map(|row| record_from_row(&row))
    .transpose()
}

impl JobQueue {
    /// Stores a new draft unless its message already has one; returns the stored draft (an
    /// earlier run's, if any, so a retried job posts exactly what it may already have posted).
    /// Older undecided drafts of the ticket are superseded: the thread moved on.
    pub async fn insert_draft(&self, draft: NewDraft) -> Result<DraftRecord, QueueError> {
        self.with(move |db| {
            db.transaction(|db| {
                let inserted = db.execute(
                    "INSERT INTO drafts (id, ticket_id, message_id, status, kind, product, confidence,
                         draft_text, note_html, draft_json, created_at, revision, ticket_json,
                         subject, flag_count)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                     ON CONFLICT(ticket_id, message_id, revision) DO NOTHING",
                    params![
                        draft.id.as_str(),
                        draft.ticket_id,
                        draft.message_id,
                        draft.status.as_str(),
                        draft.kind.as_str(),
                        draft.product.as_deref(),
                        f64::from(draft.confidence),
                        draft.draft_text.as_str(),
                        draft.note_html.as_str(),
                        draft.draft.to_string(),
                        now_ms(),
                        draft.revision,
                        draft
                            .ticket
                            .as_ref()
                            .and_then(|t| serde_json::to_string(t).ok()),
                        draft.ticket.as_ref().map(|t| t.subject.clone()),
                        draft.draft["flags"].as_array().map_or(0, Vec::len) as i64,
                    ],
                )?;
                if inserted == 1 {
                    db.execute(
                        "UPDATE drafts SET status='superseded'
                         WHERE ticket_id=$1 AND (message_id<$2 OR (message_id=$2 AND revision<$3))
                             AND status IN ('pending', 'abstained')",
                        params![draft.ticket_id, draft.message_id, draft.revision],
                    )?;
                }
                let row = db.query_one(
                    &format!(
                        "SELECT {COLUMNS} FROM drafts WHERE ticket_id=$1 AND message_id=$2 AND revision=$3"
                    ),
                    params![draft.ticket_id, draft.message_id, draft.revision],
                )?;
                record_from_row(&row)
            })
        })
        .await
    }

    /// The current draft answering one customer message (its latest revision), if any.
    pub async fn draft_for_message(
        &self,
        ticket_id: i64,
        message_id: i64,
    ) -> Result<Option<DraftRecord>, QueueError> {
        self.with(move |db| {
            db.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM drafts WHERE ticket_id=$1 AND message_id=$2
                     ORDER BY revision DESC LIMIT 1"
                ),
                params![ticket_id, message_id],
            )?
            .map(|row| record_from_row(&row))
            .transpose()
        })
        .await
    }

    /// The ticket's current draft: its latest customer message's latest revision.
    pub async fn latest_draft_for_ticket(
        &self,
        ticket_id: i64,
    ) -> Result<Option<DraftRecord>, QueueError> {
        self.with(move |db| latest_of_ticket(db, ticket_id, ""))
            .await
    }

    /// An agent wants a new draft of the ticket's current message: the current one is
    /// superseded and the next draft job writes the next revision. A draft already sent (or
    /// being sent) cannot be redrafted.
    pub async fn request_redraft(&self, ticket_id: i64) -> Result<DraftRecord, QueueError> {
        self.with(move |db| {
            db.transaction(|db| {
                let lock = db.dialect().for_update();
                let current = latest_of_ticket(db, ticket_id, lock)?
                    .ok_or_else(|| QueueError::DraftNotFound(format!("for ticket {ticket_id}")))?;
                if matches!(current.status, DraftStatus::Sending | DraftStatus::Approved) {
                    return Err(QueueError::InvalidTransition {
                        id: current.id,
                        status: current.status.as_str().into(),
                        action: "redrafted",
                    });
                }
                db.execute(
                    "UPDATE drafts SET redraft_requested=1,
                         status = CASE WHEN status IN ('pending', 'abstained') THEN 'superseded' ELSE status END
                     WHERE id=$1",
                    params![current.id.as_str()],
                )?;
                get(db, &current.id)
            })
        })
        .await
    }

    /// Every draft of a ticket, oldest message first.
    pub async fn drafts_for_ticket(&self, ticket_id: i64) -> Result<Vec<DraftRecord>, QueueError> {
        self.with(move |db| {
            records(db.query(
                &format!("SELECT {COLUMNS} FROM drafts WHERE ticket_id=$1 ORDER BY message_id"),
                params![ticket_id],
            )?)
        })
        .await
    }

    pub async fn set_note(&self, id: &str, note_id: i64) -> Result<(), QueueError> {
        let id = id.to_string();
        self.with(move |db| {
            db.execute(
                "UPDATE drafts SET note_id=$2 WHERE id=$1",
                params![id, note_id],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn draft(&self, id: &str) -> Result<DraftRecord, QueueError> {
        let id = id.to_string();
        self.with(move |db| get(db, &id)).await
    }

    /// Drafts, newest first, optionally only one status.
    pub async fn drafts(
        &self,
        status: Option<DraftStatus>,
    ) -> Result<Vec<DraftRecord>, QueueError> {
        self.with(move |db| {
            records(match status {
                Some(status) => db.query(
                    &format!(
                        "SELECT {COLUMNS} FROM drafts WHERE status=$1 ORDER BY created_at DESC, id"
                    ),
                    params![status.as_str()],
                )?,
                None => db.query(
                    &format!("SELECT {COLUMNS} FROM drafts ORDER BY created_at DESC, id"),
                    &[],
                )?,
            })
        })
        .await
    }

    /// The newest `limit` drafts as the live knowledge gaps read them, newest first (every
    /// status). Only the cited sources of each draft's JSON are read: the whole document (the
    /// retrieval with its snippets) is tens of kilobytes a draft.
    pub async fn recent_gap_drafts(&self, limit: usize) -> Result<Vec<GapDraft>, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(move |db| {
            let sources = db.dialect().json_field("draft_json", "sources");
            db.query(
                &format!(
                    "SELECT id, ticket_id, message_id, status, kind, product, revision, \
                     created_at, ticket_json, {sources} FROM drafts \
                     ORDER BY created_at DESC, id LIMIT $1"
                ),
                params![limit],
            )?
            .iter()
            .map(|row| {
                Ok(GapDraft {
                    id: row.text(0)?,
                    ticket_id: row.i64(1)?,
                    message_id: row.i64(2)?,
                    status: DraftStatus::parse(&row.text(3)?),
                    kind: row.text(4)?,
                    product: row.opt_text(5)?,
                    revision: row.u32(6)?,
                    created_at: from_ms(row.i64(7)?),
                    ticket: json_column(row, 8)?,
                    sources: json_column(row, 9)?.unwrap_or_default(),
                })
            })
            .collect()
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
        self.with(move |db| {
            db.transaction(|db| {
                let record = get_locked(db, &id, true)?;
                match record.status {
                    DraftStatus::Rejected => return Ok(record),
                    DraftStatus::Pending | DraftStatus::Abstained | DraftStatus::Superseded => {}
                    other => {
                        return Err(QueueError::InvalidTransition {
                            id,
                            status: other.as_str().into(),
                            action: "rejected",
                        });
                    }
                }
                db.execute(
                    "UPDATE drafts SET status='rejected', reject_reason=$2, decided_by=$3, decided_at=$4 WHERE id=$1",
                    params![id.as_str(), reason.as_str(), by.as_str(), now_ms()],
                )?;
                get(db, &id)
            })
        })
        .await
    }
}
