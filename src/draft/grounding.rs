//! Owns the grounding contract a written draft must meet before an agent sees it: cited ids
//! among the sources shown (others dropped), links only from cited sources (others removed),
//! refunds, prices, time frames and eligibility backed by a cited source (or flagged), the
//! customer's language kept (or flagged), the model's own confidence within 0..1 (or clamped and
//! flagged). Each check lowers the confidence it gives the draft and is counted in
//! [`GroundingChecks`] so simulations can report rates.

use super::compose::{article_ids, compose_abstained, is_linkable, retrieval_confidence};
use super::generate::{GenerationInput, ModelAnswer, source_text};
use super::templates::TemplateError;
use super::{CitedSource, Draft, DraftKind, GroundingChecks, LlmUsage, cite};
use crate::domain::SourceType;
use crate::ingest::cases::normalize_url;
use crate::ingest::clean::{extract_bare_domains, extract_urls};
use crate::ingest::language::detect_language;
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

/// Applies the grounding contract and the confidence rule.
pub(crate) fn check_answer(
    input: GenerationInput<'_>,
    shown: &[&RetrievedSource],
    answer: ModelAnswer,
    mut reply: String,
    usage: LlmUsage,
) -> Draft {
    let mut flags = Vec::new();
    let mut checks = GroundingChecks::default();
    let mut penalty = 1.0f32;
    let mut cited: Vec<&RetrievedSource> = Vec::new();
    for id in &answer.source_ids {
        match shown.iter().find(|s| s.key().to_string() == id.trim()) {
            Some(source) if !cited.iter().any(|c| c.key() == source.key()) => cited.push(source),
            Some(_) => {}
            None => {
                checks.invented_ids_dropped += 1;
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
            checks.links_removed += 1;
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
            checks.links_removed += 1;
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
                checks.unsupported_claims += 1;
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
        checks.language_mismatch = true;
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
    flags.extend(usage.prompt_fit.as_ref().and_then(|fit| fit.flag()));
    if reply.chars().count() > input.config.max_draft_chars {
        reply = reply
            .chars()
            .take(input.config.max_draft_chars)
            .collect::<String>()
            + "…";
        flags.push("draft was cut to the configured maximum length".to_string());
    }
    let evidence = retrieval_confidence(&input.retrieval);
    let self_rated = match answer.confidence {
        Some(rated) if (0.0..=1.0).contains(&rated) => rated as f32,
        Some(rated) => {
            checks.confidence_clamped = true;
            flags.push(format!(
                "the model rated its confidence {rated}, outside 0..1 (clamped; its self-rating is not trustworthy)"
            ));
            if rated.is_nan() {
                0.0
            } else {
                rated.clamp(0.0, 1.0) as f32
            }
        }
        None => 0.5,
    };
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
        abstained.grounding = checks;
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
        scrubbed_specifics: Vec::new(),
        grounding: checks,
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
        scrubbed_specifics: Vec::new(),
        grounding: GroundingChecks::default(),
    }
}

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
