//! An embedder that remembers: texts embedded once (for example a simulation's queries, embedded
//! up front in large batches) are served from memory afterwards. The wrapped embedder does the
//! work; results are identical, only faster when texts repeat or are known in advance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{DenseEmbedder, EmbedError};

pub struct CachedEmbedder {
    inner: Arc<dyn DenseEmbedder>,
    cache: Mutex<HashMap<String, Vec<f32>>>,
}

impl CachedEmbedder {
    pub fn new(inner: Arc<dyn DenseEmbedder>) -> Self {
        Self {
            inner,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Embeds `texts` in full batches now so later single-text calls are lookups.
    pub async fn prefill(&self, texts: &[String]) -> Result<(), EmbedError> {
        let mut missing: Vec<String> = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            texts
                .iter()
                .filter(|t| !cache.contains_key(*t))
                .cloned()
                .collect()
        };
        missing.sort();
        missing.dedup();
        // Similar lengths together keep the packed batches dense.
        missing.sort_by_key(|t| t.len());
        for batch in missing.chunks(self.inner.max_batch().max(1) * 4) {
            let vectors = self.inner.embed_batch(batch).await?;
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for (text, vector) in batch.iter().zip(vectors) {
                cache.insert(text.clone(), vector);
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl DenseEmbedder for CachedEmbedder {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let missing: Vec<String> = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            texts
                .iter()
                .filter(|t| !cache.contains_key(*t))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let vectors = self.inner.embed_batch(&missing).await?;
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for (text, vector) in missing.into_iter().zip(vectors) {
                cache.insert(text, vector);
            }
        }
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        Ok(texts
            .iter()
            .map(|t| cache.get(t).cloned().unwrap_or_default())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);

    #[async_trait]
    impl DenseEmbedder for Counting {
        fn model_id(&self) -> &str {
            "counting"
        }
        fn dimensions(&self) -> usize {
            1
        }
        fn max_batch(&self) -> usize {
            2
        }
        async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.0.fetch_add(texts.len(), Ordering::Relaxed);
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[tokio::test]
    async fn prefilled_texts_are_not_embedded_again_and_results_keep_input_order() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let cached = CachedEmbedder::new(inner.clone());
        let texts: Vec<String> = ["a", "bbb", "cc", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        cached.prefill(&texts).await.unwrap();
        assert_eq!(
            inner.0.load(Ordering::Relaxed),
            3,
            "duplicates embedded once"
        );
        let vectors = cached.embed_batch(&texts).await.unwrap();
        assert_eq!(vectors, vec![vec![1.0], vec![3.0], vec![2.0], vec![1.0]]);
        assert_eq!(inner.0.load(Ordering::Relaxed), 3, "served from the cache");
        cached.embed_batch(&["dddd".to_string()]).await.unwrap();
        assert_eq!(inner.0.load(Ordering::Relaxed), 4);
    }
}
