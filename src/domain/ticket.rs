//! Freshdesk-shaped ticket, conversation and solution-article models (API v2 field names).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::lenient::null_as_default;

/// Ticket status codes as Freshdesk defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    Open,
    Pending,
    Resolved,
    Closed,
    Other(i64),
}

impl TicketStatus {
    pub fn from_code(code: i64) -> Self {
        match code {
            2 => Self::Open,
            3 => Self::Pending,
            4 => Self::Resolved,
            5 => Self::Closed,
            other => Self::Other(other),
        }
    }

    /// Only resolved or closed tickets carry a finished answer worth learning from.
    pub fn is_resolved(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed)
    }
}

/// A ticket as `GET /api/v2/tickets/{id}` returns it, plus its conversations when a bundle embeds them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub subject: String,
    /// HTML body of the first customer message.
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_text: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<i64>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ticket_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub spam: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub deleted: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set by Freshdesk on tickets read from `/tickets/archived/{id}` (closed and inactive for
    /// about 120 days): absent from `GET /tickets` and `GET /tickets/{id}`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub archived: bool,
    /// All conversations, oldest first (bundles embed them; the API serves them separately).
    #[serde(default, deserialize_with = "null_as_default")]
    pub conversations: Vec<Conversation>,
}

impl Ticket {
    pub fn status(&self) -> TicketStatus {
        TicketStatus::from_code(self.status)
    }

    /// Public agent replies in thread order (never private notes, never customer messages).
    pub fn public_agent_replies(&self) -> impl Iterator<Item = &Conversation> {
        self.conversations
            .iter()
            .filter(|c| c.is_public_agent_reply())
    }

    /// Customer messages that arrived before the first public agent reply: what an agent saw
    /// when the first answer was due.
    pub fn customer_messages_before_first_reply(&self) -> impl Iterator<Item = &Conversation> {
        self.conversations
            .iter()
            .take_while(|c| !c.is_public_agent_reply())
            .filter(|c| c.incoming && !c.private)
    }
}

/// One conversation entry as `GET /api/v2/tickets/{id}/conversations` returns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Conversation {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub incoming: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub private: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_email: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub attachments: Vec<serde_json::Value>,
}

impl Conversation {
    /// Freshdesk marks agent replies `incoming: false, private: false`; source 0 is a reply,
    /// 2 a note (a public note is agent-written but not a reply to the customer).
    pub fn is_public_agent_reply(&self) -> bool {
        !self.incoming && !self.private && matches!(self.source, None | Some(0))
    }
}

/// A solution article, plus the `url` where customers read it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Article {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_text: Option<String>,
    /// 1 draft, 2 published.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_id: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Not a Freshdesk field: knowledge-folder documents may name their product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<i64>,
    /// The `visibility` of the article's folder (Freshdesk puts it on the folder, and on search
    /// results as `folder_visibility`): 1 all users, 2 logged-in users, 3 agents only, 4 selected
    /// companies, 5 bots, 6/7 selected contact/company segments. `None`: unknown, treated as
    /// public (knowledge folders, bundles from before this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_visibility: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Folder visibilities whose articles any customer can open: all users, and logged-in users
/// (every customer with a portal login). Agents-only (3), bots (5) and folders restricted to
/// some companies or segments (4, 6, 7) are knowledge for agents, never a link in a reply.
const CUSTOMER_VISIBLE_FOLDERS: [i64; 2] = [1, 2];

impl Article {
    pub fn is_published(&self) -> bool {
        self.status == 2
    }

    /// Whether a reply to any customer may link this article.
    pub fn customer_visible(&self) -> bool {
        self.folder_visibility
            .is_none_or(|visibility| CUSTOMER_VISIBLE_FOLDERS.contains(&visibility))
    }
}

/// A canned response as `GET /canned_response_folders/{id}/responses` returns it: an answer the
/// team wrote for reuse. Its Liquid placeholders (`{{ticket.requester.name}}`) come back
/// unrendered and are kept that way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CannedResponse {
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<i64>,
    /// Plain text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub content: String,
    /// HTML as Freshdesk stored it (sanitised, wrapped in `<div>`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub content_html: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
