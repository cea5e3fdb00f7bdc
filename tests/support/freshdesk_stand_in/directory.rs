//! Products and contacts on the Freshdesk stand-in. `GET /products` is a bare array of
//! `{id, name, description, primary_email, created_at, updated_at, default}`, paginated; `GET
//! /contacts/{id}` a contact with `name` and `email` (404 for an unknown id). The stand-in's
//! products come from its configuration; every ticket's requester is a contact named
//! "Customer {id}".

use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use super::Shared;
use super::routes::{Reply, not_found, paginate};

const STAMP: &str = "2018-01-01T00:00:00Z";

pub fn products(
    shared: &Shared,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    let items = shared
        .config
        .products
        .iter()
        .map(|(id, name)| {
            json!({"id": id, "name": name, "description": null, "primary_email": null,
                   "created_at": STAMP, "updated_at": STAMP, "default": false})
        })
        .collect();
    paginate(items, pairs, headers, path)
}

pub fn contact(shared: &Shared, raw: &str) -> Reply {
    let Ok(id) = raw.parse::<i64>() else {
        return not_found();
    };
    let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    if !data.tickets.values().any(|t| t.requester_id == Some(id)) {
        return not_found();
    }
    Reply::new(
        StatusCode::OK,
        json!({"id": id, "name": format!("Customer {id}"), "email": format!("customer{id}@stand-in.example"),
               "active": true, "language": "en", "time_zone": "UTC", "created_at": STAMP, "updated_at": STAMP}),
    )
}
