//! Feedback learnt from the replies agents really send: 50 drafted tickets, answered in
//! Freshdesk by hand (some with the draft as it was, some edited, some rewritten, some with
//! something else entirely, a few after inserting the draft from the sidebar app); once the
//! reconciler has read those replies, the statistics count each kind and the notes say how their
//! draft was used.

use super::*;
use deskdraft::draft::render::paragraphs;
use deskdraft::ingest::clean::clean_message_html;
use deskdraft::queue::{Outcome, drafts_edit_distance};
use support::freshdesk_stand_in::OTHER_AGENTS;

const TICKETS: usize = 50;

/// What the agent sends for the `index`-th drafted ticket, and the outcome it should count as.
fn reply_for(index: usize, draft: &str) -> (String, Outcome) {
    let unrelated = "Our warehouse team has checked the order history for your account and \
                     everything there looks in order. If anything else comes up just reply to \
                     this email and we will take a look at it for you straight away.";
    match index {
        0..15 => (draft.to_string(), Outcome::AsDrafted),
        15..30 => (
            format!("Thanks for your patience while we looked into this.\n\n{draft}"),
            Outcome::Edited,
        ),
        30..40 => {
            let half: String = draft.chars().take(draft.chars().count() / 2).collect();
            (format!("{unrelated}\n\n{half}"), Outcome::Rewritten)
        }
        _ => (unrelated.to_string(), Outcome::NotUsed),
    }
}

fn cleaned(text: &str) -> String {
    clean_message_html(&paragraphs(text), Some(text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_agents_send_is_counted_as_drafted_edited_rewritten_or_not_used() {
    let stand_in = stand_in_with_new_tickets(TICKETS).await;
    let data = ingested_data_dir();
    let server = start_server_with(
        data.path(),
        &stand_in,
        &[("DESKDRAFT_SERVE__POLL_INTERVAL_SECONDS", "1")],
    )
    .await;
    let client = http();
    draft_new_tickets_by_webhook(&client, &server, &stand_in, TICKETS).await;
    let drafts: Vec<Value> = server.api_get(&client, "/api/drafts").await;
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    let mut answered = 0;
    let mut inserted = 0;
    for (index, draft) in drafts
        .iter()
        .filter(|d| d["kind"] != "abstained")
        .enumerate()
    {
        let ticket_id = draft["ticket_id"].as_i64().unwrap();
        let text = draft["draft_text"].as_str().unwrap();
        let (reply, outcome) = reply_for(index, text);
        // The classes the test means are the classes deskdraft's measure gives.
        let distance = drafts_edit_distance(&cleaned(text), &cleaned(&reply));
        assert_eq!(
            Outcome::of_distance(distance),
            outcome,
            "ticket {ticket_id}: {distance}"
        );
        *expected.entry(outcome.as_str()).or_default() += 1;
        if index % 10 == 3 {
            // Inserted from the sidebar app before the agent sent it.
            let response = client
                .post(format!(
                    "{}/api/drafts/{}/feedback",
                    server.url,
                    draft["id"].as_str().unwrap()
                ))
                .bearer_auth(REVIEW_TOKEN)
                .json(&json!({"kind": "inserted", "agent": "ana.lima@stand-in.example"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            inserted += 1;
        }
        stand_in.add_agent_reply(ticket_id, &reply, OTHER_AGENTS[index % 2]);
        stand_in.edit_ticket(ticket_id, |ticket| ticket.status = 4);
        answered += 1;
    }
    assert!(answered >= 40, "only {answered} drafts with text");
    assert!(expected.len() == 4, "every kind is exercised: {expected:?}");

    let stats = server
        .wait_for_api(&client, "/api/stats", Duration::from_secs(120), |stats| {
            stats["live"]["overall"]["answered"] == answered
        })
        .await;
    let overall = &stats["live"]["overall"];
    for (kind, count) in &expected {
        assert_eq!(overall[*kind], *count, "{kind}: {overall}");
    }
    assert_eq!(
        stats["live"]["by_origin"]["app_insert"]["answered"],
        inserted
    );
    let agents = stats["live"]["per_agent"].as_object().unwrap();
    assert_eq!(agents.len(), 2, "{agents:?}");
    assert!(stats["live"]["risk_coverage"].as_array().unwrap().len() == 11);
    assert_eq!(stats["events"]["inserted"], inserted);

    // The notes say how their draft was used.
    let used_notes = (0..TICKETS as i64)
        .filter_map(|i| stand_in.ticket(FIRST_NEW_TICKET + i))
        .filter(|t| {
            t.conversations
                .iter()
                .any(|c| c.private && c.body.contains("Used:"))
        })
        .count();
    assert_eq!(used_notes, answered);
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("deskdraft_draft_outcomes_total{outcome=\"as_drafted\",via=\"typed\"}"),
        "{metrics}"
    );
    // Live quality at scrape time, from the stored outcomes: the same figures as /api/stats.
    assert!(
        metrics.contains(&format!(
            "deskdraft_live_answered_drafts{{dimension=\"overall\",key=\"all\"}} {answered}\n"
        )),
        "{metrics}"
    );
    for agent in agents.keys() {
        assert!(
            metrics.contains(&format!(
                "deskdraft_live_nearly_as_written_ratio{{dimension=\"agent\",key=\"{agent}\"}}"
            )),
            "agent {agent}: {metrics}"
        );
    }
}

/// The "agent replied" automation's webhook alone records the outcome: no reconciler runs
/// (poll interval 0), and the webhook's job on the answered ticket counts what was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_replied_webhook_records_the_outcome_without_the_reconciler() {
    let stand_in = stand_in_with_new_tickets(1).await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in).await;
    let client = http();
    draft_new_tickets_by_webhook(&client, &server, &stand_in, 1).await;
    let drafts: Vec<Value> = server.api_get(&client, "/api/drafts").await;
    let draft = &drafts[0];
    assert_ne!(draft["kind"], "abstained", "{draft}");
    let ticket_id = draft["ticket_id"].as_i64().unwrap();
    let text = draft["draft_text"].as_str().unwrap().to_string();
    stand_in.add_agent_reply(ticket_id, &text, OTHER_AGENTS[1]);
    let stats: Value = server.api_get(&client, "/api/stats").await;
    assert_eq!(stats["live"]["overall"]["answered"], 0, "nothing seen yet");
    assert_eq!(send_webhook(&client, &server.url, ticket_id).await, 202);
    let stats = server
        .wait_for_api(&client, "/api/stats", Duration::from_secs(60), |stats| {
            stats["live"]["overall"]["answered"] == 1
        })
        .await;
    assert_eq!(stats["live"]["overall"]["as_drafted"], 1, "{stats}");
    let agent = OTHER_AGENTS[1].to_string();
    assert_eq!(
        stats["live"]["per_agent"][agent.as_str()]["answered"],
        1,
        "{stats}"
    );
    // The answered message gets no second note from the webhook's job.
    let notes = stand_in
        .ticket(ticket_id)
        .unwrap()
        .conversations
        .iter()
        .filter(|c| c.private)
        .count();
    assert_eq!(notes, 1);
}
