//! What the console shows instead of ids, cached: product and agent names (`GET /products`,
//! `GET /agents`, refreshed every 15 minutes) and requesters (`GET /contacts/{id}`, kept an
//! hour). A page never waits on Freshdesk for more than [`LOOKUP_BUDGET`]: past it, or when
//! Freshdesk fails, the page shows the id and the lookup is tried again a minute later. Also
//! where tickets and reports live.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpdesk::{Contact, HelpdeskError, HelpdeskRead};

/// Longest a page waits for a name lookup.
const LOOKUP_BUDGET: Duration = Duration::from_secs(2);
/// How long product and agent names hold before they are read again.
const DIRECTORY_FRESH: Duration = Duration::from_secs(15 * 60);
const CONTACT_FRESH: Duration = Duration::from_secs(60 * 60);
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

struct Cached<T> {
    value: Option<T>,
    /// When the value (or the failure) was seen, and how long that holds.
    checked: Option<(Instant, Duration)>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self {
            value: None,
            checked: None,
        }
    }
}

impl<T> Cached<T> {
    fn fresh(&self) -> bool {
        self.checked.is_some_and(|(at, holds)| at.elapsed() < holds)
    }
}

/// Shared by the console's handlers.
#[derive(Default)]
pub struct ConsoleContext {
    /// `https://acme.freshdesk.com/a/tickets/`: a ticket's id appended opens it in Freshdesk.
    pub ticket_url_prefix: Option<String>,
    /// The folder of the latest `deskdraft simulate --out` (its `summary.json`, `report.html`).
    pub report_dir: Option<PathBuf>,
    products: tokio::sync::Mutex<Cached<Arc<HashMap<String, String>>>>,
    agents: tokio::sync::Mutex<Cached<Arc<HashMap<String, String>>>>,
    contacts: tokio::sync::Mutex<HashMap<i64, Cached<Contact>>>,
}

impl ConsoleContext {
    pub fn new(ticket_url_prefix: Option<String>, report_dir: Option<PathBuf>) -> Self {
        Self {
            ticket_url_prefix,
            report_dir,
            ..Self::default()
        }
    }

    /// The agent's URL of a ticket in Freshdesk, when the account is known.
    pub fn ticket_url(&self, ticket_id: i64) -> Option<String> {
        self.ticket_url_prefix
            .as_ref()
            .map(|prefix| format!("{prefix}{ticket_id}"))
    }

    /// Product key (id as text) -> name; empty when Freshdesk has none or cannot say.
    pub async fn product_names(&self, read: &dyn HelpdeskRead) -> Arc<HashMap<String, String>> {
        directory_names(&self.products, "product", async {
            read.products()
                .await
                .map(|products| products.into_iter().map(|p| (p.id, p.name)).collect())
        })
        .await
    }

    /// Agent id (as text) -> name; empty when Freshdesk cannot say (listing agents needs an
    /// admin's key: the console then shows "agent {id}").
    pub async fn agent_names(&self, read: &dyn HelpdeskRead) -> Arc<HashMap<String, String>> {
        directory_names(&self.agents, "agent", async {
            read.agents()
                .await
                .map(|agents| agents.into_iter().map(|a| (a.id, a.name)).collect())
        })
        .await
    }

    /// A ticket's requester, when Freshdesk can say within the budget.
    pub async fn contact(&self, read: &dyn HelpdeskRead, contact_id: i64) -> Option<Contact> {
        {
            let contacts = self.contacts.lock().await;
            if let Some(cached) = contacts.get(&contact_id).filter(|c| c.fresh()) {
                return cached.value.clone();
            }
        }
        let looked_up = tokio::time::timeout(LOOKUP_BUDGET, read.contact(contact_id)).await;
        let mut contacts = self.contacts.lock().await;
        let entry = contacts.entry(contact_id).or_default();
        match looked_up {
            Ok(Ok(contact)) => {
                entry.value = Some(contact);
                entry.checked = Some((Instant::now(), CONTACT_FRESH));
            }
            _ => entry.checked = Some((Instant::now(), RETRY_AFTER_FAILURE)),
        }
        entry.value.clone()
    }
}

/// Id (as text) -> name of a directory (products, agents), read at most every
/// [`DIRECTORY_FRESH`] and within [`LOOKUP_BUDGET`]; the ids are shown while it cannot be read.
async fn directory_names(
    cache: &tokio::sync::Mutex<Cached<Arc<HashMap<String, String>>>>,
    what: &'static str,
    lookup: impl std::future::Future<Output = Result<Vec<(i64, String)>, HelpdeskError>>,
) -> Arc<HashMap<String, String>> {
    let mut cached = cache.lock().await;
    if !cached.fresh() {
        match tokio::time::timeout(LOOKUP_BUDGET, lookup).await {
            Ok(Ok(entries)) => {
                let names = entries
                    .into_iter()
                    .filter(|(_, name)| !name.trim().is_empty())
                    .map(|(id, name)| (id.to_string(), name))
                    .collect();
                cached.value = Some(Arc::new(names));
                cached.checked = Some((Instant::now(), DIRECTORY_FRESH));
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, what, "console: names unavailable; showing ids");
                cached.checked = Some((Instant::now(), RETRY_AFTER_FAILURE));
            }
            Err(_) => {
                tracing::warn!(what, "console: names took too long; showing ids");
                cached.checked = Some((Instant::now(), RETRY_AFTER_FAILURE));
            }
        }
    }
    cached.value.clone().unwrap_or_default()
}

/// An agent's name, else "agent {id}", else "unknown agent".
pub fn agent_label(names: &HashMap<String, String>, agent: &str) -> String {
    if agent == "(unknown)" {
        return "unknown agent".to_string();
    }
    names
        .get(agent)
        .cloned()
        .unwrap_or_else(|| format!("agent {agent}"))
}

/// A product's name, else "product {id}" (never a bare id), else "no product".
pub fn product_label(names: &HashMap<String, String>, product: Option<&str>) -> String {
    match product {
        Some(key) => names
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("product {key}")),
        None => "no product".to_string(),
    }
}
