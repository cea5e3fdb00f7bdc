//! Builds the private-note HTML from a draft. Every piece of text (from the model, the ticket or
//! a past case) is escaped; the only markup is ours, from a small allow-list (`p`, `br`, `b`,
//! `ul`, `li`, `a` with an http(s) `href`).

use super::{Draft, DraftKind};

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

/// Text made safe to place in note HTML.
pub fn escape_text(text: &str) -> String {
    escape(text)
}

fn escape_attribute(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

/// Paragraphs separated by blank lines, single newlines as `<br>`; every piece escaped.
pub fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            format!(
                "<p>{}</p>",
                p.lines().map(escape).collect::<Vec<_>>().join("<br>")
            )
        })
        .collect()
}

fn link(url: &str, label: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!(
            "<a href=\"{}\">{}</a>",
            escape_attribute(url),
            escape(label)
        )
    } else {
        escape(label)
    }
}

/// "12 days old", or "undated" for timeless knowledge-folder documents.
pub fn describe_age(age_days: Option<i64>) -> String {
    match age_days {
        Some(1) => "1 day old".to_string(),
        Some(days) => format!("{days} days old"),
        None => "undated".to_string(),
    }
}

/// The note an agent sees: the draft (or why there is none), confidence, flags and sources.
pub fn render_note_html(draft: &Draft) -> String {
    let mut html = String::new();
    match draft.kind {
        DraftKind::Abstained => {
            html.push_str("<p><b>deskdraft: no draft</b></p>");
            html.push_str(&paragraphs(draft.abstain_reason.as_deref().unwrap_or("")));
        }
        DraftKind::RetrievalOnly => {
            let how = if draft.llm_fallback.is_some() {
                "retrieval-only fallback: the language model failed"
            } else {
                "retrieval-only"
            };
            html.push_str(&format!(
                "<p><b>deskdraft suggested reply</b> ({how}, confidence {:.2})</p>",
                draft.confidence
            ));
            html.push_str(&paragraphs(&draft.text));
        }
        DraftKind::Generated => {
            let model = draft
                .llm
                .as_ref()
                .map_or("a language model", |u| u.model.as_str());
            html.push_str(&format!(
                "<p><b>deskdraft suggested reply</b> (written by {} from {} cited sources, confidence {:.2})</p>",
                escape(model),
                draft.sources.len(),
                draft.confidence
            ));
            html.push_str(&paragraphs(&draft.text));
        }
    }
    if !draft.flags.is_empty() {
        html.push_str("<p><b>Check before sending</b></p><ul>");
        for flag in &draft.flags {
            html.push_str(&format!("<li>{}</li>", escape(flag)));
        }
        html.push_str("</ul>");
    }
    if !draft.sources.is_empty() {
        html.push_str("<p><b>Sources</b></p><ul>");
        for source in &draft.sources {
            let title = format!("{} [{}]", source.title, source.key);
            let label = match &source.url {
                Some(url) => link(url, &title),
                None => escape(&title),
            };
            html.push_str(&format!(
                "<li>{label} ({})</li>",
                describe_age(source.age_days)
            ));
        }
        html.push_str("</ul>");
    }
    html
}
