//! Owns retrieval: the hybrid (dense + BM25, RRF-fused) search for similar past cases and
//! articles, with product, as-of and self-exclusion filters, and the fusion of case evidence into
//! article ranking (an article that resolved similar past cases ranks high even when its own text
//! is a poor lexical match).

mod fusion;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use fusion::{ArticleEvidence, group_by_document, rank_articles};

use crate::config::RetrievalConfig;
use crate::domain::{DocumentKey, SourceType};
use crate::embed::{DenseEmbedder, EmbedError, SparseEncoder};
use crate::store::{HybridQuery, QueryFilter, StoreError, VectorStore};

#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to search for and under which restrictions.
#[derive(Debug, Clone, Default)]
pub struct RetrievalRequest {
    /// The customer's problem as the agent saw it.
    pub query_text: String,
    pub product: Option<String>,
    /// Only knowledge created strictly before this instant (replay of a past ticket).
    pub as_of: Option<DateTime<Utc>>,
    /// The ticket's own thread, never a source for itself.
    pub exclude: Vec<DocumentKey>,
}

/// One retrieved document (a past case or an article), ready to show and to draft from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetrievedSource {
    pub source_type: SourceType,
    pub id: i64,
    pub title: String,
    pub url: Option<String>,
    /// Best-matching chunk text.
    pub snippet: String,
    /// Rank score within its kind (higher is better; comparable only within one result).
    pub score: f32,
    /// Cosine similarity of the best chunk to the query, 0..1 in practice.
    pub similarity: f32,
    pub created_at: DateTime<Utc>,
    pub product: Option<String>,
    pub language: Option<String>,
    /// Cases: the agent's first and resolving public replies.
    pub first_reply: Option<String>,
    pub resolution: Option<String>,
    pub linked_article_ids: Vec<i64>,
    /// Articles: how many of the retrieved cases linked it.
    pub supporting_cases: usize,
    /// Agents-only knowledge: may inform a draft, never linked in reply text.
    #[serde(default)]
    pub agent_only: bool,
    /// When the document last changed (an article edited after a case that contradicts it is
    /// the one to trust). `None` in records written before it was kept.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl RetrievedSource {
    pub fn key(&self) -> DocumentKey {
        DocumentKey {
            source_type: self.source_type,
            id: self.id,
        }
    }

    /// Age in whole days at `now`.
    pub fn age_days(&self, now: DateTime<Utc>) -> i64 {
        (now - self.created_at).num_days().max(0)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RetrievalResult {
    pub cases: Vec<RetrievedSource>,
    pub articles: Vec<RetrievedSource>,
    pub embed_millis: f64,
    pub search_millis: f64,
}

/// Title, URL and dates of every article, so an article that similar cases linked can be shown
/// even when its own text was not among the search hits.
#[derive(Debug, Clone, Default)]
pub struct ArticleCatalog {
    articles: HashMap<i64, RetrievedSource>,
    /// Normalised URLs of agents-only articles: a link to one never reaches a customer.
    agent_only_urls: std::collections::HashSet<String>,
    /// When each article was linked by a resolved case (sorted), for a leak-free popularity prior.
    link_times: HashMap<i64, Vec<DateTime<Utc>>>,
}

impl ArticleCatalog {
    pub async fn load(store: &dyn VectorStore) -> Result<Self, StoreError> {
        let mut articles = HashMap::new();
        for (_, payload) in store.scroll_payloads(SourceType::Article).await? {
            if payload.chunk_number != 0 {
                continue;
            }
            articles.insert(
                payload.doc_id,
                RetrievedSource {
                    source_type: SourceType::Article,
                    id: payload.doc_id,
                    title: payload.title.clone(),
                    url: payload.url.clone(),
                    snippet: payload.text.clone(),
                    score: 0.0,
                    similarity: 0.0,
                    created_at: payload.created_at,
                    product: payload.product.clone(),
                    language: payload.language.clone(),
                    first_reply: None,
                    resolution: None,
                    linked_article_ids: vec![],
                    supporting_cases: 0,
                    agent_only: payload.agent_only,
                    updated_at: Some(payload.updated_at),
                },
            );
        }
        let agent_only_urls = articles
            .values()
            .filter(|a| a.agent_only)
            .filter_map(|a| a.url.as_deref())
            .map(crate::ingest::cases::normalize_url)
            .collect();
        let mut link_times: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
        for (_, payload) in store.scroll_payloads(SourceType::Case).await? {
            if payload.chunk_number != 0 {
                continue;
            }
            for article_id in &payload.linked_article_ids {
                link_times
                    .entry(*article_id)
                    .or_default()
                    .push(payload.created_at);
            }
        }
        for times in link_times.values_mut() {
            times.sort_unstable();
        }
        Ok(Self {
            articles,
            agent_only_urls,
            link_times,
        })
    }

    /// Whether `url` points to an agents-only article (by its URL, or by the Freshdesk article
    /// id in a portal link).
    pub fn links_to_agent_only(&self, url: &str) -> bool {
        self.agent_only_urls
            .contains(&crate::ingest::cases::normalize_url(url))
            || crate::ingest::cases::freshdesk_article_id(url)
                .and_then(|id| self.articles.get(&id))
                .is_some_and(|article| article.agent_only)
    }

    /// How many resolved cases created before `as_of` linked this article (all, without `as_of`).
    pub fn times_linked_before(&self, article_id: i64, as_of: Option<DateTime<Utc>>) -> usize {
        let Some(times) = self.link_times.get(&article_id) else {
            return 0;
        };
        match as_of {
            Some(as_of) => times.partition_point(|t| *t < as_of),
            None => times.len(),
        }
    }

    pub fn get(&self, id: i64) -> Option<&RetrievedSource> {
        self.articles.get(&id)
    }

    pub fn len(&self) -> usize {
        self.articles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }
}

/// Cosine similarity from which a canned response is close enough to the question to list.
const CANNED_RESPONSE_MIN_SIMILARITY: f32 = 0.5;

/// Canned responses have no track record and no case links them, so articles that similar cases
/// resolved outrank them even when one answers the question word for word. The closest canned
/// response that matches well joins the knowledge listed (after the articles it does not
/// displace), so the team's approved answer is always among the sources when there is one.
fn include_best_canned_response(knowledge: &mut Vec<RetrievedSource>, direct: &[RetrievedSource]) {
    let listed = |c: &RetrievedSource| {
        knowledge
            .iter()
            .any(|k| k.source_type == c.source_type && k.id == c.id)
    };
    let best = direct
        .iter()
        .filter(|d| d.source_type == SourceType::CannedResponse)
        .filter(|d| d.similarity >= CANNED_RESPONSE_MIN_SIMILARITY)
        .max_by(|a, b| a.similarity.total_cmp(&b.similarity));
    if let Some(canned) = best.filter(|c| !listed(c)) {
        knowledge.push(canned.clone());
    }
}

/// Hybrid retrieval over one store.
pub struct Retriever {
    pub embedder: Arc<dyn DenseEmbedder>,
    pub sparse: Arc<SparseEncoder>,
    pub store: Arc<dyn VectorStore>,
    pub catalog: Arc<ArticleCatalog>,
    pub config: RetrievalConfig,
}

impl Retriever {
    pub async fn new(
        embedder: Arc<dyn DenseEmbedder>,
        sparse: Arc<SparseEncoder>,
        store: Arc<dyn VectorStore>,
        config: RetrievalConfig,
    ) -> Result<Self, StoreError> {
        let catalog = Arc::new(ArticleCatalog::load(store.as_ref()).await?);
        Ok(Self {
            embedder,
            sparse,
            store,
            catalog,
            config,
        })
    }

    pub async fn retrieve(
        &self,
        request: &RetrievalRequest,
    ) -> Result<RetrievalResult, RetrieveError> {
        let embed_started = Instant::now();
        let dense = self
            .embedder
            .embed_batch(std::slice::from_ref(&request.query_text))
            .await?
            .pop()
            .unwrap_or_default();
        let sparse = self.sparse.encode_query(&request.query_text);
        let embed_millis = embed_started.elapsed().as_secs_f64() * 1e3;

        let search_started = Instant::now();
        let base_filter = QueryFilter {
            source_types: Vec::new(),
            product: if self.config.same_product {
                request.product.clone()
            } else {
                None
            },
            created_before: request.as_of,
            exclude_documents: request.exclude.clone(),
        };
        // Cases and articles are searched separately so one kind cannot crowd out the other, and
        // at once, so retrieval costs the slower search rather than the sum. The article search
        // is its own task: a store may block in place (the embedded one does on a
        // multi-threaded runtime), which would hold up a search sharing this task.
        let query_for = |source_types: Vec<SourceType>| HybridQuery {
            dense: dense.clone(),
            sparse_indices: sparse.indices.clone(),
            sparse_values: sparse.values.clone(),
            filter: QueryFilter {
                source_types,
                ..base_filter.clone()
            },
            prefetch_limit: self.config.prefetch_limit,
            limit: self.config.candidate_chunks,
        };
        let article_search = {
            // Canned responses rank with the articles: both are answers written for reuse.
            let knowledge = vec![SourceType::Article, SourceType::CannedResponse];
            let (store, query) = (Arc::clone(&self.store), query_for(knowledge));
            tokio::spawn(async move { store.hybrid_query(query).await })
        };
        let case_chunks = self
            .store
            .hybrid_query(query_for(vec![SourceType::Case]))
            .await;
        // A search that panicked panics here, as it did when it ran inside this task.
        let article_chunks = article_search
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let (case_chunks, article_chunks) = (case_chunks?, article_chunks?);
        let mut cases = group_by_document(&case_chunks);
        let evidence = ArticleEvidence::from_config(&self.config);
        cases.truncate(self.config.max_cases.max(evidence.cases_consulted));
        let direct_articles = group_by_document(&article_chunks);
        let articles = rank_articles(
            request.as_of.unwrap_or_else(Utc::now),
            &cases,
            &direct_articles,
            &self.catalog,
            &evidence,
            |article_id| self.catalog.times_linked_before(article_id, request.as_of),
            |article| {
                request.as_of.is_none_or(|as_of| article.created_at < as_of)
                    && (!self.config.same_product
                        || request.product.is_none()
                        || article.product.is_none()
                        || article.product == request.product)
            },
        );
        cases.truncate(self.config.max_cases);
        let mut articles: Vec<RetrievedSource> = articles
            .into_iter()
            .take(self.config.max_articles)
            .collect();
        include_best_canned_response(&mut articles, &direct_articles);
        Ok(RetrievalResult {
            cases,
            articles,
            embed_millis,
            search_millis: search_started.elapsed().as_secs_f64() * 1e3,
        })
    }
}
