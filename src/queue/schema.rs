//! The queue database's schema and its migrations, applied in order at open and recorded in
//! SQLite's `user_version`, so a database written by an older deskdraft is upgraded in place
//! (inside one transaction: a failed upgrade leaves the old schema untouched).
//!
//! Version 1 (the first release): one job per ticket (`jobs.ticket_id UNIQUE`), one draft per
//! ticket. Version 2: a draft belongs to a customer message (`drafts(ticket_id, message_id)`),
//! jobs have a kind (`draft` per ticket, `send` per approved draft) and a lease token, and a
//! draft records how its approval went (agent, status, each step of sending). Version 3: a
//! draft keeps the ticket as it was drafted (subject, requester, priority, the public thread) and
//! its flag count, with indexes for the review console's filters and pages. Version 4: a trigram
//! index of what the console's text search reads (SQLite only; PostgreSQL's trigram indexes are
//! made at every start by `pg_schema::migrate`).

use rusqlite::{Connection, Transaction};

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 4;

const VERSION_2: &str = "
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL DEFAULT 'draft',
    ticket_id INTEGER NOT NULL,
    draft_id TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    lease_token INTEGER NOT NULL DEFAULT 0,
    rerun INTEGER NOT NULL DEFAULT 0,
    handled_through INTEGER,
    last_error TEXT,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL);
CREATE UNIQUE INDEX jobs_one_draft_job_per_ticket ON jobs(ticket_id) WHERE kind = 'draft';
CREATE UNIQUE INDEX jobs_one_send_job_per_draft ON jobs(draft_id) WHERE kind = 'send';
CREATE INDEX jobs_ready ON jobs(state, next_attempt_at);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE drafts (
    id TEXT PRIMARY KEY,
    ticket_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    product TEXT,
    confidence REAL NOT NULL,
    draft_text TEXT NOT NULL,
    note_html TEXT NOT NULL,
    draft_json TEXT NOT NULL,
    note_id INTEGER,
    reply_id INTEGER,
    sent_text TEXT,
    decided_by TEXT,
    reject_reason TEXT,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    agent_id INTEGER,
    agent_email TEXT,
    send_status INTEGER,
    approval_started_at INTEGER,
    status_applied INTEGER NOT NULL DEFAULT 0,
    note_updated INTEGER NOT NULL DEFAULT 0,
    send_error TEXT,
    edit_distance REAL,
    revision INTEGER NOT NULL DEFAULT 0,
    redraft_requested INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX drafts_one_per_message ON drafts(ticket_id, message_id, revision);
CREATE TABLE draft_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT,
    agent TEXT,
    created_at INTEGER NOT NULL);
CREATE INDEX draft_events_by_draft ON draft_events(draft_id, kind);
CREATE TABLE outcomes (
    draft_id TEXT PRIMARY KEY,
    ticket_id INTEGER NOT NULL,
    reply_id INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    edit_distance REAL NOT NULL,
    links_cited INTEGER NOT NULL,
    links_kept INTEGER NOT NULL,
    agent_id INTEGER,
    via TEXT NOT NULL,
    seconds_to_reply REAL NOT NULL,
    product TEXT,
    confidence REAL NOT NULL,
    replied_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL);
CREATE INDEX outcomes_by_time ON outcomes(replied_at);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL);
CREATE INDEX drafts_by_status ON drafts(status, created_at);
";

/// Version 2 to 3: what the review console shows and filters by. Drafts written before keep no
/// ticket (the console says so) and get their flag count from their stored JSON.
const VERSION_3: &str = "
ALTER TABLE drafts ADD COLUMN ticket_json TEXT;
ALTER TABLE drafts ADD COLUMN subject TEXT;
ALTER TABLE drafts ADD COLUMN flag_count INTEGER NOT NULL DEFAULT 0;
UPDATE drafts SET flag_count = COALESCE(json_array_length(json_extract(draft_json, '$.flags')), 0)
    WHERE json_valid(draft_json);
CREATE INDEX drafts_console ON drafts(status, product, created_at);
CREATE INDEX drafts_by_time ON drafts(created_at);
";

