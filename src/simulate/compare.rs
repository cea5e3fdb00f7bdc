//! Owns `simulate --compare`: the same tickets replayed with the retrieval-only drafter and with
//! the configured language model, on one prepared store and one retrieval, so every difference in
//! the report comes from the drafter. Writes both full reports (`retrieval-only/`, `llm/`) and the
//! side-by-side comparison (`compare.json`, `compare.md`, `compare.html`).
//!
//! The LLM side replays one ticket at a time by default: a local model server answers one request
//! at a time, and concurrent requests would measure its queue, not a draft's latency.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::metrics::{self, round6};
use super::model::{
    ArticleAgreement, LatencyStats, ReplySimilarity, SimulationSummary, TicketResult,
};
use super::{SimulateArgs, default_concurrency, drafter_name, prepare, replay_all, write_reports};
use crate::config::Config;
use crate::errors::CommandError;

/// How many per-ticket cards the comparison shows (the tickets where the drafters differ most).
pub const COMPARISON_CARDS: usize = 12;

/// One drafter's numbers over the replayed tickets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DrafterMetrics {
    pub drafter: String,
    pub tickets: usize,
    /// Drafts written by the model and kept (kind `generated`).
    pub generated: usize,
    /// Share of tickets where the model's answer was replaced by the retrieval-only draft.
    pub fallback_rate: f64,
    /// Why, grouped by the first words of the reason, with counts.
    pub fallback_reasons: BTreeMap<String, usize>,
    /// Share of tickets without a draft at the configured confidence threshold.
    pub abstention_rate: f64,
    pub article_agreement: ArticleAgreement,
    pub similarity: ReplySimilarity,
    pub mean_draft_chars: Option<f64>,
    /// Answers the grounding checks ran on (model answers that were not a fallback).
    pub checked_answers: usize,
    /// Over checked answers: share with at least one invented id dropped, and the total.
    pub invented_id_rate: Option<f64>,
    pub invented_ids_dropped: usize,
    pub link_removed_rate: Option<f64>,
    pub links_removed: usize,
    pub unsupported_claim_rate: Option<f64>,
    pub confidence_clamped_rate: Option<f64>,
    pub language_mismatch_rate: Option<f64>,
    /// Over model calls: share whose prompt had sources left out or shortened to fit.
    pub prompt_fitted_rate: Option<f64>,
    /// Structured-output form of each model call, counted.
    pub structured_output: BTreeMap<String, usize>,
    /// Retrieval + drafting per ticket, ms.
    pub latency: LatencyStats,
    pub total_prompt_tokens: u64,
    pub total_completion_tokens: u64,
    pub mean_prompt_tokens: Option<f64>,
    pub mean_completion_tokens: Option<f64>,
}

/// One side of a per-ticket card.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SideCard {
    pub kind: String,
    pub confidence: f32,
    pub draft_text: String,
    pub cosine: Option<f32>,
    pub rouge_l_f1: Option<f32>,
    pub hit_at_3: Option<bool>,
    pub language_match: Option<bool>,
    pub millis: f64,
    pub fallback: Option<String>,
    pub flags: Vec<String>,
}

/// A ticket where the two drafters differ most.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TicketComparison {
    pub ticket_id: i64,
    /// How different the two drafts' outcomes are (cosine, ROUGE-L, article hit, kind).
    pub difference: f64,
    pub customer_text: String,
    pub reference_reply: String,
    pub retrieval_only: SideCard,
    pub llm: SideCard,
}

/// `compare.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    pub bundle: String,
    pub selection: String,
    pub model: String,
    pub context_tokens: Option<u32>,
    pub confidence_threshold: f64,
    pub llm_concurrency: usize,
    pub retrieval_only: DrafterMetrics,
    pub llm: DrafterMetrics,
    pub cards: Vec<TicketComparison>,
}

pub struct ComparisonOutcome {
    pub comparison: Comparison,
    pub retrieval_only: SimulationSummary,
    pub llm: SimulationSummary,
    pub compare_json: PathBuf,
    pub compare_markdown: PathBuf,
    pub compare_html: PathBuf,
}

