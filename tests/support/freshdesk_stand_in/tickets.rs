//! Ticket reads of the Freshdesk stand-in: `GET /tickets` (filters, the 30-day window,
//! `updated_since`, order, page cap), `GET /tickets/{id}` and its conversations. Archived
//! tickets are none of these (see `archive.rs`).

use std::collections::BTreeSet;

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use deskdraft::domain::Ticket;
use serde_json::Value;

use super::routes::{Reply, not_found, paginate, paging, param, validation};
use super::{Shared, to_value};

fn parse_since(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

const LIST_PARAMS: &[&str] = &[
    "filter",
    "requester_id",
    "email",
    "unique_external_id",
    "company_id",
    "updated_since",
    "order_by",
    "order_type",
    "include",
    "page",
    "per_page",
];

pub fn list_tickets(
    shared: &Shared,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    if let Some((k, _)) = pairs
        .iter()
        .find(|(k, _)| !LIST_PARAMS.contains(&k.as_str()))
    {
        return validation(k, "Unexpected/invalid field in request", "invalid_field");
    }
    let includes: BTreeSet<&str> = param(pairs, "include")
        .map(|v| v.split(',').collect())
        .unwrap_or_default();
    if includes
        .iter()
        .any(|i| !["stats", "requester", "description"].contains(i))
    {
        return validation(
            "include",
            "It should be one of these values: 'stats,requester,description'",
            "invalid_value",
        );
    }
    let filter = param(pairs, "filter");
    if filter.is_some_and(|f| !["new_and_my_open", "watching", "spam", "deleted"].contains(&f)) {
        return validation(
            "filter",
            "It should be one of these values: 'new_and_my_open,watching,spam,deleted'",
            "invalid_value",
        );
    }
    let since = match param(pairs, "updated_since") {
        Some(raw) => match parse_since(raw) {
            Some(t) => Some(t),
            None => {
                return validation(
                    "updated_since",
                    "It should be in the 'combined date and time ISO8601' format",
                    "invalid_value",
                );
            }
        },
        None => None,
    };
    if let Ok((page, _)) = paging(pairs)
        && page > shared.config.max_pages as usize
    {
        let message = format!(
            "You cannot access tickets beyond the {}th page. Please provide a smaller page number.",
            shared.config.max_pages
        );
        return validation("page", &message, "invalid_value");
    }
    let order_by = param(pairs, "order_by").unwrap_or("created_at");
    let descending = param(pairs, "order_type").unwrap_or("desc") != "asc";
    let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let thirty_days_ago = Utc::now() - chrono::Duration::days(30);
    let mut tickets: Vec<_> = data
        .tickets
        .values()
        // Archived tickets live in another store: no filter lists them (SRC id 11969752914).
        .filter(|t| !t.archived)
        .filter(|t| match filter {
            Some("spam") => t.spam,
            Some("deleted") => t.deleted,
            _ => !t.spam && !t.deleted,
        })
        // Without updated_since only tickets created in the last 30 days are listed.
        .filter(|t| since.map_or(t.created_at >= thirty_days_ago, |s| t.updated_at >= s))
        .collect();
    tickets.sort_by(|a, b| {
        let key = |t: &Ticket| match order_by {
            "updated_at" => t.updated_at,
            _ => t.created_at,
        };
        let by = if order_by == "status" {
            a.status.cmp(&b.status)
        } else {
            key(a).cmp(&key(b))
        };
        let by = if descending { by.reverse() } else { by };
        by.then(a.id.cmp(&b.id))
    });
    let items = tickets
        .into_iter()
        .map(|t| {
            let mut value = to_value(t);
            if let Some(object) = value.as_object_mut() {
                object.remove("conversations");
                if !includes.contains("description") {
                    object.remove("description");
                    object.remove("description_text");
                }
            }
            value
        })
        .collect();
    drop(data);
    paginate(items, pairs, headers, path)
}

/// The ticket as `GET /tickets/{id}` (and `PUT`) returns it: no `conversations` key unless
/// `include=conversations` asked for the first ten.
pub fn ticket_value(ticket: &Ticket, embed_conversations: bool) -> Value {
    let mut value = to_value(ticket);
    if let Some(object) = value.as_object_mut() {
        if embed_conversations {
            let first: Vec<Value> = ticket.conversations.iter().take(10).map(to_value).collect();
            object.insert("conversations".into(), Value::Array(first));
        } else {
            object.remove("conversations");
        }
    }
    value
}

/// `GET /tickets/{id}`: 404 for unknown and archived ids (public v2 `load_object`, SRC id
/// 11969752914). Spam and deleted tickets are served with their flags.
pub fn view_ticket(shared: &Shared, raw: &str, pairs: &[(String, String)]) -> Reply {
    let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let Some(ticket) = raw
        .parse::<i64>()
        .ok()
        .and_then(|id| data.tickets.get(&id))
        .filter(|t| !t.archived)
    else {
        return not_found();
    };
    let includes: Vec<&str> = param(pairs, "include")
        .map(|v| v.split(',').collect())
        .unwrap_or_default();
    if includes
        .iter()
        .any(|i| !["conversations", "requester", "company", "stats"].contains(i))
    {
        return validation(
            "include",
            "It should be one of these values: 'conversations,requester,company,stats'",
            "invalid_value",
        );
    }
    Reply::new(
        StatusCode::OK,
        ticket_value(ticket, includes.contains(&"conversations")),
    )
}

/// `GET /tickets/{id}/conversations`, oldest first, paginated.
pub fn conversations(
    shared: &Shared,
    raw: &str,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let Some(ticket) = raw
        .parse::<i64>()
        .ok()
        .and_then(|id| data.tickets.get(&id))
        .filter(|t| !t.archived)
    else {
        return not_found();
    };
    let items = ticket.conversations.iter().map(to_value).collect();
    drop(data);
    paginate(items, pairs, headers, path)
}
