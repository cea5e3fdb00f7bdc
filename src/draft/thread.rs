//! Which customer message a draft answers, and the thread it is written from.
//!
//! A draft belongs to a customer message, not to a ticket: the ticket's description first, then
//! each later message the customer sends. The message awaiting an answer is the latest one from
//! the customer with no public agent reply after it; a draft for it is written from the whole
//! thread so far (retrieval searches with the latest message, the model sees every turn).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DraftRequest;
use crate::domain::{Conversation, Ticket, product_key};
use crate::ingest::clean::clean_message_html;

/// The id drafts use for a ticket's description (its first customer message).
pub const DESCRIPTION_MESSAGE_ID: i64 = 0;

/// A customer message waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwaitingMessage {
    /// [`DESCRIPTION_MESSAGE_ID`] for the description, else the conversation id.
    pub message_id: i64,
    pub at: DateTime<Utc>,
}

impl AwaitingMessage {
    pub fn is_follow_up(&self) -> bool {
        self.message_id != DESCRIPTION_MESSAGE_ID
    }
}

/// One turn of the thread as a drafter sees it (cleaned text; private notes never appear).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThreadTurn {
    pub from_customer: bool,
    pub text: String,
    pub at: DateTime<Utc>,
}

fn is_customer_message(conversation: &Conversation) -> bool {
    conversation.incoming && !conversation.private
}

/// The customer message awaiting an answer: the latest customer message with no public agent
/// reply after it; `None` when the customer has been answered. Private notes (ours included)
/// do not answer a customer.
pub fn awaiting_message(ticket: &Ticket) -> Option<AwaitingMessage> {
    let mut awaiting = Some(AwaitingMessage {
        message_id: DESCRIPTION_MESSAGE_ID,
        at: ticket.created_at,
    });
    for conversation in &ticket.conversations {
        if is_customer_message(conversation) {
            awaiting = Some(AwaitingMessage {
                message_id: conversation.id,
                at: conversation.created_at,
            });
        } else if conversation.is_public_agent_reply() {
            awaiting = None;
        }
    }
    awaiting
}

/// Public turns up to and including `message` (customer messages and agent replies), oldest
/// first, cleaned of quoted history and signatures.
pub fn thread_until(ticket: &Ticket, message: AwaitingMessage) -> Vec<ThreadTurn> {
    let description = clean_message_html(&ticket.description, ticket.description_text.as_deref());
    let mut turns = vec![ThreadTurn {
        from_customer: true,
        text: description,
        at: ticket.created_at,
    }];
    if !message.is_follow_up() {
        return turns;
    }
    for conversation in &ticket.conversations {
        let customer = is_customer_message(conversation);
        if customer || conversation.is_public_agent_reply() {
            let text = clean_message_html(&conversation.body, conversation.body_text.as_deref());
            if !text.is_empty() {
                turns.push(ThreadTurn {
                    from_customer: customer,
                    text,
                    at: conversation.created_at,
                });
            }
        }
        if conversation.id == message.message_id {
            break;
        }
    }
    turns
}

impl DraftRequest {
    /// The draft for `message`: for the description, what the customer said before any answer;
    /// for a follow-up, the latest message (with the subject) as what to answer and search
    /// with, and every earlier public turn as the thread.
    pub fn for_message(ticket: &Ticket, message: AwaitingMessage) -> Self {
        if !message.is_follow_up() {
            return Self::from_ticket(ticket, None);
        }
        let mut turns = thread_until(ticket, message);
        let latest = turns
            .pop()
            .filter(|turn| turn.from_customer)
            .map(|turn| turn.text)
            .unwrap_or_default();
        let subject = ticket.subject.trim();
        let customer_text = if subject.is_empty() {
            latest
        } else {
            format!("{subject}\n\n{latest}")
        };
        Self {
            ticket_id: ticket.id,
            customer_text,
            customer_first_name: None,
            product: product_key(ticket.product_id),
            as_of: None,
            thread: turns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 3, 10, minute, 0).unwrap()
    }

