//! The simulation's results as data: one [`TicketResult`] per replayed ticket and the aggregated
//! [`SimulationSummary`]. Reports (JSON, CSV, HTML) are renderings of these types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A source the draft used, as shown on a report card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportSource {
    pub key: String,
    pub title: String,
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Age at the replayed ticket's creation; `None` for undated documents.
    pub age_days: Option<i64>,
    pub similarity: f32,
}

/// Whether a draft would have helped, as judged against what the agent really did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Article agreement: a reference article is among the top 3 cited; otherwise the draft's
    /// embedding cosine to the real reply is at least [`GOOD_SIMILARITY`].
    Good,
    Poor,
    /// No draft (abstained), so nothing to judge.
    NoDraft,
}

/// Cosine between draft and real reply above which a draft counts as good when the ticket has no
/// reference article.
pub const GOOD_SIMILARITY: f32 = 0.6;

/// Everything measured for one replayed ticket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketResult {
    pub ticket_id: i64,
    pub product: Option<String>,
    pub product_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Draft kind: `retrieval_only`, `abstained`, ...
    pub kind: String,
    pub confidence: f32,
    pub customer_language: Option<String>,
    pub draft_language: Option<String>,
    /// `None` when either language is unknown or there is no draft.
    pub language_match: Option<bool>,
    /// Known articles linked in the agent's public replies.
    pub reference_article_ids: Vec<i64>,
    /// Articles the draft cites, best first.
    pub cited_article_ids: Vec<i64>,
    /// 1-based rank of the first cited reference article; `None` when not cited (or no reference).
    pub first_correct_rank: Option<usize>,
    /// `None` when the reference links no known article.
    pub hit_at_1: Option<bool>,
    pub hit_at_3: Option<bool>,
    pub hit_at_5: Option<bool>,
    /// Embedding cosine of draft vs first real reply; `None` without a draft.
    pub cosine: Option<f32>,
    pub rouge_l_f1: Option<f32>,
    /// Draft length / reference length in characters.
    pub length_ratio: Option<f32>,
    pub retrieval_millis: f64,
    pub generation_millis: f64,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub verdict: Verdict,
    /// What the agent saw (customer messages before the first reply).
    pub customer_text: String,
    /// The first public agent reply.
    pub reference_reply: String,
    /// The draft text, or the abstention message.
    pub draft_text: String,
    pub flags: Vec<String>,
    pub sources: Vec<ReportSource>,
    /// Details of a retrieved past case's answer (order numbers, amounts, names...) that the
    /// draft carries although this ticket lacks them (0 is the goal).
    #[serde(default)]
    pub foreign_specifics: usize,
    /// Details the drafter replaced by placeholders.
    #[serde(default)]
    pub scrubbed_specifics: usize,
    /// Why the model's draft was replaced by the retrieval-only one (LLM runs).
    #[serde(default)]
    pub llm_fallback: Option<String>,
    /// What the grounding checks changed in a written draft.
    #[serde(default)]
    pub grounding: crate::draft::GroundingChecks,
    /// How the answer's JSON shape was requested (`json_schema`, `json_object_schema`, ...).
    #[serde(default)]
    pub structured_output: Option<String>,
    /// How the prompt was fitted to the model's context (LLM runs).
    #[serde(default)]
    pub prompt_fit: Option<crate::draft::fit::PromptFit>,
}

/// Another customer's specifics in drafts, over the drafted tickets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SpecificsSummary {
    /// Tickets with a draft text (the denominator).
    pub drafts: usize,
    /// Drafts containing a detail from a retrieved past case's answer that the ticket lacks.
    pub drafts_with_foreign_specifics: usize,
    pub foreign_specifics_share: f64,
    /// Drafts in which the scrubbing replaced at least one detail by a placeholder.
    pub drafts_changed_by_scrubbing: usize,
    pub changed_share: f64,
    /// Details replaced over all drafts.
    pub details_replaced: usize,
}

/// A replay problem that is reported, never silently dropped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ReplayIssues {
    /// Requested ids that are not in the bundle.
    pub ids_not_found: Vec<i64>,
    /// Selected tickets with no public agent reply (nothing to compare against).
    pub no_agent_reply: Vec<i64>,
    /// Selected tickets that are not resolved/closed.
    pub not_resolved: Vec<i64>,
    /// True when the selection matched no ticket at all.
    pub empty_selection: bool,
}

