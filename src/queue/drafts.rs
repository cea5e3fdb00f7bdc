//! The drafts agents review: one per customer message (its id is derived from the ticket and the
//! message, so a job that runs twice finds the same draft), with the note it was posted as, the
//! decision, how the approval's sending went, and the text that was sent.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::console::TicketContext;
use super::{JobQueue, QueueError, database, from_ms, now_ms};

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

pub(super) fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DraftRecord> {
    let json: String = row.get(9)?;
    Ok(DraftRecord {
        id: row.get(0)?,
        ticket_id: row.get(1)?,
        message_id: row.get(2)?,
        status: DraftStatus::parse(&row.get::<_, String>(3)?),
        kind: row.get(4)?,
        product: row.get(5)?,
        confidence: row.get::<_, f64>(6)? as f32,
        draft_text: row.get(7)?,
        note_html: row.get(8)?,
        draft: serde_json::from_str(&json).unwrap_or(serde_json::Value::Null),
        note_id: row.get(10)?,
        reply_id: row.get(11)?,
        sent_text: row.get(12)?,
        decided_by: row.get(13)?,
        reject_reason: row.get(14)?,
        created_at: from_ms(row.get(15)?),
        decided_at: row.get::<_, Option<i64>>(16)?.map(from_ms),
        agent_id: row.get(17)?,
        agent_email: row.get(18)?,
        send_status: row.get(19)?,
        approval_started_at: row.get::<_, Option<i64>>(20)?.map(from_ms),
        status_applied: row.get(21)?,
        note_updated: row.get(22)?,
        send_error: row.get(23)?,
        revision: row.get(24)?,
        redraft_requested: row.get(25)?,
        ticket: row
            .get::<_, Option<String>>(26)?
            .and_then(|json| serde_json::from_str(&json).ok()),
    })
}

pub(super) fn get(connection: &Connection, id: &str) -> Result<DraftRecord, QueueError> {
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

impl JobQueue {
    /// Stores a new draft unless its message already has one; returns the stored draft (an
    /// earlier run's, if any, so a retried job posts exactly what it may already have posted).
    /// Older undecided drafts of the ticket are superseded: the thread moved on.
    pub async fn insert_draft(&self, draft: NewDraft) -> Result<DraftRecord, QueueError> {
        self.with_checked(move |connection| {
            let transaction = connection.transaction().map_err(database)?;
            let inserted = transaction
                .execute(
                    "INSERT INTO drafts (id, ticket_id, message_id, status, kind, product, confidence,
                         draft_text, note_html, draft_json, created_at, revision, ticket_json,
                         subject, flag_count)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                     ON CONFLICT(ticket_id, message_id, revision) DO NOTHING",
                    params![
                        draft.id,
                        draft.ticket_id,
                        draft.message_id,
                        draft.status.as_str(),
                        draft.kind,
                        draft.product,
                        f64::from(draft.confidence),
                        draft.draft_text,
                        draft.note_html,
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
                )
                .map_err(database)?;
            if inserted == 1 {
                transaction
                    .execute(
                        "UPDATE drafts SET status='superseded'
                         WHERE ticket_id=?1 AND (message_id<?2 OR (message_id=?2 AND revision<?3))
                             AND status IN ('pending', 'abstained')",
                        params![draft.ticket_id, draft.message_id, draft.revision],
                    )
                    .map_err(database)?;
            }
            let stored = transaction
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM drafts WHERE ticket_id=?1 AND message_id=?2 AND revision=?3"
                    ),
                    params![draft.ticket_id, draft.message_id, draft.revision],
                    record_from_row,
                )
                .map_err(database)?;
            transaction.commit().map_err(database)?;
            Ok(stored)
        })
        .await
    }

    /// The current draft answering one customer message (its latest revision), if any.
    pub async fn draft_for_message(
        &self,
        ticket_id: i64,
        message_id: i64,
    ) -> Result<Option<DraftRecord>, QueueError> {
        self.with(move |connection| {
            connection
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM drafts WHERE ticket_id=?1 AND message_id=?2
                         ORDER BY revision DESC LIMIT 1"
                    ),
                    params![ticket_id, message_id],
                    record_from_row,
                )
                .optional()
        })
        .await
    }

    /// The ticket's current draft: its latest customer message's latest revision.
    pub async fn latest_draft_for_ticket(
        &self,
        ticket_id: i64,
    ) -> Result<Option<DraftRecord>, QueueError> {
        self.with(move |connection| {
            connection
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM drafts WHERE ticket_id=?1
                         ORDER BY message_id DESC, revision DESC LIMIT 1"
                    ),
                    [ticket_id],
                    record_from_row,
                )
                .optional()
        })
        .await
    }

    /// An agent wants a new draft of the ticket's current message: the current one is
    /// superseded and the next draft job writes the next revision. A draft already sent (or
    /// being sent) cannot be redrafted.
    pub async fn request_redraft(&self, ticket_id: i64) -> Result<DraftRecord, QueueError> {
        self.with_checked(move |connection| {
            let current = connection
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM drafts WHERE ticket_id=?1
                         ORDER BY message_id DESC, revision DESC LIMIT 1"
                    ),
                    [ticket_id],
                    record_from_row,
                )
                .optional()
                .map_err(database)?
                .ok_or_else(|| QueueError::DraftNotFound(format!("for ticket {ticket_id}")))?;
            if matches!(current.status, DraftStatus::Sending | DraftStatus::Approved) {
                return Err(QueueError::InvalidTransition {
                    id: current.id,
                    status: current.status.as_str().into(),
                    action: "redrafted",
                });
            }
            connection
                .execute(
                    "UPDATE drafts SET redraft_requested=1,
                         status = CASE WHEN status IN ('pending', 'abstained') THEN 'superseded' ELSE status END
                     WHERE id=?1",
                    [&current.id],
                )
                .map_err(database)?;
            get(connection, &current.id)
        })
        .await
    }

    /// Every draft of a ticket, oldest message first.
    pub async fn drafts_for_ticket(&self, ticket_id: i64) -> Result<Vec<DraftRecord>, QueueError> {
        self.with(move |connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {COLUMNS} FROM drafts WHERE ticket_id=?1 ORDER BY message_id"
            ))?;
            let rows = statement.query_map([ticket_id], record_from_row)?;
            rows.collect()
        })
        .await
    }

    pub async fn set_note(&self, id: &str, note_id: i64) -> Result<(), QueueError> {
        let id = id.to_string();
        self.with(move |connection| {
            connection.execute(
                "UPDATE drafts SET note_id=?2 WHERE id=?1",
                params![id, note_id],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn draft(&self, id: &str) -> Result<DraftRecord, QueueError> {
        let id = id.to_string();
        self.with_checked(move |connection| get(connection, &id))
            .await
    }

    /// Drafts, newest first, optionally only one status.
    pub async fn drafts(
        &self,
        status: Option<DraftStatus>,
    ) -> Result<Vec<DraftRecord>, QueueError> {
        self.with(move |connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {COLUMNS} FROM drafts WHERE ?1 IS NULL OR status=?1 ORDER BY created_at DESC, id"
            ))?;
            let rows = statement.query_map([status.map(DraftStatus::as_str)], record_from_row)?;
            rows.collect()
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
        self.with_checked(move |connection| {
            let record = get(connection, &id)?;
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
}
