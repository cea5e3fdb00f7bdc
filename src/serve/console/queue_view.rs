//! The queue page at `/`: drafts by filter (product, confidence band, flags, status), search by
//! ticket id or text, server-side pages, each line linking to the draft with the filter kept, so
//! next/previous and the place after an action follow the same list.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::layout::{Section, ago, attribute, escape, plain, shell, shortcuts};
use super::names::{ConsoleContext, product_label};
use crate::draft::confidence::{band_of, bands};
use crate::helpdesk::HelpdeskRead;
use crate::queue::{DraftStatus, JobQueue, QueueError, QueueFilter, QueueRow};
use crate::serve::ServeState;
use crate::serve::auth::current_session;

/// Drafts per page.
pub const PER_PAGE: u64 = 25;

const STATUSES: [(&str, &str); 7] = [
    ("pending", "Waiting for review"),
    ("abstained", "No draft (abstained)"),
    ("sending", "Being sent"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("superseded", "Superseded"),
    ("all", "Any status"),
];

/// The console's query string: the filter, the page, and what just happened.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ConsoleQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u64>,
    /// `approved` or `rejected`: the action just done, shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<i64>,
    /// The draft the agent came back from (its line is focused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ConsoleQuery {
    pub fn status(&self) -> Option<DraftStatus> {
        match non_empty(&self.status).unwrap_or("pending") {
            "all" => None,
            other => serde_json::from_value(serde_json::Value::String(other.into()))
                .ok()
                .or(Some(DraftStatus::Pending)),
        }
    }

    pub fn filter(&self) -> QueueFilter {
        QueueFilter {
            status: self.status(),
            product: non_empty(&self.product).map(|p| {
                if p == "none" {
                    String::new()
                } else {
                    p.to_string()
                }
            }),
            band: non_empty(&self.band).and_then(|label| bands().find(|b| b.label == label)),
            flagged: match non_empty(&self.flags) {
                Some("with") => Some(true),
                Some("without") => Some(false),
                _ => None,
            },
            search: non_empty(&self.q).map(str::to_string),
        }
    }

    /// Only the filter, normalised (what links and redirects carry; never the flash).
    pub fn filter_only(&self) -> ConsoleQuery {
        let filter = self.filter();
        ConsoleQuery {
            status: Some(filter.status.map_or("all", DraftStatus::as_str).to_string())
                .filter(|s| s != "pending"),
            product: filter
                .product
                .map(|p| if p.is_empty() { "none".to_string() } else { p }),
            band: filter.band.map(|b| b.label.to_string()),
            flags: filter
                .flagged
                .map(|f| if f { "with" } else { "without" }.to_string()),
            q: filter.search,
            ..ConsoleQuery::default()
        }
    }

    pub fn to_query_string(&self) -> String {
        serde_urlencoded_like(self)
    }
}

/// `key=value&...` of the query's set fields, form-encoded.
fn serde_urlencoded_like(query: &ConsoleQuery) -> String {
    let value = serde_json::to_value(query).unwrap_or_default();
    let mut encoder = url::form_urlencoded::Serializer::new(String::new());
    if let Some(map) = value.as_object() {
        for (key, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            encoder.append_pair(key, &text);
        }
    }
    encoder.finish()
}

/// `?query` or nothing.
pub fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

pub async fn queue_page(
    State(state): State<ServeState>,
    headers: HeaderMap,
    Query(query): Query<ConsoleQuery>,
) -> Response {
    let Some(session) = current_session(&state.queue, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    match render_queue(
        &state.queue,
        &state.console,
        state.read.as_ref(),
        &query,
        &session.csrf,
    )
    .await
    {
        Ok(html) => html.into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            plain(
                "deskdraft",
                &format!("<p>{}</p>", escape(&error.to_string())),
            ),
        )
            .into_response(),
    }
}

