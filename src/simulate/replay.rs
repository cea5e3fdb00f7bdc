//! Replays past tickets through the real drafting path, leak-free: each draft may only use
//! knowledge created strictly before the ticket (`as_of = created_at`), never the ticket's own
//! thread, and sees only what the agent saw before the first public reply.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::metrics::{first_correct_rank, rouge_l_f1, verdict};
use super::model::{ReportSource, TicketResult};
use crate::domain::{Ticket, product_key};
use crate::draft::{Draft, DraftError, DraftKind, DraftRequest, Drafter};
use crate::embed::{DenseEmbedder, EmbedError, cosine};
use crate::helpdesk::bundle::{Bundle, BundleError};
use crate::ingest::cases::ArticleUrlIndex;
use crate::ingest::clean::{clean_message_html, extract_urls};
use crate::ingest::language::detect_language;

/// Read only the selected tickets from the bundle (one streaming pass), oldest first.
pub fn load_selected_tickets(bundle: &Bundle, ids: &[i64]) -> Result<Vec<Ticket>, BundleError> {
    let wanted: HashSet<i64> = ids.iter().copied().collect();
    let mut tickets = Vec::with_capacity(ids.len());
    for ticket in bundle.tickets()? {
        let ticket = ticket?;
        if wanted.contains(&ticket.id) {
            tickets.push(ticket);
        }
    }
    tickets.sort_by_key(|t| (t.created_at, t.id));
    Ok(tickets)
}

/// Every article the bundle knows (any status): links in real replies are matched against these.
pub fn reference_article_index(bundle: &Bundle) -> Result<ArticleUrlIndex, BundleError> {
    let mut index = ArticleUrlIndex::default();
    if let Some(articles) = bundle.articles()? {
        for article in articles {
            let article = article?;
            index.insert(article.id, article.url.as_deref());
        }
    }
    Ok(index)
}

/// What the real agent did: the first public reply (for similarity) and the known articles linked
/// in any public reply of the thread (for article agreement).
pub struct Reference {
    pub first_reply: String,
    pub article_ids: Vec<i64>,
}

pub fn reference_of(ticket: &Ticket, articles: &ArticleUrlIndex) -> Reference {
    let replies: Vec<String> = ticket
        .public_agent_replies()
        .map(|reply| clean_message_html(&reply.body, reply.body_text.as_deref()))
        .collect();
    let urls: Vec<String> = replies
        .iter()
        .flat_map(|reply| extract_urls(reply))
        .collect();
    Reference {
        first_reply: replies.first().cloned().unwrap_or_default(),
        article_ids: articles.resolve_all(&urls),
    }
}

/// One replayed ticket before reply similarity is computed (done in batches afterwards).
pub struct ReplayedTicket {
    pub ticket_id: i64,
    pub product: Option<String>,
    pub created_at: DateTime<Utc>,
    pub customer_text: String,
    pub reference: Reference,
    pub draft: Draft,
    /// Details of retrieved past answers in the draft that the ticket lacks.
    pub foreign_specifics: usize,
}

/// How many distinct details from any retrieved past case's answer the draft carries although the
/// ticket lacks them (see [`crate::draft::specifics::leaked_specifics`]).
pub fn foreign_specifics_in(draft: &Draft, request: &DraftRequest) -> usize {
    if draft.kind == DraftKind::Abstained {
        return 0;
    }
    let context = crate::draft::ticket_context(request, &draft.retrieval);
    let mut leaked: Vec<String> = draft
        .retrieval
        .cases
        .iter()
        .filter_map(|case| case.resolution.as_deref())
        .flat_map(|reply| crate::draft::specifics::leaked_specifics(&draft.text, reply, &context))
        .collect();
    leaked.sort();
    leaked.dedup();
    if !leaked.is_empty() {
        // Debug level only: these are customer details.
        tracing::debug!(
            ticket_id = request.ticket_id,
            ?leaked,
            "draft carries another customer's details"
        );
    }
    leaked.len()
}

/// What a replay drafts for a ticket: the request, as of when, and from which conversation on
/// the agents' replies are the reference.
pub struct ReplayPoint {
    pub request: DraftRequest,
    pub at: DateTime<Utc>,
    /// Conversations before the reference replies (0 for a first message: every public reply).
    pub reference_from: usize,
}

/// The customer follow-up a `--follow-ups` replay drafts: the last customer message after the
/// first public agent reply that an agent answered publicly later.
pub fn follow_up_point(ticket: &Ticket) -> Option<usize> {
    let conversations = &ticket.conversations;
    let first_reply = conversations
        .iter()
        .position(|c| c.is_public_agent_reply())?;
    let last_reply = conversations
        .iter()
        .rposition(|c| c.is_public_agent_reply())?;
    (first_reply + 1..last_reply)
        .rev()
        .find(|&i| conversations[i].incoming && !conversations[i].private)
}

/// A ticket's first message as of its creation, or with `follow_up` its last answered
/// follow-up as of that message, drafted from the thread so far. Tickets replayed for a
/// follow-up were selected for having one.
pub fn replay_point(ticket: &Ticket, follow_up: bool) -> ReplayPoint {
    let Some(point) = follow_up.then(|| follow_up_point(ticket)).flatten() else {
        return ReplayPoint {
            request: DraftRequest::from_ticket(ticket, Some(ticket.created_at)),
            at: ticket.created_at,
            reference_from: 0,
        };
    };
    let message = &ticket.conversations[point];
    let mut so_far = ticket.clone();
    so_far.conversations.truncate(point + 1);
    let awaiting = crate::draft::thread::AwaitingMessage {
        message_id: message.id,
        at: message.created_at,
    };
    let mut request = DraftRequest::for_message(&so_far, awaiting);
    request.as_of = Some(message.created_at);
    ReplayPoint {
        request,
        at: message.created_at,
        reference_from: point + 1,
    }
}

