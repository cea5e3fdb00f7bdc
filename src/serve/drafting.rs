//! A draft job: find the ticket's customer message awaiting an answer, draft it once, and post
//! exactly one private note for it.
//!
//! Exactly once, across crashes and overlapping workers: the draft is stored before the note is
//! posted (a rerun reuses it, so the note body is identical); the note carries a marker with the
//! draft id; and under the ticket's lock the worker reads the ticket's conversations for that
//! marker before posting. A crash after posting but before recording the note therefore finds
//! the note instead of posting a second one.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ServeState;
use super::worker::JobError;
use crate::domain::Ticket;
use crate::draft::render::{escape_text, render_note_html};
use crate::draft::thread::{AwaitingMessage, awaiting_message};
use crate::draft::{Draft, DraftKind, DraftRequest};
use crate::helpdesk::TicketUpdate;
use crate::queue::{DraftStatus, NewDraft, TicketContext};

/// Namespace of draft ids: UUIDv5 of the ticket id for its first message (the ids drafts had
/// before follow-ups existed), of `ticket:message` for a follow-up, with `:r{n}` for an agent's
/// n-th redraft.
const DRAFT_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_4c1e_9f2b_4d7e_8c3a_51d0_e2b4_77a1);

/// The tag every drafted ticket gets, for views and reports in Freshdesk.
pub const DRAFTED_TAG: &str = "deskdraft";

pub fn draft_id(ticket_id: i64, message_id: i64, revision: u32) -> String {
    let mut name = if message_id == 0 {
        ticket_id.to_string()
    } else {
        format!("{ticket_id}:{message_id}")
    };
    if revision > 0 {
        name.push_str(&format!(":r{revision}"));
    }
    Uuid::new_v5(&DRAFT_NAMESPACE, name.as_bytes()).to_string()
}

/// The text that identifies a draft's note; kept as visible text because Freshdesk sanitises
/// note HTML (comments and data attributes may not survive), and text always does.
pub fn note_marker(draft_id: &str) -> String {
    format!("deskdraft:{draft_id}")
}

/// What a finished draft job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftJobOutcome {
    Posted,
    /// The note existed already (an earlier attempt posted it before crashing).
    FoundPosted,
    /// Nothing to do: the message's note was already recorded.
    AlreadyDone,
    /// The customer has been answered since (an agent replied): no draft needed.
    Answered,
    /// The ticket is resolved, closed, spam or deleted: no draft.
    NotOpen,
}

