//! Metric definitions: article hits, ROUGE-L, verdicts, the risk-coverage curve, the suggested
//! threshold, latency percentiles and per-product breakdowns. Pure functions over
//! [`TicketResult`]s so they can be tested on hand-made inputs with known answers.

use std::collections::BTreeMap;

use super::model::{
    ArticleAgreement, CoveragePoint, GOOD_SIMILARITY, LatencyStats, ProductBreakdown,
    ReplySimilarity, SpecificsSummary, SuggestedThreshold, TicketResult, Verdict,
};

/// 1-based rank of the first cited article that is in the reference set.
pub fn first_correct_rank(cited: &[i64], reference: &[i64]) -> Option<usize> {
    cited
        .iter()
        .position(|id| reference.contains(id))
        .map(|index| index + 1)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// ROUGE-L F1 over lower-cased word tokens (longest common subsequence).
pub fn rouge_l_f1(candidate: &str, reference: &str) -> f32 {
    let a = words(candidate);
    let b = words(reference);
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    // One row of the LCS table at a time: O(len(b)) memory.
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for word_a in &a {
        for (j, word_b) in b.iter().enumerate() {
            current[j + 1] = if word_a == word_b {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let lcs = previous[b.len()] as f32;
    if lcs == 0.0 {
        return 0.0;
    }
    let precision = lcs / a.len() as f32;
    let recall = lcs / b.len() as f32;
    2.0 * precision * recall / (precision + recall)
}

/// Good when a reference article is among the top 3 cited; without a reference article, good
/// when the draft is semantically close to the real reply.
pub fn verdict(
    has_draft: bool,
    reference_articles: &[i64],
    first_rank: Option<usize>,
    cosine: Option<f32>,
) -> Verdict {
    if !has_draft {
        return Verdict::NoDraft;
    }
    let good = if reference_articles.is_empty() {
        cosine.is_some_and(|c| c >= GOOD_SIMILARITY)
    } else {
        first_rank.is_some_and(|rank| rank <= 3)
    };
    if good { Verdict::Good } else { Verdict::Poor }
}

/// Shares of drafts with another customer's specifics and of drafts changed by the scrubbing.
pub fn specifics_summary(results: &[TicketResult]) -> SpecificsSummary {
    let drafted: Vec<&TicketResult> = results
        .iter()
        .filter(|t| t.verdict != Verdict::NoDraft)
        .collect();
    let share = |count: usize| {
        if drafted.is_empty() {
            0.0
        } else {
            round6(count as f64 / drafted.len() as f64)
        }
    };
    let with_foreign = drafted.iter().filter(|t| t.foreign_specifics > 0).count();
    let changed = drafted.iter().filter(|t| t.scrubbed_specifics > 0).count();
    SpecificsSummary {
        drafts: drafted.len(),
        drafts_with_foreign_specifics: with_foreign,
        foreign_specifics_share: share(with_foreign),
        drafts_changed_by_scrubbing: changed,
        changed_share: share(changed),
        details_replaced: drafted.iter().map(|t| t.scrubbed_specifics).sum(),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (count > 0).then(|| sum / count as f64)
}

/// Rounded so that floating-point noise does not make identical runs differ.
pub fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

pub fn article_agreement<'a>(tickets: impl Iterator<Item = &'a TicketResult>) -> ArticleAgreement {
    let eligible: Vec<&TicketResult> = tickets.filter(|t| t.hit_at_1.is_some()).collect();
    let rate = |hit: fn(&TicketResult) -> Option<bool>| {
        round6(
            mean(
                eligible
                    .iter()
                    .map(|t| if hit(t) == Some(true) { 1.0 } else { 0.0 }),
            )
            .unwrap_or(0.0),
        )
    };
    ArticleAgreement {
        eligible_tickets: eligible.len(),
        hit_at_1: rate(|t| t.hit_at_1),
        hit_at_3: rate(|t| t.hit_at_3),
        hit_at_5: rate(|t| t.hit_at_5),
        mrr: round6(
            mean(
                eligible
                    .iter()
                    .map(|t| t.first_correct_rank.map(|r| 1.0 / r as f64).unwrap_or(0.0)),
            )
            .unwrap_or(0.0),
        ),
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

pub fn reply_similarity<'a>(tickets: impl Iterator<Item = &'a TicketResult>) -> ReplySimilarity {
    let compared: Vec<&TicketResult> = tickets.filter(|t| t.cosine.is_some()).collect();
    let languages: Vec<bool> = compared.iter().filter_map(|t| t.language_match).collect();
    ReplySimilarity {
        compared_tickets: compared.len(),
        mean_cosine: round6(
            mean(compared.iter().filter_map(|t| t.cosine.map(f64::from))).unwrap_or(0.0),
        ),
        mean_rouge_l_f1: round6(
            mean(compared.iter().filter_map(|t| t.rouge_l_f1.map(f64::from))).unwrap_or(0.0),
        ),
        language_match_rate: mean(languages.iter().map(|m| if *m { 1.0 } else { 0.0 })).map(round6),
        median_length_ratio: median(
            compared
                .iter()
                .filter_map(|t| t.length_ratio.map(f64::from))
                .collect(),
        )
        .map(round6),
    }
}

/// Thresholds 0.00, 0.05, ..., 1.00.
pub fn thresholds() -> Vec<f64> {
    (0..=20).map(|step| step as f64 / 20.0).collect()
}

fn is_drafted(ticket: &TicketResult, threshold: f64) -> bool {
    ticket.verdict != Verdict::NoDraft && f64::from(ticket.confidence) >= threshold - 1e-9
}

pub fn risk_coverage(tickets: &[TicketResult]) -> Vec<CoveragePoint> {
    thresholds()
        .into_iter()
        .map(|threshold| {
            let drafted: Vec<&TicketResult> = tickets
                .iter()
                .filter(|t| is_drafted(t, threshold))
                .collect();
            let agreement = article_agreement(drafted.iter().copied());
            let has_eligible = agreement.eligible_tickets > 0;
            CoveragePoint {
                threshold,
                coverage: if tickets.is_empty() {
                    0.0
                } else {
                    round6(drafted.len() as f64 / tickets.len() as f64)
                },
                drafted_tickets: drafted.len(),
                precision: mean(
                    drafted
                        .iter()
                        .map(|t| if t.verdict == Verdict::Good { 1.0 } else { 0.0 }),
                )
                .map(round6),
                article_hit_at_1: has_eligible.then_some(agreement.hit_at_1),
                article_hit_at_5: has_eligible.then_some(agreement.hit_at_5),
                mean_cosine: mean(drafted.iter().filter_map(|t| t.cosine.map(f64::from)))
                    .map(round6),
            }
        })
        .collect()
}

/// The lowest threshold whose precision reaches the target: the most coverage at that quality.
pub fn suggest_threshold(curve: &[CoveragePoint], target_precision: f64) -> SuggestedThreshold {
    let found = curve
        .iter()
        .filter(|point| point.drafted_tickets > 0)
        .find(|point| {
            point
                .precision
                .is_some_and(|p| p >= target_precision - 1e-9)
        });
    SuggestedThreshold {
        target_precision,
        threshold: found.map(|p| p.threshold),
        coverage: found.map(|p| p.coverage),
        precision: found.and_then(|p| p.precision),
    }
}

/// Nearest-rank percentile of sorted values (0 when there are none).
pub fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn latency_stats(values: &[f64]) -> LatencyStats {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    // Roughly logarithmic buckets from sub-millisecond to seconds.
    let bounds = vec![
        1.0,
        2.0,
        5.0,
        10.0,
        20.0,
        50.0,
        100.0,
        200.0,
        500.0,
        1000.0,
        2000.0,
        5000.0,
        f64::MAX,
    ];
    let mut counts = vec![0usize; bounds.len()];
    for value in &sorted {
        let bucket = bounds
            .iter()
            .position(|bound| value <= bound)
            .unwrap_or(bounds.len() - 1);
        counts[bucket] += 1;
    }
    let mut bounds = bounds;
    if let Some(last) = bounds.last_mut() {
        *last = sorted.last().copied().unwrap_or(0.0).max(5000.0);
    }
    LatencyStats {
        p50: round6(percentile(&sorted, 0.50)),
        p95: round6(percentile(&sorted, 0.95)),
        p99: round6(percentile(&sorted, 0.99)),
        max: round6(sorted.last().copied().unwrap_or(0.0)),
        histogram_bounds: bounds.into_iter().map(round6).collect(),
        histogram_counts: counts,
    }
}

pub fn per_product(tickets: &[TicketResult], threshold: f64) -> Vec<ProductBreakdown> {
    let mut groups: BTreeMap<String, Vec<&TicketResult>> = BTreeMap::new();
    for ticket in tickets {
        let product = ticket
            .product
            .clone()
            .unwrap_or_else(|| "(none)".to_string());
        groups.entry(product).or_default().push(ticket);
    }
    let mut breakdown: Vec<ProductBreakdown> = groups
        .into_iter()
        .map(|(product, group)| ProductBreakdown {
            product_name: group.iter().find_map(|t| t.product_name.clone()),
            tickets: group.len(),
            article_agreement: article_agreement(group.iter().copied()),
            similarity: reply_similarity(group.iter().copied()),
            coverage: round6(
                group.iter().filter(|t| is_drafted(t, threshold)).count() as f64
                    / group.len() as f64,
            ),
            product,
        })
        .collect();
    // Largest products first; ties by product key for a stable order.
    breakdown.sort_by(|a, b| {
        b.tickets
            .cmp(&a.tickets)
            .then_with(|| a.product.cmp(&b.product))
    });
    breakdown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rouge_l_matches_hand_computed_values() {
        assert_eq!(rouge_l_f1("the cat sat", "the cat sat"), 1.0);
        assert_eq!(rouge_l_f1("", "anything"), 0.0);
        // LCS("a b c d", "a c e") = "a c" (2): P = 2/4, R = 2/3, F1 = 0.5714...
        assert!((rouge_l_f1("a b c d", "A, c e!") - 4.0 / 7.0).abs() < 1e-6);
    }

    #[test]
    fn first_correct_rank_is_one_based() {
        assert_eq!(first_correct_rank(&[5, 7, 9], &[9, 1]), Some(3));
        assert_eq!(first_correct_rank(&[5], &[9]), None);
    }

    #[test]
    fn verdicts_follow_articles_then_similarity() {
        assert_eq!(verdict(true, &[1], Some(3), Some(0.1)), Verdict::Good);
        assert_eq!(verdict(true, &[1], Some(4), Some(0.9)), Verdict::Poor);
        assert_eq!(verdict(true, &[], None, Some(0.7)), Verdict::Good);
        assert_eq!(verdict(true, &[], None, Some(0.5)), Verdict::Poor);
        assert_eq!(verdict(false, &[1], Some(1), None), Verdict::NoDraft);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let stats = latency_stats(&values);
        assert_eq!(
            (stats.p50, stats.p95, stats.p99, stats.max),
            (50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(stats.histogram_counts.iter().sum::<usize>(), 100);
        assert_eq!(latency_stats(&[]).p99, 0.0);
    }
}
