//! Simulation end to end on a tiny hand-made bundle with known answers (`tests/fixtures/tiny-bundle`):
//! the as-of filter, the metrics, reported replay problems, determinism, the report files (and a
//! headless-Chromium screenshot when Chromium is installed), and that a snapshot of a live
//! helpdesk is taken through reads only.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use deskdraft::helpdesk::HelpdeskRead;
use deskdraft::helpdesk::freshdesk::{ApiKey, Freshdesk, FreshdeskConfig};
use serde_json::Value;
use support::freshdesk_stand_in::{Bundle as StandInBundle, StandIn, StandInConfig};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tiny_bundle() -> PathBuf {
    repo().join("tests/fixtures/tiny-bundle")
}

/// Runs `deskdraft simulate` and returns the parsed summary and the per-ticket CSV.
fn simulate(data_dir: &Path, out: &Path, extra: &[&str]) -> (Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_deskdraft"))
        .current_dir(repo())
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "simulate",
            "--bundle",
        ])
        .arg(tiny_bundle())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("deskdraft runs");
    assert!(
        output.status.success(),
        "simulate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let csv = std::fs::read_to_string(out.join("tickets.csv")).unwrap();
    (summary, csv)
}

fn ids_file(dir: &Path, ids: &str) -> PathBuf {
    let path = dir.join("ids.txt");
    std::fs::write(&path, ids).unwrap();
    path
}

#[test]
fn replay_is_leak_free_and_metrics_match_the_known_answers() {
    let dir = tempfile::tempdir().unwrap();
    let ids = ids_file(dir.path(), "3\n4\n6\n99\n");
    let out = dir.path().join("report");
    let (summary, csv) = simulate(
        &dir.path().join("data"),
        &out,
        &["--replay-ids", ids.to_str().unwrap()],
    );

    // 6 has no agent reply and 99 does not exist: reported, not replayed, not fatal.
    assert_eq!(summary["replayed_tickets"], 2);
    assert_eq!(summary["issues"]["ids_not_found"], serde_json::json!([99]));
    assert_eq!(summary["issues"]["no_agent_reply"], serde_json::json!([6]));

    // Only ticket 3's real reply links a known article (1), and the nearest earlier case (1)
    // was resolved with that article: hit@1.
    let agreement = &summary["article_agreement"];
    assert_eq!(agreement["eligible_tickets"], 1);
    assert_eq!(agreement["hit_at_1"], 1.0);
    assert_eq!(agreement["mrr"], 1.0);

    // Ticket 4's perfect match is ticket 5, created later, and article 3 is newer than ticket 4:
    // neither may appear among its sources.
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "header + 2 tickets:\n{csv}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "report has charts");
    let per_ticket = tickets_from_report_inputs(&out);
    let ticket_4 = per_ticket
        .iter()
        .find(|t| t.0 == 4)
        .expect("ticket 4 replayed");
    assert!(
        !ticket_4.1.contains(&"case:5".to_string()),
        "a later case leaked: {:?}",
        ticket_4.1
    );
    assert!(
        !ticket_4.1.contains(&"article:3".to_string()),
        "a later article leaked: {:?}",
        ticket_4.1
    );
    assert!(
        !ticket_4.1.contains(&"case:4".to_string()),
        "the ticket's own thread leaked"
    );
}

/// (ticket id, source keys) for every replayed ticket, read through `draft --json` as of each
/// ticket's creation: the exact path the simulation uses.
fn tickets_from_report_inputs(out: &Path) -> Vec<(i64, Vec<String>)> {
    let data_dir = out.parent().unwrap().join("data");
    let store_root = data_dir.join("simulate").join("tiny");
    let mut found = Vec::new();
    for ticket in [3, 4] {
        let output = Command::new(env!("CARGO_BIN_EXE_deskdraft"))
            .current_dir(repo())
            .args([
                "--data-dir",
                store_root.to_str().unwrap(),
                "draft",
                "--json",
                "--ticket-id",
            ])
            .arg(ticket.to_string())
            .arg("--bundle")
            .arg(tiny_bundle())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let drafts: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut keys: Vec<String> = drafts[0]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_string())
            .collect();
        for kind in ["cases", "articles"] {
            for source in drafts[0]["retrieval"][kind].as_array().unwrap() {
                let prefix = if kind == "cases" { "case" } else { "article" };
                keys.push(format!("{prefix}:{}", source["id"]));
            }
        }
        found.push((ticket, keys));
    }
    found
}

