//! Pure ranking functions: chunks grouped into documents, and articles ranked from two kinds of
//! evidence: their own search hits and the similar past cases that linked them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{ArticleCatalog, RetrievedSource};
use crate::domain::SourceType;
use crate::store::ScoredChunk;

/// Weights of the article evidence (from `retrieval.*` in the configuration; reported in every
/// simulation summary).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArticleEvidence {
    /// Weight of a linking case at rank r: `case_weight / (rank_constant + r)`.
    pub case_weight: f32,
    /// Weight of a direct article hit at rank r: `direct_weight / (rank_constant + r)`.
    pub direct_weight: f32,
    pub rank_constant: f32,
    /// A case's vote also scales with its similarity, so a weak neighbour counts less.
    pub similarity_exponent: f32,
    /// How many of the nearest cases vote.
    pub cases_consulted: usize,
    /// Weight of `ln(1 + times the article resolved an earlier case)`.
    pub popularity_weight: f32,
    /// A case's vote halves every this many days of age at the as-of time (0: no discount).
    pub case_half_life_days: f32,
}

impl ArticleEvidence {
    pub fn from_config(config: &crate::config::RetrievalConfig) -> Self {
        Self {
            case_weight: config.case_vote_weight,
            direct_weight: config.direct_article_weight,
            rank_constant: config.rank_constant,
            similarity_exponent: config.similarity_exponent,
            cases_consulted: config.cases_consulted,
            popularity_weight: config.popularity_weight,
            case_half_life_days: config.case_half_life_days,
        }
    }
}

/// One entry per document, in the order of each document's best chunk, keeping that chunk's
/// text as the snippet and the best dense similarity of any of its chunks.
pub fn group_by_document(chunks: &[ScoredChunk]) -> Vec<RetrievedSource> {
    let mut order: Vec<RetrievedSource> = Vec::new();
    let mut position: HashMap<(SourceType, i64), usize> = HashMap::new();
    for chunk in chunks {
        let payload = &chunk.payload;
        let key = (payload.source_type, payload.doc_id);
        match position.get(&key) {
            Some(&index) => {
                let existing = &mut order[index];
                existing.similarity = existing.similarity.max(chunk.dense_similarity);
                if existing.resolution.is_none() && payload.resolution.is_some() {
                    existing.resolution = payload.resolution.clone();
                    existing.first_reply = payload.first_reply.clone();
                }
            }
            None => {
                position.insert(key, order.len());
                order.push(RetrievedSource {
                    source_type: payload.source_type,
                    id: payload.doc_id,
                    title: payload.title.clone(),
                    url: payload.url.clone(),
                    snippet: payload.text.clone(),
                    score: chunk.score,
                    similarity: chunk.dense_similarity,
                    created_at: payload.created_at,
                    product: payload.product.clone(),
                    language: payload.language.clone(),
                    first_reply: payload.first_reply.clone(),
                    resolution: payload.resolution.clone(),
                    linked_article_ids: payload.linked_article_ids.clone(),
                    supporting_cases: 0,
                    agent_only: payload.agent_only,
                    updated_at: Some(payload.updated_at),
                });
            }
        }
    }
    order
}

impl ArticleEvidence {
    /// How much a case created at `created_at` still counts at `now`: 1 when fresh, halving
    /// every `case_half_life_days`.
    pub fn recency(&self, created_at: DateTime<Utc>, now: DateTime<Utc>) -> f32 {
        if self.case_half_life_days <= 0.0 {
            return 1.0;
        }
        let age_days = (now - created_at).num_seconds().max(0) as f32 / 86_400.0;
        0.5_f32.powf(age_days / self.case_half_life_days)
    }
}

