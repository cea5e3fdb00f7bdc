//! Jobs: a `draft` job per ticket (re-armed when the customer writes again) and a `send` job per
//! approved draft. At-least-once: a claimed job is leased to one worker under a token; the worker
//! renews the lease while it works, and completing or failing a job needs the current token, so
//! a worker whose lease was taken over cannot overwrite the newer worker's result.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::sql::{Row, params};
use super::{JobQueue, QueueError, from_ms, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Draft the ticket's latest customer message and post the private note.
    Draft,
    /// Send an approved draft as the public reply (and apply what the approval asked for).
    Send,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Send => "send",
        }
    }
    fn parse(text: &str) -> Self {
        match text {
            "send" => Self::Send,
            _ => Self::Draft,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
    pub(super) fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "done" => Self::Done,
            "dead" => Self::Dead,
            _ => Self::Queued,
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub ticket_id: i64,
    /// The draft a send job sends.
    pub draft_id: Option<String>,
    pub state: JobState,
    pub attempts: u32,
    /// Changes with every claim; completing or failing needs the current one.
    #[serde(skip)]
    pub lease_token: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Whether a trigger created a job, woke a finished one, or found one already waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub job_id: i64,
    pub created: bool,
    /// A finished (or dead) job was queued again: the ticket changed since it ran.
    pub rearmed: bool,
}

impl Enqueued {
    /// The trigger added nothing: the ticket's job was already waiting or running.
    pub fn duplicate(&self) -> bool {
        !self.created && !self.rearmed
    }
}

/// Counts by state, for `/metrics` and the review page.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct QueueDepth {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

const JOB_COLUMNS: &str =
    "id, kind, ticket_id, draft_id, state, attempts, lease_token, last_error, created_at";

pub(super) fn job_from_row(row: &Row) -> Result<Job, QueueError> {
    Ok(Job {
        id: row.i64(0)?,
        kind: JobKind::parse(&row.text(1)?),
        ticket_id: row.i64(2)?,
        draft_id: row.opt_text(3)?,
        state: JobState::parse(&row.text(4)?),
        attempts: row.u32(5)?,
        lease_token: row.i64(6)?,
        last_error: row.opt_text(7)?,
        created_at: from_ms(row.i64(8)?),
    })
}

impl JobQueue {
    /// Records that a ticket needs drafting (a webhook or the reconciler saw it). Returns only
    /// once the row is committed to disk. A ticket has one draft job: a trigger while it waits
    /// collapses into it, a trigger while it runs makes it run once more afterwards, and a
    /// trigger after it finished queues it again (the customer may have written again; the
    /// worker drafts only a message that has no draft yet).
    pub async fn enqueue(&self, ticket_id: i64, source: &str) -> Result<Enqueued, QueueError> {
        let source = source.to_string();
        self.with(move |db| {
            db.transaction(|db| {
                let now = now_ms();
                let inserted = db.execute(
                    "INSERT INTO jobs (kind, ticket_id, state, next_attempt_at, source, created_at, updated_at)
                     VALUES ('draft', $1, 'queued', $2, $3, $2, $2)
                     ON CONFLICT(ticket_id) WHERE kind = 'draft' DO NOTHING",
                    params![ticket_id, now, source.as_str()],
                )?;
                // Locked until commit on PostgreSQL: a worker of another replica cannot finish
                // the job between this read and the update below (the trigger would be lost).
                let row = db.query_one(
                    &format!(
                        "SELECT id, state FROM jobs WHERE kind='draft' AND ticket_id=$1{}",
                        db.dialect().for_update()
                    ),
                    params![ticket_id],
                )?;
                let (job_id, state) = (row.i64(0)?, JobState::parse(&row.text(1)?));
                let mut rearmed = false;
                if inserted == 0 {
                    match state {
                        JobState::Done | JobState::Dead => {
                            db.execute(
                                "UPDATE jobs SET state='queued', attempts=0, next_attempt_at=$2,
                                     last_error=NULL, source=$3, updated_at=$2 WHERE id=$1",
                                params![job_id, now, source.as_str()],
                            )?;
                            rearmed = true;
                        }
                        JobState::Running => {
                            db.execute(
                                "UPDATE jobs SET rerun=1, updated_at=$2 WHERE id=$1",
                                params![job_id, now],
                            )?;
                        }
                        JobState::Queued => {}
                    }
                }
                if inserted == 1 || rearmed {
                    super::listen::announce_queued_job(db)?;
                }
                Ok(Enqueued {
                    job_id,
                    created: inserted == 1,
                    rearmed,
                })
            })
        })
        .await
    }

    /// Reserves the oldest ready job (queued and due, or running with an expired lease) under a
    /// new lease token. On PostgreSQL, rows other replicas are claiming are skipped.
    pub async fn claim(&self) -> Result<Option<Job>, QueueError> {
        let lease_ms = self.lease.as_millis() as i64;
        self.with(move |db| {
            let now = now_ms();
            let sql = format!(
                "UPDATE jobs SET state='running', attempts=attempts+1, lease_until=$2,
                     lease_token=lease_token+1, rerun=0, updated_at=$1
                 WHERE id = (SELECT id FROM jobs
                             WHERE (state='queued' AND next_attempt_at<=$1)
                                OR (state='running' AND lease_until<$1)
                             ORDER BY next_attempt_at, id LIMIT 1{})
                 RETURNING {JOB_COLUMNS}",
                db.dialect().skip_locked()
            );
            db.query_opt(&sql, params![now, now + lease_ms])?
                .map(|row| job_from_row(&row))
                .transpose()
        })
        .await
    }

    /// Extends a running job's lease; false when the lease was lost to another worker.
    pub async fn renew(&self, job: &Job) -> Result<bool, QueueError> {
        let (id, token, lease_ms) = (job.id, job.lease_token, self.lease.as_millis() as i64);
        self.with(move |db| {
            let now = now_ms();
            let changed = db.execute(
                "UPDATE jobs SET lease_until=$3, updated_at=$4
                 WHERE id=$1 AND lease_token=$2 AND state='running'",
                params![id, token, now + lease_ms, now],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    /// Marks the job done (or queues it once more when a trigger came while it ran).
    /// `handled_through`: the ticket's `updated_at` as the job left it (the reconciler skips
    /// tickets not updated since).
    pub async fn complete(
        &self,
        job: &Job,
        handled_through: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError> {
        let (id, token) = (job.id, job.lease_token);
        let handled = handled_through.map(|t| t.timestamp_millis());
        let changed = self
            .with(move |db| {
                let now = now_ms();
                db.execute(
                    "UPDATE jobs SET state = CASE WHEN rerun=1 THEN 'queued' ELSE 'done' END,
                         attempts = CASE WHEN rerun=1 THEN 0 ELSE attempts END,
                         rerun=0, lease_until=NULL, last_error=NULL, next_attempt_at=$3,
                         handled_through=COALESCE($4, handled_through), updated_at=$3
                     WHERE id=$1 AND lease_token=$2 AND state='running'",
                    params![id, token, now, handled],
                )
            })
            .await?;
        if changed == 0 {
            return Err(QueueError::LeaseLost { job_id: id });
        }
        Ok(())
    }

    /// Puts the job back with a delay, or makes it a dead letter after `max_attempts` (or at
    /// once when `permanent`). Returns the state it ended in.
    pub async fn fail(
        &self,
        job: &Job,
        error: &str,
        retry_in: Duration,
        permanent: bool,
    ) -> Result<JobState, QueueError> {
        let error = error.chars().take(2000).collect::<String>();
        let (id, token, max_attempts) = (job.id, job.lease_token, self.max_attempts);
        let outcome = self
            .with(move |db| {
                db.transaction(|db| {
                    let attempts = db
                        .query_opt(
                            &format!(
                                "SELECT attempts FROM jobs WHERE id=$1 AND lease_token=$2 AND state='running'{}",
                                db.dialect().for_update()
                            ),
                            params![id, token],
                        )?
                        .map(|row| row.u32(0))
                        .transpose()?;
                    let Some(attempts) = attempts else {
                        return Ok(None);
                    };
                    let state = if permanent || attempts >= max_attempts {
                        JobState::Dead
                    } else {
                        JobState::Queued
                    };
                    let now = now_ms();
                    let delay = i64::try_from(retry_in.as_millis()).unwrap_or(i64::MAX / 2);
                    db.execute(
                        "UPDATE jobs SET state=$3, lease_until=NULL, last_error=$4,
                             next_attempt_at=$5, updated_at=$6
                         WHERE id=$1 AND lease_token=$2",
                        params![id, token, state.as_str(), error.as_str(), now.saturating_add(delay), now],
                    )?;
                    Ok(Some(state))
                })
            })
            .await?;
        outcome.ok_or(QueueError::LeaseLost { job_id: id })
    }

    /// Moves a dead letter back to the queue (an operator fixed the cause).
    pub async fn retry_dead(&self, job_id: i64) -> Result<bool, QueueError> {
        self.with(move |db| {
            let changed = db.execute(
                "UPDATE jobs SET state='queued', attempts=0, next_attempt_at=$2, updated_at=$2 WHERE id=$1 AND state='dead'",
                params![job_id, now_ms()],
            )?;
            if changed == 1 {
                super::listen::announce_queued_job(db)?;
            }
            Ok(changed == 1)
        })
        .await
    }

    pub async fn depth(&self) -> Result<QueueDepth, QueueError> {
        self.with(|db| {
            let mut depth = QueueDepth::default();
            for row in db.query("SELECT state, COUNT(*) FROM jobs GROUP BY state", &[])? {
                let count = row.i64(1)? as u64;
                match JobState::parse(&row.text(0)?) {
                    JobState::Queued => depth.queued = count,
                    JobState::Running => depth.running = count,
                    JobState::Done => depth.done = count,
                    JobState::Dead => depth.dead = count,
                }
            }
            Ok(depth)
        })
        .await
    }

    pub async fn jobs(&self, state: Option<JobState>) -> Result<Vec<Job>, QueueError> {
        self.with(move |db| {
            let rows = match state {
                Some(state) => db.query(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state=$1 ORDER BY id"),
                    params![state.as_str()],
                )?,
                None => db.query(&format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id"), &[])?,
            };
            rows.iter().map(job_from_row).collect()
        })
        .await
    }

    /// For each ticket with a draft job that finished: the ticket's `updated_at` as the job left
    /// it. A ticket not updated since needs no new look.
    pub async fn handled_through(
        &self,
        ticket_ids: Vec<i64>,
    ) -> Result<HashMap<i64, DateTime<Utc>>, QueueError> {
        self.with(move |db| {
            let mut handled = HashMap::new();
            for id in ticket_ids {
                if let Some(row) = db.query_opt(
                    "SELECT handled_through FROM jobs WHERE kind='draft' AND ticket_id=$1
                         AND state='done' AND handled_through IS NOT NULL",
                    params![id],
                )? {
                    handled.insert(id, from_ms(row.i64(0)?));
                }
            }
            Ok(handled)
        })
        .await
    }
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
