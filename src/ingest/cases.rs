//! Turns helpdesk records into indexable documents: a resolved ticket becomes a "case" (the
//! customer's problem and the agent's public answers), a published article becomes a KB document.
//!
//! Private notes never enter a document: they may hold internal information and must not surface
//! in a draft a customer could read.

use std::collections::{BTreeMap, HashMap};

use crate::domain::{Article, CannedResponse, DocumentKey, IndexedDocument, Ticket, product_key};
use crate::ingest::clean::{clean_message_html, extract_urls};
use crate::ingest::language::detect_language;

/// Maps URLs found in agent replies to known article ids, so a case records which article
/// resolved it. Freshdesk article links `/support/solutions/articles/{id}[-slug]` match by id.
#[derive(Debug, Default, Clone)]
pub struct ArticleUrlIndex {
    by_url: HashMap<String, i64>,
    known_ids: std::collections::HashSet<i64>,
}

/// Normalise a URL for matching: no scheme, no `www.`, no trailing slash or fragment.
pub fn normalize_url(url: &str) -> String {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let lower = without_fragment
        .trim()
        .trim_end_matches('/')
        .to_ascii_lowercase();
    let without_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    without_scheme
        .strip_prefix("www.")
        .unwrap_or(without_scheme)
        .to_string()
}

