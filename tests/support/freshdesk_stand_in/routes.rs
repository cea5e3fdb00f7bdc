//! Routing and resource behaviour of the Freshdesk stand-in (tickets, conversations, notes,
//! replies, solutions, agents/me), with Freshdesk's validation and error shapes.

use std::collections::BTreeSet;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::writes::{create_conversation, update_conversation};
use super::{AGENT_ID, Shared, to_value};

/// A response before the rate-limit headers are added.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// Replaces the JSON body (malformed-JSON fault).
    pub raw: Option<String>,
    pub link: Option<String>,
    pub location: Option<String>,
}

impl Reply {
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            raw: None,
            link: None,
            location: None,
        }
    }

    pub fn into_response(self, total: u32, remaining: u32, used: u32) -> Response {
        let text = self.raw.unwrap_or_else(|| self.body.to_string());
        let mut response = Response::new(axum::body::Body::from(text));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert("x-ratelimit-total", HeaderValue::from(total));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("x-ratelimit-used-currentrequest", HeaderValue::from(used));
        headers.insert(
            "x-freshdesk-api-version",
            HeaderValue::from_static("latest=v2; requested=v2"),
        );
        headers.insert("x-request-id", HeaderValue::from_static("stand-in"));
        for (name, value) in [(header::LINK, self.link), (header::LOCATION, self.location)] {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name, value);
            }
        }
        response
    }
}

pub fn validation(field: &str, message: &str, code: &str) -> Reply {
    Reply::new(
        StatusCode::BAD_REQUEST,
        json!({"description": "Validation failed", "errors": [{"field": field, "message": message, "code": code}]}),
    )
}

pub fn not_found() -> Reply {
    Reply::new(
        StatusCode::NOT_FOUND,
        json!({"code": "not_found", "message": "The requested resource could not be found"}),
    )
}

/// Credits: list 1 + 2 per include, view 1 + 1 per include, everything else 1.
pub fn credit_cost(method: &Method, path: &str, pairs: &[(String, String)]) -> u32 {
    let includes = pairs
        .iter()
        .filter(|(k, _)| k == "include")
        .map(|(_, v)| v.split(',').filter(|s| !s.is_empty()).count() as u32)
        .sum::<u32>();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["api", "v2", "tickets"]) => 1 + 2 * includes,
        (&Method::GET, ["api", "v2", "tickets", _]) => 1 + includes,
        _ => 1,
    }
}

/// Basic auth with the API key as user name and any password.
pub fn authorised(headers: &HeaderMap, api_key: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Some(decoded) = base64_decode(encoded.trim()) else {
        return false;
    };
    let text = String::from_utf8_lossy(&decoded);
    text.split_once(':')
        .is_some_and(|(user, _)| user == api_key)
}

fn base64_decode(input: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in input.bytes().filter(|&b| b != b'=') {
        let value = ALPHABET.iter().position(|&c| c == byte)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `page`/`per_page` validation shared by every list.
#[allow(clippy::result_large_err)] // a test helper: an early HTTP reply, not an error path
fn paging(pairs: &[(String, String)]) -> Result<(usize, usize), Reply> {
    let page = match param(pairs, "page") {
        None => 1,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|&p| p >= 1)
            .ok_or_else(|| {
                validation(
                    "page",
                    "It should be a/an Positive Integer",
                    "invalid_value",
                )
            })?,
    };
    let per_page = match param(pairs, "per_page") {
        None => 30,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|&p| (1..=100).contains(&p))
            .ok_or_else(|| {
                validation(
                    "per_page",
                    "It should be a/an Positive Integer less than or equal to 100",
                    "invalid_value",
                )
            })?,
    };
    Ok((page, per_page))
}

/// One page of `items`, with a `Link` to the next page when more remain.
fn paginate(
    items: Vec<Value>,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    let (page, per_page) = match paging(pairs) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let start = (page - 1).saturating_mul(per_page);
    let more = items.len() > start.saturating_add(per_page);
    let slice: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
    let mut reply = Reply::new(StatusCode::OK, Value::Array(slice));
    if more {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "page") {
            query.append_pair(k, v);
        }
        query.append_pair("page", &(page + 1).to_string());
        reply.link = Some(format!(
            "<http://{host}{path}?{}>; rel=\"next\"",
            query.finish()
        ));
    }
    reply
}

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

