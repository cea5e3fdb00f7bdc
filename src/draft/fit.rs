//! Owns fitting the prompt to the model's context window: the sources shown to the model are
//! taken in priority order (the order [`super::generate::prompt_sources`] ranks them) while they
//! fit beside the instructions, the customer's message and the answer's token budget; a source
//! that does not fit whole is shortened at a sentence end, never mid-sentence, and the ones that
//! still do not fit are left out. What was done is recorded ([`PromptFit`]) and flagged.
//!
//! Token counts are estimated without the model's tokenizer: one token per three bytes of UTF-8,
//! which over-counts English (about four characters a token) and roughly matches accented and
//! CJK text, so the estimate errs towards a prompt that fits. A server that still finds the prompt
//! too long answers "context length exceeded" and the drafter retries with fewer sources.

use serde::{Deserialize, Serialize};

use crate::retrieve::RetrievedSource;

/// Tokens a chat template adds around each message (role markers, separators), estimated.
pub const TEMPLATE_TOKENS_PER_MESSAGE: u32 = 16;

/// A source as it will be shown: its text whole or shortened at a sentence end.
#[derive(Debug, Clone)]
pub struct ShownSource<'a> {
    pub source: &'a RetrievedSource,
    pub text: String,
    pub shortened: bool,
}

impl<'a> ShownSource<'a> {
    pub fn whole(source: &'a RetrievedSource, text: String) -> Self {
        Self {
            source,
            text,
            shortened: false,
        }
    }
}

/// What fitting the prompt did, for the draft's flags and the simulation's per-ticket output.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PromptFit {
    /// The model's context window the prompt was fitted to.
    pub context_tokens: u32,
    /// Estimated tokens of the prompt as sent (the server's count is in the usage).
    pub estimated_prompt_tokens: u32,
    /// Sources that were candidates (after `max_sources`).
    pub sources_available: usize,
    pub sources_shown: usize,
    /// Shown sources whose text was shortened at a sentence end.
    pub sources_shortened: usize,
}

impl PromptFit {
    pub fn sources_left_out(&self) -> usize {
        self.sources_available.saturating_sub(self.sources_shown)
    }

    /// The flag for the agent, when fitting changed what the model saw.
    pub fn flag(&self) -> Option<String> {
        let left_out = self.sources_left_out();
        if left_out == 0 && self.sources_shortened == 0 {
            return None;
        }
        Some(format!(
            "the prompt was fitted to the model's {}-token context: {} of {} sources shown, {} left out, {} shortened at a sentence end",
            self.context_tokens,
            self.sources_shown,
            self.sources_available,
            left_out,
            self.sources_shortened
        ))
    }
}

/// Estimated tokens of `text` (see the module header).
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(3)).unwrap_or(u32::MAX)
}

/// The longest prefix of `text` that ends a sentence (`.`, `!`, `?`, `。`, `！`, `？` followed by
/// whitespace or the end, or a line break) within `max_bytes`; `None` when not even the first
/// sentence fits.
pub fn cut_at_sentence_end(text: &str, max_bytes: usize) -> Option<&str> {
    let text = text.trim_end();
    if text.len() <= max_bytes {
        return Some(text);
    }
    let mut best = None;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let end = index + c.len_utf8();
        if end > max_bytes {
            break;
        }
        let next_is_space = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
        let ends_sentence = match c {
            '.' | '!' | '?' => next_is_space,
            '。' | '！' | '？' | '\n' => true,
            _ => false,
        };
        if ends_sentence {
            let candidate = text[..end].trim_end();
            if !candidate.is_empty() {
                best = Some(candidate);
            }
        }
    }
    best
}

/// Chooses what of `candidates` (best first; `texts[i]` is the text of `candidates[i]`, and
/// `entry_overhead(i)` the bytes of its heading line) fits in `budget_tokens`.
pub fn fit_sources<'a>(
    candidates: &[&'a RetrievedSource],
    texts: Vec<String>,
    entry_overhead: impl Fn(usize) -> usize,
    budget_tokens: u32,
) -> Vec<ShownSource<'a>> {
    let mut remaining = budget_tokens;
    let mut shown = Vec::new();
    for (index, (source, text)) in candidates.iter().zip(texts).enumerate() {
        let overhead = entry_overhead(index);
        let whole = estimate_tokens(&text) + u32::try_from(overhead.div_ceil(3)).unwrap_or(0);
        if whole <= remaining {
            remaining -= whole;
            shown.push(ShownSource::whole(source, text));
            continue;
        }
        // Room for the heading and at least part of the text: shorten at a sentence end.
        let room_bytes = (remaining as usize * 3).saturating_sub(overhead + " (shortened)".len());
        if let Some(cut) = cut_at_sentence_end(&text, room_bytes) {
            let cost = estimate_tokens(cut) + u32::try_from(overhead.div_ceil(3)).unwrap_or(0);
            if cost <= remaining && !cut.is_empty() {
                remaining -= cost;
                shown.push(ShownSource {
                    source,
                    text: cut.to_string(),
                    shortened: true,
                });
            }
        }
        // Lower-ranked sources may still fit whole or shortened: keep going.
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_happen_only_at_sentence_ends() {
        let text = "Reset the module. Then pair it again! Version 2.1 needs the app? Yes.";
        assert_eq!(cut_at_sentence_end(text, 1000), Some(text));
        assert_eq!(cut_at_sentence_end(text, 20), Some("Reset the module."));
        // "2.1" is not a sentence end: the cut falls back to the previous one.
        assert_eq!(
            cut_at_sentence_end(text, 45),
            Some("Reset the module. Then pair it again!")
        );
        assert_eq!(cut_at_sentence_end(text, 10), None);
        assert_eq!(
            cut_at_sentence_end("電源を切ってください。再起動します。", 33),
            Some("電源を切ってください。")
        );
    }

    #[test]
    fn sources_are_kept_in_priority_order_then_shortened_then_left_out() {
        use crate::domain::SourceType;
        let make = |id| RetrievedSource {
            source_type: SourceType::Article,
            id,
            title: String::new(),
            url: None,
            snippet: String::new(),
            score: 0.0,
            similarity: 0.0,
            created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            product: None,
            language: None,
            first_reply: None,
            resolution: None,
            linked_article_ids: Vec::new(),
            supporting_cases: 0,
            agent_only: false,
            updated_at: None,
        };
        let (a, b, c) = (make(1), make(2), make(3));
        let sentence = "This sentence is exactly forty bytes ok. ";
        let texts = vec![sentence.repeat(3), sentence.repeat(3), sentence.repeat(30)];
        // 3 x 40 bytes = 40 tokens each; budget 100: first whole, second whole, third shortened.
        let shown = fit_sources(&[&a, &b, &c], texts, |_| 0, 100);
        assert_eq!(shown.len(), 3);
        assert!(!shown[0].shortened && !shown[1].shortened && shown[2].shortened);
        assert!(shown[2].text.ends_with("ok."));
        assert!(estimate_tokens(&shown[2].text) <= 20);
        // Nothing fits: nothing is shown, rather than half a sentence.
        let texts = vec![sentence.repeat(3)];
        assert!(fit_sources(&[&a], texts, |_| 0, 5).is_empty());
    }
}
