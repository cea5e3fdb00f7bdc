//! The LLM drafter: builds the prompt from the retrieved sources (redacted when the endpoint is
//! external), asks for a structured answer, and checks it against the grounding contract before
//! anything reaches an agent:
//! - cited ids must be among the sources shown (others are dropped and flagged);
//! - every URL in the reply must come from a cited source (invented links are removed, flagged);
//! - refunds, prices, deadlines or eligibility that no cited source mentions are flagged;
//! - the reply must be in the customer's language (a mismatch lowers confidence and is flagged).
//!
//! Any failure (endpoint, empty or malformed answer) is returned as an error: the caller falls
//! back to the retrieval-only draft, so a ticket never goes without a note because of the model.

use chrono::{DateTime, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::compose::{article_ids, compose_abstained, is_linkable, retrieval_confidence};
use super::templates::{PromptTemplates, TemplateError};
use super::thread::ThreadTurn;
use super::{CitedSource, Draft, DraftKind, DraftRequest, LlmUsage, cite};
use crate::config::DraftingConfig;
use crate::domain::SourceType;
use crate::ingest::cases::normalize_url;
use crate::ingest::clean::{extract_bare_domains, extract_urls};
use crate::ingest::language::detect_language;
use crate::llm::redact::Redactor;
use crate::llm::{ChatModel, ChatRequest, LlmError};
use crate::retrieve::{RetrievalResult, RetrievedSource};

/// Claims an agent must be able to back with a source: (needle, what it is about).
const CLAIMS_NEEDING_A_SOURCE: [(&str, &str); 12] = [
    ("refund", "a refund"),
    ("rembours", "a refund"),
    ("reembols", "a refund"),
    ("compensat", "compensation"),
    ("discount", "a discount"),
    ("free of charge", "something free of charge"),
    ("$", "a price"),
    ("€", "a price"),
    ("£", "a price"),
    ("within ", "a time frame"),
    ("business days", "a time frame"),
    ("eligible", "eligibility"),
];

/// The words in a generated draft that raised a "mentions ..." flag, and the marker left where a
/// link was removed (for highlighting where a flag occurs).
pub fn claim_terms(flag: &str) -> Vec<&'static str> {
    if flag.starts_with("removed a") {
        return vec!["[link removed]"];
    }
    let Some(rest) = flag.strip_prefix("mentions ") else {
        return Vec::new();
    };
    CLAIMS_NEEDING_A_SOURCE
        .iter()
        .filter(|(_, claim)| {
            rest.strip_prefix(claim)
                .is_some_and(|after| after.starts_with([':', ' ']))
        })
        .map(|(needle, _)| *needle)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the model's answer is not the JSON the prompt asks for: {0}")]
    NotStructured(String),
    #[error("the model returned an empty reply")]
    EmptyReply,
}

/// The structured answer the prompt asks for.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ModelAnswer {
    pub reply: String,
    #[serde(default)]
    pub source_ids: Vec<String>,
    #[serde(default)]
    pub confidence: Option<f32>,
    #[serde(default)]
    pub needs_human: Vec<String>,
}

/// A source as the model sees it.
#[derive(Debug, Clone, Serialize)]
struct PromptSource {
    id: String,
    kind: &'static str,
    title: String,
    url: Option<String>,
    text: String,
}

fn language_name(code: &str) -> &str {
    match code {
        "en" => "English",
        "fr" => "French",
        "es" => "Spanish",
        "de" => "German",
        "it" => "Italian",
        "pt" => "Portuguese",
        "nl" => "Dutch",
        "ja" => "Japanese",
        "zh" => "Chinese",
        "ko" => "Korean",
        other => other,
    }
}