/// Replays the selection twice (retrieval-only, then the configured model) and writes both
/// reports and the comparison into `args.out`.
pub async fn run_comparison(
    config: Config,
    args: SimulateArgs,
    llm_concurrency: usize,
) -> Result<ComparisonOutcome, CommandError> {
    if config.llm.base_url.is_none() {
        return Err(CommandError::Config(
            "simulate --compare needs a language model: set llm.base_url (e.g. from scripts/local-llm.sh start)"
                .to_string(),
        ));
    }
    let prepared = prepare(&config, &args).await?;
    let plain = Arc::new(prepared.drafter(&config, false)?);
    let with_model = Arc::new(prepared.drafter(&config, true)?);
    let context_tokens = match &with_model.generation {
        Some(generation) => generation.chat.context_tokens().await,
        None => None,
    };
    tracing::info!("replaying with the retrieval-only drafter");
    let plain_run = replay_all(&prepared, &plain, default_concurrency()).await?;
    tracing::info!(llm_concurrency, "replaying with the language model");
    let model_run = replay_all(&prepared, &with_model, llm_concurrency).await?;
    let plain_summary = prepared.summarize(&config, &args, &plain_run, drafter_name(&plain));
    let model_summary = prepared.summarize(&config, &args, &model_run, drafter_name(&with_model));
    write_reports(
        &args.out.join("retrieval-only"),
        &plain_summary,
        &plain_run.results,
        args.card_seed,
    )?;
    write_reports(
        &args.out.join("llm"),
        &model_summary,
        &model_run.results,
        args.card_seed,
    )?;
    let threshold = f64::from(config.drafting.confidence_threshold);
    let comparison = Comparison {
        bundle: plain_summary.run.bundle.clone(),
        selection: plain_summary.run.selection.clone(),
        model: config.llm.model.clone(),
        context_tokens,
        confidence_threshold: round6(threshold),
        llm_concurrency,
        retrieval_only: drafter_metrics(&plain_summary, &plain_run.results, threshold),
        llm: drafter_metrics(&model_summary, &model_run.results, threshold),
        cards: differing_most(&plain_run.results, &model_run.results, COMPARISON_CARDS),
    };
    let paths =
        super::report::compare::write(&args.out, &comparison).map_err(|e| CommandError::Io {
            context: "writing the comparison".to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
    Ok(ComparisonOutcome {
        comparison,
        retrieval_only: plain_summary,
        llm: model_summary,
        compare_json: paths.0,
        compare_markdown: paths.1,
        compare_html: paths.2,
    })
}

fn share(count: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| round6(count as f64 / of as f64))
}

/// The first words of a fallback reason (the part before any detail), for grouping.
fn reason_group(reason: &str) -> String {
    let head = reason.split(':').next().unwrap_or(reason).trim();
    head.chars().take(80).collect()
}

pub fn drafter_metrics(
    summary: &SimulationSummary,
    results: &[TicketResult],
    threshold: f64,
) -> DrafterMetrics {
    let tickets = results.len();
    let with_draft = |t: &&TicketResult| t.kind != "abstained";
    let drafted: Vec<&TicketResult> = results.iter().filter(with_draft).collect();
    let abstained = results
        .iter()
        .filter(|t| t.kind == "abstained" || f64::from(t.confidence) < threshold)
        .count();
    let called: Vec<&TicketResult> = results
        .iter()
        .filter(|t| t.prompt_tokens.is_some() || t.llm_fallback.is_some())
        .collect();
    let checked: Vec<&TicketResult> = results
        .iter()
        .filter(|t| t.prompt_tokens.is_some() && t.llm_fallback.is_none())
        .collect();
    let count = |f: &dyn Fn(&TicketResult) -> bool| checked.iter().filter(|t| f(t)).count();
    let mut fallback_reasons = BTreeMap::new();
    for reason in results.iter().filter_map(|t| t.llm_fallback.as_deref()) {
        *fallback_reasons.entry(reason_group(reason)).or_insert(0) += 1;
    }
    let mut structured_output = BTreeMap::new();
    for form in results
        .iter()
        .filter_map(|t| t.structured_output.as_deref())
    {
        *structured_output.entry(form.to_string()).or_insert(0) += 1;
    }
    let fitted = results
        .iter()
        .filter_map(|t| t.prompt_fit.as_ref())
        .filter(|f| f.sources_left_out() > 0 || f.sources_shortened > 0)
        .count();
    let prompt_tokens: u64 = results.iter().filter_map(|t| t.prompt_tokens).sum();
    let completion_tokens: u64 = results.iter().filter_map(|t| t.completion_tokens).sum();
    let with_usage = results.iter().filter(|t| t.prompt_tokens.is_some()).count();
    let mean = |total: u64| (with_usage > 0).then(|| round6(total as f64 / with_usage as f64));
    DrafterMetrics {
        drafter: summary.run.drafter.clone(),
        tickets,
        generated: results.iter().filter(|t| t.kind == "generated").count(),
        fallback_rate: share(
            results.iter().filter(|t| t.llm_fallback.is_some()).count(),
            tickets,
        )
        .unwrap_or(0.0),
        fallback_reasons,
        abstention_rate: share(abstained, tickets).unwrap_or(0.0),
        article_agreement: summary.article_agreement.clone(),
        similarity: summary.similarity.clone(),
        mean_draft_chars: (!drafted.is_empty()).then(|| {
            round6(
                drafted
                    .iter()
                    .map(|t| t.draft_text.chars().count() as f64)
                    .sum::<f64>()
                    / drafted.len() as f64,
            )
        }),
        checked_answers: checked.len(),
        invented_id_rate: share(
            count(&|t| t.grounding.invented_ids_dropped > 0),
            checked.len(),
        ),
        invented_ids_dropped: checked
            .iter()
            .map(|t| t.grounding.invented_ids_dropped)
            .sum(),
        link_removed_rate: share(count(&|t| t.grounding.links_removed > 0), checked.len()),
        links_removed: checked.iter().map(|t| t.grounding.links_removed).sum(),
        unsupported_claim_rate: share(
            count(&|t| t.grounding.unsupported_claims > 0),
            checked.len(),
        ),
        confidence_clamped_rate: share(count(&|t| t.grounding.confidence_clamped), checked.len()),
        language_mismatch_rate: share(count(&|t| t.grounding.language_mismatch), checked.len()),
        prompt_fitted_rate: share(fitted, called.len()),
        structured_output,
        latency: metrics::latency_stats(
            &results
                .iter()
                .map(|t| t.retrieval_millis + t.generation_millis)
                .collect::<Vec<_>>(),
        ),
        total_prompt_tokens: prompt_tokens,
        total_completion_tokens: completion_tokens,
        mean_prompt_tokens: mean(prompt_tokens),
        mean_completion_tokens: mean(completion_tokens),
    }
}

fn side(t: &TicketResult) -> SideCard {
    SideCard {
        kind: t.kind.clone(),
        confidence: t.confidence,
        draft_text: t.draft_text.clone(),
        cosine: t.cosine,
        rouge_l_f1: t.rouge_l_f1,
        hit_at_3: t.hit_at_3,
        language_match: t.language_match,
        millis: t.retrieval_millis + t.generation_millis,
        fallback: t.llm_fallback.clone(),
        flags: t.flags.clone(),
    }
}

/// How differently two drafts of one ticket fared: cosine and ROUGE-L gaps, a reference article
/// found by one only, a different kind of draft.
pub fn difference(a: &TicketResult, b: &TicketResult) -> f64 {
    let gap =
        |x: Option<f32>, y: Option<f32>| f64::from((x.unwrap_or(0.0) - y.unwrap_or(0.0)).abs());
    gap(a.cosine, b.cosine)
        + gap(a.rouge_l_f1, b.rouge_l_f1)
        + if a.hit_at_3 != b.hit_at_3 { 1.0 } else { 0.0 }
        + if a.kind != b.kind { 0.25 } else { 0.0 }
}

/// The `limit` tickets whose two drafts differ most, most different first (ties by ticket id).
pub fn differing_most(
    plain: &[TicketResult],
    with_model: &[TicketResult],
    limit: usize,
) -> Vec<TicketComparison> {
    let mut pairs: Vec<TicketComparison> = plain
        .iter()
        .filter_map(|a| {
            let b = with_model.iter().find(|b| b.ticket_id == a.ticket_id)?;
            Some(TicketComparison {
                ticket_id: a.ticket_id,
                difference: round6(difference(a, b)),
                customer_text: a.customer_text.clone(),
                reference_reply: a.reference_reply.clone(),
                retrieval_only: side(a),
                llm: side(b),
            })
        })
        .collect();
    pairs.sort_by(|x, y| {
        y.difference
            .total_cmp(&x.difference)
            .then(x.ticket_id.cmp(&y.ticket_id))
    });
    pairs.truncate(limit);
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::model::Verdict;
    use crate::simulate::report::tests::ticket;

    #[test]
    fn grounding_rates_count_only_checked_model_answers() {
        let mut answered = ticket(1, Verdict::Good, Some(0.7));
        answered.grounding.invented_ids_dropped = 2;
        answered.grounding.confidence_clamped = true;
        let mut fell_back = ticket(2, Verdict::Good, Some(0.5));
        fell_back.llm_fallback = Some("the model's answer is not the JSON: eof".into());
        let mut retrieval_only = ticket(3, Verdict::Good, Some(0.5));
        retrieval_only.prompt_tokens = None;
        let results = vec![answered, fell_back, retrieval_only];
        let metrics = drafter_metrics(&SimulationSummary::default(), &results, 0.0);
        assert_eq!(metrics.checked_answers, 1);
        assert_eq!(metrics.invented_id_rate, Some(1.0));
        assert_eq!(metrics.invented_ids_dropped, 2);
        assert_eq!(metrics.confidence_clamped_rate, Some(1.0));
        assert_eq!(metrics.link_removed_rate, Some(0.0));
        assert!((metrics.fallback_rate - 1.0 / 3.0).abs() < 1e-5);
        assert_eq!(
            metrics
                .fallback_reasons
                .get("the model's answer is not the JSON"),
            Some(&1)
        );
        // Two tickets carry usage (100 prompt tokens each in the fixture).
        assert_eq!(metrics.total_prompt_tokens, 200);
    }

    #[test]
    fn cards_show_the_tickets_where_the_drafters_differ_most() {
        let plain: Vec<_> = (1..=4)
            .map(|id| ticket(id, Verdict::Good, Some(0.5)))
            .collect();
        let mut with_model = plain.clone();
        with_model[2].cosine = Some(0.1);
        with_model[2].rouge_l_f1 = Some(0.05);
        with_model[1].hit_at_3 = Some(false);
        let cards = differing_most(&plain, &with_model, 2);
        assert_eq!(
            cards.iter().map(|c| c.ticket_id).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(cards[0].difference > cards[1].difference);
        assert_eq!(cards[1].llm.cosine, Some(0.1));
    }
}
