//! A [`ChatModel`] for any OpenAI-compatible `/chat/completions` endpoint.
//!
//! Requests and responses are `async-openai`'s wire types; the HTTP exchange is ours (reqwest)
//! because `async-openai`'s client retries 429s with its own backoff and hides the status code and
//! the `Retry-After` header, which the project's one retry policy ([`crate::retry`]) needs in order
//! to classify errors and never call again before the endpoint allows it.

use std::time::Duration;

use async_openai::types::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequestArgs, CreateChatCompletionResponse, ResponseFormat,
};
use async_trait::async_trait;
use reqwest::StatusCode;

use super::{ChatModel, ChatRequest, ChatResponse, LlmError};
use crate::config::LlmSettings;
use crate::retry::RetryPolicy;

/// Environment variable holding the endpoint's API key (optional for local servers).
pub const LLM_API_KEY_ENV: &str = "DESKDRAFT_LLM_API_KEY";

/// The largest answer read from a chat endpoint: a draft is a few kilobytes of JSON.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

pub struct OpenAiCompatibleChat {
    http: reqwest::Client,
    completions_url: url::Url,
    api_key: Option<String>,
    model: String,
    temperature: f32,
    max_output_tokens: u32,
    retry: RetryPolicy,
    external: bool,
}

impl std::fmt::Debug for OpenAiCompatibleChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompatibleChat")
            .field("completions_url", &self.completions_url.as_str())
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl OpenAiCompatibleChat {
    /// From `[llm]` settings with `base_url` set; the key comes from [`LLM_API_KEY_ENV`].
    pub fn from_settings(settings: &LlmSettings) -> Result<Self, LlmError> {
        let api_key = std::env::var(LLM_API_KEY_ENV)
            .ok()
            .filter(|k| !k.trim().is_empty());
        Self::new(settings, api_key)
    }

    pub fn new(settings: &LlmSettings, api_key: Option<String>) -> Result<Self, LlmError> {
        let base = settings
            .base_url
            .as_deref()
            .ok_or_else(|| LlmError::Permanent("llm.base_url is not set".to_string()))?;
        let completions_url = url::Url::parse(&format!(
            "{}/chat/completions",
            base.trim().trim_end_matches('/')
        ))
        .map_err(|e| LlmError::Permanent(format!("llm.base_url {base:?}: {e}")))?;
        let external = !crate::net::is_loopback(&completions_url);
        crate::net::check_secret_transport(&completions_url, api_key.is_some(), "llm.base_url")
            .map_err(LlmError::Permanent)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(settings.timeout_seconds))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| LlmError::Permanent(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            completions_url,
            api_key,
            model: settings.model.clone(),
            temperature: settings.temperature,
            max_output_tokens: settings.max_output_tokens,
            retry: RetryPolicy {
                max_attempts: settings.max_attempts,
                ..RetryPolicy::default()
            },
            external,
        })
    }

    /// Shortens backoff for tests and latency-sensitive callers.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn body(&self, request: &ChatRequest) -> Result<serde_json::Value, LlmError> {
        let build = |e: async_openai::error::OpenAIError| LlmError::Permanent(e.to_string());
        let system = ChatCompletionRequestSystemMessageArgs::default()
            .content(request.system.clone())
            .build()
            .map_err(build)?;
        let user = ChatCompletionRequestUserMessageArgs::default()
            .content(request.user.clone())
            .build()
            .map_err(build)?;
        let mut args = CreateChatCompletionRequestArgs::default();
        args.model(self.model.clone())
            .messages([system.into(), user.into()])
            .temperature(self.temperature)
            .max_tokens(self.max_output_tokens);
        if request.json_object {
            args.response_format(ResponseFormat::JsonObject);
        }
        let body = args.build().map_err(build)?;
        serde_json::to_value(body).map_err(|e| LlmError::Permanent(e.to_string()))
    }

    async fn attempt(&self, body: &serde_json::Value) -> Result<ChatResponse, LlmError> {
        let mut call = self.http.post(self.completions_url.clone()).json(body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(|e| {
            // Timeouts and refused connections are worth another attempt.
            LlmError::Transient(without_url(e))
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = crate::net::read_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| LlmError::Transient(e.to_string()))?;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(classify_status(status, retry_after, &text));
        }
        let parsed: CreateChatCompletionResponse = serde_json::from_str(&text)
            .map_err(|e| LlmError::Malformed(format!("response is not a chat completion: {e}")))?;
        let content = parsed
            .choices
            .first()
            .and_then(|choice| choice.message.content.clone())
            .unwrap_or_default();
        let usage = parsed.usage.as_ref();
        Ok(ChatResponse {
            content,
            model: parsed.model,
            prompt_tokens: usage.map_or(0, |u| u.prompt_tokens),
            completion_tokens: usage.map_or(0, |u| u.completion_tokens),
        })
    }
}

