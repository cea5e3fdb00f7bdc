//! The index half of the pipeline benchmark: ingest a bundle (first run and unchanged re-run),
//! query latency with its parts, retrieval + prompt latency, a retrieval-only simulation, and the
//! peak resident memory of each phase.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use deskdraft::app::Components;
use deskdraft::commands::ingest::ingest_with;
use deskdraft::config::{ChunkingConfig, Config};
use deskdraft::draft::generate::{build_chat_request, prompt_sources, whole_sources};
use deskdraft::draft::{DraftRequest, PromptTemplates};
use deskdraft::helpdesk::bundle::Bundle;
use deskdraft::ingest::cases::customer_problem_text;
use deskdraft::ingest::language::detect_language;
use deskdraft::llm::redact::Redactor;
use deskdraft::retrieve::RetrievalRequest;
use deskdraft::simulate::selection::ReplaySelection;
use deskdraft::simulate::{SimulateArgs, run_simulation, simulation_store_dir};
use serde_json::json;

use deskdraft::simulate::metrics::percentile;

use crate::repo;

/// How many queries the latency figures are taken over (every 50th ticket of the bundle).
const LATENCY_QUERIES: usize = 400;
/// How many tickets the simulation replays.
const SIMULATED_TICKETS: usize = 1_000;

