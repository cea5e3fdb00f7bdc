//! Owns the scrubbing of another customer's specifics from a draft: order and tracking numbers,
//! amounts, dates, names, emails, phone numbers, account ids and addresses that a reused past
//! answer (or a model copying one) carries but the new ticket does not. Each becomes a visible
//! placeholder the agent fills (`[order number]`), so the draft keeps its substance and never
//! tells one customer about another's order.
//!
//! A detail is kept when the new ticket's own text contains it (the customer's own order number
//! stays), or when it is documented knowledge (a price written in a retrieved article). A sentence
//! that names another customer's identifier describes that customer's account, so its amounts and
//! dates become placeholders even when they happen to equal the new ticket's ("we have only taken
//! one payment of €19.00 for order KTC-10482": the €19.00 was the other customer's payment).

use once_cell::sync::Lazy;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::ingest::clean::{extract_urls, strip_greeting_and_signoff};

/// The kind of a customer-specific detail, and the placeholder that replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecificKind {
    OrderNumber,
    TrackingNumber,
    AccountId,
    Reference,
    Amount,
    Date,
    Name,
    Email,
    Phone,
    CardDigits,
    Address,
}

impl SpecificKind {
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::OrderNumber => "[order number]",
            Self::TrackingNumber => "[tracking number]",
            Self::AccountId => "[account id]",
            Self::Reference => "[reference number]",
            Self::Amount => "[amount]",
            Self::Date => "[date]",
            Self::Name => "[name]",
            Self::Email => "[email]",
            Self::Phone => "[phone]",
            Self::CardDigits => "[card digits]",
            Self::Address => "[address]",
        }
    }

    /// Identifies a person or their account: a sentence naming one is about that account.
    fn anchors_sentence(self) -> bool {
        !matches!(self, Self::Amount | Self::Date)
    }
}

/// One detail found in a text (byte span into it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specific {
    pub kind: SpecificKind,
    pub start: usize,
    pub end: usize,
    pub value: String,
}

/// What the new ticket says (and what may be said to it without a placeholder).
#[derive(Debug, Clone, Default)]
pub struct TicketContext {
    /// The customer's messages (and, for a follow-up, the thread): their own details are kept.
    pub ticket_text: String,
    /// Documented knowledge (retrieved article texts): a price or date written there is policy.
    pub knowledge_text: String,
}

/// The result of scrubbing one text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrubOutcome {
    pub text: String,
    /// Kinds replaced, one entry per replaced detail (originals are not kept: they belong to
    /// another customer).
    pub replaced: Vec<SpecificKind>,
}

