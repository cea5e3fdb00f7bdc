//! Owns drafting: from a ticket to a reviewed-ready draft (reply text, cited sources, confidence,
//! flags) or an explained abstention. Knows nothing about HTTP; serve and simulate call it.

pub mod compose;
pub mod confidence;
pub mod conflicts;
pub mod fit;
pub mod generate;
pub mod grounding;
pub mod model_json;
pub mod render;
pub mod reply_check;
pub mod specifics;
pub mod templates;
pub mod thread;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::DraftingConfig;
use crate::domain::{DocumentKey, Ticket, product_key};
use crate::ingest::cases::customer_problem_text;
use crate::ingest::language::detect_language;
use crate::llm::ChatModel;
use crate::retrieve::{
    RetrievalRequest, RetrievalResult, RetrieveError, RetrievedSource, Retriever,
};

pub use templates::{PromptTemplates, TemplateError};

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error(transparent)]
    Retrieve(#[from] RetrieveError),
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// How a draft was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftKind {
    /// Composed from the best-matching past answer and article links (no LLM, or its fallback).
    RetrievalOnly,
    /// Written by the language model from the retrieved sources, then checked.
    Generated,
    /// Not confident enough: no reply text, only the closest sources.
    Abstained,
}

impl DraftKind {
    /// The serialised name (`retrieval_only`, `abstained`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetrievalOnly => "retrieval_only",
            Self::Generated => "generated",
            Self::Abstained => "abstained",
        }
    }
}

/// A source the draft cites, in the order shown to the agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CitedSource {
    pub key: String,
    pub title: String,
    pub url: Option<String>,
    pub similarity: f32,
    pub created_at: DateTime<Utc>,
    /// `None` for undated knowledge-folder documents.
    pub age_days: Option<i64>,
    /// Agents-only knowledge: listed for the agent, never linked in the reply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub agent_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Draft {
    pub ticket_id: i64,
    pub kind: DraftKind,
    /// Plain-text reply for the agent to review; empty when abstained.
    pub text: String,
    pub confidence: f32,
    /// Why there is no draft, when abstained.
    pub abstain_reason: Option<String>,
    /// Things the agent should check before sending.
    pub flags: Vec<String>,
    /// The customer's language as detected.
    pub customer_language: Option<String>,
    pub draft_language: Option<String>,
    /// Cited sources: the reused case first, then linked articles.
    pub sources: Vec<CitedSource>,
    /// Ranked article ids the draft points the customer to (for article-agreement metrics).
    pub cited_article_ids: Vec<i64>,
    /// Everything retrieval found, shown to the agent even when abstaining.
    pub retrieval: RetrievalResult,
    pub retrieval_millis: f64,
    pub generation_millis: f64,
    /// The model call behind a generated draft (or an abstention after one).
    #[serde(default)]
    pub llm: Option<LlmUsage>,
    /// Why the language model's draft was replaced by the retrieval-only one.
    #[serde(default)]
    pub llm_fallback: Option<String>,
    /// Details from another customer's case replaced by placeholders (kinds only: the originals
    /// belong to that customer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scrubbed_specifics: Vec<specifics::SpecificKind>,
    /// What the grounding checks found in a written draft (all zero for retrieval-only).
    #[serde(default)]
    pub grounding: GroundingChecks,
}

/// Counts of what the grounding checks changed or flagged in a written draft.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GroundingChecks {
    /// Cited ids that were not among the sources shown (dropped).
    pub invented_ids_dropped: usize,
    /// Links and bare addresses no cited source contains (removed).
    pub links_removed: usize,
    /// Refunds, prices, time frames, eligibility no cited source mentions (flagged).
    pub unsupported_claims: usize,
    /// The model's self-rated confidence was outside 0..1 (clamped).
    pub confidence_clamped: bool,
    /// The reply is not in the customer's language (flagged).
    pub language_mismatch: bool,
}

/// Tokens and latency of one model call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LlmUsage {
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub millis: f64,
    /// Distinct identifiers replaced by placeholders before the text left the machine.
    pub identifiers_redacted: usize,
    /// How the answer's JSON shape was requested (`None`: not requested, or an older record).
    #[serde(default)]
    pub structured_output: Option<crate::llm::StructuredOutputForm>,
    /// How the prompt was fitted to the model's context.
    #[serde(default)]
    pub prompt_fit: Option<fit::PromptFit>,
}

