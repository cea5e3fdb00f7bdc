//! The Freshdesk client against the in-process stand-in: pagination and the page cap, 429 and
//! Retry-After, injected faults, auth errors, malformed JSON, notes, and a paced full read.
//! Rate windows are shortened (a "minute" of 1-2 s) on both sides so the same logic runs fast.

#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use deskdraft::domain::{Conversation, Ticket};
use deskdraft::helpdesk::freshdesk::{ApiKey, Freshdesk, FreshdeskConfig};
use deskdraft::helpdesk::write::HelpdeskWrite;
use deskdraft::helpdesk::{HelpdeskError, HelpdeskRead};
use deskdraft::retry::RetryPolicy;
use futures::StreamExt;
use support::freshdesk_stand_in::{Bundle, Faults, StandIn, StandInConfig, load_bundle};

const KEY: &str = "test-key";

fn epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(0, 0).single().expect("epoch")
}

fn ts(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
        + chrono::Duration::minutes(minutes)
}

fn conversation(ticket_id: i64, n: i64) -> Conversation {
    Conversation {
        id: 40_000_000_000 + ticket_id * 100 + n,
        body: format!("<div>message {n} of ticket {ticket_id}</div>"),
        body_text: Some(format!("message {n} of ticket {ticket_id}")),
        incoming: n % 2 == 0,
        private: false,
        source: Some(0),
        user_id: Some(7_000_000_000 + n),
        ticket_id: Some(ticket_id),
        support_email: None,
        created_at: ts(ticket_id + n),
        updated_at: Some(ts(ticket_id + n)),
        attachments: Vec::new(),
    }
}

/// `count` tickets; `updated_at` rises with the id except for a run of ties at `ties`.
fn synthetic_bundle(count: i64, conversations: i64, ties: std::ops::Range<i64>) -> Bundle {
    let tickets = (1..=count)
        .map(|id| {
            let updated = if ties.contains(&id) {
                ts(ties.start)
            } else {
                ts(id)
            };
            Ticket {
                id,
                subject: format!("Ticket {id}"),
                description: format!("<div>Problem {id}</div>"),
                description_text: Some(format!("Problem {id}")),
                status: 5,
                priority: Some(1),
                source: Some(1),
                ticket_type: None,
                tags: vec!["t".into()],
                requester_id: Some(9_000_000_000 + id),
                responder_id: None,
                group_id: None,
                company_id: None,
                product_id: Some(1),
                spam: false,
                deleted: false,
                archived: false,
                custom_fields: Default::default(),
                created_at: ts(id) - chrono::Duration::days(1),
                updated_at: updated,
                conversations: (1..=conversations).map(|n| conversation(id, n)).collect(),
            }
        })
        .collect();
    Bundle {
        tickets,
        ..Bundle::default()
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(10),
    }
}

/// A client with a generous budget on a 1-second window, unless a test narrows it.
fn config(stand_in: &StandIn, key: &str) -> FreshdeskConfig {
    let mut config =
        FreshdeskConfig::with_base_url(&stand_in.base_url(), ApiKey::new(key)).expect("config");
    config.plan_limit_per_minute = 100_000;
    config.budget_share = 1.0;
    config.rate_window = Duration::from_secs(1);
    config.timeout = Duration::from_secs(5);
    config.retry = fast_retry();
    config
}

fn without_conversations(ticket: &Ticket) -> Ticket {
    Ticket {
        conversations: Vec::new(),
        ..ticket.clone()
    }
}

#[tokio::test]
async fn pagination_follows_links_and_restarts_at_the_page_cap() {
    // 47 tickets, 5 per page, 3 pages per sweep: four sweeps, with a run of equal updated_at
    // (13..19) straddling the first cap at ticket 15.
    let bundle = synthetic_bundle(47, 7, 13..19);
    let stand_in = StandIn::start(
        bundle.clone(),
        StandInConfig {
            max_pages: 3,
            ..Default::default()
        },
    )
    .await;
    let mut config = config(&stand_in, KEY);
    config.per_page = 5;
    config.max_list_pages = 3;
    let freshdesk = Freshdesk::new(config).expect("client");
    let reader = freshdesk.reader();

    let tickets = reader.tickets_updated_since(epoch()).await.expect("list");
    let ids: Vec<i64> = tickets.iter().map(|t| t.id).collect();
    let mut expected: Vec<i64> = (1..=47).collect();
    expected.sort_by_key(|&id| (bundle.tickets[id as usize - 1].updated_at, id));
    assert_eq!(ids, expected, "every ticket once, oldest update first");
    assert_eq!(
        tickets[0],
        without_conversations(&bundle.tickets[0]),
        "include=description keeps the body"
    );

    let log = stand_in.log();
    assert!(
        log.iter().all(|r| r.status == 200),
        "no request beyond the cap: {log:?}"
    );
    let sweeps: std::collections::BTreeSet<String> = log
        .iter()
        .filter_map(|r| {
            r.query
                .split('&')
                .find(|p| p.starts_with("updated_since="))
                .map(str::to_owned)
        })
        .collect();
    assert!(
        sweeps.len() >= 4,
        "restarted with later updated_since values: {sweeps:?}"
    );
    assert!(log.iter().all(|r| !r.query.contains("page=4")));

    // Conversations: 7 per ticket, 5 per page -> 2 calls following Link.
    stand_in.clear_log();
    let full = reader.ticket_with_conversations(20).await.expect("ticket");
    assert_eq!(full, bundle.tickets[19]);
    let calls: Vec<_> = stand_in
        .log()
        .into_iter()
        .map(|r| (r.path, r.query))
        .collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[2].1.contains("page=2"));
}

