//! `deskdraft serve` as it runs in production: the real binary (HTTP server, SQLite queue or, in
//! `replicas`, a PostgreSQL queue shared by three processes,
//! workers, the real model and Qdrant Edge with the demo knowledge in `knowledge/`) against the
//! Freshdesk stand-in on 127.0.0.1 (which rewrites stored HTML like Freshdesk), with the
//! retrieval-only drafter. This file holds the harness; the tests are in its modules.

#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use support::freshdesk_stand_in::{Bundle, StandIn, StandInConfig};
use support::serve_process::{
    ServeSecrets, demo_tickets, deskdraft_command, ingested_data_dir, listening_url,
    new_open_tickets, repo, serve_command,
};

const KEY: &str = "serve-test-key";
const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";
const REVIEW_TOKEN: &str = "review-token-0123456789";
const FIRST_NEW_TICKET: i64 = 90_001;

/// The demo history plus `count` new open tickets (the customer's first message of demo tickets).
fn account_with_new_tickets(count: usize) -> Bundle {
    let history = demo_tickets();
    let mut tickets = history.clone();
    tickets.extend(new_open_tickets(history.iter(), FIRST_NEW_TICKET, count));
    Bundle {
        tickets,
        ..Bundle::default()
    }
}

fn base_command(data_dir: &Path) -> std::process::Command {
    deskdraft_command(data_dir)
}

/// A running `deskdraft serve`; killed (SIGKILL) when dropped.
struct Server {
    child: tokio::process::Child,
    url: String,
}

async fn start_server(data_dir: &Path, stand_in: &StandIn) -> Server {
    start_server_with(data_dir, stand_in, &[]).await
}

/// `start_server` with extra environment (settings such as `DESKDRAFT_SERVE__WORKERS`).
async fn start_server_with(data_dir: &Path, stand_in: &StandIn, env: &[(&str, &str)]) -> Server {
    let secrets = ServeSecrets {
        freshdesk_key: KEY,
        webhook_secret: WEBHOOK_SECRET,
        review_token: REVIEW_TOKEN,
    };
    let mut command = serve_command(data_dir, &stand_in.base_url(), &secrets, env);
    let mut child = command.spawn().expect("serve starts");
    let url = listening_url(&mut child, Duration::from_secs(60)).await;
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

    /// Polls an approval-API path until `accept` holds for its JSON; fails after `limit`.
    async fn wait_for_api(
        &self,
        client: &reqwest::Client,
        path: &str,
        limit: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let value: Value = self.api_get(client, path).await;
            if accept(&value) {
                return value;
            }
            assert!(
                started.elapsed() < limit,
                "GET {path} not as expected after {limit:?}: {value}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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

/// Polls `condition` every 100 ms until it holds; fails after `limit` naming `what`.
async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "{what}: not after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Public replies of a ticket as the stand-in stores them.
fn public_replies(stand_in: &StandIn, ticket_id: i64) -> Vec<deskdraft::domain::Conversation> {
    stand_in
        .ticket(ticket_id)
        .map(|t| {
            t.conversations
                .into_iter()
                .filter(|c| c.is_public_agent_reply())
                .collect()
        })
        .unwrap_or_default()
}

mod chaos;
mod exactly_once;
mod follow_ups_and_readiness;
mod implicit_feedback;
mod real_llm;
mod replicas;
mod review_and_operations;
