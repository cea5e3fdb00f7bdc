//! The lead's view at `/lead`: live quality (acceptance, edit distance, outcomes per product,
//! per agent and per day, as charts with their numbers), the confidence bands as measured, the
//! live risk-coverage curve next to the simulated one with the thresholds they suggest, the
//! knowledge gaps of live drafts and of the latest simulation (whatever shape its report gives
//! them), and that report itself at `/reports/latest`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::charts::{daily_outcomes, outcome_bars};
use super::layout::{Section, escape, percent, plain, shell, shortcuts};
use super::lead_gaps::{knowledge_gaps, live_knowledge_gaps};
use super::names::{agent_label, product_label};
use super::quality::{band_qualities, load_summary};
use super::queue_view::band_name;
use crate::queue::{FeedbackStats, LiveQuality, OutcomeCounts, QueueError, live_quality};
use crate::serve::ServeState;
use crate::serve::auth::current_session;
use crate::simulate::gaps::KnowledgeGaps;
use crate::simulate::report::svg::{Marker, Series, line_chart};

pub async fn lead_page(State(state): State<ServeState>, headers: HeaderMap) -> Response {
    let Some(session) = current_session(&state.queue, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    let gathered = async {
        Ok::<_, QueueError>((state.queue.feedback().await?, state.queue.outcomes().await?))
    };
    let (feedback, outcomes) = match gathered.await {
        Ok(found) => found,
        Err(error) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                plain(
                    "deskdraft",
                    &format!("<p>{}</p>", escape(&error.to_string())),
                ),
            )
                .into_response();
        }
    };
    let live = live_quality(&outcomes, state.target_precision);
    let summary = load_summary(state.console.report_dir.as_deref()).await;
    let report_exists = match state.console.report_dir.as_deref() {
        Some(dir) => tokio::fs::metadata(dir.join("report.html")).await.is_ok(),
        None => false,
    };
    let names = state.console.product_names(state.read.as_ref()).await;
    let agent_names = state.console.agent_names(state.read.as_ref()).await;
    let live_gaps = match crate::serve::live_gaps::gather_live_gaps(&state, &outcomes).await {
        Ok(found) => Some(found),
        Err(error) => {
            tracing::warn!(%error, "lead's view: live knowledge gaps left out");
            None
        }
    };
    let mut main = lead_main(&LeadInputs {
        live: &live,
        feedback: &feedback,
        summary: summary.as_ref(),
        report_configured: state.console.report_dir.is_some(),
        report_exists,
        names: &names,
        agent_names: &agent_names,
        threshold: state.drafter.config.confidence_threshold,
        live_gaps: live_gaps.as_ref(),
    });
    main.push_str(&shortcuts(&[("g", "review queue"), ("l", "lead's view")]));
    shell(
        "deskdraft: lead's view",
        "lead",
        Section::Lead,
        &session.csrf,
        "",
        &main,
    )
    .into_response()
}

/// `GET /reports/latest`: the latest simulation's `report.html` (self-contained: inline CSS and
/// SVG, no script), for signed-in reviewers.
pub async fn latest_report(State(state): State<ServeState>, headers: HeaderMap) -> Response {
    if current_session(&state.queue, &headers).await.is_none() {
        return Redirect::to("/login").into_response();
    }
    let Some(dir) = state.console.report_dir.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            plain(
                "deskdraft: no report",
                "<p>No simulation report is configured: set <code>serve.simulation_report_dir</code> to a <code>deskdraft simulate --out</code> folder.</p>",
            ),
        )
            .into_response();
    };
    match tokio::fs::read_to_string(dir.join("report.html")).await {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
            ],
            html,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            plain(
                "deskdraft: no report",
                "<p>The configured simulation folder has no report.html yet.</p>",
            ),
        )
            .into_response(),
    }
}

