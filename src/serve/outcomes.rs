//! Implicit feedback: when a public agent reply answers a drafted customer message (seen by any
//! job on the ticket: the reconciler's, or an "agent replied" automation's webhook), deskdraft
//! records what became of the draft without anyone clicking anything, and the note says so.

use chrono::{DateTime, Utc};

use super::ServeState;
use super::worker::JobError;
use crate::domain::{Conversation, Ticket};
use crate::draft::render::{escape_text, paragraphs};
use crate::draft::thread::DESCRIPTION_MESSAGE_ID;
use crate::ingest::clean::{clean_message_html, extract_urls};
use crate::queue::{
    DraftEventKind, DraftOutcome, DraftRecord, Outcome, ReplyOrigin, drafts_edit_distance,
};

/// When the message a draft answers was written.
fn message_time(ticket: &Ticket, draft: &DraftRecord) -> Option<DateTime<Utc>> {
    if draft.message_id == DESCRIPTION_MESSAGE_ID {
        return Some(ticket.created_at);
    }
    ticket
        .conversations
        .iter()
        .find(|c| c.id == draft.message_id)
        .map(|c| c.created_at)
}

/// The public agent reply that answered the message written at `at`: the first one after it,
/// unless the customer wrote again first (then the reply answers the later message).
fn answering_reply(ticket: &Ticket, at: DateTime<Utc>) -> Option<&Conversation> {
    ticket
        .conversations
        .iter()
        .filter(|c| c.created_at >= at)
        .find(|c| c.is_public_agent_reply() || (c.incoming && !c.private && c.created_at > at))
        .filter(|c| c.is_public_agent_reply())
}

/// Records the outcome of every draft of this ticket whose message now has an answer; returns
/// how many were recorded.
pub async fn record_outcomes(state: &ServeState, ticket: &Ticket) -> Result<usize, JobError> {
    let waiting = state.queue.drafts_awaiting_outcome(ticket.id).await?;
    let mut recorded = 0;
    for draft in waiting {
        let Some(at) = message_time(ticket, &draft) else {
            continue;
        };
        let Some(reply) = answering_reply(ticket, at) else {
            continue;
        };
        // Both sides cleaned alike (signatures and quoted history go), so a reply sent as drafted
        // compares equal whatever Freshdesk did to its HTML.
        let reply_text = clean_message_html(&reply.body, reply.body_text.as_deref());
        let draft_text =
            clean_message_html(&paragraphs(&draft.draft_text), Some(&draft.draft_text));
        let distance = drafts_edit_distance(&draft_text, &reply_text);
        let cited = extract_urls(&draft.draft_text);
        let kept = cited
            .iter()
            .filter(|url| reply.body.contains(url.as_str()) || reply_text.contains(url.as_str()))
            .count();
        let via = if draft.reply_id == Some(reply.id) {
            ReplyOrigin::Deskdraft
        } else if state
            .queue
            .events_of(&draft.id)
            .await?
            .iter()
            .any(|e| e.kind == DraftEventKind::Inserted.as_str())
        {
            ReplyOrigin::AppInsert
        } else {
            ReplyOrigin::Typed
        };
        let outcome = DraftOutcome {
            draft_id: draft.id.clone(),
            ticket_id: ticket.id,
            reply_id: reply.id,
            outcome: Outcome::of_distance(distance),
            edit_distance: distance,
            links_cited: cited.len() as u32,
            links_kept: kept as u32,
            agent_id: reply.user_id,
            via,
            seconds_to_reply: ((reply.created_at - draft.created_at).num_milliseconds() as f64
                / 1e3)
                .max(0.0),
            product: draft.product.clone(),
            confidence: draft.confidence,
            replied_at: reply.created_at,
        };
        if !state.queue.record_outcome(outcome.clone()).await? {
            continue;
        }
        recorded += 1;
        state
            .metrics
            .outcome(outcome.outcome.as_str(), via.as_str());
        if let Some(note_id) = draft.note_id
            && via != ReplyOrigin::Deskdraft
        {
            // deskdraft's own sends already say so on the note.
            let html = format!("{}{}", used_header(&outcome), draft.note_html);
            if let Err(error) = state.write.update_note(note_id, &html).await {
                tracing::warn!(draft_id = %draft.id, %error, "outcome recorded, but the note could not say so");
            }
        }
    }
    Ok(recorded)
}

/// The line a note gets once its draft was used (or not).
fn used_header(outcome: &DraftOutcome) -> String {
    let how = match outcome.outcome {
        Outcome::AsDrafted => "sent as drafted".to_string(),
        Outcome::Edited | Outcome::Rewritten => format!(
            "sent {} ({:.0}% of the text changed)",
            if outcome.outcome == Outcome::Edited {
                "with edits"
            } else {
                "rewritten"
            },
            outcome.edit_distance * 100.0
        ),
        Outcome::NotUsed => "not used: the reply sent differs".to_string(),
    };
    let origin = match outcome.via {
        ReplyOrigin::AppInsert => " from the sidebar app",
        _ => "",
    };
    let agent = outcome
        .agent_id
        .map(|id| format!(" by agent {id}"))
        .unwrap_or_default();
    let minutes = (outcome.seconds_to_reply / 60.0).round();
    format!(
        "<p><b>Used:</b> {}{}{}, {} min after the draft.</p>",
        escape_text(&how),
        origin,
        agent,
        minutes
    )
}
