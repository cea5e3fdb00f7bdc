//! A send job: the approved draft goes out as the public reply, as the approving agent, then the
//! ticket gets the status the agent chose and the note says what was sent. Each step is recorded
//! on the draft as it completes, so a job that runs again (a crash, a lost lease, a retry after
//! a timeout) does only what is left.
//!
//! Exactly one reply: under the ticket's lock the ticket's conversations are read first, and a
//! public reply with the approved text created since the approval began is taken as ours. When
//! the ticket cannot be read, nothing is sent (the job retries later).

use super::ServeState;
use super::worker::JobError;
use crate::draft::render::{escape_text, paragraphs};
use crate::helpdesk::matching::PostedConversation;
use crate::helpdesk::{HelpdeskError, ReplyRequest, TicketUpdate};
use crate::queue::{DraftRecord, DraftStatus, drafts_edit_distance};
use crate::retry::{Classify, ErrorClass};

/// What a finished send job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    /// The reply was on the ticket already (an interrupted earlier attempt sent it).
    FoundSent,
    /// Everything was done before this run.
    AlreadyDone,
    /// The draft is no longer approved (it was never sending, or sending failed for good).
    NotApproved,
    /// Sending cannot succeed (unknown agent, ticket gone, refused): the draft is pending
    /// again with the reason.
    Refused,
}

/// Kept in the queue's key-value store: an agent's id by email, so each is looked up once.
fn agent_cache_key(email: &str) -> String {
    format!("agent_id_by_email:{}", email.trim().to_lowercase())
}

/// The agent a reply goes out as: the id given, else the one the email resolves to (cached),
/// else the API key's own agent. `Err(Some(reason))` when an email resolves to nobody.
async fn resolve_agent(
    state: &ServeState,
    draft: &DraftRecord,
) -> Result<Result<Option<i64>, String>, JobError> {
    if let Some(id) = draft.agent_id {
        return Ok(Ok(Some(id)));
    }
    let Some(email) = draft
        .agent_email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    else {
        return Ok(Ok(None));
    };
    let key = agent_cache_key(email);
    // One lookup at a time in this process, the cache read again under the lock: two send jobs
    // for the same new email would otherwise both miss the cache and both spend a call.
    static AGENT_LOOKUP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_lookup_at_a_time = AGENT_LOOKUP.lock().await;
    if let Some(id) = state
        .queue
        .get_value(&key)
        .await?
        .and_then(|v| v.parse().ok())
    {
        state.queue.set_approval_agent(&draft.id, id).await?;
        return Ok(Ok(Some(id)));
    }
    match state.write.agent_id_by_email(email).await {
        Ok(Some(id)) => {
            state.queue.set_value(&key, &id.to_string()).await?;
            state.queue.set_approval_agent(&draft.id, id).await?;
            Ok(Ok(Some(id)))
        }
        Ok(None) => Ok(Err(format!("no Freshdesk agent has the email {email:?}"))),
        Err(HelpdeskError::Forbidden(reason)) => Ok(Err(format!(
            "the API key's agent may not look agents up by email (Freshdesk allows admins only): \
             give the agent's Freshdesk id instead ({reason})"
        ))),
        Err(other) => Err(other.into()),
    }
}

/// Sends the draft's reply and finishes the approval.
pub async fn process_send_job(state: &ServeState, draft_id: &str) -> Result<SendOutcome, JobError> {
    let mut draft = state.queue.draft(draft_id).await?;
    if !matches!(draft.status, DraftStatus::Sending | DraftStatus::Approved) {
        return Ok(SendOutcome::NotApproved);
    }
    let mut outcome = SendOutcome::AlreadyDone;
    if draft.reply_id.is_none() {
        let agent_id = match resolve_agent(state, &draft).await? {
            Ok(agent) => agent,
            Err(reason) => {
                state.queue.sending_failed(&draft.id, &reason).await?;
                return Ok(SendOutcome::Refused);
            }
        };
        match send_reply(state, &draft, agent_id).await {
            Ok((reply_id, found)) => {
                draft = state.queue.record_reply(&draft.id, reply_id).await?;
                outcome = if found {
                    SendOutcome::FoundSent
                } else {
                    SendOutcome::Sent
                };
            }
            Err(JobError::Helpdesk(error)) if error.class() == ErrorClass::Permanent => {
                state
                    .queue
                    .sending_failed(&draft.id, &format!("the reply could not be sent: {error}"))
                    .await?;
                return Ok(SendOutcome::Refused);
            }
            Err(other) => return Err(other),
        }
    }
    if let Some(status) = draft.send_status.filter(|_| !draft.status_applied) {
        let update = TicketUpdate {
            status: Some(status),
            ..TicketUpdate::default()
        };
        match state.write.update_ticket(draft.ticket_id, &update).await {
            Ok(_) => state.queue.mark_status_applied(&draft.id).await?,
            // The reply is out; a status Freshdesk refuses (a custom status that was removed,
            // fields required to resolve) is reported, not retried forever.
            Err(error) if error.class() == ErrorClass::Permanent => {
                tracing::warn!(draft_id, %error, "reply sent, but the ticket status could not be set");
                state.queue.mark_status_applied(&draft.id).await?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    if !draft.note_updated {
        if let Some(note_id) = draft.note_id {
            match state
                .write
                .update_note(note_id, &sent_note_html(&draft))
                .await
            {
                Ok(_) => {}
                Err(error) if error.class() == ErrorClass::Permanent => {
                    tracing::warn!(draft_id, %error, "reply sent, but the note could not be updated");
                }
                Err(error) => return Err(error.into()),
            }
        }
        state.queue.mark_note_updated(&draft.id).await?;
    }
    if outcome != SendOutcome::AlreadyDone {
        state.metrics.reply_sent();
    }
    Ok(outcome)
}

/// Finds the reply on the ticket or sends it, under the ticket's lock. Returns the reply's id
/// and whether it was found rather than sent.
async fn send_reply(
    state: &ServeState,
    draft: &DraftRecord,
    agent_id: Option<i64>,
) -> Result<(i64, bool), JobError> {
    let text = draft
        .sent_text
        .clone()
        .unwrap_or_else(|| draft.draft_text.clone());
    let body_html = paragraphs(&text);
    let _ticket_lock = state.ticket_locks.lock(draft.ticket_id).await?;
    let conversations = state.write.conversations_of(draft.ticket_id).await?;
    let ours = PostedConversation {
        body_html: &body_html,
        private: false,
        marker: None,
        not_before: draft.approval_started_at,
    };
    if let Some(found) = ours.find_in(&conversations) {
        return Ok((found.id, true));
    }
    let reply = state
        .write
        .create_reply(&ReplyRequest {
            ticket_id: draft.ticket_id,
            body_html,
            agent_id,
            not_before: draft.approval_started_at,
        })
        .await?;
    Ok((reply.id, false))
}

/// The note as posted, plus who sent the reply, when, and how much they changed.
fn sent_note_html(draft: &DraftRecord) -> String {
    let text = draft.sent_text.as_deref().unwrap_or(&draft.draft_text);
    let distance = drafts_edit_distance(&draft.draft_text, text);
    let edits = if distance < 1e-9 {
        "sent as drafted".to_string()
    } else {
        format!(
            "sent with edits ({:.0}% of the text changed)",
            distance * 100.0
        )
    };
    let by = draft.decided_by.as_deref().unwrap_or("reviewer");
    let at = draft
        .decided_at
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y-%m-%d %H:%M UTC");
    format!(
        "{}<p><b>Sent</b> by {} at {at}: {edits}.</p>",
        draft.note_html,
        escape_text(by)
    )
}
