//! Routing of the Freshdesk stand-in, the response type and the helpers every resource shares
//! (Basic auth, credits, pagination with `Link`, Freshdesk's error shapes). The resources live
//! in their own modules: tickets, archive, writes (conversations), ticket_update, solutions,
//! canned, agents.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::writes::{create_conversation, update_conversation};
use super::{Shared, agents, archive, canned, directory, solutions, ticket_update, tickets};

/// A response before the rate-limit headers are added.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// Replaces the JSON body (malformed-JSON fault, empty 404s, a proxy's HTML page).
    pub raw: Option<String>,
    pub link: Option<String>,
    pub location: Option<String>,
    /// `Allow` of a 405.
    pub allow: Option<&'static str>,
    /// Not Freshdesk's answer but a proxy's (a lost response): HTML, no Freshdesk headers.
    pub proxy: bool,
}

impl Reply {
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            raw: None,
            link: None,
            location: None,
            allow: None,
            proxy: false,
        }
    }

    /// An empty body (`head 404`, a 204).
    pub fn empty(status: StatusCode) -> Self {
        Self {
            raw: Some(String::new()),
            ..Self::new(status, Value::Null)
        }
    }

    /// What a gateway in front of Freshdesk answers when the upstream response is lost.
    pub fn bad_gateway() -> Self {
        Self {
            raw: Some("<html><body><h1>502 Bad Gateway</h1></body></html>".into()),
            proxy: true,
            ..Self::new(StatusCode::BAD_GATEWAY, Value::Null)
        }
    }

    pub fn into_response(self, total: u32, remaining: u32, used: u32) -> Response {
        let text = self.raw.unwrap_or_else(|| self.body.to_string());
        let mut response = Response::new(axum::body::Body::from(text));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if self.proxy {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return response;
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
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

/// Several field errors in one 400, as Freshdesk reports them.
pub fn validation_errors(errors: Vec<Value>) -> Reply {
    Reply::new(
        StatusCode::BAD_REQUEST,
        json!({"description": "Validation failed", "errors": errors}),
    )
}

/// A 404 with an empty body: Rails' `head(404)` in the public API (SRC `TicketConcern`,
/// research id 15815485599; `log_and_render_404` for archived ids).
pub fn not_found() -> Reply {
    Reply::empty(StatusCode::NOT_FOUND)
}

/// 403 for a key without the privilege (DOC L373; body OBSERVED on Freshservice, research §5).
pub fn access_denied() -> Reply {
    Reply::new(
        StatusCode::FORBIDDEN,
        json!({"code": "access_denied", "message": "You are not authorized to perform this action."}),
    )
}

/// 405 with `Allow` (e.g. `render_405_error(['GET'])` for spam/deleted tickets).
pub fn method_not_allowed(allow: &'static str, fired: &Method) -> Reply {
    Reply {
        allow: Some(allow),
        ..Reply::new(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"code": "method_not_allowed",
                   "message": format!("{allow} method is allowed. {fired} method is not allowed for this resource")}),
        )
    }
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
        (&Method::GET, ["api", "v2", "tickets", "archived", _]) => 1 + includes,
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

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `page`/`per_page` validation shared by every list.
#[allow(clippy::result_large_err)] // a test helper: an early HTTP reply, not an error path
pub fn paging(pairs: &[(String, String)]) -> Result<(usize, usize), Reply> {
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
pub fn paginate(
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
    match (method, segments.as_slice()) {
        (&Method::GET, ["tickets"]) => tickets::list_tickets(shared, pairs, headers, path),
        (_, ["tickets", "archived", rest @ ..]) => {
            archive::route(shared, method, rest, pairs, headers, path)
        }
        (&Method::GET, ["tickets", raw]) => tickets::view_ticket(shared, raw, pairs),
        (&Method::PUT, ["tickets", raw]) => {
            ticket_update::update_ticket(shared, raw, headers, body)
        }
        (&Method::GET, ["tickets", raw, "conversations"]) => {
            tickets::conversations(shared, raw, pairs, headers, path)
        }
        (&Method::POST, ["tickets", raw, kind @ ("notes" | "reply")]) => match raw.parse() {
            Ok(ticket_id) => {
                create_conversation(shared, ticket_id, headers, body, *kind == "notes")
            }
            Err(_) => not_found(),
        },
        (&Method::PUT, ["conversations", raw]) => match raw.parse() {
            Ok(conversation_id) => update_conversation(shared, conversation_id, body),
            Err(_) => not_found(),
        },
        (&Method::GET, ["products"]) => directory::products(shared, pairs, headers, path),
        (&Method::GET, ["contacts", raw]) => directory::contact(shared, raw),
        (&Method::GET, ["agents", rest @ ..]) => agents::route(shared, rest, pairs, headers, path),
        (&Method::GET, ["canned_response_folders" | "canned_responses", ..]) => {
            canned::route(shared, &segments, pairs, headers, path)
        }
        (&Method::GET, ["solutions", rest @ ..]) => {
            solutions::solutions(shared, rest, pairs, headers, path)
        }
        (
            _,
            [
                "tickets"
                | "conversations"
                | "agents"
                | "solutions"
                | "canned_response_folders"
                | "canned_responses",
                ..,
            ],
        ) => Reply::new(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"code": "method_not_allowed", "message": "Method not allowed for this resource"}),
        ),
        _ => not_found(),
    }
}
