//! Knowledge gaps on the lead's view: those of live drafts (topics of the customer messages
//! that got no good draft, computed by `serve::live_gaps`), and those of the latest simulation,
//! whatever shape its report gives them (a table of objects, lists, plain values), shown without
//! assuming a schema, so an older or newer report still renders.

use serde_json::Value;

use super::layout::{attribute, escape};
use crate::simulate::gaps::KnowledgeGaps;

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if n.is_f64() && f.abs() <= 1.0 => format!("{f:.2}"),
            _ => n.to_string(),
        }),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => Some(
            items
                .iter()
                .take(8)
                .filter_map(scalar)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    }
}

/// A list of objects as a table of their plain fields (at most 7 columns, 50 rows).
fn objects_table(items: &[Value]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for item in items.iter().take(20) {
        if let Some(map) = item.as_object() {
            for (key, value) in map {
                if scalar(value).is_some() && !columns.contains(key) && columns.len() < 7 {
                    columns.push(key.clone());
                }
            }
        }
    }
    if columns.is_empty() {
        let list: String = items
            .iter()
            .take(50)
            .filter_map(scalar)
            .map(|s| format!("<li>{}</li>", escape(&s)))
            .collect();
        return format!("<ul>{list}</ul>");
    }
    let head: String = columns
        .iter()
        .map(|c| format!("<th scope=\"col\">{}</th>", escape(&c.replace('_', " "))))
        .collect();
    let body: String = items
        .iter()
        .take(50)
        .map(|item| {
            let cells: String = columns
                .iter()
                .map(|c| {
                    format!(
                        "<td>{}</td>",
                        escape(&scalar(&item[c.as_str()]).unwrap_or_default())
                    )
                })
                .collect();
            format!("<tr>{cells}</tr>")
        })
        .collect();
    format!("<table class=\"data\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
}

/// The simulation's knowledge gaps: any top-level section whose name mentions gaps, shown as
/// its plain fields and tables of its lists, since the section's exact shape may change.
pub(super) fn knowledge_gaps(summary: Option<&Value>, configured: bool) -> String {
    let mut html =
        String::from("<h3 id=\"knowledge-gaps\">Knowledge gaps in the latest simulation</h3>");
    let Some(summary) = summary else {
        html.push_str(if configured {
            "<p class=\"muted\">The configured simulation folder has no readable summary.json.</p>"
        } else {
            "<p class=\"muted\">No simulation report is configured, so no knowledge gaps are known.</p>"
        });
        return html;
    };
    let sections: Vec<(&String, &Value)> = summary
        .as_object()
        .map(|map| {
            map.iter()
                .filter(|(k, _)| k.to_lowercase().contains("gap"))
                .collect()
        })
        .unwrap_or_default();
    if sections.is_empty() {
        html.push_str("<p class=\"muted\">The latest simulation report has no knowledge-gap section (it is written by newer simulations).</p>");
        return html;
    }
    for (name, value) in sections {
        html.push_str(&format!(
            "<section class=\"gaps\" data-section=\"{}\">",
            attribute(name)
        ));
        match value {
            Value::Array(items) => html.push_str(&objects_table(items)),
            Value::Object(map) => {
                let mut facts = String::new();
                for (key, field) in map {
                    match field {
                        Value::Array(items) if items.iter().any(Value::is_object) => {
                            html.push_str(&format!(
                                "<h4>{}</h4>{}",
                                escape(&key.replace('_', " ")),
                                objects_table(items)
                            ));
                        }
                        other => {
                            if let Some(text) = scalar(other) {
                                facts.push_str(&format!(
                                    "<dt>{}</dt><dd>{}</dd>",
                                    escape(&key.replace('_', " ")),
                                    escape(&text)
                                ));
                            }
                        }
                    }
                }
                if !facts.is_empty() {
                    html.push_str(&format!("<dl class=\"facts\">{facts}</dl>"));
                }
            }
            other => html.push_str(&format!(
                "<p>{}</p>",
                escape(&scalar(other).unwrap_or_default())
            )),
        }
        html.push_str("</section>");
    }
    html
}

/// The knowledge gaps of live drafts: one row per topic with what to write next. `None` when
/// the queue could not be read.
pub(super) fn live_knowledge_gaps(found: Option<&(KnowledgeGaps, usize)>) -> String {
    let mut html =
        String::from("<h3 id=\"live-knowledge-gaps\">Knowledge gaps from live drafts</h3>");
    let Some((gaps, considered)) = found else {
        html.push_str(
            "<p class=\"muted\">The queue could not be read for live knowledge gaps.</p>",
        );
        return html;
    };
    html.push_str(&format!(
        "<p id=\"live-gaps-count\">{} of the customer messages of the newest {considered} drafts got no good draft \
         (abstained, marked not useful, rejected, or rewritten or not used by the agent who replied){}.</p>",
        gaps.tickets,
        if gaps.unlisted_tickets > 0 {
            format!("; {} of them fit no topic of two or more", gaps.unlisted_tickets)
        } else {
            String::new()
        }
    ));
    if gaps.topics.is_empty() {
        html.push_str("<p class=\"muted\">No topic has two or more of them yet.</p>");
        return html;
    }
    let rows: String = gaps
        .topics
        .iter()
        .map(|topic| {
            let sources = topic
                .closest_sources
                .iter()
                .map(|s| match &s.url {
                    Some(url) => format!(
                        "<a href=\"{}\" target=\"_blank\" rel=\"noopener\">{}</a> ({})",
                        attribute(url),
                        escape(&s.title),
                        s.cited_by
                    ),
                    None => format!("{} ({})", escape(&s.title), s.cited_by),
                })
                .collect::<Vec<_>>()
                .join("; ");
            let examples = topic
                .example_ticket_ids
                .iter()
                .map(|id| format!("#{id}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "<tr><td>{}</td><td>{}</td><td>{} ({} without a draft)</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&topic.topic),
                escape(topic.product_name.as_deref().or(topic.product.as_deref()).unwrap_or("no product")),
                topic.volume,
                topic.without_draft,
                escape(&examples),
                escape(&topic.representative_question),
                if sources.is_empty() { "none".to_string() } else { sources },
            ) + &format!(
                "<tr class=\"suggestion\"><td colspan=\"6\">Suggested article: <strong>{}</strong></td></tr>",
                escape(&topic.suggested_article_title)
            )
        })
        .collect();
    html.push_str(&format!(
        "<div class=\"scroll\"><table class=\"data\" id=\"live-gaps\"><thead><tr>\
         <th scope=\"col\">topic</th><th scope=\"col\">product</th><th scope=\"col\">messages</th>\
         <th scope=\"col\">examples</th><th scope=\"col\">what customers ask</th>\
         <th scope=\"col\">closest sources (drafts citing)</th></tr></thead><tbody>{rows}</tbody></table></div>"
    ));
    html
}
