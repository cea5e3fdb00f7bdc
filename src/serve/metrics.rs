//! Counters and the draft-latency histogram of `serve`, rendered in the Prometheus text format
//! together with values read at scrape time (queue depth, the Freshdesk client's call counts).
//! Hand-written because nearly every value is read at scrape time from elsewhere; the format is
//! a few lines of text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::helpdesk::freshdesk::CallMetrics;
use crate::queue::{LiveQuality, OutcomeCounts, QueueDepth};

/// Upper bounds (seconds) of the webhook-to-note latency histogram.
const LATENCY_BOUNDS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// How long the live-quality gauges are served from memory: they read every stored outcome,
/// which a scrape every few seconds should not repeat each time.
const LIVE_QUALITY_REFRESH: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct ServeMetrics {
    inner: Mutex<Inner>,
    /// The live-quality gauges as last rendered, and when.
    live_quality: Mutex<Option<(Instant, String)>>,
}

#[derive(Default)]
struct Inner {
    drafts_by_outcome: BTreeMap<String, u64>,
    /// (outcome, via) of drafts agents answered.
    outcomes: BTreeMap<(String, String), u64>,
    webhooks_by_result: BTreeMap<String, u64>,
    job_failures: u64,
    replies_sent: u64,
    latency_counts: [u64; LATENCY_BOUNDS.len()],
    latency_sum: f64,
    latency_count: u64,
    llm_prompt_tokens: u64,
    llm_completion_tokens: u64,
    /// Whether this process runs the reconciler (one replica of a shared queue does).
    reconciler_leader: bool,
}

