//! `draft` and `simulate` through the binary: citations, confidence, leak-free replay, and the
//! `../shared` twitter-care check.

use super::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

/// Drafts for open tickets 2001 and 2006 (one process), keyed by ticket id.
fn open_ticket_drafts() -> &'static BTreeMap<i64, Value> {
    static DRAFTS: OnceLock<(tempfile::TempDir, BTreeMap<i64, Value>)> = OnceLock::new();
    &DRAFTS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let data_dir = base_copy(dir.path());
            let drafts = run_json(
                deskdraft(&data_dir)
                    .args(["draft", "--json", "--ticket-json"])
                    .arg(repo().join("knowledge/open-tickets/ticket-2001.json"))
                    .arg(repo().join("knowledge/open-tickets/ticket-2006.json")),
            );
            let drafts = drafts
                .as_array()
                .expect("a JSON array of drafts")
                .iter()
                .map(|d| (d["ticket_id"].as_i64().unwrap(), d.clone()))
                .collect();
            (dir, drafts)
        })
        .1
}

/// Distinctive strings of the demo bundle's private notes (internal references).
fn private_note_markers() -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"\b(?:FIN|JIRA|RF|RMA|QA|CB|FW|APP)[- ]\d+\b|JIRA").unwrap();
    let mut markers = BTreeSet::new();
    for ticket in read_jsonl(&demo_bundle().join("tickets.jsonl")) {
        for conversation in ticket["conversations"].as_array().into_iter().flatten() {
            if conversation["private"] == Value::Bool(true) {
                let body = conversation["body"].as_str().unwrap_or_default();
                markers.extend(pattern.find_iter(body).map(|m| m.as_str().to_string()));
            }
        }
    }
    markers
}

