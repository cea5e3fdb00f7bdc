//! `cargo bench --profile dev --bench serve_replicas`: notes per second through real
//! `deskdraft serve` processes (retrieval-only drafter, the real model, Qdrant Edge with the demo
//! knowledge, the Freshdesk stand-in of `tests/support` on 127.0.0.1) for three set-ups in the
//! same run: the SQLite queue (one process), a PostgreSQL queue with one replica, and the same
//! with three replicas (webhooks spread round-robin, no load balancer). PostgreSQL is a
//! throwaway cluster the bench starts (`tests/support/postgres.rs`); without it only SQLite runs.
//!
//! Environment: `DESKDRAFT_BENCH_TICKETS` (default 300) webhooks, one per new ticket;
//! `DESKDRAFT_BENCH_WORKERS` (default 2) workers per process.
//! Without `--bench` (as under `cargo test --all-targets`) it only says how to run it.

mod bench_support;

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::freshdesk_stand_in::{Bundle, StandIn, StandInConfig};
use support::postgres::PostgresCluster;
use support::serve_process::{
    copy_dir, demo_tickets, deskdraft_command, listening_url, new_open_tickets, repo,
};

const KEY: &str = "bench-key";
const SECRET: &str = "bench-webhook-secret-0123";
const REVIEW_TOKEN: &str = "bench-review-token-0123";
const FIRST: i64 = 700_001;

fn main() {
    bench_support::run_and_print(
        "serve replicas",
        "cargo bench --profile dev --bench serve_replicas",
        run,
    );
}

fn account(tickets: usize) -> Bundle {
    let history = demo_tickets();
    let mut all = history.clone();
    all.extend(new_open_tickets(history.iter(), FIRST, tickets));
    Bundle {
        tickets: all,
        ..Bundle::default()
    }
}

struct Replica {
    _child: tokio::process::Child,
    url: String,
    _data: tempfile::TempDir,
}

async fn start_replica(template: &Path, stand_in: &StandIn, env: &[(&str, String)]) -> Replica {
    let data = tempfile::tempdir().unwrap();
    copy_dir(template, data.path());
    let mut command = tokio::process::Command::from(deskdraft_command(data.path()));
    command
        .env("DESKDRAFT_FRESHDESK__BASE_URL", stand_in.base_url())
        .env("DESKDRAFT_FRESHDESK__PLAN_LIMIT_PER_MINUTE", "1000000")
        .env("DESKDRAFT_FRESHDESK__RATE_WINDOW_SECONDS", "1")
        .env("DESKDRAFT_FRESHDESK_API_KEY", KEY)
        .env("DESKDRAFT_WEBHOOK_SECRET", SECRET)
        .env("DESKDRAFT_REVIEW_TOKEN", REVIEW_TOKEN)
        .env("DESKDRAFT_SERVE__LISTEN", "127.0.0.1:0")
        .env("DESKDRAFT_SERVE__POLL_INTERVAL_SECONDS", "0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("serve starts");
    let url = listening_url(&mut child, Duration::from_secs(120)).await;
    Replica {
        _child: child,
        url,
        _data: data,
    }
}

fn notes(stand_in: &StandIn, tickets: usize) -> usize {
    (0..tickets as i64)
        .filter(|i| {
            stand_in
                .ticket(FIRST + i)
                .is_some_and(|t| t.conversations.iter().any(|c| c.private))
        })
        .count()
}

/// Sends one webhook per ticket over the replicas (16 in flight) and times until every note.
async fn measure(
    name: &str,
    template: &Path,
    tickets: usize,
    replicas: usize,
    env: Vec<(&str, String)>,
) -> serde_json::Value {
    let stand_in = StandIn::start(
        account(tickets),
        StandInConfig {
            api_key: KEY.into(),
            window: Duration::from_secs(1),
            ..StandInConfig::default()
        },
    )
    .await;
    let mut started_replicas = Vec::new();
    for _ in 0..replicas {
        started_replicas.push(start_replica(template, &stand_in, &env).await);
    }
    let urls: Vec<String> = started_replicas.iter().map(|r| r.url.clone()).collect();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut in_flight = Vec::new();
    for i in 0..tickets {
        let (client, url) = (client.clone(), urls[i % urls.len()].clone());
        in_flight.push(tokio::spawn(async move {
            let response = client
                .post(format!("{url}/webhooks/freshdesk"))
                .header("X-Deskdraft-Secret", SECRET)
                .json(&json!({"ticket_id": FIRST + i as i64}))
                .send()
                .await
                .expect("webhook");
            assert_eq!(response.status(), 202);
        }));
        if in_flight.len() == 16 {
            for task in in_flight.drain(..) {
                task.await.unwrap();
            }
        }
    }
    for task in in_flight {
        task.await.unwrap();
    }
    let accepted = started.elapsed();
    while notes(&stand_in, tickets) < tickets {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "{name}: notes missing after 15 min"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let result = json!({
        "setup": name,
        "replicas": replicas,
        "tickets": tickets,
        "webhooks_accepted_seconds": accepted.as_secs_f64(),
        "all_notes_seconds": elapsed,
        "notes_per_second": tickets as f64 / elapsed,
    });
    eprintln!("{result}");
    result
}

async fn run() -> serde_json::Value {
    let tickets: usize = bench_support::env_number("DESKDRAFT_BENCH_TICKETS", 300);
    let workers = std::env::var("DESKDRAFT_BENCH_WORKERS").unwrap_or_else(|_| "2".into());
    let template = tempfile::tempdir().unwrap();
    let output = deskdraft_command(template.path())
        .args(["ingest", "--bundle"])
        .arg(repo().join("knowledge/demo-bundle"))
        .arg("--knowledge")
        .arg(repo().join("knowledge/docs"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let base = vec![("DESKDRAFT_SERVE__WORKERS", workers.clone())];
    let mut results = vec![measure("sqlite", template.path(), tickets, 1, base.clone()).await];
    if let Some(cluster) = PostgresCluster::shared("serve_replicas benchmark") {
        for replicas in [1, 3] {
            let url = cluster.create_database(&format!("bench_{replicas}"));
            let mut env = base.clone();
            env.push(("DESKDRAFT_QUEUE__BACKEND", "postgres".into()));
            env.push(("DESKDRAFT_QUEUE_URL", url));
            let name = format!("postgres, {replicas} replica(s)");
            results.push(measure(&name, template.path(), tickets, replicas, env).await);
        }
    }
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "workers_per_process": workers,
        "results": results,
    })
}
