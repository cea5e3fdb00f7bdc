//! Write side: private notes (where drafts go), note edits, public replies sent as an agent,
//! ticket updates (status, tags), and resolving an agent from their email. Implements
//! [`HelpdeskWrite`].
//!
//! Creation is not idempotent on Freshdesk, so a retry after an ambiguous failure (a 5xx, a
//! timeout, a reset, an unreadable 201: the write may have happened) first reads the ticket's
//! conversations and returns the one it already created. The match survives Freshdesk's HTML
//! rewriting (see `helpdesk::matching`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::transport::{Call, Inner};
use crate::domain::Conversation;
use crate::helpdesk::matching::PostedConversation;
use crate::helpdesk::write::{HelpdeskWrite, ReplyRequest, TicketUpdate};
use crate::helpdesk::{HelpdeskError, HelpdeskRead};

/// Write access to Freshdesk. Built from the same inner client as its reader.
#[derive(Clone)]
pub struct FreshdeskWriter {
    pub(crate) inner: Arc<Inner>,
}

/// One entry of `GET /agents?email=`: only the id is needed.
#[derive(Debug, Deserialize)]
struct ListedAgent {
    id: i64,
}

impl FreshdeskWriter {
    fn reader(&self) -> super::FreshdeskReader {
        super::FreshdeskReader {
            inner: self.inner.clone(),
        }
    }

    /// POSTs a new conversation. On a retry after an attempt that may have reached Freshdesk,
    /// the ticket's conversations are read first and the one described by `posted` is returned
    /// instead of posting a duplicate.
    async fn create(
        &self,
        endpoint: &'static str,
        ticket_id: i64,
        kind: &str,
        body: serde_json::Value,
        posted: PostedConversation<'_>,
    ) -> Result<Conversation, HelpdeskError> {
        let url = self.inner.url(&["tickets", &ticket_id.to_string(), kind]);
        let call = Call {
            method: Method::POST,
            body: Some(&body),
            ..Call::get(endpoint, url)
        };
        // Set when an attempt failed in a way that may have left the conversation created
        // (5xx, timeout, reset, unreadable 201); a 429 or a refused connection did not.
        let maybe_created = AtomicBool::new(false);
        // Set when the last attempt timed out: Freshdesk may still be applying it.
        let timed_out = AtomicBool::new(false);
        let private = posted.private;
        self.inner
            .config
            .retry
            .run(|_attempt| {
                let (call, maybe_created, posted) = (&call, &maybe_created, &posted);
                let timed_out = &timed_out;
                async move {
                    if timed_out.swap(false, Ordering::Relaxed) {
                        // A request that timed out may still be in flight on Freshdesk's side:
                        // give it as long again to land before looking for it, or the check
                        // misses it and the POST below makes a second one.
                        tokio::time::sleep(self.inner.config.timeout).await;
                    }
                    if maybe_created.load(Ordering::Relaxed) {
                        let conversations = self.reader().conversations(ticket_id).await?;
                        if let Some(existing) = posted.find_in(&conversations) {
                            tracing::info!(
                                ticket_id,
                                conversation_id = existing.id,
                                "conversation already posted by an earlier attempt"
                            );
                            return Ok(existing);
                        }
                    }
                    let (mut created, _): (Conversation, _) =
                        self.inner.attempt(call).await.inspect_err(|error| {
                            if matches!(
                                error,
                                HelpdeskError::Transient(_)
                                    | HelpdeskError::TimedOut(_)
                                    | HelpdeskError::Malformed(_)
                            ) {
                                maybe_created.store(true, Ordering::Relaxed);
                            }
                            if matches!(error, HelpdeskError::TimedOut(_)) {
                                timed_out.store(true, Ordering::Relaxed);
                            }
                        })?;
                    // Freshdesk's create responses omit some flags; fill in what we asked for.
                    created.private = private;
                    created.ticket_id = created.ticket_id.or(Some(ticket_id));
                    if created.source.is_none() {
                        created.source = Some(if kind == "notes" { 2 } else { 0 });
                    }
                    Ok(created)
                }
            })
            .await
    }
}

#[async_trait]
impl HelpdeskWrite for FreshdeskWriter {
    async fn create_private_note(
        &self,
        ticket_id: i64,
        body_html: &str,
        marker: &str,
    ) -> Result<Conversation, HelpdeskError> {
        let body = json!({ "body": body_html, "private": true });
        let posted = PostedConversation {
            body_html,
            private: true,
            marker: Some(marker),
            not_before: None,
        };
        self.create("POST /tickets/{id}/notes", ticket_id, "notes", body, posted)
            .await
    }

    async fn update_note(
        &self,
        conversation_id: i64,
        body_html: &str,
    ) -> Result<Conversation, HelpdeskError> {
        let url = self
            .inner
            .url(&["conversations", &conversation_id.to_string()]);
        let body = json!({ "body": body_html });
        let call = Call {
            method: Method::PUT,
            body: Some(&body),
            ..Call::get("PUT /conversations/{id}", url)
        };
        // PUT with the full body is idempotent: plain retries are safe.
        let (updated, _) = self.inner.call(&call).await?;
        Ok(updated)
    }

    async fn create_reply(&self, reply: &ReplyRequest) -> Result<Conversation, HelpdeskError> {
        let ticket_id = reply.ticket_id;
        let mut body = json!({ "body": reply.body_html });
        if let Some(agent_id) = reply.agent_id {
            body["user_id"] = json!(agent_id);
        }
        let posted = PostedConversation {
            body_html: &reply.body_html,
            private: false,
            marker: None,
            not_before: reply.not_before,
        };
        self.create("POST /tickets/{id}/reply", ticket_id, "reply", body, posted)
            .await
    }

    async fn update_ticket(
        &self,
        ticket_id: i64,
        update: &TicketUpdate,
    ) -> Result<Option<DateTime<Utc>>, HelpdeskError> {
        if update.is_empty() {
            return Ok(None);
        }
        let mut body = serde_json::Map::new();
        if let Some(status) = update.status {
            body.insert("status".into(), json!(status));
        }
        if let Some(tags) = &update.tags {
            body.insert("tags".into(), json!(tags));
        }
        let body = serde_json::Value::Object(body);
        let url = self.inner.url(&["tickets", &ticket_id.to_string()]);
        let call = Call {
            method: Method::PUT,
            body: Some(&body),
            ..Call::get("PUT /tickets/{id}", url)
        };
        // Setting fields to given values is idempotent: plain retries are safe.
        let (ticket, _): (serde_json::Value, _) = self.inner.call(&call).await?;
        Ok(ticket["updated_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc()))
    }

    async fn agent_id_by_email(&self, email: &str) -> Result<Option<i64>, HelpdeskError> {
        let mut url = self.inner.url(&["agents"]);
        url.query_pairs_mut().append_pair("email", email.trim());
        let (agents, _): (Vec<ListedAgent>, _) =
            self.inner.call(&Call::get("GET /agents", url)).await?;
        Ok(agents.first().map(|agent| agent.id))
    }

    async fn conversations_of(&self, ticket_id: i64) -> Result<Vec<Conversation>, HelpdeskError> {
        self.reader().conversations(ticket_id).await
    }
}
