//! Write side: private notes (where drafts go), note edits, public replies. Implements
//! [`HelpdeskWrite`]. Creation is not idempotent on Freshdesk, so a retry after an ambiguous
//! failure first looks for the conversation it may already have created.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::json;

use super::transport::{Call, Inner};
use crate::domain::Conversation;
use crate::helpdesk::write::HelpdeskWrite;
use crate::helpdesk::{HelpdeskError, HelpdeskRead};

/// Write access to Freshdesk. Built from the same inner client as its reader.
#[derive(Clone)]
pub struct FreshdeskWriter {
    pub(crate) inner: Arc<Inner>,
}

impl FreshdeskWriter {
    fn reader(&self) -> super::FreshdeskReader {
        super::FreshdeskReader {
            inner: self.inner.clone(),
        }
    }

    /// POSTs a new conversation. On a retry (the previous attempt may have reached Freshdesk
    /// before failing) an existing conversation with the same body and visibility is returned
    /// instead of posting a duplicate.
    async fn create(
        &self,
        endpoint: &'static str,
        ticket_id: i64,
        kind: &str,
        body: serde_json::Value,
        body_html: &str,
        private: bool,
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
        self.inner
            .config
            .retry
            .run(|_attempt| {
                let (call, maybe_created) = (&call, &maybe_created);
                async move {
                    if maybe_created.load(Ordering::Relaxed)
                        && let Some(existing) =
                            self.find_posted(ticket_id, body_html, private).await?
                    {
                        tracing::info!(
                            ticket_id,
                            conversation_id = existing.id,
                            "conversation already posted by an earlier attempt"
                        );
                        return Ok(existing);
                    }
                    let (mut created, _): (Conversation, _) =
                        self.inner.attempt(call).await.inspect_err(|error| {
                            if matches!(
                                error,
                                HelpdeskError::Transient(_) | HelpdeskError::Malformed(_)
                            ) {
                                maybe_created.store(true, Ordering::Relaxed);
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

    async fn find_posted(
        &self,
        ticket_id: i64,
        body_html: &str,
        private: bool,
    ) -> Result<Option<Conversation>, HelpdeskError> {
        let conversations = self.reader().conversations(ticket_id).await?;
        Ok(conversations
            .into_iter()
            .rev()
            .find(|c| !c.incoming && c.private == private && c.body == body_html))
    }
}

#[async_trait]
impl HelpdeskWrite for FreshdeskWriter {
    async fn create_private_note(
        &self,
        ticket_id: i64,
        body_html: &str,
    ) -> Result<Conversation, HelpdeskError> {
        let body = json!({ "body": body_html, "private": true });
        self.create(
            "POST /tickets/{id}/notes",
            ticket_id,
            "notes",
            body,
            body_html,
            true,
        )
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

    async fn create_reply(
        &self,
        ticket_id: i64,
        body_html: &str,
    ) -> Result<Conversation, HelpdeskError> {
        let body = json!({ "body": body_html });
        self.create(
            "POST /tickets/{id}/reply",
            ticket_id,
            "reply",
            body,
            body_html,
            false,
        )
        .await
    }

    async fn notes(&self, ticket_id: i64) -> Result<Vec<Conversation>, HelpdeskError> {
        let conversations = self.reader().conversations(ticket_id).await?;
        Ok(conversations
            .into_iter()
            .filter(|c| c.private || c.source == Some(2))
            .collect())
    }
}
