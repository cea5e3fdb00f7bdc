//! `cargo bench --bench serve`: prints JSON with the webhook acknowledgement latency (p50/p99)
//! when webhooks arrive at 200 requests/s, and the end-to-end time from webhook to posted note
//! with the retrieval-only drafter (real model, Qdrant Edge with the demo knowledge, SQLite queue,
//! the Freshdesk stand-in of `tests/support` on 127.0.0.1).
//!
//! Environment: `DESKDRAFT_BENCH_WEBHOOKS` (default 400) webhooks, one per new ticket.
//! Without `--bench` (as under `cargo test --all-targets`) it only says how to run it.

mod bench_support;

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskdraft::app::Components;
use deskdraft::commands::ingest::ingest_with;
use deskdraft::config::Config;
use deskdraft::domain::Ticket;
use deskdraft::helpdesk::bundle::Bundle;
use deskdraft::helpdesk::freshdesk::{ApiKey, Freshdesk, FreshdeskConfig};
use deskdraft::helpdesk::knowledge_folder::read_knowledge_folder;
use deskdraft::queue::JobQueue;
use deskdraft::serve::{Secret, ServeMetrics, ServeState, router};
use deskdraft::simulate::metrics::percentile;
use serde_json::json;
use support::freshdesk_stand_in::{Bundle as StandInBundle, StandIn, StandInConfig};
use support::serve_process::new_open_tickets;

const SECRET: &str = "bench-webhook-secret-0123";
const FIRST: i64 = 500_001;
/// Tickets sent one at a time after the burst has drained: the latency without a backlog.
const IDLE_TICKETS: usize = 20;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() {
    bench_support::run_and_print("serve", "cargo bench --bench serve", run);
}

