//! "Is this stored conversation the one we posted?": the decision behind every retry of a
//! non-idempotent write (a note or reply whose response was lost, an approval interrupted
//! mid-send).
//!
//! Freshdesk rewrites the HTML it stores: it wraps bodies in `<div>`, changes paragraph markup
//! and re-encodes entities, so the body read back never equals the body sent. What survives is
//! the text. Two bodies match when their texts are equal once tags are dropped, entities are
//! decoded and whitespace (which the rewriting moves around, and `body_text` derives freely)
//! is ignored; or, for notes, when the stored one carries our `deskdraft:<draft id>` marker.

use chrono::{DateTime, Utc};

use crate::domain::Conversation;

/// The text of an HTML body as a comparison key: tags removed, entities decoded, every
/// whitespace character (including non-breaking spaces) dropped.
pub fn comparable_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    html_escape::decode_html_entities(&text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// What a posted conversation must look like to count as ours.
#[derive(Debug, Clone)]
pub struct PostedConversation<'a> {
    /// The HTML we sent.
    pub body_html: &'a str,
    /// A note (private) or a public reply.
    pub private: bool,
    /// Text only our conversation carries (the note marker), when there is one.
    pub marker: Option<&'a str>,
    /// Only conversations created at or after this instant count: an identical older reply
    /// (an agent who typed the same words last week) is not ours.
    pub not_before: Option<DateTime<Utc>>,
}

/// Allowance for the difference between our clock and Freshdesk's when comparing `created_at`
/// with `not_before`.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(10);

impl PostedConversation<'_> {
    /// Whether `conversation` is the one described.
    pub fn matches(&self, conversation: &Conversation) -> bool {
        if conversation.incoming || conversation.private != self.private {
            return false;
        }
        if let Some(not_before) = self.not_before
            && conversation.created_at < not_before - CLOCK_SKEW
        {
            return false;
        }
        if let Some(marker) = self.marker
            && (conversation.body.contains(marker)
                || conversation
                    .body_text
                    .as_deref()
                    .is_some_and(|text| text.contains(marker)))
        {
            return true;
        }
        let wanted = comparable_text(self.body_html);
        if wanted.is_empty() {
            return false;
        }
        comparable_text(&conversation.body) == wanted
            || conversation
                .body_text
                .as_deref()
                .is_some_and(|text| comparable_text(text) == wanted)
    }

    /// The newest conversation that is the one described.
    pub fn find_in(&self, conversations: &[Conversation]) -> Option<Conversation> {
        conversations
            .iter()
            .rev()
            .find(|c| self.matches(c))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn stored(body: &str, body_text: Option<&str>, private: bool) -> Conversation {
        Conversation {
            id: 1,
            body: body.into(),
            body_text: body_text.map(str::to_string),
            incoming: false,
            private,
            source: Some(if private { 2 } else { 0 }),
            user_id: None,
            ticket_id: Some(7),
            support_email: None,
            created_at: Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
            updated_at: None,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn rewritten_html_still_matches_the_body_sent() {
        let sent =
            "<p>Hi Ana,</p><p>It&#39;s on its way &amp; will arrive&nbsp;soon.<br>Thanks</p>";
        let reply = PostedConversation {
            body_html: sent,
            private: false,
            marker: None,
            not_before: None,
        };
        // Freshdesk's rewriting: a wrapping div, paragraphs changed, entities re-encoded.
        let rewritten = "<div><div dir=\"ltr\">Hi Ana,</div><div dir=\"ltr\">It's on its way &amp; will arrive soon.<br/>Thanks</div></div>";
        assert!(reply.matches(&stored(rewritten, None, false)));
        // Only body_text survives in a readable form: still a match.
        let text_only = stored(
            "",
            Some("Hi Ana, It's on its way & will arrive soon.\nThanks"),
            false,
        );
        assert!(reply.matches(&text_only));
        // Different words, a note instead of a reply, or a customer message: no match.
        assert!(!reply.matches(&stored("<div>Hi Ana, it is lost.</div>", None, false)));
        assert!(!reply.matches(&stored(rewritten, None, true)));
        let mut incoming = stored(rewritten, None, false);
        incoming.incoming = true;
        assert!(!reply.matches(&incoming));
    }

    #[test]
    fn markers_match_notes_whose_text_was_edited_and_old_replies_do_not_count() {
        let note = PostedConversation {
            body_html: "<p>draft</p><p><small>deskdraft:abc</small></p>",
            private: true,
            marker: Some("deskdraft:abc"),
            not_before: None,
        };
        assert!(note.matches(&stored(
            "<div>draft (edited by an agent)</div><div>deskdraft:abc</div>",
            None,
            true
        )));
        assert!(!note.matches(&stored("<div>deskdraft:abd</div>", None, true)));

        let later = PostedConversation {
            body_html: "<p>Same words</p>",
            private: false,
            marker: None,
            not_before: Some(Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()),
        };
        assert!(
            !later.matches(&stored("<div>Same words</div>", None, false)),
            "a reply from the day before is someone else's"
        );
        assert!(comparable_text("<p> </p>").is_empty());
        assert!(
            !PostedConversation {
                body_html: "<p> </p>",
                ..later
            }
            .matches(&stored("<div></div>", None, false)),
            "an empty body matches nothing"
        );
    }
}
