//! Turns on-disk sources (a bundle folder, a knowledge folder) into the stream of
//! [`SourceItem`]s the pipeline indexes: articles first (so cases can resolve the article links in
//! their answers), then canned responses, then tickets, streamed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::cases::{
    ArticleUrlIndex, case_from_ticket, document_from_article, document_from_canned_response,
};
use super::pipeline::{IngestError, SourceItem};
use crate::domain::{Article, DocumentKey};
use crate::helpdesk::bundle::Bundle;

/// Counts bad lines skipped under `--skip-invalid`.
#[derive(Debug, Default, Clone)]
pub struct InvalidLineCounter(Arc<AtomicU64>);

impl InvalidLineCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every article of the bundle (if any) and of the extra knowledge folders.
pub fn collect_articles(
    bundle: Option<&Bundle>,
    extra: Vec<Article>,
    skip_invalid: bool,
    invalid: &InvalidLineCounter,
) -> Result<Vec<Article>, IngestError> {
    let mut articles = Vec::new();
    if let Some(reader) = bundle.map(Bundle::articles).transpose()?.flatten() {
        for article in reader {
            match article {
                Ok(article) => articles.push(article),
                Err(error) if skip_invalid => {
                    tracing::warn!(%error, "skipping invalid article line");
                    invalid.increment();
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    articles.extend(extra);
    Ok(articles)
}

/// Index of article URLs to ids (published articles only: a draft must not link a draft article).
pub fn article_url_index(articles: &[Article]) -> ArticleUrlIndex {
    let mut index = ArticleUrlIndex::default();
    for article in articles.iter().filter(|a| a.is_published()) {
        index.insert(article.id, article.url.as_deref());
    }
    index
}

/// The full item stream: articles, then the bundle's tickets as cases.
pub fn source_items(
    bundle: Option<Bundle>,
    articles: Vec<Article>,
    product_names: BTreeMap<String, String>,
    skip_invalid: bool,
    invalid: InvalidLineCounter,
) -> Result<impl Iterator<Item = Result<SourceItem, IngestError>> + Send + 'static, IngestError> {
    let url_index = Arc::new(article_url_index(&articles));
    let article_items = articles.into_iter().map(move |article| {
        Ok(match document_from_article(&article, &product_names) {
            Some(document) => SourceItem::Document(Box::new(document)),
            None => SourceItem::Ineligible(DocumentKey::article(article.id)),
        })
    });
    let canned = bundle
        .as_ref()
        .map(Bundle::canned_responses)
        .transpose()?
        .flatten();
    let canned_invalid = invalid.clone();
    let canned_items = canned
        .into_iter()
        .flatten()
        .filter_map(move |response| match response {
            Ok(response) => Some(Ok(match document_from_canned_response(&response) {
                Some(document) => SourceItem::Document(Box::new(document)),
                None => SourceItem::Ineligible(DocumentKey::canned_response(response.id)),
            })),
            Err(error) if skip_invalid => {
                tracing::warn!(%error, "skipping invalid canned response line");
                canned_invalid.increment();
                None
            }
            Err(error) => Some(Err(error.into())),
        });
    let tickets = bundle.map(|b| b.tickets()).transpose()?;
    let ticket_items = tickets
        .into_iter()
        .flatten()
        .filter_map(move |ticket| match ticket {
            Ok(ticket) => Some(Ok(match case_from_ticket(&ticket, &url_index) {
                Some(document) => SourceItem::Document(Box::new(document)),
                None => SourceItem::Ineligible(DocumentKey::case(ticket.id)),
            })),
            Err(error) if skip_invalid => {
                tracing::warn!(%error, "skipping invalid ticket line");
                invalid.increment();
                None
            }
            Err(error) => Some(Err(error.into())),
        });
    Ok(article_items.chain(canned_items).chain(ticket_items))
}
