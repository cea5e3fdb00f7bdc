//! Owns `deskdraft serve`: the Freshdesk webhook (acknowledged only once its job is durable), the
//! queue workers that draft and post exactly one private note per customer message and send
//! approved replies exactly once, the reconciler that polls for what the webhook missed, the
//! approval API and review page, and health/metrics.
//! Drafting logic stays in `draft`; this module only moves tickets, drafts and notes around.

mod api;
mod app_api;
mod auth;
pub mod console;
pub mod drafting;
pub mod live_gaps;
mod locks;
mod metrics;
mod ops;
mod outcomes;
pub(crate) mod page;
pub mod reconcile;
pub mod sending;
pub mod supervise;
mod webhook;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::config::ServeSettings;
use crate::draft::Drafter;
use crate::helpdesk::freshdesk::CallMetrics;
use crate::helpdesk::{HelpdeskRead, HelpdeskWrite};
use crate::queue::JobQueue;
use crate::store::VectorStore;

pub use auth::{APP_TOKEN_ENV, REVIEW_TOKEN_ENV, Secret, WEBHOOK_SECRET_ENV};
pub use locks::TicketLocks;
pub use metrics::ServeMetrics;
pub use ops::ReadinessProbe;
pub use webhook::ticket_id_from_payload;

/// Everything the handlers and workers share (`Arc<dyn Trait>` at every seam).
#[derive(Clone)]
pub struct ServeState {
    pub queue: JobQueue,
    pub drafter: Arc<Drafter>,
    pub read: Arc<dyn HelpdeskRead>,
    pub write: Arc<dyn HelpdeskWrite>,
    pub store: Arc<dyn VectorStore>,
    pub settings: ServeSettings,
    pub webhook_secret: Secret,
    pub review_token: Secret,
    /// The sidebar app's token (`DESKDRAFT_APP_TOKEN`): opens the app's routes only.
    pub app_token: Option<Secret>,
    pub metrics: Arc<ServeMetrics>,
    /// The Freshdesk client's call counters, exported at `/metrics`.
    pub freshdesk_calls: Option<Arc<CallMetrics>>,
    /// Wakes idle workers when a webhook stores a job.
    pub job_signal: Arc<tokio::sync::Notify>,
    /// Held around every check-then-post on a ticket.
    pub ticket_locks: Arc<TicketLocks>,
    /// `/readyz`'s view of Freshdesk: at most one call of its own a minute.
    pub freshdesk_probe: Arc<ReadinessProbe>,
    /// Whether the worker loops and the reconciler are running (`/healthz`).
    pub loop_health: Arc<supervise::LoopHealth>,
    /// Slows down guessing of the review token at sign-in.
    pub login_throttle: Arc<auth::LoginThrottle>,
    /// The precision a confidence threshold should reach (`simulation.target_precision`): the
    /// live risk-coverage curve suggests a threshold for it.
    pub target_precision: f64,
    /// The review console's name caches, ticket links and simulation report folder.
    pub console: Arc<console::ConsoleContext>,
}

/// Browsers may call the app's routes only from the origins configured (the Freshworks request
/// proxy, the documented way, needs none).
fn app_cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderValue, Method, header};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok())
        .collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}

/// The HTTP routes.
pub fn router(state: ServeState) -> Router {
    let body_limit = state.settings.max_body_bytes;
    let timeout = Duration::from_secs(state.settings.request_timeout_seconds.max(1));
    let approval_api = Router::new()
        .route("/api/drafts", get(api::list_drafts))
        .route("/api/drafts/{id}", get(api::get_draft))
        .route("/api/drafts/{id}/approve", post(api::approve_draft))
        .route("/api/drafts/{id}/reject", post(api::reject_draft))
        .route("/api/jobs", get(api::list_jobs))
        .route("/api/jobs/{id}/retry", post(api::retry_job))
        .route("/api/stats", get(api::stats))
        .route("/api/knowledge-gaps", get(api::knowledge_gaps))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::require_reviewer,
        ));
    let app_api = Router::new()
        .route("/api/tickets/{ticket_id}/draft", get(app_api::ticket_draft))
        .route("/api/tickets/{ticket_id}/redraft", post(app_api::redraft))
        .route("/api/drafts/{id}/feedback", post(app_api::draft_feedback))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            app_api::require_app,
        ))
        .layer(app_cors(&state.settings.app_origins));
    Router::new()
        .route("/webhooks/freshdesk", post(webhook::freshdesk_webhook))
        .merge(app_api)
        .merge(approval_api)
        .route("/", get(console::queue_page))
        .route("/drafts/{id}", get(console::draft_page))
        .route("/lead", get(console::lead_page))
        .route("/reports/latest", get(console::latest_report))
        .route("/console/console.css", get(console::console_css))
        .route("/console/console.js", get(console::console_js))
        .route("/login", get(page::login_page).post(page::login))
        .route("/logout", post(page::logout))
        .route("/drafts/{id}/approve", post(page::approve_form))
        .route("/drafts/{id}/reject", post(page::reject_form))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(state)
}
