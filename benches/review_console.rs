//! `cargo bench --bench review_console`: prints JSON with the review console's queue page server
//! time (SQL + HTML, exactly what the `/` handler does after the session check) with 5,000
//! drafts, on each queue backend in the same run: SQLite, and PostgreSQL in a throwaway cluster
//! the bench starts (`tests/support/postgres.rs`; without PostgreSQL binaries only SQLite runs).
//! p50/p95 per filter (default list, a product, band + flags, text search, ticket id, the last
//! page), and the size of the SQLite file and of PostgreSQL's drafts table. Goal: under 100 ms
//! p95.
//!
//! Environment: `DESKDRAFT_BENCH_DRAFTS` (default 5000), `DESKDRAFT_BENCH_ROUNDS` (default 200).
//! Without `--bench` (as under `cargo test --all-targets`) it only says how to run it.

mod bench_support;

// Only `shared` and `create_database` are used here.
#[allow(dead_code)]
#[path = "../tests/support/postgres.rs"]
mod postgres;

use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use deskdraft::domain::{Article, CannedResponse, Conversation, Ticket};
use deskdraft::draft::thread::ThreadTurn;
use deskdraft::helpdesk::{HelpdeskError, HelpdeskRead, Product, RemovedTickets};
use deskdraft::queue::{DraftEventKind, DraftStatus, JobQueue, NewDraft, TicketContext};
use deskdraft::serve::console::ConsoleContext;
use deskdraft::serve::console::queue_view::{ConsoleQuery, render_queue};
use deskdraft::serve::live_gaps::{LIVE_GAP_DRAFTS, live_knowledge_gaps};
use deskdraft::simulate::metrics::percentile;
use serde_json::json;

/// The helpdesk as the console sees it: product names only.
struct Products;