/// What the lead's view shows, gathered.
pub(super) struct LeadInputs<'a> {
    pub live: &'a LiveQuality,
    pub feedback: &'a FeedbackStats,
    pub summary: Option<&'a Value>,
    pub report_configured: bool,
    pub report_exists: bool,
    pub names: &'a HashMap<String, String>,
    pub agent_names: &'a HashMap<String, String>,
    pub threshold: f32,
    pub live_gaps: Option<&'a (KnowledgeGaps, usize)>,
}

/// The page's main content (without the shortcuts list).
pub(super) fn lead_main(inputs: &LeadInputs) -> String {
    let mut main = String::from("<h2>Lead's view</h2>");
    main.push_str(&report_line(inputs.summary, inputs.report_exists));
    main.push_str(&tiles(inputs.live, inputs.feedback));
    main.push_str(&over_time(inputs.live));
    main.push_str(&breakdowns(inputs.live, inputs.names, inputs.agent_names));
    main.push_str(&bands_table(inputs.live, inputs.summary));
    main.push_str(&risk_coverage(
        inputs.live,
        inputs.summary,
        inputs.threshold,
    ));
    main.push_str(&live_knowledge_gaps(inputs.live_gaps));
    main.push_str(&knowledge_gaps(inputs.summary, inputs.report_configured));
    main
}

fn report_line(summary: Option<&Value>, report_exists: bool) -> String {
    let Some(summary) = summary else {
        return "<p class=\"muted\" id=\"report\">No simulation report: run <code>deskdraft simulate --out DIR</code> and set <code>serve.simulation_report_dir</code> to DIR to compare live quality with the replay.</p>".into();
    };
    let when = summary["timings"]["started_at"]
        .as_str()
        .map(|s| format!(" of {}", s.get(..16).unwrap_or(s).replace('T', " ")))
        .unwrap_or_default();
    let link = if report_exists {
        "<a href=\"/reports/latest\" id=\"report-link\">Latest simulation report</a>".to_string()
    } else {
        "Latest simulation".to_string()
    };
    format!(
        "<p id=\"report\">{link}{}: {} tickets replayed, {} drafted at threshold {}.</p>",
        escape(&when),
        summary["replayed_tickets"].as_u64().unwrap_or(0),
        summary["drafted_tickets"].as_u64().unwrap_or(0),
        summary["confidence_threshold"]
            .as_f64()
            .map_or("?".into(), |t| format!("{t:.2}")),
    )
}

fn tile(value: String, label: &str) -> String {
    format!(
        "<div class=\"tile\"><b>{}</b>{}</div>",
        escape(&value),
        escape(label)
    )
}

fn tiles(live: &LiveQuality, feedback: &FeedbackStats) -> String {
    let o = &live.overall;
    let mut html = String::from(
        "<h3>What agents did with drafts in Freshdesk</h3><div class=\"tiles\" id=\"live-tiles\">",
    );
    html.push_str(&tile(o.answered.to_string(), "drafts answered by an agent"));
    html.push_str(&tile(
        percent(o.nearly_as_written_rate),
        "sent nearly as written",
    ));
    html.push_str(&tile(percent(o.mean_edit_distance), "mean edit distance"));
    html.push_str(&tile(
        format!(
            "{} / {} / {} / {}",
            o.as_drafted, o.edited, o.rewritten, o.not_used
        ),
        "as drafted / edited / rewritten / not used",
    ));
    html.push_str(&tile(percent(live.links_kept_rate), "cited links kept"));
    html.push_str(&tile(
        live.median_minutes_to_reply
            .map_or("–".into(), |m| format!("{m:.0} min")),
        "median time to the reply",
    ));
    html.push_str(
        "</div><h3>Decisions on the review page</h3><div class=\"tiles\" id=\"review-tiles\">",
    );
    html.push_str(&tile(feedback.pending.to_string(), "waiting for review"));
    html.push_str(&tile(
        format!(
            "{} ({} unedited)",
            feedback.approved, feedback.approved_unedited
        ),
        "approved",
    ));
    html.push_str(&tile(feedback.rejected.to_string(), "rejected"));
    html.push_str(&tile(percent(feedback.acceptance_rate), "acceptance"));
    html.push_str(&tile(
        percent(feedback.mean_edit_distance),
        "mean edit distance of approvals",
    ));
    html.push_str("</div>");
    html
}