/// Drafts the ticket's awaiting message and posts its note. Also returns the ticket's
/// `updated_at` as this job leaves it (for the reconciler).
pub async fn process_draft_job(
    state: &ServeState,
    ticket_id: i64,
    job_created_at: DateTime<Utc>,
) -> Result<(DraftJobOutcome, DateTime<Utc>), JobError> {
    let ticket = state.read.ticket_with_conversations(ticket_id).await?;
    let seen = ticket.updated_at;
    // Whatever else this job does, it learns what became of drafts an agent has answered.
    super::outcomes::record_outcomes(state, &ticket).await?;
    if ticket.spam || ticket.deleted || ticket.status().is_resolved() {
        return Ok((DraftJobOutcome::NotOpen, seen));
    }
    let Some(message) = awaiting_message(&ticket) else {
        return Ok((DraftJobOutcome::Answered, seen));
    };
    let existing = state
        .queue
        .draft_for_message(ticket_id, message.message_id)
        .await?;
    let revision = match &existing {
        Some(current) if current.redraft_requested => current.revision + 1,
        Some(current) if current.note_id.is_some() => {
            return Ok((DraftJobOutcome::AlreadyDone, seen));
        }
        Some(current) => current.revision,
        None => 0,
    };
    let record = match existing.filter(|current| current.revision == revision) {
        Some(record) => record,
        None => {
            let request = DraftRequest::for_message(&ticket, message);
            let draft = state.drafter.draft(&request).await?;
            let new = new_draft(&ticket, message, revision, &request, &draft);
            state.queue.insert_draft(new).await?
        }
    };
    let marker = note_marker(&record.id);
    let _ticket_lock = state.ticket_locks.lock(ticket_id).await?;
    let conversations = state.write.conversations_of(ticket_id).await?;
    if let Some(posted) = conversations.iter().find(|c| {
        c.private
            && (c.body.contains(&marker)
                || c.body_text.as_deref().is_some_and(|t| t.contains(&marker)))
    }) {
        state.queue.set_note(&record.id, posted.id).await?;
        return Ok((DraftJobOutcome::FoundPosted, seen));
    }
    let note = state
        .write
        .create_private_note(ticket_id, &record.note_html, &marker)
        .await?;
    state.queue.set_note(&record.id, note.id).await?;
    let tagged_at = tag_drafted(state, &ticket).await;
    let tokens = record.draft["llm"]["prompt_tokens"]
        .as_u64()
        .zip(record.draft["llm"]["completion_tokens"].as_u64())
        .map(|(p, c)| (p as u32, c as u32));
    let since = message.at.max(job_created_at);
    let waited = (Utc::now() - since).num_milliseconds().max(0) as f64 / 1e3;
    state.metrics.drafted(&record.kind, waited, tokens);
    // Our own note (and tag) updated the ticket; if the customer wrote nothing meanwhile, the
    // reconciler need not look at it again for those updates.
    let thread_unchanged = {
        let mut after = ticket.clone();
        after.conversations = conversations;
        awaiting_message(&after).map(|m| m.message_id) == Some(message.message_id)
    };
    let handled_through = if thread_unchanged {
        [Some(seen), Some(note.created_at), tagged_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(seen)
    } else {
        seen
    };
    Ok((DraftJobOutcome::Posted, handled_through))
}

/// Tags the ticket `deskdraft` (Freshdesk replaces the tag list, so the existing tags are sent
/// too). A failure is logged, not a reason to draft again. Returns the ticket's new
/// `updated_at` when known.
async fn tag_drafted(state: &ServeState, ticket: &Ticket) -> Option<DateTime<Utc>> {
    if ticket
        .tags
        .iter()
        .any(|t| t.eq_ignore_ascii_case(DRAFTED_TAG))
    {
        return None;
    }
    let mut tags = ticket.tags.clone();
    tags.push(DRAFTED_TAG.to_string());
    let update = TicketUpdate {
        tags: Some(tags),
        ..TicketUpdate::default()
    };
    match state.write.update_ticket(ticket.id, &update).await {
        Ok(updated_at) => updated_at,
        Err(error) => {
            tracing::warn!(ticket_id = ticket.id, %error, "could not tag the ticket as drafted");
            None
        }
    }
}

fn new_draft(
    ticket: &Ticket,
    message: AwaitingMessage,
    revision: u32,
    request: &DraftRequest,
    draft: &Draft,
) -> NewDraft {
    let id = draft_id(ticket.id, message.message_id, revision);
    let mut header = if message.is_follow_up() {
        format!(
            "<p><i>Follow-up: drafted for the customer's message of {} from the whole thread ({} earlier messages).</i></p>",
            escape_text(&message.at.format("%Y-%m-%d %H:%M UTC").to_string()),
            request.thread.len()
        )
    } else {
        String::new()
    };
    if revision > 0 {
        header.push_str(&format!(
            "<p><i>Redraft {revision}, as an agent asked: the earlier draft of this message is superseded.</i></p>"
        ));
    }
    let note_html = format!(
        "{header}{}<p><small>{}</small></p>",
        render_note_html(draft),
        note_marker(&id)
    );
    NewDraft {
        id,
        ticket_id: ticket.id,
        message_id: message.message_id,
        revision,
        status: if draft.kind == DraftKind::Abstained {
            DraftStatus::Abstained
        } else {
            DraftStatus::Pending
        },
        kind: outcome_name(draft).to_string(),
        product: request.product.clone(),
        confidence: draft.confidence,
        draft_text: draft.text.clone(),
        note_html,
        draft: serde_json::to_value(draft).unwrap_or_default(),
        ticket: Some(TicketContext::of(ticket, message)),
    }
}

pub(super) fn outcome_name(draft: &Draft) -> &'static str {
    match (draft.kind, draft.llm_fallback.is_some()) {
        (DraftKind::RetrievalOnly, true) => "llm_fallback",
        (kind, _) => kind.as_str(),
    }
}