/// Version 3 to 4: the review console's text search (subject, draft, ticket as drafted) from an
/// FTS5 trigram index instead of reading every draft (`cargo bench --bench review_console`: 130
/// to 160 ms for a rare text at 50,000 drafts). A phrase query on trigrams is a substring match,
/// as `LIKE '%text%'` was. Contentless: the texts stay only in `drafts`. The draft's id is kept
/// beside the index (`contentless_unindexed`) rather than tying index rows to `drafts`' rowid,
/// which VACUUM may renumber (the table's key is text). Drafts are inserted and never rewritten
/// nor deleted today; the update and delete triggers keep the index right if that changes.
const VERSION_4: &str = "
CREATE VIRTUAL TABLE drafts_search USING fts5(
    draft_id UNINDEXED, subject, draft_text, ticket_json,
    content='', contentless_delete=1, contentless_unindexed=1, tokenize='trigram');
INSERT INTO drafts_search (draft_id, subject, draft_text, ticket_json)
    SELECT id, subject, draft_text, ticket_json FROM drafts;
CREATE TRIGGER drafts_search_on_insert AFTER INSERT ON drafts BEGIN
    INSERT INTO drafts_search (draft_id, subject, draft_text, ticket_json)
        VALUES (new.id, new.subject, new.draft_text, new.ticket_json);
END;
CREATE TRIGGER drafts_search_on_delete AFTER DELETE ON drafts BEGIN
    DELETE FROM drafts_search WHERE draft_id = old.id;
END;
CREATE TRIGGER drafts_search_on_update AFTER UPDATE OF id, subject, draft_text, ticket_json
    ON drafts BEGIN
    DELETE FROM drafts_search WHERE draft_id = old.id;
    INSERT INTO drafts_search (draft_id, subject, draft_text, ticket_json)
        VALUES (new.id, new.subject, new.draft_text, new.ticket_json);
END;
";

