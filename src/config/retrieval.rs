//! The `[retrieval]` section: how many candidates each search brings, and the weights that rank
//! articles from their own hits and from the similar past cases that linked them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Candidates each of the dense and sparse searches contributes before fusion. Default 64.
    pub prefetch_limit: usize,
    /// Fused chunks considered before grouping by document. Default 48.
    pub candidate_chunks: usize,
    /// Past cases returned to drafting. Default 5.
    pub max_cases: usize,
    /// Articles returned to drafting. Default 5.
    pub max_articles: usize,
    /// Restrict to the ticket's product when it has one. Default true.
    pub same_product: bool,
    /// Article ranking: weight of a vote from a similar past case that linked the article.
    /// Default 1.0.
    pub case_vote_weight: f32,
    /// Article ranking: weight of the article's own search hit. Default 0.3.
    pub direct_article_weight: f32,
    /// Article ranking: rank discount constant `c` in `weight / (c + rank)`. Default 2.0.
    pub rank_constant: f32,
    /// Article ranking: a case's vote scales with `similarity ^ exponent`. Default 2.0.
    pub similarity_exponent: f32,
    /// Article ranking: how many nearest cases vote. Default 20.
    pub cases_consulted: usize,
    /// Article ranking: weight of the popularity prior `ln(1 + earlier cases it resolved)`.
    /// Default 0.05.
    pub popularity_weight: f32,
    /// Article ranking: a case's vote halves every this many days of age (answers go stale:
    /// products, policies and known issues change). 0 turns the discount off. Default 0.
    pub case_half_life_days: f32,
    /// A follow-up's search also reads the ticket's first message (the problem the customer
    /// still has), not only the subject and the latest message. Default true (measured on the
    /// 43 twitter-care follow-ups: hit@5 0.548 vs 0.524, MRR 0.313 vs 0.307; README).
    pub follow_up_search_with_first_message: bool,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            prefetch_limit: 64,
            candidate_chunks: 48,
            max_cases: 5,
            max_articles: 5,
            same_product: true,
            case_vote_weight: 1.0,
            direct_article_weight: 0.3,
            rank_constant: 2.0,
            similarity_exponent: 2.0,
            cases_consulted: 20,
            popularity_weight: 0.05,
            case_half_life_days: 0.0,
            follow_up_search_with_first_message: true,
        }
    }
}
