//! Owns the simulation: a leak-free replay of historical tickets through the real drafting path,
//! the metrics that say how good the drafts would have been, and the reports people read.
//!
//! The simulation never writes to a helpdesk. It reads a bundle; a live account is first
//! exported (`deskdraft export --freshdesk`) through [`crate::helpdesk::HelpdeskRead`], the
//! read-only capability, which has no write methods at all (see [`crate::helpdesk::export`]).

pub mod compare;
pub mod gaps;
pub mod metrics;
pub mod model;
pub mod replay;
pub mod report;
pub mod selection;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use crate::app::Components;
use crate::commands::ingest::ingest_with;
use crate::config::Config;
use crate::draft::Drafter;
use crate::embed::CachedEmbedder;
use crate::errors::CommandError;
use crate::helpdesk::bundle::Bundle;
use crate::retrieve::Retriever;
pub use compare::{ComparisonOutcome, run_comparison};
use model::{RunDescription, SimulationSummary, TicketResult, Timings};
use selection::{ReplaySelection, TicketIndexEntry, select_tickets};

/// What to replay and where the reports go.
#[derive(Debug, Clone)]
pub struct SimulateArgs {
    pub bundle: PathBuf,
    pub out: PathBuf,
    pub selection: ReplaySelection,
    /// Overrides `simulation.target_precision`.
    pub target_precision: Option<f32>,
    /// Seed of the random sample of report cards.
    pub card_seed: u64,
    /// Replay each selected ticket's last answered customer follow-up (drafted from the thread
    /// so far) instead of its first message; tickets without one are left out.
    pub follow_ups: bool,
}

/// The outcome: aggregates, per-ticket rows and the written files.
pub struct SimulationOutcome {
    pub summary: SimulationSummary,
    pub tickets: Vec<TicketResult>,
    pub reports: report::ReportPaths,
}

