//! What agents do with a draft besides approving or rejecting it in deskdraft: marking it not
//! useful (with why), inserting it into Freshdesk's reply editor from the sidebar app, asking for
//! a redraft. Insert events tell replies that came from a draft apart from replies typed by hand.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sql::params;
use super::{JobQueue, JobState, QueueError, from_ms, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftEventKind {
    /// An agent says the draft does not help (a reason is required).
    NotUseful,
    /// An agent put the draft into Freshdesk's reply editor from the sidebar app.
    Inserted,
    /// An agent asked for a new draft of the message.
    Redraft,
}

impl DraftEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotUseful => "not_useful",
            Self::Inserted => "inserted",
            Self::Redraft => "redraft",
        }
    }
}

/// One event as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DraftEvent {
    pub draft_id: String,
    pub kind: String,
    pub reason: Option<String>,
    pub agent: Option<String>,
    pub at: DateTime<Utc>,
}

impl JobQueue {
    pub async fn record_event(
        &self,
        draft_id: &str,
        kind: DraftEventKind,
        reason: Option<&str>,
        agent: Option<&str>,
    ) -> Result<(), QueueError> {
        let (draft_id, reason, agent) = (
            draft_id.to_string(),
            reason.map(|r| r.chars().take(1000).collect::<String>()),
            agent.map(|a| a.chars().take(200).collect::<String>()),
        );
        self.with(move |db| {
            db.execute(
                "INSERT INTO draft_events (draft_id, kind, reason, agent, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                params![draft_id, kind.as_str(), reason, agent, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Events of one draft, oldest first.
    pub async fn events_of(&self, draft_id: &str) -> Result<Vec<DraftEvent>, QueueError> {
        let draft_id = draft_id.to_string();
        self.with(move |db| {
            db.query(
                "SELECT draft_id, kind, reason, agent, created_at FROM draft_events
                 WHERE draft_id=$1 ORDER BY id",
                params![draft_id],
            )?
            .iter()
            .map(|row| {
                Ok(DraftEvent {
                    draft_id: row.text(0)?,
                    kind: row.text(1)?,
                    reason: row.opt_text(2)?,
                    agent: row.opt_text(3)?,
                    at: from_ms(row.i64(4)?),
                })
            })
            .collect()
        })
        .await
    }

    /// The drafts that have at least one event of `kind`.
    pub async fn drafts_with_event(
        &self,
        kind: DraftEventKind,
    ) -> Result<std::collections::HashSet<String>, QueueError> {
        self.with(move |db| {
            db.query(
                "SELECT DISTINCT draft_id FROM draft_events WHERE kind=$1",
                params![kind.as_str()],
            )?
            .iter()
            .map(|row| row.text(0))
            .collect()
        })
        .await
    }

    /// How many events of each kind were recorded.
    pub async fn event_counts(&self) -> Result<BTreeMap<String, u64>, QueueError> {
        self.with(|db| {
            db.query("SELECT kind, COUNT(*) FROM draft_events GROUP BY kind", &[])?
                .iter()
                .map(|row| Ok((row.text(0)?, row.i64(1)? as u64)))
                .collect()
        })
        .await
    }

    /// The state of the ticket's draft job, when it has one.
    pub async fn draft_job_state(&self, ticket_id: i64) -> Result<Option<JobState>, QueueError> {
        self.with(move |db| {
            db.query_opt(
                "SELECT state FROM jobs WHERE kind='draft' AND ticket_id=$1",
                params![ticket_id],
            )?
            .map(|row| Ok(JobState::parse(&row.text(0)?)))
            .transpose()
        })
        .await
    }
}
