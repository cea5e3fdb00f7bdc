//! `PUT /tickets/{id}` on the Freshdesk stand-in (DOC L1462-L1600): a partial update of the
//! documented fields, answered with the full ticket (200, no `include` data).
//!
//! * Unknown and archived ids: 404. Spam or trashed tickets: 405 with `Allow: GET` (SRC
//!   `TicketConcern#verify_object_state`, research id 15815485599).
//! * Unknown body keys: 400 `invalid_field`; a string `status`: 400 `datatype_mismatch` with
//!   the verbatim message of fact sheet §8.4; a status outside the account's `2..=7`: 400
//!   `invalid_value`. Every error of a request is reported together.
//! * `tags` replaces the whole list (SRC `TagMethods#construct_tags`); `custom_fields` updates
//!   the named fields, which must exist on the ticket; `updated_at` moves.

use axum::http::{HeaderMap, Method, StatusCode};
use chrono::{SubsecRound, Utc};
use serde_json::{Map, Value, json};

use super::routes::{Reply, method_not_allowed, not_found, validation_errors};
use super::tickets::ticket_value;
use super::writes::{invalid_json, mismatch, unsupported_media_type};
use super::{Shared, html};

/// Status ids of the stand-in's account (4 defaults plus the docs' two custom statuses).
const STATUSES: &str = "2,3,4,5,6,7";
const PRIORITIES: &str = "1,2,3,4";
const SOURCES: &str = "1,2,3,5,6,7,9,10";

/// Kinds of value a field takes.
enum Kind {
    /// One of a list of integers.
    OneOf(&'static str),
    /// A positive integer, or null.
    Id,
    /// A string (or null when `nullable`).
    Text {
        nullable: bool,
    },
    Tags,
    CustomFields,
    Boolean,
    /// Accepted, not modelled by the stand-in.
    Any,
}

fn kind(field: &str) -> Option<Kind> {
    Some(match field {
        "status" => Kind::OneOf(STATUSES),
        "priority" => Kind::OneOf(PRIORITIES),
        "source" => Kind::OneOf(SOURCES),
        "responder_id" | "group_id" | "company_id" | "product_id" | "requester_id"
        | "email_config_id" | "parent_id" | "internal_agent_id" | "internal_group_id" => Kind::Id,
        "type" => Kind::Text { nullable: true },
        "subject" | "description" | "name" | "email" | "phone" | "twitter_id" | "facebook_id"
        | "unique_external_id" | "lookup_parameter" | "due_by" | "fr_due_by" => {
            Kind::Text { nullable: false }
        }
        "tags" => Kind::Tags,
        "custom_fields" => Kind::CustomFields,
        "skip_close_notification" => Kind::Boolean,
        "attachments" => Kind::Any,
        _ => return None,
    })
}

fn invalid_field(field: &str) -> Value {
    json!({"field": field, "message": "Unexpected/invalid field in request", "code": "invalid_field"})
}

/// The errors of one field's value (none when it is valid).
fn check(field: &str, value: &Value, known_custom: &Map<String, Value>) -> Vec<Value> {
    let Some(kind) = kind(field) else {
        return vec![invalid_field(field)];
    };
    let error = match kind {
        Kind::OneOf(allowed) => match value.as_i64() {
            Some(n) if allowed.split(',').any(|a| a == n.to_string()) => None,
            Some(_) => Some(json!({"field": field, "code": "invalid_value",
                                   "message": format!("It should be one of these values: '{allowed}'")})),
            None => Some(json!({"field": field, "code": "datatype_mismatch",
                                "message": format!("Value set is of type {}.It should be one of these values: '{allowed}'",
                                                   super::writes::type_name(value))})),
        },
        Kind::Id if value.is_null() || value.as_i64().is_some_and(|n| n > 0) => None,
        Kind::Id => Some(mismatch(field, value, "Positive Integer")),
        Kind::Text { nullable } if value.is_string() || (nullable && value.is_null()) => None,
        Kind::Text { .. } => Some(mismatch(field, value, "String")),
        Kind::Tags => match value.as_array() {
            Some(tags) if tags.iter().all(Value::is_string) => None,
            Some(_) => Some(json!({"field": field, "code": "datatype_mismatch",
                                   "message": "It should contain elements of type String only"})),
            None => Some(mismatch(field, value, "Array")),
        },
        Kind::CustomFields => match value.as_object() {
            Some(fields) => {
                return fields
                    .keys()
                    .filter(|k| !known_custom.contains_key(*k))
                    .map(|k| invalid_field(k))
                    .collect();
            }
            None => Some(mismatch(field, value, "key/value pair")),
        },
        Kind::Boolean if value.is_boolean() => None,
        Kind::Boolean => Some(mismatch(field, value, "Boolean")),
        Kind::Any => None,
    };
    error.into_iter().collect()
}

pub fn update_ticket(shared: &Shared, raw: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
    let Ok(id) = raw.parse::<i64>() else {
        return not_found();
    };
    if !headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
    {
        return unsupported_media_type();
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return invalid_json();
    };
    let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let Some(ticket) = data.tickets.get_mut(&id).filter(|t| !t.archived) else {
        return not_found();
    };
    if ticket.spam || ticket.deleted {
        return method_not_allowed("GET", &Method::PUT);
    }
    let errors: Vec<Value> = request
        .iter()
        .flat_map(|(field, value)| check(field, value, &ticket.custom_fields))
        .collect();
    if !errors.is_empty() {
        return validation_errors(errors);
    }
    let id_of = |value: &Value| value.as_i64();
    for (field, value) in &request {
        match field.as_str() {
            "status" => ticket.status = value.as_i64().unwrap_or(ticket.status),
            "priority" => ticket.priority = id_of(value),
            "source" => ticket.source = id_of(value),
            "responder_id" => ticket.responder_id = id_of(value),
            "group_id" => ticket.group_id = id_of(value),
            "company_id" => ticket.company_id = id_of(value),
            "product_id" => ticket.product_id = id_of(value),
            "requester_id" => ticket.requester_id = id_of(value),
            "type" => ticket.ticket_type = value.as_str().map(str::to_owned),
            "subject" => ticket.subject = value.as_str().unwrap_or_default().to_owned(),
            "description" => {
                let sent = value.as_str().unwrap_or_default();
                let (stored, text) = if shared.config.rewrite_html {
                    let stored = html::rewrite(sent);
                    let text = html::plain_text(&stored);
                    (stored, text)
                } else {
                    (sent.to_owned(), sent.to_owned())
                };
                ticket.description = stored;
                ticket.description_text = Some(text);
            }
            "tags" => {
                ticket.tags = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect();
            }
            "custom_fields" => {
                for (key, custom) in value.as_object().into_iter().flatten() {
                    ticket.custom_fields.insert(key.clone(), custom.clone());
                }
            }
            _ => {}
        }
    }
    ticket.updated_at = Utc::now().trunc_subsecs(0);
    Reply::new(StatusCode::OK, ticket_value(ticket, false))
}
