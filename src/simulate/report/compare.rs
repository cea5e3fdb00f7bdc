//! The comparison's files: `compare.json` (the data), `compare.md` (the side-by-side table, for a
//! README or a pull request) and `compare.html` (the table and the per-ticket cards, self-contained
//! like `report.html`: no script, no network, every text through [`esc`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::svg::esc;
use super::{ReportError, write_atomic};
use crate::simulate::compare::{Comparison, DrafterMetrics, SideCard};

/// One row of the table: a label and the value of each side.
fn rows(c: &Comparison) -> Vec<(&'static str, String, String)> {
    let both = |f: &dyn Fn(&DrafterMetrics) -> String| (f(&c.retrieval_only), f(&c.llm));
    let rate = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
    let num = |v: f64| format!("{v:.3}");
    let ms = |v: f64| format!("{v:.0} ms");
    let mut table = Vec::new();
    let mut push = |label, (a, b): (String, String)| table.push((label, a, b));
    push("tickets", both(&|m| m.tickets.to_string()));
    push(
        "drafts written by the model",
        both(&|m| m.generated.to_string()),
    );
    push(
        "fallback rate (model answer unusable)",
        both(&|m| num(m.fallback_rate)),
    );
    push(
        "abstention rate (at threshold)",
        both(&|m| num(m.abstention_rate)),
    );
    push(
        "article hit@1 / hit@3 / hit@5",
        both(&|m| {
            let a = &m.article_agreement;
            format!(
                "{:.3} / {:.3} / {:.3} (n={})",
                a.hit_at_1, a.hit_at_3, a.hit_at_5, a.eligible_tickets
            )
        }),
    );
    push(
        "mean cosine to the real reply",
        both(&|m| num(m.similarity.mean_cosine)),
    );
    push(
        "mean ROUGE-L F1 to the real reply",
        both(&|m| num(m.similarity.mean_rouge_l_f1)),
    );
    push(
        "language match rate",
        both(&|m| rate(m.similarity.language_match_rate)),
    );
    push(
        "median length ratio (draft / real reply)",
        both(&|m| rate(m.similarity.median_length_ratio)),
    );
    push(
        "mean draft length (chars)",
        both(&|m| rate(m.mean_draft_chars)),
    );
    push(
        "model answers checked",
        both(&|m| m.checked_answers.to_string()),
    );
    push(
        "answers with invented ids dropped (ids)",
        both(&|m| format!("{} ({})", rate(m.invented_id_rate), m.invented_ids_dropped)),
    );
    push(
        "answers with links removed (links)",
        both(&|m| format!("{} ({})", rate(m.link_removed_rate), m.links_removed)),
    );
    push(
        "answers with unsupported claims",
        both(&|m| rate(m.unsupported_claim_rate)),
    );
    push(
        "answers in the wrong language",
        both(&|m| rate(m.language_mismatch_rate)),
    );
    push(
        "self-rated confidence clamped",
        both(&|m| rate(m.confidence_clamped_rate)),
    );
    push(
        "prompts fitted (sources left out/shortened)",
        both(&|m| rate(m.prompt_fitted_rate)),
    );
    push(
        "structured output",
        both(&|m| {
            if m.structured_output.is_empty() {
                "–".to_string()
            } else {
                m.structured_output
                    .iter()
                    .map(|(form, n)| format!("{form}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }),
    );
    push("latency p50 per draft", both(&|m| ms(m.latency.p50)));
    push("latency p95 per draft", both(&|m| ms(m.latency.p95)));
    push(
        "tokens prompt / completion (mean per call)",
        both(&|m| {
            format!(
                "{} / {} ({} / {})",
                m.total_prompt_tokens,
                m.total_completion_tokens,
                rate(m.mean_prompt_tokens),
                rate(m.mean_completion_tokens)
            )
        }),
    );
    table
}

pub fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Retrieval-only vs {} on {}\n\n{}; confidence threshold {}; context {} tokens; model calls {} at a time.\n",
        c.model,
        c.bundle,
        c.selection,
        c.confidence_threshold,
        c.context_tokens
            .map_or("unknown".to_string(), |t| t.to_string()),
        c.llm_concurrency
    );
    let _ = writeln!(
        out,
        "| | retrieval-only | {} |\n|---|---|---|",
        c.llm.drafter
    );
    for (label, a, b) in rows(c) {
        let _ = writeln!(out, "| {label} | {a} | {b} |");
    }
    if !c.llm.fallback_reasons.is_empty() {
        let _ = writeln!(out, "\nFallback reasons:\n");
        for (reason, n) in &c.llm.fallback_reasons {
            let _ = writeln!(out, "- {n} × {reason}");
        }
    }
    out
}

fn side_html(page: &mut String, title: &str, side: &SideCard) {
    let opt = |v: Option<f32>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
    let _ = write!(
        page,
        "<div class=side><h4>{}</h4><p class=meta>{} · confidence {:.2} · cosine {} · ROUGE-L {} · hit@3 {} · {:.0} ms</p><pre>{}</pre>",
        esc(title),
        esc(&side.kind),
        side.confidence,
        opt(side.cosine),
        opt(side.rouge_l_f1),
        side.hit_at_3.map_or("–", |h| if h { "yes" } else { "no" }),
        side.millis,
        esc(&side.draft_text)
    );
    if let Some(reason) = &side.fallback {
        let _ = write!(page, "<p class=flag>fallback: {}</p>", esc(reason));
    }
    if !side.flags.is_empty() {
        page.push_str("<ul>");
        for flag in &side.flags {
            let _ = write!(page, "<li>{}</li>", esc(flag));
        }
        page.push_str("</ul>");
    }
    page.push_str("</div>");
}

pub fn html(c: &Comparison) -> String {
    let mut page = String::from(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>deskdraft comparison</title><style>\
         body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
         .card{border:1px solid #ccc;margin:1em 0;padding:0 1em}.pair{display:flex;gap:1em}\
         .side{flex:1}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}.meta{color:#555}\
         .flag{color:#a40}</style></head><body>",
    );
    let _ = write!(
        page,
        "<h1>Retrieval-only vs {}</h1><p>{} · {} · threshold {} · context {} tokens</p>",
        esc(&c.model),
        esc(&c.bundle),
        esc(&c.selection),
        c.confidence_threshold,
        c.context_tokens
            .map_or("unknown".to_string(), |t| t.to_string())
    );
    let _ = write!(
        page,
        "<table><tr><th></th><th>retrieval-only</th><th>{}</th></tr>",
        esc(&c.llm.drafter)
    );
    for (label, a, b) in rows(c) {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(label),
            esc(&a),
            esc(&b)
        );
    }
    page.push_str("</table><h2>Where they differ most</h2>");
    for card in &c.cards {
        let _ = write!(
            page,
            "<div class=card><h3>Ticket {} (difference {:.2})</h3><p><b>Customer</b></p><pre>{}</pre><p><b>Real reply</b></p><pre>{}</pre><div class=pair>",
            card.ticket_id,
            card.difference,
            esc(&card.customer_text),
            esc(&card.reference_reply)
        );
        side_html(&mut page, "retrieval-only", &card.retrieval_only);
        side_html(&mut page, &c.llm.drafter, &card.llm);
        page.push_str("</div></div>");
    }
    page.push_str("</body></html>\n");
    page
}

/// Writes the three files; returns their paths (json, markdown, html).
pub fn write(out_dir: &Path, c: &Comparison) -> Result<(PathBuf, PathBuf, PathBuf), ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let json_path = out_dir.join("compare.json");
    let md_path = out_dir.join("compare.md");
    let html_path = out_dir.join("compare.html");
    let json = serde_json::to_vec_pretty(c).map_err(|e| ReportError::Write {
        path: json_path.clone(),
        source: std::io::Error::other(e),
    })?;
    write_atomic(&json_path, &json)?;
    write_atomic(&md_path, markdown(c).as_bytes())?;
    write_atomic(&html_path, html(c).as_bytes())?;
    Ok((json_path, md_path, html_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::compare::TicketComparison;

    #[test]
    fn ticket_text_is_escaped_and_both_sides_are_shown() {
        let comparison = Comparison {
            model: "gemma3-270m".into(),
            llm: DrafterMetrics {
                drafter: "llm (gemma3-270m)".into(),
                fallback_rate: 0.25,
                ..DrafterMetrics::default()
            },
            cards: vec![TicketComparison {
                ticket_id: 7,
                customer_text: "<script>alert(1)</script>".into(),
                llm: SideCard {
                    draft_text: "<img src=x onerror=alert(1)>".into(),
                    ..SideCard::default()
                },
                ..TicketComparison::default()
            }],
            ..Comparison::default()
        };
        let page = html(&comparison);
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("<img src=x"));
        assert!(page.contains("&lt;script&gt;"));
        let md = markdown(&comparison);
        assert!(
            md.contains("| fallback rate (model answer unusable) | 0.000 | 0.250 |"),
            "{md}"
        );
    }
}
