//! A customer's follow-up on a drafted ticket gets a second note, and only one, drafted from the
//! whole thread (checked in the prompt a language model receives); `/readyz` polled 60 times
//! costs at most one Freshdesk call.

use super::*;
use deskdraft::domain::Conversation;
use support::openai_stand_in::{OpenAiStandIn, answer};

fn conversation(id: i64, ticket_id: i64, incoming: bool, text: &str) -> Conversation {
    let at = Utc::now();
    Conversation {
        id,
        body: format!("<div>{text}</div>"),
        body_text: Some(text.to_string()),
        incoming,
        private: false,
        source: Some(0),
        user_id: Some(if incoming {
            7_000_000_001
        } else {
            50_000_067_380
        }),
        ticket_id: Some(ticket_id),
        support_email: None,
        created_at: at,
        updated_at: Some(at),
        attachments: Vec::new(),
    }
}

fn private_notes(stand_in: &StandIn, ticket_id: i64) -> Vec<Conversation> {
    stand_in
        .ticket(ticket_id)
        .map(|t| t.conversations.into_iter().filter(|c| c.private).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_follow_up_gets_one_more_note_drafted_from_the_whole_thread() {
    let model = OpenAiStandIn::start(
        Vec::new(),
        answer(
            "Thanks for trying that. Please hold the power button for ten seconds.",
            &[],
            0.9,
        ),
    )
    .await;
    let stand_in = stand_in_with_new_tickets(2).await;
    let data = ingested_data_dir();
    let model_url = model.base_url();
    let server = start_server_with(
        data.path(),
        &stand_in,
        &[
            ("DESKDRAFT_LLM__BASE_URL", model_url.as_str()),
            ("DESKDRAFT_LLM__MODEL", "stand-in-model"),
        ],
    )
    .await;
    let client = http();
    let ticket_id = FIRST_NEW_TICKET;
    assert_eq!(send_webhook(&client, &server.url, ticket_id).await, 202);
    wait_until("the first note", Duration::from_secs(120), || {
        private_notes(&stand_in, ticket_id).len() == 1
    })
    .await;

    // An agent answers by hand in Freshdesk, the customer writes back, Freshdesk reopens the
    // ticket, and the "reply sent by requester" automation calls the webhook (twice, as
    // at-least-once delivery may).
    let agent_reply = "Please restart the kettle and keep it on its base for a minute.";
    let follow_up = "I restarted it twice and the light still blinks red.";
    stand_in.edit_ticket(ticket_id, |ticket| {
        ticket
            .conversations
            .push(conversation(95_000_000_001, ticket_id, false, agent_reply));
        ticket
            .conversations
            .push(conversation(95_000_000_002, ticket_id, true, follow_up));
        ticket.status = 2;
        ticket.updated_at = Utc::now();
    });
    let (a, b) = tokio::join!(
        send_webhook(&client, &server.url, ticket_id),
        send_webhook(&client, &server.url, ticket_id)
    );
    assert_eq!((a.as_u16(), b.as_u16()), (202, 202));
    wait_until("the follow-up note", Duration::from_secs(120), || {
        private_notes(&stand_in, ticket_id).len() >= 2
    })
    .await;
    // A late duplicate changes nothing.
    assert_eq!(send_webhook(&client, &server.url, ticket_id).await, 202);
    server
        .wait_for_api(&client, "/api/jobs", Duration::from_secs(60), |jobs| {
            jobs.as_array()
                .unwrap()
                .iter()
                .all(|j| j["state"] == "done")
        })
        .await;
    let notes = private_notes(&stand_in, ticket_id);
    assert_eq!(notes.len(), 2, "exactly one note per customer message");
    assert!(
        notes[1].body.contains("Follow-up"),
        "the second note says what it answers: {}",
        notes[1].body
    );
    let drafts: Vec<Value> = server.api_get(&client, "/api/drafts").await;
    let mut ours: Vec<&Value> = drafts
        .iter()
        .filter(|d| d["ticket_id"] == ticket_id)
        .collect();
    ours.sort_by_key(|d| d["message_id"].as_i64());
    assert_eq!(ours.len(), 2);
    assert_eq!(ours[0]["message_id"], 0);
    assert_eq!(ours[1]["message_id"], 95_000_000_002i64);
    if ours[0]["status"] != "abstained" {
        assert_eq!(ours[0]["status"], "superseded", "{}", ours[0]);
    }

    // The model was asked twice for this ticket; the second time with the whole thread.
    let prompts: Vec<String> = model.requests().iter().map(|r| r.prompt_text()).collect();
    let last = prompts.last().expect("the model was asked");
    assert!(last.contains("Conversation so far"), "{last}");
    assert!(
        last.contains(agent_reply),
        "the agent's reply is in the thread: {last}"
    );
    assert!(last.contains(follow_up), "{last}");
    let ticket = stand_in.ticket(ticket_id).unwrap();
    let first_message = deskdraft::ingest::clean::clean_message_html(
        &ticket.description,
        ticket.description_text.as_deref(),
    );
    let opening: String = first_message.chars().take(30).collect();
    assert!(opening.trim().len() >= 10, "{first_message:?}");
    assert!(
        last.contains(opening.trim()),
        "the first message too: {last}"
    );

    // Readiness polled 60 times: the service's own recent calls answer; at most one call.
    stand_in.clear_log();
    for _ in 0..60 {
        let ready = client
            .get(format!("{}/readyz", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        let body: Value = ready.json().await.unwrap();
        assert_eq!(body["freshdesk"], "ok", "{body}");
    }
    let calls = stand_in.log().len();
    assert!(calls <= 1, "{calls} Freshdesk calls for 60 readiness polls");
}
