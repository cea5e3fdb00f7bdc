//! Queue semantics run on both backends (drafts, approvals, events, outcomes, kv), and what only
//! a shared PostgreSQL queue has: ticket locks and the reconciler's election across replicas,
//! the schema version check, and copying a SQLite queue into PostgreSQL.

use std::time::Duration;

use super::testing::{PostgresCluster, TestQueue, on_both_backends};
use super::*;

fn new_draft(ticket_id: i64, message_id: i64, revision: u32) -> NewDraft {
    NewDraft {
        id: format!("d{ticket_id}-{message_id}-{revision}"),
        ticket_id,
        message_id,
        revision,
        status: DraftStatus::Pending,
        kind: "retrieval_only".into(),
        product: Some("7".into()),
        confidence: 0.75,
        draft_text: "Hold the reset button for ten seconds.".into(),
        note_html: "<p>note</p>".into(),
        draft: serde_json::json!({"sources": [1, 2]}),
        ticket: None,
    }
}

async fn drafts_approvals_events_and_outcomes_keep_their_rules(test: TestQueue) {
    let queue = test.queue.clone();
    let first = queue.insert_draft(new_draft(5, 0, 0)).await.unwrap();
    assert_eq!(first.status, DraftStatus::Pending);
    assert_eq!(first.draft["sources"][1], 2);
    // A job that runs twice finds the same draft.
    let mut again = new_draft(5, 0, 0);
    again.draft_text = "something else".into();
    assert_eq!(queue.insert_draft(again).await.unwrap(), first);
    // A follow-up supersedes the undecided draft of the earlier message.
    let follow_up = queue.insert_draft(new_draft(5, 900, 0)).await.unwrap();
    assert_eq!(
        queue.draft(&first.id).await.unwrap().status,
        DraftStatus::Superseded
    );
    assert_eq!(
        queue.latest_draft_for_ticket(5).await.unwrap().unwrap().id,
        follow_up.id
    );
    queue.set_note(&follow_up.id, 4242).await.unwrap();

    let intent = ApprovalIntent {
        text: "Hold the reset button for 10 seconds.".into(),
        by: "Ana".into(),
        agent_email: Some("ana@example.com".into()),
        send_status: Some(4),
        ..ApprovalIntent::default()
    };
    let recorded = queue
        .begin_approval(&follow_up.id, intent.clone())
        .await
        .unwrap();
    assert!(
        matches!(recorded, ApprovalOutcome::Recorded(ref d) if d.status == DraftStatus::Sending)
    );
    assert!(matches!(
        queue.begin_approval(&follow_up.id, intent).await.unwrap(),
        ApprovalOutcome::AlreadySending(_)
    ));
    assert!(matches!(
        queue.reject(&follow_up.id, "no", "Ben").await,
        Err(QueueError::InvalidTransition { .. })
    ));
    assert!(matches!(
        queue.request_redraft(5).await,
        Err(QueueError::InvalidTransition { .. })
    ));
    let send_job = queue.claim().await.unwrap().unwrap();
    assert_eq!(
        (send_job.kind, send_job.draft_id.as_deref()),
        (JobKind::Send, Some(follow_up.id.as_str()))
    );
    queue.set_approval_agent(&follow_up.id, 77).await.unwrap();
    let sent = queue.record_reply(&follow_up.id, 555).await.unwrap();
    queue.mark_status_applied(&follow_up.id).await.unwrap();
    queue.mark_note_updated(&follow_up.id).await.unwrap();
    let sent_again = queue.draft(&follow_up.id).await.unwrap();
    assert_eq!(
        (sent.status, sent.reply_id, sent_again.agent_id),
        (DraftStatus::Approved, Some(555), Some(77))
    );
    assert!(sent_again.status_applied && sent_again.note_updated);
    assert_eq!(sent_again.note_id, Some(4242));
    assert_eq!(sent_again.send_status, Some(4));

    // Another ticket: rejected, then redrafted into revision 1.
    let other = queue.insert_draft(new_draft(6, 0, 0)).await.unwrap();
    queue
        .reject(&other.id, "wrong product", "Ben")
        .await
        .unwrap();
    let redrafted = queue.request_redraft(6).await.unwrap();
    assert!(redrafted.redraft_requested);
    queue
        .record_event(&other.id, DraftEventKind::Redraft, None, Some("Ben"))
        .await
        .unwrap();
    queue
        .record_event(
            &other.id,
            DraftEventKind::NotUseful,
            Some("wrong product"),
            None,
        )
        .await
        .unwrap();
    let events = queue.events_of(&other.id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["redraft", "not_useful"]
    );
    assert_eq!(queue.event_counts().await.unwrap()["not_useful"], 1);
    // What the live knowledge gaps read: drafts marked not useful, and the newest drafts.
    assert_eq!(
        queue
            .drafts_with_event(DraftEventKind::NotUseful)
            .await
            .unwrap(),
        [other.id.clone()].into()
    );
    assert!(
        queue
            .drafts_with_event(DraftEventKind::Inserted)
            .await
            .unwrap()
            .is_empty()
    );
    let all = queue.drafts(None).await.unwrap();
    let newest = queue.recent_gap_drafts(2).await.unwrap();
    assert_eq!(newest.len(), 2.min(all.len()));
    for (light, full) in newest.iter().zip(&all) {
        // Newest first, as drafts() lists them, with the cited sources of the full document.
        assert_eq!(
            (&light.id, light.status, &light.ticket),
            (&full.id, full.status, &full.ticket)
        );
        assert_eq!(light.sources, full.draft["sources"]);
    }
    assert_eq!(
        queue
            .drafts(Some(DraftStatus::Rejected))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(queue.drafts(None).await.unwrap().len(), 3);
    assert_eq!(queue.drafts_for_ticket(5).await.unwrap().len(), 2);

    assert_eq!(
        queue.tickets_awaiting_outcome(vec![5, 6, 7]).await.unwrap(),
        vec![5, 6]
    );
    let outcome = DraftOutcome {
        draft_id: follow_up.id.clone(),
        ticket_id: 5,
        reply_id: 555,
        outcome: Outcome::Edited,
        edit_distance: 0.1,
        links_cited: 2,
        links_kept: 1,
        agent_id: Some(77),
        via: ReplyOrigin::Deskdraft,
        seconds_to_reply: 90.5,
        product: Some("7".into()),
        confidence: 0.75,
        replied_at: chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
    };
    assert!(queue.record_outcome(outcome.clone()).await.unwrap());
    assert!(
        !queue.record_outcome(outcome.clone()).await.unwrap(),
        "recorded once"
    );
    assert_eq!(queue.outcomes().await.unwrap(), vec![outcome]);
    let awaiting: Vec<String> = queue
        .drafts_awaiting_outcome(5)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(awaiting, vec![first.id.clone()]);

    assert_eq!(queue.get_value("k").await.unwrap(), None);
    queue.set_value("k", "1").await.unwrap();
    queue.set_value("k", "2").await.unwrap();
    assert_eq!(queue.get_value("k").await.unwrap().as_deref(), Some("2"));
    assert_eq!(queue.draft_job_state(5).await.unwrap(), None);
}
on_both_backends!(drafts_approvals_events_and_outcomes_keep_their_rules, 3);

async fn postgres(test: &str) -> Option<TestQueue> {
    TestQueue::postgres(test, 3).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_lock_keeps_other_replicas_out_until_released() {
    let Some(test) = postgres("ticket_lock").await else {
        return;
    };
    let replica_a = AdvisoryLocks::for_queue(&test.queue).unwrap();
    let replica_b = AdvisoryLocks::for_queue(&test.open_again(3).await).unwrap();
    let held = replica_a.lock_ticket(11).await.unwrap();
    let blocked = tokio::time::timeout(Duration::from_millis(300), replica_b.lock_ticket(11)).await;
    assert!(blocked.is_err(), "the same ticket waits across replicas");
    let other = tokio::time::timeout(Duration::from_secs(5), replica_b.lock_ticket(12)).await;
    assert!(other.is_ok(), "another ticket is free");
    drop(held);
    let after = tokio::time::timeout(Duration::from_secs(5), replica_b.lock_ticket(11)).await;
    assert!(after.is_ok(), "released when the guard drops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_the_reconciler_and_another_takes_over_when_it_goes() {
    let Some(test) = postgres("election").await else {
        return;
    };
    let mut first = ReconcilerElection::new(&test.queue);
    let second_queue = test.open_again(3).await;
    let mut second = ReconcilerElection::new(&second_queue);
    assert!(first.lead().await);
    assert!(!second.lead().await, "one leader at a time");
    assert!(first.lead().await, "the leader keeps leading");
    drop(first); // its connection closes, as when a replica dies
    let mut took_over = false;
    for _ in 0..50 {
        if second.lead().await {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(took_over && second.is_leader());
    // SQLite has one process: it always leads.
    assert!(
        ReconcilerElection::new(&TestQueue::sqlite(3).queue)
            .lead()
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_deskdraft_is_refused() {
    let Some(test) = postgres("newer_schema").await else {
        return;
    };
    test.queue
        .with(|db| {
            db.execute("UPDATE deskdraft_schema SET version = version + 1", &[])
                .map(|_| ())
        })
        .await
        .unwrap();
    let refused = JobQueue::open_postgres(test.postgres_url().unwrap(), 3, 2).await;
    match refused {
        Err(QueueError::NewerSchema(message)) => {
            assert!(message.contains("newer than this deskdraft"), "{message}");
        }
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_queue_is_copied_into_an_empty_postgres_queue_once() {
    let Some(target) = postgres("copy").await else {
        return;
    };
    let source = TestQueue::sqlite(3);
    source.queue.enqueue(1, "webhook").await.unwrap();
    source.queue.enqueue(2, "webhook").await.unwrap();
    let job = source.queue.claim().await.unwrap().unwrap();
    source
        .queue
        .complete(&job, Some(chrono::Utc::now()))
        .await
        .unwrap();
    let draft = source.queue.insert_draft(new_draft(1, 0, 0)).await.unwrap();
    let approval = ApprovalIntent {
        text: "edited".into(),
        by: "Ana".into(),
        ..ApprovalIntent::default()
    };
    source
        .queue
        .begin_approval(&draft.id, approval)
        .await
        .unwrap();
    source
        .queue
        .record_event(&draft.id, DraftEventKind::Inserted, None, None)
        .await
        .unwrap();
    source
        .queue
        .set_value("reconciler_last_poll", "x")
        .await
        .unwrap();
    source
        .queue
        .create_session(Duration::from_secs(60))
        .await
        .unwrap();

    let summary = source.queue.copy_into(&target.queue).await.unwrap();
    assert_eq!(summary.rows["jobs"], 3, "two draft jobs and a send job");
    assert_eq!(
        target.queue.row_counts().await.unwrap(),
        source.queue.row_counts().await.unwrap()
    );
    assert_eq!(
        target.queue.draft(&draft.id).await.unwrap(),
        source.queue.draft(&draft.id).await.unwrap()
    );
    assert_eq!(
        target.queue.jobs(None).await.unwrap(),
        source.queue.jobs(None).await.unwrap()
    );
    // Ids continue after the copied ones, and the copied queue works.
    let next = target.queue.enqueue(3, "webhook").await.unwrap();
    assert_eq!(next.job_id, 4);
    assert_eq!(target.queue.claim().await.unwrap().unwrap().ticket_id, 2);
    // A second run changes nothing and says why.
    match source.queue.copy_into(&target.queue).await {
        Err(QueueError::TargetNotEmpty(held)) => assert!(held.contains("rows in jobs"), "{held}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(target.queue.row_counts().await.unwrap()["jobs"], 4);
}

#[test]
fn the_throwaway_cluster_answers_on_its_port() {
    let Some(cluster) = PostgresCluster::shared("throwaway_cluster") else {
        return;
    };
    assert_eq!(cluster.psql("SELECT 1 + 1"), "2");
    assert!(cluster.port() > 0);
}
