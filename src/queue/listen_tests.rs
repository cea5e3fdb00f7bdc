//! A job queued through one replica's queue wakes an idle worker of another at once, also after
//! the listening connection was cut; nothing is announced for a trigger that queued nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::queue::testing::TestQueue;

/// Long enough for a notification on a loaded machine, far shorter than anything else that
/// could wake the waiter (nothing else does here: no worker polls in this test).
const DELIVERY: Duration = Duration::from_secs(10);

async fn woken(signal: &Notify) -> bool {
    tokio::time::timeout(DELIVERY, signal.notified())
        .await
        .is_ok()
}

/// A `notify_one` permit left over from earlier would make the next wait return at once.
async fn no_pending_wake(signal: &Notify) -> bool {
    tokio::time::timeout(Duration::from_millis(300), signal.notified())
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_queued_by_one_replica_wakes_the_other_and_survives_a_cut_connection() {
    let Some(first) = TestQueue::postgres("job_notifications", 3).await else {
        return;
    };
    let second = first.open_again(3).await;
    let signal = Arc::new(Notify::new());
    let listener = second
        .forward_job_notifications(Arc::clone(&signal))
        .expect("PostgreSQL listens");
    // LISTEN is issued by the task: wait until the server shows the listening session.
    wait_for_listener(&first, 0).await;

    wait_until_listening(&second).await;
    assert_eq!(
        first.queue.listening_for_jobs(),
        Some(false),
        "no listener started there"
    );
    first.queue.enqueue(7, "webhook").await.unwrap();
    assert!(woken(&signal).await, "a new job wakes the other replica");
    // A trigger for a job already waiting queues nothing new and announces nothing.
    first.queue.enqueue(7, "webhook").await.unwrap();
    assert!(
        no_pending_wake(&signal).await,
        "no wake-up for a collapsed trigger"
    );

    // The listening connection is cut (a failover, an idle timeout): it comes back, and the
    // next job still wakes the replica.
    let cut = sql(
        &first,
        "SELECT pid::bigint FROM pg_stat_activity \
         WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .await;
    let terminated = sql(
        &first,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .await;
    assert_eq!(terminated, 1, "the listening session was found and cut");
    // Wait for the new session: the cut one can still show as listening for a moment, and a
    // job queued before the new LISTEN is (by design) left to the poll.
    wait_for_listener(&first, cut).await;
    wait_until_listening(&second).await;
    first.queue.enqueue(8, "reconciler").await.unwrap();
    assert!(
        woken(&signal).await,
        "notifications resume after a reconnect"
    );
    listener.abort();
}

#[tokio::test]
async fn a_sqlite_queue_has_no_listener() {
    let queue = TestQueue::sqlite(3);
    assert!(
        queue
            .queue
            .forward_job_notifications(Arc::new(Notify::new()))
            .is_none()
    );
    assert_eq!(queue.queue.listening_for_jobs(), None);
}

/// Polls `pg_stat_activity` until a session other than `not_pid` has run `LISTEN` (the
/// listener's task is async); `idle` means the server has answered it.
async fn wait_for_listener(test: &TestQueue, not_pid: i64) {
    let query = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND state = 'idle' \
         AND pid <> {not_pid}"
    );
    for _ in 0..200 {
        let listening = sql(test, &query).await;
        if listening == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no session is listening for jobs after 10 s");
}

async fn sql(test: &TestQueue, statement: &str) -> i64 {
    let pool = test.queue.postgres_pool().unwrap().clone();
    let client = crate::queue::postgres::connection(&pool).await.unwrap();
    client
        .query_one(statement, &[])
        .await
        .unwrap()
        .get::<_, i64>(0)
}

/// The flag follows the connection: set once `LISTEN` is answered, which may come just after the
/// server shows the session.
async fn wait_until_listening(queue: &crate::queue::JobQueue) {
    for _ in 0..200 {
        if queue.listening_for_jobs() == Some(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the listener did not report listening within 10 s");
}
