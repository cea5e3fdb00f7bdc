//! What became of each draft once an agent answered its customer message, learnt without any
//! click: sent as drafted, edited, rewritten or not used, through deskdraft, the sidebar app's
//! insert, or typed by hand; by which agent, how fast, whether the cited links were kept.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::drafts::{COLUMNS, record_from_row};
use super::sql::params;
use super::{DraftRecord, JobQueue, QueueError, from_ms, now_ms};

/// How the reply an agent sent compares with the draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// At most 2% of the text changed.
    AsDrafted,
    /// Up to 40% changed: the draft did most of the work.
    Edited,
    /// Up to 80% changed: the draft helped with the gist.
    Rewritten,
    /// Hardly anything in common.
    NotUsed,
}

impl Outcome {
    pub fn of_distance(distance: f64) -> Self {
        match distance {
            d if d <= 0.02 => Self::AsDrafted,
            d if d <= 0.4 => Self::Edited,
            d if d <= 0.8 => Self::Rewritten,
            _ => Self::NotUsed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AsDrafted => "as_drafted",
            Self::Edited => "edited",
            Self::Rewritten => "rewritten",
            Self::NotUsed => "not_used",
        }
    }
}

/// How the reply reached the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyOrigin {
    /// Approved in deskdraft (review page or API) and sent by it.
    Deskdraft,
    /// Inserted into Freshdesk's reply editor from the sidebar app, then sent there.
    AppInsert,
    /// Written in Freshdesk without the draft's help that we know of.
    Typed,
}

impl ReplyOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deskdraft => "deskdraft",
            Self::AppInsert => "app_insert",
            Self::Typed => "typed",
        }
    }
}

/// One recorded outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DraftOutcome {
    pub draft_id: String,
    pub ticket_id: i64,
    pub reply_id: i64,
    pub outcome: Outcome,
    pub edit_distance: f64,
    pub links_cited: u32,
    pub links_kept: u32,
    pub agent_id: Option<i64>,
    pub via: ReplyOrigin,
    pub seconds_to_reply: f64,
    pub product: Option<String>,
    pub confidence: f32,
    pub replied_at: DateTime<Utc>,
}

impl JobQueue {
    /// The ticket's drafts (with text, not superseded by a later revision of their message) that
    /// have no outcome yet.
    pub async fn drafts_awaiting_outcome(
        &self,
        ticket_id: i64,
    ) -> Result<Vec<DraftRecord>, QueueError> {
        self.with(move |db| {
            db.query(
                &format!(
                    "SELECT {COLUMNS} FROM drafts d
                     WHERE ticket_id=$1 AND kind != 'abstained' AND redraft_requested = 0
                       AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.draft_id = d.id)
                     ORDER BY message_id, revision"
                ),
                params![ticket_id],
            )?
            .iter()
            .map(record_from_row)
            .collect()
        })
        .await
    }

    /// Of these tickets, the ones with a draft still waiting for its outcome.
    pub async fn tickets_awaiting_outcome(
        &self,
        ticket_ids: Vec<i64>,
    ) -> Result<Vec<i64>, QueueError> {
        self.with(move |db| {
            let mut waiting = Vec::new();
            for id in ticket_ids {
                let found = db.query_opt(
                    "SELECT 1 FROM drafts d WHERE ticket_id=$1 AND kind != 'abstained'
                       AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.draft_id = d.id) LIMIT 1",
                    params![id],
                )?;
                if found.is_some() {
                    waiting.push(id);
                }
            }
            Ok(waiting)
        })
        .await
    }

    /// Records an outcome once (a second record of the same draft is ignored); returns whether
    /// this call recorded it.
    pub async fn record_outcome(&self, outcome: DraftOutcome) -> Result<bool, QueueError> {
        self.with(move |db| {
            let inserted = db.execute(
                "INSERT INTO outcomes (draft_id, ticket_id, reply_id, outcome, edit_distance,
                     links_cited, links_kept, agent_id, via, seconds_to_reply, product, confidence,
                     replied_at, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT(draft_id) DO NOTHING",
                params![
                    outcome.draft_id.as_str(),
                    outcome.ticket_id,
                    outcome.reply_id,
                    outcome.outcome.as_str(),
                    outcome.edit_distance,
                    outcome.links_cited,
                    outcome.links_kept,
                    outcome.agent_id,
                    outcome.via.as_str(),
                    outcome.seconds_to_reply,
                    outcome.product.as_deref(),
                    f64::from(outcome.confidence),
                    outcome.replied_at.timestamp_millis(),
                    now_ms(),
                ],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    /// Every outcome, oldest reply first (for live statistics).
    pub async fn outcomes(&self) -> Result<Vec<DraftOutcome>, QueueError> {
        self.with(|db| {
            db.query(
                "SELECT draft_id, ticket_id, reply_id, outcome, edit_distance, links_cited,
                        links_kept, agent_id, via, seconds_to_reply, product, confidence, replied_at
                 FROM outcomes ORDER BY replied_at, draft_id",
                &[],
            )?
            .iter()
            .map(|row| {
                let outcome = row.text(3)?;
                let via = row.text(8)?;
                Ok(DraftOutcome {
                    draft_id: row.text(0)?,
                    ticket_id: row.i64(1)?,
                    reply_id: row.i64(2)?,
                    outcome: serde_json::from_value(serde_json::Value::String(outcome))
                        .unwrap_or(Outcome::NotUsed),
                    edit_distance: row.f64(4)?,
                    links_cited: row.u32(5)?,
                    links_kept: row.u32(6)?,
                    agent_id: row.opt_i64(7)?,
                    via: serde_json::from_value(serde_json::Value::String(via))
                        .unwrap_or(ReplyOrigin::Typed),
                    seconds_to_reply: row.f64(9)?,
                    product: row.opt_text(10)?,
                    confidence: row.f64(11)? as f32,
                    replied_at: from_ms(row.i64(12)?),
                })
            })
            .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_map_to_outcomes() {
        assert_eq!(Outcome::of_distance(0.0), Outcome::AsDrafted);
        assert_eq!(Outcome::of_distance(0.02), Outcome::AsDrafted);
        assert_eq!(Outcome::of_distance(0.2), Outcome::Edited);
        assert_eq!(Outcome::of_distance(0.6), Outcome::Rewritten);
        assert_eq!(Outcome::of_distance(0.95), Outcome::NotUsed);
    }
}