/// The sources shown to the model: the nearest cases and the best-ranked articles, interleaved
/// so both kinds survive the cap.
pub fn prompt_sources(retrieval: &RetrievalResult, max_sources: usize) -> Vec<&RetrievedSource> {
    let mut cases = retrieval.cases.iter();
    let mut articles = retrieval.articles.iter();
    let mut chosen = Vec::new();
    while chosen.len() < max_sources {
        let before = chosen.len();
        chosen.extend(cases.next());
        if chosen.len() < max_sources {
            chosen.extend(articles.next());
        }
        if chosen.len() == before {
            break;
        }
    }
    chosen
}

/// How a source is named to the model; agents-only knowledge says so, so the model uses it
/// without pointing the customer to it.
fn prompt_kind(source: &RetrievedSource) -> &'static str {
    match source.source_type {
        SourceType::Case => "past case",
        SourceType::CannedResponse => "approved canned response",
        SourceType::Article if source.agent_only => {
            "internal article (agents only: use its facts, never link or name it)"
        }
        SourceType::Article => "article",
    }
}

fn source_text(source: &RetrievedSource) -> String {
    match &source.resolution {
        Some(answer) => format!(
            "Customer: {}\nAgent's answer: {}",
            source.snippet.trim(),
            answer.trim()
        ),
        None => source.snippet.trim().to_string(),
    }
}

/// The chat request for a ticket, redacting identifiers when `redactor` is given.
pub fn build_chat_request(
    request: &DraftRequest,
    sources: &[&RetrievedSource],
    customer_language: &str,
    templates: &PromptTemplates,
    redactor: Option<&mut Redactor>,
) -> Result<ChatRequest, TemplateError> {
    let mut identity = |text: &str| text.to_string();
    let mut redact_with;
    let redact: &mut dyn FnMut(&str) -> String = match redactor {
        Some(redactor) => {
            redact_with = move |text: &str| redactor.redact(text);
            &mut redact_with
        }
        None => &mut identity,
    };
    let customer_text = redact(&request.customer_text);
    let thread: Vec<ThreadTurn> = request
        .thread
        .iter()
        .map(|turn| ThreadTurn {
            text: redact(&turn.text),
            ..turn.clone()
        })
        .collect();
    let shown: Vec<PromptSource> = sources
        .iter()
        .map(|s| PromptSource {
            id: s.key().to_string(),
            kind: prompt_kind(s),
            title: redact(&s.title),
            // The model never sees the address of what customers must not be sent to.
            url: s.url.clone().filter(|_| is_linkable(s)),
            text: redact(&source_text(s)),
        })
        .collect();
    let system = templates.render(
        "system.j2",
        context! {
            tone => &templates.tone,
            language => customer_language,
            language_name => language_name(customer_language),
        },
    )?;
    let user = templates.render(
        "draft.j2",
        context! { customer_text => customer_text, thread => thread, sources => shown },
    )?;
    Ok(ChatRequest {
        system,
        user,
        json_object: true,
    })
}

/// The JSON object in the model's text (tolerating a Markdown fence around it).
pub fn parse_answer(content: &str) -> Result<ModelAnswer, GenerationError> {
    let trimmed = content.trim();
    let start = trimmed.find('{');
    let end = trimmed.rfind('}');
    let json = match (start, end) {
        (Some(start), Some(end)) if end > start => &trimmed[start..=end],
        _ => return Err(GenerationError::NotStructured("no JSON object".into())),
    };
    serde_json::from_str(json).map_err(|e| GenerationError::NotStructured(e.to_string()))
}

/// Everything the model saw and said, checked into a draft.
pub struct GenerationInput<'a> {
    pub request: &'a DraftRequest,
    pub retrieval: RetrievalResult,
    pub customer_language: Option<String>,
    pub templates: &'a PromptTemplates,
    pub config: &'a DraftingConfig,
    pub max_sources: usize,
    pub redact: bool,
    pub now: DateTime<Utc>,
}

