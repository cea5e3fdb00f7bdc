//! The retrieval-only drafter (the default without an LLM): reuse the best-matching past answer,
//! adapted for a new customer (greeting, sign-off, names and identifiers removed), add the most
//! relevant article links, and score how much the evidence supports it.

use chrono::{DateTime, Utc};
use minijinja::context;

use super::specifics::{addressed_names, scrub_specifics};
use super::templates::{PromptTemplates, TemplateError};
use super::{CitedSource, Draft, DraftKind, DraftRequest, cite};
use crate::config::DraftingConfig;
use crate::domain::SourceType;
use crate::ingest::clean::{anonymize_handles, extract_urls, strip_greeting_and_signoff};
use crate::retrieve::{RetrievalResult, RetrievedSource};

/// Article links written into the reply itself; the rest stay in the sources list.
const ARTICLES_IN_REPLY: usize = 2;

/// Words that make a promise an agent must confirm before sending.
const SENSITIVE_TOPICS: [(&str, &str); 8] = [
    ("refund", "mentions a refund"),
    ("rembours", "mentions a refund"),
    ("reembols", "mentions a refund"),
    ("credit", "mentions a credit"),
    ("compensat", "mentions compensation"),
    ("discount", "mentions a discount"),
    ("within ", "mentions a time frame"),
    ("business days", "mentions a time frame"),
];

/// How strongly retrieval supports a reused answer, in 0..1.
///
/// Mostly the similarity of the nearest past case (cosine of MiniLM embeddings: below ~0.5 the
/// cases are rarely about the same problem, above ~0.9 they nearly always are), plus agreement:
/// how many of the top cases point to the same article.
pub fn retrieval_confidence(retrieval: &RetrievalResult) -> f32 {
    let Some(top_case) = retrieval.cases.first() else {
        return 0.0;
    };
    let similarity = ((top_case.similarity - 0.50) / 0.40).clamp(0.0, 1.0);
    // Agreement: how many of the three nearest cases were resolved with the top article.
    let agreement = retrieval
        .articles
        .first()
        .map(|article| {
            let linking = retrieval
                .cases
                .iter()
                .take(3)
                .filter(|case| case.linked_article_ids.contains(&article.id))
                .count();
            linking as f32 / 3.0
        })
        .unwrap_or(0.0);
    (0.75 * similarity + 0.25 * agreement).clamp(0.0, 1.0)
}

/// Pick the case whose answer is reused: the best match, unless a nearly-as-good case is in the
/// customer's language (a French customer should not get an English template).
fn choose_case<'a>(
    cases: &'a [RetrievedSource],
    customer_language: Option<&str>,
    top_article: Option<i64>,
) -> Option<&'a RetrievedSource> {
    let with_answer: Vec<&RetrievedSource> = cases
        .iter()
        .filter(|c| {
            c.resolution
                .as_deref()
                .is_some_and(|r| !r.trim().is_empty())
        })
        .collect();
    let best = *with_answer.first()?;
    // Near-ties only: a reused answer must stay about the same problem as the best match.
    let close = |c: &&&RetrievedSource| c.similarity >= best.similarity - 0.12;
    let same_language = |c: &&&RetrievedSource| {
        customer_language.is_none_or(|language| c.language.as_deref() == Some(language))
    };
    // Prefer an answer that agrees with the best-ranked article (the article evidence combines
    // several cases), then one in the customer's language.
    if let Some(article) = top_article
        && let Some(agreeing) = with_answer
            .iter()
            .take(5)
            .filter(close)
            .filter(same_language)
            .find(|c| c.linked_article_ids.contains(&article))
    {
        return Some(agreeing);
    }
    if let Some(language) = customer_language
        && best.language.as_deref() != Some(language)
        && let Some(same) = with_answer
            .iter()
            .take(5)
            .filter(close)
            .find(|c| c.language.as_deref() == Some(language))
    {
        return Some(same);
    }
    Some(best)
}

/// Ids of the Freshdesk articles among ranked knowledge, in rank order (canned responses are
/// knowledge too, but not what article-agreement metrics compare).
pub(crate) fn article_ids(knowledge: &[RetrievedSource]) -> Vec<i64> {
    knowledge
        .iter()
        .filter(|k| k.source_type == SourceType::Article)
        .map(|k| k.id)
        .collect()
}

/// Whether a source may be linked in text a customer reads: a customer-visible article.
/// Agents-only articles and canned responses inform the draft and stay in the note's sources.
pub(crate) fn is_linkable(source: &RetrievedSource) -> bool {
    source.source_type == SourceType::Article && !source.agent_only
}

fn sensitive_flags(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut flags: Vec<String> = Vec::new();
    for (needle, flag) in SENSITIVE_TOPICS {
        if lower.contains(needle) && !flags.iter().any(|f| f.starts_with(flag)) {
            flags.push(format!(
                "{flag}: confirm it applies to this customer before sending"
            ));
        }
    }
    flags
}

/// The words in a draft that raised a sensitive-topic flag (for highlighting where it occurs).
pub fn flag_terms(flag: &str) -> Vec<&'static str> {
    SENSITIVE_TOPICS
        .iter()
        .filter(|(_, label)| flag.starts_with(label))
        .map(|(needle, _)| *needle)
        .collect()
}

