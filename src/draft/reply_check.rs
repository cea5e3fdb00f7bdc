//! Whether a model's reply is a draft at all: a small model under a JSON grammar fills the
//! `reply` string with something (a digit, the customer's own message) rather than nothing.

/// Fewest words a reply must have to be a draft. Measured with Gemma 3 270M on 100 twitter-care
/// tickets: replies such as "1", "167" and "No response" passed every other check.
const MIN_REPLY_WORDS: usize = 3;

/// Words in a row the reply may share with the customer's message before it counts as copied:
/// an agent quotes a product name or an error message, not eight words of the complaint.
const ECHO_RUN_WORDS: usize = 8;

/// Share of the reply's words inside such copied runs from which the reply is an echo.
const ECHO_SHARE: f64 = 0.5;

/// Word stems no support reply uses (English; a model's reply once read "I'm going to f...
/// puke"). A stem matches a word that starts with it.
const OFFENSIVE_STEMS: &[&str] = &[
    "fuck",
    "shit",
    "bullshit",
    "asshole",
    "bitch",
    "bastard",
    "cunt",
    "dickhead",
    "motherfuck",
    "wanker",
    "retard",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Why `reply` is no draft for a customer who wrote `customer_text`, or `None` when it may be.
pub fn no_draft_reason(reply: &str, customer_text: &str) -> Option<String> {
    let reply_words = words(reply);
    let lettered = reply_words
        .iter()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count();
    if lettered < MIN_REPLY_WORDS {
        // Counts only, never the words: this reason is logged, and the reply may carry
        // customer text.
        return Some(format!(
            "the reply has {lettered} word(s), too few to be a draft"
        ));
    }
    if reply_words
        .iter()
        .any(|w| OFFENSIVE_STEMS.iter().any(|stem| w.starts_with(stem)))
    {
        return Some("the reply contains offensive language".to_string());
    }
    let customer_words = words(customer_text);
    if customer_words.len() < ECHO_RUN_WORDS || reply_words.len() < ECHO_RUN_WORDS {
        return None;
    }
    let customer_runs: std::collections::HashSet<&[String]> =
        customer_words.windows(ECHO_RUN_WORDS).collect();
    let mut copied = vec![false; reply_words.len()];
    for (start, window) in reply_words.windows(ECHO_RUN_WORDS).enumerate() {
        if customer_runs.contains(window) {
            copied[start..start + ECHO_RUN_WORDS].fill(true);
        }
    }
    let share = copied.iter().filter(|c| **c).count() as f64 / reply_words.len() as f64;
    (share >= ECHO_SHARE).then(|| {
        format!(
            "the reply repeats the customer's message ({:.0}% of its words copied)",
            share * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMER: &str = "Hi Mojang I cant log into my DerClown_ account because I have \
                            forgotten the password and the reset mail never arrives";

    #[test]
    fn a_digit_or_two_words_are_no_draft() {
        for reply in ["1", "167", "No response", "  ok  "] {
            let reason = no_draft_reason(reply, CUSTOMER).expect(reply);
            assert!(reason.contains("too few to be a draft"), "{reason}");
            // The reason is logged: it never carries the reply's words.
            assert!(!reason.contains(reply.trim()), "{reason}");
        }
    }

    #[test]
    fn the_customers_message_copied_back_is_no_draft() {
        let echo = format!("{CUSTOMER}. Customer: please help");
        let reason = no_draft_reason(&echo, CUSTOMER).unwrap();
        assert!(
            reason.contains("repeats the customer's message"),
            "{reason}"
        );
    }

    #[test]
    fn offensive_language_is_no_draft_but_similar_words_are_fine() {
        let reason = no_draft_reason("I'm going to Fucking puke My", CUSTOMER).unwrap();
        assert_eq!(reason, "the reply contains offensive language");
        // Stems match the start of a word only, so "Scunthorpe" is no alarm.
        let fine = "Your Scunthorpe order ships today, and the bitcoin refund is on its way.";
        assert_eq!(no_draft_reason(fine, CUSTOMER), None);
    }

    #[test]
    fn a_real_reply_that_quotes_a_few_words_is_a_draft() {
        let reply = "Sorry you can't log in! If the reset mail never arrives, check your spam \
                     folder, then request a new one at the Mojang account page.";
        assert_eq!(no_draft_reason(reply, CUSTOMER), None);
        assert_eq!(no_draft_reason("We refunded it.", "short"), None);
    }
}
