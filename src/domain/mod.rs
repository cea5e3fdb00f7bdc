//! Owns the helpdesk's vocabulary: tickets, conversations, articles, and the documents we index.
//!
//! Wire models are lenient on purpose: Freshdesk and exported bundles add fields over time and send
//! `null` where a value is unknown, so every optional field tolerates both `null` and absence.

mod documents;
mod lenient;
mod ticket;

pub use documents::{
    DocumentKey, IndexedDocument, SourceType, deterministic_point_id, product_key,
};
pub use lenient::null_as_default;
pub use ticket::{Article, CannedResponse, Conversation, Ticket, TicketStatus};
