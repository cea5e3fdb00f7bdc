//! Draft jobs on both backends: triggers collapse, re-arm and re-run; crashed jobs come back;
//! concurrent claims hand each job to one worker.

use super::*;
use crate::queue::testing::{TestQueue, on_both_backends};

async fn triggers_collapse_rearm_and_rerun_and_crashed_jobs_come_back(test: TestQueue) {
    let queue = test.queue.clone();
    let first = queue.enqueue(42, "webhook").await.unwrap();
    let again = queue.enqueue(42, "poll").await.unwrap();
    assert!(first.created && again.duplicate());
    assert_eq!(first.job_id, again.job_id);
    queue.enqueue(43, "webhook").await.unwrap();

    let claimed = queue.claim().await.unwrap().unwrap();
    assert_eq!((claimed.ticket_id, claimed.attempts), (42, 1));
    let (queue, retried) = if test.is_postgres() {
        // Replicas share the queue: one starting leaves the others' running jobs alone.
        let other_replica = test.open_again(2).await;
        let depth = other_replica.depth().await.unwrap();
        assert_eq!((depth.queued, depth.running), (1, 1));
        // The first replica dies: once its lease has run out, the job is taken over.
        other_replica
            .with(|db| {
                db.execute("UPDATE jobs SET lease_until=0 WHERE ticket_id=42", &[])
                    .map(|_| ())
            })
            .await
            .unwrap();
        let retried = other_replica.claim().await.unwrap().unwrap();
        assert_eq!((retried.ticket_id, retried.attempts), (42, 2));
        (other_replica, retried)
    } else {
        // A crash while 42 was running: reopening the file returns it to the queue.
        let queue = test.open_again(2).await;
        let depth = queue.depth().await.unwrap();
        assert_eq!((depth.queued, depth.running), (2, 0));
        let retried = queue.claim().await.unwrap().unwrap();
        assert_eq!((retried.ticket_id, retried.attempts), (42, 2));
        (queue, retried)
    };
    // A trigger while it runs: it runs once more after completing (behind 43, which has
    // waited longer).
    assert!(queue.enqueue(42, "webhook").await.unwrap().duplicate());
    queue.complete(&retried, None).await.unwrap();
    let waiting = queue.claim().await.unwrap().unwrap();
    assert_eq!(waiting.ticket_id, 43);
    let rerun = queue.claim().await.unwrap().unwrap();
    assert_eq!((rerun.ticket_id, rerun.attempts), (42, 1));
    let at = Utc::now();
    queue.complete(&rerun, Some(at)).await.unwrap();
    let handled = queue.handled_through(vec![42, 43]).await.unwrap();
    assert_eq!(handled.len(), 1);
    assert_eq!(handled[&42].timestamp_millis(), at.timestamp_millis());
    // After it finished, a new trigger (the customer wrote again) queues it again.
    let woken = queue.enqueue(42, "webhook").await.unwrap();
    assert!(woken.rearmed && !woken.created && !woken.duplicate());

    let state = queue
        .fail(&waiting, "timeout", Duration::from_secs(60), false)
        .await
        .unwrap();
    assert_eq!(state, JobState::Queued);
    let again = queue.claim().await.unwrap().unwrap();
    assert_eq!(again.ticket_id, 42, "43 is not due for a minute");
    let state = queue
        .fail(&again, "helpdesk down", Duration::ZERO, true)
        .await
        .unwrap();
    assert_eq!(state, JobState::Dead);
    assert_eq!(queue.jobs(Some(JobState::Dead)).await.unwrap().len(), 1);
    assert_eq!(queue.jobs(None).await.unwrap().len(), 2);
    assert!(queue.retry_dead(again.id).await.unwrap());
    assert_eq!(queue.claim().await.unwrap().unwrap().ticket_id, 42);
}
on_both_backends!(
    triggers_collapse_rearm_and_rerun_and_crashed_jobs_come_back,
    2
);

async fn a_worker_whose_lease_was_taken_over_cannot_finish_the_job(test: TestQueue) {
    let mut queue = test.queue.clone();
    queue.lease = Duration::from_millis(50);
    queue.enqueue(7, "webhook").await.unwrap();
    let slow = queue.claim().await.unwrap().unwrap();
    assert!(queue.renew(&slow).await.unwrap(), "the lease holder renews");
    tokio::time::sleep(Duration::from_millis(120)).await;
    // The lease expired: a second worker takes the job over.
    let fresh = queue.claim().await.unwrap().unwrap();
    assert_eq!(fresh.id, slow.id);
    assert_ne!(fresh.lease_token, slow.lease_token);
    assert!(!queue.renew(&slow).await.unwrap());
    assert!(matches!(
        queue.complete(&slow, None).await,
        Err(QueueError::LeaseLost { .. })
    ));
    assert!(matches!(
        queue.fail(&slow, "late", Duration::ZERO, false).await,
        Err(QueueError::LeaseLost { .. })
    ));
    queue.complete(&fresh, None).await.unwrap();
    assert_eq!(queue.depth().await.unwrap().done, 1);
}
on_both_backends!(a_worker_whose_lease_was_taken_over_cannot_finish_the_job, 5);

/// Many workers (on PostgreSQL: of two replicas) claiming at once: every job is handed out
/// exactly once.
async fn concurrent_claims_hand_each_job_to_one_worker(test: TestQueue) {
    for ticket in 1..=60 {
        test.queue.enqueue(ticket, "webhook").await.unwrap();
    }
    let replicas = [test.queue.clone(), test.open_again(5).await];
    let mut workers = Vec::new();
    for worker in 0..8 {
        let queue = replicas[worker % 2].clone();
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(job) = queue.claim().await.unwrap() {
                queue.complete(&job, None).await.unwrap();
                claimed.push(job.ticket_id);
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (1..=60).collect::<Vec<_>>());
    assert_eq!(test.queue.depth().await.unwrap().done, 60);
}
on_both_backends!(concurrent_claims_hand_each_job_to_one_worker, 5);
