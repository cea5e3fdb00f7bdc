//! Disagreements between the sources a draft cites (a time frame, a price or a policy that one
//! source states and another contradicts), and which of them is newer, so the agent checks
//! before sending and trusts an article edited after the case that contradicts it.
//!
//! Only what can be read reliably is compared: durations ("3-5 working days", "48 hours"),
//! prices, and whether something can be refunded, returned, cancelled, exchanged or transferred
//! ("non-refundable" against "can be refunded"), between a past case's answer and cited
//! knowledge (articles, canned responses), and only when both sentences are about the same
//! thing (shared content words): a past customer's order amount is no price policy, and "gift
//! cards are non-refundable" says nothing about subscriptions. Other policies in words are not
//! compared: telling them apart needs a model, and a wrong flag costs the agent's trust.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::domain::SourceType;
use crate::retrieve::RetrievedSource;

/// A duration or a price stated in a source, as a range in a common unit.
#[derive(Debug, Clone, PartialEq)]
struct Claim {
    kind: ClaimKind,
    /// Hours for durations; the amount for prices; 1 (allowed) or 0 (not) for policies.
    low: f64,
    high: f64,
    /// The currency of a price; what a policy allows ("refund", "return"); empty for durations.
    currency: String,
    /// The words as written, for the flag.
    text: String,
    /// Content words of the sentence it is in: two claims are about the same thing only when
    /// their sentences share one ("refund" in both), so "reset in 5 minutes" never contradicts
    /// "delivery in 14 days".
    topic: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaimKind {
    TimeFrame,
    Price,
    Policy,
}

impl ClaimKind {
    fn noun(self) -> &'static str {
        match self {
            Self::TimeFrame => "a time frame",
            Self::Price => "a price",
            Self::Policy => "a policy",
        }
    }

    /// Content words two claims' sentences must share to be about the same thing. A policy's
    /// own word ("refund") already matches, so one more (what is refunded) is enough.
    fn shared_topic_words(self) -> usize {
        match self {
            Self::Policy => 1,
            _ => SHARED_TOPIC_WORDS,
        }
    }
}

/// Whether something can be refunded, returned, cancelled, exchanged or transferred, as an
/// adjective ("non-refundable", "not refundable", "refundable") or a verb ("can be refunded",
/// "cannot be returned", "can't cancel"), or "no refunds".
static POLICY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:(non-?|not\s+|isn[’']t\s+|aren[’']t\s+)?(refund|return|cancel|exchange|transfer)(?:l|r)?able\b|(cannot|can[’']t|can\s+not|may\s+not|won[’']t|are\s+not\s+able\s+to|can|may)\s+(?:be\s+)?(refund|return|cancel|exchang|transferr?)(?:ed|led|e)?\b|(no)\s+(refund|return|cancellation|exchange)s\b)",

    )
    .expect("a valid policy pattern")
});

static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(\d{1,3})(?:\s*(?:-|–|to|or)\s*(\d{1,3}))?\s*(?:business\s+|working\s+|calendar\s+)?(minute|hour|day|week|month|year)s?\b(\s+ago)?",
    )
    .expect("a valid duration pattern")
});

static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)([€$£])\s?(\d{1,6}(?:[.,]\d{1,2})?)\b|\b(\d{1,6}(?:[.,]\d{1,2})?)\s?(€|eur\b|usd\b|gbp\b)",
    )
    .expect("a valid price pattern")
});

fn hours_per(unit: &str) -> f64 {
    match unit.to_ascii_lowercase().as_str() {
        "minute" => 1.0 / 60.0,
        "hour" => 1.0,
        "day" => 24.0,
        "week" => 168.0,
        "month" => 720.0,
        _ => 8760.0,
    }
}

/// Content words two claims' sentences must share to be about the same thing. One shared word
/// ("refund") paired a refund's bank time with a dispatch time on the demo data; two keep the
/// pairs that talk about the same step.
const SHARED_TOPIC_WORDS: usize = 2;

/// Words too common in claims to say what they are about.
const NOT_A_TOPIC: &[&str] = &[
    "about", "after", "allow", "also", "back", "before", "business", "calendar", "could", "days",
    "does", "each", "every", "from", "have", "hours", "into", "just", "minutes", "months", "more",
    "most", "much", "need", "only", "other", "over", "please", "should", "some", "still", "take",
    "takes", "than", "that", "their", "them", "then", "there", "they", "this", "time", "under",
    "usually", "very", "weeks", "what", "when", "will", "with", "within", "working", "would",
    "years", "your",
];