/// Article agreement over tickets whose reference links a known article.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ArticleAgreement {
    /// Tickets with at least one known reference article (the denominator).
    pub eligible_tickets: usize,
    pub hit_at_1: f64,
    pub hit_at_3: f64,
    pub hit_at_5: f64,
    /// Mean reciprocal rank of the first correct article (0 when not cited).
    pub mrr: f64,
}

/// Quality of drafts against the real first reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ReplySimilarity {
    /// Tickets with both a draft and a reference reply.
    pub compared_tickets: usize,
    pub mean_cosine: f64,
    pub mean_rouge_l_f1: f64,
    pub language_match_rate: Option<f64>,
    pub median_length_ratio: Option<f64>,
}

/// One point of the risk-coverage curve: what happens if drafts below `threshold` are withheld.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CoveragePoint {
    pub threshold: f64,
    /// Share of replayed tickets that get a draft.
    pub coverage: f64,
    pub drafted_tickets: usize,
    /// Share of drafted tickets judged [`Verdict::Good`].
    pub precision: Option<f64>,
    pub article_hit_at_1: Option<f64>,
    pub article_hit_at_5: Option<f64>,
    pub mean_cosine: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SuggestedThreshold {
    pub target_precision: f64,
    /// Lowest threshold whose precision reaches the target (most coverage); `None` if none does.
    pub threshold: Option<f64>,
    pub coverage: Option<f64>,
    pub precision: Option<f64>,
}

/// p50/p95/p99 and a histogram, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct LatencyStats {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    /// Upper bounds of the histogram buckets (ms) and their counts.
    pub histogram_bounds: Vec<f64>,
    pub histogram_counts: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProductBreakdown {
    pub product: String,
    pub product_name: Option<String>,
    pub tickets: usize,
    pub article_agreement: ArticleAgreement,
    pub similarity: ReplySimilarity,
    /// Share of tickets drafted at the configured confidence threshold.
    pub coverage: f64,
}

/// Wall-clock facts: the only part of the summary that differs between identical runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Timings {
    pub started_at: Option<DateTime<Utc>>,
    pub wall_seconds: f64,
    pub ingest_seconds: f64,
    pub replay_seconds: f64,
    pub tickets_per_second: f64,
    pub retrieval_latency: LatencyStats,
    pub generation_latency: LatencyStats,
    pub total_latency: LatencyStats,
}

/// Everything needed to reproduce a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RunDescription {
    pub deskdraft_version: String,
    pub bundle: String,
    pub bundle_name: Option<String>,
    /// SHA-256 of each bundle file.
    pub input_checksums: BTreeMap<String, String>,
    /// Human-readable selection, e.g. "most recent 200 resolved tickets".
    pub selection: String,
    pub seed: Option<u64>,
    pub embedding_model: String,
    pub drafter: String,
    pub store: String,
    /// The effective configuration (TOML-compatible JSON).
    pub configuration: serde_json::Value,
    /// Notes on method, e.g. what "leak-free" covers.
    pub notes: Vec<String>,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SimulationSummary {
    pub run: RunDescription,
    pub replayed_tickets: usize,
    pub drafted_tickets: usize,
    pub abstained_tickets: usize,
    pub confidence_threshold: f64,
    pub issues: ReplayIssues,
    pub article_agreement: ArticleAgreement,
    pub similarity: ReplySimilarity,
    pub risk_coverage: Vec<CoveragePoint>,
    pub suggested_threshold: SuggestedThreshold,
    pub per_product: Vec<ProductBreakdown>,
    /// Another customer's specifics: what reached drafts and what the scrubbing replaced.
    #[serde(default)]
    pub specifics: SpecificsSummary,
    /// Topics of the tickets without a good draft: what to write next.
    #[serde(default)]
    pub knowledge_gaps: super::gaps::KnowledgeGaps,
    pub total_prompt_tokens: Option<u64>,
    pub total_completion_tokens: Option<u64>,
    pub timings: Timings,
}
