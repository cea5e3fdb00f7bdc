//! `deskdraft serve`: opens the store, drafter, Freshdesk client and job queue, then runs the HTTP
//! server, the queue workers and the reconciler until SIGTERM/Ctrl-C, finishing in-flight jobs.

use std::sync::Arc;

use super::freshdesk::{check_credentials, freshdesk_from_config};
use crate::app::Components;
use crate::config::Config;
use crate::errors::CommandError;
use crate::queue::{JobQueue, QueueError};
use crate::serve::reconcile::run_reconciler;
use crate::serve::worker::run_workers;
use crate::serve::{
    APP_TOKEN_ENV, REVIEW_TOKEN_ENV, Secret, ServeMetrics, ServeState, TicketLocks,
    WEBHOOK_SECRET_ENV, router,
};

/// The configured queue: the SQLite file, or the PostgreSQL database shared by replicas
/// (migrated at open; a newer schema is refused).
pub async fn open_queue(config: &Config) -> Result<JobQueue, CommandError> {
    let queue = match config
        .postgres_queue_url()
        .map_err(|e| CommandError::Config(e.to_string()))?
    {
        Some(url) => {
            JobQueue::open_postgres(
                &url,
                config.serve.max_attempts,
                config.queue.max_connections,
            )
            .await
        }
        None => JobQueue::open(&config.queue_path(), config.serve.max_attempts),
    };
    // A database from a newer deskdraft is a configuration problem (exit 2); others exit 1.
    queue.map_err(|e| match e {
        QueueError::NewerSchema(_) => CommandError::Config(e.to_string()),
        other => CommandError::Queue(other),
    })
}

pub async fn run_serve(config: Config) -> Result<(), CommandError> {
    let webhook_secret = Secret::from_env(WEBHOOK_SECRET_ENV).map_err(CommandError::Config)?;
    let review_token = Secret::from_env(REVIEW_TOKEN_ENV).map_err(CommandError::Config)?;
    // Optional: without it only the review token opens the sidebar app's routes.
    let app_token = match std::env::var(APP_TOKEN_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            Some(Secret::new(value, APP_TOKEN_ENV).map_err(CommandError::Config)?)
        }
        _ => None,
    };
    let freshdesk = freshdesk_from_config(&config)?;
    check_credentials(&freshdesk.reader()).await?;
    let mut queue = open_queue(&config).await?;
    tracing::info!(backend = queue.backend_name(), "job queue open");
    queue.lease = std::time::Duration::from_secs(config.serve.lease_seconds);
    let settings = config.serve.clone();
    let target_precision = config.simulation.target_precision;
    let console = crate::serve::console::ConsoleContext::new(
        ticket_url_prefix(&config),
        config.serve.simulation_report_dir.clone(),
    );
    let components = Components::open(config)?;
    let drafter = Arc::new(components.drafter().await?);
    let state = ServeState {
        queue: queue.clone(),
        drafter,
        read: Arc::new(freshdesk.reader()),
        write: Arc::new(freshdesk.writer()),
        store: Arc::clone(&components.store),
        settings: settings.clone(),
        webhook_secret,
        review_token,
        app_token,
        metrics: Arc::new(ServeMetrics::default()),
        freshdesk_calls: Some(freshdesk.metrics()),
        job_signal: Arc::new(tokio::sync::Notify::new()),
        ticket_locks: Arc::new(TicketLocks::for_queue(&queue)),
        freshdesk_probe: Arc::default(),
        loop_health: Arc::default(),
        login_throttle: Arc::default(),
        target_precision: f64::from(target_precision),
        console: Arc::new(console),
    };
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|source| CommandError::Io {
            context: format!("cannot listen on {}", settings.listen),
            source,
        })?;
    let address = listener.local_addr().map_err(|source| CommandError::Io {
        context: "listener address".into(),
        source,
    })?;
    // Printed for supervisors and tests (the port may have been chosen by the OS).
    println!("listening on http://{address}");
    tracing::info!(%address, workers = settings.workers, "serving");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Jobs queued by other replicas wake this one's workers at once (PostgreSQL only).
    let job_notifications = queue.forward_job_notifications(Arc::clone(&state.job_signal));
    let workers = tokio::spawn(run_workers(state.clone(), stopped.clone()));
    let reconciler = tokio::spawn(run_reconciler(state.clone(), stopped.clone()));
    // Client addresses let the sign-in throttle tell guessers apart.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal());
    let served = server.await;
    tracing::info!("shutting down: finishing in-flight jobs");
    let _ = stop.send(true);
    let _ = workers.await;
    reconciler.abort();
    if let Some(listening) = job_notifications {
        listening.abort();
    }
    served.map_err(|source| CommandError::Io {
        context: "HTTP server".into(),
        source,
    })
}

/// Where an agent opens a ticket: `https://{domain}.freshdesk.com/a/tickets/`, or the
/// configured API base URL's origin (a proxy or the stand-in) with the same path.
fn ticket_url_prefix(config: &Config) -> Option<String> {
    if let Some(base) = config.freshdesk.base_url.as_deref()
        && let Ok(url) = url::Url::parse(base)
    {
        return Some(format!("{}/a/tickets/", url.origin().ascii_serialization()));
    }
    config
        .freshdesk
        .domain
        .as_deref()
        .map(|domain| format!("https://{domain}.freshdesk.com/a/tickets/"))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
