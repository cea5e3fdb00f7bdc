//! `deskdraft migrate-queue`: copies a queue (a SQLite file) into another (a PostgreSQL
//! database), every table row for row with its ids, in one transaction on the target. A target
//! that already holds anything is refused, so running it twice cannot duplicate or mix queues.

use std::collections::BTreeMap;

use serde::Serialize;

use super::sql::{Row, Sql, Value};
use super::{JobQueue, QueueError};

/// Tables and the columns copied, in an order that keeps references valid.
const TABLES: &[(&str, &str)] = &[
    (
        "jobs",
        "id, kind, ticket_id, draft_id, state, attempts, next_attempt_at, lease_until, \
         lease_token, rerun, handled_through, last_error, source, created_at, updated_at",
    ),
    ("kv", "key, value"),
    (
        "drafts",
        "id, ticket_id, message_id, status, kind, product, confidence, draft_text, note_html, \
         draft_json, note_id, reply_id, sent_text, decided_by, reject_reason, created_at, \
         decided_at, agent_id, agent_email, send_status, approval_started_at, status_applied, \
         note_updated, send_error, edit_distance, revision, redraft_requested, ticket_json, \
         subject, flag_count",
    ),
    (
        "draft_events",
        "id, draft_id, kind, reason, agent, created_at",
    ),
    (
        "outcomes",
        "draft_id, ticket_id, reply_id, outcome, edit_distance, links_cited, links_kept, \
         agent_id, via, seconds_to_reply, product, confidence, replied_at, recorded_at",
    ),
    ("sessions", "id, csrf, created_at, expires_at"),
];

/// Tables whose ids come from a sequence on PostgreSQL (moved past the copied ids).
const SERIAL_TABLES: &[&str] = &["jobs", "draft_events"];

/// Rows copied per table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CopySummary {
    pub rows: BTreeMap<String, u64>,
}

type TableRows = Vec<(&'static str, &'static str, Vec<Row>)>;

fn read_all(db: &mut dyn Sql) -> Result<TableRows, QueueError> {
    TABLES
        .iter()
        .map(|(table, columns)| {
            let rows = db.query(&format!("SELECT {columns} FROM {table}"), &[])?;
            Ok((*table, *columns, rows))
        })
        .collect()
}

fn write_all(db: &mut dyn Sql, tables: TableRows) -> Result<CopySummary, QueueError> {
    db.transaction(|db| {
        let mut held = Vec::new();
        for (table, _) in TABLES {
            let count = db
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
                .i64(0)?;
            if count > 0 {
                held.push(format!("{count} rows in {table}"));
            }
        }
        if !held.is_empty() {
            return Err(QueueError::TargetNotEmpty(held.join(", ")));
        }
        let mut summary = CopySummary::default();
        for (table, columns, rows) in tables {
            let placeholders = (1..=columns.split(',').count())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let insert = format!("INSERT INTO {table} ({columns}) VALUES ({placeholders})");
            for Row(values) in &rows {
                db.execute(&insert, values)?;
            }
            summary.rows.insert(table.to_string(), rows.len() as u64);
        }
        if db.dialect() == super::sql::Dialect::Postgres {
            for table in SERIAL_TABLES {
                db.query(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                       COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    ),
                    &[] as &[Value],
                )?;
            }
        }
        Ok(summary)
    })
}

impl JobQueue {
    /// Copies everything this queue holds into `target`, which must be empty. Stop `serve` on
    /// this queue first: what it changes during the copy would not be copied.
    pub async fn copy_into(&self, target: &JobQueue) -> Result<CopySummary, QueueError> {
        let tables = self.with(read_all).await?;
        target.with(move |db| write_all(db, tables)).await
    }

    /// Rows per table (for checks after a copy).
    pub async fn row_counts(&self) -> Result<BTreeMap<String, u64>, QueueError> {
        self.with(|db| {
            TABLES
                .iter()
                .map(|(table, _)| {
                    let count = db
                        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
                        .i64(0)?;
                    Ok((table.to_string(), count as u64))
                })
                .collect()
        })
        .await
    }
}
