//! Inline SVG charts for `report.html`: a line chart, grouped horizontal bars and a histogram.
//!
//! The charts are plain SVG strings built in Rust so the report needs no JavaScript and no
//! network at view time. Every chart carries `role="img"` with a `<title>` and `<desc>` so screen
//! readers announce it, and every piece of caller text goes through [`esc`]. Coordinates are
//! written with fixed precision so identical inputs give byte-identical output.

use std::fmt::Write as _;

/// HTML/SVG escaping for text and double-quoted attributes alike (also escapes `"`), so one
/// helper is safe in both positions.
pub fn esc(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

/// Chart canvas size in SVG user units; the SVG scales to its container width via `viewBox`.
const WIDTH: f64 = 720.0;
const FONT: &str = "font-family=\"inherit\" font-size=\"12\"";

/// One line of a [`line_chart`]; `None` values break the line (e.g. precision with no drafts).
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub points: Vec<(f64, Option<f64>)>,
}

/// A vertical reference line of a [`line_chart`] (e.g. the configured threshold).
pub struct Marker<'a> {
    pub x: f64,
    pub label: String,
    pub color: &'a str,
}

/// Opening of a chart: the accessible name (`<title>`) and description (`<desc>`).
fn open(id: &str, height: f64, title: &str, desc: &str) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" xmlns=\"http://www.w3.org/2000/svg\" {FONT}>\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        esc(title),
        esc(desc)
    )
}

/// Colour swatches with their names in one row at the top of a chart, starting at `x`.
fn write_legend<'a>(svg: &mut String, x: f64, entries: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut lx = x;
    for (color, name) in entries {
        let _ = write!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"4\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"14\" fill=\"#24292f\">{}</text>",
            esc(color),
            lx + 16.0,
            esc(name)
        );
        lx += 30.0 + 7.0 * name.chars().count() as f64;
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// Line chart with x and y both shown as fractions; y is fixed to 0..100% because every plotted
/// quantity (coverage, precision) is a share, which keeps charts of different runs comparable.
pub fn line_chart(
    id: &str,
    title: &str,
    desc: &str,
    x_label: &str,
    series: &[Series<'_>],
    markers: &[Marker<'_>],
) -> String {
    let (height, left, right, top, bottom) = (350.0, 56.0, 20.0, 44.0, 52.0);
    let (plot_w, plot_h) = (WIDTH - left - right, height - top - bottom);
    // Thresholds normally live in 0..1; widen the axis only if the data leaves that range.
    let xs = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(markers.iter().map(|m| m.x))
        .filter_map(finite);
    let (x_min, x_max) = xs.fold((0.0_f64, 1.0_f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let span = (x_max - x_min).max(f64::EPSILON);
    let px = |x: f64| left + (x - x_min) / span * plot_w;
    let py = |y: f64| top + (1.0 - y.clamp(0.0, 1.0)) * plot_h;

    let mut svg = open(id, height, title, desc);
    for step in 0..=4 {
        let y = f64::from(step) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{left:.1}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#d0d7de\" \
             stroke-width=\"1\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" \
             fill=\"#57606a\">{:.0}%</text>",
            left + plot_w,
            left - 6.0,
            py(y) + 4.0,
            y * 100.0,
            yy = py(y),
        );
        let x = x_min + span * f64::from(step) / 4.0;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">{x:.2}</text>",
            px(x),
            top + plot_h + 16.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#24292f\">{}</text>",
        left + plot_w / 2.0,
        height - 8.0,
        esc(x_label)
    );
    for (i, marker) in markers.iter().enumerate() {
        let Some(x) = finite(marker.x) else { continue };
        // A row of its own per marker label (up to three: configured, simulated and live
        // thresholds), so close markers do not overprint.
        let label_y = top - 6.0 + 18.0 * (i % 3) as f64;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top:.1}\" y2=\"{:.1}\" stroke=\"{c}\" \
             stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/><text x=\"{:.1}\" y=\"{label_y:.1}\" \
             fill=\"{c}\" text-anchor=\"{}\">{}</text>",
            top + plot_h,
            px(x)
                + if px(x) > left + plot_w * 0.75 {
                    -4.0
                } else {
                    4.0
                },
            if px(x) > left + plot_w * 0.75 {
                "end"
            } else {
                "start"
            },
            esc(&marker.label),
            x = px(x),
            c = esc(marker.color),
        );
    }
    for s in series {
        // Split into runs of defined points so a gap is shown as a gap, not an interpolation.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for &(x, y) in &s.points {
            match (finite(x), y.and_then(finite)) {
                (Some(x), Some(y)) => runs.last_mut().expect("non-empty").push((px(x), py(y))),
                _ => runs.push(Vec::new()),
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let coords: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2.5\" \
                 stroke-linejoin=\"round\"/>",
                coords.join(" "),
                c = esc(s.color)
            );
            for (x, y) in run {
                let _ = write!(
                    svg,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"{}\"/>",
                    esc(s.color)
                );
            }
        }
    }
    // Legend above the plot, left-aligned; marker labels sit just above the plot on the right.
    write_legend(&mut svg, left, series.iter().map(|s| (s.color, s.name)));
    svg.push_str("</svg>");
    svg
}

