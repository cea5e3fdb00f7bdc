//! Conversation writes of the Freshdesk stand-in: notes and replies (stored on the ticket and
//! visible in later listings) and note edits, validated like Freshdesk and stored the way it
//! rewrites HTML (`html.rs`).
//!
//! `user_id` (DOC L3892-L3975): the conversation is stored as that agent's. An id that names
//! nobody is a 400 `absent_in_db` on `user_id`, and only an admin's key may write as someone
//! else, else 403 `invalid_user` (SRC `test_reply_invalid_model`,
//! `test_reply_with_user_id_invalid_privilege`, research id 11953594885). Tickets in spam or
//! trash are outside the conversation scoper (`spam: false, deleted: false`), and archived ones
//! in another store: 404 for all of them (SRC `test_reply_to_spammed_ticket`).

use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, SubsecRound, Utc};
use deskdraft::domain::Conversation;
use serde_json::{Value, json};

use super::routes::{Reply, not_found, validation, validation_errors};
use super::{AGENT_ID, Shared, html, to_value};

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The stored HTML and text of a body as sent.
fn stored_body(shared: &Shared, sent: &str) -> (String, String) {
    if shared.config.rewrite_html {
        let html = html::rewrite(sent);
        let text = html::plain_text(&html);
        (html, text)
    } else if sent.trim_start().starts_with('<') {
        (sent.to_owned(), strip_tags(sent))
    } else {
        (format!("<div>{sent}</div>"), sent.to_owned())
    }
}

/// Freshdesk's name for a JSON value's type in `datatype_mismatch` messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Integer",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "key/value pair",
    }
}

/// A `datatype_mismatch` error entry (`Value set is of type X.It should be a/an Y`).
pub fn mismatch(field: &str, given: &Value, expected: &str) -> Value {
    json!({"field": field, "code": "datatype_mismatch",
           "message": format!("Value set is of type {}.It should be a/an {expected}", type_name(given))})
}

fn json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// 415 without `Content-Type: application/json` (OBSERVED effytech/freshdesk_mcp#44).
pub fn unsupported_media_type() -> Reply {
    Reply::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        json!({"code": "invalid_content_type", "message": "Content-Type header should have application/json"}),
    )
}

pub fn invalid_json() -> Reply {
    validation(
        "body",
        "Request body has invalid json format",
        "invalid_json",
    )
}

