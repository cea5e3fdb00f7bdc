//! What a confidence means to an agent: a band (low, medium, high) rather than a bare number,
//! with how often drafts in that band were sent nearly as written, once that is measured.

use serde::Serialize;

/// Band edges: below 0.5 low, below 0.75 medium, else high.
const BANDS: [(&str, f32, f32); 3] = [
    ("low", 0.0, 0.5),
    ("medium", 0.5, 0.75),
    ("high", 0.75, 1.0),
];

/// A draft counts as "sent nearly as written" when at most this share of its text changed.
pub const NEARLY_AS_WRITTEN: f64 = 0.2;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConfidenceBand {
    pub label: &'static str,
    /// `[from, to)` (the high band includes 1.0).
    pub range: [f32; 2],
    /// Share of this band's drafts sent nearly as written, when measured (live outcomes, or
    /// the latest simulation).
    pub measured_precision: Option<f64>,
}

/// The band a confidence falls in.
pub fn band_of(confidence: f32) -> ConfidenceBand {
    let confidence = if confidence.is_nan() {
        0.0
    } else {
        confidence.clamp(0.0, 1.0)
    };
    let (label, from, to) = BANDS
        .iter()
        .copied()
        .find(|(_, from, to)| confidence >= *from && (confidence < *to || *to >= 1.0))
        .unwrap_or(BANDS[0]);
    ConfidenceBand {
        label,
        range: [from, to],
        measured_precision: None,
    }
}

/// Every band, lowest first.
pub fn bands() -> impl Iterator<Item = ConfidenceBand> {
    BANDS.iter().map(|(label, from, to)| ConfidenceBand {
        label,
        range: [*from, *to],
        measured_precision: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidences_fall_in_one_band_each() {
        assert_eq!(band_of(0.0).label, "low");
        assert_eq!(band_of(0.49).label, "low");
        assert_eq!(band_of(0.5).label, "medium");
        assert_eq!(band_of(0.74).label, "medium");
        assert_eq!(band_of(0.75).label, "high");
        assert_eq!(band_of(1.0).label, "high");
        assert_eq!(band_of(7.0).label, "high");
        assert_eq!(band_of(f32::NAN).label, "low");
        assert_eq!(bands().count(), 3);
    }
}
