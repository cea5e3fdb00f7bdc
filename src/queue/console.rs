//! What the review console reads from the queue: the ticket as a draft saw it
//! ([`TicketContext`], stored with the draft so the page needs no helpdesk call), and pages of
//! drafts by filter (status, product, confidence band, flags, ticket id or text), newest first,
//! with a draft's neighbours in that order so an agent keeps their place after acting on it.
//! Filters and pages are SQL over indexed columns (`drafts_console`, `drafts_by_time`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::drafts::DraftStatus;
use super::sql::{Dialect, Row, Sql, Value, params};
use super::{JobQueue, QueueError, from_ms};
use crate::domain::Ticket;
use crate::draft::confidence::ConfidenceBand;
use crate::draft::thread::{AwaitingMessage, ThreadTurn, thread_until};

/// The ticket a draft answers, as it was when drafted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketContext {
    pub subject: String,
    pub requester_id: Option<i64>,
    /// Freshdesk's priority: 1 low, 2 medium, 3 high, 4 urgent.
    pub priority: Option<i64>,
    pub status: i64,
    pub product_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// Public turns (customer messages and agent replies) up to the message drafted for,
    /// cleaned of quoted history and signatures, oldest first. Private notes never appear.
    pub thread: Vec<ThreadTurn>,
}

impl TicketContext {
    pub fn of(ticket: &Ticket, message: AwaitingMessage) -> Self {
        Self {
            subject: ticket.subject.clone(),
            requester_id: ticket.requester_id,
            priority: ticket.priority,
            status: ticket.status,
            product_id: ticket.product_id,
            created_at: ticket.created_at,
            thread: thread_until(ticket, message),
        }
    }
}

/// Which drafts a console page lists. Every field narrows; `None` does not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueFilter {
    pub status: Option<DraftStatus>,
    /// A product key (Freshdesk product id as text); `Some("")` lists drafts without one.
    pub product: Option<String>,
    pub band: Option<ConfidenceBand>,
    /// `Some(true)`: only drafts with flags; `Some(false)`: only drafts without.
    pub flagged: Option<bool>,
    /// A ticket id (`123` or `#123`), or text in the subject, the draft or the customer's messages.
    pub search: Option<String>,
}

/// One line of the queue.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueRow {
    pub id: String,
    pub ticket_id: i64,
    pub status: DraftStatus,
    pub kind: String,
    pub product: Option<String>,
    pub confidence: f32,
    pub subject: Option<String>,
    pub flag_count: i64,
    pub created_at: DateTime<Utc>,
    /// The draft's first characters.
    pub excerpt: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueuePage {
    pub rows: Vec<QueueRow>,
    /// Drafts matching the filter, over all pages.
    pub total: u64,
    /// 1-based.
    pub page: u64,
    pub per_page: u64,
}

impl QueuePage {
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }
}

/// A draft's place in a filtered queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Neighbours {
    pub previous: Option<String>,
    pub next: Option<String>,
    /// 1-based position of the draft (counting it whether or not it still matches).
    pub position: u64,
    pub total: u64,
}

