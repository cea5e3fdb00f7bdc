//! The review console test's set-up: the demo account with new tickets and product names, a
//! simulation folder, agents' replies in Freshdesk, and the browser helpers (viewport, text,
//! screenshots, axe-core).

use std::path::PathBuf;
use std::time::Duration;

use ::deskdraft::domain::Ticket;
use chrono::Utc;
use serde_json::{Value, json};

use crate::deskdraft::{self as harness, FIRST_NEW_TICKET, KEY, REVIEW_TOKEN, repo};
use crate::support::cdp::Browser;
use crate::support::freshdesk_stand_in::{Bundle, StandIn, StandInConfig};

pub fn say(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

pub fn screenshots() -> PathBuf {
    let dir = repo().join("target/review-console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The demo account, its product names, and six new open tickets: three of product 1, two of
/// product 2, one of product 3 (each a copy of a past customer's first message).
pub async fn account() -> (StandIn, Vec<Ticket>) {
    let history: Vec<Ticket> =
        std::fs::read_to_string(repo().join("knowledge/demo-bundle/tickets.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("knowledge/demo-bundle/meta.json")).unwrap(),
    )
    .unwrap();
    let products: Vec<(i64, String)> = meta["products"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, name)| (id.parse().unwrap(), name.as_str().unwrap().to_string()))
        .collect();
    let now = Utc::now();
    let mut new = Vec::new();
    for (product, count) in [(1, 3), (2, 2), (3, 1)] {
        for past in history
            .iter()
            .filter(|t| t.product_id == Some(product) && !t.spam && !t.deleted && t.status >= 4)
            .take(count)
        {
            new.push(Ticket {
                id: FIRST_NEW_TICKET + new.len() as i64,
                status: 2,
                priority: Some(3),
                created_at: now - chrono::Duration::hours(2),
                updated_at: now,
                conversations: Vec::new(),
                ..past.clone()
            });
        }
    }
    let mut tickets = history;
    tickets.extend(new.iter().cloned());
    let stand_in = StandIn::start(
        Bundle {
            tickets,
            ..Bundle::default()
        },
        StandInConfig {
            api_key: KEY.into(),
            window: Duration::from_secs(1),
            products,
            ..StandInConfig::default()
        },
    )
    .await;
    (stand_in, new)
}

/// A simulation folder as `deskdraft simulate --out` leaves it, with a knowledge-gap section.
pub fn simulation_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let curve: Vec<Value> = (0..=20)
        .map(|step| {
            let threshold = step as f64 / 20.0;
            let drafted = 100 - step * 4;
            json!({"threshold": threshold, "coverage": drafted as f64 / 100.0, "drafted_tickets": drafted,
                   "precision": (0.4 + threshold * 0.5).min(1.0)})
        })
        .collect();
    let summary = json!({
        "replayed_tickets": 100, "drafted_tickets": 80, "abstained_tickets": 20,
        "confidence_threshold": 0.35, "risk_coverage": curve,
        "suggested_threshold": {"target_precision": 0.5, "threshold": 0.25, "coverage": 0.8, "precision": 0.525},
        "timings": {"started_at": "2026-11-30T08:00:00Z"},
        "knowledge_gaps": {"tickets_without_good_source": 7, "topics": [
            {"topic": "descaling the Brew One", "tickets": 4, "example_ticket_ids": [11, 12]},
            {"topic": "gift subscriptions", "tickets": 3, "example_ticket_ids": [40]}
        ]}
    });
    std::fs::write(dir.path().join("summary.json"), summary.to_string()).unwrap();
    std::fs::write(
        dir.path().join("report.html"),
        "<!doctype html><html lang=\"en\"><head><title>simulation report</title></head><body><h1>Simulation report</h1></body></html>",
    )
    .unwrap();
    dir
}

pub async fn viewport(browser: &mut Browser, width: u32, height: u32) {
    browser
        .call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
}

pub async fn text(browser: &mut Browser, selector: &str) -> String {
    browser
        .eval(&format!(
            "(document.querySelector({selector:?}) || {{}}).textContent || ''"
        ))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// At `width`, the page needs no horizontal scrolling; screenshot kept as `name`.
pub async fn shot(browser: &mut Browser, width: u32, name: &str) {
    viewport(browser, width, 900).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let overflow = browser
        .eval("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "{name}: {overflow}px of horizontal scrolling at {width}px"
    );
    let png = browser.screenshot(&screenshots().join(name)).await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let shot_width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert!(
        shot_width <= width && shot_width * 10 >= width * 9,
        "{name}: {shot_width}px wide at {width}px"
    );
}

/// axe-core's serious and critical violations on the current page.
pub async fn axe_violations(browser: &mut Browser, axe: &str) -> Vec<Value> {
    browser.eval(&format!("{axe}; true")).await;
    let result = browser
        .eval(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations\
             .filter(v => v.impact === 'serious' || v.impact === 'critical')\
             .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html)})))",
        )
        .await;
    result.as_array().cloned().unwrap_or_default()
}

pub fn axe_source() -> Option<String> {
    let path = repo().join("target/axe-core/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) => {
            say(&format!(
                "skipped: the axe-core checks ({} is missing: run scripts/fetch-axe.sh, which scripts/test.sh calls)",
                path.display()
            ));
            None
        }
    }
}

pub async fn draft_of(server: &harness::Server, id: &str) -> Value {
    server.get(&format!("/api/drafts/{id}"), REVIEW_TOKEN).await
}