/// The article id in a Freshdesk solution-article link, if the URL is one.
pub fn freshdesk_article_id(url: &str) -> Option<i64> {
    let (_, rest) = url.split_once("/support/solutions/articles/")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

impl ArticleUrlIndex {
    pub fn insert(&mut self, article_id: i64, url: Option<&str>) {
        self.known_ids.insert(article_id);
        if let Some(url) = url {
            self.by_url.insert(normalize_url(url), article_id);
        }
    }

    pub fn len(&self) -> usize {
        self.known_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known_ids.is_empty()
    }

    /// The article a link points to, by exact URL or by Freshdesk article id.
    pub fn resolve(&self, url: &str) -> Option<i64> {
        if let Some(id) = self.by_url.get(&normalize_url(url)) {
            return Some(*id);
        }
        freshdesk_article_id(url).filter(|id| self.known_ids.contains(id))
    }

    /// Known article ids linked from these URLs, deduplicated, in order of first appearance.
    pub fn resolve_all(&self, urls: &[String]) -> Vec<i64> {
        let mut ids = Vec::new();
        for url in urls {
            if let Some(id) = self.resolve(url)
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        ids
    }
}

/// Text of a message: the cleaned HTML body, or the plain-text field when the body is empty.
fn message_text(html: &str, text: Option<&str>) -> String {
    clean_message_html(html, text)
}

/// What the customer said before the first public agent reply: subject, description and early
/// follow-ups. This is exactly what a draft for a new ticket may see.
pub fn customer_problem_text(ticket: &Ticket) -> String {
    let mut parts = Vec::new();
    let subject = ticket.subject.trim();
    let description = message_text(&ticket.description, ticket.description_text.as_deref());
    // Subjects derived from the first words of the message ("when can we pre order...") add
    // nothing but a duplicate of the description's start.
    let subject_stem = subject.trim_end_matches("...").trim_end_matches('…').trim();
    let subject_is_prefix = !subject_stem.is_empty() && description.starts_with(subject_stem);
    if !subject.is_empty() && !subject_is_prefix {
        parts.push(subject.to_string());
    }
    if !description.is_empty() {
        parts.push(description);
    }
    for message in ticket.customer_messages_before_first_reply() {
        let text = message_text(&message.body, message.body_text.as_deref());
        if !text.is_empty() {
            parts.push(text);
        }
    }
    parts.join("\n\n")
}

/// The reply that resolved the case: the last one that links somewhere (agents resolve by
/// pointing to an article), otherwise the most substantial one. The last reply alone is often a
/// pleasantry ("Glad it works now!") and useless to reuse.
pub fn resolving_reply(replies: &[String]) -> Option<&str> {
    replies
        .iter()
        .rev()
        .find(|reply| !extract_urls(reply).is_empty())
        .or_else(|| replies.iter().max_by_key(|reply| reply.chars().count()))
        .map(String::as_str)
}

/// A resolved ticket as a case; `None` for tickets that are not resolved, are spam or deleted,
/// or have no public agent answer to learn from.
pub fn case_from_ticket(ticket: &Ticket, articles: &ArticleUrlIndex) -> Option<IndexedDocument> {
    if !ticket.status().is_resolved() || ticket.spam || ticket.deleted {
        return None;
    }
    let replies: Vec<String> = ticket
        .public_agent_replies()
        .map(|reply| message_text(&reply.body, reply.body_text.as_deref()))
        .filter(|text| !text.is_empty())
        .collect();
    if replies.is_empty() {
        return None;
    }
    let problem = customer_problem_text(ticket);
    // Later customer turns add detail a similar future ticket may share.
    let later_customer_turns: Vec<String> = ticket
        .conversations
        .iter()
        .skip_while(|c| !c.is_public_agent_reply())
        .filter(|c| c.incoming && !c.private)
        .map(|c| message_text(&c.body, c.body_text.as_deref()))
        .filter(|text| !text.is_empty())
        .collect();
    let mut body = format!("Customer: {problem}");
    for (index, reply) in replies.iter().enumerate() {
        body.push_str("\n\nAgent: ");
        body.push_str(reply);
        if let Some(turn) = later_customer_turns.get(index) {
            body.push_str("\n\nCustomer: ");
            body.push_str(turn);
        }
    }
    let linked_urls: Vec<String> = {
        let mut urls = Vec::new();
        for reply in &replies {
            for url in extract_urls(reply) {
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
        urls
    };
    let linked_article_ids = articles.resolve_all(&linked_urls);
    Some(IndexedDocument {
        key: DocumentKey::case(ticket.id),
        title: ticket.subject.trim().to_string(),
        language: detect_language(&problem),
        body,
        first_reply: replies.first().cloned(),
        resolution: resolving_reply(&replies).map(str::to_string),
        product: product_key(ticket.product_id),
        created_at: ticket.created_at,
        updated_at: ticket.updated_at,
        url: None,
        tags: ticket.tags.clone(),
        linked_urls,
        linked_article_ids,
        agent_only: false,
    })
}

/// The product of an article: its own `product_id`, else a tag that names a product in the
/// bundle's `meta.json` (bundles exported from several brands tag articles with the brand).
pub fn article_product(
    article: &Article,
    product_names: &BTreeMap<String, String>,
) -> Option<String> {
    if let Some(product) = product_key(article.product_id) {
        return Some(product);
    }
    article.tags.iter().find_map(|tag| {
        product_names
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(tag))
            .map(|(id, _)| id.clone())
    })
}

/// A published article as a KB document; drafts are never indexed.
pub fn document_from_article(
    article: &Article,
    product_names: &BTreeMap<String, String>,
) -> Option<IndexedDocument> {
    if !article.is_published() {
        return None;
    }
    let text = message_text(&article.description, article.description_text.as_deref());
    let title = article.title.trim().to_string();
    let body = if text.starts_with(&title) {
        text.clone()
    } else {
        format!("{title}\n\n{text}")
    };
    let mut linked_urls = extract_urls(&text);
    if let Some(url) = &article.url {
        linked_urls.retain(|u| u != url);
    }
    Some(IndexedDocument {
        key: DocumentKey::article(article.id),
        language: detect_language(&text),
        title,
        body,
        resolution: None,
        first_reply: None,
        product: article_product(article, product_names),
        created_at: article.created_at,
        updated_at: article.updated_at,
        url: article.url.clone(),
        tags: article.tags.clone(),
        linked_urls,
        linked_article_ids: vec![],
        agent_only: !article.customer_visible(),
    })
}

/// Liquid placeholders (`{{ticket.requester.name}}`, `{{ ticket.agent.name }}`) as visible
/// bracketed placeholders (`[requester name]`) an agent fills in: a reply sent through the API is
/// never rendered by Freshdesk, so a raw placeholder would reach the customer as typed.
pub fn visible_placeholders(text: &str) -> String {
    static PLACEHOLDER: once_cell::sync::Lazy<regex::Regex> = once_cell::sync::Lazy::new(|| {
        regex::Regex::new(r"\{\{\s*([A-Za-z0-9_.]+)\s*(?:\|[^}]*)?\}\}")
            .expect("placeholder pattern")
    });
    PLACEHOLDER
        .replace_all(text, |captures: &regex::Captures<'_>| {
            let name = captures[1]
                .trim_start_matches("ticket.")
                .replace(['.', '_'], " ");
            format!("[{}]", name.trim())
        })
        .into_owned()
}

/// A canned response as knowledge: its title and text, placeholders made visible. It has no URL
/// and belongs to no product; an empty one is not indexed.
pub fn document_from_canned_response(response: &CannedResponse) -> Option<IndexedDocument> {
    let text = visible_placeholders(&message_text(
        &response.content_html,
        Some(response.content.as_str()).filter(|c| !c.trim().is_empty()),
    ));
    if text.trim().is_empty() {
        return None;
    }
    let title = response.title.trim().to_string();
    let body = if title.is_empty() || text.starts_with(&title) {
        text.clone()
    } else {
        format!("{title}\n\n{text}")
    };
    Some(IndexedDocument {
        key: DocumentKey::canned_response(response.id),
        language: detect_language(&text),
        title,
        body,
        resolution: None,
        first_reply: None,
        product: None,
        created_at: response.created_at,
        updated_at: response.updated_at,
        url: None,
        tags: Vec::new(),
        linked_urls: extract_urls(&text),
        linked_article_ids: vec![],
        agent_only: false,
    })
}

#[cfg(test)]
mod canned_response_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn canned_responses_keep_their_placeholders_visible() {
        assert_eq!(
            visible_placeholders("Hi {{ticket.requester.name}}, I am {{ ticket.agent.name }}."),
            "Hi [requester name], I am [agent name]."
        );
        assert_eq!(
            visible_placeholders(
                "{{ticket.requester.firstname | default: 'there'}} {{helpdesk_name}}"
            ),
            "[requester firstname] [helpdesk name]"
        );
        let at = chrono::Utc.with_ymd_and_hms(2025, 5, 1, 0, 0, 0).unwrap();
        let response = CannedResponse {
            id: 7,
            title: "Refund timeline".into(),
            folder_id: Some(2),
            content: "Hi {{ticket.requester.name}}, refunds take 5 business days.".into(),
            content_html: "<div>Hi {{ticket.requester.name}}, refunds take 5 business days.</div>"
                .into(),
            created_at: at,
            updated_at: at,
        };
        let document = document_from_canned_response(&response).expect("indexed");
        assert_eq!(document.key, DocumentKey::canned_response(7));
        assert!(
            document
                .body
                .starts_with("Refund timeline\n\nHi [requester name], refunds")
        );
        assert!(document.url.is_none() && !document.agent_only);
        let empty = CannedResponse {
            content: " ".into(),
            content_html: "<div> </div>".into(),
            ..response
        };
        assert!(document_from_canned_response(&empty).is_none());
    }
}