fn counts_table(caption: &str, first: &str, rows: &[(String, &OutcomeCounts)]) -> String {
    let body: String = rows
        .iter()
        .map(|(label, c)| {
            format!(
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(label),
                c.answered,
                c.as_drafted,
                c.edited,
                c.rewritten,
                c.not_used,
                percent(c.nearly_as_written_rate),
                percent(c.mean_edit_distance)
            )
        })
        .collect();
    format!(
        "<details class=\"table\"><summary>{} as a table</summary><table class=\"data\"><thead><tr><th scope=\"col\">{}</th>\
         <th scope=\"col\">answered</th><th scope=\"col\">as drafted</th><th scope=\"col\">edited</th><th scope=\"col\">rewritten</th>\
         <th scope=\"col\">not used</th><th scope=\"col\">nearly as written</th><th scope=\"col\">mean edit</th></tr></thead>\
         <tbody>{body}</tbody></table></details>",
        escape(caption),
        escape(first)
    )
}

fn over_time(live: &LiveQuality) -> String {
    if live.daily.is_empty() {
        return "<h3>Over time</h3><p class=\"muted\">No draft has been answered by an agent yet: outcomes appear once agents reply to drafted tickets.</p>".into();
    }
    let days: Vec<(String, &OutcomeCounts)> =
        live.daily.iter().map(|(d, c)| (d.clone(), c)).collect();
    format!(
        "<h3>Over time</h3><figure class=\"figure\" id=\"chart-daily\">{}</figure>{}",
        daily_outcomes("daily", "Outcomes of drafts per day", &days),
        counts_table("Outcomes per day", "day", &days)
    )
}

fn breakdowns(
    live: &LiveQuality,
    names: &HashMap<String, String>,
    agent_names: &HashMap<String, String>,
) -> String {
    if live.overall.answered == 0 {
        return String::new();
    }
    let products: Vec<(String, &OutcomeCounts)> = live
        .per_product
        .iter()
        .map(|(key, c)| {
            let key = (key != "(none)").then_some(key.as_str());
            (product_label(names, key), c)
        })
        .collect();
    let agents: Vec<(String, &OutcomeCounts)> = live
        .per_agent
        .iter()
        .map(|(id, c)| (agent_label(agent_names, id), c))
        .collect();
    format!(
        "<div class=\"charts\"><section aria-labelledby=\"per-product\"><h3 id=\"per-product\">Per product</h3>{}{}</section>\
         <section aria-labelledby=\"per-agent\"><h3 id=\"per-agent\">Per agent</h3>{}{}</section></div>",
        outcome_bars("products", "Outcomes per product", &products),
        counts_table("Per product", "product", &products),
        outcome_bars("agents", "Outcomes per agent", &agents),
        counts_table("Per agent", "agent", &agents),
    )
}