/// The queue page's HTML (public for the benchmark: this is the server's whole work).
pub async fn render_queue(
    queue: &JobQueue,
    console: &ConsoleContext,
    read: &dyn HelpdeskRead,
    query: &ConsoleQuery,
    csrf: &str,
) -> Result<axum::response::Html<String>, QueueError> {
    let filter = query.filter();
    let page = queue
        .queue_page(&filter, query.page.unwrap_or(1), PER_PAGE)
        .await?;
    let products = queue.draft_products(filter.status).await?;
    let names = console.product_names(read).await;
    let kept = query.filter_only();
    let kept_query = kept.to_query_string();

    let mut main = String::new();
    if let (Some(done), Some(ticket)) = (query.done.as_deref(), query.ticket) {
        main.push_str(&flash(done, ticket));
    }
    main.push_str(&format!(
        "<h2>Review queue <span class=\"muted\">{} draft{}</span></h2>",
        page.total,
        if page.total == 1 { "" } else { "s" }
    ));
    main.push_str(&filters_form(&kept, &products, &names));
    if page.rows.is_empty() {
        main.push_str("<p id=\"empty\">No drafts match these filters.</p>");
    } else {
        main.push_str(
            "<table class=\"queue\"><caption class=\"muted\" style=\"text-align:left\">Newest first. \
             Open a draft to review it beside its ticket.</caption><thead><tr>\
             <th scope=\"col\">Ticket</th><th scope=\"col\">Subject and draft</th>\
             <th scope=\"col\">Product</th><th scope=\"col\">Confidence</th><th scope=\"col\">Flags</th>\
             <th scope=\"col\">Status</th><th scope=\"col\" class=\"col-age\">Drafted</th></tr></thead><tbody>",
        );
        for row in &page.rows {
            main.push_str(&queue_row(row, &names, &kept_query));
        }
        main.push_str("</tbody></table>");
    }
    main.push_str(&pager(page.page, page.pages(), &kept));
    main.push_str(&shortcuts(&[
        ("j k", "next / previous draft in the list"),
        ("Enter o", "open the focused draft"),
        ("/", "search by ticket id or text"),
        ("f", "filters (Enter in a filter applies them)"),
        ("[ ]", "previous / next page"),
        ("l", "lead's view"),
    ]));
    let from = query
        .from
        .as_deref()
        .map(|id| format!(" data-from=\"{}\"", attribute(id)))
        .unwrap_or_default();
    Ok(shell(
        "deskdraft: review queue",
        "queue",
        Section::Queue,
        csrf,
        &from,
        &main,
    ))
}

/// What an action did, announced to screen readers too.
pub fn flash(done: &str, ticket: i64) -> String {
    let what = match done {
        "approved" => "approved: the reply is being sent",
        "rejected" => "rejected",
        _ => return String::new(),
    };
    format!(
        "<p class=\"flash\" role=\"status\" id=\"flash\">Draft for ticket #{ticket} {what}.</p>"
    )
}

fn option(value: &str, label: &str, selected: bool) -> String {
    format!(
        "<option value=\"{}\"{}>{}</option>",
        attribute(value),
        if selected { " selected" } else { "" },
        escape(label)
    )
}

fn filters_form(
    kept: &ConsoleQuery,
    products: &[(Option<String>, u64)],
    names: &HashMap<String, String>,
) -> String {
    let product = kept.product.as_deref().unwrap_or("");
    let mut product_options = option("", "All products", product.is_empty());
    let mut labelled: Vec<(String, String, u64)> = products
        .iter()
        .map(|(key, count)| {
            (
                key.clone().unwrap_or_else(|| "none".into()),
                product_label(names, key.as_deref()),
                *count,
            )
        })
        .collect();
    labelled.sort_by_key(|entry| entry.1.to_lowercase());
    if !product.is_empty() && !labelled.iter().any(|(key, _, _)| key == product) {
        labelled.push((product.to_string(), product_label(names, Some(product)), 0));
    }
    for (key, label, count) in labelled {
        product_options.push_str(&option(&key, &format!("{label} ({count})"), key == product));
    }
    let band = kept.band.as_deref().unwrap_or("");
    let mut band_options = option("", "All bands", band.is_empty());
    for b in bands().collect::<Vec<_>>().into_iter().rev() {
        band_options.push_str(&option(b.label, &band_name(b.label), band == b.label));
    }
    let flags = kept.flags.as_deref().unwrap_or("");
    let flag_options = [
        ("", "Any"),
        ("with", "With flags to check"),
        ("without", "Without flags"),
    ]
    .iter()
    .map(|(v, l)| option(v, l, flags == *v))
    .collect::<String>();
    let status = kept.status.as_deref().unwrap_or("pending");
    let status_options = STATUSES
        .iter()
        .map(|(v, l)| option(v, l, status == *v))
        .collect::<String>();
    format!(
        "<form id=\"filters\" class=\"filters\" method=\"get\" action=\"/\" role=\"search\" aria-label=\"Filter drafts\">\
         <label class=\"field\" for=\"filter-product\">Product<select class=\"input\" id=\"filter-product\" name=\"product\">{product_options}</select></label>\
         <label class=\"field\" for=\"filter-band\">Confidence<select class=\"input\" id=\"filter-band\" name=\"band\">{band_options}</select></label>\
         <label class=\"field\" for=\"filter-flags\">Flags<select class=\"input\" id=\"filter-flags\" name=\"flags\">{flag_options}</select></label>\
         <label class=\"field\" for=\"filter-status\">Status<select class=\"input\" id=\"filter-status\" name=\"status\">{status_options}</select></label>\
         <label class=\"field search\" for=\"search\">Ticket id or text<input class=\"input\" type=\"search\" id=\"search\" name=\"q\" value=\"{}\"></label>\
         <button class=\"btn btn--primary\" type=\"submit\">Apply</button> <a class=\"btn\" href=\"/\">Clear</a></form>",
        attribute(kept.q.as_deref().unwrap_or(""))
    )
}

