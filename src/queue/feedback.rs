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

/// The most characters of each text compared: edit distance is quadratic, and a reply longer
/// than this is a rewrite whatever its distance.
const EDIT_DISTANCE_MAX_CHARS: usize = 8_000;

/// Normalised Levenshtein distance over characters (0 = the same text, 1 = nothing in common).
pub fn edit_distance(a: &str, b: &str) -> f64 {
    let cut =
        |text: &str| -> String { text.trim().chars().take(EDIT_DISTANCE_MAX_CHARS).collect() };
    1.0 - strsim::normalized_levenshtein(&cut(a), &cut(b))
}

impl JobQueue {
    /// Aggregated in SQL from the distance stored with each approval: the review page asks on
    /// every load, and it must not recompute (or even load) every approved draft's text.
    pub async fn feedback(&self) -> Result<FeedbackStats, QueueError> {
        let rows: Vec<(String, Option<String>, u64, f64, u64)> = self
            .with(|db| {
                db.query(
                    "SELECT status, product, COUNT(*), COALESCE(SUM(edit_distance), 0),
                            SUM(CASE WHEN edit_distance < 1e-9 THEN 1 ELSE 0 END)
                     FROM drafts GROUP BY status, product",
                    &[],
                )?
                .iter()
                .map(|row| {
                    Ok((
                        row.text(0)?,
                        row.opt_text(1)?,
                        row.i64(2)? as u64,
                        row.f64(3)?,
                        row.opt_i64(4)?.unwrap_or(0) as u64,
                    ))
                })
                .collect()
            })
            .await?;
        let mut stats = FeedbackStats::default();
        let mut distance_sum = 0.0;
        // product -> (approved, rejected, summed distance)
        let mut per_product: BTreeMap<String, (u64, u64, f64)> = BTreeMap::new();
        for (status, product, count, distances, unedited) in rows {
            stats.drafts += count;
            let entry = per_product
                .entry(product.unwrap_or_else(|| "(none)".into()))
                .or_default();
            match DraftStatus::parse(&status) {
                DraftStatus::Pending | DraftStatus::Sending => stats.pending += count,
                DraftStatus::Abstained => stats.abstained += count,
                DraftStatus::Superseded => stats.superseded += count,
                DraftStatus::Rejected => {
                    stats.rejected += count;
                    entry.1 += count;
                }
                DraftStatus::Approved => {
                    stats.approved += count;
                    stats.approved_unedited += unedited;
                    distance_sum += distances;
                    entry.0 += count;
                    entry.2 += distances;
                }
            }
        }
        let rate = |approved: u64, rejected: u64| {
            (approved + rejected > 0).then(|| approved as f64 / (approved + rejected) as f64)
        };
        let mean = |sum: f64, count: u64| (count > 0).then(|| sum / count as f64);
        stats.acceptance_rate = rate(stats.approved, stats.rejected);
        stats.mean_edit_distance = mean(distance_sum, stats.approved);
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
                        mean_edit_distance: mean(distances, approved),
                    },
                )
            })
            .collect();
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::testing::{TestQueue, on_both_backends};
    use crate::queue::{ApprovalIntent, NewDraft};

    fn draft(ticket_id: i64, product: &str) -> NewDraft {
        NewDraft {
            id: format!("d{ticket_id}"),
            ticket_id,
            message_id: 0,
            revision: 0,
            status: DraftStatus::Pending,
            kind: "retrieval_only".into(),
            product: Some(product.into()),
            confidence: 0.8,
            draft_text: "Please reset the kettle.".into(),
            note_html: String::new(),
            draft: serde_json::Value::Null,
            ticket: None,
        }
    }

    async fn acceptance_and_edits_are_aggregated_from_stored_distances(test: TestQueue) {
        let queue = test.queue.clone();
        for (ticket, product) in [(1, "7"), (2, "7"), (3, "8")] {
            queue.insert_draft(draft(ticket, product)).await.unwrap();
        }
        let approve = |id: &'static str, text: &'static str| {
            let queue = queue.clone();
            async move {
                let intent = ApprovalIntent {
                    text: text.into(),
                    by: "Ana".into(),
                    ..ApprovalIntent::default()
                };
                queue.begin_approval(id, intent).await.unwrap();
                queue.record_reply(id, 1).await.unwrap();
            }
        };
        approve("d1", "Please reset the kettle.").await;
        approve("d2", "Please reset the kettle and the app.").await;
        queue.reject("d3", "wrong product", "Ben").await.unwrap();
        let stats = queue.feedback().await.unwrap();
        assert_eq!((stats.drafts, stats.approved, stats.rejected), (3, 2, 1));
        assert_eq!(stats.approved_unedited, 1);
        assert!((stats.acceptance_rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        let edited = edit_distance(
            "Please reset the kettle.",
            "Please reset the kettle and the app.",
        );
        assert!((stats.mean_edit_distance.unwrap() - edited / 2.0).abs() < 1e-9);
        assert_eq!(stats.per_product["7"].approved, 2);
        assert_eq!(stats.per_product["8"].acceptance_rate, Some(0.0));
    }
    on_both_backends!(acceptance_and_edits_are_aggregated_from_stored_distances, 3);
}
