//! BM25 inverse document frequencies for a server collection, computed by deskdraft from
//! collection-wide counts.
//!
//! Qdrant's `Modifier::Idf` counts documents per shard: on a cluster the same point scores
//! differently depending on the shard its id hashed to, and equal points stop being ties. So the
//! collections deskdraft creates store sparse vectors without the modifier, every point carries
//! its term ids in an integer-indexed payload field, and a sparse query's weights are multiplied
//! here by `ln(1 + (N - df + 0.5) / (df + 0.5))` (the engine's formula, in the same `f32`
//! arithmetic), with `N` the collection's point count and `df` the points holding the term,
//! both exact counts over every shard. On one shard this equals what the engine (and Qdrant
//! Edge) computes, apart from points deleted but not yet vacuumed, which the engine still
//! counts until its optimizer removes them.
//!
//! Counts are cached for [`CACHE_SECONDS`] and dropped whenever this store writes, so a query
//! costs one count per new term at most; another process's writes are seen after the cache
//! expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use qdrant_client::qdrant::{Condition, CountPointsBuilder, Filter};

use super::{QdrantServerStore, classify};
use crate::store::StoreError;

/// Payload field holding a point's sparse term ids (integer index, lookups only).
pub const TERMS_FIELD: &str = "bm25_terms";
/// How long collection-wide counts are reused.
pub const CACHE_SECONDS: u64 = 10;

/// Qdrant's IDF (`VectorQueryContext::fancy_idf`), in the same precision.
pub fn inverse_document_frequency(points: u64, with_term: u64) -> f32 {
    let n = points as f32;
    let df = with_term as f32;
    ((n - df + 0.5) / (df + 0.5) + 1.).ln()
}

#[derive(Default)]
struct Counts {
    fetched_at: Option<Instant>,
    /// Bumped by every write of this store; counts fetched across a write are not kept.
    generation: u64,
    points: Option<u64>,
    with_term: HashMap<u32, u64>,
}

/// Cached collection-wide counts.
#[derive(Default)]
pub(super) struct TermCounts {
    counts: Mutex<Counts>,
}

impl TermCounts {
    /// Forget every count (this store wrote).
    pub(super) fn invalidate(&self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let generation = counts.generation + 1;
        *counts = Counts {
            generation,
            ..Counts::default()
        };
    }

    /// The cached counts for `terms` and the generation they belong to; `None` for what is
    /// missing.
    fn cached(&self, terms: &[u32]) -> (u64, Option<u64>, Vec<Option<u64>>) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts
            .fetched_at
            .is_some_and(|at| at.elapsed() > Duration::from_secs(CACHE_SECONDS))
        {
            let generation = counts.generation;
            *counts = Counts {
                generation,
                ..Counts::default()
            };
        }
        let found = terms
            .iter()
            .map(|t| counts.with_term.get(t).copied())
            .collect();
        (counts.generation, counts.points, found)
    }

    fn keep(&self, generation: u64, points: u64, fetched: &[(u32, u64)]) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.generation != generation {
            return;
        }
        counts.fetched_at.get_or_insert_with(Instant::now);
        counts.points = Some(points);
        counts.with_term.extend(fetched.iter().copied());
    }
}

impl QdrantServerStore {
    async fn exact_count(&self, filter: Option<Filter>) -> Result<u64, StoreError> {
        let mut builder = CountPointsBuilder::new(&self.collection).exact(true);
        if let Some(filter) = filter {
            builder = builder.filter(filter);
        }
        let request = builder.build();
        Ok(self
            .retry
            .run(|_| async { self.client.count(request.clone()).await.map_err(classify) })
            .await?
            .result
            .map_or(0, |r| r.count))
    }

    /// The query's term weights multiplied by each term's collection-wide IDF.
    pub(super) async fn idf_weighted(
        &self,
        terms: &[u32],
        weights: &[f32],
    ) -> Result<Vec<f32>, StoreError> {
        let (generation, points, cached) = self.term_counts.cached(terms);
        let missing: Vec<u32> = terms
            .iter()
            .zip(&cached)
            .filter(|(_, count)| count.is_none())
            .map(|(term, _)| *term)
            .collect();
        let points_count = async {
            match points {
                Some(points) => Ok(points),
                None => self.exact_count(None).await,
            }
        };
        let term_counts = futures::future::try_join_all(missing.iter().map(|term| async move {
            let filter = Filter::must([Condition::matches(TERMS_FIELD, i64::from(*term))]);
            Ok::<_, StoreError>((*term, self.exact_count(Some(filter)).await?))
        }));
        let (points, fetched) = tokio::try_join!(points_count, term_counts)?;
        self.term_counts.keep(generation, points, &fetched);
        let fetched: HashMap<u32, u64> = fetched.into_iter().collect();
        Ok(terms
            .iter()
            .zip(weights)
            .zip(cached)
            .map(|((term, weight), count)| {
                let with_term = count.or_else(|| fetched.get(term).copied()).unwrap_or(0);
                weight * inverse_document_frequency(points, with_term)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_terms_weigh_more_and_the_formula_is_the_engines() {
        let rare = inverse_document_frequency(1_000, 1);
        let common = inverse_document_frequency(1_000, 900);
        assert!(rare > common && common > 0.0, "{rare} {common}");
        // ln(1 + (10 - 2 + 0.5) / (2 + 0.5)) = ln(4.4)
        assert!((inverse_document_frequency(10, 2) - 4.4_f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn counts_fetched_across_a_write_are_not_kept() {
        let counts = TermCounts::default();
        let (generation, points, cached) = counts.cached(&[1, 2]);
        assert_eq!((points, cached), (None, vec![None, None]));
        counts.keep(generation, 10, &[(1, 3)]);
        assert_eq!(counts.cached(&[1, 2]).2, vec![Some(3), None]);
        let (generation, ..) = counts.cached(&[2]);
        counts.invalidate();
        counts.keep(generation, 11, &[(2, 4)]);
        let (_, points, cached) = counts.cached(&[1, 2]);
        assert_eq!(
            (points, cached),
            (None, vec![None, None]),
            "a write drops counts"
        );
    }
}
