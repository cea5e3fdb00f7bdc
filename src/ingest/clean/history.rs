//! Quoted history and signatures: where an e-mail reply's own text ends and the thread it quotes
//! (attributions in several languages, "Original Message" headers) or the sender's signature
//! begins.

use once_cell::sync::Lazy;
use regex::Regex;

use super::re;

/// Reply attributions ("On ... wrote:", "Le ... a écrit :", ...). A digit is required
/// because real attributions carry a date/time, while "On Monday my boss wrote:"
/// written by a customer usually does not.
static ATTRIBUTION_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?i)^(?:on\s.*\bwrote|le\s.*\ba\s+écrit|el\s.*\bescribió|am\s.*\bschrieb\b.*|il\s.*\bha\s+scritto|op\s.*\bschreef\b.*|em\s.*\bescreveu)\s*:$",
    )
});
static ORIGINAL_MESSAGE_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?i)^-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale)\s*-{2,}$",
    )
});
static HEADER_FROM_RE: Lazy<Regex> = Lazy::new(|| re(r"(?i)^\*?(?:from|de|von|da|van)\s?:\*?\s"));
static HEADER_SENT_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?i)(?:^|\s)\*?(?:sent|date|envoyé|gesendet|datum|enviado|fecha|inviato|data|verzonden)\s?:\*?\s",
    )
});

fn is_attribution(line: &str) -> bool {
    line.len() <= 400 && line.chars().any(|c| c.is_ascii_digit()) && ATTRIBUTION_RE.is_match(line)
}

/// Index of the first line of quoted history, if any.
fn history_start(lines: &[&str]) -> Option<usize> {
    for i in 0..lines.len() {
        let line = lines[i].trim();
        if line.is_empty() {
            continue;
        }
        if ORIGINAL_MESSAGE_RE.is_match(line) || is_attribution(line) {
            return Some(i);
        }
        // Attributions wrapped over two or three lines by the sender's client.
        // A finished sentence is content, not the first half of an attribution.
        let mut joined = line.to_string();
        for next in lines.iter().skip(i + 1).take(2) {
            if line.ends_with(['.', '!', '?', ':']) || is_attribution(next.trim()) {
                break;
            }
            joined.push(' ');
            joined.push_str(next.trim());
            if is_attribution(&joined) {
                return Some(i);
            }
        }
        // Outlook header block: "From:" with "Sent:"/"Date:" on it or right below.
        if HEADER_FROM_RE.is_match(line)
            && lines[i..lines.len().min(i + 4)]
                .iter()
                .any(|l| HEADER_SENT_RE.is_match(l.trim()))
        {
            // Outlook puts a line of underscores above the header; take it too.
            let above = lines[..i].iter().rposition(|l| !l.trim().is_empty());
            return Some(match above {
                Some(j) if lines[j].trim().chars().all(|c| c == '_') => j,
                _ => i,
            });
        }
    }
    None
}

/// Remove quoted earlier messages: attributions and everything after them, Outlook
/// "Original Message"/header blocks and after, and `>`-quoted lines anywhere (those
/// are dropped line by line so inline answers between them survive).
pub fn strip_quoted_history(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = history_start(&lines).unwrap_or(lines.len());
    let kept: Vec<&str> = lines[..end]
        .iter()
        .copied()
        .filter(|l| !l.trim_start().starts_with('>'))
        .collect();
    kept.join("\n").trim_end().to_string()
}

static MOBILE_SIGNATURE_RE: Lazy<Regex> = Lazy::new(|| {
    // Device names are free text; commas etc. mean a sentence, not a signature. The
    // length bound lives in `is_mobile_signature` to keep the regex automaton small.
    re(
        r"(?i)^(?:sent from my [^,;:!?]+|sent from (?:outlook|mail|yahoo mail)[^,;:!?]*|get outlook for (?:ios|android)|envoyé de mon [^,;:!?]+|enviado desde mi [^,;:!?]+|von meinem [^,;:!?]+ gesendet|gesendet von meinem [^,;:!?]+|inviato da [^,;:!?]+|enviado do meu [^,;:!?]+)\.?$",
    )
});

