//! A [`DenseEmbedder`] for any OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM,
//! text-embeddings-inference...), as an alternative to the local model: batched, retried through
//! the project's retry policy, identifiers redacted before text leaves the machine, and a clear
//! error when the endpoint's vectors do not have the collection's dimension.

use std::time::Duration;

use async_openai::types::{CreateEmbeddingRequest, CreateEmbeddingResponse, EmbeddingInput};
use async_trait::async_trait;

use super::{DenseEmbedder, EmbedError};
use crate::config::EmbeddingConfig;
use crate::llm::LlmError;
use crate::llm::openai::{classify_status, retry_after};
use crate::llm::redact::Redactor;
use crate::retry::RetryPolicy;

/// Environment variable holding the embedding endpoint's key (optional for local servers).
pub const EMBEDDING_API_KEY_ENV: &str = "DESKDRAFT_EMBEDDING_API_KEY";

/// The largest answer read from an embeddings endpoint: a batch of 64 vectors of 3,072 floats
/// as JSON text is about 4 MB.
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

pub struct OpenAiCompatibleEmbedder {
    http: reqwest::Client,
    embeddings_url: url::Url,
    api_key: Option<String>,
    model: String,
    model_id: String,
    dimensions: usize,
    batch_size: usize,
    redact: bool,
    retry: RetryPolicy,
}

impl OpenAiCompatibleEmbedder {
    /// From `[embedding]` with `endpoint_url` and `endpoint_dimensions` set. `redact` replaces
    /// identifiers before sending (decided by the caller from `llm.redact` and locality).
    pub fn from_config(
        config: &EmbeddingConfig,
        redact_external: bool,
    ) -> Result<Self, EmbedError> {
        let api_key = std::env::var(EMBEDDING_API_KEY_ENV)
            .ok()
            .filter(|k| !k.trim().is_empty());
        Self::new(config, api_key, redact_external)
    }

    pub fn new(
        config: &EmbeddingConfig,
        api_key: Option<String>,
        redact_external: bool,
    ) -> Result<Self, EmbedError> {
        let base = config.endpoint_url.as_deref().ok_or_else(|| {
            EmbedError::Permanent("embedding.endpoint_url is not set".to_string())
        })?;
        let dimensions = config.endpoint_dimensions.ok_or_else(|| {
            EmbedError::Permanent(
                "embedding.endpoint_dimensions must be set with embedding.endpoint_url (e.g. 1536 for text-embedding-3-small)"
                    .to_string(),
            )
        })?;
        let embeddings_url =
            url::Url::parse(&format!("{}/embeddings", base.trim().trim_end_matches('/'))).map_err(
                |e| EmbedError::Permanent(format!("embedding.endpoint_url {base:?}: {e}")),
            )?;
        let external = !crate::net::is_loopback(&embeddings_url);
        crate::net::check_secret_transport(
            &embeddings_url,
            api_key.is_some(),
            "embedding.endpoint_url",
        )
        .map_err(EmbedError::Permanent)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| EmbedError::Permanent(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            model_id: format!("endpoint:{}@{}", config.endpoint_model, embeddings_url),
            embeddings_url,
            api_key,
            model: config.endpoint_model.clone(),
            dimensions,
            batch_size: config.batch_size.max(1),
            redact: external && redact_external,
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    async fn attempt(&self, body: &CreateEmbeddingRequest) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut call = self.http.post(self.embeddings_url.clone()).json(body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let response = call
            .send()
            .await
            .map_err(|e| EmbedError::Transient(e.without_url().to_string()))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let body = crate::net::read_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| EmbedError::Transient(e.to_string()))?;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(match classify_status(status, wait, &text) {
                LlmError::RateLimited { retry_after } => EmbedError::RateLimited { retry_after },
                LlmError::Transient(message) => EmbedError::Transient(message),
                other => EmbedError::Permanent(other.to_string()),
            });
        }
        let mut parsed: CreateEmbeddingResponse = serde_json::from_str(&text).map_err(|e| {
            EmbedError::Permanent(format!("response is not an embedding list: {e}"))
        })?;
        parsed.data.sort_by_key(|e| e.index);
        let mut vectors = Vec::with_capacity(parsed.data.len());
        for item in parsed.data {
            if item.embedding.len() != self.dimensions {
                return Err(EmbedError::DimensionMismatch {
                    expected: self.dimensions,
                    actual: item.embedding.len(),
                });
            }
            vectors.push(normalised(item.embedding));
        }
        Ok(vectors)
    }
}

fn normalised(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

#[async_trait]
impl DenseEmbedder for OpenAiCompatibleEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn max_batch(&self) -> usize {
        self.batch_size
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            let input: Vec<String> = batch
                .iter()
                .map(|text| {
                    if self.redact {
                        Redactor::new().redact(text)
                    } else {
                        text.clone()
                    }
                })
                .collect();
            let body = CreateEmbeddingRequest {
                model: self.model.clone(),
                input: EmbeddingInput::StringArray(input),
                ..CreateEmbeddingRequest::default()
            };
            let embedded = self.retry.run(|_| self.attempt(&body)).await?;
            if embedded.len() != batch.len() {
                return Err(EmbedError::Permanent(format!(
                    "the endpoint returned {} vectors for {} texts",
                    embedded.len(),
                    batch.len()
                )));
            }
            vectors.extend(embedded);
        }
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_never_travels_over_plain_http_to_another_machine() {
        let config = |url: &str| EmbeddingConfig {
            endpoint_url: Some(url.to_string()),
            endpoint_dimensions: Some(8),
            ..EmbeddingConfig::default()
        };
        let key = Some("sk-test".to_string());
        let refused = OpenAiCompatibleEmbedder::new(
            &config("http://embeddings.internal/v1"),
            key.clone(),
            true,
        )
        .err()
        .expect("refused")
        .to_string();
        assert!(
            refused.contains("embedding.endpoint_url") && refused.contains("https"),
            "{refused}"
        );
        assert!(
            OpenAiCompatibleEmbedder::new(
                &config("https://embeddings.internal/v1"),
                key.clone(),
                true
            )
            .is_ok()
        );
        assert!(
            OpenAiCompatibleEmbedder::new(&config("http://127.0.0.1:8080/v1"), key, true).is_ok()
        );
        assert!(
            OpenAiCompatibleEmbedder::new(&config("http://embeddings.internal/v1"), None, true)
                .is_ok()
        );
    }
}
