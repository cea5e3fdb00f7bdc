//! Canned responses: the answers a team wrote for reuse. `GET /canned_response_folders` lists
//! folders (not paginated, no content); `GET /canned_response_folders/{id}/responses` pages the
//! full responses (`content`, `content_html`). Personal folders belong to one agent and are
//! skipped. These endpoints need an admin's key (403 otherwise): the caller decides whether
//! that stops a sync.

use serde::Deserialize;

use super::reader::FreshdeskReader;
use crate::domain::CannedResponse;
use crate::helpdesk::HelpdeskError;

#[derive(Debug, Clone, Deserialize)]
struct CannedResponseFolder {
    id: i64,
    #[serde(default)]
    personal: bool,
    #[serde(default)]
    responses_count: Option<u64>,
}

impl FreshdeskReader {
    /// Every canned response in the account's shared folders.
    pub(crate) async fn shared_canned_responses(
        &self,
    ) -> Result<Vec<CannedResponse>, HelpdeskError> {
        let url = self.inner.url(&["canned_response_folders"]);
        let folders: Vec<CannedResponseFolder> = self
            .inner
            .call(&super::transport::Call::get(
                "GET /canned_response_folders",
                url,
            ))
            .await?
            .0;
        let per_page = self.inner.config.per_page.to_string();
        let mut responses = Vec::new();
        for folder in folders
            .iter()
            .filter(|f| !f.personal && f.responses_count != Some(0))
        {
            let mut url = self.inner.url(&[
                "canned_response_folders",
                &folder.id.to_string(),
                "responses",
            ]);
            url.query_pairs_mut().append_pair("per_page", &per_page);
            let page: Vec<CannedResponse> = self
                .inner
                .get_all("GET /canned_response_folders/{id}/responses", url)
                .await?;
            responses.extend(page.into_iter().map(|mut response| {
                response.folder_id = response.folder_id.or(Some(folder.id));
                response
            }));
        }
        Ok(responses)
    }
}
