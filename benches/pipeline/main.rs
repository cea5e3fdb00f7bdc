//! `cargo bench --bench pipeline`: prints JSON with
//! - embedding: one query's latency, and throughput by batch size (8, 32, 64) and text length;
//! - for `../shared/datasets/airline-care`, twice: with the default chunking (~44k chunks) and
//!   with 48-token chunks (~100k chunks): first ingest and unchanged re-run, query latency
//!   (embedding, hybrid search, retrieval, retrieval + prompt, whole retrieval-only draft;
//!   p50/p99/max), a 1,000-ticket retrieval-only simulation (tickets/s), and peak RSS per phase.
//!
//! Environment: `DESKDRAFT_BENCH_TICKETS` caps how many airline-care tickets are ingested (default
//! all); `DESKDRAFT_BENCH_DATA` keeps the indexes in that folder between runs (default a
//! temporary one); `DESKDRAFT_BENCH_SCALE=0` skips the 100k-chunk index.
//! Without `--bench` (as under `cargo test --all-targets`) it only says how to run it.

mod index;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use deskdraft::config::{ChunkingConfig, Config};
use deskdraft::domain::Ticket;
use deskdraft::embed::LocalMiniLmEmbedder;
use deskdraft::helpdesk::bundle::{Bundle, BundleWriter};
use serde_json::json;

pub(crate) fn repo() -> PathBuf {
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
    let medium = sentences(256, 80);
    let long = sentences(128, 150);
    let single = Instant::now();
    for text in short.iter().take(64) {
        embedder.embed_sync(&[text.as_str()]).expect("embeds");
    }
    let single_query_ms = single.elapsed().as_secs_f64() * 1e3 / 64.0;
    report.insert(
        "embedding".into(),
        json!({
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "single_30_word_query_ms": single_query_ms,
            "short_30_words_batch_8_per_second": throughput(&embedder, &short, 8),
            "short_30_words_batch_32_per_second": throughput(&embedder, &short, 32),
            "short_30_words_batch_64_per_second": throughput(&embedder, &short, 64),
            "medium_80_words_batch_32_per_second": throughput(&embedder, &medium, 32),
            "long_150_words_batch_32_per_second": throughput(&embedder, &long, 32),
        }),
    );
    drop(embedder);

    let dataset = repo().join("../shared/datasets/airline-care");
    if !dataset.exists() {
        report.insert(
            "airline_care".into(),
            json!("skipped: ../shared/datasets/airline-care not present"),
        );
    } else {
        let temporary = tempfile::tempdir().expect("tempdir");
        let data_dir = std::env::var("DESKDRAFT_BENCH_DATA")
            .map(PathBuf::from)
            .unwrap_or(temporary.path().to_path_buf());
        let bundle_dir = bundle_prefix(&dataset, &data_dir);
        let defaults = Config::default().chunking;
        report.insert(
            "airline_care".into(),
            runtime.block_on(index::index_section(
                &bundle_dir,
                &data_dir.join("default-chunks"),
                &defaults,
            )),
        );
        if std::env::var("DESKDRAFT_BENCH_SCALE").as_deref() != Ok("0") {
            // 48-token chunks turn the same 43k tickets into about 100k chunks: the scale
            // the latency and memory targets are set at.
            let fine = ChunkingConfig {
                max_tokens: 48,
                overlap_tokens: 8,
            };
            report.insert(
                "airline_care_100k_chunks".into(),
                runtime.block_on(index::index_section(
                    &bundle_dir,
                    &data_dir.join("fine-chunks"),
                    &fine,
                )),
            );
        }
    }
    report.insert("peak_rss_mib_process".into(), json!(index::peak_rss_mib()));
    let text = serde_json::to_string_pretty(&report).expect("json");
    println!("{text}");
    std::io::stdout().flush().ok();
}

/// The bundle to index: all of airline-care, or (with `DESKDRAFT_BENCH_TICKETS`) a prefix of it
/// written once as its own bundle.
fn bundle_prefix(dataset: &std::path::Path, data_dir: &std::path::Path) -> PathBuf {
    let limit: Option<usize> = std::env::var("DESKDRAFT_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok());
    let Some(limit) = limit else {
        return dataset.to_path_buf();
    };
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