/// `LIKE` pattern for a literal substring (`\` escapes `%` and `_`).
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// An FTS5 query for a literal substring: one phrase, in which only `"` needs escaping (doubled);
/// on a trigram index a phrase matches wherever its characters occur in a row, in any case.
fn trigram_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The WHERE clause of a filter and its parameters (`$n` placeholders, numbered from 1).
fn where_clause(filter: &QueueFilter, dialect: Dialect) -> (String, Vec<Value>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(status) = filter.status {
        values.push(Value::Text(status.as_str().into()));
        conditions.push(format!("status = ${}", values.len()));
    }
    match filter.product.as_deref() {
        Some("") => conditions.push("product IS NULL".into()),
        Some(product) => {
            values.push(Value::Text(product.into()));
            conditions.push(format!("product = ${}", values.len()));
        }
        None => {}
    }
    if let Some(band) = &filter.band {
        values.push(Value::Real(f64::from(band.range[0])));
        let from = values.len();
        if band.range[1] >= 1.0 {
            conditions.push(format!("confidence >= ${from}"));
        } else {
            values.push(Value::Real(f64::from(band.range[1])));
            conditions.push(format!(
                "confidence >= ${from} AND confidence < ${}",
                values.len()
            ));
        }
    }
    match filter.flagged {
        Some(true) => conditions.push("flag_count > 0".into()),
        Some(false) => conditions.push("flag_count = 0".into()),
        None => {}
    }
    if let Some(search) = filter.search.as_deref().map(str::trim)
        && !search.is_empty()
    {
        // A number is a ticket id (found through the index that starts with it); anything
        // else is text, looked for in the subject, the draft and the customer's messages.
        match search.trim_start_matches('#').parse::<i64>() {
            Ok(ticket_id) => {
                values.push(Value::Integer(ticket_id));
                conditions.push(format!("ticket_id = ${}", values.len()));
            }
            // SQLite: from the trigram index (schema version 4), which cannot match fewer than
            // three characters; those few searches read every draft.
            Err(_) if dialect == Dialect::Sqlite && search.chars().count() >= 3 => {
                values.push(Value::Text(trigram_phrase(search)));
                conditions.push(format!(
                    "id IN (SELECT draft_id FROM drafts_search WHERE drafts_search MATCH ${})",
                    values.len()
                ));
            }
            Err(_) => {
                values.push(Value::Text(like_pattern(search)));
                let pattern = values.len();
                let like = dialect.like_ignoring_case();
                conditions.push(format!(
                    "(subject {like} ${pattern} ESCAPE '\\' OR draft_text {like} ${pattern} ESCAPE '\\' \
                     OR ticket_json {like} ${pattern} ESCAPE '\\')"
                ));
            }
        }
    }
    let clause = if conditions.is_empty() {
        "1 = 1".to_string()
    } else {
        conditions.join(" AND ")
    };
    (clause, values)
}

const ROW_COLUMNS: &str = "id, ticket_id, status, kind, product, confidence, subject, flag_count, \
     created_at, substr(draft_text, 1, 180)";

fn row_from(row: &Row) -> Result<QueueRow, QueueError> {
    Ok(QueueRow {
        id: row.text(0)?,
        ticket_id: row.i64(1)?,
        status: DraftStatus::parse(&row.text(2)?),
        kind: row.text(3)?,
        product: row.opt_text(4)?,
        confidence: row.f64(5)? as f32,
        subject: row.opt_text(6)?,
        flag_count: row.i64(7)?,
        created_at: from_ms(row.i64(8)?),
        excerpt: row.text(9)?,
    })
}

fn count(db: &mut dyn Sql, sql: &str, values: &[Value]) -> Result<u64, QueueError> {
    Ok(db.query_one(sql, values)?.i64(0)?.max(0) as u64)
}

impl JobQueue {
    /// One page of drafts matching `filter`, newest first (`page` is 1-based).
    pub async fn queue_page(
        &self,
        filter: &QueueFilter,
        page: u64,
        per_page: u64,
    ) -> Result<QueuePage, QueueError> {
        let filter = filter.clone();
        let per_page = per_page.clamp(1, 500);
        self.with(move |db| {
            let (clause, values) = where_clause(&filter, db.dialect());
            let total = count(
                db,
                &format!("SELECT COUNT(*) FROM drafts WHERE {clause}"),
                &values,
            )?;
            let pages = total.div_ceil(per_page).max(1);
            let page = page.clamp(1, pages);
            let rows = db
                .query(
                    &format!(
                        "SELECT {ROW_COLUMNS} FROM drafts WHERE {clause}
                         ORDER BY created_at DESC, id LIMIT {per_page} OFFSET {}",
                        (page - 1) * per_page
                    ),
                    &values,
                )?
                .iter()
                .map(row_from)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(QueuePage {
                rows,
                total,
                page,
                per_page,
            })
        })
        .await
    }