impl ServeMetrics {
    /// The live-quality gauges, rendered by `render` (from the stored outcomes) at most once
    /// every [`LIVE_QUALITY_REFRESH`]; `None` when rendering fails and nothing recent is held.
    pub async fn live_quality_text<F, E>(&self, render: impl FnOnce() -> F) -> Option<String>
    where
        F: std::future::Future<Output = Result<String, E>>,
        E: std::fmt::Display,
    {
        let held = |m: &Self| {
            m.live_quality
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        if let Some((at, text)) = held(self)
            && at.elapsed() < LIVE_QUALITY_REFRESH
        {
            return Some(text);
        }
        match render().await {
            Ok(text) => {
                *self.live_quality.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((Instant::now(), text.clone()));
                Some(text)
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: live quality left out");
                None
            }
        }
    }

    fn with(&self, update: impl FnOnce(&mut Inner)) {
        update(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn webhook(&self, result: &str) {
        self.with(|m| *m.webhooks_by_result.entry(result.to_string()).or_default() += 1);
    }

    pub fn job_failed(&self) {
        self.with(|m| m.job_failures += 1);
    }

    /// What became of a draft once an agent answered its message.
    pub fn outcome(&self, outcome: &str, via: &str) {
        self.with(|m| {
            *m.outcomes
                .entry((outcome.to_string(), via.to_string()))
                .or_default() += 1
        });
    }

    /// An approved draft went out as a public reply.
    pub fn reply_sent(&self) {
        self.with(|m| m.replies_sent += 1);
    }

    /// A note was posted: its outcome and the time since the job was stored.
    pub fn drafted(&self, outcome: &str, seconds: f64, tokens: Option<(u32, u32)>) {
        self.with(|m| {
            *m.drafts_by_outcome.entry(outcome.to_string()).or_default() += 1;
            for (bound, count) in LATENCY_BOUNDS.iter().zip(m.latency_counts.iter_mut()) {
                if seconds <= *bound {
                    *count += 1;
                }
            }
            m.latency_sum += seconds;
            m.latency_count += 1;
            if let Some((prompt, completion)) = tokens {
                m.llm_prompt_tokens += u64::from(prompt);
                m.llm_completion_tokens += u64::from(completion);
            }
        });
    }

    /// This process won (or lost) the reconciler election.
    pub fn set_reconciler_leader(&self, leader: bool) {
        self.with(|m| m.reconciler_leader = leader);
    }

    /// `listening_for_jobs`: whether the queue's `LISTEN` connection is up (`None`: SQLite).
    pub fn render(
        &self,
        depth: &QueueDepth,
        freshdesk: Option<&CallMetrics>,
        listening_for_jobs: Option<bool>,
    ) -> String {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP deskdraft_drafts_total Notes posted, by draft outcome.\n# TYPE deskdraft_drafts_total counter"
        );
        for (outcome, count) in &m.drafts_by_outcome {
            let _ = writeln!(
                out,
                "deskdraft_drafts_total{{outcome=\"{outcome}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP deskdraft_draft_outcomes_total Drafts an agent answered, by what was sent (as_drafted, edited, rewritten, not_used) and how (deskdraft, app_insert, typed).\n# TYPE deskdraft_draft_outcomes_total counter"
        );
        for ((outcome, via), count) in &m.outcomes {
            let _ = writeln!(
                out,
                "deskdraft_draft_outcomes_total{{outcome=\"{outcome}\",via=\"{via}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP deskdraft_webhooks_total Webhook requests, by result.\n# TYPE deskdraft_webhooks_total counter"
        );
        for (result, count) in &m.webhooks_by_result {
            let _ = writeln!(
                out,
                "deskdraft_webhooks_total{{result=\"{result}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP deskdraft_job_failures_total Failed job attempts.\n# TYPE deskdraft_job_failures_total counter\ndeskdraft_job_failures_total {}",
            m.job_failures
        );
        let _ = writeln!(
            out,
            "# HELP deskdraft_replies_sent_total Approved drafts sent as public replies.
# TYPE deskdraft_replies_sent_total counter
deskdraft_replies_sent_total {}",
            m.replies_sent
        );
        let _ = writeln!(
            out,
            "# HELP deskdraft_draft_latency_seconds From the customer's message (or its stored job, if later) to the posted note.\n# TYPE deskdraft_draft_latency_seconds histogram"
        );
        for (bound, count) in LATENCY_BOUNDS.iter().zip(m.latency_counts.iter()) {
            let _ = writeln!(
                out,
                "deskdraft_draft_latency_seconds_bucket{{le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "deskdraft_draft_latency_seconds_bucket{{le=\"+Inf\"}} {}\ndeskdraft_draft_latency_seconds_sum {}\ndeskdraft_draft_latency_seconds_count {}",
            m.latency_count, m.latency_sum, m.latency_count
        );
        let _ = writeln!(
            out,
            "# HELP deskdraft_queue_jobs Jobs by state.\n# TYPE deskdraft_queue_jobs gauge"
        );
        for (state, count) in [
            ("queued", depth.queued),
            ("running", depth.running),
            ("done", depth.done),
            ("dead", depth.dead),
        ] {
            let _ = writeln!(out, "deskdraft_queue_jobs{{state=\"{state}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP deskdraft_llm_tokens_total Language-model tokens.\n# TYPE deskdraft_llm_tokens_total counter\n\
             deskdraft_llm_tokens_total{{kind=\"prompt\"}} {}\ndeskdraft_llm_tokens_total{{kind=\"completion\"}} {}",
            m.llm_prompt_tokens, m.llm_completion_tokens
        );
        let _ = writeln!(
            out,
            "# HELP deskdraft_reconciler_leader 1 when this process runs the reconciler (one replica per queue).\n# TYPE deskdraft_reconciler_leader gauge\ndeskdraft_reconciler_leader {}",
            u8::from(m.reconciler_leader)
        );
        if let Some(listening) = listening_for_jobs {
            let _ = writeln!(
                out,
                "# HELP deskdraft_queue_listening 1 while this replica listens for jobs other replicas queue (0: it sees them at its next poll).
# TYPE deskdraft_queue_listening gauge
deskdraft_queue_listening {}",
                u8::from(listening)
            );
        }
        if let Some(calls) = freshdesk {
            let _ = writeln!(
                out,
                "# HELP deskdraft_freshdesk_calls_total Freshdesk API calls by endpoint and status (0: no response).\n# TYPE deskdraft_freshdesk_calls_total counter"
            );
            for call in calls.snapshot() {
                let _ = writeln!(
                    out,
                    "deskdraft_freshdesk_calls_total{{endpoint=\"{}\",status=\"{}\"}} {}",
                    call.endpoint, call.status, call.count
                );
            }
        }
        out
    }
}

/// A label value in the exposition format: backslash, double quote and line feed escaped.
fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Live quality as gauges, read from the stored outcomes at scrape time (so every replica shows
/// the same figures and a restart loses none): answered drafts, the share sent nearly as
/// written and the mean edit distance, overall and per product, agent and confidence band, and
/// the threshold the live risk-coverage curve suggests.
pub fn render_live_quality(live: &LiveQuality) -> String {
    let mut out = String::new();
    let mut groups: Vec<(&str, Vec<(&str, &OutcomeCounts)>)> =
        vec![("overall", vec![("all", &live.overall)])];
    for (dimension, map) in [
        ("product", &live.per_product),
        ("agent", &live.per_agent),
        ("band", &live.per_band),
    ] {
        groups.push((
            dimension,
            map.iter()
                .map(|(key, counts)| (key.as_str(), counts))
                .collect(),
        ));
    }
    type Figure = fn(&OutcomeCounts) -> Option<f64>;
    let figures: [(&str, &str, Figure); 3] = [
        (
            "deskdraft_live_answered_drafts",
            "Drafts whose customer message an agent answered, by dimension (overall, product, agent, band).",
            |c| Some(c.answered as f64),
        ),
        (
            "deskdraft_live_nearly_as_written_ratio",
            "Share of answered drafts sent nearly as written (at most 20% of the text changed).",
            |c| c.nearly_as_written_rate,
        ),
        (
            "deskdraft_live_mean_edit_distance",
            "Mean share of a draft's text changed before sending (0 as drafted, 1 unrelated).",
            |c| c.mean_edit_distance,
        ),
    ];
    for (name, help, figure) in figures {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (dimension, entries) in &groups {
            for (key, counts) in entries {
                if let Some(value) = figure(counts) {
                    let _ = writeln!(
                        out,
                        "{name}{{dimension=\"{dimension}\",key=\"{}\"}} {value}",
                        label_value(key)
                    );
                }
            }
        }
    }
    if let Some(threshold) = live.suggested_threshold {
        let _ = writeln!(
            out,
            "# HELP deskdraft_live_suggested_threshold The lowest confidence threshold whose live precision reaches the target.\n# TYPE deskdraft_live_suggested_threshold gauge\ndeskdraft_live_suggested_threshold {threshold}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{DraftOutcome, Outcome, ReplyOrigin, live_quality};
    use chrono::TimeZone;

    fn outcome(product: &str, agent: i64, confidence: f32, distance: f64) -> DraftOutcome {
        DraftOutcome {
            draft_id: format!("{product}-{agent}-{confidence}"),
            ticket_id: 1,
            reply_id: 2,
            outcome: Outcome::of_distance(distance),
            edit_distance: distance,
            links_cited: 0,
            links_kept: 0,
            agent_id: Some(agent),
            via: ReplyOrigin::Typed,
            seconds_to_reply: 60.0,
            product: Some(product.into()),
            confidence,
            replied_at: chrono::Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn live_quality_is_exported_per_product_agent_and_band() {
        let outcomes = [
            outcome("Billing", 7, 0.9, 0.0),
            outcome("Billing", 7, 0.85, 0.1),
            outcome("Shipping \"EU\"", 8, 0.2, 0.9),
        ];
        let text = render_live_quality(&live_quality(&outcomes, 0.9));
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        assert_eq!(
            line("deskdraft_live_answered_drafts{dimension=\"overall\",key=\"all\"}"),
            3.0
        );
        assert_eq!(
            line("deskdraft_live_answered_drafts{dimension=\"product\",key=\"Billing\"}"),
            2.0
        );
        assert_eq!(
            line("deskdraft_live_nearly_as_written_ratio{dimension=\"agent\",key=\"8\"}"),
            0.0
        );
        assert_eq!(
            line("deskdraft_live_nearly_as_written_ratio{dimension=\"band\",key=\"high\"}"),
            1.0
        );
        let billing_distance =
            line("deskdraft_live_mean_edit_distance{dimension=\"product\",key=\"Billing\"}");
        assert!((billing_distance - 0.05).abs() < 1e-9, "{billing_distance}");
        // A quote in a product name cannot break the line.
        assert!(text.contains("key=\"Shipping \\\"EU\\\"\"}"), "{text}");
        // At 0.3 the two drafts left were both sent nearly as written.
        assert_eq!(line("deskdraft_live_suggested_threshold"), 0.3);
        assert!(!render_live_quality(&live_quality(&[], 0.9)).contains("suggested_threshold "));
    }

    #[tokio::test]
    async fn live_quality_is_read_once_a_minute_and_a_failed_read_leaves_it_out() {
        let metrics = ServeMetrics::default();
        let failed = metrics
            .live_quality_text(|| async { Err::<String, _>("queue unavailable") })
            .await;
        assert_eq!(failed, None);
        let reads = std::sync::atomic::AtomicUsize::new(0);
        for _ in 0..5 {
            let text = metrics
                .live_quality_text(|| async {
                    reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok::<_, String>("deskdraft_live_answered_drafts 3\n".to_string())
                })
                .await;
            assert_eq!(text.as_deref(), Some("deskdraft_live_answered_drafts 3\n"));
        }
        assert_eq!(reads.into_inner(), 1, "four scrapes served from memory");
    }
}
