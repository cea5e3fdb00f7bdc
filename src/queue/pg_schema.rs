//! The PostgreSQL queue's schema: the tables of SQLite's version 2 in PostgreSQL's types (64-bit
//! integers throughout, so the shared statements bind the same values on both), recorded in
//! `deskdraft_schema`. Applied at start by whichever replica gets there first: the migration
//! runs in one transaction under an advisory lock, so replicas starting together wait for it
//! instead of racing, and a database written by a newer deskdraft is refused.

use super::QueueError;
use super::sql::{Sql, params};

/// The PostgreSQL schema this build writes. It follows SQLite's numbering but moves only when
/// PostgreSQL's tables change: SQLite's version 4 (its trigram search table) has no PostgreSQL
/// counterpart in the versioned schema, so replicas of the previous release still start on a
/// database a newer one migrated (a rolling upgrade).
pub const POSTGRES_SCHEMA_VERSION: i64 = 3;

/// Advisory lock key held (per transaction) while the schema is checked or migrated.
const MIGRATION_LOCK_KEY: i64 = 0x6464_7363_6865_6d61; // "ddschema"

const VERSION_2: &str = "
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'draft',
    ticket_id BIGINT NOT NULL,
    draft_id TEXT,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    lease_token BIGINT NOT NULL DEFAULT 0,
    rerun BIGINT NOT NULL DEFAULT 0,
    handled_through BIGINT,
    last_error TEXT,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL);
CREATE UNIQUE INDEX jobs_one_draft_job_per_ticket ON jobs(ticket_id) WHERE kind = 'draft';
CREATE UNIQUE INDEX jobs_one_send_job_per_draft ON jobs(draft_id) WHERE kind = 'send';
CREATE INDEX jobs_ready ON jobs(state, next_attempt_at);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE drafts (
    id TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    product TEXT,
    confidence DOUBLE PRECISION NOT NULL,
    draft_text TEXT NOT NULL,
    note_html TEXT NOT NULL,
    draft_json TEXT NOT NULL,
    note_id BIGINT,
    reply_id BIGINT,
    sent_text TEXT,
    decided_by TEXT,
    reject_reason TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    agent_id BIGINT,
    agent_email TEXT,
    send_status BIGINT,
    approval_started_at BIGINT,
    status_applied BIGINT NOT NULL DEFAULT 0,
    note_updated BIGINT NOT NULL DEFAULT 0,
    send_error TEXT,
    edit_distance DOUBLE PRECISION,
    revision BIGINT NOT NULL DEFAULT 0,
    redraft_requested BIGINT NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX drafts_one_per_message ON drafts(ticket_id, message_id, revision);
CREATE INDEX drafts_by_status ON drafts(status, created_at);
CREATE TABLE draft_events (
    id BIGSERIAL PRIMARY KEY,
    draft_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT,
    agent TEXT,
    created_at BIGINT NOT NULL);
CREATE INDEX draft_events_by_draft ON draft_events(draft_id, kind);
CREATE TABLE outcomes (
    draft_id TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL,
    reply_id BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    edit_distance DOUBLE PRECISION NOT NULL,
    links_cited BIGINT NOT NULL,
    links_kept BIGINT NOT NULL,
    agent_id BIGINT,
    via TEXT NOT NULL,
    seconds_to_reply DOUBLE PRECISION NOT NULL,
    product TEXT,
    confidence DOUBLE PRECISION NOT NULL,
    replied_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL);
CREATE INDEX outcomes_by_time ON outcomes(replied_at);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL);
";

/// Version 2 to 3 (as on SQLite): the ticket as the draft saw it and its flag count, for the
/// review console, with indexes for its filters and pages.
const VERSION_3: &str = "
ALTER TABLE drafts ADD COLUMN ticket_json TEXT;
ALTER TABLE drafts ADD COLUMN subject TEXT;
ALTER TABLE drafts ADD COLUMN flag_count BIGINT NOT NULL DEFAULT 0;
UPDATE drafts SET flag_count = json_array_length(draft_json::json -> 'flags')
    WHERE json_typeof(draft_json::json -> 'flags') = 'array';
CREATE INDEX drafts_console ON drafts(status, product, created_at);
CREATE INDEX drafts_by_time ON drafts(created_at);
";

/// Brings the database to [`POSTGRES_SCHEMA_VERSION`]; refuses one written by a newer deskdraft.
/// Then, in the same transaction, makes the text search indexes where it can
/// ([`text_search_indexes`]) and returns whether they are in place.
pub fn migrate(db: &mut dyn Sql) -> Result<bool, QueueError> {
    db.transaction(|db| {
        db.execute(
            "SELECT pg_advisory_xact_lock($1)",
            params![MIGRATION_LOCK_KEY],
        )?;
        db.batch(
            "CREATE TABLE IF NOT EXISTS deskdraft_schema (
                 singleton BIGINT PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
                 version BIGINT NOT NULL)",
        )?;
        let version = db
            .query_opt("SELECT version FROM deskdraft_schema", &[])?
            .map(|row| row.i64(0))
            .transpose()?
            .unwrap_or(0);
        if version > POSTGRES_SCHEMA_VERSION {
            return Err(QueueError::NewerSchema(format!(
                "the PostgreSQL queue has schema version {version}, newer than this deskdraft's \
                 {POSTGRES_SCHEMA_VERSION}: upgrade deskdraft (every replica) or use another database"
            )));
        }
        if version < 2 {
            db.batch(VERSION_2)?;
        }
        if version < 3 {
            db.batch(VERSION_3)?;
        }
        db.execute(
            "INSERT INTO deskdraft_schema (singleton, version) VALUES (1, $1)
             ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
            params![POSTGRES_SCHEMA_VERSION],
        )?;
        text_search_indexes(db)
    })
}

/// Trigram indexes for the review console's text search (`ILIKE '%text%'` over the subject, the
/// draft and the ticket the draft saw), without which each search reads every draft: about
/// 0.3 to 0.8 s at 50,000 drafts (`cargo bench --bench review_console`). They need the `pg_trgm`
/// extension, which ships with PostgreSQL and is trusted (PostgreSQL 13 and later: a role with
/// CREATE on the database may install it). Where it cannot be installed (no privilege, or a
/// build without contrib) the queue works the same and search scans, so that failure is caught
/// inside the statement (a PL/pgSQL exception block rolls back only itself) rather than
/// refusing to start. Not part of the versioned schema: it is tried at every start (under the
/// migration's lock), so a DBA's later `CREATE EXTENSION pg_trgm` takes effect on the next one.
fn text_search_indexes(db: &mut dyn Sql) -> Result<bool, QueueError> {
    db.batch(
        "DO $$
         BEGIN
             CREATE EXTENSION IF NOT EXISTS pg_trgm;
         EXCEPTION WHEN OTHERS THEN
             RAISE NOTICE 'pg_trgm unavailable: %', SQLERRM;
         END $$;",
    )?;
    let available = db
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'", &[])?
        .is_some();
    if available {
        // One index per column: the search ORs the three, which PostgreSQL answers with a
        // BitmapOr of three index scans.
        db.batch(
            "CREATE INDEX IF NOT EXISTS drafts_subject_trigram
                 ON drafts USING gin (subject gin_trgm_ops);
             CREATE INDEX IF NOT EXISTS drafts_text_trigram
                 ON drafts USING gin (draft_text gin_trgm_ops);
             CREATE INDEX IF NOT EXISTS drafts_ticket_trigram
                 ON drafts USING gin (ticket_json gin_trgm_ops);",
        )?;
    }
    Ok(available)
}
