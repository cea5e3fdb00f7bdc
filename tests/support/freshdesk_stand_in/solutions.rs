//! The knowledge base of the Freshdesk stand-in: categories -> folders -> articles, derived from
//! the bundle's articles (`category_id`/`folder_id`, 1 when unset).
//!
//! Folders carry `visibility` (DOC L10894-L10905: 1 all users … 7 company segments); articles
//! carry neither a visibility nor a `url`, nor any other key Freshdesk does not have (DOC
//! L11696-L11740), whatever the bundle holds: the portal link and the folder's visibility are
//! the client's to work out.

use std::collections::BTreeSet;

use axum::http::{HeaderMap, StatusCode};
use deskdraft::domain::Article;
use serde_json::{Value, json};

use super::routes::{Reply, not_found, paginate};
use super::{AGENT_ID, Data, Shared, to_value};

const STAMP: &str = "2018-01-01T00:00:00Z";

fn category_of(article: &Article) -> i64 {
    article.category_id.unwrap_or(1)
}

fn folder_of(article: &Article) -> i64 {
    article.folder_id.unwrap_or(1)
}

/// A folder's visibility: `Bundle::folder_visibility`, else what the bundle's articles say of
/// their folder, else 1 (all users, the default on create).
fn visibility(data: &Data, folder: i64) -> i64 {
    data.folder_visibility
        .get(&folder)
        .copied()
        .unwrap_or_else(|| {
            data.articles
                .iter()
                .filter(|a| folder_of(a) == folder)
                .find_map(|a| a.folder_visibility)
                .unwrap_or(1)
        })
}

fn category_value(id: i64) -> Value {
    json!({"id": id, "name": format!("Category {id}"), "description": null,
           "created_at": STAMP, "updated_at": STAMP})
}

fn folder_value(data: &Data, id: i64) -> Option<Value> {
    let articles: Vec<&Article> = data
        .articles
        .iter()
        .filter(|a| folder_of(a) == id)
        .collect();
    let category = articles.first().map(|a| category_of(a))?;
    Some(
        json!({"id": id, "name": format!("Folder {id}"), "description": null,
                "visibility": visibility(data, id), "category_id": category, "parent_folder_id": null,
                "articles_count": articles.len(), "sub_folders_count": 0,
                "created_at": STAMP, "updated_at": STAMP}),
    )
}

/// An article as the API serves it.
pub fn article_value(article: &Article) -> Value {
    let mut value = to_value(article);
    if let Some(object) = value.as_object_mut() {
        // Not Freshdesk attributes (the bundle may carry them from an export or a folder).
        for key in ["url", "folder_visibility", "product_id"] {
            object.remove(key);
        }
        object.insert("folder_id".into(), json!(folder_of(article)));
        object.insert("category_id".into(), json!(category_of(article)));
        object.insert("type".into(), json!(1));
        object.insert("agent_id".into(), json!(AGENT_ID));
        object.insert("thumbs_up".into(), json!(0));
        object.insert("thumbs_down".into(), json!(0));
        object.insert("hits".into(), json!(0));
        object.insert("seo_data".into(), json!({}));
    }
    value
}

/// `GET /solutions/...` (segments after `solutions`).
pub fn solutions(
    shared: &Shared,
    segments: &[&str],
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Reply {
    let data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    let id = |raw: &str| raw.parse::<i64>().ok();
    let items: Vec<Value> = match segments {
        ["categories"] => {
            let ids: BTreeSet<i64> = data.articles.iter().map(category_of).collect();
            ids.into_iter().map(category_value).collect()
        }
        ["categories", raw] => {
            return match id(raw).filter(|c| data.articles.iter().any(|a| category_of(a) == *c)) {
                Some(category) => Reply::new(StatusCode::OK, category_value(category)),
                None => not_found(),
            };
        }
        ["categories", raw, "folders"] => {
            let Some(category) = id(raw) else {
                return not_found();
            };
            let ids: BTreeSet<i64> = data
                .articles
                .iter()
                .filter(|a| category_of(a) == category)
                .map(folder_of)
                .collect();
            if ids.is_empty() {
                return not_found();
            }
            ids.into_iter()
                .filter_map(|folder| folder_value(&data, folder))
                .collect()
        }
        ["folders", raw] => {
            return match id(raw).and_then(|folder| folder_value(&data, folder)) {
                Some(folder) => Reply::new(StatusCode::OK, folder),
                None => not_found(),
            };
        }
        ["folders", _, "subfolders"] => Vec::new(),
        ["folders", raw, "articles"] => {
            let Some(folder) = id(raw) else {
                return not_found();
            };
            data.articles
                .iter()
                .filter(|a| folder_of(a) == folder)
                .map(article_value)
                .collect()
        }
        ["articles", raw] => {
            return match id(raw).and_then(|i| data.articles.iter().find(|a| a.id == i)) {
                Some(article) => Reply::new(StatusCode::OK, article_value(article)),
                None => not_found(),
            };
        }
        // No translations in the stand-in's account.
        _ => return not_found(),
    };
    drop(data);
    paginate(items, pairs, headers, path)
}
