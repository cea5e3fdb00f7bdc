//! Feedback from decisions: acceptance (approved against rejected) and how much agents edited
//! drafts before sending, overall and per product.

use std::collections::BTreeMap;

use serde::Serialize;

use super::drafts::DraftStatus;
use super::{JobQueue, QueueError};

/// Acceptance and edit feedback over decided drafts.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FeedbackStats {
    pub drafts: u64,
    pub pending: u64,
    pub abstained: u64,
    /// The customer wrote again before anyone decided; a newer draft took over.
    pub superseded: u64,
    pub approved: u64,
    pub approved_unedited: u64,
    pub rejected: u64,
    /// approved / (approved + rejected).
    pub acceptance_rate: Option<f64>,
    /// Mean normalised character edit distance between draft and sent text (0 = sent as is).
    pub mean_edit_distance: Option<f64>,
    pub per_product: BTreeMap<String, ProductFeedback>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ProductFeedback {
    pub approved: u64,
    pub rejected: u64,
    pub acceptance_rate: Option<f64>,
    pub mean_edit_distance: Option<f64>,
}

/// Normalised Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> f64 {
    1.0 - strsim::normalized_levenshtein(a.trim(), b.trim())
}

impl JobQueue {
    pub async fn feedback(&self) -> Result<FeedbackStats, QueueError> {
        let drafts = self.drafts(None).await?;
        let mut stats = FeedbackStats::default();
        let mut distances: Vec<f64> = Vec::new();
        let mut per_product: BTreeMap<String, (u64, u64, Vec<f64>)> = BTreeMap::new();
        for draft in &drafts {
            stats.drafts += 1;
            let product = draft.product.clone().unwrap_or_else(|| "(none)".into());
            let entry = per_product.entry(product).or_default();
            match draft.status {
                DraftStatus::Pending | DraftStatus::Sending => stats.pending += 1,
                DraftStatus::Abstained => stats.abstained += 1,
                DraftStatus::Superseded => stats.superseded += 1,
                DraftStatus::Rejected => {
                    stats.rejected += 1;
                    entry.1 += 1;
                }
                DraftStatus::Approved => {
                    stats.approved += 1;
                    entry.0 += 1;
                    let distance = edit_distance(
                        &draft.draft_text,
                        draft.sent_text.as_deref().unwrap_or(&draft.draft_text),
                    );
                    if distance < 1e-9 {
                        stats.approved_unedited += 1;
                    }
                    distances.push(distance);
                    entry.2.push(distance);
                }
            }
        }
        let rate = |approved: u64, rejected: u64| {
            (approved + rejected > 0).then(|| approved as f64 / (approved + rejected) as f64)
        };
        let mean = |values: &[f64]| {
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        stats.acceptance_rate = rate(stats.approved, stats.rejected);
        stats.mean_edit_distance = mean(&distances);
        stats.per_product = per_product
            .into_iter()
            .filter(|(_, (a, r, _))| a + r > 0)
            .map(|(product, (approved, rejected, distances))| {
                (
                    product,
                    ProductFeedback {
                        approved,
                        rejected,
                        acceptance_rate: rate(approved, rejected),
                        mean_edit_distance: mean(&distances),
                    },
                )
            })
            .collect();
        Ok(stats)
    }
}