/// Content words (four letters or more, lowercased, cut to six letters so "refund" and
/// "refunds" meet) among the `TOPIC_WINDOW_WORDS` words on each side of `start..end` in `text`,
/// within its sentence: the words that say what the duration or price is about ("the link is
/// valid for 60 minutes"), not everything else the sentence mentions.
fn sentence_topic(text: &str, start: usize, end: usize) -> BTreeSet<String> {
    let is_stop = |c: char| matches!(c, '.' | '!' | '?' | '\n' | ';');
    let from = text[..start].rfind(is_stop).map_or(0, |i| i + 1);
    let to = text[end..].find(is_stop).map_or(text.len(), |i| end + i);
    let words = |part: &str| -> Vec<String> {
        part.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let before = words(&text[from..start]);
    let after = words(&text[end..to]);
    before
        .iter()
        .rev()
        .take(TOPIC_WINDOW_WORDS)
        .chain(after.iter().take(TOPIC_WINDOW_WORDS))
        .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
        .filter(|w| !NOT_A_TOPIC.contains(&w.as_str()))
        .map(|w| w.chars().take(6).collect())
        .collect()
}

/// Words on each side of a claim that can say what it is about.
const TOPIC_WINDOW_WORDS: usize = 6;

fn time_frames(text: &str) -> Vec<Claim> {
    DURATION
        .captures_iter(text)
        .filter(|c| c.get(4).is_none()) // "3 days ago" is an event, not a promise.
        .filter_map(|c| {
            let unit = hours_per(&c[3]);
            let low: f64 = c[1].parse().ok()?;
            let high: f64 = c
                .get(2)
                .and_then(|m| m.as_str().parse().ok())
                .unwrap_or(low);
            let whole = c.get(0)?;
            Some(Claim {
                kind: ClaimKind::TimeFrame,
                low: low.min(high) * unit,
                high: low.max(high) * unit,
                currency: String::new(),
                text: whole.as_str().trim().to_string(),
                topic: sentence_topic(text, whole.start(), whole.end()),
            })
        })
        .collect()
}

fn prices(text: &str) -> Vec<Claim> {
    PRICE
        .captures_iter(text)
        .filter_map(|c| {
            let (symbol, amount) = match (c.get(1), c.get(2), c.get(3), c.get(4)) {
                (Some(symbol), Some(amount), _, _) => (symbol.as_str(), amount.as_str()),
                (_, _, Some(amount), Some(symbol)) => (symbol.as_str(), amount.as_str()),
                _ => return None,
            };
            let currency = match symbol.to_ascii_lowercase().as_str() {
                "€" | "eur" => "EUR",
                "$" | "usd" => "USD",
                _ => "GBP",
            };
            let value: f64 = amount.replace(',', ".").parse().ok()?;
            let whole = c.get(0)?;
            Some(Claim {
                kind: ClaimKind::Price,
                low: value,
                high: value,
                currency: currency.to_string(),
                text: whole.as_str().trim().to_string(),
                topic: sentence_topic(text, whole.start(), whole.end()),
            })
        })
        .collect()
}

/// What a policy word is about: "cancellation" and "cancelled" are both "cancel".
fn policy_stem(word: &str) -> String {
    let word = word.to_ascii_lowercase();
    ["refund", "return", "cancel", "exchang", "transfer"]
        .into_iter()
        .find(|stem| word.starts_with(stem))
        .map_or(word.clone(), str::to_string)
}

fn policies(text: &str) -> Vec<Claim> {
    POLICY
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let (negated, stem) = if let Some(word) = c.get(2) {
                (c.get(1).is_some(), word.as_str())
            } else if let Some(word) = c.get(4) {
                let modal = c.get(3)?.as_str().to_ascii_lowercase();
                (modal != "can" && modal != "may", word.as_str())
            } else {
                (true, c.get(6)?.as_str())
            };
            let allowed = if negated { 0.0 } else { 1.0 };
            let stem = policy_stem(stem);
            let mut topic = sentence_topic(text, whole.start(), whole.end());
            // The policy's own word is what the claim is; the topic is what it applies to.
            topic.retain(|word| !word.starts_with(&stem[..stem.len().min(6)]));
            Some(Claim {
                kind: ClaimKind::Policy,
                low: allowed,
                high: allowed,
                currency: stem,
                text: whole.as_str().trim().to_string(),
                topic,
            })
        })
        .collect()
}

/// Every claim of a text.
fn claims_in(text: &str) -> Vec<Claim> {
    let mut claims = time_frames(text);
    claims.extend(prices(text));
    claims.extend(policies(text));
    claims
}

/// What a cited source states: a case by its agent's answer, knowledge by its text.
fn claims_of(source: &RetrievedSource) -> Vec<Claim> {
    match source.source_type {
        SourceType::Case => claims_in(
            source
                .resolution
                .as_deref()
                .or(source.first_reply.as_deref())
                .unwrap_or_default(),
        ),
        _ => claims_in(&source.snippet),
    }
}

fn overlaps(a: &Claim, b: &Claim) -> bool {
    a.currency == b.currency && a.low <= b.high + 1e-9 && b.low <= a.high + 1e-9
}

