//! A real `deskdraft serve` against the Freshdesk stand-in, for the app's browser tests: the demo
//! account plus a few new open tickets, the demo bundle ingested once per test binary, the
//! retrieval-only drafter. (The same setup as tests/serve/main.rs, cut to what the app needs.)

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::Utc;
use deskdraft::domain::Ticket;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support;
use crate::support::freshdesk_stand_in::{Bundle, StandIn, StandInConfig};

pub const KEY: &str = "app-test-key";
pub const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";
pub const REVIEW_TOKEN: &str = "review-token-0123456789";
pub const APP_TOKEN: &str = "app-token-0123456789abcdef";
pub const FIRST_NEW_TICKET: i64 = 90_001;

pub fn repo() -> PathBuf {
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

/// The Freshdesk stand-in with the demo history plus `count` new open tickets (each the
/// customer's first message of a demo ticket).
pub async fn stand_in_with_new_tickets(count: usize) -> StandIn {
    let history = demo_tickets();
    let now = Utc::now();
    let new = history
        .iter()
        .filter(|t| !t.spam && !t.deleted)
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
    let bundle = Bundle {
        tickets,
        ..Bundle::default()
    };
    let config = StandInConfig {
        api_key: KEY.into(),
        window: Duration::from_secs(1),
        ..StandInConfig::default()
    };
    StandIn::start(bundle, config).await
}

/// The ticket as `client.data.get("ticket")` gives it to the app: the Freshdesk ticket fields,
/// without the conversations (the platform's ticket object has none).
pub fn ticket_for_app(stand_in: &StandIn, id: i64) -> Value {
    let ticket = stand_in.ticket(id).expect("ticket in the stand-in");
    let mut value = serde_json::to_value(&ticket).unwrap();
    value.as_object_mut().unwrap().remove("conversations");
    value
}

fn base_command(data_dir: &Path) -> std::process::Command {
    let mut command = support::binary::isolated_deskdraft(data_dir);
    command
        .env("DESKDRAFT_LOG", "warn")
        .arg("--data-dir")
        .arg(data_dir);
    command
}

/// A data dir with the demo bundle ingested once per test binary, copied per test.
pub fn ingested_data_dir() -> tempfile::TempDir {
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

/// A running `deskdraft serve` with an app token; killed when dropped.
pub struct Server {
    child: tokio::process::Child,
    pub url: String,
}

pub async fn start_server(data_dir: &Path, stand_in: &StandIn, env: &[(&str, &str)]) -> Server {
    let mut command = tokio::process::Command::from(base_command(data_dir));
    command
        .env("DESKDRAFT_FRESHDESK__BASE_URL", stand_in.base_url())
        .env("DESKDRAFT_FRESHDESK__PLAN_LIMIT_PER_MINUTE", "100000")
        .env("DESKDRAFT_FRESHDESK__RATE_WINDOW_SECONDS", "1")
        .env("DESKDRAFT_FRESHDESK_API_KEY", KEY)
        .env("DESKDRAFT_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("DESKDRAFT_REVIEW_TOKEN", REVIEW_TOKEN)
        .env("DESKDRAFT_APP_TOKEN", APP_TOKEN)
        .env("DESKDRAFT_SERVE__LISTEN", "127.0.0.1:0")
        .env("DESKDRAFT_SERVE__POLL_INTERVAL_SECONDS", "0")
        .env("DESKDRAFT_SERVE__WORKERS", "2")
        .envs(env.iter().copied())
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
    /// `host:port`, what the app's `deskdraft_host` iparam holds.
    pub fn host(&self) -> String {
        url::Url::parse(&self.url)
            .map(|u| format!("{}:{}", u.host_str().unwrap(), u.port().unwrap()))
            .unwrap()
    }

    /// `GET` a JSON API path with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Value {
        let response = http()
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Polls a JSON API path until `accept` holds; fails after `limit`.
    pub async fn wait_for(
        &self,
        path: &str,
        limit: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let value = self.get(path, REVIEW_TOKEN).await;
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

    /// Sends the ticket-creation webhook and waits until the ticket has its draft (or
    /// abstention) note.
    pub async fn draft_by_webhook(&self, stand_in: &StandIn, ticket_id: i64) {
        let status = http()
            .post(format!("{}/webhooks/freshdesk", self.url))
            .header("X-Deskdraft-Secret", WEBHOOK_SECRET)
            .json(&json!({"ticket_id": ticket_id}))
            .send()
            .await
            .expect("webhook delivered")
            .status();
        assert_eq!(status, 202);
        let started = Instant::now();
        while !stand_in
            .ticket(ticket_id)
            .is_some_and(|t| t.conversations.iter().any(|c| c.private))
        {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no note on {ticket_id}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (SIGKILL) and waits for it to be gone.
    pub async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
