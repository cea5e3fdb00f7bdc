//! Owns language-model access: the [`ChatModel`] seam, its OpenAI-compatible implementation
//! (OpenAI, Ollama, vLLM, LM Studio...), and redaction of identifiers before text leaves the
//! machine.

pub mod openai;
pub mod redact;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::retry::{Classify, ErrorClass};

pub use openai::OpenAiCompatibleChat;

/// One chat completion request: a system and a user message.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub system: String,
    pub user: String,
    /// Ask for a JSON object (`response_format: json_object`).
    pub json_object: bool,
}

/// What the model answered, with its token usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub content: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// Errors from a chat endpoint, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the language model is rate-limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the language model failed transiently: {0}")]
    Transient(String),
    /// The prompt does not fit: retrying the same prompt cannot help; a shorter one might.
    #[error("the prompt is longer than the model's context: {0}")]
    ContextTooLong(String),
    /// Bad key, exhausted quota, unknown model: needs a human.
    #[error("the language model refused the request: {0}")]
    Permanent(String),
    #[error("the language model answered something unusable: {0}")]
    Malformed(String),
}

impl Classify for LlmError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::RateLimited { retry_after } => ErrorClass::RateLimited {
                retry_after: *retry_after,
            },
            Self::Transient(_) => ErrorClass::Transient,
            Self::ContextTooLong(_) | Self::Permanent(_) | Self::Malformed(_) => {
                ErrorClass::Permanent
            }
        }
    }
}

/// A chat model. Drafting holds an `Arc<dyn ChatModel>` and knows nothing about HTTP.
#[async_trait]
pub trait ChatModel: Send + Sync {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;
    /// Whether text sent to this model leaves the machine (drives the redaction default).
    fn is_external(&self) -> bool;
    fn model_name(&self) -> &str;
}
