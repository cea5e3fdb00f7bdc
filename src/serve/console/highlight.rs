//! Flags highlighted where they occur in the draft: each flag's words (the sensitive topics of
//! the retrieval-only drafter, the claims of the model's checks, the marker of a removed link)
//! are marked in the text, and the flag links to its first mark. Flags about the draft as a
//! whole (an adapted case, a language mismatch) have no place in the text and say so.

use super::layout::escape;
use crate::draft::compose::flag_terms;
use crate::draft::grounding::claim_terms;

/// A flag as shown: its text and, when it occurs in the draft, the id of its first mark.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownFlag {
    pub text: String,
    pub first_mark: Option<String>,
    pub occurrences: usize,
}

pub struct Highlighted {
    /// The draft as escaped HTML with `<mark>`s.
    pub html: String,
    pub flags: Vec<ShownFlag>,
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// Byte ranges of `needle` in `text` (ASCII case-insensitive), widened to whole words.
fn occurrences(text: &str, needle: &str) -> Vec<(usize, usize)> {
    let haystack = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let bytes = haystack.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = haystack[from..].find(&needle) {
        let (mut start, mut end) = (from + offset, from + offset + needle.len());
        let trimmed_end = end - (needle.len() - needle.trim_end().len());
        while start > 0 && is_word(bytes[start - 1]) && is_word(bytes[start]) {
            start -= 1;
        }
        if trimmed_end == end {
            while end < bytes.len() && is_word(bytes[end]) && end > 0 && is_word(bytes[end - 1]) {
                end += 1;
            }
        } else {
            end = trimmed_end;
        }
        found.push((start, end));
        from = from + offset + needle.len().max(1);
    }
    found
}

pub fn highlight(text: &str, flags: &[String]) -> Highlighted {
    // (start, end, flag index)
    let mut ranges: Vec<(usize, usize, usize)> = Vec::new();
    for (index, flag) in flags.iter().enumerate() {
        let mut terms: Vec<&str> = flag_terms(flag);
        terms.extend(claim_terms(flag));
        terms.dedup();
        for term in terms {
            ranges.extend(
                occurrences(text, term)
                    .into_iter()
                    .map(|(s, e)| (s, e, index)),
            );
        }
    }
    ranges.sort();
    let mut kept: Vec<(usize, usize, usize)> = Vec::new();
    for range in ranges {
        if kept.last().is_none_or(|last| range.0 >= last.1)
            && text.is_char_boundary(range.0)
            && text.is_char_boundary(range.1)
        {
            kept.push(range);
        }
    }
    let mut html = String::with_capacity(text.len() + kept.len() * 40);
    let mut counts = vec![0usize; flags.len()];
    let mut at = 0;
    for (start, end, index) in &kept {
        html.push_str(&escape(&text[at..*start]));
        html.push_str(&format!(
            "<mark id=\"flag-{index}-{}\" data-flag=\"{index}\">{}</mark>",
            counts[*index],
            escape(&text[*start..*end])
        ));
        counts[*index] += 1;
        at = *end;
    }
    html.push_str(&escape(&text[at..]));
    let flags = flags
        .iter()
        .enumerate()
        .map(|(index, flag)| ShownFlag {
            text: flag.clone(),
            first_mark: (counts[index] > 0).then(|| format!("flag-{index}-0")),
            occurrences: counts[index],
        })
        .collect();
    Highlighted { html, flags }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_marked_where_their_words_occur() {
        let text = "We issued a Refund <today>. Refunds arrive within 5 business days.";
        let flags = vec![
            "mentions a refund: confirm it applies to this customer before sending".to_string(),
            "mentions a time frame: confirm it applies to this customer before sending".to_string(),
            "adapted from past case 12 (3 days old): check details still apply".to_string(),
        ];
        let shown = highlight(text, &flags);
        assert!(
            shown
                .html
                .contains("<mark id=\"flag-0-0\" data-flag=\"0\">Refund</mark>"),
            "{}",
            shown.html
        );
        assert!(
            shown
                .html
                .contains("<mark id=\"flag-0-1\" data-flag=\"0\">Refunds</mark>"),
            "{}",
            shown.html
        );
        assert!(
            shown
                .html
                .contains("<mark id=\"flag-1-0\" data-flag=\"1\">within</mark>"),
            "{}",
            shown.html
        );
        assert!(
            shown
                .html
                .contains("<mark id=\"flag-1-1\" data-flag=\"1\">business days</mark>"),
            "{}",
            shown.html
        );
        assert!(
            shown.html.contains("&lt;today&gt;"),
            "escaped: {}",
            shown.html
        );
        assert_eq!(shown.flags[0].occurrences, 2);
        assert_eq!(shown.flags[2].first_mark, None);
        let model = highlight(
            "See [link removed] for a 10% discount.",
            &[
                "removed an address no cited source contains: x.example".to_string(),
                "mentions a discount that no cited source supports: confirm before sending"
                    .to_string(),
            ],
        );
        assert!(
            model.html.contains(">[link removed]</mark>"),
            "{}",
            model.html
        );
        assert!(model.html.contains(">discount</mark>"), "{}", model.html);
    }
}
