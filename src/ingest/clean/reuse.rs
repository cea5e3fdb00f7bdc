//! The parts of a past agent reply that make it reusable: the greeting and sign-off split off
//! (so a draft can greet the new customer), and identifiers (emails, handles, long numbers,
//! dates) replaced so one customer's details never reach another.

use once_cell::sync::Lazy;
use regex::Regex;

use super::{URL_RE, re, trim_url};

static GREETING_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?i)^((?:@\w+\s+)*(?:hi|hello|hey|hiya|dear|good\s+(?:morning|afternoon|evening|day)|greetings|bonjour|bonsoir|salut|cher|chère|hola|buen(?:os|as)\s+(?:d[ií]as|tardes|noches)|estimad[oa]s?|querid[oa]|hallo|guten\s+(?:tag|morgen|abend)|liebe[rs]?|sehr\s+geehrte[rs]?|ciao|buongiorno|salve|gentile|olá|oi|hej|hoi)\b([^,!:.\n]{0,40}?)(?:[,!:]|\.\s|\s*$))\s*",
    )
});
static SIGNOFF_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?i)^(?:best|best regards|best wishes|kind regards|warm regards|warmest regards|regards|many thanks|thanks|thanks again|thank you|cheers|sincerely|yours sincerely|yours truly|all the best|take care|cordialement|bien cordialement|bien à vous|merci|salutations|saludos|un saludo|saludos cordiales|atentamente|mit freundlichen grüßen|viele grüße|beste grüße|liebe grüße|grüße|mfg|cordiali saluti|distinti saluti|saluti|atenciosamente|abraços|met vriendelijke groet)(?:\s*[,!.]?\s*$|\s*,\s*(\S.{0,40})$)",
    )
});
/// Twitter-style agent initials at the very end: " ^RM", " *TMT", " -JD".
static INITIALS_RE: Lazy<Regex> =
    Lazy::new(|| re(r"(?:^|\s)((?:[\^*]\s?[A-Z][A-Za-z]{0,3}|[-–—~]\s?[A-Z]{2,4}))\s*$"));

/// Lines allowed after a sign-off phrase (name, role, company) before we stop
/// believing it is a sign-off block.
const MAX_SIGNOFF_TAIL: usize = 4;

/// Split an agent reply into (core, greeting, sign-off) so the core can be reused
/// for another customer. Conservative: "Thanks for waiting!" stays content.
pub fn strip_greeting_and_signoff(text: &str) -> (String, Option<String>, Option<String>) {
    let mut body = text.trim().to_string();
    let mut greeting = None;
    if let Some(c) = GREETING_RE.captures(&body) {
        let name_words = c
            .get(2)
            .map_or(0, |m| m.as_str().split_whitespace().count());
        if name_words <= 4 {
            greeting = Some(c[1].trim().to_string());
            let rest = body[c[0].len()..].to_string();
            // "Hi Maria, thanks for..." -> "Thanks for..."
            let mut chars = rest.chars();
            body = match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            };
        }
    }

    let mut signoff = None;
    if let Some(m) = INITIALS_RE.captures(&body).and_then(|c| c.get(1)) {
        signoff = Some(m.as_str().to_string());
        body = body[..m.start()].trim_end().to_string();
    }
    if signoff.is_none() {
        let lines: Vec<&str> = body.lines().collect();
        let nonempty: Vec<usize> = (0..lines.len())
            .filter(|&i| !lines[i].trim().is_empty())
            .collect();
        // Look for the phrase among the last few non-empty lines, earliest first so
        // that "Thanks,\nTom" is taken as a whole.
        let first_candidate = nonempty.len().saturating_sub(MAX_SIGNOFF_TAIL + 1);
        for &i in &nonempty[first_candidate..] {
            let tail = &lines[i + 1..];
            let tail_ok = tail.iter().all(|l| {
                let l = l.trim();
                l.chars().count() <= 60 && !l.to_ascii_lowercase().starts_with("p.s")
            });
            if tail_ok && SIGNOFF_RE.is_match(lines[i].trim()) {
                signoff = Some(lines[i..].join("\n").trim().to_string());
                body = lines[..i].join("\n").trim_end().to_string();
                break;
            }
        }
    }
    (body.trim().to_string(), greeting, signoff)
}