/// Rank articles by direct hits plus votes from linking cases. `eligible` enforces the as-of and
/// product rules on catalog entries (direct hits were already filtered by the store). `now` is
/// the as-of time, for the age of voting cases.
#[allow(clippy::too_many_arguments)]
pub fn rank_articles(
    now: DateTime<Utc>,
    cases: &[RetrievedSource],
    direct: &[RetrievedSource],
    catalog: &ArticleCatalog,
    evidence: &ArticleEvidence,
    times_linked: impl Fn(i64) -> usize,
    eligible: impl Fn(&RetrievedSource) -> bool,
) -> Vec<RetrievedSource> {
    // Keyed by kind and id: a canned response and an article may share an id.
    let mut scored: HashMap<(SourceType, i64), (f32, RetrievedSource)> = HashMap::new();
    for (rank, article) in direct.iter().enumerate() {
        let weight = evidence.direct_weight / (evidence.rank_constant + rank as f32);
        let entry = scored
            .entry((article.source_type, article.id))
            .or_insert_with(|| (0.0, article.clone()));
        entry.0 += weight;
    }
    for (rank, case) in cases.iter().take(evidence.cases_consulted).enumerate() {
        let similarity = case
            .similarity
            .clamp(0.0, 1.0)
            .powf(evidence.similarity_exponent);
        let weight = evidence.case_weight * similarity * evidence.recency(case.created_at, now)
            / (evidence.rank_constant + rank as f32);
        for article_id in &case.linked_article_ids {
            let key = (SourceType::Article, *article_id);
            let entry = match scored.get_mut(&key) {
                Some(entry) => entry,
                None => {
                    let Some(article) = catalog.get(*article_id) else {
                        continue;
                    };
                    if !eligible(article) {
                        continue;
                    }
                    scored.entry(key).or_insert_with(|| (0.0, article.clone()))
                }
            };
            entry.0 += weight;
            entry.1.supporting_cases += 1;
            entry.1.similarity = entry.1.similarity.max(case.similarity * 0.9);
        }
    }
    // Popularity prior: among candidates, an article that resolved many earlier cases is more
    // likely right. Counted only before the as-of time, so replays stay leak-free.
    if evidence.popularity_weight > 0.0 {
        for ((kind, id), entry) in scored.iter_mut() {
            if *kind == SourceType::Article {
                entry.0 += evidence.popularity_weight * (1.0 + times_linked(*id) as f32).ln();
            }
        }
    }
    let mut ranked: Vec<RetrievedSource> = scored
        .into_values()
        .map(|(score, mut article)| {
            article.score = score;
            article
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.source_type.cmp(&b.source_type))
    });
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn case(id: i64, linked: i64, created_at: DateTime<Utc>) -> RetrievedSource {
        RetrievedSource {
            source_type: SourceType::Case,
            id,
            title: String::new(),
            url: None,
            snippet: String::new(),
            score: 1.0,
            similarity: 0.8,
            created_at,
            product: None,
            language: None,
            first_reply: None,
            resolution: None,
            linked_article_ids: vec![linked],
            supporting_cases: 0,
            agent_only: false,
            updated_at: None,
        }
    }

    #[test]
    fn an_old_cases_vote_counts_less_with_a_half_life() {
        let now = Utc.with_ymd_and_hms(2020, 3, 1, 0, 0, 0).unwrap();
        let old = case(1, 100, now - chrono::Duration::days(730));
        let new = case(2, 200, now - chrono::Duration::days(10));
        let mut catalog = ArticleCatalog::default();
        for id in [100, 200] {
            let mut article = case(id, 0, now - chrono::Duration::days(900));
            article.source_type = SourceType::Article;
            catalog.articles.insert(id, article);
        }
        let mut evidence = ArticleEvidence::from_config(&crate::config::RetrievalConfig::default());
        let ranked = |evidence: &ArticleEvidence| {
            rank_articles(
                now,
                &[old.clone(), new.clone()],
                &[],
                &catalog,
                evidence,
                |_| 0,
                |_| true,
            )
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>()
        };
        // Without a discount the nearer case (ranked first) wins.
        assert_eq!(ranked(&evidence), vec![100, 200]);
        evidence.case_half_life_days = 180.0;
        assert!((evidence.recency(now - chrono::Duration::days(180), now) - 0.5).abs() < 1e-4);
        assert_eq!(ranked(&evidence), vec![200, 100]);
    }
}