#[async_trait]
impl HelpdeskRead for Products {
    async fn ticket_with_conversations(&self, id: i64) -> Result<Ticket, HelpdeskError> {
        Err(HelpdeskError::NotFound(id.to_string()))
    }
    async fn tickets_updated_since(&self, _: DateTime<Utc>) -> Result<Vec<Ticket>, HelpdeskError> {
        Ok(Vec::new())
    }
    async fn ticket_fields_updated_since(
        &self,
        _: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, HelpdeskError> {
        Ok(Vec::new())
    }
    async fn conversations(&self, _: i64) -> Result<Vec<Conversation>, HelpdeskError> {
        Ok(Vec::new())
    }
    async fn articles(&self) -> Result<Vec<Article>, HelpdeskError> {
        Ok(Vec::new())
    }
    async fn archived_ticket(&self, _: i64) -> Result<Option<Ticket>, HelpdeskError> {
        Ok(None)
    }
    async fn removed_ticket_ids(&self) -> Result<RemovedTickets, HelpdeskError> {
        Ok(RemovedTickets::default())
    }
    async fn canned_responses(&self) -> Result<Vec<CannedResponse>, HelpdeskError> {
        Ok(Vec::new())
    }
    async fn check_access(&self) -> Result<(), HelpdeskError> {
        Ok(())
    }
    async fn products(&self) -> Result<Vec<Product>, HelpdeskError> {
        Ok((1..=6)
            .map(|id| Product {
                id,
                name: format!("Product line {id}"),
            })
            .collect())
    }
}

const TOPICS: [&str; 6] = [
    "my kettle does not heat",
    "refund for a damaged order",
    "cannot pair the app",
    "invoice address is wrong",
    "delivery is late",
    "password reset email never arrives",
];

fn main() {
    bench_support::run_and_print("review console", "cargo bench --bench review_console", run);
}

async fn run() -> serde_json::Value {
    let count: i64 = bench_support::env_number("DESKDRAFT_BENCH_DRAFTS", 5000);
    let rounds: usize = bench_support::env_number("DESKDRAFT_BENCH_ROUNDS", 200);
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = JobQueue::open(&dir.path().join("queue.sqlite"), 5).expect("queue");
    let mut report = serde_json::Map::new();
    let mut measured = measure(&sqlite, count, rounds, || {}).await;
    // What the drafts and their search index cost on disk (the file and its write-ahead log).
    let bytes: u64 = ["queue.sqlite", "queue.sqlite-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(dir.path().join(name)).ok())
        .map(|metadata| metadata.len())
        .sum();
    measured["database_bytes"] = json!(bytes);
    report.insert("sqlite".into(), measured);
    if let Some(cluster) = postgres::PostgresCluster::shared("review console bench") {
        let url = cluster.create_database("console_bench");
        let queue = JobQueue::open_postgres(&url, 5, 4)
            .await
            .expect("postgres queue");
        let database = url.rsplit('/').next().expect("database name").to_string();
        // A live table is kept vacuumed and analysed by autovacuum; a freshly filled one is not
        // yet, and its plans would be those of a table PostgreSQL knows nothing about.
        let settle = || {
            cluster.psql_on(&database, "VACUUM ANALYZE drafts");
        };
        let mut measured = measure(&queue, count, rounds, settle).await;
        // The drafts table with its indexes (trigram ones included) and TOAST.
        let bytes = cluster.psql_on(&database, "SELECT pg_total_relation_size('drafts')");
        measured["drafts_table_bytes"] = json!(bytes.trim().parse::<u64>().unwrap_or(0));
        report.insert("postgres".into(), measured);
    }
    report.insert("drafts".into(), json!(count));
    report.insert("rounds".into(), json!(rounds));
    report.insert("goal_p95_ms".into(), json!(100));
    serde_json::Value::Object(report)
}

/// Fills `queue` with `count` drafts (four in five decided), then times each console page.
async fn measure(
    queue: &JobQueue,
    count: i64,
    rounds: usize,
    settle: impl FnOnce(),
) -> serde_json::Value {
    let filled = Instant::now();
    let now = Utc::now();
    for i in 0..count {
        let topic = TOPICS[i as usize % TOPICS.len()];
        let text = format!(
            "Hello,\n\nThanks for writing about: {topic}. {}\n\nBest regards",
            "Here is what to do next, step by step, with the article that explains it. ".repeat(6)
        );
        let flags: Vec<&str> = if i % 3 == 0 {
            vec!["mentions a refund: confirm it applies to this customer before sending"]
        } else {
            Vec::new()
        };
        queue
            .insert_draft(NewDraft {
                id: format!("draft-{i:06}"),
                ticket_id: 100_000 + i,
                message_id: 0,
                revision: 0,
                status: DraftStatus::Pending,
                kind: "retrieval_only".into(),
                product: Some((1 + i % 6).to_string()),
                confidence: (i % 100) as f32 / 100.0,
                draft_text: text.clone(),
                note_html: format!("<p>{text}</p>"),
                draft: json!({"flags": flags, "sources": [
                    {"key": "case:1", "title": "A past case", "url": null, "age_days": 40},
                    {"key": "article:2", "title": "How to", "url": "https://support.example/a/2", "age_days": 300}
                ]}),
                ticket: Some(TicketContext {
                    subject: format!("Ticket {i}: {topic}"),
                    requester_id: Some(7_000 + i % 400),
                    priority: Some(1 + i % 4),
                    status: 2,
                    product_id: Some(1 + i % 6),
                    created_at: now - Duration::minutes(count - i),
                    thread: vec![ThreadTurn {
                        from_customer: true,
                        text: format!("Hi, {topic}. I tried everything. Order {i}."),
                        at: now - Duration::minutes(count - i),
                    }],
                }),
            })
            .await
            .expect("insert");
    }
    // A realistic mix: most drafts decided, a backlog pending.
    let decided = count * 4 / 5;
    for i in 0..decided {
        queue
            .reject(&format!("draft-{i:06}"), "bench", "bench")
            .await
            .expect("reject");
    }
    let fill_seconds = filled.elapsed().as_secs_f64();
    settle();
    let console = ConsoleContext::default();
    let read = Products;
    let query = |pairs: serde_json::Value| -> ConsoleQuery {
        serde_json::from_value(pairs).expect("query")
    };
    let scenarios = vec![
        ("pending, first page", query(json!({}))),
        ("any status, first page", query(json!({"status": "all"}))),
        (
            "any status, page 100",
            query(json!({"status": "all", "page": 100})),
        ),
        ("one product", query(json!({"product": "3"}))),
        (
            "high band with flags",
            query(json!({"band": "high", "flags": "with"})),
        ),
        (
            "text search, any status",
            query(json!({"status": "all", "q": "invoice address"})),
        ),
        (
            "text search, one match",
            query(json!({"status": "all", "q": "order 4242."})),
        ),
        ("ticket id", query(json!({"status": "all", "q": "#104321"}))),
    ];
    let mut results = serde_json::Map::new();
    let mut worst_p95: f64 = 0.0;
    for (name, scenario) in scenarios {
        let mut times = Vec::with_capacity(rounds);
        let mut bytes = 0;
        // One untimed page first, so the numbers are of a warm cache as in steady use.
        let warm = render_queue(queue, &console, &read, &scenario, "csrf-token")
            .await
            .expect("page");
        assert!(!warm.0.is_empty());
        for _ in 0..rounds {
            let begun = Instant::now();
            let html = render_queue(queue, &console, &read, &scenario, "csrf-token")
                .await
                .expect("page");
            times.push(begun.elapsed().as_secs_f64() * 1e3);
            bytes = html.0.len();
        }
        times.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        let p95 = percentile(&times, 0.95);
        worst_p95 = worst_p95.max(p95);
        results.insert(
            name.into(),
            json!({"p50_ms": percentile(&times, 0.5), "p95_ms": p95, "max_ms": times.last(), "html_bytes": bytes}),
        );
    }
    // The lead's view's live knowledge gaps: read the newest drafts, group those without a good
    // draft (here the 80% rejected) by topic.
    let mut gap_times = Vec::new();
    let mut gap_topics = 0;
    for _ in 0..rounds.min(20) {
        let begun = Instant::now();
        let drafts = queue
            .recent_gap_drafts(LIVE_GAP_DRAFTS)
            .await
            .expect("drafts");
        let not_useful = queue
            .drafts_with_event(DraftEventKind::NotUseful)
            .await
            .expect("events");
        let outcomes = queue.outcomes().await.expect("outcomes");
        let gaps = live_knowledge_gaps(&drafts, &not_useful, &outcomes, |_| None);
        gap_times.push(begun.elapsed().as_secs_f64() * 1e3);
        gap_topics = gaps.topics.len();
    }
    gap_times.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    json!({
        "live_knowledge_gaps": {
            "p50_ms": percentile(&gap_times, 0.5),
            "p95_ms": percentile(&gap_times, 0.95),
            "topics": gap_topics,
        },
        "pending": count - decided,
        "fill_seconds": fill_seconds,
        "queue_page_server_time": results,
        "worst_p95_ms": worst_p95,
    })
}
