//! PostgreSQL answers the review console's text search from trigram indexes when `pg_trgm` can
//! be installed, and works the same (by reading every draft) when it cannot.

use super::tests::draft;
use super::{QueueFilter, where_clause};
use crate::queue::JobQueue;
use crate::queue::sql::Dialect;
use crate::queue::testing::{PostgresCluster, TestQueue};

const TRIGRAM_INDEXES: [&str; 3] = [
    "drafts_subject_trigram",
    "drafts_text_trigram",
    "drafts_ticket_trigram",
];

fn searching(text: &str) -> QueueFilter {
    QueueFilter {
        search: Some(text.into()),
        ..QueueFilter::default()
    }
}

async fn found(queue: &JobQueue, text: &str) -> Vec<i64> {
    let page = queue.queue_page(&searching(text), 1, 50).await.unwrap();
    page.rows.iter().map(|row| row.ticket_id).collect()
}

async fn trigram_indexes(queue: &JobQueue) -> Vec<String> {
    queue
        .with(|db| {
            db.query(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'drafts' \
                 AND indexname LIKE '%trigram' ORDER BY indexname",
                &[],
            )?
            .iter()
            .map(|row| row.text(0))
            .collect()
        })
        .await
        .unwrap()
}

async fn fill(queue: &JobQueue) {
    for ticket in 1..=40 {
        let text = match ticket {
            7 => "Your invoice address was corrected",
            _ => "Reset the kettle",
        };
        queue
            .insert_draft(draft(ticket, "3", 0.7, 0, text))
            .await
            .unwrap();
        // Distinct creation times: pages are newest first.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_search_is_answered_from_the_trigram_indexes() {
    let Some(test) = TestQueue::postgres("console_trigram_search", 3).await else {
        return;
    };
    let queue = &test.queue;
    fill(queue).await;
    assert_eq!(trigram_indexes(queue).await, {
        let mut names = TRIGRAM_INDEXES.to_vec();
        names.sort();
        names
    });
    // The plan of the very statement the console runs.
    let plan = search_plan(queue, Dialect::Postgres, "INVOICE addr").await;
    for index in TRIGRAM_INDEXES {
        assert!(plan.contains(index), "{index} unused:\n{plan}");
    }
    assert!(!plan.contains("Seq Scan"), "{plan}");
    // Case-insensitive substrings as before, `%` and `_` literal, short text too.
    assert_eq!(found(queue, "INVOICE addr").await, vec![7]);
    assert_eq!(found(queue, "invoice_address").await, Vec::<i64>::new());
    assert_eq!(
        found(queue, "customer words 3").await,
        (30..=39).rev().chain([3]).collect::<Vec<_>>()
    );
    assert_eq!(found(queue, "ub").await.len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pg_trgm_the_queue_starts_and_search_still_finds_then_indexes_at_next_start() {
    let Some(cluster) = PostgresCluster::shared("console_search_without_trigram") else {
        return;
    };
    // A role that may create tables in its schema but not extensions in the database, as on a
    // managed database where the application's role is not the owner.
    let url = cluster.create_database("console_no_trgm");
    let database = url.rsplit('/').next().unwrap().to_string();
    let role = format!("{database}_app");
    cluster.psql(&format!("CREATE ROLE {role} LOGIN"));
    cluster.psql_on(
        &database,
        &format!("GRANT USAGE, CREATE ON SCHEMA public TO {role}"),
    );
    let app_url = url.replace("postgres://postgres@", &format!("postgres://{role}@"));

    let queue = JobQueue::open_postgres(&app_url, 3, 2).await.unwrap();
    fill(&queue).await;
    assert_eq!(trigram_indexes(&queue).await, Vec::<String>::new());
    assert_eq!(
        cluster.psql_on(
            &database,
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"
        ),
        "0"
    );
    assert_eq!(found(&queue, "invoice ADDRESS").await, vec![7]);
    drop(queue);

    // The owner installs the extension; the application's next start builds the indexes.
    cluster.psql_on(&database, "CREATE EXTENSION pg_trgm");
    let queue = JobQueue::open_postgres(&app_url, 3, 2).await.unwrap();
    assert_eq!(trigram_indexes(&queue).await.len(), 3);
    assert_eq!(found(&queue, "invoice ADDRESS").await, vec![7]);
}

/// The plan of the console's search statement for `text`, one line per step. On PostgreSQL
/// sequential scans are priced out (for this transaction only): if the search stopped matching
/// the indexes (say `lower(x) LIKE`), PostgreSQL would still scan, and the plan would name none
/// of them.
async fn search_plan(queue: &JobQueue, dialect: Dialect, text: &str) -> String {
    let (clause, values) = where_clause(&searching(text), dialect);
    let (explain, detail_column) = match dialect {
        Dialect::Postgres => ("EXPLAIN", 0),
        Dialect::Sqlite => ("EXPLAIN QUERY PLAN", 3),
    };
    queue
        .with(move |db| {
            db.transaction(|db| {
                if dialect == Dialect::Postgres {
                    db.batch("SET LOCAL enable_seqscan = off")?;
                }
                db.query(
                    &format!("{explain} SELECT COUNT(*) FROM drafts WHERE {clause}"),
                    &values,
                )?
                .iter()
                .map(|row| row.text(detail_column))
                .collect::<Result<Vec<_>, _>>()
            })
        })
        .await
        .unwrap()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_searches_the_trigram_table_and_an_upgraded_queue_finds_its_old_drafts() {
    let test = TestQueue::sqlite(3);
    fill(&test.queue).await;
    let plan = search_plan(&test.queue, Dialect::Sqlite, "invoice addr").await;
    assert!(
        plan.contains("drafts_search VIRTUAL TABLE INDEX 0:M"),
        "no trigram MATCH:\n{plan}"
    );
    assert!(
        !plan
            .lines()
            .any(|step| step.starts_with("SCAN drafts") && !step.starts_with("SCAN drafts_search")),
        "every draft read:\n{plan}"
    );
    assert_eq!(found(&test.queue, "INVOICE addr").await, vec![7]);
    // Two characters are below a trigram: those searches read the drafts, with the same answer.
    assert!(
        search_plan(&test.queue, Dialect::Sqlite, "ub")
            .await
            .contains("SCAN drafts")
    );
    assert_eq!(found(&test.queue, "ub").await.len(), 40);

    // A queue of the previous schema (no search table) is upgraded at open, its drafts indexed.
    // (SQLite 3.54 leaves a contentless_unindexed table's `_content` shadow table behind on DROP:
    // dropped by hand, as a version 3 database never had it.)
    test.queue
        .with(|db| {
            db.batch(
                "DROP TRIGGER drafts_search_on_insert; DROP TRIGGER drafts_search_on_delete;
                 DROP TRIGGER drafts_search_on_update; DROP TABLE drafts_search;
                 DROP TABLE IF EXISTS drafts_search_content;
                 PRAGMA user_version = 3;",
            )
        })
        .await
        .unwrap();
    let upgraded = test.open_again(3).await;
    assert_eq!(found(&upgraded, "invoice ADDRESS").await, vec![7]);
    assert_eq!(found(&upgraded, "customer words 3").await.len(), 11);
    // Drafts inserted after the upgrade are indexed by the trigger.
    upgraded
        .insert_draft(draft(41, "3", 0.7, 0, "The invoice address form moved"))
        .await
        .unwrap();
    assert_eq!(found(&upgraded, "invoice address").await, vec![41, 7]);
    // And a draft gone from the queue is gone from the index (no draft is deleted today).
    upgraded
        .with(|db| db.batch("DELETE FROM drafts WHERE id = 'd7'"))
        .await
        .unwrap();
    let indexed = upgraded
        .with(|db| {
            db.query_one(
                "SELECT group_concat(draft_id) FROM drafts_search \
                 WHERE drafts_search MATCH '\"invoice address\"'",
                &[],
            )?
            .text(0)
        })
        .await
        .unwrap();
    assert_eq!(indexed, "d41");
}
