//! The write seam of a helpdesk: posting drafts as private notes, editing them, replying.
//!
//! Only the drafting service holds a `HelpdeskWrite`; simulation and export get an
//! `Arc<dyn HelpdeskRead>` and so cannot write by construction.

use async_trait::async_trait;

use super::HelpdeskError;
use crate::domain::Conversation;

/// Write access to a helpdesk. Bodies are HTML and are sent exactly as given.
#[async_trait]
pub trait HelpdeskWrite: Send + Sync {
    /// Adds a private note (visible to agents only) to a ticket; returns the stored note.
    async fn create_private_note(
        &self,
        ticket_id: i64,
        body_html: &str,
    ) -> Result<Conversation, HelpdeskError>;

    /// Replaces the body of an existing note (Freshdesk allows editing notes only, not replies).
    async fn update_note(
        &self,
        conversation_id: i64,
        body_html: &str,
    ) -> Result<Conversation, HelpdeskError>;

    /// Sends a public reply to the requester. Never used for drafts; exists for explicit sends.
    async fn create_reply(
        &self,
        ticket_id: i64,
        body_html: &str,
    ) -> Result<Conversation, HelpdeskError>;

    /// Notes (private and public) of a ticket, oldest first: used to check whether a draft was
    /// already posted before posting it again.
    async fn notes(&self, ticket_id: i64) -> Result<Vec<Conversation>, HelpdeskError>;
}
