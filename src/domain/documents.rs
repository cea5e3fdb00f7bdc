//! What we index: documents (a resolved case or a knowledge-base article) and their point ids.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where an indexed document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SourceType {
    /// A resolved ticket: the customer's problem and the agent's public answer.
    Case,
    /// A knowledge-base article (Freshdesk solution article or a file in a knowledge folder).
    Article,
    /// A Freshdesk canned response: an answer the team approved for reuse. Ranked with the
    /// articles (it is knowledge, not a past conversation), but never linked: it has no URL.
    CannedResponse,
}

impl SourceType {
    /// Every kind, for counts and scans.
    pub const ALL: [SourceType; 3] = [Self::Case, Self::Article, Self::CannedResponse];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Case => "case",
            Self::Article => "article",
            Self::CannedResponse => "canned_response",
        }
    }

    /// Knowledge ranked together as "articles": written for reuse rather than learnt from a
    /// conversation.
    pub fn is_knowledge(self) -> bool {
        matches!(self, Self::Article | Self::CannedResponse)
    }
}

/// Identity of a document across re-ingests: `case:123` or `article:45`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DocumentKey {
    pub source_type: SourceType,
    pub id: i64,
}

impl DocumentKey {
    pub fn case(id: i64) -> Self {
        Self {
            source_type: SourceType::Case,
            id,
        }
    }
    pub fn article(id: i64) -> Self {
        Self {
            source_type: SourceType::Article,
            id,
        }
    }
    pub fn canned_response(id: i64) -> Self {
        Self {
            source_type: SourceType::CannedResponse,
            id,
        }
    }
}

impl std::fmt::Display for DocumentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source_type.as_str(), self.id)
    }
}

/// The namespace of our point ids; fixed forever so ids stay stable across versions.
const POINT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0c2e_8f0a_4d5b_9c59_0e2f_d35c_a11e);

/// Deterministic point id: the same (source, id, chunk) always maps to the same UUID, so
/// re-ingesting overwrites instead of duplicating.
pub fn deterministic_point_id(key: &DocumentKey, chunk_number: usize) -> Uuid {
    Uuid::new_v5(
        &POINT_ID_NAMESPACE,
        format!("{key}#{chunk_number}").as_bytes(),
    )
}

/// The product value stored and filtered on: the Freshdesk product id as text.
pub fn product_key(product_id: Option<i64>) -> Option<String> {
    product_id.map(|id| id.to_string())
}

/// A cleaned document ready to chunk and embed, with the metadata we keep on every chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedDocument {
    pub key: DocumentKey,
    pub title: String,
    /// Text that is embedded and searched (customer problem first, then the answer).
    pub body: String,
    /// For cases: the agent's resolving public reply (cleaned), the material a draft reuses.
    pub resolution: Option<String>,
    /// For cases: the first public agent reply (cleaned).
    pub first_reply: Option<String>,
    pub product: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub url: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    /// URLs linked in the agent's public replies (cases) or in the article body.
    pub linked_urls: Vec<String>,
    /// Article ids those URLs resolve to, when known at ingest time.
    pub linked_article_ids: Vec<i64>,
    /// Knowledge for agents only (an article in an agents-only or restricted folder): it may
    /// inform a draft and is listed among the note's sources, but is never linked in reply text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub agent_only: bool,
}
