//! Conversation writes of the Freshdesk stand-in: notes and replies (stored on the ticket and
//! visible in later listings) and note edits, validated like Freshdesk.

use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, SubsecRound, Utc};
use deskdraft::domain::Conversation;
use serde_json::{Value, json};

use super::routes::{Reply, not_found, validation};
use super::{AGENT_ID, Shared, to_value};

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

/// POST notes/reply: validates like Freshdesk and stores the conversation on the ticket.
pub fn create_conversation(
    shared: &Shared,
    ticket_id: i64,
    headers: &HeaderMap,
    body: &[u8],
    note: bool,
) -> Reply {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return Reply::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"code": "invalid_content_type", "message": "Content-Type header should have application/json"}),
        );
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return validation(
            "body",
            "Request body has invalid json format",
            "invalid_json",
        );
    };
    let allowed: &[&str] = if note {
        &["body", "private", "incoming", "notify_emails", "user_id"]
    } else {
        &["body", "from_email", "user_id", "cc_emails", "bcc_emails"]
    };
    if let Some(key) = request.keys().find(|k| !allowed.contains(&k.as_str())) {
        return validation(key, "Unexpected/invalid field in request", "invalid_field");
    }
    let Some(text) = request
        .get("body")
        .and_then(Value::as_str)
        .filter(|b| !b.trim().is_empty())
    else {
        return validation("body", "Mandatory attribute missing", "missing_field");
    };
    let html = if text.trim_start().starts_with('<') {
        text.to_owned()
    } else {
        format!("<div>{text}</div>")
    };
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
        body_text: Some(strip_tags(&html)),
        incoming,
        private,
        source: Some(if note { 2 } else { 0 }),
        user_id: Some(AGENT_ID),
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
               "incoming": incoming, "private": private, "user_id": AGENT_ID, "support_email": null,
               "ticket_id": ticket_id, "notified_to": [], "attachments": [], "created_at": stamp, "updated_at": stamp})
    } else {
        json!({"id": id, "body": html, "body_text": conversation.body_text, "structured_body": null,
               "user_id": AGENT_ID, "from_email": "support@stand-in.freshdesk.com", "cc_emails": [],
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

pub fn update_conversation(shared: &Shared, id: i64, body: &[u8]) -> Reply {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return validation(
            "body",
            "Request body has invalid json format",
            "invalid_json",
        );
    };
    let Some(text) = request.get("body").and_then(Value::as_str) else {
        return validation("body", "Mandatory attribute missing", "missing_field");
    };
    let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let found = data
        .tickets
        .values_mut()
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
    conversation.body = text.to_owned();
    conversation.body_text = Some(strip_tags(text));
    conversation.updated_at = Some(now());
    Reply::new(StatusCode::OK, to_value(&*conversation))
}
