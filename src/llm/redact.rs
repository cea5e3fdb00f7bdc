//! Replaces personal identifiers (emails, IBANs, card numbers, phone numbers) by typed
//! placeholders such as `[EMAIL_1]` before text leaves the machine, and puts them back into the
//! model's answer. The same value always gets the same placeholder within one draft, so the model
//! can still refer to "the address you wrote to".

use once_cell::sync::Lazy;
use regex::Regex;

static EMAIL: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}\b")
        .expect("email pattern")
});
static IBAN: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b").expect("iban")
});
/// 13 to 19 digits, optionally grouped by spaces or dashes; kept only when the Luhn check passes.
static CARD: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"\b[0-9](?:[ \-]?[0-9]){12,18}\b").expect("card pattern"));
/// International or national numbers of 8 to 15 digits with the usual separators.
static PHONE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?:\+|\b)[0-9](?:[ \-./()]{0,2}[0-9]){7,14}\b").expect("phone pattern")
});

/// A placeholder as the model may write it back.
static PLACEHOLDER: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"\[(?:EMAIL|IBAN|CARD|PHONE)_[0-9]+\]").expect("placeholder pattern"));

/// One draft's placeholders. Lookups both ways are hash maps, so a ticket full of identifiers
/// costs linear time, not quadratic.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// (kind, original) -> placeholder.
    by_original: std::collections::HashMap<(&'static str, String), String>,
    /// placeholder -> original.
    by_placeholder: std::collections::HashMap<String, String>,
    /// Placeholders assigned per kind.
    counts: std::collections::HashMap<&'static str, usize>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// The text with every identifier replaced.
    pub fn redact(&mut self, text: &str) -> String {
        let text = self.replace_all(&EMAIL, "EMAIL", text, |_| true);
        let text = self.replace_all(&IBAN, "IBAN", &text, |_| true);
        let text = self.replace_all(&CARD, "CARD", &text, passes_luhn);
        self.replace_all(&PHONE, "PHONE", &text, |m| {
            // Dates and times are not phone numbers.
            !looks_like_date(m)
        })
    }

    /// The model's text with placeholders turned back into the originals (one pass; a
    /// placeholder we never assigned is left as written).
    pub fn restore(&self, text: &str) -> String {
        PLACEHOLDER
            .replace_all(text, |found: &regex::Captures<'_>| {
                self.by_placeholder
                    .get(&found[0])
                    .cloned()
                    .unwrap_or_else(|| found[0].to_string())
            })
            .into_owned()
    }

    /// How many distinct identifiers were replaced.
    pub fn count(&self) -> usize {
        self.by_placeholder.len()
    }

    fn replace_all(
        &mut self,
        pattern: &Regex,
        kind: &'static str,
        text: &str,
        keep: impl Fn(&str) -> bool,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for found in pattern.find_iter(text) {
            if !keep(found.as_str()) {
                continue;
            }
            out.push_str(&text[last..found.start()]);
            out.push_str(&self.placeholder_for(kind, found.as_str()));
            last = found.end();
        }
        out.push_str(&text[last..]);
        out
    }

    fn placeholder_for(&mut self, kind: &'static str, original: &str) -> String {
        let key = (kind, original.to_string());
        if let Some(placeholder) = self.by_original.get(&key) {
            return placeholder.clone();
        }
        let number = self.counts.entry(kind).or_insert(0);
        *number += 1;
        let placeholder = format!("[{kind}_{number}]");
        self.by_placeholder
            .insert(placeholder.clone(), original.to_string());
        self.by_original.insert(key, placeholder.clone());
        placeholder
    }
}

fn passes_luhn(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn looks_like_date(candidate: &str) -> bool {
    static DATE: Lazy<Regex> =
        Lazy::new(|| Regex::new(r"^\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}$").expect("date pattern"));
    DATE.is_match(candidate.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_become_typed_placeholders_and_come_back() {
        let mut redactor = Redactor::new();
        let text = "Mail jane.doe@example.com or call +44 20 7946 0958. Card 4111 1111 1111 1111, \
                    IBAN DE89 3704 0044 0532 0130 00. Again: jane.doe@example.com. Order 12345.";
        let redacted = redactor.redact(text);
        for secret in [
            "jane.doe@example.com",
            "4111 1111 1111 1111",
            "7946 0958",
            "DE89 3704",
        ] {
            assert!(!redacted.contains(secret), "{secret} leaked: {redacted}");
        }
        assert!(redacted.contains("[EMAIL_1]") && redacted.contains("[CARD_1]"));
        assert!(redacted.contains("[PHONE_1]") && redacted.contains("[IBAN_1]"));
        assert_eq!(
            redacted.matches("[EMAIL_1]").count(),
            2,
            "same value, same placeholder"
        );
        assert!(
            redacted.contains("Order 12345"),
            "short numbers stay: {redacted}"
        );
        assert_eq!(redactor.restore(&redacted), text);
    }

    #[test]
    fn many_identifiers_get_distinct_placeholders_that_restore_exactly() {
        let mut redactor = Redactor::new();
        let emails: Vec<String> = (0..12).map(|i| format!("user{i}@example.com")).collect();
        let text = emails.join(" and ");
        let redacted = redactor.redact(&text);
        assert_eq!(redactor.count(), 12);
        assert!(redacted.contains("[EMAIL_1]") && redacted.contains("[EMAIL_12]"));
        // The same value again keeps its placeholder.
        assert_eq!(redactor.redact("user10@example.com"), "[EMAIL_11]");
        // `[EMAIL_1]` is not a prefix match of `[EMAIL_10]`; an unknown placeholder stays.
        assert_eq!(
            redactor.restore("[EMAIL_10], [EMAIL_1] and [EMAIL_99]"),
            "user9@example.com, user0@example.com and [EMAIL_99]"
        );
    }

    #[test]
    fn numbers_failing_luhn_and_dates_are_not_redacted_as_cards() {
        let mut redactor = Redactor::new();
        let redacted = redactor.redact("Tracking 1234 5678 9012 3456 shipped 2024-03-01.");
        assert!(!redacted.contains("[CARD_"), "{redacted}");
        assert!(redacted.contains("2024-03-01"), "{redacted}");
    }
}
