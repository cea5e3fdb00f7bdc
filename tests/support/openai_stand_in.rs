//! An OpenAI-compatible chat endpoint for tests, on 127.0.0.1: `POST /v1/chat/completions`
//! answers from a script (a model answer, an HTTP error with optional `Retry-After`, a raw body,
//! or a hang) and records every request it receives for assertions.
//!
//! It can behave like different servers ([`ServerKind`]) in what structured output it takes:
//! OpenAI (any `response_format`), llama-cpp-python (rejects `json_schema` with the 500 and the
//! validation message that llama-cpp-python 0.3.36 answers, takes `json_object` with a `schema`),
//! or a server without structured output (400 for any `response_format`). A rejected request is
//! recorded but consumes no scripted answer. `GET /props` reports a context size when one is set,
//! as llama.cpp's server does.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One scripted response.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// A normal completion whose message content is this text.
    Answer(String),
    /// An error status with an OpenAI-style error body and an optional `Retry-After` (seconds).
    Error {
        status: u16,
        code: &'static str,
        retry_after: Option<u64>,
    },
    /// A 200 with this exact body (malformed on purpose).
    RawBody(String),
    /// Never answers within any sensible timeout.
    Hang,
}

/// The model answer as JSON text, the way the prompt asks for it.
pub fn answer(reply: &str, source_ids: &[&str], confidence: f32) -> Scripted {
    Scripted::Answer(
        json!({"reply": reply, "source_ids": source_ids, "confidence": confidence, "needs_human": []})
            .to_string(),
    )
}

/// Which server's structured-output behaviour the stand-in imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Takes `json_schema`, `json_object` (with or without extra keys) and plain requests.
    OpenAi,
    /// llama-cpp-python 0.3.36: `json_schema` is a validation error answered with HTTP 500.
    LlamaCppPython,
    /// Answers 400 to any `response_format`.
    NoStructuredOutput,
}

/// The body llama-cpp-python 0.3.36 answers to `response_format: {"type": "json_schema"}`
/// (measured on the real server, traceback lines shortened).
pub const LLAMA_CPP_PYTHON_JSON_SCHEMA_REJECTION: &str = "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"llama_cpp/server/app.py\", line 376, in create_chat_completion\n    POST /v1/chat/completions";

#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub at: Duration,
    pub authorization: Option<String>,
    pub body: Value,
}