/// POST notes/reply: validates like Freshdesk and stores the conversation on the ticket.
pub fn create_conversation(
    shared: &Shared,
    ticket_id: i64,
    headers: &HeaderMap,
    body: &[u8],
    note: bool,
) -> Reply {
    if !json_content_type(headers) {
        return unsupported_media_type();
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return invalid_json();
    };
    let writable = |data: &super::Data| {
        data.tickets
            .get(&ticket_id)
            .is_some_and(|t| !t.archived && !t.spam && !t.deleted)
    };
    if !writable(&shared.data.lock().unwrap_or_else(|e| e.into_inner())) {
        return not_found();
    }
    let allowed: &[&str] = if note {
        &["body", "private", "incoming", "notify_emails", "user_id"]
    } else {
        &["body", "from_email", "user_id", "cc_emails", "bcc_emails"]
    };
    let mut errors: Vec<Value> = request
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| json!({"field": k, "message": "Unexpected/invalid field in request", "code": "invalid_field"}))
        .collect();
    for flag in ["private", "incoming"] {
        if let Some(value) = request.get(flag).filter(|v| note && !v.is_boolean()) {
            errors.push(mismatch(flag, value, "Boolean"));
        }
    }
    let user_id = match request.get("user_id") {
        None => None,
        Some(value) => match value.as_i64().filter(|id| *id > 0) {
            Some(id) => Some(id),
            None => {
                errors.push(mismatch("user_id", value, "Positive Integer"));
                None
            }
        },
    };
    let text = match request.get("body") {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.as_str()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            errors.push(json!({"field": "body", "message": "Mandatory attribute missing", "code": "missing_field"}));
            None
        }
        Some(other) => {
            errors.push(mismatch("body", other, "String"));
            None
        }
    };
    let Some(text) = text.filter(|_| errors.is_empty()) else {
        return validation_errors(errors);
    };
    let user_id = user_id.unwrap_or(AGENT_ID);
    let Some((_, name, _)) = shared.config.agents.iter().find(|(id, ..)| *id == user_id) else {
        return validation(
            "user_id",
            "There is no contact matching the given user_id",
            "invalid_value",
        );
    };
    if user_id != AGENT_ID && !shared.config.admin {
        return Reply::new(
            StatusCode::FORBIDDEN,
            json!({"code": "invalid_user",
                   "message": format!("You are not allowed to perform this action on behalf of the user with ID: {user_id}, Name: {name}")}),
        );
    }
    let (html, body_text) = stored_body(shared, text);
    let private = note
        && request
            .get("private")
            .and_then(Value::as_bool)
            .unwrap_or(true);
    let incoming = note
        && request
            .get("incoming")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let id = data.next_conversation_id;
    let Some(ticket) = data.tickets.get_mut(&ticket_id) else {
        return not_found();
    };
    let at = now();
    let conversation = Conversation {
        id,
        body: html.clone(),
        body_text: Some(body_text),
        incoming,
        private,
        source: Some(if note { 2 } else { 0 }),
        user_id: Some(user_id),
        ticket_id: Some(ticket_id),
        support_email: if note {
            None
        } else {
            Some("support@stand-in.freshdesk.com".into())
        },
        created_at: at,
        updated_at: Some(at),
        attachments: Vec::new(),
    };
    ticket.conversations.push(conversation.clone());
    ticket.updated_at = at;
    data.next_conversation_id += 1;
    let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = if note {
        json!({"id": id, "body": html, "body_text": conversation.body_text, "structured_body": null,
               "incoming": incoming, "private": private, "user_id": user_id, "support_email": null,
               "ticket_id": ticket_id, "notified_to": [], "attachments": [], "created_at": stamp, "updated_at": stamp})
    } else {
        json!({"id": id, "body": html, "body_text": conversation.body_text, "structured_body": null,
               "user_id": user_id, "from_email": "support@stand-in.freshdesk.com", "cc_emails": [],
               "bcc_emails": [], "ticket_id": ticket_id, "replied_to": [], "attachments": [],
               "created_at": stamp, "updated_at": stamp})
    };
    let mut reply = Reply::new(StatusCode::CREATED, body);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    reply.location = Some(format!("http://{host}/api/v2/conversations/{id}"));
    reply
}

/// `PUT /conversations/{id}`: notes only (`body`), stored rewritten like a new note.
pub fn update_conversation(shared: &Shared, id: i64, body: &[u8]) -> Reply {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return invalid_json();
    };
    if let Some(key) = request.keys().find(|k| k.as_str() != "body") {
        return validation(key, "Unexpected/invalid field in request", "invalid_field");
    }
    let Some(text) = request.get("body").and_then(Value::as_str) else {
        return validation("body", "Mandatory attribute missing", "missing_field");
    };
    let (html, body_text) = stored_body(shared, text);
    let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    // Archived tickets are read-only and live elsewhere.
    let found = data
        .tickets
        .values_mut()
        .filter(|t| !t.archived)
        .flat_map(|t| t.conversations.iter_mut())
        .find(|c| c.id == id);
    let Some(conversation) = found else {
        return not_found();
    };
    if conversation.source != Some(2) {
        return Reply::new(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"code": "method_not_allowed", "message": "Only notes can be updated"}),
        );
    }
    conversation.body = html;
    conversation.body_text = Some(body_text);
    conversation.updated_at = Some(now());
    Reply::new(StatusCode::OK, to_value(&*conversation))
}
