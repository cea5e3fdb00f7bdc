//! `deskdraft ingest --freshdesk` and `deskdraft export --freshdesk` as users run them: the real
//! binary, the real model and Qdrant Edge, against the in-process Freshdesk stand-in on 127.0.0.1.
//!
//! Rate windows are shortened on both sides (a "minute" of 1 s: `freshdesk.rate_window_seconds`
//! and the stand-in's window), so "120 per minute" runs as 120 credits per second with the same
//! pacing logic. Tests on `../shared/datasets/twitter-care` say so and skip visibly without it; the
//! lifecycle and credential tests use the demo bundle in `knowledge/`.

#[path = "../support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use deskdraft::domain::{Article, Ticket};
use serde_json::Value;
use support::freshdesk_stand_in::{
    Bundle, Faults, LoggedRequest, StandIn, StandInConfig, load_bundle,
};

const KEY: &str = "sync-test-key";

/// The stand-in as these tests run it: our key, and a one-second rate-limit window so budgets
/// refill within a test.
fn stand_in_config() -> StandInConfig {
    StandInConfig {
        api_key: KEY.into(),
        window: Duration::from_secs(1),
        ..StandInConfig::default()
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn twitter_care() -> Option<PathBuf> {
    let dir = repo().join("../shared/datasets/twitter-care");
    if dir.exists() {
        Some(dir)
    } else {
        // Straight to stderr: the harness does not capture it, so the skip is seen.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: ../shared/datasets/twitter-care is not present"
        );
        None
    }
}

fn demo_bundle() -> Bundle {
    let read = |name: &str| -> Vec<Value> {
        std::fs::read_to_string(repo().join("knowledge/demo-bundle").join(name))
            .expect("demo bundle file")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("demo line"))
            .collect()
    };
    Bundle {
        tickets: read("tickets.jsonl")
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("ticket"))
            .collect(),
        articles: read("articles.jsonl")
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("article"))
            .collect(),
        ..Bundle::default()
    }
}

/// The binary pointed at the stand-in, isolated from the caller's `DESKDRAFT_*` settings.
fn deskdraft(stand_in: &StandIn, key: &str, data_dir: &Path) -> tokio::process::Command {
    static WORK_DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let work_dir = WORK_DIR.get_or_init(|| tempfile::tempdir().expect("temporary directory"));
    let mut command =
        tokio::process::Command::from(support::binary::isolated_deskdraft(work_dir.path()));
    command
        .env("DESKDRAFT_FRESHDESK__BASE_URL", stand_in.base_url())
        .env("DESKDRAFT_FRESHDESK__PLAN_LIMIT_PER_MINUTE", "120")
        .env("DESKDRAFT_FRESHDESK__RATE_WINDOW_SECONDS", "1")
        .env("DESKDRAFT_FRESHDESK_API_KEY", key)
        .env("DESKDRAFT_LOG", "warn")
        .env("NO_COLOR", "1")
        .arg("--data-dir")
        .arg(data_dir)
        .kill_on_drop(true);
    command
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn run_json(command: &mut tokio::process::Command) -> Value {
    let output = command.output().await.expect("deskdraft runs");
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&output)))
}

