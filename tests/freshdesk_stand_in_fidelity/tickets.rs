//! Ticket lists (trash and spam), `PUT /tickets/{id}`, and writes whose response is lost.

use std::time::Duration;

use super::*;
use serde_json::json;
use support::freshdesk_stand_in::Faults;

/// Tickets 1..=9: 2-5 in the trash, 6-7 spam, 8 trashed and 9 spam but both archived.
fn removed_bundle() -> Bundle {
    let mut bundle = tickets(9);
    for ticket in &mut bundle.tickets {
        ticket.deleted = matches!(ticket.id, 2..=5 | 8);
        ticket.spam = matches!(ticket.id, 6 | 7 | 9);
        ticket.archived = ticket.id >= 8;
    }
    bundle
}

/// DOC `#list_all_tickets` (`filter=deleted|spam`; `updated_since`; Link pagination; 1 credit
/// plus 2 per include) and SRC id 11969752914 (these filters read the live tickets table, so
/// archived tickets are never listed).
#[tokio::test]
async fn trash_and_spam_lists_page_from_updated_since_without_archived_tickets() {
    let (_stand_in, api) = start(removed_bundle(), StandInConfig::default()).await;
    let since = "2024-01-01T00:30:00Z";
    let (deleted, pages) = api
        .all_pages(&format!(
            "/tickets?filter=deleted&updated_since={since}&per_page=2"
        ))
        .await;
    assert_eq!(
        ids(&deleted),
        vec![5, 4, 3],
        "newest created first, 2 left out by updated_since"
    );
    assert_eq!(pages, 2);
    assert!(
        deleted
            .iter()
            .all(|t| t["deleted"] == true && t.get("archived").is_none())
    );
    let (spam, _) = api
        .all_pages("/tickets?filter=spam&updated_since=2000-01-01&order_type=asc")
        .await;
    assert_eq!(ids(&spam), vec![6, 7]);
    let (live, _) = api.all_pages("/tickets?updated_since=2000-01-01").await;
    assert_eq!(
        ids(&live),
        vec![1],
        "no trash, spam or archived ticket in the default list"
    );

    let plain = api
        .get("/tickets?filter=deleted&updated_since=2000-01-01&per_page=1")
        .await;
    assert_eq!(plain.credits(), 1);
    assert!(plain.header("link").is_some_and(|l| l.contains("page=2")));
    let with_include = api
        .get("/tickets?filter=deleted&updated_since=2000-01-01&include=requester")
        .await;
    assert_eq!(with_include.credits(), 3);
}

/// DOC L1462-L1600 (`PUT /tickets/{id}`: partial update, 200 with the full ticket and no
/// include data); SRC `TagMethods#construct_tags` (tags replace the list).
#[tokio::test]
async fn put_updates_the_documented_fields_and_answers_the_full_ticket() {
    let (stand_in, api) = start(tickets(2), StandInConfig::default()).await;
    let before = stand_in.ticket(2).expect("ticket");
    let update = json!({"status": 5, "priority": 3, "tags": ["billing", "vip"], "type": "Incident",
                        "responder_id": 50_000_067_380_i64, "group_id": 12, "custom_fields": {"cf_order": "A-1"}});
    let answer = api.put("/tickets/2", update).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.credits(), 1);
    let body = answer.json();
    assert_eq!(body["id"], 2);
    assert_eq!((&body["status"], &body["priority"]), (&json!(5), &json!(3)));
    assert_eq!(
        body["tags"],
        json!(["billing", "vip"]),
        "the old tag is gone"
    );
    assert_eq!(body["type"], "Incident");
    assert_eq!(body["custom_fields"], json!({"cf_order": "A-1"}));
    assert_eq!(
        body["description"], "<div>Problem 2</div>",
        "the full ticket"
    );
    assert!(body.get("conversations").is_none());

    let after = stand_in.ticket(2).expect("ticket");
    assert_eq!((after.status, after.priority), (5, Some(3)));
    assert_eq!(after.tags, vec!["billing", "vip"]);
    assert_eq!(
        (after.responder_id, after.group_id),
        (Some(50_000_067_380), Some(12))
    );
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.conversations, before.conversations);
    let cleared = api.put("/tickets/2", json!({"tags": []})).await;
    assert_eq!(cleared.json()["tags"], json!([]));
}

/// Fact sheet §8.4 (OBSERVED verbatim: a string status is `datatype_mismatch` "Value set is of
/// type String.It should be one of these values: '2,3,4,5,6,7'"; unknown fields are
/// `invalid_field` "Unexpected/invalid field in request"); research §4 (`invalid_value` with
/// the allowed list). Every error of the request is reported, nothing is stored.
#[tokio::test]
async fn put_rejects_bad_values_like_freshdesk_and_stores_nothing() {
    let (stand_in, api) = start(tickets(1), StandInConfig::default()).await;
    let before = stand_in.ticket(1).expect("ticket");
    let string_status = api.put("/tickets/1", json!({"status": "4"})).await;
    assert_eq!(
        string_status.first_error(),
        json!({"field": "status", "code": "datatype_mismatch",
               "message": "Value set is of type String.It should be one of these values: '2,3,4,5,6,7'"})
    );
    let out_of_range = api.put("/tickets/1", json!({"status": 9})).await;
    assert_eq!(
        out_of_range.first_error(),
        json!({"field": "status", "code": "invalid_value",
               "message": "It should be one of these values: '2,3,4,5,6,7'"})
    );
    let several = api
        .put(
            "/tickets/1",
            json!({"status": 4, "resolution": "x", "priority": 7, "custom_fields": {"cf_nope": 1}}),
        )
        .await;
    assert_eq!(several.status, 400);
    let errors = several.json()["errors"].clone();
    let fields: Vec<&str> = errors
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields.len(), 3, "{errors}");
    for field in ["resolution", "priority", "cf_nope"] {
        assert!(fields.contains(&field), "{errors}");
    }
    assert!(
        errors
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "resolution"
                && e["code"] == "invalid_field"
                && e["message"] == "Unexpected/invalid field in request")
    );
    assert_eq!(
        stand_in.ticket(1).expect("ticket"),
        before,
        "nothing stored"
    );
}

