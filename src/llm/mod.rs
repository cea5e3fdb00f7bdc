//! Owns language-model access: the [`ChatModel`] seam, its OpenAI-compatible implementation
//! (OpenAI, Ollama, vLLM, LM Studio...), and redaction of identifiers before text leaves the
//! machine.

pub mod openai;
pub mod redact;
pub mod structured;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::retry::{Classify, ErrorClass};

pub use openai::OpenAiCompatibleChat;
pub use structured::StructuredOutputForm;

/// One chat completion request: a system and a user message.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub system: String,
    pub user: String,
    /// Ask for a JSON object (`response_format: json_object`).
    pub json_object: bool,
    /// The answer's JSON Schema, sent in the structured-output form the endpoint accepts
    /// ([`structured`]); `None` asks for a JSON object only (when `json_object`).
    pub answer_schema: Option<serde_json::Value>,
}

/// What the model answered, with its token usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub content: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// How the answer's shape was requested (`None` for a plain request).
    #[serde(default)]
    pub structured_output: Option<StructuredOutputForm>,
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
    /// The endpoint does not take the `response_format` sent (a 400/422 naming it): another
    /// structured-output form may be accepted.
    #[error("the language model does not accept this response_format: {0}")]
    ResponseFormatRejected(String),
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
            Self::ContextTooLong(_)
            | Self::ResponseFormatRejected(_)
            | Self::Permanent(_)
            | Self::Malformed(_) => ErrorClass::Permanent,
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
    /// The longest answer requested, in tokens (reserved when fitting the prompt).
    fn max_output_tokens(&self) -> u32 {
        0
    }
    /// The model's context window in tokens, when configured or told by the server.
    async fn context_tokens(&self) -> Option<u32> {
        None
    }
}