/// Everything a draft is made from, derived from a ticket.
#[derive(Debug, Clone)]
pub struct DraftRequest {
    pub ticket_id: i64,
    pub customer_text: String,
    pub customer_first_name: Option<String>,
    pub product: Option<String>,
    /// Replay: only knowledge from before this instant.
    pub as_of: Option<DateTime<Utc>>,
    /// For a follow-up: the public turns before the message answered, oldest first (empty for
    /// a ticket's first message).
    pub thread: Vec<thread::ThreadTurn>,
}

impl DraftRequest {
    /// What the agent saw when the first reply was due: subject, description and customer
    /// follow-ups before the first public agent reply. The ticket's own thread is excluded.
    pub fn from_ticket(ticket: &Ticket, as_of: Option<DateTime<Utc>>) -> Self {
        Self {
            ticket_id: ticket.id,
            customer_text: customer_problem_text(ticket),
            customer_first_name: None,
            product: product_key(ticket.product_id),
            as_of,
            thread: Vec::new(),
        }
    }
}

/// The drafting service: retrieval + composition (by the model when one is configured) + checks.
pub struct Drafter {
    pub retriever: Arc<Retriever>,
    pub templates: Arc<PromptTemplates>,
    pub config: DraftingConfig,
    pub generation: Option<Generation>,
}

/// The language model and how to use it.
#[derive(Clone)]
pub struct Generation {
    pub chat: Arc<dyn ChatModel>,
    /// Replace identifiers before text is sent.
    pub redact: bool,
    pub max_sources: usize,
}

impl Drafter {
    pub async fn draft(&self, request: &DraftRequest) -> Result<Draft, DraftError> {
        let started = Instant::now();
        let retrieval = self
            .retriever
            .retrieve(&RetrievalRequest {
                query_text: search_text(
                    request,
                    self.retriever.config.follow_up_search_with_first_message,
                ),
                product: request.product.clone(),
                as_of: request.as_of,
                exclude: vec![DocumentKey::case(request.ticket_id)],
            })
            .await?;
        let retrieval_millis = started.elapsed().as_secs_f64() * 1e3;
        let generation_started = Instant::now();
        let customer_language = detect_language(&request.customer_text);
        let now = request.as_of.unwrap_or_else(Utc::now);
        let mut draft = compose_with_fallback(
            self.generation.as_ref(),
            request,
            retrieval,
            customer_language,
            &self.templates,
            &self.config,
            now,
        )
        .await?;
        scrub_agent_only_links(&mut draft, &self.retriever.catalog);
        if draft.kind == DraftKind::Generated {
            scrub_generated_specifics(&mut draft, request);
        }
        flag_conflicting_sources(&mut draft);
        draft.retrieval_millis = retrieval_millis;
        draft.generation_millis = generation_started.elapsed().as_secs_f64() * 1e3;
        Ok(draft)
    }
}

/// Removes links to agents-only articles from the reply text, wherever they came from (a reused
/// past answer that linked one before its folder was restricted, or the model), and says so.
pub fn scrub_agent_only_links(draft: &mut Draft, catalog: &crate::retrieve::ArticleCatalog) {
    for url in crate::ingest::clean::extract_urls(&draft.text) {
        if catalog.links_to_agent_only(&url) {
            draft.text = draft.text.replace(&url, "[link removed]");
            draft.flags.push(format!(
                "removed a link to an agents-only article customers cannot open: {url}"
            ));
        }
    }
}

/// What retrieval searches with: the message answered (with the subject), and for a follow-up,
/// when configured, the ticket's first message too.
pub fn search_text(request: &DraftRequest, with_first_message: bool) -> String {
    match request.thread.first() {
        Some(first) if with_first_message && first.from_customer => {
            format!("{}\n\n{}", request.customer_text, first.text)
        }
        _ => request.customer_text.clone(),
    }
}

