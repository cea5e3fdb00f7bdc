//! Inline SVG charts of live outcomes for the lead's view (no script, no build step): stacked
//! horizontal bars of outcomes per product or agent, and outcomes per day with the share sent
//! nearly as written. Each chart is `role="img"` with a title and description, and the page
//! puts the numbers in a table beside it.

use std::fmt::Write as _;

use super::layout::escape;
use crate::queue::OutcomeCounts;

/// Outcome colours (as drafted, edited, rewritten, not used), each at least 3:1 on white.
pub const OUTCOME_COLOURS: [(&str, &str); 4] = [
    ("#00795b", "sent as drafted"),
    ("#2c5cc5", "edited"),
    ("#8a4a00", "rewritten"),
    ("#c82124", "not used"),
];

fn parts(counts: &OutcomeCounts) -> [u64; 4] {
    [
        counts.as_drafted,
        counts.edited,
        counts.rewritten,
        counts.not_used,
    ]
}

fn open(id: &str, width: f64, height: f64, title: &str, desc: &str) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"inherit\" font-size=\"12\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(desc)
    )
}

fn legend(svg: &mut String, x: f64) {
    let mut lx = x;
    for (colour, name) in OUTCOME_COLOURS {
        let _ = write!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"4\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"14\" fill=\"#12344d\">{name}</text>",
            lx + 16.0
        );
        lx += 30.0 + 6.5 * name.len() as f64;
    }
}

/// One bar per row (a product, an agent), split by outcome, scaled to the largest row.
pub fn outcome_bars(id: &str, title: &str, rows: &[(String, &OutcomeCounts)]) -> String {
    let (width, label_w, row_h, top) = (720.0, 170.0, 26.0, 28.0);
    let height = top + row_h * rows.len().max(1) as f64 + 8.0;
    let most = rows
        .iter()
        .map(|(_, c)| c.answered)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_w = width - label_w - 60.0;
    let desc = rows
        .iter()
        .map(|(label, c)| {
            format!(
                "{label}: {} answered, {} as drafted, {} edited, {} rewritten, {} not used",
                c.answered, c.as_drafted, c.edited, c.rewritten, c.not_used
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut svg = open(id, width, height, title, &desc);
    legend(&mut svg, label_w);
    for (i, (label, counts)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let shown: String = label.chars().take(26).collect();
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#12344d\">{}</text>",
            label_w - 8.0,
            y + 15.0,
            escape(&shown)
        );
        let mut x = label_w;
        for (part, (colour, _)) in parts(counts).iter().zip(OUTCOME_COLOURS) {
            let w = *part as f64 / most * plot_w;
            if w > 0.0 {
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>",
                    y + 3.0,
                    row_h - 8.0
                );
            }
            x += w;
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#12344d\">{}</text>",
            x + 6.0,
            y + 15.0,
            counts.answered
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Outcomes per day (stacked columns) with the share sent nearly as written (line, right axis).
pub fn daily_outcomes(id: &str, title: &str, days: &[(String, &OutcomeCounts)]) -> String {
    let (width, height, left, right, top, bottom) = (720.0, 300.0, 44.0, 52.0, 30.0, 46.0);
    let (plot_w, plot_h) = (width - left - right, height - top - bottom);
    // The axis runs to a multiple of its four steps, so every tick is a whole number of drafts.
    let most = (days
        .iter()
        .map(|(_, c)| c.answered)
        .max()
        .unwrap_or(0)
        .max(1)
        .div_ceil(4)
        * 4) as f64;
    let slot = plot_w / days.len().max(1) as f64;
    let desc = days
        .iter()
        .map(|(day, c)| {
            format!(
                "{day}: {} answered, {} sent nearly as written",
                c.answered,
                c.nearly_as_written_rate
                    .map_or("n/a".to_string(), |r| format!("{:.0}%", r * 100.0))
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut svg = open(id, width, height, title, &desc);
    legend(&mut svg, left);
    for step in 0..=4 {
        let fraction = f64::from(step) / 4.0;
        let y = top + (1.0 - fraction) * plot_h;
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#dfe5eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#475867\">{:.0}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#475867\">{:.0}%</text>",
            left + plot_w,
            left - 6.0,
            y + 4.0,
            most * fraction,
            left + plot_w + 6.0,
            y + 4.0,
            fraction * 100.0
        );
    }
    let mut line = Vec::new();
    let label_every = (days.len() / 8).max(1);
    for (i, (day, counts)) in days.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.15;
        let w = slot * 0.7;
        let mut y = top + plot_h;
        for (part, (colour, _)) in parts(counts).iter().zip(OUTCOME_COLOURS) {
            let h = *part as f64 / most * plot_h;
            if h > 0.0 {
                y -= h;
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{colour}\"/>"
                );
            }
        }
        if let Some(rate) = counts.nearly_as_written_rate {
            line.push(format!(
                "{:.1},{:.1}",
                x + w / 2.0,
                top + (1.0 - rate) * plot_h
            ));
        }
        if i % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475867\">{}</text>",
                x + w / 2.0,
                top + plot_h + 16.0,
                escape(day.get(5..).unwrap_or(day))
            );
        }
    }
    if !line.is_empty() {
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#12344d\" stroke-width=\"2.5\" stroke-dasharray=\"6 3\"/>",
            line.join(" ")
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#12344d\">drafts answered per day (bars); dashed line: share sent nearly as written (right axis)</text>",
        left + plot_w / 2.0,
        height - 8.0
    );
    svg.push_str("</svg>");
    svg
}