#[test]
fn same_inputs_and_seed_give_the_same_summary_apart_from_timings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--sample", "3", "--seed", "7"];
    let (mut first, _) = simulate(&data, &dir.path().join("a"), &args);
    let (mut second, _) = simulate(&data, &dir.path().join("b"), &args);
    first.as_object_mut().unwrap().remove("timings");
    second.as_object_mut().unwrap().remove("timings");
    assert_eq!(first, second);
    assert_eq!(first["run"]["seed"], 7);
    assert!(
        first["run"]["input_checksums"]["tickets.jsonl"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
}

#[test]
fn an_empty_selection_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, _) = simulate(
        &dir.path().join("data"),
        &dir.path().join("out"),
        &["--replay-from", "2030-01-01"],
    );
    assert_eq!(summary["replayed_tickets"], 0);
    assert_eq!(summary["issues"]["empty_selection"], true);
    assert!(dir.path().join("out/report.html").exists());
}

/// Renders the report in headless Chromium and keeps a screenshot. Chromium is installed by
/// `scripts/test.sh`; without it the test says so and skips.
#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        support::report_skip(
            "skipped: no chromium on PATH (scripts/test.sh installs Debian's chromium)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    simulate(&dir.path().join("data"), &out, &[]);
    let screenshot = repo().join("target/report-screenshot.png");
    let profile = dir.path().join("profile");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let url = format!("file://{}", out.join("report.html").display());
    let shot = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1280,2000")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 20_000,
        "screenshot suspiciously small: {} bytes",
        png.len()
    );
    // The rendered DOM (after layout) still holds the charts.
    let dom = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.matches("<svg").count() >= 2,
        "charts missing from the rendered page"
    );
    eprintln!("screenshot: {}", screenshot.display());
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A simulation of a live account first snapshots it with the read capability only: the stand-in
/// sees GET requests and nothing else, and the snapshot holds the account's data.
#[tokio::test]
async fn a_live_snapshot_only_reads() {
    let tickets: Vec<deskdraft::domain::Ticket> = read_jsonl(&tiny_bundle().join("tickets.jsonl"));
    let articles: Vec<deskdraft::domain::Article> =
        read_jsonl(&tiny_bundle().join("articles.jsonl"));
    let stand_in = StandIn::start(
        StandInBundle {
            tickets: tickets.clone(),
            articles: articles.clone(),
            ..StandInBundle::default()
        },
        StandInConfig::default(),
    )
    .await;
    let mut config =
        FreshdeskConfig::with_base_url(&stand_in.base_url(), ApiKey::new("test-key")).unwrap();
    config.rate_window = Duration::from_secs(1);
    let reader: Arc<dyn HelpdeskRead> = Arc::new(Freshdesk::new(config).unwrap().reader());
    let out = tempfile::tempdir().unwrap();
    let summary =
        deskdraft::helpdesk::export::export_bundle(reader, out.path(), "freshdesk:stand-in", 4)
            .await
            .unwrap();
    assert_eq!(summary.tickets_written, tickets.len());
    assert_eq!(summary.articles_written, articles.len());
    let log = stand_in.log();
    assert!(!log.is_empty());
    assert!(
        log.iter().all(|r| r.method == "GET"),
        "non-GET request: {:?}",
        log.iter().find(|r| r.method != "GET")
    );
    let snapshot: Vec<deskdraft::domain::Ticket> = read_jsonl(&out.path().join("tickets.jsonl"));
    let mut ids: Vec<i64> = snapshot.iter().map(|t| t.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, tickets.iter().map(|t| t.id).collect::<Vec<_>>());
    let conversations: usize = snapshot.iter().map(|t| t.conversations.len()).sum();
    assert_eq!(
        conversations,
        tickets.iter().map(|t| t.conversations.len()).sum::<usize>()
    );
}
