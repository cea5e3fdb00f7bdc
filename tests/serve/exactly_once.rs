//! Exactly once against an unkind Freshdesk: it rewrites the HTML it stores and loses 10% of the
//! responses to writes (the write happens, the client gets a 502). 200 webhooks for 160 tickets
//! make exactly 160 notes; 20 approvals (some twice, some from two tabs at once) make exactly
//! 20 public replies, each sent as the approving agent; a server killed with SIGKILL in the
//! middle and restarted still leaves one note per ticket.

use super::*;
use support::freshdesk_stand_in::{Faults, OTHER_AGENTS};

/// The stand-in with `count` new tickets, HTML rewriting (its default) and lost responses.
async fn unkind_stand_in(count: usize, lost_response_rate: f64) -> StandIn {
    StandIn::start(
        account_with_new_tickets(count),
        StandInConfig {
            api_key: KEY.into(),
            window: Duration::from_secs(1),
            faults: Faults {
                lost_response_rate,
                seed: 15,
                ..Faults::default()
            },
            ..StandInConfig::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_responses_and_rewritten_html_still_give_one_note_per_ticket_and_one_reply_per_approval()
 {
    let stand_in = unkind_stand_in(160, 0.10).await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in).await;
    let client = http();
    let ids: Vec<i64> = (0..200).map(|i| FIRST_NEW_TICKET + (i % 160)).collect();
    let statuses =
        futures::future::join_all(ids.iter().map(|id| send_webhook(&client, &server.url, *id)))
            .await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    wait_for_notes(&stand_in, 160, 160, Duration::from_secs(300)).await;
    let lost = stand_in.log().iter().filter(|r| r.status == 502).count();
    assert!(
        lost >= 10,
        "only {lost} responses were lost: the test tests little"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notes = notes_per_ticket(&stand_in, 160);
    let wrong: Vec<_> = notes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "tickets without exactly one note: {wrong:?}"
    );
    let drafts: Vec<Value> = server.api_get(&client, "/api/drafts").await;
    assert_eq!(drafts.len(), 160);
    let tagged = (0..160)
        .filter_map(|i| stand_in.ticket(FIRST_NEW_TICKET + i))
        .filter(|t| t.tags.iter().any(|tag| tag == "deskdraft"))
        .count();
    assert_eq!(
        tagged, 160,
        "every drafted ticket carries the deskdraft tag"
    );

    // 20 approvals: even ones by email (resolved once, cached) asking for "pending", odd ones by
    // agent id asking for "resolved"; every
    // third approved twice in a row, every fifth from two tabs at once.
    let pending: Vec<Value> = server.api_get(&client, "/api/drafts?status=pending").await;
    assert!(pending.len() >= 20, "only {} pending drafts", pending.len());
    let chosen = &pending[..20];
    let mut expected_agent = BTreeMap::new();
    let mut approvals = Vec::new();
    for (index, draft) in chosen.iter().enumerate() {
        let id = draft["id"].as_str().unwrap().to_string();
        let ticket_id = draft["ticket_id"].as_i64().unwrap();
        let body = if index % 2 == 0 {
            expected_agent.insert(ticket_id, OTHER_AGENTS[0]);
            json!({"agent_email": "ana.lima@stand-in.example", "status": "pending"})
        } else {
            expected_agent.insert(ticket_id, OTHER_AGENTS[1]);
            json!({"agent_id": OTHER_AGENTS[1], "by": "Ben", "status": "resolved", "text": format!("{}\n\nBen", draft["draft_text"].as_str().unwrap())})
        };
        let times = if index % 5 == 0 { 2 } else { 1 };
        let url = format!("{}/api/drafts/{id}/approve", server.url);
        let send = |body: Value| {
            client
                .post(url.clone())
                .bearer_auth(REVIEW_TOKEN)
                .json(&body)
                .send()
        };
        if times == 2 {
            let (a, b) = tokio::join!(send(body.clone()), send(body.clone()));
            approvals.extend([a.unwrap().status(), b.unwrap().status()]);
        } else {
            approvals.push(send(body.clone()).await.unwrap().status());
        }
        if index % 3 == 0 {
            approvals.push(send(body).await.unwrap().status());
        }
    }
    assert!(
        approvals
            .iter()
            .all(|s| s.as_u16() == 202 || s.as_u16() == 200),
        "{approvals:?}"
    );
    // Sent, and every send job finished (status set, note updated).
    server
        .wait_for_api(&client, "/api/jobs", Duration::from_secs(120), |jobs| {
            let jobs = jobs.as_array().unwrap();
            jobs.iter().filter(|j| j["kind"] == "send").count() == 20
                && jobs.iter().all(|j| j["state"] == "done")
        })
        .await;
    let approved: Vec<Value> = server.api_get(&client, "/api/drafts?status=approved").await;
    assert_eq!(approved.len(), 20);
    for (ticket_id, agent) in &expected_agent {
        let replies = public_replies(&stand_in, *ticket_id);
        assert_eq!(replies.len(), 1, "ticket {ticket_id}: {replies:?}");
        assert_eq!(replies[0].user_id, Some(*agent), "ticket {ticket_id}");
        let ticket = stand_in.ticket(*ticket_id).unwrap();
        let note = ticket.conversations.iter().find(|c| c.private).unwrap();
        let who = if *agent == OTHER_AGENTS[0] {
            "ana.lima@stand-in.example"
        } else {
            "Ben"
        };
        assert!(
            note.body.contains(&format!("by {who} at")),
            "the note says who sent it: {}",
            note.body
        );
    }
    // Ana asked for "pending" once sent.
    let pending_after: Vec<i64> = expected_agent
        .iter()
        .filter(|(_, agent)| **agent == OTHER_AGENTS[0])
        .map(|(id, _)| stand_in.ticket(*id).unwrap().status)
        .collect();
    assert!(pending_after.iter().all(|s| *s == 3), "{pending_after:?}");
    // Ben asked for "resolved" (Freshdesk's status 4).
    let resolved_after: Vec<i64> = expected_agent
        .iter()
        .filter(|(_, agent)| **agent == OTHER_AGENTS[1])
        .map(|(id, _)| stand_in.ticket(*id).unwrap().status)
        .collect();
    assert!(resolved_after.iter().all(|s| *s == 4), "{resolved_after:?}");
    // No reply went to a ticket nobody approved.
    let replied_unapproved: Vec<i64> = (0..160)
        .map(|i| FIRST_NEW_TICKET + i)
        .filter(|id| !expected_agent.contains_key(id) && !public_replies(&stand_in, *id).is_empty())
        .collect();
    assert!(
        replied_unapproved.is_empty(),
        "replies without an approval: {replied_unapproved:?}"
    );
    let lookups = stand_in
        .log()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v2/agents")
        .count();
    assert_eq!(lookups, 1, "an agent's email is looked up once");
}

/// SIGKILL in the middle of the run, then a restart: every job still ends in exactly one note.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_run_loses_no_job_and_posts_no_second_note() {
    let stand_in = unkind_stand_in(160, 0.05).await;
    let data = ingested_data_dir();
    let mut server = start_server(data.path(), &stand_in).await;
    let client = http();
    for id in (0..160).map(|i| FIRST_NEW_TICKET + i) {
        assert_eq!(send_webhook(&client, &server.url, id).await, 202);
    }
    wait_for_notes(&stand_in, 160, 50, Duration::from_secs(300)).await;
    server.child.kill().await.expect("SIGKILL");
    let at_kill = notes_per_ticket(&stand_in, 160)
        .values()
        .filter(|n| **n > 0)
        .count();
    assert!(at_kill < 160, "the kill came too late to test anything");

    let server = start_server(data.path(), &stand_in).await;
    wait_for_notes(&stand_in, 160, 160, Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notes = notes_per_ticket(&stand_in, 160);
    let wrong: Vec<_> = notes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "killed after {at_kill} notes; tickets without exactly one note: {wrong:?}"
    );
    let jobs = server
        .wait_for_api(&client, "/api/jobs", Duration::from_secs(60), |jobs| {
            jobs.as_array()
                .unwrap()
                .iter()
                .all(|j| j["state"] == "done")
        })
        .await;
    assert_eq!(jobs.as_array().unwrap().len(), 160);
}

/// An approval while Freshdesk cannot be read: the send job does not guess that nothing was
/// sent, so it posts nothing; once Freshdesk answers again, the reply goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_while_the_ticket_cannot_be_read_sends_nothing_until_it_can() {
    let stand_in = unkind_stand_in(2, 0.0).await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in).await;
    let client = http();
    for id in [FIRST_NEW_TICKET, FIRST_NEW_TICKET + 1] {
        assert_eq!(send_webhook(&client, &server.url, id).await, 202);
    }
    wait_for_notes(&stand_in, 2, 2, Duration::from_secs(120)).await;
    let pending: Vec<Value> = server.api_get(&client, "/api/drafts?status=pending").await;
    let draft = pending.first().expect("a pending draft");
    let (id, ticket_id) = (
        draft["id"].as_str().unwrap().to_string(),
        draft["ticket_id"].as_i64().unwrap(),
    );

    // Every Freshdesk call fails (reads included) while the approval is sent.
    stand_in.set_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    });
    let approved = client
        .post(format!("{}/api/drafts/{id}/approve", server.url))
        .bearer_auth(REVIEW_TOKEN)
        .json(&json!({"agent_id": OTHER_AGENTS[1]}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        approved, 202,
        "the approval is recorded, not sent in the request"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let reply_posts = |stand_in: &StandIn| {
        stand_in
            .log()
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path.ends_with(&format!("/tickets/{ticket_id}/reply"))
            })
            .count()
    };
    let reads = stand_in
        .log()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains(&format!("/tickets/{ticket_id}")))
        .count();
    assert!(reads > 0, "the send job tried to read the ticket");
    assert_eq!(reply_posts(&stand_in), 0, "nothing is sent unread");
    assert!(public_replies(&stand_in, ticket_id).is_empty());

    // Freshdesk answers again: the reply goes out, once.
    stand_in.set_faults(Faults::default());
    server
        .wait_for_api(
            &client,
            &format!("/api/drafts/{id}"),
            Duration::from_secs(120),
            |d| d["status"] == "approved",
        )
        .await;
    let replies = public_replies(&stand_in, ticket_id);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].user_id, Some(OTHER_AGENTS[1]));
    assert_eq!(reply_posts(&stand_in), 1);
}
