//! Sparse BM25 vectors through Qdrant Edge's own tokenizer pipeline, so stemming and stopwords
//! match what a Qdrant server does with the IDF modifier.

use qdrant_edge::SparseVector;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};

/// Encodes documents and queries into BM25 term-frequency sparse vectors; IDF is applied by
/// the store's `Modifier::Idf` on the sparse vector.
pub struct SparseEncoder {
    bm25: EdgeBm25,
}

impl SparseEncoder {
    pub fn new() -> Self {
        let config = EdgeBm25Config {
            language: Some("english".to_string()),
            ..Default::default()
        };
        let bm25 = EdgeBm25::new(config).expect("the default English BM25 configuration is valid");
        Self { bm25 }
    }

    pub fn encode_document(&self, text: &str) -> SparseVector {
        self.bm25.embed_document(text)
    }

    pub fn encode_query(&self, text: &str) -> SparseVector {
        self.bm25.embed_query(text)
    }
}

impl Default for SparseEncoder {
    fn default() -> Self {
        Self::new()
    }
}
