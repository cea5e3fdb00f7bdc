//! `deskdraft serve` as it runs in production: the real binary (HTTP server, SQLite queue,
//! workers, the real model and Qdrant Edge with the demo knowledge in `knowledge/`) against the
//! Freshdesk stand-in on 127.0.0.1, with the retrieval-only drafter.
//!
//! Exactly once: 200 webhooks for 160 tickets make 160 notes; a server killed with SIGKILL in the
//! middle and restarted still leaves one note per ticket; approving twice sends one reply.

#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::Utc;
use deskdraft::domain::Ticket;
use serde_json::{Value, json};
use support::freshdesk_stand_in::{Bundle, StandIn, StandInConfig};
use tokio::io::{AsyncBufReadExt, BufReader};

const KEY: &str = "serve-test-key";
const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";
const REVIEW_TOKEN: &str = "review-token-0123456789";
const FIRST_NEW_TICKET: i64 = 90_001;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo_tickets() -> Vec<Ticket> {
    std::fs::read_to_string(repo().join("knowledge/demo-bundle/tickets.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The demo history plus `count` new open tickets (the customer's first message of demo tickets).
fn account_with_new_tickets(count: usize) -> Bundle {
    let history = demo_tickets();
    let now = Utc::now();
    let new = history
        .iter()
        .cycle()
        .take(count)
        .enumerate()
        .map(|(i, t)| Ticket {
            id: FIRST_NEW_TICKET + i as i64,
            status: 2,
            created_at: now,
            updated_at: now,
            conversations: Vec::new(),
            ..t.clone()
        });
    let mut tickets = history.clone();
    tickets.extend(new);
    Bundle {
        tickets,
        ..Bundle::default()
    }
}

/// A data dir with the demo bundle ingested once per test binary, copied per test.
fn ingested_data_dir() -> tempfile::TempDir {
    static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let output = base_command(dir.path())
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
        dir
    });
    let copy = tempfile::tempdir().unwrap();
    copy_dir(template.path(), copy.path());
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn base_command(data_dir: &Path) -> std::process::Command {
    let mut command = support::binary::isolated_deskdraft(data_dir);
    command
        .env("DESKDRAFT_LOG", "warn")
        .arg("--data-dir")
        .arg(data_dir);
    command
}

/// A running `deskdraft serve`; killed (SIGKILL) when dropped.
struct Server {
    child: tokio::process::Child,
    url: String,
}

async fn start_server(data_dir: &Path, stand_in: &StandIn) -> Server {
    let mut command = tokio::process::Command::from(base_command(data_dir));
    command
        .env("DESKDRAFT_FRESHDESK__BASE_URL", stand_in.base_url())
        .env("DESKDRAFT_FRESHDESK__PLAN_LIMIT_PER_MINUTE", "100000")
        .env("DESKDRAFT_FRESHDESK__RATE_WINDOW_SECONDS", "1")
        .env("DESKDRAFT_FRESHDESK_API_KEY", KEY)
        .env("DESKDRAFT_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("DESKDRAFT_REVIEW_TOKEN", REVIEW_TOKEN)
        .env("DESKDRAFT_SERVE__LISTEN", "127.0.0.1:0")
        .env("DESKDRAFT_SERVE__POLL_INTERVAL_SECONDS", "0")
        .env("DESKDRAFT_SERVE__WORKERS", "2")
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("serve prints its address within 60 s")
        .unwrap()
        .expect("a line");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server { child, url }
}

impl Server {
    /// `GET` an approval-API path with the reviewer's token, as JSON.
    async fn api_get<T: serde::de::DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        path: &str,
    ) -> T {
        let response = client
            .get(format!("{}{path}", self.url))
            .bearer_auth(REVIEW_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }
}

/// The Freshdesk stand-in holding the demo account plus `count` new open tickets, with a
/// one-second rate window.
async fn stand_in_with_new_tickets(count: usize) -> StandIn {
    StandIn::start(
        account_with_new_tickets(count),
        StandInConfig {
            api_key: KEY.into(),
            window: Duration::from_secs(1),
            ..StandInConfig::default()
        },
    )
    .await
}

/// Sends a webhook for each of the first `count` new tickets and waits for their notes.
async fn draft_new_tickets_by_webhook(
    client: &reqwest::Client,
    server: &Server,
    stand_in: &StandIn,
    count: usize,
) {
    for id in FIRST_NEW_TICKET..FIRST_NEW_TICKET + count as i64 {
        assert_eq!(send_webhook(client, &server.url, id).await, 202);
    }
    wait_for_notes(stand_in, count, count, Duration::from_secs(120)).await;
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn send_webhook(client: &reqwest::Client, url: &str, ticket_id: i64) -> reqwest::StatusCode {
    client
        .post(format!("{url}/webhooks/freshdesk"))
        .header("X-Deskdraft-Secret", WEBHOOK_SECRET)
        .json(&json!({"freshdesk_webhook": {"ticket_id": ticket_id.to_string()}}))
        .send()
        .await
        .expect("webhook delivered")
        .status()
}

/// Private notes per new ticket, as the stand-in stores them.
fn notes_per_ticket(stand_in: &StandIn, count: usize) -> BTreeMap<i64, usize> {
    (0..count as i64)
        .map(|i| FIRST_NEW_TICKET + i)
        .map(|id| {
            let notes = stand_in
                .ticket(id)
                .map(|t| t.conversations.iter().filter(|c| c.private).count())
                .unwrap_or(0);
            (id, notes)
        })
        .collect()
}

async fn wait_for_notes(stand_in: &StandIn, count: usize, at_least: usize, limit: Duration) {
    let started = Instant::now();
    loop {
        let with_note = notes_per_ticket(stand_in, count)
            .values()
            .filter(|n| **n > 0)
            .count();
        if with_note >= at_least {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "only {with_note} of {at_least} notes after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 200 webhooks (160 tickets, 40 duplicates, sent concurrently) -> exactly 160 notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_webhooks_for_160_tickets_make_exactly_160_notes() {
    let stand_in = stand_in_with_new_tickets(160).await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in).await;
    let client = http();
    let ids: Vec<i64> = (0..200).map(|i| FIRST_NEW_TICKET + (i % 160)).collect();
    let statuses =
        futures::future::join_all(ids.iter().map(|id| send_webhook(&client, &server.url, *id)))
            .await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    wait_for_notes(&stand_in, 160, 160, Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notes = notes_per_ticket(&stand_in, 160);
    let extra: Vec<_> = notes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        extra.is_empty(),
        "tickets without exactly one note: {extra:?}"
    );

    let drafts: Vec<Value> = server.api_get(&client, "/api/drafts").await;
    assert_eq!(drafts.len(), 160);
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("deskdraft_webhooks_total{result=\"duplicate\"} 40"),
        "{metrics}"
    );
    assert!(
        metrics.contains("deskdraft_queue_jobs{state=\"done\"} 160"),
        "{metrics}"
    );
    assert!(
        metrics.contains("deskdraft_draft_latency_seconds_count 160"),
        "{metrics}"
    );
    drop(server);
}

/// SIGKILL in the middle of the run, then a restart: every job still ends in exactly one note.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_run_loses_no_job_and_posts_no_second_note() {
    let stand_in = stand_in_with_new_tickets(160).await;
    let data = ingested_data_dir();
    let mut server = start_server(data.path(), &stand_in).await;
    let client = http();
    for id in (0..160).map(|i| FIRST_NEW_TICKET + i) {
        assert_eq!(send_webhook(&client, &server.url, id).await, 202);
    }
    wait_for_notes(&stand_in, 160, 50, Duration::from_secs(300)).await;
    server.child.kill().await.expect("SIGKILL");
    let at_kill = notes_per_ticket(&stand_in, 160)
        .values()
        .filter(|n| **n > 0)
        .count();
    assert!(at_kill < 160, "the kill came too late to test anything");

    let server = start_server(data.path(), &stand_in).await;
    wait_for_notes(&stand_in, 160, 160, Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notes = notes_per_ticket(&stand_in, 160);
    let wrong: Vec<_> = notes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "killed after {at_kill} notes; tickets without exactly one note: {wrong:?}"
    );
    let jobs: Vec<Value> = server.api_get(&client, "/api/jobs").await;
    assert_eq!(jobs.len(), 160);
    assert!(jobs.iter().all(|j| j["state"] == "done"), "{jobs:?}");
}

/// Approve (edited) twice, sequentially and concurrently: one public reply; the note says it was
/// sent. Reject another; feedback counts both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approving_twice_sends_one_reply_and_feedback_is_recorded() {
    let stand_in = stand_in_with_new_tickets(3).await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in).await;
    let client = http();
    draft_new_tickets_by_webhook(&client, &server, &stand_in, 3).await;
    let drafts: Vec<Value> = server.api_get(&client, "/api/drafts?status=pending").await;
    assert!(drafts.len() >= 2, "{drafts:?}");
    let (first, second) = (&drafts[0], &drafts[1]);
    let id = first["id"].as_str().unwrap();
    let ticket_id = first["ticket_id"].as_i64().unwrap();
    let edited = format!(
        "{}\n\nP.S. We have also noted this on your account.",
        first["draft_text"].as_str().unwrap()
    );
    let approve = || {
        client
            .post(format!("{}/api/drafts/{id}/approve", server.url))
            .bearer_auth(REVIEW_TOKEN)
            .json(&json!({"text": edited, "by": "Ana"}))
            .send()
    };
    let (a, b) = tokio::join!(approve(), approve());
    let third = approve().await.unwrap();
    for response in [a.unwrap(), b.unwrap(), third] {
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "approved");
    }
    let ticket = stand_in.ticket(ticket_id).unwrap();
    let replies: Vec<_> = ticket.conversations.iter().filter(|c| !c.private).collect();
    assert_eq!(replies.len(), 1, "exactly one public reply");
    assert!(replies[0].body.contains("P.S. We have also noted this"));
    let note = ticket.conversations.iter().find(|c| c.private).unwrap();
    assert!(note.body.contains("Sent</b> by Ana"), "{}", note.body);

    let rejected = client
        .post(format!(
            "{}/api/drafts/{}/reject",
            server.url,
            second["id"].as_str().unwrap()
        ))
        .bearer_auth(REVIEW_TOKEN)
        .json(&json!({"reason": "wrong product"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 200);
    let stats: Value = server.api_get(&client, "/api/stats").await;
    assert_eq!(stats["feedback"]["approved"], 1, "{stats}");
    assert_eq!(stats["feedback"]["rejected"], 1, "{stats}");
    assert_eq!(stats["feedback"]["acceptance_rate"], 0.5, "{stats}");
    assert!(stats["feedback"]["mean_edit_distance"].as_f64().unwrap() > 0.0);
}

mod review_and_operations;