/// Store folder for a bundle's simulation, so a simulation never mixes with production data.
pub fn simulation_store_dir(config: &Config, bundle: &Bundle) -> PathBuf {
    let name = bundle
        .meta
        .name
        .clone()
        .or_else(|| {
            bundle
                .dir()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "bundle".to_string());
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    config.data_dir.join("simulate").join(safe)
}

pub async fn run_simulation(
    config: Config,
    args: SimulateArgs,
) -> Result<SimulationOutcome, CommandError> {
    let prepared = prepare(&config, &args).await?;
    let drafter = Arc::new(prepared.drafter(&config, true)?);
    let concurrency = default_concurrency();
    let replayed = replay_all(&prepared, &drafter, concurrency).await?;
    let summary = prepared.summarize(&config, &args, &replayed, drafter_name(&drafter));
    let reports = write_reports(&args.out, &summary, &replayed.results, args.card_seed)?;
    Ok(SimulationOutcome {
        summary,
        tickets: replayed.results,
        reports,
    })
}

/// Tickets replayed at once: the store and embedder are in-process, so twice the cores.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

pub(crate) fn drafter_name(drafter: &Drafter) -> String {
    match &drafter.generation {
        Some(generation) => format!("llm ({})", generation.chat.model_name()),
        None => "retrieval-only".to_string(),
    }
}

pub(crate) fn write_reports(
    out: &std::path::Path,
    summary: &SimulationSummary,
    results: &[TicketResult],
    card_seed: u64,
) -> Result<report::ReportPaths, CommandError> {
    report::write_reports(out, summary, results, card_seed).map_err(|e| CommandError::Io {
        context: "writing the simulation report".to_string(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Everything a replay needs, prepared once (a comparison replays it twice).
pub(crate) struct Prepared {
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    bundle: Bundle,
    checksums: std::collections::BTreeMap<String, String>,
    components: Components,
    issues: model::ReplayIssues,
    tickets: Vec<crate::domain::Ticket>,
    /// Replay follow-ups rather than first messages (see [`SimulateArgs::follow_ups`]).
    follow_ups: bool,
    reference_articles: Arc<crate::ingest::cases::ArticleUrlIndex>,
    retriever: Arc<Retriever>,
    ingest_seconds: f64,
    prefill_seconds: f64,
}

pub(crate) async fn prepare(
    config: &Config,
    args: &SimulateArgs,
) -> Result<Prepared, CommandError> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let bundle = Bundle::open(&args.bundle)?;
    let checksums = bundle.checksums()?;

    // History = everything in the bundle; the as-of filter keeps each draft leak-free.
    let mut store_config = config.clone();
    store_config.data_dir = simulation_store_dir(config, &bundle);
    let components = Components::open(store_config)?;
    let ingest_started = Instant::now();
    ingest_with(&components, Some(bundle.clone()), Vec::new(), false).await?;
    let ingest_seconds = ingest_started.elapsed().as_secs_f64();

    let mut entries = Vec::new();
    for ticket in bundle.tickets()? {
        entries.push(TicketIndexEntry::of(&ticket?));
    }
    let (ids, issues) = select_tickets(&entries, &args.selection);
    drop(entries);
    let mut tickets = replay::load_selected_tickets(&bundle, &ids)?;
    if args.follow_ups {
        tickets.retain(|t| replay::follow_up_point(t).is_some());
        tracing::info!(
            tickets = tickets.len(),
            "replaying answered customer follow-ups"
        );
    }
    let reference_articles = Arc::new(replay::reference_article_index(&bundle)?);

    // The queries are known in advance: embed them in full batches first, so the replay itself
    // only searches and composes (the same drafting path, fed by a cache).
    let prefill_started = Instant::now();
    let cached = Arc::new(CachedEmbedder::new(Arc::clone(&components.embedder)));
    let queries: Vec<String> = tickets
        .iter()
        .map(|t| {
            let request = replay::replay_point(t, args.follow_ups).request;
            let with_first = config.retrieval.follow_up_search_with_first_message;
            crate::draft::search_text(&request, with_first)
        })
        .collect();
    cached.prefill(&queries).await?;
    let prefill_seconds = prefill_started.elapsed().as_secs_f64();
    let retriever = Arc::new(
        Retriever::new(
            cached.clone(),
            Arc::clone(&components.sparse),
            Arc::clone(&components.store),
            config.retrieval.clone(),
        )
        .await?,
    );
    Ok(Prepared {
        started,
        started_at,
        bundle,
        checksums,
        components,
        issues,
        tickets,
        follow_ups: args.follow_ups,
        reference_articles,
        retriever,
        ingest_seconds,
        prefill_seconds,
    })
}

impl Prepared {
    /// The drafter: with the configured language model when `with_llm` (and one is configured).
    pub(crate) fn drafter(&self, config: &Config, with_llm: bool) -> Result<Drafter, CommandError> {
        // Every ticket gets a candidate draft (threshold 0) so the whole risk-coverage curve can
        // be computed; the configured threshold is applied when aggregating.
        let mut drafting = config.drafting.clone();
        drafting.confidence_threshold = 0.0;
        Ok(Drafter {
            retriever: Arc::clone(&self.retriever),
            templates: Arc::new(crate::draft::PromptTemplates::load(&drafting.prompts_dir)?),
            config: drafting,
            generation: if with_llm {
                self.components.generation()?
            } else {
                None
            },
        })
    }

    pub(crate) fn summarize(
        &self,
        config: &Config,
        args: &SimulateArgs,
        replayed: &Replayed,
        drafter: String,
    ) -> SimulationSummary {
        let results = &replayed.results;
        let replay_seconds = replayed.replay_seconds;
        let millis = |f: &dyn Fn(&TicketResult) -> f64| {
            metrics::latency_stats(&results.iter().map(f).collect::<Vec<_>>())
        };
        let mut summary = summarize(SummaryInputs {
            config,
            components: &self.components,
            bundle: &self.bundle,
            selection: &args.selection,
            checksums: self.checksums.clone(),
            issues: self.issues.clone(),
            results,
            threshold: f64::from(config.drafting.confidence_threshold),
            target_precision: f64::from(
                args.target_precision
                    .unwrap_or(config.simulation.target_precision),
            ),
            timings: Timings {
                started_at: Some(self.started_at),
                wall_seconds: self.started.elapsed().as_secs_f64(),
                ingest_seconds: self.ingest_seconds,
                replay_seconds: replay_seconds + self.prefill_seconds,
                tickets_per_second: if replay_seconds > 0.0 {
                    results.len() as f64 / replay_seconds
                } else {
                    0.0
                },
                retrieval_latency: millis(&|t| t.retrieval_millis),
                generation_latency: millis(&|t| t.generation_millis),
                total_latency: millis(&|t| t.retrieval_millis + t.generation_millis),
            },
        });
        summary.run.drafter = drafter;
        summary
    }
}

/// One replay's per-ticket results.
pub(crate) struct Replayed {
    pub results: Vec<TicketResult>,
    pub replay_seconds: f64,
}

/// Replays every prepared ticket through `drafter`, `concurrency` at a time, results in order.
pub(crate) async fn replay_all(
    prepared: &Prepared,
    drafter: &Arc<Drafter>,
    concurrency: usize,
) -> Result<Replayed, CommandError> {
    let replay_started = Instant::now();
    let progress = crate::commands::progress_bar(Some(prepared.tickets.len() as u64), "replay");
    // Tickets replay concurrently, each as its own task, and results keep their order. Own
    // tasks, not futures sharing one: on a multi-threaded runtime the store and the embedder
    // block in place (cheaper than a hand-off to the blocking pool for one query), and that
    // would hold up every other ticket polled by the same task.
    let replayed: Vec<replay::ReplayedTicket> =
        futures::stream::iter(prepared.tickets.iter().cloned())
            .map(|ticket| {
                let (drafter, progress) = (Arc::clone(drafter), progress.clone());
                let reference_articles = Arc::clone(&prepared.reference_articles);
                let follow_ups = prepared.follow_ups;
                tokio::spawn(async move {
                    let replayed =
                        replay::replay_ticket(&drafter, &ticket, &reference_articles, follow_ups)
                            .await;
                    progress.inc(1);
                    replayed
                })
            })
            .buffered(concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            // A replay that panicked panics here, as it did when it ran inside this task.
            .map(|joined| joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())))
            .collect::<Result<_, _>>()?;
    progress.finish_and_clear();
    let drafting_seconds = replay_started.elapsed().as_secs_f64();
    let cosines = replay::reply_cosines(prepared.components.embedder.as_ref(), &replayed).await?;
    tracing::info!(
        drafting_seconds,
        similarity_seconds = replay_started.elapsed().as_secs_f64() - drafting_seconds,
        tickets = replayed.len(),
        "replay phases (drafting, reply-similarity embedding)"
    );
    let results = replayed
        .into_iter()
        .zip(cosines)
        .map(|(ticket, cosine)| {
            let name = ticket
                .product
                .as_deref()
                .and_then(|p| prepared.bundle.product_name(p))
                .map(str::to_string);
            replay::ticket_result(ticket, cosine, name)
        })
        .collect();
    Ok(Replayed {
        results,
        replay_seconds: replay_started.elapsed().as_secs_f64(),
    })
}

struct SummaryInputs<'a> {
    config: &'a Config,
    components: &'a Components,
    bundle: &'a Bundle,
    selection: &'a ReplaySelection,
    checksums: std::collections::BTreeMap<String, String>,
    issues: model::ReplayIssues,
    results: &'a [TicketResult],
    threshold: f64,
    target_precision: f64,
    timings: Timings,
}

fn summarize(inputs: SummaryInputs<'_>) -> SimulationSummary {
    let results = inputs.results;
    let curve = metrics::risk_coverage(results);
    let drafted = results
        .iter()
        .filter(|t| {
            t.verdict != model::Verdict::NoDraft && f64::from(t.confidence) >= inputs.threshold
        })
        .count();
    SimulationSummary {
        run: RunDescription {
            deskdraft_version: env!("CARGO_PKG_VERSION").to_string(),
            bundle: inputs.bundle.dir().display().to_string(),
            bundle_name: inputs.bundle.meta.name.clone(),
            input_checksums: inputs.checksums,
            selection: inputs.selection.describe(),
            seed: inputs.selection.seed(),
            embedding_model: inputs.components.embedder.model_id().to_string(),
            drafter: "retrieval-only".to_string(),
            store: "qdrant-edge (embedded)".to_string(),
            configuration: serde_json::to_value(inputs.config).unwrap_or_default(),
            notes: vec![
                "Leak-free: each draft uses only cases and articles created strictly before the replayed ticket, never the ticket's own thread, and sees only the customer's messages before the first public agent reply.".to_string(),
                "BM25 term statistics (IDF) are computed over the whole store; no text of a later ticket can reach a draft.".to_string(),
                "Every ticket gets a candidate draft; coverage at a threshold counts the drafts whose confidence reaches it.".to_string(),
                format!("A draft is 'good' when a reference article is among its top 3 cited articles, or, when the real reply linked no known article, when its embedding cosine to the real first reply is at least {}.", model::GOOD_SIMILARITY),
            ],
        },
        replayed_tickets: results.len(),
        drafted_tickets: drafted,
        abstained_tickets: results.len() - drafted,
        confidence_threshold: metrics::round6(inputs.threshold),
        issues: inputs.issues,
        article_agreement: metrics::article_agreement(results.iter()),
        similarity: metrics::reply_similarity(results.iter()),
        suggested_threshold: metrics::suggest_threshold(&curve, inputs.target_precision),
        risk_coverage: curve,
        per_product: metrics::per_product(results, inputs.threshold),
        specifics: metrics::specifics_summary(results),
        knowledge_gaps: gaps::knowledge_gaps(results, inputs.threshold),
        total_prompt_tokens: results
            .iter()
            .filter_map(|r| r.prompt_tokens)
            .reduce(|a, b| a + b),
        total_completion_tokens: results
            .iter()
            .filter_map(|r| r.completion_tokens)
            .reduce(|a, b| a + b),
        timings: inputs.timings,
    }
}