/// "High confidence", "Medium confidence", "Low confidence".
pub fn band_name(label: &str) -> String {
    let mut chars = label.chars();
    let first = chars.next().map(|c| c.to_uppercase().to_string());
    format!("{}{} confidence", first.unwrap_or_default(), chars.as_str())
}

/// The band badge of a draft (never a bare number: the score is in the title).
pub fn band_badge(kind: &str, confidence: f32) -> String {
    if kind == "abstained" {
        return "<span class=\"badge badge-abstained\">No draft</span>".into();
    }
    let band = band_of(confidence);
    format!(
        "<span class=\"badge band-{}\" title=\"score {:.2} on 0 to 1\">{}</span>",
        band.label,
        confidence,
        escape(&band_name(band.label))
    )
}

fn queue_row(row: &QueueRow, names: &HashMap<String, String>, kept_query: &str) -> String {
    let id = attribute(&row.id);
    let href = with_query(&format!("/drafts/{}", row.id), kept_query);
    let subject = row
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(escape)
        .unwrap_or_else(|| format!("Ticket #{}", row.ticket_id));
    let flags = if row.flag_count > 0 {
        format!(
            "<span class=\"badge badge-flag\">{} to check</span>",
            row.flag_count
        )
    } else {
        "<span class=\"muted\">none</span>".into()
    };
    format!(
        "<tr class=\"row\" data-id=\"{id}\"><td>#{}</td>\
         <td class=\"col-subject\"><a class=\"row-link subject\" id=\"row-{id}\" href=\"{}\">{subject}</a>\
         <div class=\"excerpt col-excerpt\">{}</div></td><td>{}</td><td>{}</td><td>{flags}</td>\
         <td><span class=\"badge badge-status\">{}</span></td><td class=\"col-age\">{}</td></tr>",
        row.ticket_id,
        attribute(&href),
        escape(&row.excerpt),
        escape(&product_label(names, row.product.as_deref())),
        band_badge(&row.kind, row.confidence),
        row.status.as_str(),
        ago(row.created_at),
    )
}

fn pager(page: u64, pages: u64, kept: &ConsoleQuery) -> String {
    let link = |target: u64, id: &str, label: &str| {
        let query = ConsoleQuery {
            page: Some(target),
            ..kept.clone()
        };
        format!(
            "<a class=\"btn\" id=\"{id}\" href=\"{}\">{label}</a>",
            attribute(&with_query("/", &query.to_query_string()))
        )
    };
    let previous = if page > 1 {
        link(page - 1, "page-previous", "Previous page")
    } else {
        String::new()
    };
    let next = if page < pages {
        link(page + 1, "page-next", "Next page")
    } else {
        String::new()
    };
    format!(
        "<nav class=\"pager\" aria-label=\"Pages\">{previous}<span>Page {page} of {pages}</span>{next}</nav>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_keeps_only_a_normalised_filter() {
        let query: ConsoleQuery = serde_json::from_value(serde_json::json!({
            "status": "rejected", "product": "7", "band": "nonsense", "flags": "with",
            "q": " kettle ", "page": 3, "done": "approved", "ticket": 5
        }))
        .unwrap();
        let filter = query.filter();
        assert_eq!(filter.status, Some(DraftStatus::Rejected));
        assert_eq!(filter.band, None, "an unknown band does not filter");
        assert_eq!(filter.search.as_deref(), Some("kettle"));
        assert_eq!(
            query.filter_only().to_query_string(),
            "status=rejected&product=7&flags=with&q=kettle"
        );
        let default = ConsoleQuery::default();
        assert_eq!(default.filter().status, Some(DraftStatus::Pending));
        assert_eq!(default.filter_only().to_query_string(), "");
        let all = ConsoleQuery {
            status: Some("all".into()),
            product: Some("none".into()),
            ..ConsoleQuery::default()
        };
        assert_eq!(all.filter().status, None);
        assert_eq!(all.filter().product.as_deref(), Some(""));
    }
}
