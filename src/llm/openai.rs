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

use super::structured::{StructuredOutputForm, candidates, rejects_response_format};
use super::{ChatModel, ChatRequest, ChatResponse, LlmError};
use crate::config::{LlmSettings, StructuredOutputSetting};
use crate::retry::RetryPolicy;

/// Environment variable holding the endpoint's API key (optional for local servers).
pub const LLM_API_KEY_ENV: &str = "DESKDRAFT_LLM_API_KEY";

/// The largest answer read from a chat endpoint: a draft is a few kilobytes of JSON.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The context window assumed when neither the configuration nor the server says.
pub const DEFAULT_CONTEXT_TOKENS: u32 = 8192;

pub struct OpenAiCompatibleChat {
    http: reqwest::Client,
    completions_url: url::Url,
    api_key: Option<String>,
    model: String,
    temperature: f32,
    max_output_tokens: u32,
    retry: RetryPolicy,
    external: bool,
    /// `.../v1`, for asking the server about itself.
    base_url: url::Url,
    structured_output: StructuredOutputSetting,
    /// The structured-output form this server accepted (auto mode), so it is detected once.
    accepted_form: std::sync::Mutex<Option<StructuredOutputForm>>,
    configured_context_tokens: Option<u32>,
    discovered_context_tokens: tokio::sync::OnceCell<Option<u32>>,
    system_role: bool,
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
        let base_url = url::Url::parse(base.trim().trim_end_matches('/'))
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
            base_url,
            structured_output: settings.structured_output,
            accepted_form: std::sync::Mutex::new(None),
            configured_context_tokens: settings.context_tokens,
            discovered_context_tokens: tokio::sync::OnceCell::new(),
            system_role: settings.system_role,
        })
    }

    /// The structured-output form this server accepted, once a request has told.
    pub fn accepted_structured_output(&self) -> Option<StructuredOutputForm> {
        *self.accepted_form.lock().expect("form lock")
    }

    /// The context window as the server reports it: llama.cpp's `/props` (`n_ctx`), or vLLM's
    /// `/models` (`max_model_len`). llama-cpp-python and OpenAI do not say.
    async fn discover_context_tokens(&self) -> Option<u32> {
        let root = self.base_url.as_str().trim_end_matches('/');
        let root = root.strip_suffix("/v1").unwrap_or(root);
        for (url, pointers) in [
            (
                format!("{root}/props"),
                &["/default_generation_settings/n_ctx", "/n_ctx"][..],
            ),
            (
                format!("{}/models", self.base_url.as_str().trim_end_matches('/')),
                &["/data/0/max_model_len"][..],
            ),
        ] {
            let mut call = self.http.get(&url).timeout(Duration::from_secs(5));
            if let Some(key) = &self.api_key {
                call = call.bearer_auth(key);
            }
            let Ok(response) = call.send().await else {
                continue;
            };
            if !response.status().is_success() {
                continue;
            }
            let Ok(body) = crate::net::read_capped(response, MAX_RESPONSE_BYTES).await else {
                continue;
            };
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
                continue;
            };
            if let Some(tokens) = pointers
                .iter()
                .find_map(|pointer| value.pointer(pointer)?.as_u64())
                .filter(|&tokens| tokens > 0)
            {
                return Some(u32::try_from(tokens).unwrap_or(u32::MAX));
            }
        }
        None
    }

    /// Shortens backoff for tests and latency-sensitive callers.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The request body; `form` says how the answer's schema is requested (when it has one).
    fn body(
        &self,
        request: &ChatRequest,
        form: Option<StructuredOutputForm>,
    ) -> Result<serde_json::Value, LlmError> {
        let build = |e: async_openai::error::OpenAIError| LlmError::Permanent(e.to_string());
        let user_text = if self.system_role {
            request.user.clone()
        } else {
            format!("{}\n\n{}", request.system.trim_end(), request.user)
        };
        let user = ChatCompletionRequestUserMessageArgs::default()
            .content(user_text)
            .build()
            .map_err(build)?;
        let mut messages = Vec::with_capacity(2);
        if self.system_role {
            let system = ChatCompletionRequestSystemMessageArgs::default()
                .content(request.system.clone())
                .build()
                .map_err(build)?;
            messages.push(system.into());
        }
        messages.push(user.into());
        let mut args = CreateChatCompletionRequestArgs::default();
        args.model(self.model.clone())
            .messages(messages)
            .temperature(self.temperature)
            .max_tokens(self.max_output_tokens);
        if request.json_object && request.answer_schema.is_none() {
            args.response_format(ResponseFormat::JsonObject);
        }
        let body = args.build().map_err(build)?;
        let mut body =
            serde_json::to_value(body).map_err(|e| LlmError::Permanent(e.to_string()))?;
        if let (Some(schema), Some(form)) = (&request.answer_schema, form)
            && let Some(format) = form.response_format(schema)
        {
            body["response_format"] = format;
        }
        Ok(body)
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
            structured_output: None,
        })
    }
}

#[async_trait]
impl ChatModel for OpenAiCompatibleChat {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        if request.answer_schema.is_none() {
            let body = self.body(request, None)?;
            return self.retry.run(|_| self.attempt(&body)).await;
        }
        let forms = candidates(self.structured_output, self.accepted_structured_output());
        let last = forms.len() - 1;
        for (index, form) in forms.into_iter().enumerate() {
            let body = self.body(request, Some(form))?;
            match self.retry.run(|_| self.attempt(&body)).await {
                Err(error) if error.is_response_format_rejection() && index < last => {
                    tracing::info!(
                        form = form.as_str(),
                        %error,
                        "the endpoint rejects this structured-output form; trying the next"
                    );
                }
                Ok(mut response) => {
                    if self.structured_output == StructuredOutputSetting::Auto {
                        let mut accepted = self.accepted_form.lock().expect("form lock");
                        if accepted.is_none() {
                            tracing::info!(form = form.as_str(), "structured-output form detected");
                        }
                        *accepted = Some(form);
                    }
                    response.structured_output = Some(form);
                    return Ok(response);
                }
                Err(error) => return Err(error),
            }
        }
        unreachable!("the last candidate's outcome is always returned")
    }

    async fn context_tokens(&self) -> Option<u32> {
        if let Some(configured) = self.configured_context_tokens {
            return Some(configured);
        }
        *self
            .discovered_context_tokens
            .get_or_init(|| self.discover_context_tokens())
            .await
    }

    fn is_external(&self) -> bool {
        self.external
    }

    fn model_name(&self) -> &str {
        &self.model
    }

    fn max_output_tokens(&self) -> u32 {
        self.max_output_tokens
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
    if rejects_response_format(status.as_u16(), body) {
        return LlmError::ResponseFormatRejected(format!("{status}: {message}"));
    }
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
