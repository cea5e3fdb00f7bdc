//! The analytical sections of `report.html`: risk-coverage, per-product, latency and replay
//! issues. Each appends one `<section>` to the page and renders a plain-language sentence before
//! its chart, because the audience (a support lead) reads the sentence, not the axes. Each also
//! renders an explicit empty state, so a run with no tickets or no products still reads sensibly.

use std::fmt::Write as _;

use super::html::{at_configured, finite_or_zero, millis, num, opt, pct};
use super::svg::{self, BarGroup, BarSeries, Marker, Series, esc};
use crate::simulate::model::{
    GOOD_SIMILARITY, LatencyStats, ProductBreakdown, SimulationSummary, TicketResult,
};

/// How many ids an issue list shows before pointing at `summary.json` for the rest.
const MAX_LISTED_IDS: usize = 100;

pub(super) fn risk_coverage(
    page: &mut String,
    summary: &SimulationSummary,
    tickets: &[TicketResult],
) {
    page.push_str("<section><h2>How many tickets get a draft, and how good are they?</h2>");
    let threshold = summary.confidence_threshold;
    let (coverage, precision) = at_configured(summary, tickets);
    if summary.replayed_tickets == 0 {
        page.push_str(
            "<p class=\"empty\">No ticket was replayed, so coverage and quality cannot be \
             measured.</p></section>",
        );
        return;
    }
    let _ = write!(
        page,
        "<p class=\"lead\">At threshold {}, <strong>{} of tickets get a draft</strong>{}</p>",
        num(threshold),
        pct(coverage),
        match precision {
            Some(p) => format!(" and <strong>{} of those are good</strong>.", pct(p)),
            None => ", so there is no draft to judge.".to_string(),
        }
    );
    let suggested = &summary.suggested_threshold;
    let target = pct(suggested.target_precision);
    match (suggested.threshold, suggested.coverage) {
        (Some(t), Some(c)) => {
            let _ = write!(
                page,
                "<p>To have at least {target} good drafts, the lowest threshold that reaches it is \
                 <strong>{}</strong>: {} of tickets would get a draft{}.</p>",
                num(t),
                pct(c),
                suggested.precision.map_or_else(String::new, |p| format!(
                    " and {} of those would be good",
                    pct(p)
                ))
            );
        }
        _ if summary.risk_coverage.is_empty() => {}
        _ => {
            let _ = write!(
                page,
                "<p>No threshold in the sweep reaches the target of {target} good drafts.</p>"
            );
        }
    }
    let _ = write!(
        page,
        "<p class=\"note\">A draft counts as <em>good</em> when it cites a reference article among \
         its top 3 or, for tickets whose reply linked no known article, when its meaning is close \
         to the real reply (cosine ≥ {GOOD_SIMILARITY:.2}). Raising the threshold withholds \
         low-confidence drafts: fewer tickets get one, and those that do are more often good.</p>"
    );
    let points = &summary.risk_coverage;
    if points.is_empty() {
        page.push_str(
            "<p class=\"empty\">No risk-coverage data was recorded for this run.</p></section>",
        );
        return;
    }
    let series = [
        Series {
            name: "Coverage (tickets with a draft)",
            color: "#0969da",
            points: points
                .iter()
                .map(|p| (p.threshold, Some(p.coverage)))
                .collect(),
        },
        Series {
            name: "Precision (drafts that are good)",
            color: "#8250df",
            points: points.iter().map(|p| (p.threshold, p.precision)).collect(),
        },
    ];
    let mut markers = vec![Marker {
        x: threshold,
        label: format!("configured {}", num(threshold)),
        color: "#24292f",
    }];
    if let Some(t) = suggested.threshold {
        markers.push(Marker {
            x: t,
            label: format!("suggested {}", num(t)),
            color: "#1a7f37",
        });
    }
    page.push_str("<figure>");
    page.push_str(&svg::line_chart(
        "risk-coverage",
        "Risk-coverage: coverage and precision by confidence threshold",
        &format!(
            "At threshold {}, {} of tickets get a draft. Coverage falls and precision usually \
             rises as the threshold increases.",
            num(threshold),
            pct(coverage)
        ),
        "confidence threshold",
        &series,
        &markers,
    ));
    page.push_str(
        "<figcaption>Coverage and precision at each confidence threshold.</figcaption></figure>",
    );
    page.push_str(
        "<details><summary>Data behind the chart</summary><table><thead><tr><th>Threshold</th>\
         <th>Coverage</th><th>Drafted</th><th>Precision</th><th>Hit@1</th><th>Hit@5</th>\
         <th>Mean cosine</th></tr></thead><tbody>",
    );
    for p in points {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            num(p.threshold),
            pct(p.coverage),
            p.drafted_tickets,
            opt(p.precision, pct),
            opt(p.article_hit_at_1, pct),
            opt(p.article_hit_at_5, pct),
            opt(p.mean_cosine, num)
        );
    }
    page.push_str("</tbody></table></details></section>");
}

