//! Chaos: the conditions real deployments meet every day, at once. A local model that answers
//! only after the job's lease would have run out, three workers, a slow Freshdesk that loses
//! responses, and a SIGKILL in the middle: still exactly one note per customer message and no
//! job lost. An approval whose reply takes longer than the approval request may, approved again
//! from a second tab: exactly one public reply.
//!
//! `scripts/chaos.sh` runs these three times in a row.

use super::*;
use support::freshdesk_stand_in::Faults;
use support::openai_stand_in::{OpenAiStandIn, answer};

const LEASE_SECONDS: &str = "2";
/// Longer than the lease: without renewal, another worker would take the job over mid-call.
const MODEL_DELAY: Duration = Duration::from_secs(3);

async fn slow_model() -> OpenAiStandIn {
    let model = OpenAiStandIn::start(
        Vec::new(),
        answer(
            "Please hold the power button for ten seconds, then try again.",
            &[],
            0.9,
        ),
    )
    .await;
    model.set_answer_delay(MODEL_DELAY);
    model
}

fn chaos_env(model: &OpenAiStandIn) -> Vec<(&'static str, String)> {
    vec![
        ("DESKDRAFT_LLM__BASE_URL", model.base_url()),
        ("DESKDRAFT_LLM__MODEL", "slow-local-model".into()),
        ("DESKDRAFT_LLM__TIMEOUT_SECONDS", "20".into()),
        ("DESKDRAFT_SERVE__WORKERS", "3".into()),
        ("DESKDRAFT_SERVE__LEASE_SECONDS", LEASE_SECONDS.into()),
    ]
}

async fn start_chaos_server(data: &Path, stand_in: &StandIn, env: &[(&str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_server_with(data, stand_in, &env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_model_three_workers_a_kill_and_a_lossy_freshdesk_still_give_one_note_each() {
    const TICKETS: usize = 24;
    let model = slow_model().await;
    let stand_in = StandIn::start(
        account_with_new_tickets(TICKETS),
        StandInConfig {
            api_key: KEY.into(),
            window: Duration::from_secs(1),
            faults: Faults {
                slow_rate: 0.3,
                slow_delay: Duration::from_millis(300),
                lost_response_rate: 0.15,
                seed: 16,
                ..Faults::default()
            },
            ..StandInConfig::default()
        },
    )
    .await;
    let data = ingested_data_dir();
    let env = chaos_env(&model);
    let mut server = start_chaos_server(data.path(), &stand_in, &env).await;
    let client = http();
    let ids: Vec<i64> = (0..TICKETS + 6)
        .map(|i| FIRST_NEW_TICKET + (i % TICKETS) as i64)
        .collect();
    for id in &ids {
        assert_eq!(send_webhook(&client, &server.url, *id).await, 202);
    }
    wait_for_notes(&stand_in, TICKETS, 6, Duration::from_secs(120)).await;
    server.child.kill().await.expect("SIGKILL");
    let at_kill = notes_per_ticket(&stand_in, TICKETS)
        .values()
        .filter(|n| **n > 0)
        .count();
    assert!(at_kill < TICKETS, "the kill came too late to test anything");

    let server = start_chaos_server(data.path(), &stand_in, &env).await;
    wait_for_notes(&stand_in, TICKETS, TICKETS, Duration::from_secs(240)).await;
    let jobs = server
        .wait_for_api(&client, "/api/jobs", Duration::from_secs(120), |jobs| {
            jobs.as_array()
                .unwrap()
                .iter()
                .all(|j| j["state"] == "done")
        })
        .await;
    assert_eq!(
        jobs.as_array().unwrap().len(),
        TICKETS,
        "no job lost: {jobs}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notes = notes_per_ticket(&stand_in, TICKETS);
    let wrong: Vec<_> = notes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "killed after {at_kill} notes; tickets without exactly one note: {wrong:?}"
    );
    assert!(
        model.requests().len() >= TICKETS,
        "every ticket went through the slow model"
    );
    let lost = stand_in.log().iter().filter(|r| r.status == 502).count();
    assert!(lost > 0, "no response was lost: the test tests little");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_whose_reply_outlasts_the_request_approved_again_sends_one_reply() {
    let stand_in = stand_in_with_new_tickets(2).await;
    let data = ingested_data_dir();
    let server = start_server_with(
        data.path(),
        &stand_in,
        &[("DESKDRAFT_SERVE__REQUEST_TIMEOUT_SECONDS", "1")],
    )
    .await;
    let client = http();
    draft_new_tickets_by_webhook(&client, &server, &stand_in, 2).await;
    let drafts: Vec<Value> = server.api_get(&client, "/api/drafts?status=pending").await;
    let draft = drafts.first().expect("a pending draft");
    let (id, ticket_id) = (
        draft["id"].as_str().unwrap().to_string(),
        draft["ticket_id"].as_i64().unwrap(),
    );
    // From now on Freshdesk takes 3 s to apply and answer a write: longer than the approval
    // request may last (deskdraft's client waits for it; a client that gives up first is
    // `freshdesk_client`'s `seams::a_reply_that_outlasts_the_client_timeout_is_posted_once`).
    stand_in.set_faults(Faults {
        write_delay: Duration::from_secs(3),
        ..Faults::default()
    });
    let approve = || {
        client
            .post(format!("{}/api/drafts/{id}/approve", server.url))
            .bearer_auth(REVIEW_TOKEN)
            .json(&json!({"agent_email": "ana.lima@stand-in.example"}))
            .send()
    };
    let first_tab = approve().await.unwrap();
    assert_eq!(
        first_tab.status(),
        202,
        "recorded at once, sent by a worker"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second_tab = approve().await.unwrap();
    assert_eq!(second_tab.status(), 202);
    let body: Value = second_tab.json().await.unwrap();
    assert_eq!(body["status"], "sending", "{body}");
    server
        .wait_for_api(
            &client,
            &format!("/api/drafts/{id}"),
            Duration::from_secs(90),
            |draft| draft["status"] == "approved" && draft["note_updated"] == true,
        )
        .await;
    // Anything still in flight has landed by now.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let replies = public_replies(&stand_in, ticket_id);
    assert_eq!(replies.len(), 1, "exactly one public reply: {replies:?}");
    let posts = stand_in
        .log()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/reply"))
        .count();
    assert_eq!(posts, 1, "the reply was POSTed once");
}
