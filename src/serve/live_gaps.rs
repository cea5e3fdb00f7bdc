//! Knowledge gaps from live drafts: the customer messages serve abstained on, whose draft an
//! agent marked "not useful" or rejected, or whose draft agents rewrote or did not use when they
//! replied, grouped by topic the way the simulation groups its replays (`simulate::gaps`).
//! Shown on the lead's view and at `GET /api/knowledge-gaps`, so a lead sees what to write next
//! from what agents meet today, not only from history.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::queue::{DraftOutcome, DraftStatus, GapDraft, Outcome};
use crate::simulate::gaps::{GapSource, GapTicket, KnowledgeGaps, group_knowledge_gaps};

/// The newest drafts the live gaps are computed from: recent enough to be what agents meet
/// now, and bounded so the lead's view stays fast on a queue of years.
pub const LIVE_GAP_DRAFTS: usize = 5_000;

/// Why a live draft counts as "no good draft".
fn lacks_good_draft(
    newest: &GapDraft,
    revisions: &[&GapDraft],
    not_useful: &HashSet<String>,
    outcomes: &HashMap<&str, Outcome>,
) -> bool {
    newest.kind == "abstained"
        || revisions
            .iter()
            .any(|d| not_useful.contains(&d.id) || d.status == DraftStatus::Rejected)
        || revisions.iter().any(|d| {
            matches!(
                outcomes.get(d.id.as_str()),
                Some(Outcome::Rewritten | Outcome::NotUsed)
            )
        })
}

/// The customer's words of a drafted message: the subject and the customer's turns of the
/// thread so far (the latest carries the question; earlier ones its context).
fn customer_text(draft: &GapDraft) -> Option<String> {
    let ticket = draft.ticket.as_ref()?;
    let turns: Vec<&str> = ticket
        .thread
        .iter()
        .filter(|turn| turn.from_customer)
        .map(|turn| turn.text.as_str())
        .collect();
    Some(format!("{}\n{}", ticket.subject, turns.join("\n")))
}

fn sources_of(draft: &GapDraft) -> Vec<GapSource> {
    draft
        .sources
        .as_array()
        .map(|sources| {
            sources
                .iter()
                .filter_map(|source| {
                    Some(GapSource {
                        key: source["key"].as_str()?.to_string(),
                        title: source["title"].as_str().unwrap_or_default().to_string(),
                        url: source["url"].as_str().map(str::to_string),
                        cited_by: 0,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One ticket per drafted customer message (its revisions together, the newest deciding
/// whether it abstained), from drafts that kept their ticket. `product_name` names a product id.
pub fn live_gap_tickets(
    drafts: &[GapDraft],
    not_useful: &HashSet<String>,
    outcomes: &[DraftOutcome],
    product_name: impl Fn(&str) -> Option<String>,
) -> Vec<GapTicket> {
    let outcomes: HashMap<&str, Outcome> = outcomes
        .iter()
        .map(|o| (o.draft_id.as_str(), o.outcome))
        .collect();
    let mut messages: BTreeMap<(i64, i64), Vec<&GapDraft>> = BTreeMap::new();
    for draft in drafts {
        messages
            .entry((draft.ticket_id, draft.message_id))
            .or_default()
            .push(draft);
    }
    messages
        .into_values()
        .filter_map(|revisions| {
            let newest = *revisions
                .iter()
                .max_by_key(|d| (d.revision, d.created_at))?;
            let text = customer_text(newest)?;
            Some(GapTicket {
                ticket_id: newest.ticket_id,
                product: newest.product.clone(),
                product_name: newest.product.as_deref().and_then(&product_name),
                customer_text: text,
                lacks_good_draft: lacks_good_draft(newest, &revisions, not_useful, &outcomes),
                without_draft: newest.kind == "abstained",
                sources: sources_of(newest),
            })
        })
        .collect()
}

/// The live knowledge gaps of these drafts.
pub fn live_knowledge_gaps(
    drafts: &[GapDraft],
    not_useful: &HashSet<String>,
    outcomes: &[DraftOutcome],
    product_name: impl Fn(&str) -> Option<String>,
) -> KnowledgeGaps {
    group_knowledge_gaps(&live_gap_tickets(
        drafts,
        not_useful,
        outcomes,
        product_name,
    ))
}

/// The live knowledge gaps of the newest [`LIVE_GAP_DRAFTS`] drafts, and how many drafts that
/// was; `outcomes` are the queue's, which the caller has read already (the lead's view shows them).
pub async fn gather_live_gaps(
    state: &super::ServeState,
    outcomes: &[DraftOutcome],
) -> Result<(KnowledgeGaps, usize), crate::queue::QueueError> {
    let drafts = state.queue.recent_gap_drafts(LIVE_GAP_DRAFTS).await?;
    let not_useful = state
        .queue
        .drafts_with_event(crate::queue::DraftEventKind::NotUseful)
        .await?;
    let names = state.console.product_names(state.read.as_ref()).await;
    let gaps = live_knowledge_gaps(&drafts, &not_useful, outcomes, |id| names.get(id).cloned());
    Ok((gaps, drafts.len()))
}

#[cfg(test)]
#[path = "live_gaps_tests.rs"]
mod tests;