/// SRC `TicketConcern#verify_object_state` (research id 15815485599: update of a spam or
/// trashed ticket is `render_405_error(['GET'])`, otherwise `head(404)`); DOC changelog Apr 2016
/// (405 for spam/deleted); research §1 (archived ids are 404 on the live endpoints).
#[tokio::test]
async fn put_on_spam_or_trash_is_405_and_on_unknown_or_archived_ids_404() {
    let (stand_in, api) = start(removed_bundle(), StandInConfig::default()).await;
    for id in [2, 6] {
        let answer = api
            .put(&format!("/tickets/{id}"), json!({"status": 2}))
            .await;
        assert_eq!(answer.status, 405, "ticket {id}: {}", answer.text);
        assert_eq!(answer.header("allow"), Some("GET"));
        assert_eq!(answer.json()["code"], "method_not_allowed");
    }
    for id in [8, 42] {
        let answer = api
            .put(&format!("/tickets/{id}"), json!({"status": 2}))
            .await;
        assert_eq!(
            (answer.status, answer.text.as_str()),
            (404, ""),
            "ticket {id}"
        );
    }
    assert_eq!(stand_in.ticket(2).expect("ticket").status, 4);
}

/// DOC L42-L63 ("Ticket Update" per-minute sub-limit, separate from the account total).
#[tokio::test]
async fn the_ticket_update_sub_limit_answers_429_with_retry_after() {
    let (_stand_in, api) = start(
        tickets(1),
        StandInConfig {
            update_limit_per_window: Some(2),
            window: Duration::from_secs(30),
            ..StandInConfig::default()
        },
    )
    .await;
    for status in [2, 3] {
        assert_eq!(
            api.put("/tickets/1", json!({"status": status}))
                .await
                .status,
            200
        );
    }
    let limited = api.put("/tickets/1", json!({"status": 4})).await;
    assert_eq!(limited.status, 429);
    assert!(
        limited
            .header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1))
    );
    assert_eq!(
        api.get("/tickets/1").await.status,
        200,
        "other calls are not limited"
    );
}

/// Fact sheet §8.2 (Freshdesk FAQ "Status codes and its reasons": 502/503/504 can come back)
/// and §3.3 (creation is not idempotent): a gateway may lose the answer of a write that
/// Freshdesk applied. The page is the gateway's: HTML, no Freshdesk headers.
#[tokio::test]
async fn a_lost_response_is_a_gateway_502_page_after_the_write_was_stored() {
    let faults = Faults {
        lost_response_next: 1,
        ..Faults::default()
    };
    let (stand_in, api) = start(
        tickets(1),
        StandInConfig {
            faults,
            ..StandInConfig::default()
        },
    )
    .await;
    let lost = api.post("/tickets/1/notes", json!({"body": "draft"})).await;
    assert_eq!(lost.status, 502);
    assert_eq!(lost.header("content-type"), Some("text/html"));
    assert_eq!(
        lost.text,
        "<html><body><h1>502 Bad Gateway</h1></body></html>"
    );
    assert!(lost.header("x-ratelimit-remaining").is_none());
    let stored = stand_in.ticket(1).expect("ticket").conversations;
    assert_eq!(stored.len(), 4, "the note was stored");
    assert_eq!(stored[3].body, "<div>draft</div>");
    let logged = stand_in.log().pop().expect("logged");
    assert_eq!((logged.status, logged.cost), (502, 1));

    let next = api.post("/tickets/1/notes", json!({"body": "again"})).await;
    assert_eq!(next.status, 201, "only the next write was lost");
}

/// As above, at a rate: only writes that succeeded lose their answer; reads and rejected writes
/// are answered.
#[tokio::test]
async fn lost_responses_hit_only_applied_writes() {
    let faults = Faults {
        lost_response_rate: 1.0,
        ..Faults::default()
    };
    let (stand_in, api) = start(
        tickets(1),
        StandInConfig {
            faults,
            ..StandInConfig::default()
        },
    )
    .await;
    assert_eq!(api.get("/tickets/1").await.status, 200);
    let update = api.put("/tickets/1", json!({"status": 5})).await;
    assert_eq!(update.status, 502);
    assert_eq!(stand_in.ticket(1).expect("ticket").status, 5, "applied");
    assert_eq!(
        api.put("/tickets/1", json!({"status": "5"})).await.status,
        400
    );
    assert_eq!(
        api.post("/tickets/77/reply", json!({"body": "x"}))
            .await
            .status,
        404
    );
}