/// The note without a draft: why, and the closest sources (still useful to the agent).
#[allow(clippy::too_many_arguments)]
pub fn compose_abstained(
    request: &DraftRequest,
    retrieval: RetrievalResult,
    customer_language: Option<String>,
    templates: &PromptTemplates,
    confidence: f32,
    reason: &str,
    flags: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Draft, TemplateError> {
    let sources: Vec<CitedSource> = retrieval
        .cases
        .iter()
        .take(3)
        .chain(retrieval.articles.iter().take(3))
        .map(|s| cite(s, now))
        .collect();
    let text = templates.render(
        "abstain.j2",
        context! { reason => reason, confidence => confidence, sources => &sources },
    )?;
    Ok(Draft {
        ticket_id: request.ticket_id,
        kind: DraftKind::Abstained,
        text: String::new(),
        confidence,
        abstain_reason: Some(text),
        flags,
        customer_language,
        draft_language: None,
        sources,
        cited_article_ids: article_ids(&retrieval.articles),
        retrieval,
        retrieval_millis: 0.0,
        generation_millis: 0.0,
        llm: None,
        llm_fallback: None,
        scrubbed_specifics: Vec::new(),
        grounding: super::GroundingChecks::default(),
    })
}

pub fn compose_retrieval_only(
    request: &DraftRequest,
    retrieval: RetrievalResult,
    customer_language: Option<String>,
    templates: &PromptTemplates,
    config: &DraftingConfig,
    now: DateTime<Utc>,
) -> Result<Draft, TemplateError> {
    let mut confidence = retrieval_confidence(&retrieval);
    let chosen = choose_case(
        &retrieval.cases,
        customer_language.as_deref(),
        retrieval.articles.first().map(|a| a.id),
    )
    .cloned();
    let mut flags = Vec::new();
    if let Some(case) = &chosen
        && let (Some(customer), Some(reused)) =
            (customer_language.as_deref(), case.language.as_deref())
        && customer != reused
    {
        // A reply in the wrong language needs rewriting: less useful, so less confident.
        confidence *= 0.7;
        flags.push(format!(
                    "the reused answer is in '{reused}' but the customer wrote in '{customer}': translate before sending"
                ));
    }
    // Cited knowledge in the fused ranking's order: it weighs every similar case, the articles'
    // own hits and their track record, which beats trusting the single reused answer.
    let cited_article_ids = article_ids(&retrieval.articles);
    let ordered_articles: Vec<&RetrievedSource> = retrieval.articles.iter().collect();

    let Some(case) = chosen.filter(|_| confidence >= config.confidence_threshold) else {
        let reason = if retrieval.cases.is_empty() {
            "no similar past case was found".to_string()
        } else {
            "the closest past cases are not similar enough to reuse an answer".to_string()
        };
        return compose_abstained(
            request,
            retrieval,
            customer_language,
            templates,
            confidence,
            &reason,
            flags,
            now,
        );
    };

    let resolution = case.resolution.clone().unwrap_or_default();
    let (core, _greeting, _signoff) = strip_greeting_and_signoff(&resolution);
    // Another customer's details become placeholders unless the new ticket has them itself.
    let scrubbed = scrub_specifics(
        &anonymize_handles(&core),
        &addressed_names(&resolution),
        &super::ticket_context(request, &retrieval),
    );
    let answer = scrubbed.text.clone();
    let urls_in_answer = extract_urls(&answer);
    let listed: Vec<minijinja::Value> = ordered_articles
        .iter()
        .filter(|a| is_linkable(a))
        .filter(|a| {
            a.url
                .as_ref()
                .is_some_and(|url| !urls_in_answer.contains(url))
        })
        .take(ARTICLES_IN_REPLY)
        .map(|a| context! { title => &a.title, url => &a.url })
        .collect();
    let language = customer_language.clone().or_else(|| case.language.clone());
    let mut text = templates.render(
        "retrieval_only.j2",
        context! {
            language => language.as_deref().unwrap_or("en"),
            customer_name => request.customer_first_name.as_deref().unwrap_or(""),
            answer => answer,
            articles => listed,
            signoff => &templates.tone.signoff,
        },
    )?;
    if text.chars().count() > config.max_draft_chars {
        text = text
            .chars()
            .take(config.max_draft_chars)
            .collect::<String>()
            + "…";
        flags.push("draft was cut to the configured maximum length".to_string());
    }
    flags.extend(scrubbed.flag());
    flags.extend(sensitive_flags(&answer));
    flags.push(format!(
        "adapted from past case {} ({} days old): check details still apply",
        case.id,
        case.age_days(now)
    ));

    let mut sources = vec![cite(&case, now)];
    sources.extend(ordered_articles.iter().map(|a| cite(a, now)));
    Ok(Draft {
        ticket_id: request.ticket_id,
        kind: DraftKind::RetrievalOnly,
        text,
        confidence,
        abstain_reason: None,
        flags,
        draft_language: case.language.clone(),
        customer_language,
        sources,
        cited_article_ids,
        retrieval,
        retrieval_millis: 0.0,
        generation_millis: 0.0,
        llm: None,
        llm_fallback: None,
        scrubbed_specifics: scrubbed.replaced,
        grounding: super::GroundingChecks::default(),
    })
}