    /// The drafts before and after `id` in the order of `filter`'s queue (newest first). Works
    /// for a draft that no longer matches (just approved): its neighbours are where it was.
    pub async fn neighbours(
        &self,
        filter: &QueueFilter,
        id: &str,
    ) -> Result<Neighbours, QueueError> {
        let filter = filter.clone();
        let id = id.to_string();
        self.with(move |db| {
            let (clause, values) = where_clause(&filter, db.dialect());
            let Some(created_at) = db
                .query_opt(
                    "SELECT created_at FROM drafts WHERE id=$1",
                    params![id.as_str()],
                )?
                .map(|row| row.i64(0))
                .transpose()?
            else {
                return Ok(Neighbours::default());
            };
            let mut with_position = values.clone();
            with_position.push(Value::Integer(created_at));
            let at = with_position.len();
            with_position.push(Value::Text(id.clone()));
            let me = with_position.len();
            let newer = format!("(created_at > ${at} OR (created_at = ${at} AND id < ${me}))");
            let older = format!("(created_at < ${at} OR (created_at = ${at} AND id > ${me}))");
            let one = |db: &mut dyn Sql,
                           condition: &str,
                           order: &str|
             -> Result<Option<String>, QueueError> {
                db.query_opt(
                    &format!(
                        "SELECT id FROM drafts WHERE {clause} AND {condition} ORDER BY {order} LIMIT 1"
                    ),
                    &with_position,
                )?
                .map(|row| row.text(0))
                .transpose()
            };
            let previous = one(db, &newer, "created_at ASC, id DESC")?;
            let next = one(db, &older, "created_at DESC, id ASC")?;
            let before = count(
                db,
                &format!("SELECT COUNT(*) FROM drafts WHERE {clause} AND {newer}"),
                &with_position,
            )?;
            let total = count(
                db,
                &format!("SELECT COUNT(*) FROM drafts WHERE {clause}"),
                &values,
            )?;
            Ok(Neighbours {
                previous,
                next,
                position: before + 1,
                total,
            })
        })
        .await
    }