/// Brings the database to [`SCHEMA_VERSION`]. A database from a newer deskdraft is refused.
pub fn migrate(connection: &mut Connection) -> rusqlite::Result<Result<(), String>> {
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Ok(Err(format!(
            "the queue database has schema version {version}, newer than this deskdraft's \
             {SCHEMA_VERSION}: upgrade deskdraft or use another queue path"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(Ok(()));
    }
    let transaction = connection.transaction()?;
    if version < 2 {
        let has_version_1_tables = table_exists(&transaction, "jobs")?;
        if has_version_1_tables {
            transaction.execute_batch(
                "ALTER TABLE jobs RENAME TO jobs_v1;
                 ALTER TABLE drafts RENAME TO drafts_v1;
                 DROP INDEX IF EXISTS jobs_ready;",
            )?;
        }
        transaction.execute_batch(VERSION_2)?;
        if has_version_1_tables {
            copy_version_1(&transaction)?;
        }
    }
    if version < 3 {
        transaction.execute_batch(VERSION_3)?;
    }
    transaction.execute_batch(VERSION_4)?;
    transaction.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    transaction.commit()?;
    Ok(Ok(()))
}

fn table_exists(transaction: &Transaction<'_>, name: &str) -> rusqlite::Result<bool> {
    transaction.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name=?1",
        [name],
        |row| row.get::<_, i64>(0).map(|n| n > 0),
    )
}

/// Version 1 rows as version 2 rows: every job drafts, every draft answers the ticket's first
/// message (its id, UUIDv5 of the ticket id, is exactly the one version 2 gives that message).
fn copy_version_1(transaction: &Transaction<'_>) -> rusqlite::Result<()> {
    transaction.execute_batch(
        "INSERT INTO jobs (id, kind, ticket_id, state, attempts, next_attempt_at, lease_until,
                           last_error, source, created_at, updated_at)
             SELECT id, 'draft', ticket_id, state, attempts, next_attempt_at, lease_until,
                    last_error, source, created_at, updated_at FROM jobs_v1;
         INSERT INTO drafts (id, ticket_id, message_id, status, kind, product, confidence,
                             draft_text, note_html, draft_json, note_id, reply_id, sent_text,
                             decided_by, reject_reason, created_at, decided_at, note_updated)
             SELECT id, ticket_id, 0, status, kind, product, confidence, draft_text, note_html,
                    draft_json, note_id, reply_id, sent_text, decided_by, reject_reason,
                    created_at, decided_at, CASE WHEN status = 'approved' THEN 1 ELSE 0 END
             FROM drafts_v1;
         DROP TABLE jobs_v1;
         DROP TABLE drafts_v1;",
    )?;
    // Version 1 computed edit distances on every read; version 2 stores them with approvals.
    let approved: Vec<(String, String, Option<String>)> = {
        let mut statement = transaction
            .prepare("SELECT id, draft_text, sent_text FROM drafts WHERE status = 'approved'")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, draft_text, sent_text) in approved {
        let distance = super::feedback::edit_distance(
            &draft_text,
            sent_text.as_deref().unwrap_or(&draft_text),
        );
        transaction.execute(
            "UPDATE drafts SET edit_distance=?2 WHERE id=?1",
            rusqlite::params![id, distance],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_is_upgraded_with_its_jobs_and_drafts() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id INTEGER NOT NULL UNIQUE,
                     state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
                     lease_until INTEGER, last_error TEXT, source TEXT NOT NULL, created_at INTEGER NOT NULL,
                     updated_at INTEGER NOT NULL);
                 CREATE INDEX jobs_ready ON jobs(state, next_attempt_at);
                 CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE drafts (id TEXT PRIMARY KEY, ticket_id INTEGER NOT NULL UNIQUE, status TEXT NOT NULL,
                     kind TEXT NOT NULL, product TEXT, confidence REAL NOT NULL, draft_text TEXT NOT NULL,
                     note_html TEXT NOT NULL, draft_json TEXT NOT NULL, note_id INTEGER, reply_id INTEGER,
                     sent_text TEXT, decided_by TEXT, reject_reason TEXT, created_at INTEGER NOT NULL,
                     decided_at INTEGER);
                 INSERT INTO jobs (ticket_id, state, next_attempt_at, source, created_at, updated_at)
                     VALUES (7, 'done', 1, 'webhook', 1, 1);
                 INSERT INTO kv VALUES ('reconciler_last_poll', 'x');
                 INSERT INTO drafts (id, ticket_id, status, kind, confidence, draft_text, note_html,
                     draft_json, note_id, created_at) VALUES ('d7', 7, 'pending', 'retrieval_only', 0.5,
                     'text', '<p>text</p>', '{}', 99, 1);
                 INSERT INTO drafts (id, ticket_id, status, kind, confidence, draft_text, note_html,
                     draft_json, note_id, sent_text, created_at) VALUES ('d8', 8, 'approved', 'k', 0.5,
                     'abcd', '', '{}', 98, 'abce', 1);",
            )
            .unwrap();
        migrate(&mut connection).unwrap().unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let (kind, ticket): (String, i64) = connection
            .query_row("SELECT kind, ticket_id FROM jobs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((kind.as_str(), ticket), ("draft", 7));
        let (message, note): (i64, i64) = connection
            .query_row(
                "SELECT message_id, note_id FROM drafts WHERE id='d7'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((message, note), (0, 99));
        let kept: String = connection
            .query_row("SELECT value FROM kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, "x");
        let distance: f64 = connection
            .query_row("SELECT edit_distance FROM drafts WHERE id='d8'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!((distance - 0.25).abs() < 1e-9, "{distance}");
        // A second draft for another message of the same ticket is now allowed.
        connection
            .execute(
                "INSERT INTO drafts (id, ticket_id, message_id, status, kind, confidence, draft_text,
                     note_html, draft_json, created_at) VALUES ('d7b', 7, 5, 'pending', 'k', 0, '', '', '{}', 2)",
                [],
            )
            .unwrap();
        // Running the migration again changes nothing.
        migrate(&mut connection).unwrap().unwrap();
        connection.execute("PRAGMA user_version = 9", []).unwrap();
        assert!(
            migrate(&mut connection)
                .unwrap()
                .unwrap_err()
                .contains("newer")
        );
    }
}
