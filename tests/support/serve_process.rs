//! Running the real `deskdraft` binary against the Freshdesk stand-in, shared by the serve tests,
//! the app's and console's browser tests and the serve benchmarks: the demo history with new
//! open tickets, a data dir with the demo knowledge ingested once per binary (copied per use),
//! the command with an isolated environment, and reading the address `serve` listens on.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use deskdraft::domain::Ticket;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The repository (the crate's manifest folder).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo bundle's tickets (`knowledge/demo-bundle/tickets.jsonl`).
pub fn demo_tickets() -> Vec<Ticket> {
    std::fs::read_to_string(repo().join("knowledge/demo-bundle/tickets.jsonl"))
        .expect("the demo bundle's tickets")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a demo ticket"))
        .collect()
}

/// `count` new open tickets with ids from `first_id`, each the customer's first message of a
/// template taken in turn (not spam, not deleted, created now, no conversations yet).
pub fn new_open_tickets<'a>(
    templates: impl Iterator<Item = &'a Ticket> + Clone,
    first_id: i64,
    count: usize,
) -> Vec<Ticket> {
    let now = Utc::now();
    templates
        .cycle()
        .take(count)
        .enumerate()
        .map(|(index, template)| Ticket {
            id: first_id + index as i64,
            status: 2,
            spam: false,
            deleted: false,
            created_at: now,
            updated_at: now,
            conversations: Vec::new(),
            ..template.clone()
        })
        .collect()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the copy's folder");
    for entry in std::fs::read_dir(from).expect("a readable folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("a copied file");
        }
    }
}

/// `deskdraft --data-dir DIR` with an isolated environment, logging warnings only.
pub fn deskdraft_command(data_dir: &Path) -> std::process::Command {
    let mut command = super::binary::isolated_deskdraft(data_dir);
    command
        .env("DESKDRAFT_LOG", "warn")
        .arg("--data-dir")
        .arg(data_dir);
    command
}

/// A data dir with the demo bundle and knowledge folder ingested once per binary (the
/// template), copied for each caller so none sees another's queue or index changes.
pub fn ingested_data_dir() -> tempfile::TempDir {
    static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let output = deskdraft_command(dir.path())
            .args(["ingest", "--bundle"])
            .arg(repo().join("knowledge/demo-bundle"))
            .arg("--knowledge")
            .arg(repo().join("knowledge/docs"))
            .output()
            .expect("deskdraft ingest runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    });
    let copy = tempfile::tempdir().expect("a temporary folder");
    copy_dir(template.path(), copy.path());
    copy
}

/// The base URL a started `serve` prints first ("listening on URL"), read from its piped
/// stdout within `limit`.
pub async fn listening_url(child: &mut tokio::process::Child, limit: Duration) -> String {
    let stdout = child.stdout.take().expect("serve's stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(limit, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("serve prints its address within {limit:?}"))
        .expect("serve's stdout is readable")
        .expect("a first line");
    line.strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string()
}

/// The secrets a test's `serve` runs with (from the environment, as in production).
pub struct ServeSecrets<'a> {
    pub freshdesk_key: &'a str,
    pub webhook_secret: &'a str,
    pub review_token: &'a str,
}

/// `deskdraft serve` against the stand-in at `freshdesk_base_url` on a free loopback port, with
/// a plan limit no test reaches, a one-second rate window, no reconciler (poll interval 0) and
/// two workers; `env` adds or overrides settings. Its stdout is piped for [`listening_url`], and
/// it is killed when dropped.
pub fn serve_command(
    data_dir: &Path,
    freshdesk_base_url: &str,
    secrets: &ServeSecrets,
    env: &[(&str, &str)],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(deskdraft_command(data_dir));
    command
        .env("DESKDRAFT_FRESHDESK__BASE_URL", freshdesk_base_url)
        .env("DESKDRAFT_FRESHDESK__PLAN_LIMIT_PER_MINUTE", "100000")
        .env("DESKDRAFT_FRESHDESK__RATE_WINDOW_SECONDS", "1")
        .env("DESKDRAFT_FRESHDESK_API_KEY", secrets.freshdesk_key)
        .env("DESKDRAFT_WEBHOOK_SECRET", secrets.webhook_secret)
        .env("DESKDRAFT_REVIEW_TOKEN", secrets.review_token)
        .env("DESKDRAFT_SERVE__LISTEN", "127.0.0.1:0")
        .env("DESKDRAFT_SERVE__POLL_INTERVAL_SECONDS", "0")
        .env("DESKDRAFT_SERVE__WORKERS", "2")
        .envs(env.iter().copied())
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}