    /// Products that have drafts in `status` (all when `None`), with their counts; `None` is
    /// drafts without a product.
    pub async fn draft_products(
        &self,
        status: Option<DraftStatus>,
    ) -> Result<Vec<(Option<String>, u64)>, QueueError> {
        self.with(move |db| {
            let rows = match status {
                Some(status) => db.query(
                    "SELECT product, COUNT(*) FROM drafts WHERE status = $1
                     GROUP BY product ORDER BY product",
                    params![status.as_str()],
                )?,
                None => db.query(
                    "SELECT product, COUNT(*) FROM drafts GROUP BY product ORDER BY product",
                    &[],
                )?,
            };
            rows.iter()
                .map(|row| Ok((row.opt_text(0)?, row.i64(1)?.max(0) as u64)))
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft::confidence::band_of;
    use crate::queue::NewDraft;

    pub(super) fn draft(
        ticket_id: i64,
        product: &str,
        confidence: f32,
        flags: usize,
        text: &str,
    ) -> NewDraft {
        NewDraft {
            id: format!("d{ticket_id}"),
            ticket_id,
            message_id: 0,
            revision: 0,
            status: DraftStatus::Pending,
            kind: "retrieval_only".into(),
            product: Some(product.into()),
            confidence,
            draft_text: text.into(),
            note_html: String::new(),
            draft: serde_json::json!({"flags": vec!["mentions a refund"; flags]}),
            ticket: Some(TicketContext {
                subject: format!("Subject {ticket_id}"),
                requester_id: Some(5),
                priority: Some(2),
                status: 2,
                product_id: product.parse().ok(),
                created_at: Utc::now(),
                thread: vec![ThreadTurn {
                    from_customer: true,
                    text: format!("customer words {ticket_id}"),
                    at: Utc::now(),
                }],
            }),
        }
    }

    use crate::queue::testing::{TestQueue, on_both_backends};

    // On both backends: PostgreSQL's LIKE is case-sensitive and its `WHERE` wants a boolean.
    on_both_backends!(filters_pages_and_neighbours_follow_the_queue_order, 3);

    async fn filters_pages_and_neighbours_follow_the_queue_order(test: TestQueue) {
        let queue = test.queue;
        for ticket in 1..=30 {
            let product = if ticket % 3 == 0 { "8" } else { "7" };
            let confidence = if ticket % 2 == 0 { 0.9 } else { 0.6 };
            let text = if ticket == 17 {
                "Your 100% refund"
            } else {
                "Reset it"
            };
            queue
                .insert_draft(draft(
                    ticket,
                    product,
                    confidence,
                    ticket as usize % 4,
                    text,
                ))
                .await
                .unwrap();
            // Distinct creation times: the order is by time, newest first.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        queue.reject("d30", "wrong", "t").await.unwrap();
        let pending = QueueFilter {
            status: Some(DraftStatus::Pending),
            ..QueueFilter::default()
        };
        let first = queue.queue_page(&pending, 1, 10).await.unwrap();
        assert_eq!((first.total, first.pages()), (29, 3));
        let ids: Vec<i64> = first.rows.iter().map(|r| r.ticket_id).collect();
        assert_eq!(ids, (20..=29).rev().collect::<Vec<_>>());
        assert_eq!(first.rows[0].subject.as_deref(), Some("Subject 29"));
        let last = queue.queue_page(&pending, 99, 10).await.unwrap();
        assert_eq!((last.page, last.rows.len()), (3, 9));

        let narrow = QueueFilter {
            product: Some("8".into()),
            band: Some(band_of(0.9)),
            flagged: Some(true),
            ..pending.clone()
        };
        let page = queue.queue_page(&narrow, 1, 50).await.unwrap();
        let ids: Vec<i64> = page.rows.iter().map(|r| r.ticket_id).collect();
        // Product 8 (multiples of 3), high band (even), flagged (not a multiple of 4), pending.
        assert_eq!(ids, vec![18, 6]);
        let unflagged = QueueFilter {
            flagged: Some(false),
            ..narrow.clone()
        };
        let ids: Vec<i64> = queue
            .queue_page(&unflagged, 1, 50)
            .await
            .unwrap()
            .rows
            .iter()
            .map(|r| r.ticket_id)
            .collect();
        assert_eq!(ids, vec![24, 12]);

        for (search, expected) in [
            ("#17", vec![17]),
            ("100%", vec![17]),
            ("REFUND", vec![17]),
            ("customer words 21", vec![21]),
            ("Subject 2", (20..=29).rev().chain([2]).collect()),
        ] {
            let filter = QueueFilter {
                search: Some(search.into()),
                ..pending.clone()
            };
            let ids: Vec<i64> = queue
                .queue_page(&filter, 1, 50)
                .await
                .unwrap()
                .rows
                .iter()
                .map(|r| r.ticket_id)
                .collect();
            assert_eq!(ids, expected, "{search}");
        }

        let place = queue.neighbours(&pending, "d25").await.unwrap();
        assert_eq!(place.previous.as_deref(), Some("d26"));
        assert_eq!(place.next.as_deref(), Some("d24"));
        assert_eq!((place.position, place.total), (5, 29));
        // Acting on a draft keeps its place: once rejected, its neighbours are unchanged.
        queue.reject("d25", "wrong", "t").await.unwrap();
        let after = queue.neighbours(&pending, "d25").await.unwrap();
        assert_eq!(after.next.as_deref(), Some("d24"));
        assert_eq!(after.previous.as_deref(), Some("d26"));
        let products = queue
            .draft_products(Some(DraftStatus::Pending))
            .await
            .unwrap();
        assert_eq!(
            products,
            vec![(Some("7".into()), 19), (Some("8".into()), 9)]
        );
    }
}

#[cfg(test)]
#[path = "text_search_tests.rs"]
mod text_search_tests;
