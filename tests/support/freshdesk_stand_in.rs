//! In-process stand-in of the Freshdesk API v2 for tests: serves a bundle of tickets and
//! articles on 127.0.0.1 with the real wire behaviour (Basic auth, bare-array lists with `Link`,
//! the ticket-list page cap, credits and `X-RateLimit-*` headers, 429 + `Retry-After`, notes and
//! replies) plus injectable faults and a request log. The rate window is configurable so a
//! "minute" can last two seconds in tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use deskdraft::domain::{Article, Ticket};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

mod routes;
mod writes;

pub use routes::Reply;

/// The agent that owns the stand-in's API key (`GET /agents/me`).
pub const AGENT_ID: i64 = 50_000_067_379;

/// Injected faults; rates are fractions of requests, drawn from an RNG seeded with `seed`.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub server_error_rate: f64,
    pub slow_rate: f64,
    pub slow_delay: Duration,
    pub malformed_rate: f64,
    pub reset_rate: f64,
    pub seed: u64,
    /// The next N successful responses carry malformed JSON (writes are applied first).
    pub malformed_next: u32,
}

#[derive(Debug, Clone)]
pub struct StandInConfig {
    pub api_key: String,
    /// Credits per window (`X-RateLimit-Total`).
    pub limit_per_window: u32,
    /// Optional "Tickets List" sub-limit, in calls per window.
    pub list_limit_per_window: Option<u32>,
    /// Window length: 60 s on Freshdesk; shorter in tests.
    pub window: Duration,
    /// Highest ticket-list page served (Freshdesk: 300).
    pub max_pages: u32,
    /// Credits other consumers (humans, apps) spend at the start of every window.
    pub external_usage_per_window: u32,
    pub faults: Faults,
}

impl Default for StandInConfig {
    fn default() -> Self {
        Self {
            api_key: "test-key".into(),
            limit_per_window: 100_000,
            list_limit_per_window: None,
            window: Duration::from_secs(60),
            max_pages: 300,
            external_usage_per_window: 0,
            faults: Faults::default(),
        }
    }
}

/// One served request, for assertions.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Arrival time since the stand-in started.
    pub at: Duration,
    /// HTTP status, or 0 when the connection was dropped.
    pub status: u16,
    /// `Retry-After` seconds of a 429.
    pub retry_after: Option<u64>,
    /// Credits charged (0 for a 429).
    pub cost: u32,
    /// Request body of writes (POST/PUT), as received.
    pub body: String,
}

/// Tickets (with all their conversations) and articles to serve.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub tickets: Vec<Ticket>,
    pub articles: Vec<Article>,
}

/// Reads `tickets.jsonl.gz` and (optional) `articles.jsonl.gz` of a dataset bundle.
pub fn load_bundle(dir: &std::path::Path) -> std::io::Result<Bundle> {
    use std::io::BufRead;
    fn read<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> std::io::Result<Vec<T>> {
        if !path.exists() {
            return Ok(Vec::new());
        }
        let reader =
            std::io::BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(path)?));
        let mut out = Vec::new();
        for line in reader.lines() {
            let line = line?;
            if !line.trim().is_empty() {
                out.push(serde_json::from_str(&line).map_err(std::io::Error::other)?);
            }
        }
        Ok(out)
    }
    Ok(Bundle {
        tickets: read(&dir.join("tickets.jsonl.gz"))?,
        articles: read(&dir.join("articles.jsonl.gz"))?,
    })
}

pub(crate) struct Data {
    pub tickets: BTreeMap<i64, Ticket>,
    pub articles: Vec<Article>,
    pub next_conversation_id: i64,
    window_index: u64,
    used: u32,
    list_used: u32,
    rng: StdRng,
    faults: Faults,
    log: Vec<LoggedRequest>,
}

pub(crate) struct Shared {
    pub config: StandInConfig,
    start: Instant,
    pub data: Mutex<Data>,
}

/// A running stand-in; stops when dropped.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

enum Fault {
    Reset,
    ServerError,
    Malformed,
}