fn bands_table(live: &LiveQuality, summary: Option<&Value>) -> String {
    let rows: String = band_qualities(live, summary)
        .iter()
        .rev()
        .map(|q| {
            let cell = |measured: Option<(f64, u64)>| {
                measured.map_or("not measured".to_string(), |(rate, n)| {
                    format!("{} of {n}", percent(Some(rate)))
                })
            };
            format!(
                "<tr><th scope=\"row\">{} ({:.2} to {:.2})</th><td>{}</td><td>{}</td></tr>",
                escape(&band_name(q.band.label)),
                q.band.range[0],
                q.band.range[1],
                cell(q.live),
                cell(q.simulated)
            )
        })
        .collect();
    format!(
        "<h3>What each confidence band means</h3><div class=\"scroll\"><table class=\"data\" id=\"bands\"><thead><tr><th scope=\"col\">band</th>\
         <th scope=\"col\">live: sent nearly as written</th><th scope=\"col\">simulation: judged good</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

fn risk_coverage(live: &LiveQuality, summary: Option<&Value>, configured: f32) -> String {
    let live_precision: Vec<(f64, Option<f64>)> = live
        .risk_coverage
        .iter()
        .map(|p| (f64::from(p.threshold), p.precision))
        .collect();
    let live_coverage: Vec<(f64, Option<f64>)> = live
        .risk_coverage
        .iter()
        .map(|p| {
            (
                f64::from(p.threshold),
                (p.drafts > 0 || live.overall.answered > 0).then_some(p.coverage),
            )
        })
        .collect();
    let simulated: Vec<&Value> = summary
        .and_then(|s| s["risk_coverage"].as_array())
        .map(|points| points.iter().collect())
        .unwrap_or_default();
    let sim = |field: &str| -> Vec<(f64, Option<f64>)> {
        simulated
            .iter()
            .filter_map(|p| Some((p["threshold"].as_f64()?, p[field].as_f64())))
            .collect()
    };
    let mut series = vec![
        Series {
            name: "live precision",
            color: "#2c5cc5",
            points: live_precision,
        },
        Series {
            name: "live coverage",
            color: "#7b9be0",
            points: live_coverage,
        },
    ];
    if !simulated.is_empty() {
        series.push(Series {
            name: "simulated precision",
            color: "#a04500",
            points: sim("precision"),
        });
        series.push(Series {
            name: "simulated coverage",
            color: "#e0a060",
            points: sim("coverage"),
        });
    }
    let simulated_suggestion = summary.and_then(|s| s["suggested_threshold"]["threshold"].as_f64());
    let mut markers = vec![Marker {
        x: f64::from(configured),
        label: format!("configured {configured:.2}"),
        color: "#475867",
    }];
    if let Some(t) = live.suggested_threshold {
        markers.push(Marker {
            x: f64::from(t),
            label: format!("live suggests {t:.2}"),
            color: "#2c5cc5",
        });
    }
    if let Some(t) = simulated_suggestion {
        markers.push(Marker {
            x: t,
            label: format!("simulation suggests {t:.2}"),
            color: "#a04500",
        });
    }
    let chart = line_chart(
        "risk",
        "Risk-coverage: live and simulated",
        "Precision and coverage at each confidence threshold, from live outcomes (precision: sent nearly as written) and the latest simulation (precision: judged good).",
        "confidence threshold",
        &series,
        &markers,
    );
    let suggestion = format!(
        "<p id=\"suggested\">Target precision {}: live outcomes suggest {}; the simulation suggests {}; configured: {configured:.2}.</p>",
        percent(Some(live.target_precision)),
        live.suggested_threshold
            .map_or("no threshold yet".into(), |t| format!("{t:.2}")),
        simulated_suggestion.map_or("nothing (no report)".into(), |t| format!("{t:.2}")),
    );
    let rows: String = live
        .risk_coverage
        .iter()
        .map(|p| {
            let simulated_point = simulated.iter().find(|s| {
                s["threshold"].as_f64().is_some_and(|t| (t - f64::from(p.threshold)).abs() < 1e-6)
            });
            format!(
                "<tr><td class=\"num\">{:.2}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                p.threshold,
                percent(Some(p.coverage)),
                percent(p.precision),
                percent(simulated_point.and_then(|s| s["coverage"].as_f64())),
                percent(simulated_point.and_then(|s| s["precision"].as_f64())),
            )
        })
        .collect();
    format!(
        "<h3>Risk-coverage</h3>{suggestion}<figure class=\"figure\" id=\"chart-risk\">{chart}</figure>\
         <details class=\"table\"><summary>Risk-coverage as a table</summary><table class=\"data\"><thead><tr>\
         <th scope=\"col\">threshold</th><th scope=\"col\">live coverage</th><th scope=\"col\">live precision</th>\
         <th scope=\"col\">simulated coverage</th><th scope=\"col\">simulated precision</th></tr></thead><tbody>{rows}</tbody></table></details>"
    )
}

#[cfg(test)]
#[path = "lead_tests.rs"]
mod tests;
