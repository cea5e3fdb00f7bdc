//! The write seam of a helpdesk: posting drafts as private notes, editing them, replying as an
//! agent, and the ticket fields a sent reply changes.
//!
//! Only the drafting service holds a `HelpdeskWrite`; simulation and export get an
//! `Arc<dyn HelpdeskRead>` and so cannot write by construction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::HelpdeskError;
use crate::domain::Conversation;

/// A public reply and who sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplyRequest {
    pub ticket_id: i64,
    /// HTML body, sent as given (build it from escaped text).
    pub body_html: String,
    /// The agent the reply is sent as (Freshdesk `user_id`); the API key's agent when `None`.
    pub agent_id: Option<i64>,
    /// A reply from an earlier, interrupted attempt counts only if created at or after this
    /// instant (the approval's start): an identical older reply is someone else's.
    pub not_before: Option<DateTime<Utc>>,
}

/// Ticket fields to change (`None` leaves a field as it is).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketUpdate {
    /// Freshdesk status code (3 pending, 4 resolved, ...).
    pub status: Option<i64>,
    /// The complete tag list (Freshdesk replaces the tags with what is sent).
    pub tags: Option<Vec<String>>,
}

impl TicketUpdate {
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.tags.is_none()
    }
}

/// Write access to a helpdesk. Bodies are HTML and are sent exactly as given.
#[async_trait]
pub trait HelpdeskWrite: Send + Sync {
    /// Adds a private note (visible to agents only) to a ticket; returns the stored note.
    /// `marker` is text the body carries and no other note does: after a lost response the
    /// ticket's notes are searched for it before anything is posted again.
    async fn create_private_note(
        &self,
        ticket_id: i64,
        body_html: &str,
        marker: &str,
    ) -> Result<Conversation, HelpdeskError>;

    /// Replaces the body of an existing note (Freshdesk allows editing notes only, not replies).
    async fn update_note(
        &self,
        conversation_id: i64,
        body_html: &str,
    ) -> Result<Conversation, HelpdeskError>;

    /// Sends a public reply to the requester. Never used for drafts; only for approved sends.
    /// After a lost response the ticket is read, and a reply with the same text found there is
    /// returned instead of sending a second one.
    async fn create_reply(&self, reply: &ReplyRequest) -> Result<Conversation, HelpdeskError>;

    /// Changes ticket fields (status after a reply, the `deskdraft` tag). Idempotent. Returns
    /// the ticket's new `updated_at` when the helpdesk says.
    async fn update_ticket(
        &self,
        ticket_id: i64,
        update: &TicketUpdate,
    ) -> Result<Option<DateTime<Utc>>, HelpdeskError>;

    /// The agent with this email, for sending replies as them; `None` when there is none.
    async fn agent_id_by_email(&self, email: &str) -> Result<Option<i64>, HelpdeskError>;

    /// Every conversation of a ticket, oldest first: what is checked before posting again.
    async fn conversations_of(&self, ticket_id: i64) -> Result<Vec<Conversation>, HelpdeskError>;
}