/// When the source's content last changed.
fn changed_at(source: &RetrievedSource) -> DateTime<Utc> {
    source
        .updated_at
        .unwrap_or(source.created_at)
        .max(source.created_at)
}

fn label(source: &RetrievedSource) -> String {
    match source.source_type {
        SourceType::Case => format!("past case {}", source.id),
        SourceType::Article => format!("article {}", source.id),
        _ => format!("canned response {}", source.id),
    }
}

/// One flag per pair of a cited past case and cited knowledge that state the same kind of claim
/// about the same thing (their sentences share content words) with no value in common: what each says, and which
/// to trust when a knowledge document changed after the case.
pub fn conflict_flags(cited: &[&RetrievedSource]) -> Vec<String> {
    let is_case = |s: &RetrievedSource| s.source_type == SourceType::Case;
    let mut claims: Vec<Vec<Claim>> = cited.iter().map(|s| claims_of(s)).collect();
    // A case's claim that some cited knowledge confirms is about that knowledge's subject ("the
    // reset link is valid for 60 minutes", confirmed by the password article): another article's
    // different link is no contradiction (measured: 4 of 7 demo flags were such pairs).
    let knowledge_claims: Vec<Claim> = cited
        .iter()
        .zip(&claims)
        .filter(|(s, _)| !is_case(s))
        .flat_map(|(_, c)| c.iter().cloned())
        .collect();
    for (source, source_claims) in cited.iter().zip(claims.iter_mut()) {
        if is_case(source) {
            source_claims.retain(|c| !agreed(c, &knowledge_claims));
        }
    }
    let mut flags = Vec::new();
    for (i, first) in cited.iter().enumerate() {
        for (j, second) in cited.iter().enumerate().skip(i + 1) {
            // A past answer against knowledge: the case that went stale, or the article. Two
            // articles each state their own topic's time frames; compared with each other they
            // "disagree" on nearly every demo ticket (124 of 150 flagged, measured), noise.
            if is_case(first) == is_case(second) {
                continue;
            }
            if let Some((a, b)) = contradiction(&claims[i], &claims[j]) {
                flags.push(conflict_flag(a.kind, first, a, second, b));
            }
        }
    }
    flags
}

fn same_thing(a: &Claim, b: &Claim) -> bool {
    a.kind == b.kind
        && (a.kind != ClaimKind::Policy || a.currency == b.currency)
        && a.topic.intersection(&b.topic).count() >= a.kind.shared_topic_words()
}

/// Whether one of `others` states a value within `claim`'s about the same thing.
fn agreed(claim: &Claim, others: &[Claim]) -> bool {
    others
        .iter()
        .any(|o| same_thing(claim, o) && overlaps(claim, o))
}

/// The first pair of claims about the same thing that share no value, unless either source
/// also states a value the other agrees with on that thing.
fn contradiction<'a>(first: &'a [Claim], second: &'a [Claim]) -> Option<(&'a Claim, &'a Claim)> {
    first.iter().find_map(|a| {
        second
            .iter()
            .find(|b| same_thing(a, b) && !overlaps(a, b))
            .filter(|b| !agreed(a, second) && !agreed(b, first))
            .map(|b| (a, b))
    })
}

fn conflict_flag(
    kind: ClaimKind,
    first: &RetrievedSource,
    first_claim: &Claim,
    second: &RetrievedSource,
    second_claim: &Claim,
) -> String {
    let mut flag = format!(
        "sources disagree on {}: {} says \"{}\", {} says \"{}\"",
        kind.noun(),
        label(first),
        first_claim.text,
        label(second),
        second_claim.text
    );
    let is_case = |s: &RetrievedSource| s.source_type == SourceType::Case;
    let (case, knowledge) = match (is_case(first), is_case(second)) {
        (true, false) => (Some(first), Some(second)),
        (false, true) => (Some(second), Some(first)),
        _ => (None, None),
    };
    match (case, knowledge) {
        (Some(case), Some(knowledge)) if changed_at(knowledge) > case.created_at => {
            flag.push_str(&format!(
                "; {} was updated on {}, after {} ({}): prefer the {}",
                label(knowledge),
                changed_at(knowledge).format("%Y-%m-%d"),
                label(case),
                case.created_at.format("%Y-%m-%d"),
                if knowledge.source_type == SourceType::Article {
                    "article"
                } else {
                    "canned response"
                },
            ));
        }
        (Some(case), Some(knowledge)) => {
            flag.push_str(&format!(
                "; {} ({}) is newer than {} (last updated {}): the {} may be out of date",
                label(case),
                case.created_at.format("%Y-%m-%d"),
                label(knowledge),
                changed_at(knowledge).format("%Y-%m-%d"),
                if knowledge.source_type == SourceType::Article {
                    "article"
                } else {
                    "canned response"
                },
            ));
        }
        _ => flag.push_str(": check which applies"),
    }
    flag
}

#[cfg(test)]
#[path = "conflicts_tests.rs"]
mod tests;