pub async fn compose_generated(
    input: GenerationInput<'_>,
    chat: &dyn ChatModel,
) -> Result<Draft, GenerationError> {
    let started = std::time::Instant::now();
    let language = input
        .customer_language
        .clone()
        .unwrap_or_else(|| "en".to_string());
    let retrieval = input.retrieval.clone();
    let mut max_sources = input.max_sources;
    let mut redactor = Redactor::new();
    // A prompt too long for the model's context is retried with half the sources, down to one.
    let (sources, response) = loop {
        let sources = prompt_sources(&retrieval, max_sources);
        let chat_request = build_chat_request(
            input.request,
            &sources,
            &language,
            input.templates,
            input.redact.then_some(&mut redactor),
        )?;
        match chat.complete(&chat_request).await {
            Err(LlmError::ContextTooLong(message)) if max_sources > 1 => {
                tracing::info!(max_sources, %message, "prompt too long; retrying with fewer sources");
                max_sources /= 2;
            }
            other => break (sources, other?),
        }
    };
    let answer = parse_answer(&response.content)?;
    let reply = redactor.restore(answer.reply.trim());
    if reply.is_empty() {
        return Err(GenerationError::EmptyReply);
    }
    let usage = LlmUsage {
        model: response.model.clone(),
        prompt_tokens: response.prompt_tokens,
        completion_tokens: response.completion_tokens,
        millis: started.elapsed().as_secs_f64() * 1e3,
        identifiers_redacted: redactor.count(),
    };
    Ok(check_answer(input, &sources, answer, reply, usage))
}