/// One row group of an [`hbar_chart`]: a label, a sub-label (e.g. ticket count) and one value
/// per series in 0..1; `None` renders as "n/a" instead of a zero-length bar that would look like
/// a real 0%.
pub struct BarGroup {
    pub label: String,
    pub sublabel: String,
    pub values: Vec<Option<f64>>,
}

/// One bar of each [`BarGroup`]: its name, colour and how its value label reads.
pub struct BarSeries<'a> {
    pub name: &'a str,
    pub color: &'a str,
    /// `true` labels values as percentages (a share); `false` as a 0..1 score (e.g. cosine),
    /// which must not read as a percentage.
    pub percent: bool,
}

/// Grouped horizontal bars on a shared 0..1 axis.
pub fn hbar_chart(
    id: &str,
    title: &str,
    desc: &str,
    series: &[BarSeries<'_>],
    groups: &[BarGroup],
) -> String {
    let (left, right, top, bar_h, gap) = (190.0, 60.0, 44.0, 14.0, 14.0);
    let group_h = bar_h * series.len() as f64 + gap;
    let height = top + group_h * groups.len() as f64 + 10.0;
    let plot_w = WIDTH - left - right;
    let mut svg = open(id, height, title, desc);
    for step in 0..5_usize {
        let x = left + plot_w * step as f64 / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#d0d7de\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">{}</text>",
            top - 4.0,
            height - 10.0,
            top - 8.0,
            ["0", "0.25", "0.5", "0.75", "1"][step]
        );
    }
    write_legend(&mut svg, 4.0, series.iter().map(|s| (s.color, s.name)));
    for (g, group) in groups.iter().enumerate() {
        let y0 = top + group_h * g as f64;
        let mid = y0 + bar_h * series.len() as f64 / 2.0;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#24292f\" \
             font-weight=\"600\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" \
             fill=\"#57606a\" font-size=\"11\">{}</text>",
            left - 8.0,
            mid - 2.0,
            esc(&truncate(&group.label, 26)),
            left - 8.0,
            mid + 11.0,
            esc(&group.sublabel)
        );
        for (i, s) in series.iter().enumerate() {
            let y = y0 + bar_h * i as f64;
            let value = group.values.get(i).copied().flatten().and_then(finite);
            let (w, text) = match value {
                Some(v) if s.percent => (plot_w * v.clamp(0.0, 1.0), format!("{:.0}%", v * 100.0)),
                Some(v) => (plot_w * v.clamp(0.0, 1.0), format!("{v:.2}")),
                None => (0.0, "n/a".to_string()),
            };
            let _ = write!(
                svg,
                "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" \
                 fill=\"{}\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" \
                 fill=\"#24292f\" font-size=\"11\">{text}</text>",
                y + 1.0,
                bar_h - 2.0,
                esc(s.color),
                esc(s.name),
                text,
                left + w + 4.0,
                y + bar_h - 3.0,
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical histogram of bucket counts; `bounds[i]` is bucket i's upper bound in ms. Markers
/// (p50/p95/p99) are placed by linear interpolation inside their bucket, which is exact enough
/// for a picture and honest about which bucket the percentile falls in.
pub fn histogram(
    id: &str,
    title: &str,
    desc: &str,
    bounds: &[f64],
    counts: &[usize],
    markers: &[(&str, f64)],
) -> String {
    let (height, left, right, top, bottom) = (300.0, 56.0, 20.0, 30.0, 48.0);
    let n = bounds.len().min(counts.len());
    let (plot_w, plot_h) = (WIDTH - left - right, height - top - bottom);
    // Whole-number gridlines: round the axis up to a multiple of 4 so every tick is an integer.
    let tick = counts[..n]
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1)
        .div_ceil(4);
    let max = (tick * 4) as f64;
    let bucket_w = plot_w / n.max(1) as f64;
    let mut svg = open(id, height, title, desc);
    for step in 0..=4 {
        let y = top + plot_h * (1.0 - f64::from(step) / 4.0);
        let _ = write!(
            svg,
            "<line x1=\"{left:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#d0d7de\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#57606a\">{:.0}</text>",
            left + plot_w,
            left - 6.0,
            y + 4.0,
            tick as f64 * f64::from(step)
        );
    }
    // Label every k-th bucket so labels never collide, whatever the bucket count.
    let every = n.div_ceil(10).max(1);
    for i in 0..n {
        let h = plot_h * counts[i] as f64 / max;
        let x = left + bucket_w * i as f64;
        let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
        let label = bucket_label(lower, bounds[i]);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#0969da\">\
             <title>{}: {} tickets</title></rect>",
            x + 1.0,
            top + plot_h - h,
            (bucket_w - 2.0).max(1.0),
            esc(&label),
            counts[i]
        );
        if i % every == 0 || i + 1 == n {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\" \
                 font-size=\"11\">{}</text>",
                x + bucket_w / 2.0,
                top + plot_h + 15.0,
                esc(&format!("≤{}", super::html::millis(bounds[i])))
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#24292f\">total latency per \
         ticket (bucket upper bound)</text>",
        left + plot_w / 2.0,
        height - 8.0
    );
    for (j, (name, value)) in markers.iter().enumerate() {
        let Some(pos) = bucket_position(&bounds[..n], *value) else {
            continue;
        };
        let x = left + bucket_w * pos;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top:.1}\" y2=\"{:.1}\" stroke=\"#cf222e\" \
             stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#cf222e\" \
             font-size=\"11\">{}</text>",
            top + plot_h,
            x + 3.0,
            top - 16.0 + 11.0 * j as f64,
            esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn bucket_label(lower: f64, upper: f64) -> String {
    use super::html::millis;
    format!("{} – {}", millis(lower), millis(upper))
}

/// Fractional bucket index of `value` (e.g. 2.5 = half way through bucket 2).
fn bucket_position(bounds: &[f64], value: f64) -> Option<f64> {
    let value = finite(value)?;
    let mut lower = 0.0;
    for (i, &upper) in bounds.iter().enumerate() {
        if value <= upper || !upper.is_finite() {
            let width = upper - lower;
            let frac = if width.is_finite() && width > 0.0 {
                ((value - lower) / width).clamp(0.0, 1.0)
            } else {
                0.5
            };
            return Some(i as f64 + frac);
        }
        lower = upper;
    }
    (!bounds.is_empty()).then_some(bounds.len() as f64)
}

/// Shortens a label to `max` characters (on a char boundary) with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_are_accessible() {
        let series = [Series {
            name: "<b>",
            color: "#000",
            points: vec![(0.0, Some(0.5)), (0.5, None), (1.0, Some(f64::NAN))],
        }];
        let svg = line_chart("c", "T<", "D&", "x", &series, &[]);
        assert!(svg.contains("<title id=\"c-title\">T&lt;</title>"));
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert!(!svg.contains("NaN"));
        let groups = [BarGroup {
            label: "<script>".into(),
            sublabel: "3 tickets".into(),
            values: vec![Some(0.5), None],
        }];
        let series = [
            BarSeries {
                name: "a",
                color: "#111",
                percent: true,
            },
            BarSeries {
                name: "b",
                color: "#222",
                percent: false,
            },
        ];
        let bars = hbar_chart("b", "t", "d", &series, &groups);
        assert!(!bars.contains("<script>") && bars.contains("n/a") && bars.contains("50%"));
    }

    #[test]
    fn histogram_handles_mismatched_and_empty_input() {
        let svg = histogram("h", "t", "d", &[100.0, 200.0], &[3], &[("p50", 150.0)]);
        assert_eq!(svg.matches("<rect").count(), 1);
        let empty = histogram("e", "t", "d", &[], &[], &[("p50", 1.0)]);
        assert!(empty.ends_with("</svg>") && !empty.contains("NaN"));
        assert_eq!(bucket_position(&[100.0, 200.0], 150.0), Some(1.5));
        assert_eq!(bucket_position(&[100.0], 500.0), Some(1.0));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