    fn conversation(id: i64, incoming: bool, private: bool, text: &str) -> Conversation {
        Conversation {
            id,
            body: format!("<div>{text}</div>"),
            body_text: Some(text.into()),
            incoming,
            private,
            source: Some(if private { 2 } else { 0 }),
            user_id: None,
            ticket_id: Some(5),
            support_email: None,
            created_at: at(id as u32),
            updated_at: None,
            attachments: Vec::new(),
        }
    }

    fn ticket(conversations: Vec<Conversation>) -> Ticket {
        serde_json::from_value::<Ticket>(serde_json::json!({
            "id": 5, "subject": "Kettle will not heat", "description": "<div>My kettle stays cold.</div>",
            "status": 2, "created_at": at(0), "updated_at": at(30)
        }))
        .map(|mut t| {
            t.conversations = conversations;
            t
        })
        .unwrap()
    }

    #[test]
    fn the_awaiting_message_is_the_latest_unanswered_customer_message() {
        let new = ticket(vec![conversation(1, false, true, "deskdraft note")]);
        assert_eq!(
            awaiting_message(&new),
            Some(AwaitingMessage {
                message_id: DESCRIPTION_MESSAGE_ID,
                at: at(0)
            }),
            "our private note does not answer the customer"
        );
        let answered = ticket(vec![conversation(2, false, false, "Try the reset button.")]);
        assert_eq!(awaiting_message(&answered), None);
        let follow_up = ticket(vec![
            conversation(2, false, false, "Try the reset button."),
            conversation(3, true, false, "Reset did nothing."),
            conversation(4, false, true, "internal: ask for the serial"),
        ]);
        let message = awaiting_message(&follow_up).unwrap();
        assert_eq!(message.message_id, 3);
        assert!(message.is_follow_up());

        let request = DraftRequest::for_message(&follow_up, message);
        assert_eq!(
            request.customer_text,
            "Kettle will not heat\n\nReset did nothing."
        );
        let turns: Vec<(bool, &str)> = request
            .thread
            .iter()
            .map(|t| (t.from_customer, t.text.as_str()))
            .collect();
        assert_eq!(
            turns,
            vec![
                (true, "My kettle stays cold."),
                (false, "Try the reset button.")
            ],
            "the whole public thread before the message, never a private note"
        );
        let first = DraftRequest::for_message(&new, awaiting_message(&new).unwrap());
        assert!(first.thread.is_empty());
        assert!(first.customer_text.contains("My kettle stays cold."));
    }

    #[test]
    fn a_follow_ups_search_reads_the_first_message_when_configured() {
        let follow_up = ticket(vec![
            conversation(2, false, false, "Try the reset button."),
            conversation(3, true, false, "Reset did nothing."),
        ]);
        let request = DraftRequest::for_message(&follow_up, awaiting_message(&follow_up).unwrap());
        assert_eq!(
            crate::draft::search_text(&request, true),
            "Kettle will not heat\n\nReset did nothing.\n\nMy kettle stays cold."
        );
        assert_eq!(
            crate::draft::search_text(&request, false),
            request.customer_text
        );
        // A first message has no thread: its search is its own text either way.
        let new = ticket(vec![]);
        let first = DraftRequest::for_message(&new, awaiting_message(&new).unwrap());
        assert_eq!(crate::draft::search_text(&first, true), first.customer_text);
    }

    #[test]
    fn the_follow_up_replayed_is_the_last_answered_customer_message_after_a_reply() {
        use crate::simulate::replay::follow_up_point;
        let answered_twice = ticket(vec![
            conversation(
                1,
                true,
                false,
                "Before any reply: part of the first message.",
            ),
            conversation(2, false, false, "Try the reset button."),
            conversation(3, true, false, "Reset did nothing."),
            conversation(4, false, true, "internal note"),
            conversation(5, true, false, "Still cold."),
            conversation(6, false, false, "We send a new kettle."),
            conversation(7, true, false, "Thanks!"),
        ]);
        assert_eq!(
            follow_up_point(&answered_twice),
            Some(4),
            "'Still cold.', not 'Thanks!'"
        );
        let one_reply = ticket(vec![
            conversation(1, true, false, "More detail."),
            conversation(2, false, false, "Try the reset button."),
            conversation(3, true, false, "Thanks!"),
        ]);
        assert_eq!(
            follow_up_point(&one_reply),
            None,
            "no agent answered the follow-up"
        );
    }
}
