//! Owns turning text into vectors: the dense [`DenseEmbedder`] seam (local MiniLM in-process, or an
//! OpenAI-compatible endpoint) and the sparse BM25 encoder.

mod bert_forward;
mod bm25;
pub mod cache;
pub mod local;
pub mod openai;

use async_trait::async_trait;

pub use bm25::SparseEncoder;
pub use cache::CachedEmbedder;
pub use local::LocalMiniLmEmbedder;
pub use openai::OpenAiCompatibleEmbedder;

use crate::retry::{Classify, ErrorClass};

/// Errors an embedder can return, classified for the retry policy.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "embedding model not found at {path}: run `scripts/fetch-model.sh` once to download it"
    )]
    ModelMissing { path: String },
    #[error("embedding model at {path} is unusable: {reason}")]
    ModelInvalid { path: String, reason: String },
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("embedding endpoint rate-limited the request")]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    #[error("embedding endpoint failed transiently: {0}")]
    Transient(String),
    #[error("embedding endpoint rejected the request: {0}")]
    Permanent(String),
    #[error(
        "embedding dimension mismatch: the model returns {actual} dimensions but the collection expects {expected}"
    )]
    DimensionMismatch { expected: usize, actual: usize },
}

impl Classify for EmbedError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::RateLimited { retry_after } => ErrorClass::RateLimited {
                retry_after: *retry_after,
            },
            Self::Transient(_) => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }
}

/// A dense sentence embedder. Vectors are L2-normalised so dot product equals cosine.
#[async_trait]
pub trait DenseEmbedder: Send + Sync {
    /// Stable identifier recorded with the collection (model name and revision).
    fn model_id(&self) -> &str;
    fn dimensions(&self) -> usize;
    /// Largest batch the embedder wants at once; callers split bigger inputs.
    fn max_batch(&self) -> usize;
    /// Embed documents or queries; output order matches input order.
    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Cosine similarity of two L2-normalised vectors (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