impl RecordedRequest {
    /// System and user message texts joined.
    pub fn prompt_text(&self) -> String {
        self.body["messages"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .filter_map(|m| m["content"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }
}

struct Shared {
    start: Instant,
    /// Dimension of the vectors `/v1/embeddings` returns.
    embedding_dimensions: Mutex<usize>,
    script: Mutex<VecDeque<Scripted>>,
    fallback: Mutex<Scripted>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Every completion waits this long before answering (a local model on a CPU).
    answer_delay: Mutex<Duration>,
    kind: Mutex<ServerKind>,
    /// What `GET /props` reports as `n_ctx` (404 when `None`).
    props_context: Mutex<Option<u32>>,
}

pub struct OpenAiStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for OpenAiStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl OpenAiStandIn {
    /// Answers `script` in order, then `fallback` for every further request.
    pub async fn start(script: Vec<Scripted>, fallback: Scripted) -> Self {
        let shared = Arc::new(Shared {
            start: Instant::now(),
            embedding_dimensions: Mutex::new(8),
            script: Mutex::new(script.into()),
            fallback: Mutex::new(fallback),
            requests: Mutex::new(Vec::new()),
            answer_delay: Mutex::new(Duration::ZERO),
            kind: Mutex::new(ServerKind::OpenAi),
            props_context: Mutex::new(None),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/props", axum::routing::get(props))
            .route("/v1/embeddings", post(embeddings))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind OpenAI stand-in");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn set_embedding_dimensions(&self, dimensions: usize) {
        *self.shared.embedding_dimensions.lock().unwrap() = dimensions;
    }

    /// Makes every later completion wait `delay` before answering.
    pub fn set_answer_delay(&self, delay: Duration) {
        *self.shared.answer_delay.lock().unwrap() = delay;
    }

    pub fn set_server_kind(&self, kind: ServerKind) {
        *self.shared.kind.lock().unwrap() = kind;
    }

    /// Makes `GET /props` report this context size, as llama.cpp's server does.
    pub fn set_props_context(&self, n_ctx: u32) {
        *self.shared.props_context.lock().unwrap() = Some(n_ctx);
    }

    pub fn push(&self, scripted: Scripted) {
        self.shared.script.lock().unwrap().push_back(scripted);
    }
}

async fn completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("request is not JSON: {e}")).into_response();
        }
    };
    // Checked like the real API: a model and a non-empty list of role/content messages.
    let valid = body["model"].as_str().is_some_and(|m| !m.is_empty())
        && body["messages"].as_array().is_some_and(|messages| {
            !messages.is_empty()
                && messages
                    .iter()
                    .all(|m| m["role"].is_string() && m["content"].is_string())
        });
    shared.requests.lock().unwrap().push(RecordedRequest {
        at: shared.start.elapsed(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.clone(),
    });
    if !valid {
        return error_response(400, "invalid_request_error", None);
    }
    let kind = *shared.kind.lock().unwrap();
    let format_type = body["response_format"]["type"].as_str();
    match (kind, format_type) {
        (ServerKind::LlamaCppPython, Some(kind)) if kind != "text" && kind != "json_object" => {
            let body = json!({"error": {
                "message": LLAMA_CPP_PYTHON_JSON_SCHEMA_REJECTION,
                "type": "internal_server_error", "param": null, "code": null}});
            return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
        }
        (ServerKind::NoStructuredOutput, Some(_)) => {
            let body = json!({"error": {
                "message": "response_format is not supported by this server",
                "type": "invalid_request_error", "param": "response_format", "code": null}});
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        _ => {}
    }
    let delay = *shared.answer_delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let next = shared.script.lock().unwrap().pop_front();
    let scripted = next.unwrap_or_else(|| shared.fallback.lock().unwrap().clone());
    match scripted {
        Scripted::Answer(content) => {
            let model = body["model"].as_str().unwrap_or_default();
            axum::Json(json!({
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": 420, "completion_tokens": 96, "total_tokens": 516}
            }))
            .into_response()
        }
        Scripted::Error {
            status,
            code,
            retry_after,
        } => error_response(status, code, retry_after),
        Scripted::RawBody(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            text,
        )
            .into_response(),
        Scripted::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

async fn props(State(shared): State<Arc<Shared>>) -> Response {
    match *shared.props_context.lock().unwrap() {
        Some(n_ctx) => axum::Json(json!({
            "default_generation_settings": {"n_ctx": n_ctx},
            "total_slots": 1
        }))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn error_response(status: u16, code: &str, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    let body =
        json!({"error": {"message": format!("scripted {code}"), "type": code, "code": code}});
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            seconds.to_string().parse().expect("header"),
        );
    }
    response
}

/// Deterministic, unnormalised vectors (a hash of the text spread over the dimensions), returned in
/// reverse order with their `index` so clients must reorder.
async fn embeddings(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not JSON: {e}")).into_response(),
    };
    shared.requests.lock().unwrap().push(RecordedRequest {
        at: shared.start.elapsed(),
        authorization: None,
        body: body.clone(),
    });
    let inputs: Vec<String> = match &body["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return error_response(400, "invalid_request_error", None),
    };
    let dimensions = *shared.embedding_dimensions.lock().unwrap();
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let seed = text
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            let vector: Vec<f32> = (0..dimensions)
                .map(|d| ((seed >> (d % 48)) & 0xff) as f32 + 1.0)
                .collect();
            json!({"object": "embedding", "index": index, "embedding": vector})
        })
        .collect();
    data.reverse();
    axum::Json(json!({
        "object": "list",
        "model": body["model"],
        "data": data,
        "usage": {"prompt_tokens": 10, "total_tokens": 10}
    }))
    .into_response()
}