impl ScrubOutcome {
    /// The flag shown to the agent, when anything was replaced.
    pub fn flag(&self) -> Option<String> {
        if self.replaced.is_empty() {
            return None;
        }
        let mut placeholders: Vec<&str> = self.replaced.iter().map(|k| k.placeholder()).collect();
        placeholders.sort_unstable();
        placeholders.dedup();
        Some(format!(
            "{} detail(s) from another customer's case replaced by placeholders to fill before sending: {}",
            self.replaced.len(),
            placeholders.join(", ")
        ))
    }
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

const MONTH: &str = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";

static EMAIL_RE: Lazy<Regex> = Lazy::new(|| re(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+"));
static AMOUNT_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?i)(?:[€$£¥₹]\s?\d[\d,.]*\d|[€$£¥₹]\s?\d|\b(?:EUR|USD|GBP|CAD|AUD|INR|CHF)\s?\d[\d,.]*)|\b\d[\d,.]*\s?(?:€|\b(?:EUR|USD|GBP|CAD|AUD|INR|CHF|euros?|dollars?|pounds?|bucks)\b)",
    )
});
static DATE_RE: Lazy<Regex> = Lazy::new(|| {
    re(&format!(
        r"\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b|\b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}\b(?:,?\s+\d{{4}})?|\b{MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
    ))
});
static CARD_DIGITS_RE: Lazy<Regex> = Lazy::new(|| {
    re(r"(?i)\b(?:ending\s+(?:in|with)|last\s+(?:4|four)\s+digits\s+(?:are\s+|of\s+)?)\s*(\d{4})\b")
});
/// Codes like KTC-10482 or AB12345678, and long mixed tracking numbers like 1Z999AA10123456784.
static CODE_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\b[A-Z]{1,5}-?\d{4,}[A-Z0-9-]*\b|\b(?:[A-Z0-9]*\d[A-Z0-9]*[A-Z][A-Z0-9]*|[A-Z0-9]*[A-Z][A-Z0-9]*\d[A-Z0-9]*){1}\b",
    )
});
static HASH_NUMBER_RE: Lazy<Regex> = Lazy::new(|| re(r"#\d{3,}\b"));
static NUMBERISH_RE: Lazy<Regex> = Lazy::new(|| re(r"\+?\(?\d[\d \t().-]{5,24}\d\)?"));
static STREET_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\b\d{1,5}[a-z]?\s+(?:[A-Z][a-z]+\s){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Square|Sq)\b\.?|\b[A-Z][a-z]+(?:straat|weg|laan|gracht|plein|kade|strasse|straße|gasse)\s+\d{1,5}[a-z]?\b",
    )
});
static UK_POSTCODE_RE: Lazy<Regex> = Lazy::new(|| re(r"\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b"));
/// "Thanks Daniel," / "sorry, Maria!": a name addressed in passing.
static ADDRESSED_NAME_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\b(?:[Tt]hanks|[Tt]hank you|[Ss]orry|[Hh]i|[Hh]ello|[Hh]ey|[Dd]ear|[Ww]elcome|[Gg]reat news|[Hh]appy to help)\s*,?\s+([A-Z][a-z]{1,20})\s*[,.!?]",
    )
});
static LEADING_HANDLES_RE: Lazy<Regex> = Lazy::new(|| re(r"^\s*(?:@(\w{1,30})[\s,:]*)+"));
static HANDLE_RE: Lazy<Regex> = Lazy::new(|| re(r"@(\w{3,30})"));
static CAPITALISED_WORD_RE: Lazy<Regex> = Lazy::new(|| re(r"\b[A-Z][a-z]{2,20}\b"));
static SENTENCE_END_RE: Lazy<Regex> = Lazy::new(|| re(r"[.!?]+(?:\s+|$)|\n+"));

/// Capitalised words after a salutation that are not names.
const NOT_NAMES: [&str; 16] = [
    "There", "Team", "All", "Everyone", "Again", "So", "For", "Both", "Folks", "Friend", "Guys",
    "Again", "You", "Sir", "Madam", "Customer",
];

/// Words of a greeting that are not the name in it.
const SALUTATIONS: [&str; 37] = [
    "hi",
    "hello",
    "hey",
    "hiya",
    "dear",
    "good",
    "morning",
    "afternoon",
    "evening",
    "day",
    "greetings",
    "bonjour",
    "bonsoir",
    "salut",
    "cher",
    "chère",
    "hola",
    "buenos",
    "buenas",
    "días",
    "dias",
    "tardes",
    "noches",
    "estimado",
    "estimada",
    "querido",
    "querida",
    "hallo",
    "guten",
    "tag",
    "liebe",
    "lieber",
    "sehr",
    "geehrte",
    "ciao",
    "buongiorno",
    "hej",
];

/// Context words before an identifier that say what it is.
fn identifier_kind(before: &str) -> SpecificKind {
    let before = before.to_lowercase();
    let window: String = before
        .chars()
        .rev()
        .take(32)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let has = |words: &[&str]| words.iter().any(|w| window.contains(w));
    if has(&["tracking", "parcel", "shipment", "consignment", "waybill"]) {
        SpecificKind::TrackingNumber
    } else if has(&["order", "purchase", "invoice", "booking"]) {
        SpecificKind::OrderNumber
    } else if has(&[
        "account",
        "customer id",
        "member",
        "user id",
        "subscription",
        "iban",
    ]) {
        SpecificKind::AccountId
    } else {
        SpecificKind::Reference
    }
}

/// Whether a code-like token is an identifier rather than a product or error name: long bare
/// digit runs, or letters with at least four digits, or long mixed tokens.
fn is_identifier_code(token: &str) -> bool {
    let digits = token.chars().filter(char::is_ascii_digit).count();
    let letters = token.chars().filter(char::is_ascii_alphabetic).count();
    if letters == 0 {
        return digits >= 6;
    }
    digits >= 4 && token.len() >= 6
}

