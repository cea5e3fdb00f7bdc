//! Owns where tickets and articles come from and where notes go: the read/write helpdesk seams,
//! the on-disk bundle format, knowledge folders, and (in `freshdesk/`) the live API client.

pub mod bundle;
pub mod export;
mod export_archive;
pub mod freshdesk;
pub mod knowledge_folder;
pub mod matching;
pub mod write;

pub use write::{HelpdeskWrite, ReplyRequest, TicketUpdate};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use std::collections::BTreeSet;

use crate::domain::{Article, CannedResponse, Conversation, Ticket};
use crate::retry::{Classify, ErrorClass};

/// Errors from a helpdesk source, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum HelpdeskError {
    #[error("helpdesk rate limit reached; retry after {retry_after:?}")]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    #[error("helpdesk request failed transiently: {0}")]
    Transient(String),
    /// No answer within the timeout: the request may still be applied after we stopped waiting.
    #[error("helpdesk request timed out: {0}")]
    TimedOut(String),
    #[error("helpdesk authentication failed: {0}")]
    Unauthorized(String),
    #[error("helpdesk refused the request: {0}")]
    Forbidden(String),
    #[error("not found in the helpdesk: {0}")]
    NotFound(String),
    #[error("helpdesk request was invalid: {0}")]
    Permanent(String),
    #[error("helpdesk returned a malformed response: {0}")]
    Malformed(String),
}

impl Classify for HelpdeskError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::RateLimited { retry_after } => ErrorClass::RateLimited {
                retry_after: *retry_after,
            },
            // A malformed body is usually a truncated response through a proxy: worth one more try.
            Self::Transient(_) | Self::TimedOut(_) | Self::Malformed(_) => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }
}

/// Read-only access to a helpdesk. Simulation and export hold only this capability, so a write
/// from those paths is a compile error rather than a runtime check.
#[async_trait]
pub trait HelpdeskRead: Send + Sync {
    /// One ticket with its conversations.
    async fn ticket_with_conversations(&self, ticket_id: i64) -> Result<Ticket, HelpdeskError>;
    /// Tickets updated at or after `since`, oldest update first, without conversations.
    async fn tickets_updated_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, HelpdeskError>;
    /// The same list without descriptions: a third of the credits, for deciding what changed.
    async fn ticket_fields_updated_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, HelpdeskError>;
    async fn conversations(&self, ticket_id: i64) -> Result<Vec<Conversation>, HelpdeskError>;
    /// Published and draft solution articles, with their portal URL and folder visibility.
    async fn articles(&self) -> Result<Vec<Article>, HelpdeskError>;
    /// An archived ticket (closed and inactive for about 120 days: no longer in the ticket
    /// list) with its conversations; `None` when no archived ticket has this id.
    async fn archived_ticket(&self, ticket_id: i64) -> Result<Option<Ticket>, HelpdeskError>;
    /// Ids of the tickets in the trash and of those marked spam (both hidden from the list).
    async fn removed_ticket_ids(&self) -> Result<RemovedTickets, HelpdeskError>;
    /// Canned responses of the shared (not personal) folders, with their content.
    async fn canned_responses(&self) -> Result<Vec<CannedResponse>, HelpdeskError>;
    /// The cheapest authenticated call (Freshdesk: `GET /agents/me`, 1 credit).
    async fn check_access(&self) -> Result<(), HelpdeskError>;
    /// The account's products (for names instead of ids). Sources without products have none.
    async fn products(&self) -> Result<Vec<Product>, HelpdeskError> {
        Ok(Vec::new())
    }
    /// The account's agents (for names instead of ids). Sources without agents have none.
    async fn agents(&self) -> Result<Vec<Agent>, HelpdeskError> {
        Ok(Vec::new())
    }
    /// A contact (a ticket's requester), for the review console.
    async fn contact(&self, contact_id: i64) -> Result<Contact, HelpdeskError> {
        Err(HelpdeskError::NotFound(format!("contact {contact_id}")))
    }
}

/// An agent of the account (`GET /agents`: the name sits under `contact`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(from = "ListedAgent")]
pub struct Agent {
    pub id: i64,
    pub name: String,
}

/// An agent as `GET /agents` lists it.
#[derive(serde::Deserialize)]
struct ListedAgent {
    id: i64,
    #[serde(default)]
    contact: Option<ListedAgentContact>,
}

#[derive(serde::Deserialize)]
struct ListedAgentContact {
    #[serde(default)]
    name: Option<String>,
}

impl From<ListedAgent> for Agent {
    fn from(listed: ListedAgent) -> Self {
        Self {
            id: listed.id,
            name: listed.contact.and_then(|c| c.name).unwrap_or_default(),
        }
    }
}

/// A product of the account (`GET /products`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Product {
    pub id: i64,
    #[serde(default)]
    pub name: String,
}

/// A contact (`GET /contacts/{id}`): who wrote a ticket.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Contact {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Tickets the account keeps but hides from its ticket list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemovedTickets {
    pub deleted: BTreeSet<i64>,
    pub spam: BTreeSet<i64>,
}

impl RemovedTickets {
    pub fn contains(&self, ticket_id: i64) -> bool {
        self.deleted.contains(&ticket_id) || self.spam.contains(&ticket_id)
    }
}
