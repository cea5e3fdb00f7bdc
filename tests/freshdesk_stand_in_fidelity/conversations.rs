//! Replies and notes written as an agent (`user_id`), and the agent APIs that find that agent.

use super::*;
use serde_json::json;
use support::freshdesk_stand_in::{AGENT_ID, OTHER_AGENTS};

fn non_admin() -> StandInConfig {
    StandInConfig {
        admin: false,
        ..StandInConfig::default()
    }
}

/// DOC L3892-L3975 (`user_id`: the agent adding the reply or note) and SRC
/// `test_reply_with_user_id_valid` / `test_create_with_user_id_valid` (id 11953594885).
#[tokio::test]
async fn replies_and_notes_are_stored_as_the_agent_named_by_user_id() {
    let (stand_in, api) = start(tickets(1), StandInConfig::default()).await;
    let reply = api
        .post(
            "/tickets/1/reply",
            json!({"body": "Fixed.", "user_id": OTHER_AGENTS[0]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json()["user_id"], OTHER_AGENTS[0]);
    let note = api.post("/tickets/1/notes", json!({"body": "FYI"})).await;
    assert_eq!(
        note.json()["user_id"],
        AGENT_ID,
        "without user_id: the key's agent"
    );
    let stored = stand_in.ticket(1).expect("ticket").conversations;
    let authors: Vec<Option<i64>> = stored[3..].iter().map(|c| c.user_id).collect();
    assert_eq!(authors, vec![Some(OTHER_AGENTS[0]), Some(AGENT_ID)]);
    let (listed, _) = api.all_pages("/tickets/1/conversations").await;
    assert_eq!(listed[3]["user_id"], OTHER_AGENTS[0]);
}

/// SRC `test_reply_invalid_model` (id 11953594885: 400, `user_id`, `absent_in_db` naming
/// resource `contact`; the message follows the OBSERVED "There is no contact matching the given
/// email" pattern; its exact text for `user_id` is UNCERTAIN) and SRC
/// `test_reply_numericality_invalid` (`datatype_mismatch`, "Positive Integer").
#[tokio::test]
async fn a_user_id_that_names_nobody_or_is_no_integer_is_a_400_on_user_id() {
    let (stand_in, api) = start(tickets(1), StandInConfig::default()).await;
    let unknown = api
        .post(
            "/tickets/1/reply",
            json!({"body": "x", "user_id": 789_789_789}),
        )
        .await;
    assert_eq!(
        unknown.first_error(),
        json!({"field": "user_id", "code": "invalid_value",
               "message": "There is no contact matching the given user_id"})
    );
    let text = api
        .post("/tickets/1/notes", json!({"body": "x", "user_id": "x"}))
        .await;
    assert_eq!(
        text.first_error(),
        json!({"field": "user_id", "code": "datatype_mismatch",
               "message": "Value set is of type String.It should be a/an Positive Integer"})
    );
    assert_eq!(stand_in.ticket(1).expect("ticket").conversations.len(), 3);
}

/// SRC `test_reply_with_user_id_invalid_privilege` and `is_allowed_to_assume?` (id 11953594885:
/// only admins may write as another user; 403 `invalid_user` naming the user's id and name).
#[tokio::test]
async fn a_non_admin_key_may_write_only_as_its_own_agent() {
    let (stand_in, api) = start(tickets(1), non_admin()).await;
    let other = api
        .post(
            "/tickets/1/reply",
            json!({"body": "x", "user_id": OTHER_AGENTS[1]}),
        )
        .await;
    assert_eq!(other.status, 403);
    let body = other.json();
    assert_eq!(body["code"], "invalid_user");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains(&OTHER_AGENTS[1].to_string()) && message.contains("Ben Okafor"),
        "{message}"
    );
    let own = api
        .post(
            "/tickets/1/reply",
            json!({"body": "x", "user_id": AGENT_ID}),
        )
        .await;
    assert_eq!(own.status, 201);
    assert_eq!(stand_in.ticket(1).expect("ticket").conversations.len(), 4);
}

/// SRC `test_reply_to_spammed_ticket` (research §4: the conversation scoper filters
/// `spam: false, deleted: false`, so replies and notes to such tickets are 404).
#[tokio::test]
async fn replies_and_notes_to_spam_or_trashed_tickets_are_404() {
    let mut bundle = tickets(3);
    bundle.tickets[1].spam = true;
    bundle.tickets[2].deleted = true;
    let (stand_in, api) = start(bundle, StandInConfig::default()).await;
    for id in [2, 3] {
        for kind in ["reply", "notes"] {
            let answer = api
                .post(&format!("/tickets/{id}/{kind}"), json!({"body": "x"}))
                .await;
            assert_eq!(answer.status, 404, "{kind} on ticket {id}");
        }
        assert_eq!(stand_in.ticket(id).expect("ticket").conversations.len(), 3);
    }
}

/// DOC L6523-L6585 (`GET /agents?email=`: a bare array, 0 or 1 agents since emails are unique;
/// name and email under `contact`) and DOC `#agents` (`GET /agents/{id}`).
#[tokio::test]
async fn agents_by_email_are_a_bare_array_of_zero_or_one_full_agents() {
    let (_stand_in, api) = start(tickets(1), StandInConfig::default()).await;
    let found = api.get("/agents?email=ana.lima%40stand-in.example").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.credits(), 1);
    let agents = found.json();
    assert_eq!(agents.as_array().map(Vec::len), Some(1), "{agents}");
    assert_eq!(agents[0]["id"], OTHER_AGENTS[0]);
    assert_eq!(agents[0]["contact"]["name"], "Ana Lima");
    assert_eq!(agents[0]["contact"]["email"], "ana.lima@stand-in.example");
    assert!(agents[0].get("name").is_none(), "name sits under contact");
    assert_eq!(
        api.get("/agents?email=nobody%40x.example").await.json(),
        json!([])
    );

    let one = api.get(&format!("/agents/{}", OTHER_AGENTS[1])).await;
    assert_eq!(one.json()["contact"]["name"], "Ben Okafor");
    assert_eq!(api.get("/agents/123").await.status, 404);
    let all = api.get("/agents").await.json();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["contact"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec!["Ana Lima", "Ben Okafor", "Stand-in Agent"],
        "alphabetical"
    );
}

/// DOC L6452 ("All Agent APIs other than the Currently Authenticated Agent API require admin
/// privileges") and the 403 body OBSERVED for `/api/v2/agents` (research §5).
#[tokio::test]
async fn agent_apis_other_than_me_need_an_admin_key() {
    let (_stand_in, api) = start(tickets(1), non_admin()).await;
    for path in [
        "/agents?email=ana.lima%40stand-in.example",
        "/agents",
        "/agents/50000067380",
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, 403, "{path}");
        assert_eq!(
            answer.json(),
            json!({"code": "access_denied", "message": "You are not authorized to perform this action."})
        );
    }
    let me = api.get("/agents/me").await;
    assert_eq!((me.status, me.json()["id"].as_i64()), (200, Some(AGENT_ID)));
}