/// Applies the grounding contract and the confidence rule.
fn check_answer(
    input: GenerationInput<'_>,
    shown: &[&RetrievedSource],
    answer: ModelAnswer,
    mut reply: String,
    usage: LlmUsage,
) -> Draft {
    let mut flags = Vec::new();
    let mut penalty = 1.0f32;
    let mut cited: Vec<&RetrievedSource> = Vec::new();
    for id in &answer.source_ids {
        match shown.iter().find(|s| s.key().to_string() == id.trim()) {
            Some(source) if !cited.iter().any(|c| c.key() == source.key()) => cited.push(source),
            Some(_) => {}
            None => {
                penalty *= 0.8;
                flags.push(format!(
                    "the model cited {id:?}, which was not among the retrieved sources (removed)"
                ));
            }
        }
    }
    if cited.is_empty() {
        penalty *= 0.7;
        flags.push("the reply cites no retrieved source: check every statement".to_string());
    }
    // Agents-only sources inform the reply but lend it no link.
    let cited_text: String = cited
        .iter()
        .map(|s| {
            format!(
                "{} {} {}\n",
                s.title,
                s.url
                    .as_deref()
                    .filter(|_| is_linkable(s) || s.source_type == SourceType::Case)
                    .unwrap_or(""),
                source_text(s)
            )
        })
        .collect::<String>()
        .to_lowercase();
    let allowed_urls: Vec<String> = cited
        .iter()
        .filter(|s| s.source_type != SourceType::Article || is_linkable(s))
        .filter_map(|s| s.url.clone())
        .chain(extract_urls(&cited_text))
        .collect();
    for url in extract_urls(&reply) {
        let known = allowed_urls
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(&url));
        if !known {
            penalty *= 0.8;
            reply = reply.replace(&url, "[link removed]");
            flags.push(format!("removed a link no cited source contains: {url}"));
        }
    }
    // An address without a scheme is a link to a reader all the same.
    let allowed_addresses: Vec<String> = allowed_urls
        .iter()
        .map(|u| normalize_url(u))
        .chain(
            extract_bare_domains(&cited_text)
                .iter()
                .map(|d| normalize_url(d)),
        )
        .chain(
            extract_bare_domains(&input.request.customer_text)
                .iter()
                .map(|d| normalize_url(d)),
        )
        .collect();
    for address in extract_bare_domains(&reply) {
        let wanted = normalize_url(&address);
        let host = wanted
            .split(['/', '?', '#'])
            .next()
            .unwrap_or(&wanted)
            .to_string();
        let known = allowed_addresses.iter().any(|allowed| {
            *allowed == wanted
                || (host == wanted && allowed.split(['/', '?', '#']).next() == Some(host.as_str()))
        });
        if !known {
            penalty *= 0.8;
            reply = reply.replace(&address, "[link removed]");
            flags.push(format!(
                "removed an address no cited source contains: {address}"
            ));
        }
    }
    let lower_reply = reply.to_lowercase();
    let mut claims: Vec<&str> = Vec::new();
    for (needle, claim) in CLAIMS_NEEDING_A_SOURCE {
        if lower_reply.contains(needle) && !claims.contains(&claim) {
            claims.push(claim);
            if cited_text.contains(needle) {
                flags.push(format!(
                    "mentions {claim}: a cited source does too; confirm it applies to this customer"
                ));
            } else {
                penalty *= 0.85;
                flags.push(format!(
                    "mentions {claim} that no cited source supports: confirm before sending"
                ));
            }
        }
    }
    let customer_language = input.customer_language.clone();
    let draft_language = detect_language(&reply);
    if let (Some(customer), Some(written)) =
        (customer_language.as_deref(), draft_language.as_deref())
        && customer != written
    {
        penalty *= 0.6;
        flags.push(format!(
            "the draft is in '{written}' but the customer wrote in '{customer}': rewrite before sending"
        ));
    }
    flags.extend(
        answer
            .needs_human
            .iter()
            .filter(|r| !r.trim().is_empty())
            .map(|reason| format!("model: {}", reason.trim())),
    );
    if reply.chars().count() > input.config.max_draft_chars {
        reply = reply
            .chars()
            .take(input.config.max_draft_chars)
            .collect::<String>()
            + "…";
        flags.push("draft was cut to the configured maximum length".to_string());
    }
    let evidence = retrieval_confidence(&input.retrieval);
    let self_rated = answer.confidence.unwrap_or(0.5).clamp(0.0, 1.0);
    // Retrieval evidence dominates: a model is often confident about what it made up.
    let confidence = ((0.7 * evidence + 0.3 * self_rated) * penalty).clamp(0.0, 1.0);
    let cited_article_ids: Vec<i64> = cited
        .iter()
        .filter(|s| s.source_type == SourceType::Article)
        .map(|s| s.id)
        .chain(article_ids(&input.retrieval.articles))
        .fold(Vec::new(), |mut ids, id| {
            if !ids.contains(&id) {
                ids.push(id);
            }
            ids
        });
    let sources: Vec<CitedSource> = cited.iter().map(|s| cite(s, input.now)).collect();
    if confidence < input.config.confidence_threshold {
        let reason = format!(
            "the written draft did not pass the checks with enough confidence ({})",
            flags.first().map_or("weak evidence", String::as_str)
        );
        let mut abstained = compose_abstained(
            input.request,
            input.retrieval,
            customer_language,
            input.templates,
            confidence,
            &reason,
            flags,
            input.now,
        )
        .unwrap_or_else(|error| plain_abstention(input.request.ticket_id, confidence, &error));
        abstained.llm = Some(usage);
        return abstained;
    }
    Draft {
        ticket_id: input.request.ticket_id,
        kind: DraftKind::Generated,
        text: reply,
        confidence,
        abstain_reason: None,
        flags,
        customer_language,
        draft_language,
        sources,
        cited_article_ids,
        retrieval: input.retrieval,
        retrieval_millis: 0.0,
        generation_millis: 0.0,
        llm: Some(usage),
        llm_fallback: None,
    }
}

fn plain_abstention(ticket_id: i64, confidence: f32, error: &TemplateError) -> Draft {
    Draft {
        ticket_id,
        kind: DraftKind::Abstained,
        text: String::new(),
        confidence,
        abstain_reason: Some(format!("No draft (the abstain template failed: {error}).")),
        flags: Vec::new(),
        customer_language: None,
        draft_language: None,
        sources: Vec::new(),
        cited_article_ids: Vec::new(),
        retrieval: RetrievalResult::default(),
        retrieval_millis: 0.0,
        generation_millis: 0.0,
        llm: None,
        llm_fallback: None,
    }
}