/// Names a past reply addressed: the greeting's name ("Hi Daniel,") and names thanked in passing.
pub fn addressed_names(reply: &str) -> Vec<String> {
    let mut names = Vec::new();
    let (_, greeting, _) = strip_greeting_and_signoff(reply);
    if let Some(greeting) = greeting {
        for word in greeting
            .split(|c: char| !c.is_alphabetic() && c != '-' && c != '\'')
            .skip(1)
        {
            let salutation = SALUTATIONS.contains(&word.to_lowercase().as_str());
            if word.chars().next().is_some_and(char::is_uppercase)
                && !salutation
                && !NOT_NAMES.contains(&word)
            {
                names.push(word.to_string());
            }
        }
    }
    // Replies on social media open with the customer's handle and often use the name in it:
    // "@vickymiller007 We're sorry, Vicki!".
    if let Some(leading) = LEADING_HANDLES_RE.find(reply) {
        let handles: Vec<String> = HANDLE_RE
            .captures_iter(leading.as_str())
            .map(|c| c[1].to_lowercase())
            .collect();
        for word in CAPITALISED_WORD_RE.find_iter(&reply[leading.end()..]) {
            // Handles spell names loosely ("vickymiller007" for Vicki): the first four letters.
            let prefix: String = word.as_str().to_lowercase().chars().take(4).collect();
            if handles.iter().any(|h| h.starts_with(&prefix)) && !NOT_NAMES.contains(&word.as_str())
            {
                names.push(word.as_str().to_string());
            }
        }
    }
    for captures in ADDRESSED_NAME_RE.captures_iter(reply) {
        let name = captures[1].to_string();
        if !NOT_NAMES.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Every customer-specific detail in `text`, outside URLs, without overlaps, in text order.
/// `names` are the names known to belong to the source case's customer.
pub fn find_specifics(text: &str, names: &[String]) -> Vec<Specific> {
    let url_spans: Vec<(usize, usize)> = extract_urls(text)
        .iter()
        .flat_map(|url| {
            text.match_indices(url.as_str())
                .map(|(s, u)| (s, s + u.len()))
        })
        .collect();
    let mut found: Vec<Specific> = Vec::new();
    let mut push = |kind: SpecificKind, start: usize, end: usize| {
        found.push(Specific {
            kind,
            start,
            end,
            value: text[start..end].to_string(),
        });
    };
    for m in EMAIL_RE.find_iter(text) {
        push(SpecificKind::Email, m.start(), m.end());
    }
    for m in AMOUNT_RE.find_iter(text) {
        let value = m.as_str().trim_end_matches(['.', ',']);
        push(SpecificKind::Amount, m.start(), m.start() + value.len());
    }
    for m in DATE_RE.find_iter(text) {
        push(SpecificKind::Date, m.start(), m.end());
    }
    for c in CARD_DIGITS_RE.captures_iter(text) {
        let m = c.get(1).expect("group");
        push(SpecificKind::CardDigits, m.start(), m.end());
    }
    for m in STREET_RE
        .find_iter(text)
        .chain(UK_POSTCODE_RE.find_iter(text))
    {
        push(SpecificKind::Address, m.start(), m.end());
    }
    for m in HASH_NUMBER_RE.find_iter(text) {
        push(identifier_kind(&text[..m.start()]), m.start(), m.end());
    }
    for m in CODE_RE.find_iter(text) {
        if is_identifier_code(m.as_str()) {
            push(identifier_kind(&text[..m.start()]), m.start(), m.end());
        }
    }
    for m in NUMBERISH_RE.find_iter(text) {
        let span = m.as_str().trim();
        let digits = span.chars().filter(char::is_ascii_digit).count();
        let separated = span.chars().any(|c| !c.is_ascii_digit());
        if separated && (7..=15).contains(&digits) {
            push(SpecificKind::Phone, m.start(), m.end());
        } else if !separated && digits >= 6 {
            push(identifier_kind(&text[..m.start()]), m.start(), m.end());
        }
    }
    for name in names {
        let pattern = format!(r"\b{}\b", regex::escape(name));
        for m in re(&pattern).find_iter(text) {
            push(SpecificKind::Name, m.start(), m.end());
        }
    }
    // Earliest first, then longest; drop anything overlapping a URL or an earlier detail.
    found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut kept: Vec<Specific> = Vec::new();
    for specific in found {
        let in_url = url_spans
            .iter()
            .any(|&(s, e)| specific.start < e && s < specific.end);
        let overlaps = kept.last().is_some_and(|last| specific.start < last.end);
        if !in_url && !overlaps {
            kept.push(specific);
        }
    }
    kept
}

/// Lower-cased with whitespace removed: details that differ only in case or spacing are the same.
fn normalise(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `value` is written in `haystack` (already normalised).
fn mentioned_in(value: &str, normalised_haystack: &str) -> bool {
    let value = normalise(value);
    !value.is_empty() && normalised_haystack.contains(&value)
}

/// Byte ranges of the sentences of `text`.
fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for m in SENTENCE_END_RE.find_iter(text) {
        spans.push((start, m.end()));
        start = m.end();
    }
    if start < text.len() {
        spans.push((start, text.len()));
    }
    spans
}

/// Which of `specifics` (found in `text`) the new ticket lacks: not in its text, and, for
/// amounts and dates, neither documented in knowledge nor in a sentence about another customer's
/// identifier.
pub fn foreign_specifics(
    text: &str,
    specifics: &[Specific],
    context: &TicketContext,
) -> Vec<Specific> {
    let ticket = normalise(&context.ticket_text);
    let knowledge = normalise(&context.knowledge_text);
    let foreign_identifier: Vec<bool> = specifics
        .iter()
        .map(|s| s.kind.anchors_sentence() && !mentioned_in(&s.value, &ticket))
        .collect();
    let sentences = sentence_spans(text);
    let sentence_of = |position: usize| {
        sentences
            .iter()
            .position(|&(s, e)| position >= s && position < e)
    };
    let anchored_sentences: Vec<usize> = specifics
        .iter()
        .zip(&foreign_identifier)
        .filter(|(_, foreign)| **foreign)
        .filter_map(|(s, _)| sentence_of(s.start))
        .collect();
    specifics
        .iter()
        .zip(&foreign_identifier)
        .filter(|(specific, foreign)| {
            if specific.kind.anchors_sentence() {
                return **foreign;
            }
            let about_another_account =
                sentence_of(specific.start).is_some_and(|i| anchored_sentences.contains(&i));
            about_another_account
                || !(mentioned_in(&specific.value, &ticket)
                    || mentioned_in(&specific.value, &knowledge))
        })
        .map(|(specific, _)| specific.clone())
        .collect()
}

/// Replace every detail of `text` the new ticket lacks by its placeholder. `names` are the names
/// of the source case's customer (see [`addressed_names`]).
pub fn scrub_specifics(text: &str, names: &[String], context: &TicketContext) -> ScrubOutcome {
    let specifics = find_specifics(text, names);
    let foreign = foreign_specifics(text, &specifics, context);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut replaced = Vec::new();
    for specific in &foreign {
        out.push_str(&text[last..specific.start]);
        out.push_str(specific.kind.placeholder());
        replaced.push(specific.kind);
        last = specific.end;
    }
    out.push_str(&text[last..]);
    ScrubOutcome {
        text: out,
        replaced,
    }
}

/// The measure behind the simulation's "specifics from another customer" share: the details of
/// `source_reply` (a past case's answer) that appear in `draft_text` although the new ticket lacks
/// them. Empty means the draft carries none.
pub fn leaked_specifics(
    draft_text: &str,
    source_reply: &str,
    context: &TicketContext,
) -> Vec<String> {
    let names = addressed_names(source_reply);
    let in_source = find_specifics(source_reply, &names);
    let foreign = foreign_specifics(source_reply, &in_source, context);
    let draft_specifics = find_specifics(draft_text, &names);
    let mut leaked: Vec<String> = foreign
        .into_iter()
        .map(|s| s.value)
        .filter(|value| {
            let wanted = normalise(value);
            draft_specifics
                .iter()
                .any(|d| normalise(&d.value) == wanted)
        })
        .collect();
    leaked.sort();
    leaked.dedup();
    leaked
}

#[cfg(test)]
#[path = "specifics_tests.rs"]
mod tests;