#[test]
fn draft_for_a_double_charge_cites_the_article_and_leaks_no_private_note() {
    let draft = &open_ticket_drafts()[&2001];
    assert_eq!(draft["kind"], "retrieval_only", "{draft:#}");
    let cited: Vec<i64> = draft["cited_article_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(cited.contains(&104), "cited {cited:?}");
    let sources = draft["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    for source in sources {
        let key = source["key"].as_str().unwrap_or_default();
        assert!(
            key.starts_with("case:") || key.starts_with("article:"),
            "source without a key: {source}"
        );
    }
    let text = draft["text"].as_str().unwrap();
    assert!(!text.trim().is_empty());
    let markers = private_note_markers();
    assert!(
        markers.contains("FIN-2214") && markers.len() > 10,
        "the marker scan found {markers:?}"
    );
    let whole = serde_json::to_string(draft).unwrap();
    for marker in markers.iter().chain(&["FIN-".to_string()]) {
        assert!(!text.contains(marker.as_str()), "draft text leaks {marker}");
        assert!(
            !whole.contains(marker.as_str()),
            "draft JSON (sources/retrieval) leaks {marker}"
        );
    }
}

/// The demo's first draft reused case 1002's answer with that customer's payment and order
/// ("one payment of €19.00 for order KTC-10482"); ticket 2001 has its own order KTC-35902.
#[test]
fn the_demo_draft_carries_no_other_customers_order_or_amount() {
    let draft = &open_ticket_drafts()[&2001];
    let text = draft["text"].as_str().unwrap();
    assert!(!text.contains("KTC-10482"), "{text}");
    assert!(!text.contains("€19.00"), "{text}");
    assert!(
        text.contains("one payment of [amount] for order [order number]"),
        "{text}"
    );
    // The substance of the reused answer stays.
    assert!(text.contains("temporary authorisation"), "{text}");
    let flags: Vec<&str> = draft["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert!(
        flags
            .iter()
            .any(|f| f.contains("another customer's case") && f.contains("[order number]")),
        "{flags:?}"
    );
    assert_eq!(
        draft["scrubbed_specifics"],
        serde_json::json!(["amount", "order_number"])
    );
}

#[test]
fn an_uncovered_ticket_gets_lower_confidence() {
    let drafts = open_ticket_drafts();
    let covered = drafts[&2001]["confidence"].as_f64().unwrap();
    let uncovered = drafts[&2006]["confidence"].as_f64().unwrap();
    assert!(
        uncovered < covered,
        "ticket 2006 (local API, not in the knowledge) {uncovered} vs 2001 {covered}"
    );
}

/// Every source and retrieved document of a replayed draft.
fn check_replay(draft: &Value, ticket: &Value, as_of: Option<chrono::DateTime<chrono::Utc>>) {
    let ticket_id = ticket["id"].as_i64().unwrap();
    let own = format!("case:{ticket_id}");
    let product = ticket["product_id"].as_i64().map(|p| p.to_string());
    let sources = draft["sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "{draft:#}");
    for source in sources {
        assert_ne!(source["key"], own.as_str(), "the ticket is its own source");
        if let Some(as_of) = as_of {
            assert!(
                parse_time(&source["created_at"]) < as_of,
                "source {} created {} is not before {as_of}",
                source["key"],
                source["created_at"]
            );
        }
    }
    let retrieval = &draft["retrieval"];
    for kind in ["cases", "articles"] {
        for found in retrieval[kind].as_array().unwrap() {
            let key = format!(
                "{}:{}",
                found["source_type"].as_str().unwrap(),
                found["id"].as_i64().unwrap()
            );
            assert_ne!(key, own, "the ticket retrieved itself");
            if let Some(as_of) = as_of {
                assert!(
                    parse_time(&found["created_at"]) < as_of,
                    "{key} created {} is not before {as_of}",
                    found["created_at"]
                );
            }
            if let (Some(product), Some(found_product)) = (&product, found["product"].as_str()) {
                assert_eq!(found_product, product, "{key} is from another product");
            }
        }
    }
    // Every cited source is one of the retrieved documents (so the product check covers it).
    let retrieved: BTreeSet<String> = ["cases", "articles"]
        .iter()
        .flat_map(|kind| retrieval[kind].as_array().unwrap())
        .map(|f| format!("{}:{}", f["source_type"].as_str().unwrap(), f["id"]))
        .collect();
    for source in sources {
        assert!(
            retrieved.contains(source["key"].as_str().unwrap()),
            "source {} was not retrieved",
            source["key"]
        );
    }
}

#[test]
fn a_replayed_draft_only_uses_earlier_knowledge_of_the_same_product() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = base_copy(dir.path());
    // A mid-2025 double-charge ticket (product 3): similar cases exist before and after it.
    let ticket_id = 1041;
    let ticket = read_jsonl(&demo_bundle().join("tickets.jsonl"))
        .into_iter()
        .find(|t| t["id"] == ticket_id)
        .unwrap();
    let created_at = parse_time(&ticket["created_at"]);
    let draft_with = |as_of: Option<&str>| {
        let mut command = deskdraft(&data_dir);
        command
            .args(["draft", "--json", "--ticket-id", &ticket_id.to_string()])
            .arg("--bundle")
            .arg(demo_bundle());
        if let Some(as_of) = as_of {
            command.args(["--as-of", as_of]);
        }
        let drafts = run_json(&mut command);
        drafts[0].clone()
    };

    // Default for --ticket-id: as of the ticket's creation.
    let replay = draft_with(None);
    assert_eq!(replay["ticket_id"], ticket_id);
    check_replay(&replay, &ticket, Some(created_at));

    // Even with all knowledge, the ticket's own case is never a source.
    let now = draft_with(Some("now"));
    check_replay(&now, &ticket, None);
    let later_cases = now["retrieval"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| parse_time(&c["created_at"]) >= created_at)
        .count();
    assert!(
        later_cases > 0,
        "with --as-of now later cases are found (else the replay check proves nothing)"
    );
}

// ---------------------------------------------------------------------------------------------
// ../shared/datasets/twitter-care
// ---------------------------------------------------------------------------------------------

/// A deterministic subset of a bundle: every ticket of `keep_products`, the articles they link
/// and every `article_stride`-th other article.
fn subset_bundle(source: &Path, target: &Path, keep_products: &[i64], article_stride: usize) {
    std::fs::create_dir_all(target).unwrap();
    std::fs::copy(source.join("meta.json"), target.join("meta.json")).unwrap();
    let tickets: Vec<Value> = read_jsonl(&source.join("tickets.jsonl.gz"))
        .into_iter()
        .filter(|t| {
            t["product_id"]
                .as_i64()
                .is_some_and(|p| keep_products.contains(&p))
        })
        .collect();
    let thread_text: String = tickets.iter().map(|t| t.to_string()).collect();
    let articles: Vec<Value> = read_jsonl(&source.join("articles.jsonl.gz"))
        .into_iter()
        .enumerate()
        .filter(|(i, a)| {
            i % article_stride == 0 || a["url"].as_str().is_some_and(|u| thread_text.contains(u))
        })
        .map(|(_, a)| a)
        .collect();
    write_jsonl(&target.join("tickets.jsonl"), &tickets);
    write_jsonl(&target.join("articles.jsonl"), &articles);
}

#[test]
fn shared_twitter_care_replay_of_the_latest_ticket() {
    let shared = repo().join("../shared/datasets/twitter-care");
    if !shared.is_dir() {
        report_skip("skipped: ../shared/datasets/twitter-care not present");
        return;
    }
    let tickets = read_jsonl(&shared.join("tickets.jsonl.gz"));
    let latest = tickets
        .iter()
        .max_by_key(|t| (parse_time(&t["created_at"]), t["id"].as_i64()))
        .unwrap()
        .clone();
    let latest_id = latest["id"].as_i64().unwrap();
    let created_at = parse_time(&latest["created_at"]);

    let dir = tempfile::tempdir().unwrap();
    let bundle = if std::env::var("DESKDRAFT_TEST_FULL_SHARED").is_ok_and(|v| v == "1") {
        shared.clone()
    } else {
        // The latest ticket's product, plus other products whose cases must never be used.
        let product = latest["product_id"].as_i64().unwrap();
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for ticket in &tickets {
            *counts
                .entry(ticket["product_id"].as_i64().unwrap())
                .or_default() += 1;
        }
        let mut others: Vec<i64> = counts
            .iter()
            .filter(|(p, n)| **p != product && **n <= 8)
            .map(|(p, _)| *p)
            .collect();
        others.truncate(4);
        let mut keep = vec![product];
        keep.extend(others);
        let subset = dir.path().join("subset");
        subset_bundle(&shared, &subset, &keep, 40);
        subset
    };
    let data_dir = dir.path().join("data");
    let summary = ingest(&data_dir, &bundle, None);
    assert!(int(&summary, "/documents_indexed") > 0, "{summary:#}");
    let drafts = run_json(
        deskdraft(&data_dir)
            .args(["draft", "--json", "--ticket-id", &latest_id.to_string()])
            .arg("--bundle")
            .arg(&bundle),
    );
    let draft = &drafts[0];
    assert_eq!(draft["ticket_id"], latest_id);
    check_replay(draft, &latest, Some(created_at));
}
