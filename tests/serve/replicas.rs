//! Three `deskdraft serve` replicas on one PostgreSQL queue (a throwaway cluster started by the
//! test), behind no load balancer: the test spreads 300 webhooks for 240 tickets (60 duplicates)
//! over them and SIGKILLs one midway. Webhooks meant for the dead replica go to the next one, as
//! a client retrying elsewhere would. Every ticket gets exactly one note, and every job is done:
//! none lost (the dead replica's leased jobs are taken over when their leases expire), none
//! run twice to a second note (leases, the note marker and the per-ticket advisory lock).
//!
//! Each replica has its own copy of the ingested data dir (an Edge store is one process's); in
//! production they would share a Qdrant server. Skipped visibly without PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use support::postgres::PostgresCluster;

const TICKETS: usize = 240;
const WEBHOOKS: usize = 300;
const REPLICAS: usize = 3;
const KILLED: usize = 1;

/// 240 tickets once each plus 60 of them again, in a shuffled but fixed order.
fn webhook_order() -> Vec<i64> {
    let mut ids: Vec<i64> = (0..WEBHOOKS)
        .map(|i| FIRST_NEW_TICKET + (i % TICKETS) as i64)
        .collect();
    // A fixed permutation (multiplicative step coprime with 300) so duplicates are interleaved.
    let step = 77;
    ids = (0..WEBHOOKS).map(|i| ids[(i * step) % WEBHOOKS]).collect();
    ids
}

/// Posts the webhook to replica `preferred`, or to the next live one when it does not answer.
async fn deliver(
    client: &reqwest::Client,
    urls: &[String],
    alive: &[bool],
    preferred: usize,
    id: i64,
) {
    for offset in 0..urls.len() {
        let replica = (preferred + offset) % urls.len();
        if !alive[replica] {
            continue;
        }
        let sent = client
            .post(format!("{}/webhooks/freshdesk", urls[replica]))
            .header("X-Deskdraft-Secret", WEBHOOK_SECRET)
            .json(&json!({"ticket_id": id}))
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 202 => return,
            Ok(response) => panic!("webhook for {id}: {}", response.status()),
            // The replica was killed under this request: deliver it elsewhere.
            Err(_) => continue,
        }
    }
    panic!("webhook for {id}: no replica accepted it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_on_postgres_one_killed_midway_give_exactly_one_note_per_ticket() {
    let Some(cluster) = PostgresCluster::shared("three replicas on PostgreSQL") else {
        return;
    };
    let url = cluster.create_database("replicas");
    let stand_in = stand_in_with_new_tickets(TICKETS).await;
    let env = [
        ("DESKDRAFT_QUEUE__BACKEND", "postgres"),
        ("DESKDRAFT_QUEUE_URL", url.as_str()),
        ("DESKDRAFT_SERVE__WORKERS", "2"),
        ("DESKDRAFT_SERVE__LEASE_SECONDS", "3"),
    ];
    let data_dirs: Vec<_> = (0..REPLICAS).map(|_| ingested_data_dir()).collect();
    let mut servers = Vec::new();
    for data in &data_dirs {
        servers.push(start_server_with(data.path(), &stand_in, &env).await);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let client = http();
    let order = webhook_order();
    let started = Instant::now();

    // First half, spread round-robin, eight at a time.
    let sent = Arc::new(AtomicUsize::new(0));
    let send_range = |range: std::ops::Range<usize>, alive: Vec<bool>| {
        let (client, urls, order, sent) = (
            client.clone(),
            urls.clone(),
            order.clone(),
            Arc::clone(&sent),
        );
        async move {
            let mut batch = Vec::new();
            for i in range {
                let (client, urls, alive, sent) = (
                    client.clone(),
                    urls.clone(),
                    alive.clone(),
                    Arc::clone(&sent),
                );
                let id = order[i];
                batch.push(tokio::spawn(async move {
                    deliver(&client, &urls, &alive, i % REPLICAS, id).await;
                    sent.fetch_add(1, Ordering::SeqCst);
                }));
                if batch.len() == 8 {
                    for task in batch.drain(..) {
                        task.await.unwrap();
                    }
                }
            }
            for task in batch {
                task.await.unwrap();
            }
        }
    };
    send_range(0..WEBHOOKS / 2, vec![true; REPLICAS]).await;
    // Midway: the replica is killed while it holds leased jobs.
    wait_for_notes(&stand_in, TICKETS, 20, Duration::from_secs(120)).await;
    servers[KILLED].child.kill().await.expect("SIGKILL");
    let at_kill = notes_per_ticket(&stand_in, TICKETS)
        .values()
        .filter(|n| **n > 0)
        .count();
    let mut alive = vec![true; REPLICAS];
    alive[KILLED] = false;
    send_range(WEBHOOKS / 2..WEBHOOKS, alive).await;
    assert_eq!(
        sent.load(Ordering::SeqCst),
        WEBHOOKS,
        "every webhook was accepted"
    );

    wait_for_notes(&stand_in, TICKETS, TICKETS, Duration::from_secs(240)).await;
    let survivor = &servers[(KILLED + 1) % REPLICAS];
    let jobs = survivor
        .wait_for_api(&client, "/api/jobs", Duration::from_secs(60), |jobs| {
            jobs.as_array()
                .unwrap()
                .iter()
                .all(|j| j["state"] == "done")
        })
        .await;
    let elapsed = started.elapsed();
    assert_eq!(
        jobs.as_array().unwrap().len(),
        TICKETS,
        "one draft job per ticket, none lost"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notes = notes_per_ticket(&stand_in, TICKETS);
    let wrong: Vec<_> = notes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "killed after {at_kill} notes; tickets without exactly one note: {wrong:?}"
    );
    assert_eq!(notes.values().sum::<usize>(), TICKETS);
    assert!(
        at_kill < TICKETS,
        "the kill came after the work: it tested nothing"
    );
    // The surviving replicas both drafted (no load balancer: each drains the shared queue).
    for (index, server) in servers.iter().enumerate().filter(|(i, _)| *i != KILLED) {
        let metrics = client
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("deskdraft_drafts_total{outcome="),
            "replica {index} drafted nothing:\n{metrics}"
        );
        // Each replica listens for the jobs the others take in.
        assert!(
            metrics.contains("\ndeskdraft_queue_listening 1\n"),
            "replica {index} does not listen for jobs:\n{metrics}"
        );
    }
    eprintln!(
        "three replicas: {TICKETS} notes from {WEBHOOKS} webhooks in {:.1} s, one replica killed after {at_kill} notes",
        elapsed.as_secs_f64()
    );
}