fn is_mobile_signature(line: &str) -> bool {
    line.chars().count() <= 60 && MOBILE_SIGNATURE_RE.is_match(line)
}
/// A "--" delimiter followed by more than this many lines is more likely a divider
/// inside the message than a signature.
const MAX_SIGNATURE_LINES: usize = 25;

/// Remove trailing signatures that can be detected reliably (see module docs).
pub fn strip_signature(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    // Only whole lines match, so "I sent from my iPhone, and..." is never cut.
    let mut end = lines
        .iter()
        .position(|l| is_mobile_signature(l.trim()))
        .unwrap_or(lines.len());
    if let Some(dash) = lines[..end].iter().rposition(|l| l.trim_end() == "--")
        && end - dash <= MAX_SIGNATURE_LINES
    {
        end = dash;
    }
    lines[..end].join("\n").trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_attributions_in_several_languages() {
        let cases = [
            "Thanks!\n\nOn Tue, 4 Mar 2025 at 10:02, Someone <a@b.c> wrote:\n> old",
            "Thanks!\nOn Tue, Mar 4, 2025 at 10:02 AM Someone Long <a@b.c>\nwrote:\nold text",
            "Thanks!\nLe mar. 4 mars 2025 à 10:02, Marie <m@x.fr> a écrit :\nancien",
            "Thanks!\nEl mar, 4 mar 2025 a las 10:02, Juan (<j@x.es>) escribió:\nviejo",
            "Thanks!\nAm 04.03.2025 um 10:02 schrieb Maria <m@x.de>:\nalt",
            "Thanks!\n-----Original Message-----\nFrom: Bob\nold",
            "Thanks!\n________________________________\nFrom: Support <s@x.com>\nSent: Tuesday, March 4, 2025 10:02 AM\nTo: me\nSubject: Re: x\nold",
            "Thanks!\nFrom: Support <s@x.com> Sent: Tuesday, March 4 To: me Subject: x",
        ];
        for case in cases {
            assert_eq!(strip_quoted_history(case), "Thanks!", "{case}");
        }
    }

    #[test]
    fn quoted_history_keeps_content_and_inline_answers() {
        let text = "> Can you resend?\nYes, done.\n> And the invoice?\nAttached.";
        assert_eq!(strip_quoted_history(text), "Yes, done.\nAttached.");
        // No digit -> a customer sentence, not an attribution.
        let text = "On Monday my manager wrote:\nplease fix it";
        assert_eq!(strip_quoted_history(text), text);
        // A finished sentence before a real attribution is kept.
        let text = "On our side the export works.\nOn Tue, 4 Mar 2025 at 10:02, Bob wrote:\nold";
        assert_eq!(strip_quoted_history(text), "On our side the export works.");
        assert_eq!(
            strip_quoted_history("From: my phone I see the error"),
            "From: my phone I see the error"
        );
    }

    #[test]
    fn strips_signatures() {
        assert_eq!(strip_signature("Body\n-- \nTom\nACME"), "Body");
        assert_eq!(strip_signature("Body\n--\nTom"), "Body");
        assert_eq!(strip_signature("Body\n\nSent from my iPhone"), "Body");
        assert_eq!(strip_signature("Body\nEnvoyé de mon iPhone"), "Body");
        assert_eq!(
            strip_signature("Body\nEnviado desde mi Samsung Galaxy"),
            "Body"
        );
        assert_eq!(strip_signature("Body\n\nGet Outlook for iOS"), "Body");
        assert_eq!(
            strip_signature("Body\nSent from my Android phone.\nmore junk"),
            "Body"
        );
    }

    #[test]
    fn signature_words_mid_text_survive() {
        let text = "The report was sent from my iPhone, but it failed.\nSent from my iPhone the app crashes, see above, twice.";
        assert_eq!(strip_signature(text), text);
        let text = "Step one -- then step two.\nGet Outlook for iOS and log in.";
        assert_eq!(strip_signature(text), text);
        // A divider followed by a long body is not a signature.
        let long = format!("Intro\n--\n{}", "line\n".repeat(30));
        assert_eq!(strip_signature(&long), long.trim_end());
    }
}