/// Starts the command and SIGKILLs it once the stand-in has answered `after` conversation calls.
async fn kill_after_conversation_calls(
    stand_in: &StandIn,
    command: &mut tokio::process::Command,
    after: usize,
) {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    loop {
        if conversation_calls(&stand_in.log()).len() >= after {
            child.kill().await.expect("kill");
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("finished ({status}) before it could be killed");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Ticket ids whose conversations were served (200), in order.
fn conversation_calls(log: &[LoggedRequest]) -> Vec<i64> {
    log.iter()
        .filter(|r| r.status == 200 && r.path.ends_with("/conversations"))
        .filter_map(|r| r.path.split('/').rev().nth(1)?.parse().ok())
        .collect()
}

fn ingest_state(data_dir: &Path) -> Value {
    let text = std::fs::read_to_string(data_dir.join("ingest-state.json")).expect("ingest state");
    serde_json::from_str(&text).expect("ingest state JSON")
}

fn indexed_keys(data_dir: &Path) -> BTreeSet<String> {
    ingest_state(data_dir)["documents"]
        .as_object()
        .expect("documents")
        .keys()
        .cloned()
        .collect()
}

/// Case keys the pipeline must hold for a bundle: every ticket that yields a case.
fn expected_case_keys(bundle: &Bundle) -> BTreeSet<String> {
    let mut urls = deskdraft::ingest::cases::ArticleUrlIndex::default();
    for article in bundle.articles.iter().filter(|a| a.is_published()) {
        urls.insert(article.id, article.url.as_deref());
    }
    bundle
        .tickets
        .iter()
        .filter(|t| deskdraft::ingest::cases::case_from_ticket(t, &urls).is_some())
        .map(|t| format!("case:{}", t.id))
        .collect()
}

/// The least a complete first read can cost: `agents/me`, the ticket list pages, the
/// knowledge-base walk (categories, folders per category, article pages per folder), the
/// canned-response folders, one conversations call per resolved ticket, and the archive
/// discovery: the trash and spam lists (a page each) and one probe per id the list leaves out.
fn call_floor(bundle: &Bundle) -> usize {
    let pages = |n: usize| n.div_ceil(100).max(1);
    let mut folders_by_category: BTreeMap<i64, BTreeMap<i64, usize>> = BTreeMap::new();
    for article in &bundle.articles {
        *folders_by_category
            .entry(article.category_id.unwrap_or(1))
            .or_default()
            .entry(article.folder_id.unwrap_or(1))
            .or_default() += 1;
    }
    let walk = pages(folders_by_category.len())
        + folders_by_category
            .values()
            .map(|folders| {
                pages(folders.len()) + folders.values().map(|n| pages(*n)).sum::<usize>()
            })
            .sum::<usize>();
    let resolved = bundle
        .tickets
        .iter()
        .filter(|t| t.status().is_resolved())
        .count();
    let highest_id = bundle.tickets.iter().map(|t| t.id).max().unwrap_or(0) as usize;
    let gaps = highest_id - bundle.tickets.len();
    let archive_discovery = if gaps > 0 { 2 + gaps } else { 0 };
    1 + pages(bundle.tickets.len()) + walk + 1 + resolved + archive_discovery
}

/// Requests sent while a `Retry-After` from an earlier 429 was still running.
fn requests_inside_retry_after(log: &[LoggedRequest]) -> usize {
    let mut blocked_until = Duration::ZERO;
    let mut inside = 0;
    for request in log {
        if request.at < blocked_until {
            inside += 1;
        }
        if let Some(seconds) = request.retry_after {
            blocked_until = blocked_until.max(request.at + Duration::from_secs(seconds));
        }
    }
    inside
}

fn busiest_window(log: &[LoggedRequest], window: Duration) -> u32 {
    let mut per_window: HashMap<u128, u32> = HashMap::new();
    for request in log {
        *per_window
            .entry(request.at.as_nanos() / window.as_nanos())
            .or_default() += request.cost;
    }
    per_window.values().copied().max().unwrap_or(0)
}

fn faulty(rate: f64) -> Faults {
    Faults {
        server_error_rate: rate,
        seed: 7,
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_of_twitter_care_under_120_per_minute_with_5xx_ingests_every_case() {
    let Some(dir) = twitter_care() else { return };
    let bundle = load_bundle(&dir).expect("twitter-care");
    let window = Duration::from_secs(1);
    let stand_in = StandIn::start(
        bundle.clone(),
        StandInConfig {
            api_key: KEY.into(),
            limit_per_window: 120,
            window,
            faults: faulty(0.05),
            ..StandInConfig::default()
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let summary =
        run_json(deskdraft(&stand_in, KEY, data.path()).args(["ingest", "--freshdesk"])).await;
    let elapsed = started.elapsed();

    let keys = indexed_keys(data.path());
    let expected = expected_case_keys(&bundle);
    let missing: Vec<_> = expected.difference(&keys).collect();
    assert!(
        missing.is_empty(),
        "cases missing after the sync: {missing:?}"
    );
    let articles = keys.iter().filter(|k| k.starts_with("article:")).count();
    assert_eq!(
        articles,
        bundle.articles.iter().filter(|a| a.is_published()).count()
    );

    let log = stand_in.log();
    let injected = log.iter().filter(|r| r.status >= 500).count();
    let served = log.iter().filter(|r| r.status < 500).count();
    let floor = call_floor(&bundle);
    let credits: u32 = log.iter().map(|r| r.cost).sum();
    let sustained = f64::from(credits) / elapsed.as_secs_f64() * window.as_secs_f64();
    println!(
        "twitter-care sync: {} tickets, {} cases, {articles} articles; {} calls = {served} answered + {injected} injected 5xx; \
         floor {floor}; {:.3} answered calls per ticket; {credits} credits in {:.1}s = {sustained:.1} per window (budget 60 of 120); \
         busiest window {}; 429s {}",
        bundle.tickets.len(),
        expected.len(),
        log.len(),
        served as f64 / bundle.tickets.len() as f64,
        elapsed.as_secs_f64(),
        busiest_window(&log, window),
        log.iter().filter(|r| r.status == 429).count(),
    );
    assert!(injected > 0, "the 5% fault injection never fired");
    assert!(
        served >= floor,
        "fewer calls than the floor: {served} < {floor}"
    );
    assert!(
        served as f64 <= floor as f64 * 1.02,
        "answered calls {served} are more than 2% above the floor {floor}"
    );
    assert_eq!(requests_inside_retry_after(&log), 0);
    assert!(busiest_window(&log, window) <= 120);
    assert_eq!(
        summary["conversations_fetched"].as_u64(),
        Some(conversation_calls(&log).len() as u64)
    );

    // A second sync lists from the cursor, finds nothing new and fetches no conversation.
    stand_in.set_faults(Faults::default());
    stand_in.clear_log();
    let again =
        run_json(deskdraft(&stand_in, KEY, data.path()).args(["ingest", "--freshdesk"])).await;
    assert_eq!(again["ingest"]["documents_indexed"], 0, "{again}");
    assert!(conversation_calls(&stand_in.log()).is_empty());
    assert_eq!(
        again["articles_walked"], false,
        "walked again within the refresh interval"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_halfway_resumes_without_refetching_its_work() {
    let Some(dir) = twitter_care() else { return };
    let bundle = load_bundle(&dir).expect("twitter-care");
    let stand_in = StandIn::start(
        bundle.clone(),
        StandInConfig {
            limit_per_window: 120,
            ..stand_in_config()
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    let resolved = bundle
        .tickets
        .iter()
        .filter(|t| t.status().is_resolved())
        .count();
    kill_after_conversation_calls(
        &stand_in,
        deskdraft(&stand_in, KEY, data.path()).args(["ingest", "--freshdesk"]),
        resolved / 2,
    )
    .await;
    let first: BTreeSet<i64> = conversation_calls(&stand_in.log()).into_iter().collect();
    stand_in.clear_log();

    let summary =
        run_json(deskdraft(&stand_in, KEY, data.path()).args(["ingest", "--freshdesk"])).await;
    let second = conversation_calls(&stand_in.log());
    let refetched = second.iter().filter(|id| first.contains(id)).count();
    println!(
        "killed after {} conversation calls; the resumed sync fetched {} ({refetched} of them again = {:.1}%), \
         skipped {} tickets it already held",
        first.len(),
        second.len(),
        100.0 * refetched as f64 / first.len() as f64,
        summary["tickets_already_held"]
    );
    assert!(
        (refetched as f64) < 0.10 * first.len() as f64,
        "re-fetched {refetched} of {} tickets",
        first.len()
    );
    let all: BTreeSet<i64> = first
        .iter()
        .copied()
        .chain(second.iter().copied())
        .collect();
    assert_eq!(
        all.len(),
        resolved,
        "every resolved ticket was fetched in one of the runs"
    );
    let expected = expected_case_keys(&bundle);
    let keys = indexed_keys(data.path());
    assert!(
        expected.is_subset(&keys),
        "missing: {:?}",
        expected.difference(&keys).collect::<Vec<_>>()
    );

    // No duplicate or orphan points: the store holds exactly the chunks the state records.
    let state = ingest_state(data.path());
    let chunks: u64 = state["documents"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| d["chunk_count"].as_u64().unwrap())
        .sum();
    let stats = run_json(deskdraft(&stand_in, KEY, data.path()).args(["stats", "--json"])).await;
    assert_eq!(stats["points"]["points"].as_u64(), Some(chunks), "{stats}");
}

mod archive_and_knowledge;
mod lifecycle_auth_and_export;
