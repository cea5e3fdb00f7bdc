//! Read side: tickets (incremental sync past the 300-page cap), conversations, archived tickets,
//! the trash and spam lists, the agent behind the key, and (in `solutions.rs` and `canned.rs`)
//! the knowledge base and canned responses. Implements [`HelpdeskRead`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::transport::{Call, Inner};
use super::wire::next_link;
use crate::domain::{Article, CannedResponse, Conversation, Ticket};
use crate::helpdesk::{HelpdeskError, HelpdeskRead, RemovedTickets};

/// Credits of `GET /tickets?include=description`: 1 + 2 per include.
const LIST_WITH_DESCRIPTION_COST: u32 = 3;

/// Whether list pages carry the description (`include=description`, 3 credits a page) or only
/// the ticket's fields (1 credit): enough to see what changed. `Removed` lists the trash or the
/// spam folder (`filter=deleted|spam`), fields only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    WithDescription,
    FieldsOnly,
    Removed(&'static str),
}

/// The agent whose API key is in use (`GET /agents/me`); name and email sit under `contact`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Agent {
    pub id: i64,
    #[serde(rename = "type", default)]
    pub agent_type: Option<String>,
    #[serde(default)]
    pub contact: Option<AgentContact>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AgentContact {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Read-only Freshdesk access. Cheap to clone; shares pacing and counters with its writer.
#[derive(Clone)]
pub struct FreshdeskReader {
    pub(crate) inner: Arc<Inner>,
}

impl FreshdeskReader {
    /// One ticket without conversations.
    pub async fn ticket(&self, ticket_id: i64) -> Result<Ticket, HelpdeskError> {
        let url = self.inner.url(&["tickets", &ticket_id.to_string()]);
        let (ticket, _) = self
            .inner
            .call(&Call::get("GET /tickets/{id}", url))
            .await?;
        Ok(ticket)
    }

    /// The agent behind the API key; a cheap credentials check at startup.
    pub async fn me(&self) -> Result<Agent, HelpdeskError> {
        let url = self.inner.url(&["agents", "me"]);
        let (agent, _) = self.inner.call(&Call::get("GET /agents/me", url)).await?;
        Ok(agent)
    }

    fn list_url(&self, since: DateTime<Utc>, page: u32, listing: Listing) -> url::Url {
        let mut url = self.inner.url(&["tickets"]);
        url.query_pairs_mut()
            .append_pair(
                "updated_since",
                &since.to_rfc3339_opts(SecondsFormat::Secs, true),
            )
            .append_pair("order_by", "updated_at")
            .append_pair("order_type", "asc")
            .append_pair("per_page", &self.inner.config.per_page.to_string());
        match listing {
            Listing::WithDescription => {
                url.query_pairs_mut().append_pair("include", "description");
            }
            Listing::Removed(filter) => {
                url.query_pairs_mut().append_pair("filter", filter);
            }
            Listing::FieldsOnly => {}
        }
        url.query_pairs_mut().append_pair("page", &page.to_string());
        url
    }

    /// One sweep of pages from `since` (at most `max_list_pages`). Returns whether the page cap
    /// stopped it before the end.
    async fn sweep(
        &self,
        since: DateTime<Utc>,
        listing: Listing,
        collected: &mut Collected,
    ) -> Result<bool, HelpdeskError> {
        let max_pages = self.inner.config.max_list_pages;
        let mut url = self.list_url(since, 1, listing);
        let mut page_number = 1u32;
        loop {
            let call = Call {
                cost: if listing == Listing::WithDescription {
                    LIST_WITH_DESCRIPTION_COST
                } else {
                    1
                },
                ticket_list: true,
                ..Call::get("GET /tickets", url.clone())
            };
            let (page, headers): (Vec<Ticket>, _) = self.inner.call(&call).await?;
            let empty = page.is_empty();
            for ticket in page {
                collected.add(ticket);
            }
            let Some(next) = next_link(&headers).filter(|_| !empty) else {
                return Ok(false);
            };
            let next_page = page_of(&next).unwrap_or(page_number + 1);
            if next_page > max_pages || page_number >= max_pages {
                return Ok(true);
            }
            url = self.inner.same_origin(&url, next);
            page_number = next_page;
        }
    }
}

/// `page` query value of a URL.
fn page_of(url: &url::Url) -> Option<u32> {
    url.query_pairs()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
}

/// Tickets seen so far, deduplicated by id (a later, newer version replaces an older one).
#[derive(Default)]
struct Collected {
    by_id: HashMap<i64, usize>,
    tickets: Vec<Ticket>,
    newest: Option<DateTime<Utc>>,
}

impl Collected {
    fn add(&mut self, ticket: Ticket) {
        self.newest = Some(
            self.newest
                .map_or(ticket.updated_at, |n| n.max(ticket.updated_at)),
        );
        match self.by_id.get(&ticket.id) {
            Some(&index) => {
                if ticket.updated_at >= self.tickets[index].updated_at {
                    self.tickets[index] = ticket;
                }
            }
            None => {
                self.by_id.insert(ticket.id, self.tickets.len());
                self.tickets.push(ticket);
            }
        }
    }
}

#[async_trait]
impl HelpdeskRead for FreshdeskReader {
    async fn ticket_with_conversations(&self, ticket_id: i64) -> Result<Ticket, HelpdeskError> {
        let mut ticket = self.ticket(ticket_id).await?;
        ticket.conversations = self.conversations(ticket_id).await?;
        Ok(ticket)
    }

    /// `order_by=updated_at&order_type=asc&updated_since=T&per_page=100&include=description`,
    /// following `Link`. The list serves at most `max_list_pages` pages; at the cap the sweep
    /// restarts with `updated_since` = the newest `updated_at` seen (inclusive, so ties come
    /// back and are deduplicated by id).
    async fn tickets_updated_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, HelpdeskError> {
        self.list_updated_since(since, Listing::WithDescription)
            .await
    }

    async fn ticket_fields_updated_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, HelpdeskError> {
        self.list_updated_since(since, Listing::FieldsOnly).await
    }

    async fn conversations(&self, ticket_id: i64) -> Result<Vec<Conversation>, HelpdeskError> {
        let mut url = self
            .inner
            .url(&["tickets", &ticket_id.to_string(), "conversations"]);
        url.query_pairs_mut()
            .append_pair("per_page", &self.inner.config.per_page.to_string());
        self.inner
            .get_all("GET /tickets/{id}/conversations", url)
            .await
    }

    async fn articles(&self) -> Result<Vec<Article>, HelpdeskError> {
        self.walk_articles(None).await
    }

    /// `GET /tickets/archived/{id}` (404: not an archived ticket) and its conversations.
    async fn archived_ticket(&self, ticket_id: i64) -> Result<Option<Ticket>, HelpdeskError> {
        let id = ticket_id.to_string();
        let url = self.inner.url(&["tickets", "archived", &id]);
        let mut ticket: Ticket = match self
            .inner
            .call(&Call::get("GET /tickets/archived/{id}", url))
            .await
        {
            Ok((ticket, _)) => ticket,
            Err(HelpdeskError::NotFound(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        let mut url = self
            .inner
            .url(&["tickets", "archived", &id, "conversations"]);
        url.query_pairs_mut()
            .append_pair("per_page", &self.inner.config.per_page.to_string());
        ticket.conversations = self
            .inner
            .get_all("GET /tickets/archived/{id}/conversations", url)
            .await?;
        ticket.archived = true;
        Ok(Some(ticket))
    }

    /// `GET /tickets?filter=deleted` and `?filter=spam` (1 credit a page, Tickets List
    /// sub-limit), past the 300-page cap like the main list.
    async fn removed_ticket_ids(&self) -> Result<RemovedTickets, HelpdeskError> {
        let since = DateTime::<Utc>::UNIX_EPOCH;
        let deleted = self
            .list_updated_since(since, Listing::Removed("deleted"))
            .await?;
        let spam = self
            .list_updated_since(since, Listing::Removed("spam"))
            .await?;
        Ok(RemovedTickets {
            deleted: deleted.into_iter().map(|t| t.id).collect(),
            spam: spam.into_iter().map(|t| t.id).collect(),
        })
    }

    async fn canned_responses(&self) -> Result<Vec<CannedResponse>, HelpdeskError> {
        self.shared_canned_responses().await
    }

    async fn products(&self) -> Result<Vec<crate::helpdesk::Product>, HelpdeskError> {
        self.list_products().await
    }

    async fn agents(&self) -> Result<Vec<crate::helpdesk::Agent>, HelpdeskError> {
        self.list_agents().await
    }

    async fn contact(&self, contact_id: i64) -> Result<crate::helpdesk::Contact, HelpdeskError> {
        self.read_contact(contact_id).await
    }

    async fn check_access(&self) -> Result<(), HelpdeskError> {
        self.me().await.map(|_| ())
    }
}

impl FreshdeskReader {
    async fn list_updated_since(
        &self,
        since: DateTime<Utc>,
        listing: Listing,
    ) -> Result<Vec<Ticket>, HelpdeskError> {
        let mut collected = Collected::default();
        let mut cursor = since;
        loop {
            let capped = self.sweep(cursor, listing, &mut collected).await?;
            if !capped {
                break;
            }
            let newest = collected.newest.unwrap_or(cursor);
            if newest <= cursor {
                return Err(HelpdeskError::Permanent(format!(
                    "more than {} tickets share updated_at {cursor}; the list cannot page past them",
                    u64::from(self.inner.config.max_list_pages)
                        * u64::from(self.inner.config.per_page)
                )));
            }
            tracing::info!(%newest, fetched = collected.tickets.len(), "ticket list page cap reached; restarting from the newest updated_at");
            cursor = newest;
        }
        let mut tickets = collected.tickets;
        tickets.sort_by_key(|t| (t.updated_at, t.id));
        Ok(tickets)
    }
}
