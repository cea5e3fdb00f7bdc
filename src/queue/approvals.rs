//! Approvals as durable intents. An approval request only records what the agent decided (the
//! text, who sends it, the status to set) and queues a send job in the same transaction; a
//! worker does the sending. So a request that is dropped, times out or is repeated from a second
//! tab can neither lose the approval nor send twice: the draft moves from `pending` to
//! `sending` once, and the send job is unique per draft.

use super::drafts::{DraftRecord, DraftStatus, get, get_locked};
use super::feedback::edit_distance;
use super::sql::params;
use super::{JobQueue, QueueError, now_ms};

/// What an agent decided when approving.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApprovalIntent {
    /// The reply as sent (the draft's text, or the agent's edit).
    pub text: String,
    /// Who approved, as shown on the note.
    pub by: String,
    /// The Freshdesk agent the reply goes out as, when known.
    pub agent_id: Option<i64>,
    /// Resolved to an agent id by the send job when `agent_id` is not given.
    pub agent_email: Option<String>,
    /// Ticket status to set after sending (3 pending, 4 resolved, 5 closed).
    pub send_status: Option<i64>,
}

/// What an approval request found.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalOutcome {
    /// Recorded now; a send job will send it.
    Recorded(DraftRecord),
    /// An earlier approval is being sent (a second tab, a repeated request): nothing changed.
    AlreadySending(DraftRecord),
    /// Already sent: nothing changed.
    AlreadyApproved(DraftRecord),
}

impl ApprovalOutcome {
    pub fn draft(&self) -> &DraftRecord {
        match self {
            Self::Recorded(d) | Self::AlreadySending(d) | Self::AlreadyApproved(d) => d,
        }
    }
}

impl JobQueue {
    /// Records an approval and queues its send job, atomically.
    pub async fn begin_approval(
        &self,
        id: &str,
        intent: ApprovalIntent,
    ) -> Result<ApprovalOutcome, QueueError> {
        let id = id.to_string();
        self.with(move |db| {
            db.transaction(|db| {
                let record = get_locked(db, &id, true)?;
                match record.status {
                    DraftStatus::Approved => return Ok(ApprovalOutcome::AlreadyApproved(record)),
                    DraftStatus::Sending => return Ok(ApprovalOutcome::AlreadySending(record)),
                    DraftStatus::Pending => {}
                    other => {
                        return Err(QueueError::InvalidTransition {
                            id,
                            status: other.as_str().into(),
                            action: "approved",
                        });
                    }
                }
                let now = now_ms();
                let distance = edit_distance(&record.draft_text, &intent.text);
                db.execute(
                    "UPDATE drafts SET status='sending', sent_text=$2, decided_by=$3, agent_id=$4,
                         agent_email=$5, send_status=$6, approval_started_at=$7, send_error=NULL,
                         status_applied=0, note_updated=0, edit_distance=$8
                     WHERE id=$1",
                    params![
                        id.as_str(),
                        intent.text.as_str(),
                        intent.by.as_str(),
                        intent.agent_id,
                        intent.agent_email.as_deref(),
                        intent.send_status,
                        now,
                        distance
                    ],
                )?;
                db.execute(
                    "INSERT INTO jobs (kind, ticket_id, draft_id, state, next_attempt_at, source,
                         created_at, updated_at)
                     VALUES ('send', $1, $2, 'queued', $3, 'approval', $3, $3)
                     ON CONFLICT(draft_id) WHERE kind = 'send' DO UPDATE SET
                         state='queued', attempts=0, next_attempt_at=$3, last_error=NULL, updated_at=$3",
                    params![record.ticket_id, id.as_str(), now],
                )?;
                super::listen::announce_queued_job(db)?;
                Ok(ApprovalOutcome::Recorded(get(db, &id)?))
            })
        })
        .await
    }

    /// The agent id an email resolved to, kept on the draft so a retry does not ask again.
    pub async fn set_approval_agent(&self, id: &str, agent_id: i64) -> Result<(), QueueError> {
        let id = id.to_string();
        self.with(move |db| {
            db.execute(
                "UPDATE drafts SET agent_id=$2 WHERE id=$1",
                params![id, agent_id],
            )?;
            Ok(())
        })
        .await
    }

    /// The reply is on the ticket: the draft is approved.
    pub async fn record_reply(&self, id: &str, reply_id: i64) -> Result<DraftRecord, QueueError> {
        let id = id.to_string();
        self.with(move |db| {
            db.execute(
                "UPDATE drafts SET status='approved', reply_id=$2,
                     decided_at=COALESCE(decided_at, $3)
                 WHERE id=$1 AND status IN ('sending', 'approved')",
                params![id.as_str(), reply_id, now_ms()],
            )?;
            get(db, &id)
        })
        .await
    }

    pub async fn mark_status_applied(&self, id: &str) -> Result<(), QueueError> {
        self.set_flag(id, "status_applied").await
    }

    pub async fn mark_note_updated(&self, id: &str) -> Result<(), QueueError> {
        self.set_flag(id, "note_updated").await
    }

    async fn set_flag(&self, id: &str, column: &'static str) -> Result<(), QueueError> {
        let id = id.to_string();
        self.with(move |db| {
            db.execute(
                &format!("UPDATE drafts SET {column}=1 WHERE id=$1"),
                params![id],
            )?;
            Ok(())
        })
        .await
    }

    /// Sending failed for good (an unknown agent, a ticket deleted meanwhile): the draft is
    /// pending again, with the reason for the agent to see.
    pub async fn sending_failed(&self, id: &str, error: &str) -> Result<(), QueueError> {
        let (id, error) = (id.to_string(), error.chars().take(1000).collect::<String>());
        self.with(move |db| {
            db.execute(
                "UPDATE drafts SET status='pending', send_error=$2 WHERE id=$1 AND status='sending'",
                params![id, error],
            )?;
            Ok(())
        })
        .await
    }
}
