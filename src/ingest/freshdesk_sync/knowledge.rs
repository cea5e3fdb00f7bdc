//! The knowledge side of a sync: solution articles (with portal links and folder visibility) and
//! canned responses, walked together because neither has an "updated since" filter. Items that
//! disappeared since the last walk leave the store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{SyncSummary, lock};
use crate::domain::DocumentKey;
use crate::helpdesk::{HelpdeskError, HelpdeskRead};
use crate::ingest::cases::{ArticleUrlIndex, document_from_article, document_from_canned_response};
use crate::ingest::pipeline::{Checkpoint, IngestError, SourceItem};
use crate::ingest::sync_state::{ArticleVersion, SyncState};

/// Items for the pipeline (documents, removals, then one checkpoint recording the walk) and the
/// URL index of the published articles, for resolving links in cases.
pub(super) async fn walk_knowledge(
    reader: &dyn HelpdeskRead,
    state: &Arc<Mutex<SyncState>>,
    started: DateTime<Utc>,
    summary: &mut SyncSummary,
) -> Result<(Vec<SourceItem>, ArticleUrlIndex), IngestError> {
    let articles = reader.articles().await?;
    summary.articles_walked = true;
    summary.articles_listed = articles.len();
    let versions: BTreeMap<i64, ArticleVersion> = articles
        .iter()
        .map(|a| {
            let version = ArticleVersion {
                updated_at: a.updated_at,
                url: a.url.clone(),
                published: a.is_published(),
            };
            (a.id, version)
        })
        .collect();
    let no_product_names = BTreeMap::new();
    let mut items = Vec::new();
    for article in &articles {
        items.push(match document_from_article(article, &no_product_names) {
            Some(document) => SourceItem::Document(Box::new(document)),
            None => SourceItem::Ineligible(DocumentKey::article(article.id)),
        });
    }
    let (gone_articles, previous_canned) = {
        let state = lock(state);
        let gone: Vec<i64> = state
            .articles
            .keys()
            .filter(|id| !versions.contains_key(id))
            .copied()
            .collect();
        (gone, state.canned_responses.clone())
    };
    summary.articles_removed = gone_articles.len();
    items.extend(
        gone_articles
            .iter()
            .map(|id| SourceItem::Ineligible(DocumentKey::article(*id))),
    );

    // Canned responses need an admin's key: without one they are skipped (and kept as they
    // were), not a reason to stop the sync.
    let canned = match reader.canned_responses().await {
        Ok(responses) => Some(responses),
        Err(HelpdeskError::Forbidden(reason)) => {
            tracing::warn!(%reason, "canned responses skipped: reading them needs an admin's API key");
            summary.canned_responses_skipped = Some(format!(
                "the API key's agent may not read canned responses (Freshdesk allows admins only): {reason}"
            ));
            None
        }
        Err(other) => return Err(other.into()),
    };
    let canned_versions = match canned {
        Some(responses) => {
            summary.canned_responses_listed = responses.len();
            let versions: BTreeMap<i64, DateTime<Utc>> =
                responses.iter().map(|r| (r.id, r.updated_at)).collect();
            for response in &responses {
                items.push(match document_from_canned_response(response) {
                    Some(document) => SourceItem::Document(Box::new(document)),
                    None => SourceItem::Ineligible(DocumentKey::canned_response(response.id)),
                });
            }
            let gone: Vec<i64> = previous_canned
                .keys()
                .filter(|id| !versions.contains_key(id))
                .copied()
                .collect();
            summary.canned_responses_removed = gone.len();
            items.extend(
                gone.into_iter()
                    .map(|id| SourceItem::Ineligible(DocumentKey::canned_response(id))),
            );
            versions
        }
        None => previous_canned,
    };

    let url_index = url_index_of_published(&versions);
    let for_checkpoint = Arc::clone(state);
    items.push(SourceItem::Checkpoint(Checkpoint::new(move || {
        let mut state = lock(&for_checkpoint);
        state.articles = versions;
        state.canned_responses = canned_versions;
        state.articles_walked_at = Some(started);
        Ok(state.save()?)
    })));
    Ok((items, url_index))
}

pub(super) fn url_index_of_published(articles: &BTreeMap<i64, ArticleVersion>) -> ArticleUrlIndex {
    let mut index = ArticleUrlIndex::default();
    for (id, version) in articles.iter().filter(|(_, v)| v.published) {
        index.insert(*id, version.url.as_deref());
    }
    index
}