async fn run() -> serde_json::Value {
    let count: usize = bench_support::env_number("DESKDRAFT_BENCH_WEBHOOKS", 400);
    let data = tempfile::tempdir().expect("tempdir");
    let defaults = Config::default();
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..defaults.clone()
    };
    config.embedding.model_dir = repo().join("models/all-MiniLM-L6-v2");
    config.drafting.prompts_dir = repo().join("prompts");
    config.serve.poll_interval_seconds = 0;
    let demo = Bundle::open(&repo().join("knowledge/demo-bundle")).expect("demo bundle");
    let components = Components::open(config.clone()).expect("components");
    let docs = read_knowledge_folder(&repo().join("knowledge/docs")).expect("docs");
    ingest_with(&components, Some(demo.clone()), docs, false)
        .await
        .expect("ingest");

    let history: Vec<Ticket> = demo
        .tickets()
        .expect("tickets")
        .map(|t| t.expect("ticket"))
        .collect();
    let mut tickets = history.clone();
    tickets.extend(new_open_tickets(
        history.iter(),
        FIRST,
        count + IDLE_TICKETS,
    ));
    let stand_in = StandIn::start(
        StandInBundle {
            tickets,
            ..StandInBundle::default()
        },
        StandInConfig {
            limit_per_window: 1_000_000,
            window: Duration::from_secs(1),
            ..StandInConfig::default()
        },
    )
    .await;
    let mut client_config =
        FreshdeskConfig::with_base_url(&stand_in.base_url(), ApiKey::new("test-key"))
            .expect("config");
    client_config.plan_limit_per_minute = 1_000_000;
    client_config.rate_window = Duration::from_secs(1);
    let freshdesk = Freshdesk::new(client_config).expect("client");
    let state = ServeState {
        queue: JobQueue::open(&data.path().join("queue.sqlite"), 5).expect("queue"),
        drafter: Arc::new(components.drafter().await.expect("drafter")),
        read: Arc::new(freshdesk.reader()),
        write: Arc::new(freshdesk.writer()),
        store: Arc::clone(&components.store),
        settings: config.serve.clone(),
        webhook_secret: Secret::new(SECRET, "secret").expect("secret"),
        review_token: Secret::new("bench-review-token-0123", "token").expect("token"),
        app_token: None,
        metrics: Arc::new(ServeMetrics::default()),
        freshdesk_calls: Some(freshdesk.metrics()),
        job_signal: Arc::new(tokio::sync::Notify::new()),
        ticket_locks: Arc::default(),
        freshdesk_probe: Arc::default(),
        loop_health: Arc::default(),
        login_throttle: Arc::default(),
        target_precision: 0.5,
        console: Arc::default(),
    };
    let queue = state.queue.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(deskdraft::serve::worker::run_workers(
        state.clone(),
        stopped,
    ));
    tokio::spawn(async move { axum::serve(listener, router(state)).await });

    let http = reqwest::Client::new();
    // Webhooks at 200 per second, each on its own task so a slow answer does not delay the next.
    let started = Instant::now();
    let mut sent_at: HashMap<i64, Instant> = HashMap::new();
    let mut acks = Vec::with_capacity(count);
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    for i in 0..count {
        ticker.tick().await;
        let id = FIRST + i as i64;
        sent_at.insert(id, Instant::now());
        let (http, url) = (http.clone(), url.clone());
        acks.push(tokio::spawn(async move {
            let begun = Instant::now();
            let status = http
                .post(format!("{url}/webhooks/freshdesk"))
                .header("X-Deskdraft-Secret", SECRET)
                .json(&json!({"ticket_id": id}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, begun.elapsed().as_secs_f64() * 1e3)
        }));
    }
    let send_seconds = started.elapsed().as_secs_f64();
    let mut ack_ms = Vec::with_capacity(count);
    let mut accepted = 0;
    for ack in acks {
        let (status, ms) = ack.await.expect("ack task");
        accepted += usize::from(status == 202);
        ack_ms.push(ms);
    }
    ack_ms.sort_by(|a, b| a.partial_cmp(b).expect("finite"));

    // End to end: poll the stand-in for each ticket's note.
    let mut end_to_end = Vec::with_capacity(count);
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut waiting: Vec<i64> = (0..count as i64).map(|i| FIRST + i).collect();
    while !waiting.is_empty() && Instant::now() < deadline {
        waiting.retain(|id| {
            let noted = stand_in
                .ticket(*id)
                .is_some_and(|t| t.conversations.iter().any(|c| c.private));
            if noted {
                end_to_end.push(sent_at[id].elapsed().as_secs_f64());
            }
            !noted
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_seconds = started.elapsed().as_secs_f64();
    end_to_end.sort_by(|a, b| a.partial_cmp(b).expect("finite"));

    // Without a backlog: one webhook at a time, each waiting for its note.
    let mut idle = Vec::with_capacity(IDLE_TICKETS);
    for i in 0..IDLE_TICKETS {
        let id = FIRST + (count + i) as i64;
        let begun = Instant::now();
        http.post(format!("{url}/webhooks/freshdesk"))
            .header("X-Deskdraft-Secret", SECRET)
            .json(&json!({"ticket_id": id}))
            .send()
            .await
            .expect("webhook");
        while !stand_in
            .ticket(id)
            .is_some_and(|t| t.conversations.iter().any(|c| c.private))
        {
            if begun.elapsed() > Duration::from_secs(60) {
                let jobs = queue.jobs(None).await.expect("jobs");
                let job = jobs.iter().find(|j| j.ticket_id == id);
                panic!("note for {id} never came; its job: {job:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        idle.push(begun.elapsed().as_secs_f64() * 1e3);
    }
    idle.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    json!({
        "webhooks": count,
        "accepted": accepted,
        "offered_rate_per_second": count as f64 / send_seconds,
        "ack_ms_p50": percentile(&ack_ms, 0.5),
        "ack_ms_p99": percentile(&ack_ms, 0.99),
        "ack_ms_max": ack_ms.last().copied().unwrap_or(0.0),
        "notes_posted": end_to_end.len(),
        "webhook_to_note_seconds_p50": percentile(&end_to_end, 0.5),
        "webhook_to_note_seconds_p99": percentile(&end_to_end, 0.99),
        "notes_per_second": end_to_end.len() as f64 / all_seconds,
        "idle_webhook_to_note_ms_p50": percentile(&idle, 0.5),
        "idle_webhook_to_note_ms_max": idle.last().copied().unwrap_or(0.0),
        "workers": config.serve.workers,
        "drafter": "retrieval-only",
    })
}
