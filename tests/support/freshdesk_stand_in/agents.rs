//! Agents on the Freshdesk stand-in. `GET /agents/me` works for any key; every other agent API
//! needs an admin's key (DOC L6452), else 403 `access_denied`. `GET /agents` is a bare array,
//! paginated, alphabetical, filterable by `email`, `mobile`, `phone`, `state`; with `email` it
//! holds 0 or 1 agents (DOC L6523-L6585). Name and email sit under `contact`.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::routes::{Reply, access_denied, not_found, paginate, param, validation};
use super::{AGENT_ID, Shared};

const STAMP: &str = "2018-01-01T00:00:00Z";

/// An agent object as `GET /agents` and `GET /agents/{id}` return it.
pub fn agent_value(id: i64, name: &str, email: &str) -> Value {
    json!({"available": true, "occasional": false, "signature": null, "id": id, "ticket_scope": 1,
           "group_ids": [], "role_ids": [1], "skill_ids": [], "type": "support_agent",
           "available_since": null, "focus_mode": true, "created_at": STAMP, "updated_at": STAMP,
           "contact": {"active": true, "email": email, "job_title": null, "language": "en",
                       "last_login_at": null, "mobile": null, "name": name, "phone": null,
                       "time_zone": "UTC", "created_at": STAMP, "updated_at": STAMP}})
}

fn me() -> Reply {
    Reply::new(
        StatusCode::OK,
        json!({"id": AGENT_ID, "available": true, "occasional": false, "signature": null, "ticket_scope": 1,
               "group_ids": [], "role_ids": [1], "type": "support_agent", "created_at": STAMP,
               "updated_at": STAMP,
               "contact": {"active": true, "email": "agent@stand-in.example", "name": "Stand-in Agent", "language": "en"}}),
    )
}

/// `rest`: the segments after `agents`.
pub fn route(
    shared: &Shared,
    rest: &[&str],
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    if rest == ["me"] {
        return me();
    }
    if !shared.config.admin {
        return access_denied();
    }
    let agents = &shared.config.agents;
    match rest {
        [] => {
            let known = ["email", "mobile", "phone", "state", "page", "per_page"];
            if let Some((key, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
                return validation(key, "Unexpected/invalid field in request", "invalid_field");
            }
            let email = param(pairs, "email").map(str::trim);
            // The stand-in's agents have no phone numbers and are all full-time.
            let unmatched = param(pairs, "mobile").is_some()
                || param(pairs, "phone").is_some()
                || param(pairs, "state").is_some_and(|s| s != "fulltime");
            let mut listed: Vec<&(i64, String, String)> = agents
                .iter()
                .filter(|(_, _, address)| email.is_none_or(|e| address.eq_ignore_ascii_case(e)))
                .filter(|_| !unmatched)
                .collect();
            listed.sort_by(|a, b| a.1.cmp(&b.1));
            let items = listed
                .into_iter()
                .map(|(id, name, email)| agent_value(*id, name, email))
                .collect();
            paginate(items, pairs, headers, path)
        }
        [raw] => match raw
            .parse::<i64>()
            .ok()
            .and_then(|id| agents.iter().find(|(agent, ..)| *agent == id))
        {
            Some((id, name, email)) => Reply::new(StatusCode::OK, agent_value(*id, name, email)),
            None => not_found(),
        },
        _ => not_found(),
    }
}
