//! In-process stand-in of the Freshdesk API v2 for tests: serves a bundle of tickets, articles
//! and canned responses on 127.0.0.1 with the real wire behaviour (Basic auth, bare-array lists
//! with `Link`, the ticket-list page cap, credits and `X-RateLimit-*` headers, 429 +
//! `Retry-After`, notes and replies stored as Freshdesk rewrites them, archived tickets on their
//! own endpoints, ticket updates, admin-only agent and canned-response APIs) plus injectable
//! faults (lost responses among them) and a request log. The rate window is configurable so a
//! "minute" can last two seconds in tests. `docs/freshdesk-api-addendum.md` gives the sources.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use deskdraft::domain::{Article, CannedResponse, Ticket};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use tokio::time::Instant;

mod agents;
mod archive;
mod canned;
mod directory;
pub mod html;
mod routes;
mod serve;
mod solutions;
mod ticket_update;
mod tickets;
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
    /// Fraction of successful POST/PUT writes whose response is lost: the write is applied and
    /// stored, then a gateway answers 502 with an HTML page.
    pub lost_response_rate: f64,
    /// The next N successful POST/PUT writes lose their response that way.
    pub lost_response_next: u32,
    /// Every POST/PUT waits this long before it is applied and answered (a slow Freshdesk); the
    /// write still happens if the client stops waiting.
    pub write_delay: Duration,
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
    /// Optional "Ticket Update" sub-limit (`PUT /tickets/{id}`), in calls per window.
    pub update_limit_per_window: Option<u32>,
    /// Credits other consumers (humans, apps) spend at the start of every window.
    pub external_usage_per_window: u32,
    pub faults: Faults,
    /// Store note and reply bodies as Freshdesk does (sanitised, re-serialised, wrapped in a
    /// `<div>`; see `html.rs`). Off: stored as sent, plain text wrapped.
    pub rewrite_html: bool,
    /// The plan has the Archive Tickets feature (else the archived endpoints answer 403).
    pub archive_feature: bool,
    /// The key belongs to an admin: agents and canned-response APIs, replying as another agent.
    pub admin: bool,
    /// The account's agents: (id, name, email). The key's own agent is [`AGENT_ID`].
    pub agents: Vec<(i64, String, String)>,
    /// The account's products: (id, name), for `GET /products`.
    pub products: Vec<(i64, String)>,
}

/// Agents besides the key's own in the default configuration.
pub const OTHER_AGENTS: [i64; 2] = [50_000_067_380, 50_000_067_381];

impl Default for StandInConfig {
    fn default() -> Self {
        Self {
            api_key: "test-key".into(),
            limit_per_window: 100_000,
            list_limit_per_window: None,
            window: Duration::from_secs(60),
            max_pages: 300,
            update_limit_per_window: None,
            external_usage_per_window: 0,
            faults: Faults::default(),
            rewrite_html: true,
            archive_feature: true,
            admin: true,
            agents: vec![
                (
                    AGENT_ID,
                    "Stand-in Agent".into(),
                    "agent@stand-in.example".into(),
                ),
                (
                    OTHER_AGENTS[0],
                    "Ana Lima".into(),
                    "ana.lima@stand-in.example".into(),
                ),
                (
                    OTHER_AGENTS[1],
                    "Ben Okafor".into(),
                    "ben.okafor@stand-in.example".into(),
                ),
            ],
            products: Vec::new(),
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

/// Tickets (with all their conversations; `archived: true` ones only on the archived
/// endpoints), articles and canned responses to serve. Build it with `..Default::default()`.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub tickets: Vec<Ticket>,
    pub articles: Vec<Article>,
    /// Solution folder id -> `visibility` (default: the articles' `folder_visibility`, else 1).
    pub folder_visibility: BTreeMap<i64, i64>,
    pub canned_responses: Vec<CannedResponse>,
    /// Canned-response folders; responses in no listed folder go to a shared "General" folder
    /// ([`DEFAULT_CANNED_FOLDER`]).
    pub canned_folders: Vec<CannedFolder>,
}

/// A canned-response folder. A personal one holds the key's agent's own responses.
#[derive(Debug, Clone, PartialEq)]
pub struct CannedFolder {
    pub id: i64,
    pub name: String,
    pub personal: bool,
}

/// The shared folder that takes canned responses whose `folder_id` names no listed folder.
pub const DEFAULT_CANNED_FOLDER: i64 = 80_000_000_001;

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
        ..Bundle::default()
    })
}

