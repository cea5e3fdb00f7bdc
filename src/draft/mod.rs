//! Owns drafting: from a ticket to a reviewed-ready draft (reply text, cited sources, confidence,
//! flags) or an explained abstention. Knows nothing about HTTP; serve and simulate call it.

pub mod compose;
pub mod render;
pub mod templates;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::DraftingConfig;
use crate::domain::{DocumentKey, Ticket, product_key};
use crate::ingest::cases::customer_problem_text;
use crate::ingest::language::detect_language;
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
    /// Composed from the best-matching past answer and article links (no LLM).
    RetrievalOnly,
    /// Not confident enough: no reply text, only the closest sources.
    Abstained,
}

impl DraftKind {
    /// The serialised name (`retrieval_only`, `abstained`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetrievalOnly => "retrieval_only",
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
        }
    }
}

/// The drafting service: retrieval + composition + checks.
pub struct Drafter {
    pub retriever: Arc<Retriever>,
    pub templates: Arc<PromptTemplates>,
    pub config: DraftingConfig,
}

impl Drafter {
    pub async fn draft(&self, request: &DraftRequest) -> Result<Draft, DraftError> {
        let started = Instant::now();
        let retrieval = self
            .retriever
            .retrieve(&RetrievalRequest {
                query_text: request.customer_text.clone(),
                product: request.product.clone(),
                as_of: request.as_of,
                exclude: vec![DocumentKey::case(request.ticket_id)],
            })
            .await?;
        let retrieval_millis = started.elapsed().as_secs_f64() * 1e3;
        let generation_started = Instant::now();
        let customer_language = detect_language(&request.customer_text);
        let now = request.as_of.unwrap_or_else(Utc::now);
        let mut draft = compose::compose_retrieval_only(
            request,
            retrieval,
            customer_language,
            &self.templates,
            &self.config,
            now,
        )?;
        draft.retrieval_millis = retrieval_millis;
        draft.generation_millis = generation_started.elapsed().as_secs_f64() * 1e3;
        Ok(draft)
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_match_their_serialised_form() {
        for kind in [DraftKind::RetrievalOnly, DraftKind::Abstained] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