#[tokio::test]
async fn a_429_blocks_every_task_until_retry_after_elapses() {
    let bundle = synthetic_bundle(12, 2, 0..0);
    let window = Duration::from_secs(2);
    let stand_in = StandIn::start(
        bundle.clone(),
        StandInConfig {
            limit_per_window: 200,
            window,
            ..Default::default()
        },
    )
    .await;
    let mut config = config(&stand_in, KEY);
    config.plan_limit_per_minute = 200;
    config.budget_share = 0.5;
    config.rate_window = window;
    let freshdesk = Freshdesk::new(config).expect("client");
    let reader: Arc<dyn HelpdeskRead> = Arc::new(freshdesk.reader());

    // Humans used up this window: the next requests get 429 + Retry-After.
    stand_in.exhaust_window();
    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(1..=12)
        .map(|id| {
            let reader = reader.clone();
            async move { reader.conversations(id).await }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let log = stand_in.log();
    let first = log
        .iter()
        .find(|r| r.status == 429)
        .expect("a 429 was served");
    let retry_after = Duration::from_secs(first.retry_after.expect("Retry-After on 429"));
    // Requests already in flight when the 429 was sent may land just after it; nothing else may.
    let grace = Duration::from_millis(300);
    let inside: Vec<_> = log
        .iter()
        .filter(|r| r.at > first.at + grace && r.at < first.at + retry_after)
        .collect();
    assert!(
        inside.is_empty(),
        "requests inside the Retry-After window: {inside:?}"
    );
    let after = log.iter().filter(|r| r.status == 200).count();
    assert_eq!(after, 12);
    assert!(
        log.iter().filter(|r| r.status == 429).count() <= 4,
        "at most one 429 per task: {log:?}"
    );
    assert!(started.elapsed() >= retry_after);
    assert!(freshdesk.metrics().calls_with_status(429) >= 1);
}

#[tokio::test]
async fn injected_5xx_resets_timeouts_and_bad_json_still_complete() {
    let bundle = synthetic_bundle(150, 3, 0..0);
    let faults = Faults {
        server_error_rate: 0.05,
        reset_rate: 0.02,
        malformed_rate: 0.02,
        slow_rate: 0.01,
        slow_delay: Duration::from_millis(1500),
        seed: 7,
        ..Default::default()
    };
    let stand_in = StandIn::start(
        bundle.clone(),
        StandInConfig {
            faults,
            ..Default::default()
        },
    )
    .await;
    let mut config = config(&stand_in, KEY);
    config.timeout = Duration::from_millis(400);
    let freshdesk = Freshdesk::new(config).expect("client");
    let reader = freshdesk.reader();

    let tickets = reader
        .tickets_updated_since(epoch())
        .await
        .expect("list despite faults");
    assert_eq!(tickets.len(), 150);
    let conversations: Vec<_> = futures::stream::iter(tickets.iter().map(|t| t.id))
        .map(|id| {
            let reader = reader.clone();
            async move { (id, reader.conversations(id).await) }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    for (id, result) in conversations {
        assert_eq!(
            result.expect("conversations despite faults"),
            bundle.tickets[id as usize - 1].conversations
        );
    }
    let log = stand_in.log();
    let count = |status: u16| log.iter().filter(|r| r.status == status).count();
    assert!(count(500) >= 3, "5xx were injected: {}", count(500));
    assert!(count(0) >= 1, "resets were injected");
    let metrics = freshdesk.metrics();
    println!(
        "fault run: {} requests, {} x 500, {} resets, {} timeouts/resets seen by client, {} ok",
        log.len(),
        count(500),
        count(0),
        metrics.calls_with_status(0),
        metrics.calls_with_status(200)
    );
}

#[tokio::test]
async fn a_rejected_key_is_unauthorized_with_the_fix_and_not_retried() {
    let stand_in = StandIn::start(synthetic_bundle(1, 0, 0..0), StandInConfig::default()).await;
    let freshdesk = Freshdesk::new(config(&stand_in, "wrong-key")).expect("client");
    let error = freshdesk.reader().me().await.expect_err("bad key");
    match &error {
        HelpdeskError::Unauthorized(message) => {
            assert!(
                message.contains("check DESKDRAFT_FRESHDESK_API_KEY: the key was rejected"),
                "{message}"
            );
            assert!(message.contains("invalid_credentials"), "{message}");
            assert!(
                !message.contains("wrong-key"),
                "the key never appears in messages"
            );
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert_eq!(stand_in.log().len(), 1, "401 is permanent: no retry");

    let good = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    let me = good.reader().me().await.expect("me");
    assert_eq!(
        me.contact.and_then(|c| c.name).as_deref(),
        Some("Stand-in Agent")
    );
    let missing = good
        .reader()
        .ticket(424_242)
        .await
        .expect_err("missing ticket");
    assert!(matches!(missing, HelpdeskError::NotFound(_)), "{missing:?}");
}

#[tokio::test]
async fn malformed_json_is_reported_as_malformed_after_retries() {
    let faults = Faults {
        malformed_rate: 1.0,
        ..Default::default()
    };
    let stand_in = StandIn::start(
        synthetic_bundle(2, 1, 0..0),
        StandInConfig {
            faults,
            ..Default::default()
        },
    )
    .await;
    let freshdesk = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    let error = freshdesk.reader().ticket(1).await.expect_err("malformed");
    assert!(matches!(error, HelpdeskError::Malformed(_)), "{error:?}");
    assert_eq!(stand_in.log().len(), fast_retry().max_attempts as usize);

    stand_in.set_faults(Faults {
        malformed_rate: 0.3,
        seed: 11,
        ..Default::default()
    });
    let ticket = freshdesk
        .reader()
        .ticket_with_conversations(2)
        .await
        .expect("recovers");
    assert_eq!(ticket.conversations.len(), 1);
}

mod notes_budget_and_articles;
mod seams;
