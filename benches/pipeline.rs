//! `cargo bench --bench pipeline`: prints JSON with embedding throughput (batch 32 and 64, short
//! and chunk-sized texts), ingest throughput on `../shared/datasets/airline-care` (first run and
//! unchanged re-run), and hybrid query latency (p50/p99) on the resulting index.
//!
//! Environment: `DESKDRAFT_BENCH_TICKETS` caps how many airline-care tickets are ingested (default
//! all); `DESKDRAFT_BENCH_DATA` keeps the index in that folder (default a temporary one).
//! Without `--bench` (as under `cargo test --all-targets`) it only says how to run it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use deskdraft::app::Components;
use deskdraft::commands::ingest::ingest_with;
use deskdraft::config::Config;
use deskdraft::domain::Ticket;
use deskdraft::embed::LocalMiniLmEmbedder;
use deskdraft::helpdesk::bundle::{Bundle, BundleWriter};
use deskdraft::ingest::cases::customer_problem_text;
use deskdraft::retrieve::RetrievalRequest;
use serde_json::json;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Varied support-like sentences of roughly `words` words (deterministic).
fn sentences(count: usize, words: usize) -> Vec<String> {
    const VOCABULARY: [&str; 40] = [
        "my",
        "order",
        "arrived",
        "late",
        "and",
        "the",
        "kettle",
        "will",
        "not",
        "connect",
        "to",
        "wifi",
        "after",
        "the",
        "firmware",
        "update",
        "please",
        "refund",
        "double",
        "charge",
        "on",
        "card",
        "password",
        "reset",
        "email",
        "never",
        "came",
        "parcel",
        "tracking",
        "says",
        "delivered",
        "but",
        "nothing",
        "here",
        "app",
        "crashes",
        "when",
        "opening",
        "settings",
        "today",
    ];
    (0..count)
        .map(|i| {
            (0..words)
                .map(|j| VOCABULARY[(i * 7 + j * 13 + (i * j) % 11) % VOCABULARY.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn throughput(embedder: &LocalMiniLmEmbedder, texts: &[String], batch: usize) -> f64 {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    // Warm-up so allocation and page faults do not count.
    embedder
        .embed_sync(&refs[..batch.min(refs.len())])
        .expect("embeds");
    let started = Instant::now();
    for chunk in refs.chunks(batch) {
        embedder.embed_sync(chunk).expect("embeds");
    }
    texts.len() as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!(
            "pipeline benchmark: run with `cargo bench --bench pipeline` (skipped under cargo test)"
        );
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut report = serde_json::Map::new();
    let model_dir = repo().join("models/all-MiniLM-L6-v2");
    let embedder =
        LocalMiniLmEmbedder::load(&model_dir).expect("model present: run scripts/fetch-model.sh");
    let short = sentences(640, 30);
    let long = sentences(128, 150);
    report.insert(
        "embedding".into(),
        json!({
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "short_30_words_batch_32_per_second": throughput(&embedder, &short, 32),
            "short_30_words_batch_64_per_second": throughput(&embedder, &short, 64),
            "long_150_words_batch_32_per_second": throughput(&embedder, &long, 32),
        }),
    );

    let dataset = repo().join("../shared/datasets/airline-care");
    if !dataset.exists() {
        report.insert(
            "airline_care".into(),
            json!("skipped: ../shared/datasets/airline-care not present"),
        );
    } else {
        report.insert(
            "airline_care".into(),
            runtime.block_on(airline_care(&dataset)),
        );
    }
    let text = serde_json::to_string_pretty(&report).expect("json");
    println!("{text}");
    std::io::stdout().flush().ok();
}

async fn airline_care(dataset: &std::path::Path) -> serde_json::Value {
    let limit: Option<usize> = std::env::var("DESKDRAFT_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok());
    let temporary = tempfile::tempdir().expect("tempdir");
    let data_dir = std::env::var("DESKDRAFT_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or(temporary.path().to_path_buf());
    // A capped run ingests a prefix of the bundle, written as its own bundle.
    let bundle_dir = match limit {
        Some(limit) => {
            let source = Bundle::open(dataset).expect("bundle");
            let dir = data_dir.join(format!("airline-care-first-{limit}"));
            if !dir.join("tickets.jsonl").exists() {
                let writer = BundleWriter::create(&dir, &source.meta).expect("writer");
                let tickets: Vec<Ticket> = source
                    .tickets()
                    .expect("tickets")
                    .take(limit)
                    .map(|t| t.expect("ticket"))
                    .collect();
                writer.append_tickets(&tickets).expect("write");
            }
            dir
        }
        None => dataset.to_path_buf(),
    };
    let bundle = Bundle::open(&bundle_dir).expect("bundle");
    let defaults = Config::default();
    let config = Config {
        data_dir: data_dir.join("index"),
        embedding: deskdraft::config::EmbeddingConfig {
            model_dir: repo().join("models/all-MiniLM-L6-v2"),
            ..defaults.embedding.clone()
        },
        drafting: deskdraft::config::DraftingConfig {
            prompts_dir: repo().join("prompts"),
            ..defaults.drafting.clone()
        },
        ..defaults
    };
    let components = Components::open(config).expect("components");

    let first = ingest_with(&components, Some(bundle.clone()), Vec::new(), false)
        .await
        .expect("ingest");
    let second = ingest_with(&components, Some(bundle.clone()), Vec::new(), false)
        .await
        .expect("re-ingest");
    let retriever = components.retriever().await.expect("retriever");
    let drafter = Arc::new(components.drafter().await.expect("drafter"));

    // Queries: the customer text of every 50th ticket, as of its own time.
    let queries: Vec<(String, chrono::DateTime<chrono::Utc>, i64)> = bundle
        .tickets()
        .expect("tickets")
        .step_by(50)
        .take(400)
        .map(|t| t.expect("ticket"))
        .map(|t| (customer_problem_text(&t), t.created_at, t.id))
        .collect();
    let mut retrieval = Vec::new();
    let mut drafting = Vec::new();
    for (text, as_of, id) in &queries {
        let started = Instant::now();
        retriever
            .retrieve(&RetrievalRequest {
                query_text: text.clone(),
                product: None,
                as_of: Some(*as_of),
                exclude: vec![deskdraft::domain::DocumentKey::case(*id)],
            })
            .await
            .expect("retrieve");
        retrieval.push(started.elapsed().as_secs_f64() * 1e3);
        let request = deskdraft::draft::DraftRequest {
            ticket_id: *id,
            customer_text: text.clone(),
            customer_first_name: None,
            product: None,
            as_of: Some(*as_of),
        };
        let started = Instant::now();
        drafter.draft(&request).await.expect("draft");
        drafting.push(started.elapsed().as_secs_f64() * 1e3);
    }
    retrieval.sort_by(|a, b| a.partial_cmp(b).unwrap());
    drafting.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let stats = components.store.stats().await.expect("stats");
    json!({
        "documents_indexed": first.documents_indexed,
        "chunks": first.chunks_embedded,
        "points": stats.points,
        "first_ingest_seconds": first.elapsed_seconds,
        "first_ingest_documents_per_second": first.documents_indexed as f64 / first.elapsed_seconds,
        "first_ingest_chunks_per_second": first.chunks_embedded as f64 / first.elapsed_seconds,
        "rerun_seconds": second.elapsed_seconds,
        "rerun_documents_indexed": second.documents_indexed,
        "rerun_speedup": first.elapsed_seconds / second.elapsed_seconds.max(1e-9),
        "queries": retrieval.len(),
        "hybrid_retrieval_ms_p50": percentile(&retrieval, 0.5),
        "hybrid_retrieval_ms_p99": percentile(&retrieval, 0.99),
        "retrieval_plus_draft_ms_p50": percentile(&drafting, 0.5),
        "retrieval_plus_draft_ms_p99": percentile(&drafting, 0.99),
    })
}