pub(crate) struct Data {
    pub tickets: BTreeMap<i64, Ticket>,
    pub articles: Vec<Article>,
    pub folder_visibility: BTreeMap<i64, i64>,
    pub canned_responses: Vec<CannedResponse>,
    pub canned_folders: Vec<CannedFolder>,
    pub next_conversation_id: i64,
    window_index: u64,
    used: u32,
    list_used: u32,
    update_used: u32,
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

impl StandIn {
    pub async fn start(bundle: Bundle, config: StandInConfig) -> Self {
        let faults = config.faults.clone();
        let shared = Arc::new(Shared {
            start: Instant::now(),
            data: Mutex::new(Data {
                tickets: bundle.tickets.into_iter().map(|t| (t.id, t)).collect(),
                articles: bundle.articles,
                folder_visibility: bundle.folder_visibility,
                canned_responses: bundle.canned_responses,
                canned_folders: bundle.canned_folders,
                next_conversation_id: 90_000_000_000,
                window_index: 0,
                used: config.external_usage_per_window,
                list_used: 0,
                update_used: 0,
                rng: StdRng::seed_from_u64(faults.seed),
                faults,
                log: Vec::new(),
            }),
            config,
        });
        let app = Router::new()
            .fallback(serve::handle)
            .with_state(shared.clone());
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

    /// An agent's public reply typed in Freshdesk by hand (the agent's own editor, not the
    /// API): appended to the ticket with the next conversation id, the ticket's `updated_at`
    /// moved to now. Returns the reply's id.
    pub fn add_agent_reply(&self, ticket_id: i64, text: &str, agent_id: i64) -> i64 {
        let mut data = self.lock();
        let id = data.next_conversation_id;
        data.next_conversation_id += 1;
        let ticket = data
            .tickets
            .get_mut(&ticket_id)
            .expect("ticket to reply to exists");
        let at = chrono::Utc::now();
        ticket.conversations.push(deskdraft::domain::Conversation {
            id,
            body: deskdraft::draft::render::paragraphs(text),
            body_text: Some(text.to_string()),
            incoming: false,
            private: false,
            source: Some(0),
            user_id: Some(agent_id),
            ticket_id: Some(ticket_id),
            support_email: Some("support@stand-in.freshdesk.com".into()),
            created_at: at,
            updated_at: Some(at),
            attachments: Vec::new(),
        });
        ticket.updated_at = at;
        id
    }

    /// Removes a ticket for good (a purge: it is no longer listed or served).
    pub fn purge_ticket(&self, id: i64) {
        self.lock().tickets.remove(&id);
    }

    /// Archives a ticket as Freshdesk does with closed tickets inactive for ~120 days: from now
    /// on it is served only by `/tickets/archived/{id}` (and cannot come back).
    pub fn archive_ticket(&self, id: i64) {
        let mut data = self.lock();
        let ticket = data.tickets.get_mut(&id).expect("ticket to archive exists");
        ticket.archived = true;
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
            data.update_used = 0;
        }
    }

    /// Whole seconds until the current window ends, at least 1 (never early).
    fn retry_after_secs(&self, data: &Data) -> u64 {
        let end = self.config.window * (data.window_index as u32 + 1);
        let left = end.saturating_sub(self.start.elapsed());
        left.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// Shapes a stored value as the API returns it.
pub(crate) fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
