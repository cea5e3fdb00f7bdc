//! Archived tickets on the Freshdesk stand-in (DOC L2447-L2522, "Archive Tickets"): closed
//! tickets inactive for ~120 days move to another store. There they are
//! * absent from `GET /tickets` under any filter, and 404 on `GET /tickets/{id}`, its
//!   conversations, `PUT` and new notes or replies (SRC public `TicketsController#load_object`,
//!   research id 11969752914);
//! * served by `GET /tickets/archived/{id}` (`"archived": true`, no conversations unless
//!   `include=conversations`; includes cost 1 credit each, SRC id 35117235498) and
//!   `GET /tickets/archived/{id}/conversations` (paginated, `Link`; SRC id 12001729486);
//! * deleted for good by `DELETE /tickets/archived/{id}` (204, no restore).
//!
//! Without the `archive_tickets` feature every archived endpoint answers 403 `require_feature`
//! (SRC `test_without_archive_feature`; OBSERVED text in a third-party test comment).

use axum::http::{HeaderMap, Method, StatusCode};
use deskdraft::domain::Ticket;
use serde_json::{Value, json};

use super::routes::{Reply, method_not_allowed, not_found, paginate, param, validation};
use super::{Shared, to_value};

fn require_feature() -> Reply {
    Reply::new(
        StatusCode::FORBIDDEN,
        json!({"code": "require_feature",
               "message": "The Archive Tickets feature(s) is/are not supported in your plan. Please upgrade your account to use it."}),
    )
}

/// `include=` data of a view.
fn embed(ticket: &Ticket, include: &str) -> Value {
    match include {
        "conversations" => {
            Value::Array(ticket.conversations.iter().take(10).map(to_value).collect())
        }
        "requester" => {
            json!({"id": ticket.requester_id, "name": ticket.requester_id.map(|id| format!("Requester {id}")),
                              "email": null, "mobile": null, "phone": null})
        }
        "company" => ticket.company_id.map_or(
            Value::Null,
            |id| json!({"id": id, "name": format!("Company {id}")}),
        ),
        _ => {
            let first_reply = ticket
                .public_agent_replies()
                .next()
                .map(|c| to_value(&c.created_at));
            let updated = to_value(&ticket.updated_at);
            json!({"agent_responded_at": first_reply, "requester_responded_at": null,
                   "first_responded_at": first_reply, "status_updated_at": updated, "reopened_at": null,
                   "resolved_at": updated, "closed_at": updated, "pending_since": null})
        }
    }
}

/// Requests under `/tickets/archived/` (`rest`: the segments after `archived`).
pub fn route(
    shared: &Shared,
    method: &Method,
    rest: &[&str],
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    if !shared.config.archive_feature {
        return require_feature();
    }
    let Some(id) = rest.first().and_then(|raw| raw.parse::<i64>().ok()) else {
        return not_found();
    };
    let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let Some(ticket) = data.tickets.get(&id).filter(|t| t.archived) else {
        return not_found();
    };
    match (method, &rest[1..]) {
        (&Method::GET, []) => {
            let includes: Vec<&str> = param(pairs, "include")
                .map(|v| v.split(',').collect())
                .unwrap_or_default();
            let allowed = ["conversations", "requester", "company", "stats"];
            if includes.iter().any(|i| !allowed.contains(i)) {
                return validation(
                    "include",
                    "It should be one of these values: 'conversations,requester,company,stats'",
                    "invalid_value",
                );
            }
            let mut value = to_value(ticket);
            if let Some(object) = value.as_object_mut() {
                object.remove("conversations");
                object.insert("archived".into(), Value::Bool(true));
                for include in includes {
                    object.insert(include.into(), embed(ticket, include));
                }
            }
            Reply::new(StatusCode::OK, value)
        }
        (&Method::GET, ["conversations"]) => {
            let items = ticket.conversations.iter().map(to_value).collect();
            drop(data);
            paginate(items, pairs, headers, path)
        }
        (&Method::DELETE, []) => {
            data.tickets.remove(&id);
            Reply::empty(StatusCode::NO_CONTENT)
        }
        (_, []) => method_not_allowed("GET, DELETE", method),
        (_, ["conversations"]) => method_not_allowed("GET", method),
        _ => not_found(),
    }
}