/// `deskdraft migrate-queue` copies a SQLite queue into an empty PostgreSQL queue, and refuses a
/// second run (exit code 2) without changing anything; the URL never appears in its output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_queue_copies_sqlite_into_postgres_once() {
    let Some(cluster) = PostgresCluster::shared("migrate-queue") else {
        return;
    };
    let url = cluster.create_database("migrate_queue");
    let data = tempfile::tempdir().unwrap();
    let sqlite = data.path().join("queue.sqlite");
    {
        let queue = deskdraft::queue::JobQueue::open(&sqlite, 5).unwrap();
        for ticket in [1, 2, 3] {
            queue.enqueue(ticket, "webhook").await.unwrap();
        }
        queue
            .set_value("reconciler_last_poll", "2026-01-01T00:00:00Z")
            .await
            .unwrap();
    }
    let migrate = || {
        base_command(data.path())
            .env("DESKDRAFT_QUEUE_URL", &url)
            .args(["migrate-queue", "--from"])
            .arg(&sqlite)
            .output()
            .unwrap()
    };
    let first = migrate();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let summary: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(summary["rows"]["jobs"], 3);
    assert_eq!(summary["rows"]["kv"], 1);
    let db = url.rsplit('/').next().unwrap();
    assert_eq!(
        cluster.psql_on(
            db,
            "SELECT string_agg(ticket_id::text, ',' ORDER BY id) FROM jobs"
        ),
        "1,2,3"
    );

    let second = migrate();
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("not empty"), "{stderr}");
    assert!(
        !stderr.contains("postgres://"),
        "the URL is a secret: {stderr}"
    );
    assert_eq!(cluster.psql_on(db, "SELECT COUNT(*) FROM jobs"), "3");
}