/// Draft one ticket at its replay point (see [`replay_point`]).
pub async fn replay_ticket(
    drafter: &Drafter,
    ticket: &Ticket,
    articles: &ArticleUrlIndex,
    follow_up: bool,
) -> Result<ReplayedTicket, DraftError> {
    let ReplayPoint {
        request,
        at,
        reference_from,
    } = replay_point(ticket, follow_up);
    let draft = drafter.draft(&request).await?;
    let foreign_specifics = foreign_specifics_in(&draft, &request);
    let reference = if reference_from == 0 {
        reference_of(ticket, articles)
    } else {
        let mut replies_after = ticket.clone();
        replies_after.conversations.drain(..reference_from);
        reference_of(&replies_after, articles)
    };
    Ok(ReplayedTicket {
        foreign_specifics,
        ticket_id: ticket.id,
        product: product_key(ticket.product_id),
        created_at: at,
        customer_text: request.customer_text,
        reference,
        draft,
    })
}

/// Embedding cosine of each draft to its reference reply, batched.
pub async fn reply_cosines(
    embedder: &dyn DenseEmbedder,
    replayed: &[ReplayedTicket],
) -> Result<Vec<Option<f32>>, EmbedError> {
    let pairs: Vec<(usize, String, String)> = replayed
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.draft.kind != DraftKind::Abstained && !r.reference.first_reply.is_empty()
        })
        .map(|(index, r)| (index, r.draft.text.clone(), r.reference.first_reply.clone()))
        .collect();
    let mut cosines = vec![None; replayed.len()];
    for batch in pairs.chunks(32) {
        let texts: Vec<String> = batch
            .iter()
            .flat_map(|(_, draft, reference)| [draft.clone(), reference.clone()])
            .collect();
        let vectors = embedder.embed_batch(&texts).await?;
        for (pair_index, (ticket_index, _, _)) in batch.iter().enumerate() {
            let value = cosine(&vectors[2 * pair_index], &vectors[2 * pair_index + 1]);
            // Rounded: the last bits of a float sum may differ between thread schedules.
            cosines[*ticket_index] = Some((value * 1e5).round() / 1e5);
        }
    }
    Ok(cosines)
}

/// Assemble the per-ticket result.
pub fn ticket_result(
    replayed: ReplayedTicket,
    cosine_to_reference: Option<f32>,
    product_name: Option<String>,
) -> TicketResult {
    let draft = &replayed.draft;
    let has_draft = draft.kind != DraftKind::Abstained;
    let reference_articles = replayed.reference.article_ids.clone();
    let rank = first_correct_rank(&draft.cited_article_ids, &reference_articles);
    let has_reference_article = !reference_articles.is_empty();
    let hit = |k: usize| has_reference_article.then(|| rank.is_some_and(|r| r <= k));
    let draft_text = if has_draft {
        draft.text.clone()
    } else {
        draft.abstain_reason.clone().unwrap_or_default()
    };
    let draft_language = if has_draft {
        detect_language(&draft.text)
    } else {
        None
    };
    let language_match = match (&draft_language, &draft.customer_language) {
        (Some(draft_language), Some(customer)) if has_draft => Some(draft_language == customer),
        _ => None,
    };
    let reference_length = replayed.reference.first_reply.chars().count();
    TicketResult {
        ticket_id: replayed.ticket_id,
        product: replayed.product.clone(),
        product_name,
        created_at: replayed.created_at,
        kind: draft.kind.as_str().to_string(),
        confidence: (draft.confidence * 1e4).round() / 1e4,
        customer_language: draft.customer_language.clone(),
        draft_language,
        language_match,
        cited_article_ids: draft.cited_article_ids.clone(),
        first_correct_rank: rank,
        hit_at_1: hit(1),
        hit_at_3: hit(3),
        hit_at_5: hit(5),
        cosine: cosine_to_reference,
        rouge_l_f1: has_draft.then(|| {
            (rouge_l_f1(&draft.text, &replayed.reference.first_reply) * 1e5).round() / 1e5
        }),
        length_ratio: (has_draft && reference_length > 0).then(|| {
            ((draft.text.chars().count() as f32 / reference_length as f32) * 1e4).round() / 1e4
        }),
        retrieval_millis: draft.retrieval_millis,
        generation_millis: draft.generation_millis,
        llm_fallback: draft.llm_fallback.clone(),
        grounding: draft.grounding.clone(),
        structured_output: draft
            .llm
            .as_ref()
            .and_then(|u| u.structured_output)
            .map(|form| form.as_str().to_string()),
        prompt_fit: draft.llm.as_ref().and_then(|u| u.prompt_fit.clone()),
        prompt_tokens: draft.llm.as_ref().map(|u| u64::from(u.prompt_tokens)),
        completion_tokens: draft.llm.as_ref().map(|u| u64::from(u.completion_tokens)),
        verdict: verdict(has_draft, &reference_articles, rank, cosine_to_reference),
        reference_article_ids: reference_articles,
        customer_text: replayed.customer_text,
        reference_reply: replayed.reference.first_reply,
        draft_text,
        flags: draft.flags.clone(),
        foreign_specifics: replayed.foreign_specifics,
        scrubbed_specifics: draft.scrubbed_specifics.len(),
        sources: draft
            .sources
            .iter()
            .map(|s| ReportSource {
                key: s.key.clone(),
                title: s.title.clone(),
                url: s.url.clone(),
                created_at: s.created_at,
                age_days: s.age_days,
                similarity: (s.similarity * 1e4).round() / 1e4,
            })
            .collect(),
    }
}
