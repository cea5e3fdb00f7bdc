//! Canned responses on the Freshdesk stand-in (DOC L9690-L9905: "Only users with admin
//! privileges can access the following APIs"; a non-admin key gets 403 `access_denied`).
//!
//! * `GET /canned_response_folders`: a bare array, not paginated, without content; only folders
//!   holding a response appear, with `responses_count` (SRC `CannedResponseFoldersController`,
//!   research id 22457324576).
//! * `GET /canned_response_folders/{id}`: the folder with `canned_responses: [{id, title}]`.
//! * `GET /canned_response_folders/{id}/responses`: full responses, paginated with `Link`
//!   (SRC `folder_responses`, research id 22169408295).
//! * `GET /canned_responses/{id}`: one full response.
//!
//! Content is served as stored: Liquid placeholders such as `{{ticket.requester.name}}` stay
//! unrendered (the public API never renders them; SRC id 15305416732).

use axum::http::{HeaderMap, StatusCode};
use deskdraft::domain::CannedResponse;
use serde_json::{Value, json};

use super::routes::{Reply, access_denied, not_found, paginate};
use super::{CannedFolder, DEFAULT_CANNED_FOLDER, Data, Shared, to_value};

const STAMP: &str = "2018-01-01T00:00:00Z";

/// The folder a response is served in: its own when the bundle lists it, else the default.
fn folder_of(data: &Data, response: &CannedResponse) -> i64 {
    response
        .folder_id
        .filter(|id| data.canned_folders.iter().any(|f| f.id == *id))
        .unwrap_or(DEFAULT_CANNED_FOLDER)
}

/// Every folder (listed ones, plus the default shared "General" folder), with its responses.
fn folders(data: &Data) -> Vec<(CannedFolder, Vec<&CannedResponse>)> {
    let mut folders: Vec<CannedFolder> = data.canned_folders.clone();
    if !folders.iter().any(|f| f.id == DEFAULT_CANNED_FOLDER) {
        folders.push(CannedFolder {
            id: DEFAULT_CANNED_FOLDER,
            name: "General".into(),
            personal: false,
        });
    }
    // SRC sorts by [folder_type, name]; shared folders first, then the personal one.
    folders.sort_by(|a, b| (a.personal, &a.name).cmp(&(b.personal, &b.name)));
    folders
        .into_iter()
        .map(|folder| {
            let responses = data
                .canned_responses
                .iter()
                .filter(|r| folder_of(data, r) == folder.id)
                .collect();
            (folder, responses)
        })
        .collect()
}

/// `created_at`/`updated_at` of a folder: its oldest and newest response.
fn stamps(responses: &[&CannedResponse]) -> (Value, Value) {
    let created = responses.iter().map(|r| r.created_at).min();
    let updated = responses.iter().map(|r| r.updated_at).max();
    (
        created.map_or(json!(STAMP), |t| to_value(&t)),
        updated.map_or(json!(STAMP), |t| to_value(&t)),
    )
}

fn response_value(data: &Data, response: &CannedResponse) -> Value {
    let mut value = to_value(response);
    if let Some(object) = value.as_object_mut() {
        object.insert("folder_id".into(), json!(folder_of(data, response)));
        object.insert("attachments".into(), json!([]));
    }
    value
}

/// `segments`: the whole path after `/api/v2/`.
pub fn route(
    shared: &Shared,
    segments: &[&str],
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    if !shared.config.admin {
        return access_denied();
    }
    let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let id = |raw: &str| raw.parse::<i64>().ok();
    let folder = |raw: &str| {
        let wanted = id(raw)?;
        folders(&data).into_iter().find(|(f, _)| f.id == wanted)
    };
    match segments {
        ["canned_response_folders"] => {
            let list: Vec<Value> = folders(&data)
                .into_iter()
                .filter(|(_, responses)| !responses.is_empty())
                .map(|(folder, responses)| {
                    let (created, updated) = stamps(&responses);
                    json!({"id": folder.id, "name": folder.name, "personal": folder.personal,
                           "responses_count": responses.len(), "created_at": created, "updated_at": updated})
                })
                .collect();
            Reply::new(StatusCode::OK, Value::Array(list))
        }
        ["canned_response_folders", raw] => match folder(raw) {
            Some((folder, responses)) => {
                let (created, updated) = stamps(&responses);
                let items: Vec<Value> = responses
                    .iter()
                    .map(|r| json!({"id": r.id, "title": r.title}))
                    .collect();
                Reply::new(
                    StatusCode::OK,
                    json!({"id": folder.id, "name": folder.name, "canned_responses": items,
                           "created_at": created, "updated_at": updated}),
                )
            }
            None => not_found(),
        },
        ["canned_response_folders", raw, "responses"] => match folder(raw) {
            Some((_, responses)) => {
                let items = responses.iter().map(|r| response_value(&data, r)).collect();
                paginate(items, pairs, headers, path)
            }
            None => not_found(),
        },
        ["canned_responses", raw] => {
            match id(raw).and_then(|i| data.canned_responses.iter().find(|r| r.id == i)) {
                Some(response) => Reply::new(StatusCode::OK, response_value(&data, response)),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}