pub(super) fn per_product(page: &mut String, summary: &SimulationSummary) {
    page.push_str("<section><h2>By product</h2>");
    if summary.per_product.is_empty() {
        page.push_str("<p class=\"empty\">No per-product breakdown: the replayed tickets carry no product.</p></section>");
        return;
    }
    let label = |p: &ProductBreakdown| p.product_name.clone().unwrap_or_else(|| p.product.clone());
    let groups: Vec<BarGroup> = summary
        .per_product
        .iter()
        .map(|p| BarGroup {
            label: label(p),
            sublabel: format!("{} tickets", p.tickets),
            values: vec![
                (p.article_agreement.eligible_tickets > 0).then_some(p.article_agreement.hit_at_1),
                (p.similarity.compared_tickets > 0).then_some(p.similarity.mean_cosine),
            ],
        })
        .collect();
    page.push_str("<figure>");
    page.push_str(&svg::hbar_chart(
        "per-product",
        "Article hit@1 and mean cosine per product",
        "Horizontal bars per product; n/a where a product had no eligible ticket.",
        &[
            BarSeries {
                name: "Article hit@1 (share)",
                color: "#0969da",
                percent: true,
            },
            BarSeries {
                name: "Mean cosine (score 0–1)",
                color: "#bf8700",
                percent: false,
            },
        ],
        &groups,
    ));
    page.push_str(
        "<figcaption>Hit@1 counts only tickets whose reply linked a known article.</figcaption>\
         </figure><div class=\"scroll\"><table><thead><tr><th>Product</th><th>Tickets</th>\
         <th>Coverage</th><th>With article</th><th>Hit@1</th><th>Hit@3</th><th>Hit@5</th>\
         <th>Mean cosine</th><th>ROUGE-L</th><th>Language match</th></tr></thead><tbody>",
    );
    for p in &summary.per_product {
        let aa = &p.article_agreement;
        let has = aa.eligible_tickets > 0;
        let hit = |v: f64| if has { pct(v) } else { "n/a".into() };
        let sim = &p.similarity;
        let cmp = |v: f64| {
            if sim.compared_tickets > 0 {
                num(v)
            } else {
                "n/a".into()
            }
        };
        let _ = write!(
            page,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&label(p)),
            p.tickets,
            pct(p.coverage),
            aa.eligible_tickets,
            hit(aa.hit_at_1),
            hit(aa.hit_at_3),
            hit(aa.hit_at_5),
            cmp(sim.mean_cosine),
            cmp(sim.mean_rouge_l_f1),
            opt(sim.language_match_rate, pct)
        );
    }
    page.push_str("</tbody></table></div></section>");
}

