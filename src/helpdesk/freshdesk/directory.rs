//! Names the review console shows instead of ids: products (`GET /products`, paginated with
//! `Link`; `id`, `name`), agents (`GET /agents`, the same, admins' keys only; the name under
//! `contact`) and a ticket's requester (`GET /contacts/{id}`: `name`, `email`). Each
//! costs one credit a page; the console caches what it reads.

use super::reader::FreshdeskReader;
use crate::helpdesk::{Agent, Contact, HelpdeskError, Product};

impl FreshdeskReader {
    pub(crate) async fn list_products(&self) -> Result<Vec<Product>, HelpdeskError> {
        let mut url = self.inner.url(&["products"]);
        url.query_pairs_mut().append_pair("per_page", "100");
        self.inner.get_all("GET /products", url).await
    }

    pub(crate) async fn list_agents(&self) -> Result<Vec<Agent>, HelpdeskError> {
        let mut url = self.inner.url(&["agents"]);
        url.query_pairs_mut().append_pair("per_page", "100");
        self.inner.get_all("GET /agents", url).await
    }

    pub(crate) async fn read_contact(&self, contact_id: i64) -> Result<Contact, HelpdeskError> {
        let url = self.inner.url(&["contacts", &contact_id.to_string()]);
        let (contact, _) = self
            .inner
            .call(&super::transport::Call::get("GET /contacts/{id}", url))
            .await?;
        Ok(contact)
    }
}