static EMAIL_RE: Lazy<Regex> = Lazy::new(|| re(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+"));
static LEADING_HANDLES_RE: Lazy<Regex> = Lazy::new(|| re(r"^\s*(?:@\w{1,30}[\s,:]*)+"));
static HANDLE_RE: Lazy<Regex> = Lazy::new(|| re(r"(^|[^\w@./])@\w{1,30}"));
static NUMBERISH_RE: Lazy<Regex> = Lazy::new(|| re(r"\+?\(?\d[\d \t().-]{5,24}\d\)?"));
static DATE_RE: Lazy<Regex> =
    Lazy::new(|| re(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$"));
static LONG_RUN_RE: Lazy<Regex> = Lazy::new(|| re(r"\b\d{6,}\b"));
static HASH_NUMBER_RE: Lazy<Regex> = Lazy::new(|| re(r"#\d{4,}\b"));

/// Classify a digit-ish span: phones have separators or a leading "+" and 7-15
/// digits; long bare runs and card-length numbers are identifiers; dates and short
/// spans are left alone.
fn replace_numberish(span: &str) -> Option<&'static str> {
    let digits = span.chars().filter(char::is_ascii_digit).count();
    if DATE_RE.is_match(span) {
        return None;
    }
    let has_separators = span.chars().any(|c| !c.is_ascii_digit());
    if digits >= 16 || (!has_separators && digits >= 6) {
        Some("[number]")
    } else if digits >= 7 {
        Some("[phone]")
    } else {
        None
    }
}

fn anonymize_segment(text: &str, at_start: bool) -> String {
    let mut s = EMAIL_RE.replace_all(text, "[email]").into_owned();
    if at_start {
        // Tweets open with the handles being replied to; they carry no content.
        s = LEADING_HANDLES_RE.replace(&s, "").into_owned();
    }
    s = HANDLE_RE.replace_all(&s, "${1}@customer").into_owned();
    s = HASH_NUMBER_RE.replace_all(&s, "#[number]").into_owned();
    s = NUMBERISH_RE
        .replace_all(&s, |c: &regex::Captures| {
            let span = &c[0];
            replace_numberish(span).map_or_else(|| span.to_string(), str::to_string)
        })
        .into_owned();
    // Remaining shorter bare runs (6 digits, e.g. "order 482913").
    LONG_RUN_RE.replace_all(&s, "[number]").into_owned()
}

/// Replace customer-identifying details (handles, emails, phones, long numbers) so a
/// past reply can be shown as an example for another customer. URLs are kept as-is.
pub fn anonymize_for_reuse(text: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for m in URL_RE.find_iter(text) {
        let url = trim_url(m.as_str());
        out.push_str(&anonymize_segment(&text[last..m.start()], last == 0));
        out.push_str(url);
        last = m.start() + url.len();
    }
    out.push_str(&anonymize_segment(&text[last..], last == 0));
    out
}

/// Only the Twitter-style handles: leading ones removed, others replaced by `@customer`. URLs are
/// kept. The drafter uses this with [`crate::draft::specifics`], which replaces the other details
/// only when the new ticket lacks them (so a customer's own order number stays).
pub fn anonymize_handles(text: &str) -> String {
    let handles = |segment: &str, at_start: bool| {
        let segment = if at_start {
            LEADING_HANDLES_RE.replace(segment, "").into_owned()
        } else {
            segment.to_string()
        };
        HANDLE_RE
            .replace_all(&segment, "${1}@customer")
            .into_owned()
    };
    let mut out = String::new();
    let mut last = 0;
    for m in URL_RE.find_iter(text) {
        let url = trim_url(m.as_str());
        out.push_str(&handles(&text[last..m.start()], last == 0));
        out.push_str(url);
        last = m.start() + url.len();
    }
    out.push_str(&handles(&text[last..], last == 0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_greeting_and_signoff() {
        let cases: [(&str, &str, Option<&str>, Option<&str>); 5] = [
            (
                "Hi Maria,\n\nYour refund is on its way.\n\nBest, Tom",
                "Your refund is on its way.",
                Some("Hi Maria,"),
                Some("Best, Tom"),
            ),
            (
                "Hello,\nWe fixed it.\n\nKind regards,\nTom — Kettleby Support",
                "We fixed it.",
                Some("Hello,"),
                Some("Kind regards,\nTom — Kettleby Support"),
            ),
            (
                "Bonjour Marie,\nC'est réglé.\nCordialement,\nLéa",
                "C'est réglé.",
                Some("Bonjour Marie,"),
                Some("Cordialement,\nLéa"),
            ),
            (
                "Hola Juan, ya está.\nSaludos, Ana",
                "Ya está.",
                Some("Hola Juan,"),
                Some("Saludos, Ana"),
            ),
            ("Dear John,\nDone.", "Done.", Some("Dear John,"), None),
        ];
        for (input, core, greeting, signoff) in cases {
            let (c, g, s) = strip_greeting_and_signoff(input);
            assert_eq!(
                (c.as_str(), g.as_deref(), s.as_deref()),
                (core, greeting, signoff),
                "{input}"
            );
        }
    }

    #[test]
    fn splits_twitter_initials() {
        for (tweet, initials) in [
            (
                "@billy_etler Hi Billy, please DM us your order number. ^RM",
                "^RM",
            ),
            ("Sorry about that! We'll look into it *TMT", "*TMT"),
            ("Please try again now -JD", "-JD"),
        ] {
            let (core, _, s) = strip_greeting_and_signoff(tweet);
            assert_eq!(s.as_deref(), Some(initials), "{tweet}");
            assert!(!core.contains(initials), "{core}");
        }
        let (core, g, _) = strip_greeting_and_signoff("@billy_etler Hi Billy, please DM us. ^RM");
        assert_eq!(
            (core.as_str(), g.as_deref()),
            ("Please DM us.", Some("@billy_etler Hi Billy,"))
        );
    }

    #[test]
    fn content_is_not_mistaken_for_greeting_or_signoff() {
        let text = "Thanks for waiting, the issue is fixed now.";
        assert_eq!(
            strip_greeting_and_signoff(text),
            (text.to_string(), None, None)
        );
        let text = "The export uses UTF-8.\nBest of luck with the launch!";
        assert_eq!(
            strip_greeting_and_signoff(text),
            (text.to_string(), None, None)
        );
        let text = "Hi-fi speakers are not covered by the warranty, sorry.";
        assert_eq!(strip_greeting_and_signoff(text).1, None);
    }

    #[test]
    fn anonymizes_for_reuse() {
        assert_eq!(
            anonymize_for_reuse(
                "@billy_etler @acme Sorry! Ask @jane_doe or mail jane.doe+x@mail.co.uk"
            ),
            "Sorry! Ask @customer or mail [email]"
        );
        assert_eq!(
            anonymize_for_reuse("Call +44 20 7946 0958 or (555) 123-4567."),
            "Call [phone] or [phone]."
        );
        assert_eq!(
            anonymize_for_reuse("Order 48291733, card 4111 1111 1111 1111, ticket #12345"),
            "Order [number], card [number], ticket #[number]"
        );
        // Dates, small numbers and URLs (even with digits or @) survive.
        let keep =
            "On 2025-03-04 at 10:02 we shipped 3 items: https://ex.com/track/123456789?u=@me";
        assert_eq!(anonymize_for_reuse(keep), keep);
    }

    #[test]
    fn anonymizes_handles_only() {
        assert_eq!(
            anonymize_handles("@billy @acme Ask @jane_doe, order 48291733: https://ex.com/@me"),
            "Ask @customer, order 48291733: https://ex.com/@me"
        );
    }
}