pub(super) fn latency(page: &mut String, summary: &SimulationSummary) {
    let t = &summary.timings;
    let total = &t.total_latency;
    page.push_str("<section><h2>Latency</h2>");
    if summary.replayed_tickets == 0 {
        page.push_str(
            "<p class=\"empty\">No ticket was replayed, so nothing was timed.</p></section>",
        );
        return;
    }
    let _ = write!(
        page,
        "<p>Half of the drafts were ready within <strong>{}</strong>, 95% within <strong>{}</strong> \
         and 99% within <strong>{}</strong> (slowest {}).</p>",
        millis(total.p50),
        millis(total.p95),
        millis(total.p99),
        millis(total.max)
    );
    if total.histogram_counts.iter().sum::<usize>() > 0 && !total.histogram_bounds.is_empty() {
        page.push_str("<figure>");
        page.push_str(&svg::histogram(
            "latency",
            "Histogram of total latency per ticket",
            &format!(
                "p50 {}, p95 {}, p99 {}",
                millis(total.p50),
                millis(total.p95),
                millis(total.p99)
            ),
            &total.histogram_bounds,
            &total.histogram_counts,
            &[("p50", total.p50), ("p95", total.p95), ("p99", total.p99)],
        ));
        page.push_str(
            "<figcaption>Retrieval plus generation time per replayed ticket.</figcaption></figure>",
        );
    } else {
        page.push_str("<p class=\"empty\">No latency histogram: no ticket was timed.</p>");
    }
    page.push_str(
        "<table class=\"compact\"><thead><tr><th>Stage</th><th>p50</th><th>p95</th><th>p99</th>\
         <th>Max</th></tr></thead><tbody>",
    );
    for (stage, s) in [
        ("Retrieval", &t.retrieval_latency),
        ("Generation", &t.generation_latency),
        ("Total", total),
    ] {
        latency_row(page, stage, s);
    }
    let tokens = |v: Option<u64>| v.map_or_else(|| "n/a".to_string(), |v| v.to_string());
    let _ = write!(
        page,
        "</tbody></table><p class=\"note\">Whole run {:.1} s (ingest {:.1} s, replay {:.1} s), \
         {:.2} tickets/s. Tokens: {} prompt, {} completion.</p></section>",
        finite_or_zero(t.wall_seconds),
        finite_or_zero(t.ingest_seconds),
        finite_or_zero(t.replay_seconds),
        finite_or_zero(t.tickets_per_second),
        tokens(summary.total_prompt_tokens),
        tokens(summary.total_completion_tokens)
    );
}

fn latency_row(page: &mut String, stage: &str, s: &LatencyStats) {
    let _ = write!(
        page,
        "<tr><th scope=\"row\">{stage}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        millis(s.p50),
        millis(s.p95),
        millis(s.p99),
        millis(s.max)
    );
}

pub(super) fn issues(page: &mut String, summary: &SimulationSummary) {
    let i = &summary.issues;
    page.push_str("<section><h2>Replay issues</h2>");
    if i.empty_selection {
        page.push_str("<p class=\"banner warn\">The selection matched no ticket at all.</p>");
    }
    let lists = [
        ("Requested ids not in the bundle", &i.ids_not_found),
        (
            "Skipped: no public agent reply to compare against",
            &i.no_agent_reply,
        ),
        ("Skipped: not resolved or closed", &i.not_resolved),
    ];
    if lists.iter().all(|(_, ids)| ids.is_empty()) && !i.empty_selection {
        page.push_str(
            "<p>None: every selected ticket was found, resolved and had an agent reply.</p>",
        );
    }
    for (title, ids) in lists.iter().filter(|(_, ids)| !ids.is_empty()) {
        let shown: Vec<String> = ids
            .iter()
            .take(MAX_LISTED_IDS)
            .map(|id| format!("#{id}"))
            .collect();
        let more = ids.len().saturating_sub(MAX_LISTED_IDS);
        let _ = write!(
            page,
            "<details><summary>{title}: <strong>{}</strong></summary><p class=\"ids\">{}{}</p></details>",
            ids.len(),
            shown.join(", "),
            if more > 0 {
                format!(" … and {more} more (see summary.json)")
            } else {
                String::new()
            }
        );
    }
    page.push_str("</section>");
}
