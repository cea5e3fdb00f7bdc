//! What a confidence band has meant so far: the share of its drafts sent nearly as written
//! (live outcomes) and the share judged good in the latest simulation (derived from its
//! risk-coverage curve: the drafts at or above the band's lower edge minus those at or above
//! its upper edge). Also reads the latest simulation's `summary.json`.

use std::path::Path;

use serde_json::Value;

use crate::draft::confidence::{ConfidenceBand, bands};
use crate::queue::LiveQuality;

/// A band's measured precision, each with how many drafts it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct BandQuality {
    pub band: ConfidenceBand,
    /// (share sent nearly as written, drafts answered).
    pub live: Option<(f64, u64)>,
    /// (share judged good, drafts replayed).
    pub simulated: Option<(f64, u64)>,
}

/// The latest simulation's summary, when a report folder is configured and holds one.
pub async fn load_summary(report_dir: Option<&Path>) -> Option<Value> {
    let path = report_dir?.join("summary.json");
    let text = tokio::fs::read_to_string(&path).await.ok()?;
    match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "console: unreadable simulation summary");
            None
        }
    }
}

/// (precision, drafted) at a threshold of the simulated curve.
fn point_at(summary: &Value, threshold: f64) -> Option<(f64, u64)> {
    summary["risk_coverage"]
        .as_array()?
        .iter()
        .find(|p| {
            p["threshold"]
                .as_f64()
                .is_some_and(|t| (t - threshold).abs() < 1e-6)
        })
        .map(|p| {
            (
                p["precision"].as_f64().unwrap_or(0.0),
                p["drafted_tickets"].as_u64().unwrap_or(0),
            )
        })
}

/// The simulated precision inside `[from, to)` (the top band runs to the end of the curve).
pub fn simulated_precision(summary: &Value, band: &ConfidenceBand) -> Option<(f64, u64)> {
    let (from, to) = (f64::from(band.range[0]), f64::from(band.range[1]));
    let (precision_from, drafted_from) = point_at(summary, from)?;
    let (precision_to, drafted_to) = if to >= 1.0 {
        (0.0, 0)
    } else {
        point_at(summary, to)?
    };
    let drafted = drafted_from.checked_sub(drafted_to)?;
    if drafted == 0 {
        return None;
    }
    let good = precision_from * drafted_from as f64 - precision_to * drafted_to as f64;
    Some(((good / drafted as f64).clamp(0.0, 1.0), drafted))
}

/// Every band with what was measured of it.
pub fn band_qualities(live: &LiveQuality, summary: Option<&Value>) -> Vec<BandQuality> {
    bands()
        .map(|band| {
            let live = live.per_band.get(band.label).and_then(|counts| {
                counts
                    .nearly_as_written_rate
                    .map(|rate| (rate, counts.answered))
            });
            let simulated = summary.and_then(|s| simulated_precision(s, &band));
            BandQuality {
                band,
                live,
                simulated,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft::confidence::band_of;

    #[test]
    fn band_precision_is_the_difference_of_two_curve_points() {
        // 40 drafted at >= 0.5 (half good), 10 of them at >= 0.75 (all good): the medium band
        // has 30 drafts of which 10 good.
        let summary = serde_json::json!({"risk_coverage": [
            {"threshold": 0.5, "drafted_tickets": 40, "precision": 0.5},
            {"threshold": 0.75, "drafted_tickets": 10, "precision": 1.0},
        ]});
        let (precision, drafted) = simulated_precision(&summary, &band_of(0.6)).unwrap();
        assert_eq!(drafted, 30);
        assert!((precision - 10.0 / 30.0).abs() < 1e-9, "{precision}");
        assert_eq!(
            simulated_precision(&summary, &band_of(0.9)),
            Some((1.0, 10))
        );
        assert_eq!(simulated_precision(&summary, &band_of(0.1)), None);
        assert_eq!(
            simulated_precision(&serde_json::json!({}), &band_of(0.9)),
            None
        );
    }
}
