//! Live quality: what agents really did with drafts, aggregated per product, per agent, per
//! confidence band and per day, and the live risk-coverage curve (at each confidence threshold,
//! how many answered drafts clear it and how often those were sent nearly as written) with the
//! threshold it suggests. The simulation measures the same on history; these measure it live.

use std::collections::BTreeMap;

use serde::Serialize;

use super::outcomes::{DraftOutcome, Outcome};
use crate::draft::confidence::{NEARLY_AS_WRITTEN, band_of};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OutcomeCounts {
    pub answered: u64,
    pub as_drafted: u64,
    pub edited: u64,
    pub rewritten: u64,
    pub not_used: u64,
    /// Share sent nearly as written (at most 20% of the text changed).
    pub nearly_as_written_rate: Option<f64>,
    pub mean_edit_distance: Option<f64>,
    #[serde(skip)]
    distance_sum: f64,
    #[serde(skip)]
    nearly: u64,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: &DraftOutcome) {
        self.answered += 1;
        match outcome.outcome {
            Outcome::AsDrafted => self.as_drafted += 1,
            Outcome::Edited => self.edited += 1,
            Outcome::Rewritten => self.rewritten += 1,
            Outcome::NotUsed => self.not_used += 1,
        }
        self.distance_sum += outcome.edit_distance;
        if outcome.edit_distance <= NEARLY_AS_WRITTEN {
            self.nearly += 1;
        }
        self.nearly_as_written_rate = Some(self.nearly as f64 / self.answered as f64);
        self.mean_edit_distance = Some(self.distance_sum / self.answered as f64);
    }
}

/// One point of the live risk-coverage curve.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveCoveragePoint {
    pub threshold: f32,
    /// Share of answered drafts at or above the threshold.
    pub coverage: f64,
    /// Of those, the share sent nearly as written (`None` when there are none).
    pub precision: Option<f64>,
    pub drafts: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LiveQuality {
    pub overall: OutcomeCounts,
    pub by_origin: BTreeMap<String, OutcomeCounts>,
    pub per_product: BTreeMap<String, OutcomeCounts>,
    pub per_agent: BTreeMap<String, OutcomeCounts>,
    pub per_band: BTreeMap<String, OutcomeCounts>,
    /// By day of the reply (UTC), oldest first.
    pub daily: BTreeMap<String, OutcomeCounts>,
    /// Share of cited links agents kept in what they sent.
    pub links_kept_rate: Option<f64>,
    /// Median minutes from draft to the agent's reply.
    pub median_minutes_to_reply: Option<f64>,
    pub risk_coverage: Vec<LiveCoveragePoint>,
    /// The lowest threshold whose precision reaches `target_precision`.
    pub suggested_threshold: Option<f32>,
    pub target_precision: f64,
}

/// Aggregates outcomes (oldest first).
pub fn live_quality(outcomes: &[DraftOutcome], target_precision: f64) -> LiveQuality {
    let mut live = LiveQuality {
        target_precision,
        ..LiveQuality::default()
    };
    let (mut cited, mut kept) = (0u64, 0u64);
    let mut minutes: Vec<f64> = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        live.overall.add(outcome);
        live.by_origin
            .entry(outcome.via.as_str().to_string())
            .or_default()
            .add(outcome);
        live.per_product
            .entry(outcome.product.clone().unwrap_or_else(|| "(none)".into()))
            .or_default()
            .add(outcome);
        live.per_agent
            .entry(
                outcome
                    .agent_id
                    .map_or_else(|| "(unknown)".to_string(), |id| id.to_string()),
            )
            .or_default()
            .add(outcome);
        live.per_band
            .entry(band_of(outcome.confidence).label.to_string())
            .or_default()
            .add(outcome);
        live.daily
            .entry(outcome.replied_at.format("%Y-%m-%d").to_string())
            .or_default()
            .add(outcome);
        cited += u64::from(outcome.links_cited);
        kept += u64::from(outcome.links_kept);
        minutes.push(outcome.seconds_to_reply / 60.0);
    }
    live.links_kept_rate = (cited > 0).then(|| kept as f64 / cited as f64);
    minutes.sort_by(|a, b| a.total_cmp(b));
    live.median_minutes_to_reply = (!minutes.is_empty()).then(|| minutes[minutes.len() / 2]);
    let total = outcomes.len() as f64;
    for step in 0..=10 {
        let threshold = step as f32 / 10.0;
        let above: Vec<&DraftOutcome> = outcomes
            .iter()
            .filter(|o| o.confidence >= threshold)
            .collect();
        let nearly = above
            .iter()
            .filter(|o| o.edit_distance <= NEARLY_AS_WRITTEN)
            .count();
        let precision = (!above.is_empty()).then(|| nearly as f64 / above.len() as f64);
        live.risk_coverage.push(LiveCoveragePoint {
            threshold,
            coverage: if total > 0.0 {
                above.len() as f64 / total
            } else {
                0.0
            },
            precision,
            drafts: above.len() as u64,
        });
    }
    live.suggested_threshold = live
        .risk_coverage
        .iter()
        .find(|p| {
            p.precision
                .is_some_and(|precision| precision >= target_precision)
        })
        .map(|p| p.threshold);
    live
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::ReplyOrigin;
    use chrono::TimeZone;

    fn outcome(confidence: f32, distance: f64, agent: i64, day: u32) -> DraftOutcome {
        DraftOutcome {
            draft_id: format!("d{confidence}-{distance}-{agent}"),
            ticket_id: 1,
            reply_id: 2,
            outcome: Outcome::of_distance(distance),
            edit_distance: distance,
            links_cited: 2,
            links_kept: 1,
            agent_id: Some(agent),
            via: ReplyOrigin::Typed,
            seconds_to_reply: 600.0,
            product: Some("7".into()),
            confidence,
            replied_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, day, 9, 0, 0)
                .unwrap(),
        }
    }

    #[test]
    fn the_live_curve_and_its_threshold_follow_what_agents_sent() {
        let outcomes = vec![
            outcome(0.9, 0.0, 1, 1),
            outcome(0.8, 0.1, 1, 1),
            outcome(0.6, 0.5, 2, 2),
            outcome(0.3, 0.95, 2, 2),
        ];
        let live = live_quality(&outcomes, 0.9);
        assert_eq!(live.overall.answered, 4);
        assert_eq!((live.overall.as_drafted, live.overall.edited), (1, 1));
        assert_eq!((live.overall.rewritten, live.overall.not_used), (1, 1));
        assert_eq!(live.overall.nearly_as_written_rate, Some(0.5));
        assert_eq!(live.per_agent["1"].answered, 2);
        assert_eq!(live.per_band["high"].answered, 2);
        assert_eq!(live.per_band["high"].nearly_as_written_rate, Some(1.0));
        assert_eq!(live.daily.len(), 2);
        assert_eq!(live.links_kept_rate, Some(0.5));
        let at = |t: f32| {
            live.risk_coverage
                .iter()
                .find(|p| (p.threshold - t).abs() < 1e-6)
                .unwrap()
                .clone()
        };
        assert_eq!(at(0.0).coverage, 1.0);
        assert_eq!(at(0.0).precision, Some(0.5));
        assert_eq!(at(0.7).coverage, 0.5);
        assert_eq!(at(0.7).precision, Some(1.0));
        assert_eq!(live.suggested_threshold, Some(0.7));
        assert!(live_quality(&[], 0.9).suggested_threshold.is_none());
    }
}