/// Peak resident set size of this process in MiB since start or the last [`reset_peak_rss`].
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Starts a new peak-RSS window (Linux: writing 5 to `clear_refs` resets `VmHWM`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn config_for(data_dir: &Path, chunking: &ChunkingConfig) -> Config {
    let defaults = Config::default();
    Config {
        data_dir: data_dir.to_path_buf(),
        chunking: chunking.clone(),
        embedding: deskdraft::config::EmbeddingConfig {
            model_dir: repo().join("models/all-MiniLM-L6-v2"),
            ..defaults.embedding.clone()
        },
        drafting: deskdraft::config::DraftingConfig {
            prompts_dir: repo().join("prompts"),
            ..defaults.drafting.clone()
        },
        ..defaults
    }
}

fn summary(mut values: Vec<f64>) -> serde_json::Value {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN latencies"));
    json!({
        "p50": percentile(&values, 0.5),
        "p99": percentile(&values, 0.99),
        "max": values.last().copied().unwrap_or(0.0),
    })
}

/// Everything measured on one index of `bundle_dir` built with `chunking` under `data_dir`.
pub async fn index_section(
    bundle_dir: &Path,
    data_dir: &Path,
    chunking: &ChunkingConfig,
) -> serde_json::Value {
    let bundle = Bundle::open(bundle_dir).expect("bundle");
    let config = config_for(data_dir, chunking);
    // The index lives where `simulate` looks for it, so the simulation below reuses it.
    let mut store_config = config.clone();
    store_config.data_dir = simulation_store_dir(&config, &bundle);

    reset_peak_rss();
    let components = Components::open(store_config).expect("components");
    let first = ingest_with(&components, Some(bundle.clone()), Vec::new(), false)
        .await
        .expect("ingest");
    let second = ingest_with(&components, Some(bundle.clone()), Vec::new(), false)
        .await
        .expect("re-ingest");
    let ingest_peak = peak_rss_mib();
    let points = components.store.stats().await.expect("stats").points;
    drop(components);

    // A fresh process state for the query side: open the index, query, simulate.
    reset_peak_rss();
    let mut store_config = config.clone();
    store_config.data_dir = simulation_store_dir(&config, &bundle);
    let components = Components::open(store_config).expect("components");
    let latency = query_latency(&components, &bundle).await;
    drop(components);
    let simulation = simulate(&config, bundle_dir).await;
    let query_peak = peak_rss_mib();

    json!({
        "chunking_max_tokens": chunking.max_tokens,
        "documents_indexed": first.documents_indexed,
        "chunks_embedded": first.chunks_embedded,
        "points": points,
        "first_ingest_seconds": first.elapsed_seconds,
        "first_ingest_documents_per_second": first.documents_indexed as f64 / first.elapsed_seconds.max(1e-9),
        "first_ingest_chunks_per_second": first.chunks_embedded as f64 / first.elapsed_seconds.max(1e-9),
        "rerun_seconds": second.elapsed_seconds,
        "rerun_documents_indexed": second.documents_indexed,
        "rerun_speedup": first.elapsed_seconds / second.elapsed_seconds.max(1e-9),
        "latency_ms": latency,
        "simulation": simulation,
        "peak_rss_mib_ingest": ingest_peak,
        "peak_rss_mib_query_and_simulation": query_peak,
    })
}

/// Sequential queries (one at a time, as a webhook-driven draft would run on an idle service).
async fn query_latency(components: &Components, bundle: &Bundle) -> serde_json::Value {
    let retriever = components.retriever().await.expect("retriever");
    let drafter = Arc::new(components.drafter().await.expect("drafter"));
    let templates = PromptTemplates::load(&repo().join("prompts")).expect("templates");
    let max_sources = Config::default().llm.max_sources;
    let queries: Vec<(String, chrono::DateTime<chrono::Utc>, i64)> = bundle
        .tickets()
        .expect("tickets")
        .step_by(50)
        .take(LATENCY_QUERIES)
        .map(|t| t.expect("ticket"))
        .map(|t| (customer_problem_text(&t), t.created_at, t.id))
        .collect();
    let (mut embed, mut search, mut retrieval, mut prompt, mut draft) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut prompt_without_embedding = vec![];
    for (text, as_of, id) in &queries {
        let request = DraftRequest {
            ticket_id: *id,
            customer_text: text.clone(),
            customer_first_name: None,
            product: None,
            as_of: Some(*as_of),
            thread: Vec::new(),
        };
        // Retrieval, then the prompt an LLM would be sent (with identifiers redacted).
        let started = Instant::now();
        let result = retriever
            .retrieve(&RetrievalRequest {
                query_text: text.clone(),
                product: None,
                as_of: Some(*as_of),
                exclude: vec![deskdraft::domain::DocumentKey::case(*id)],
            })
            .await
            .expect("retrieve");
        retrieval.push(started.elapsed().as_secs_f64() * 1e3);
        let language = detect_language(text).unwrap_or_else(|| "en".to_string());
        let sources = whole_sources(&prompt_sources(&result, max_sources));
        let mut redactor = Redactor::new();
        let chat = build_chat_request(
            &request,
            &sources,
            &language,
            &templates,
            Some(&mut redactor),
        )
        .expect("prompt renders");
        let prompt_ms = started.elapsed().as_secs_f64() * 1e3;
        prompt.push(prompt_ms);
        prompt_without_embedding.push(prompt_ms - result.embed_millis);
        assert!(!chat.user.is_empty());
        embed.push(result.embed_millis);
        search.push(result.search_millis);

        // The whole retrieval-only draft, as `draft` and the service produce it.
        let started = Instant::now();
        drafter.draft(&request).await.expect("draft");
        draft.push(started.elapsed().as_secs_f64() * 1e3);
    }
    json!({
        "queries": queries.len(),
        "query_embedding": summary(embed),
        "hybrid_search": summary(search),
        "hybrid_retrieval": summary(retrieval),
        "retrieval_plus_prompt": summary(prompt),
        // The same with the query's embedding taken out: what the index and prompt cost.
        "retrieval_plus_prompt_without_query_embedding": summary(prompt_without_embedding),
        "retrieval_only_draft": summary(draft),
    })
}

/// A retrieval-only simulation of a fixed sample, on the index built above.
async fn simulate(config: &Config, bundle_dir: &Path) -> serde_json::Value {
    let out = tempfile::tempdir().expect("tempdir");
    let args = SimulateArgs {
        bundle: bundle_dir.to_path_buf(),
        out: PathBuf::from(out.path()),
        selection: ReplaySelection::Sample {
            size: SIMULATED_TICKETS,
            seed: 7,
        },
        target_precision: None,
        card_seed: 7,
        follow_ups: false,
    };
    let outcome = run_simulation(config.clone(), args)
        .await
        .expect("simulation");
    let timings = &outcome.summary.timings;
    json!({
        "tickets": outcome.tickets.len(),
        "replay_seconds": timings.replay_seconds,
        "tickets_per_second": timings.tickets_per_second,
        "unchanged_ingest_check_seconds": timings.ingest_seconds,
    })
}