fn list_tickets(
    shared: &Shared,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    if let Some((k, _)) = pairs
        .iter()
        .find(|(k, _)| !LIST_PARAMS.contains(&k.as_str()))
    {
        return Reply::new(
            StatusCode::BAD_REQUEST,
            json!({"field": k, "message": "Unexpected/invalid field in request", "code": "invalid_field"}),
        );
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
        .filter(|t| match filter {
            Some("spam") => t.spam,
            Some("deleted") => t.deleted,
            _ => !t.spam && !t.deleted,
        })
        // Without updated_since only tickets created in the last 30 days are listed.
        .filter(|t| since.map_or(t.created_at >= thirty_days_ago, |s| t.updated_at >= s))
        .collect();
    tickets.sort_by(|a, b| {
        let key = |t: &deskdraft::domain::Ticket| match order_by {
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

fn solutions(
    shared: &Shared,
    segments: &[&str],
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let stamp = "2018-01-01T00:00:00Z";
    let category_of = |a: &deskdraft::domain::Article| a.category_id.unwrap_or(1);
    let folder_of = |a: &deskdraft::domain::Article| a.folder_id.unwrap_or(1);
    let items: Vec<Value> = match segments {
        ["categories"] => {
            let ids: BTreeSet<i64> = data.articles.iter().map(category_of).collect();
            ids.into_iter()
                .map(|id| json!({"id": id, "name": format!("Category {id}"), "description": null, "created_at": stamp, "updated_at": stamp}))
                .collect()
        }
        ["categories", id, "folders"] => {
            let Ok(category) = id.parse::<i64>() else {
                return not_found();
            };
            let in_category: Vec<_> = data
                .articles
                .iter()
                .filter(|a| category_of(a) == category)
                .collect();
            if in_category.is_empty() {
                return not_found();
            }
            let ids: BTreeSet<i64> = in_category.iter().map(|a| folder_of(a)).collect();
            ids.into_iter()
                .map(|id| {
                    let count = in_category.iter().filter(|a| folder_of(a) == id).count();
                    json!({"id": id, "name": format!("Folder {id}"), "description": null, "visibility": 1,
                           "category_id": category, "parent_folder_id": null, "articles_count": count,
                           "sub_folders_count": 0, "created_at": stamp, "updated_at": stamp})
                })
                .collect()
        }
        ["folders", _, "subfolders"] => Vec::new(),
        ["folders", id, "articles"] => {
            let Ok(folder) = id.parse::<i64>() else {
                return not_found();
            };
            data.articles
                .iter()
                .filter(|a| folder_of(a) == folder)
                .map(to_value)
                .collect()
        }
        // No translations in the stand-in's account.
        _ => return not_found(),
    };
    drop(data);
    paginate(items, pairs, headers, path)
}

/// Dispatches an authorised request.
pub fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let Some(rest) = path.strip_prefix("/api/v2/") else {
        return not_found();
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let id = |s: &str| s.parse::<i64>().ok();
    match (method, segments.as_slice()) {
        (&Method::GET, ["tickets"]) => list_tickets(shared, pairs, headers, path),
        (&Method::GET, ["tickets", raw]) => {
            let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
            let Some(ticket) = id(raw).and_then(|i| data.tickets.get(&i)) else {
                return not_found();
            };
            let mut value = to_value(ticket);
            if let Some(object) = value.as_object_mut() {
                if param(pairs, "include") == Some("conversations") {
                    let first: Vec<Value> =
                        ticket.conversations.iter().take(10).map(to_value).collect();
                    object.insert("conversations".into(), Value::Array(first));
                } else {
                    object.remove("conversations");
                }
            }
            Reply::new(StatusCode::OK, value)
        }
        (&Method::GET, ["tickets", raw, "conversations"]) => {
            let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
            let Some(ticket) = id(raw).and_then(|i| data.tickets.get(&i)) else {
                return not_found();
            };
            let items = ticket.conversations.iter().map(to_value).collect();
            drop(data);
            paginate(items, pairs, headers, path)
        }
        (&Method::POST, ["tickets", raw, kind @ ("notes" | "reply")]) => match id(raw) {
            Some(ticket_id) => {
                create_conversation(shared, ticket_id, headers, body, *kind == "notes")
            }
            None => not_found(),
        },
        (&Method::PUT, ["conversations", raw]) => match id(raw) {
            Some(conversation_id) => update_conversation(shared, conversation_id, body),
            None => not_found(),
        },
        (&Method::GET, ["agents", "me"]) => Reply::new(
            StatusCode::OK,
            json!({"id": AGENT_ID, "available": true, "occasional": false, "signature": null, "ticket_scope": 1,
                   "group_ids": [], "role_ids": [1], "type": "support_agent", "created_at": "2018-01-01T00:00:00Z",
                   "updated_at": "2018-01-01T00:00:00Z",
                   "contact": {"active": true, "email": "agent@stand-in.example", "name": "Stand-in Agent", "language": "en"}}),
        ),
        (&Method::GET, ["solutions", rest @ ..]) => solutions(shared, rest, pairs, headers, path),
        (_, ["tickets" | "conversations" | "agents" | "solutions", ..]) => Reply::new(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"code": "method_not_allowed", "message": "Method not allowed for this resource"}),
        ),
        _ => not_found(),
    }
}