/// Flags cited sources that contradict each other (time frames, knowledge prices), saying
/// which to trust when an article changed after the case. Abstentions cite nothing to send.
fn flag_conflicting_sources(draft: &mut Draft) {
    if draft.kind == DraftKind::Abstained {
        return;
    }
    let retrieved = draft
        .retrieval
        .cases
        .iter()
        .chain(&draft.retrieval.articles);
    let cited: Vec<&RetrievedSource> = retrieved
        .filter(|s| {
            let key = s.key().to_string();
            draft.sources.iter().any(|c| c.key == key)
        })
        .collect();
    let flags = conflicts::conflict_flags(&cited);
    draft.flags.extend(flags);
}

/// What the new ticket says (its own details are kept) and what knowledge documents (prices in
/// an article are policy, not another customer's).
pub fn ticket_context(
    request: &DraftRequest,
    retrieval: &RetrievalResult,
) -> specifics::TicketContext {
    let mut ticket_text = request.customer_text.clone();
    for turn in &request.thread {
        ticket_text.push('\n');
        ticket_text.push_str(&turn.text);
    }
    let knowledge_text = retrieval
        .articles
        .iter()
        .flat_map(|a| [a.title.as_str(), a.snippet.as_str()])
        .collect::<Vec<_>>()
        .join("\n");
    specifics::TicketContext {
        ticket_text,
        knowledge_text,
    }
}

/// A model writing from past cases may copy their details: every detail the new ticket lacks is
/// replaced, with the names addressed in any retrieved case's answer.
fn scrub_generated_specifics(draft: &mut Draft, request: &DraftRequest) {
    let context = ticket_context(request, &draft.retrieval);
    let mut names: Vec<String> = draft
        .retrieval
        .cases
        .iter()
        .filter_map(|c| c.resolution.as_deref())
        .flat_map(specifics::addressed_names)
        .collect();
    names.sort();
    names.dedup();
    let outcome = specifics::scrub_specifics(&draft.text, &names, &context);
    if let Some(flag) = outcome.flag() {
        draft.flags.push(flag);
    }
    draft.text = outcome.text;
    draft.scrubbed_specifics.extend(outcome.replaced);
}

/// Composes the draft from retrieval results: by the language model when one is given (checked
/// against the grounding contract), otherwise, or when the model fails, retrieval-only. A model
/// failure never fails the draft: the retrieval-only one is returned, labelled as a fallback.
pub async fn compose_with_fallback(
    generation: Option<&Generation>,
    request: &DraftRequest,
    retrieval: RetrievalResult,
    customer_language: Option<String>,
    templates: &PromptTemplates,
    config: &DraftingConfig,
    now: DateTime<Utc>,
) -> Result<Draft, DraftError> {
    let Some(generation) = generation else {
        return Ok(compose::compose_retrieval_only(
            request,
            retrieval,
            customer_language,
            templates,
            config,
            now,
        )?);
    };
    let input = generate::GenerationInput {
        request,
        retrieval: retrieval.clone(),
        customer_language: customer_language.clone(),
        templates,
        config,
        max_sources: generation.max_sources,
        redact: generation.redact,
        now,
    };
    match generate::compose_generated(input, generation.chat.as_ref()).await {
        Ok(draft) => Ok(draft),
        Err(error) => {
            tracing::warn!(
                ticket_id = request.ticket_id,
                %error,
                "language model failed; using the retrieval-only draft"
            );
            let mut draft = compose::compose_retrieval_only(
                request,
                retrieval,
                customer_language,
                templates,
                config,
                now,
            )?;
            draft.flags.insert(
                0,
                format!("the language model failed ({error}): this is the retrieval-only draft"),
            );
            draft.llm_fallback = Some(error.to_string());
            Ok(draft)
        }
    }
}

pub(crate) fn cite(source: &RetrievedSource, now: DateTime<Utc>) -> CitedSource {
    CitedSource {
        key: source.key().to_string(),
        title: source.title.clone(),
        url: source.url.clone(),
        similarity: source.similarity,
        created_at: source.created_at,
        age_days: (source.created_at > DateTime::<Utc>::UNIX_EPOCH).then(|| source.age_days(now)),
        agent_only: source.agent_only,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_match_their_serialised_form() {
        for kind in [
            DraftKind::RetrievalOnly,
            DraftKind::Generated,
            DraftKind::Abstained,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