impl StandIn {
    pub async fn start(bundle: Bundle, config: StandInConfig) -> Self {
        let faults = config.faults.clone();
        let shared = Arc::new(Shared {
            start: Instant::now(),
            data: Mutex::new(Data {
                tickets: bundle.tickets.into_iter().map(|t| (t.id, t)).collect(),
                articles: bundle.articles,
                next_conversation_id: 90_000_000_000,
                window_index: 0,
                used: config.external_usage_per_window,
                list_used: 0,
                rng: StdRng::seed_from_u64(faults.seed),
                faults,
                log: Vec::new(),
            }),
            config,
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr = listener.local_addr().expect("stand-in address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:PORT/api/v2`
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v2", self.addr)
    }

    pub fn log(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    pub fn set_faults(&self, faults: Faults) {
        let mut data = self.lock();
        data.rng = StdRng::seed_from_u64(faults.seed);
        data.faults = faults;
    }

    /// Uses up the current window's credits, as humans or other integrations would.
    pub fn exhaust_window(&self) {
        let mut data = self.lock();
        self.shared.roll_window(&mut data);
        data.used = self.shared.config.limit_per_window;
    }

    /// The stored ticket, with every conversation created so far.
    pub fn ticket(&self, id: i64) -> Option<Ticket> {
        self.lock().tickets.get(&id).cloned()
    }

    /// Changes a stored ticket as an agent or automation would (the caller sets `updated_at`).
    pub fn edit_ticket(&self, id: i64, edit: impl FnOnce(&mut Ticket)) {
        let mut data = self.lock();
        let ticket = data.tickets.get_mut(&id).expect("ticket to edit exists");
        edit(ticket);
    }

    /// Removes a ticket for good (a purge: it is no longer listed or served).
    pub fn purge_ticket(&self, id: i64) {
        self.lock().tickets.remove(&id);
    }

    pub fn elapsed(&self) -> Duration {
        self.shared.start.elapsed()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        self.shared.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Shared {
    fn roll_window(&self, data: &mut Data) {
        let window = self.config.window.as_nanos().max(1);
        let index = (self.start.elapsed().as_nanos() / window) as u64;
        if index != data.window_index {
            data.window_index = index;
            data.used = self.config.external_usage_per_window;
            data.list_used = 0;
        }
    }

    /// Whole seconds until the current window ends, at least 1 (never early).
    fn retry_after_secs(&self, data: &Data) -> u64 {
        let end = self.config.window * (data.window_index as u32 + 1);
        let left = end.saturating_sub(self.start.elapsed());
        left.as_secs_f64().ceil().max(1.0) as u64
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = shared.start.elapsed();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let cost = routes::credit_cost(&method, &path, &pairs);
    let is_list = method == Method::GET && path.trim_end_matches('/') == "/api/v2/tickets";
    let limit = shared.config.limit_per_window;

    // Rate limit first: invalid requests count too.
    let (remaining, fault, slow) = {
        let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
        shared.roll_window(&mut data);
        let list_full = is_list
            && shared
                .config
                .list_limit_per_window
                .is_some_and(|l| data.list_used >= l);
        if data.used + cost > limit || list_full {
            let secs = shared.retry_after_secs(&data);
            data.log.push(LoggedRequest {
                method: method.to_string(),
                path,
                query,
                at,
                status: 429,
                retry_after: Some(secs),
                cost: 0,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let mut response = Reply::new(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"code": "rate_limit_exceeded", "message": "You have exceeded the limit of requests per minute"}),
            )
            .into_response(limit, limit.saturating_sub(data.used), 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return response;
        }
        data.used += cost;
        if is_list {
            data.list_used += 1;
        }
        let faults = data.faults.clone();
        let malformed_next = faults.malformed_next > 0;
        if malformed_next {
            data.faults.malformed_next -= 1;
        }
        let mut draw = |rate: f64| rate > 0.0 && data.rng.random::<f64>() < rate;
        let fault = if draw(faults.reset_rate) {
            Some(Fault::Reset)
        } else if draw(faults.server_error_rate) {
            Some(Fault::ServerError)
        } else if malformed_next || draw(faults.malformed_rate) {
            Some(Fault::Malformed)
        } else {
            None
        };
        let slow = draw(faults.slow_rate).then_some(faults.slow_delay);
        (limit - data.used, fault, slow)
    };
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    let reply = match fault {
        Some(Fault::Reset) => {
            log(&shared, &method, path, query, at, 0, cost, &body);
            // An erroring body makes hyper abort the connection mid-response.
            let stream = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                ))
            });
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .header(header::CONTENT_LENGTH, "4096")
                .body(Body::from_stream(stream))
                .unwrap_or_default();
        }
        Some(Fault::ServerError) => Reply::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": "internal_error", "message": "We're sorry, but something went wrong."}),
        ),
        Some(Fault::Malformed) | None => {
            let mut reply = if routes::authorised(&headers, &shared.config.api_key) {
                routes::route(&shared, &method, &path, &pairs, &headers, &body)
            } else {
                Reply::new(
                    StatusCode::UNAUTHORIZED,
                    json!({"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}),
                )
            };
            if matches!(fault, Some(Fault::Malformed)) && reply.status.is_success() {
                reply.raw = Some("[{\"id\": 1, \"subject\": \"trunc".to_owned());
            }
            reply
        }
    };
    log(
        &shared,
        &method,
        path,
        query,
        at,
        reply.status.as_u16(),
        cost,
        &body,
    );
    reply.into_response(limit, remaining, cost)
}

#[allow(clippy::too_many_arguments)]
fn log(
    shared: &Shared,
    method: &Method,
    path: String,
    query: String,
    at: Duration,
    status: u16,
    cost: u32,
    body: &[u8],
) {
    let body = String::from_utf8_lossy(body).into_owned();
    let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    data.log.push(LoggedRequest {
        method: method.to_string(),
        path,
        query,
        at,
        status,
        retry_after: None,
        cost,
        body,
    });
}

/// Shapes a stored value as the API returns it.
pub(crate) fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
