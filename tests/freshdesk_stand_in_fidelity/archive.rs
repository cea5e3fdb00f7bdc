//! Archived tickets: gone from the live endpoints, served by `/tickets/archived/{id}`.

use super::*;
use serde_json::json;

/// Tickets 1..=4; 3 is archived in the bundle, 4 is archived by the stand-in's helper.
async fn archived_account(config: StandInConfig) -> (StandIn, Api) {
    let mut bundle = tickets(4);
    bundle.tickets[2].archived = true;
    bundle.tickets[2].status = 5;
    bundle.tickets[2].conversations = (1..=12).map(|n| conversation(3, n)).collect();
    let (stand_in, api) = start(bundle, config).await;
    stand_in.archive_ticket(4);
    (stand_in, api)
}

/// Research §1: SRC public `TicketsController#load_object` (id 11969752914) answers 404 for an
/// archived id, DOC L1276 leaves archived tickets out of results, `filter=deleted|spam` read only
/// the live table; SRC conversation scoper (id 11953594885 tests) gives 404 on writes.
#[tokio::test]
async fn archived_tickets_are_in_no_list_and_404_on_every_live_endpoint() {
    let (stand_in, api) = archived_account(StandInConfig::default()).await;
    for query in [
        "updated_since=2000-01-01",
        "updated_since=2000-01-01&order_by=updated_at&order_type=asc&include=description",
        "filter=deleted&updated_since=2000-01-01",
        "filter=spam&updated_since=2000-01-01",
        "filter=new_and_my_open&updated_since=2000-01-01",
    ] {
        let (listed, _) = api.all_pages(&format!("/tickets?{query}")).await;
        assert!(
            !ids(&listed).iter().any(|id| *id == 3 || *id == 4),
            "{query}: {:?}",
            ids(&listed)
        );
    }
    let before = stand_in.ticket(3).expect("stored");
    for answer in [
        api.get("/tickets/3").await,
        api.get("/tickets/4?include=conversations").await,
        api.get("/tickets/3/conversations").await,
        api.put("/tickets/3", json!({"status": 2})).await,
        api.post("/tickets/3/reply", json!({"body": "hello"})).await,
        api.post("/tickets/4/notes", json!({"body": "note"})).await,
    ] {
        assert_eq!((answer.status, answer.text.as_str()), (404, ""));
    }
    let note = before.conversations[0].id;
    let edit = api
        .put(&format!("/conversations/{note}"), json!({"body": "x"}))
        .await;
    assert_eq!(edit.status, 404, "archived tickets are read-only");
    assert_eq!(
        stand_in.ticket(3).expect("stored"),
        before,
        "nothing changed"
    );
}

/// DOC L2447-L2522 (`GET /tickets/archived/{id}` adds `"archived": true`; the doc sample has the
/// description and no conversations) and SRC `Archive::TicketsController#sideload_associations`
/// (id 35117235498: includes accepted, 1 credit each; conversations at most 10).
#[tokio::test]
async fn an_archived_ticket_is_served_with_archived_true_and_its_includes() {
    let (_stand_in, api) = archived_account(StandInConfig::default()).await;
    let view = api.get("/tickets/archived/3").await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!(view.credits(), 1);
    let body = view.json();
    assert_eq!(
        (&body["id"], &body["archived"], &body["status"]),
        (&json!(3), &json!(true), &json!(5))
    );
    assert_eq!(body["description"], "<div>Problem 3</div>");
    assert!(body.get("conversations").is_none());

    let helper = api.get("/tickets/archived/4").await.json();
    assert_eq!(helper["archived"], true, "archive_ticket() archives");

    let with = api
        .get("/tickets/archived/3?include=conversations,stats")
        .await;
    assert_eq!(with.credits(), 3);
    let body = with.json();
    assert_eq!(body["conversations"].as_array().map(Vec::len), Some(10));
    assert!(body["stats"].get("closed_at").is_some());
    let bad = api.get("/tickets/archived/3?include=notes").await;
    assert_eq!(bad.first_error()["code"], "invalid_value");

    for live in [
        "/tickets/archived/1",
        "/tickets/archived/99",
        "/tickets/archived/x",
    ] {
        let answer = api.get(live).await;
        assert_eq!((answer.status, answer.text.as_str()), (404, ""), "{live}");
    }
}

/// DOC L2447-L2522 (`GET /tickets/archived/{id}/conversations`, a bare array) and SRC
/// `Archive::ConversationsController` (id 12001729486: `paginate_items`, `Link` header).
#[tokio::test]
async fn archived_conversations_are_paginated_like_other_lists() {
    let (_stand_in, api) = archived_account(StandInConfig::default()).await;
    let first = api
        .get("/tickets/archived/3/conversations?per_page=5")
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.credits(), 1);
    assert!(
        first
            .header("link")
            .is_some_and(|l| l.contains("page=2") && l.ends_with("rel=\"next\""))
    );
    let (all, pages) = api
        .all_pages("/tickets/archived/3/conversations?per_page=5")
        .await;
    assert_eq!(pages, 3);
    let expected: Vec<i64> = (1..=12).map(|n| conversation(3, n).id).collect();
    assert_eq!(ids(&all), expected, "oldest first, every one");
    assert_eq!(
        api.get("/tickets/archived/2/conversations").await.status,
        404
    );
}

/// DOC L2447-L2522 (`DELETE /tickets/archived/{id}`: 204) and research §1 (deleted for good,
/// no restore).
#[tokio::test]
async fn deleting_an_archived_ticket_is_for_good() {
    let (stand_in, api) = archived_account(StandInConfig::default()).await;
    let deleted = api.delete("/tickets/archived/3").await;
    assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
    assert!(stand_in.ticket(3).is_none());
    assert_eq!(api.get("/tickets/archived/3").await.status, 404);
    assert_eq!(api.delete("/tickets/archived/3").await.status, 404);
    assert_eq!(
        api.delete("/tickets/archived/1").await.status,
        404,
        "not archived"
    );
    assert!(stand_in.ticket(1).is_some());
}

/// SRC test `test_without_archive_feature` and OBSERVED message ("The Archive Tickets
/// feature(s) is/are not supported in your plan…", research §General points).
#[tokio::test]
async fn without_the_archive_feature_the_archived_endpoints_answer_403_require_feature() {
    let (_stand_in, api) = archived_account(StandInConfig {
        archive_feature: false,
        ..StandInConfig::default()
    })
    .await;
    for answer in [
        api.get("/tickets/archived/3").await,
        api.get("/tickets/archived/3/conversations").await,
        api.delete("/tickets/archived/3").await,
    ] {
        assert_eq!(answer.status, 403);
        assert_eq!(
            answer.json(),
            json!({"code": "require_feature",
                   "message": "The Archive Tickets feature(s) is/are not supported in your plan. Please upgrade your account to use it."})
        );
    }
    assert_eq!(
        api.get("/tickets/3").await.status,
        404,
        "still not a live ticket"
    );
}