#[async_trait]
impl ChatModel for OpenAiCompatibleChat {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.body(request)?;
        self.retry.run(|_| self.attempt(&body)).await
    }

    fn is_external(&self) -> bool {
        self.external
    }

    fn model_name(&self) -> &str {
        &self.model
    }
}

/// reqwest errors name the URL; keep messages short and free of query strings.
fn without_url(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("{kind}: {}", error.without_url())
}

/// `Retry-After` (seconds or a date), or OpenAI's `retry-after-ms`, clamped by the one retry
/// policy (`crate::retry::parse_retry_after`).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = |name: &str| headers.get(name)?.to_str().ok();
    value("retry-after-ms")
        .and_then(crate::retry::parse_retry_after_millis)
        .or_else(|| value("retry-after").and_then(crate::retry::parse_retry_after))
}

pub(crate) fn classify_status(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> LlmError {
    // Error bodies are `{"error": {"message", "type", "code"}}`; keep only the message.
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    let lower = body.to_lowercase();
    match status.as_u16() {
        429 if lower.contains("insufficient_quota") => LlmError::Permanent(format!(
            "quota exhausted (429 insufficient_quota): {message}"
        )),
        429 => LlmError::RateLimited { retry_after },
        400 | 413
            if lower.contains("context_length_exceeded")
                || lower.contains("maximum context length")
                || status.as_u16() == 413 =>
        {
            LlmError::ContextTooLong(message)
        }
        401 | 403 => LlmError::Permanent(format!(
            "{status}: the endpoint rejected the key; check {LLM_API_KEY_ENV} ({message})"
        )),
        404 => LlmError::Permanent(format!("404: check llm.base_url and llm.model ({message})")),
        408 | 409 | 500..=599 => LlmError::Transient(format!("{status}: {message}")),
        _ => LlmError::Permanent(format!("{status}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_by_what_the_caller_should_do() {
        let quota = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert!(matches!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, None, quota),
            LlmError::Permanent(_)
        ));
        assert!(matches!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(2)), "{}"),
            LlmError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(2)
        ));
        let long = r#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#;
        assert!(matches!(
            classify_status(StatusCode::BAD_REQUEST, None, long),
            LlmError::ContextTooLong(_)
        ));
        assert!(matches!(
            classify_status(StatusCode::BAD_GATEWAY, None, "upstream"),
            LlmError::Transient(_)
        ));
        let unauthorized = classify_status(StatusCode::UNAUTHORIZED, None, "{}").to_string();
        assert!(unauthorized.contains(LLM_API_KEY_ENV), "{unauthorized}");
    }

    #[test]
    fn loopback_endpoints_are_local_and_keys_never_print() {
        let mut settings = LlmSettings {
            base_url: Some("http://127.0.0.1:11434/v1/".into()),
            ..LlmSettings::default()
        };
        let local = OpenAiCompatibleChat::new(&settings, Some("sk-secret".into())).unwrap();
        assert!(!local.is_external());
        assert_eq!(
            local.completions_url.as_str(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
        assert!(!format!("{local:?}").contains("sk-secret"));
        settings.base_url = Some("https://api.example.com/v1".into());
        assert!(
            OpenAiCompatibleChat::new(&settings, None)
                .unwrap()
                .is_external()
        );
        settings.base_url = Some("http://api.example.com/v1".into());
        assert!(OpenAiCompatibleChat::new(&settings, Some("k".into())).is_err());
    }
}
