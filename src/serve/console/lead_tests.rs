//! Tests of the module next to this file.

use super::*;

#[test]
fn knowledge_gaps_of_any_shape_are_shown_and_absent_ones_said() {
    let summary = serde_json::json!({
        "knowledge_gaps": {"tickets_without_good_source": 12, "topics": [
            {"topic": "invoice <b>", "tickets": 5, "example_ticket_ids": [1, 2]},
            {"topic": "pairing", "tickets": 3, "example_ticket_ids": [7]}
        ]}
    });
    let html = knowledge_gaps(Some(&summary), true);
    assert!(html.contains("tickets without good source"), "{html}");
    assert!(html.contains("<td>invoice &lt;b&gt;</td>"), "{html}");
    assert!(html.contains("<td>1, 2</td>"), "{html}");
    let list = knowledge_gaps(
        Some(&serde_json::json!({"gaps": ["billing", "returns"]})),
        true,
    );
    assert!(list.contains("<li>billing</li>"), "{list}");
    assert!(
        knowledge_gaps(Some(&serde_json::json!({})), true).contains("no knowledge-gap section")
    );
    assert!(knowledge_gaps(None, false).contains("No simulation report is configured"));
}

#[test]
fn with_live_outcomes_the_lead_sees_charts_per_day_product_and_agent_the_report_and_live_gaps() {
    use crate::queue::{DraftOutcome, Outcome, ReplyOrigin};
    use crate::simulate::gaps::{GapSource, KnowledgeGap};
    use chrono::TimeZone;
    let outcome = |product: &str, agent: i64, day: u32, distance: f64| DraftOutcome {
        draft_id: format!("{product}-{agent}-{day}-{distance}"),
        ticket_id: 1,
        reply_id: 2,
        outcome: Outcome::of_distance(distance),
        edit_distance: distance,
        links_cited: 1,
        links_kept: 1,
        agent_id: Some(agent),
        via: ReplyOrigin::Typed,
        seconds_to_reply: 300.0,
        product: Some(product.into()),
        confidence: 0.8,
        replied_at: chrono::Utc
            .with_ymd_and_hms(2026, 11, day, 10, 0, 0)
            .unwrap(),
    };
    let outcomes = [
        outcome("1", 41, 28, 0.0),
        outcome("1", 42, 29, 0.3),
        outcome("2", 42, 30, 0.95),
    ];
    let live = live_quality(&outcomes, 0.9);
    let names: HashMap<String, String> = [("1".to_string(), "Brew <One>".to_string())].into();
    let summary = serde_json::json!({
        "replayed_tickets": 150, "drafted_tickets": 120, "confidence_threshold": 0.35,
        "timings": {"started_at": "2026-11-30T08:00:00Z"}
    });
    let gaps = KnowledgeGaps {
        tickets: 3,
        unlisted_tickets: 1,
        topics: vec![KnowledgeGap {
            topic: "descaling · kettle".into(),
            product: Some("1".into()),
            product_name: Some("Brew <One>".into()),
            volume: 2,
            without_draft: 1,
            poor_draft: 1,
            example_ticket_ids: vec![90001, 90004],
            representative_question: "how do I descale it".into(),
            closest_sources: vec![GapSource {
                key: "article:3".into(),
                title: "Cleaning".into(),
                url: Some("https://acme.freshdesk.com/support/solutions/articles/3".into()),
                cited_by: 2,
            }],
            suggested_article_title: "Brew <One>: Descaling Kettle, what to do".into(),
        }],
    };
    let live_gaps = (gaps, 40);
    let html = lead_main(&LeadInputs {
        live: &live,
        feedback: &FeedbackStats::default(),
        summary: Some(&summary),
        report_configured: true,
        report_exists: true,
        names: &names,
        agent_names: &[("41".to_string(), "Ana Lima".to_string())].into(),
        threshold: 0.35,
        live_gaps: Some(&live_gaps),
    });
    // Over time: one chart with a day per reply day.
    assert!(html.contains("id=\"chart-daily\"><svg"), "{html}");
    for day in ["2026-11-28", "2026-11-29", "2026-11-30"] {
        assert!(html.contains(day), "day {day}");
    }
    // Per product by name (escaped), per agent, each with its numbers.
    assert!(html.contains("Per product") && html.contains("Brew &lt;One&gt;"));
    assert!(html.contains("product 2"), "an unnamed product says its id");
    assert!(
        html.contains("Ana Lima") && html.contains("agent 42"),
        "agents by name where Freshdesk names them"
    );
    // The latest simulation's report is linked.
    assert!(html.contains("<a href=\"/reports/latest\" id=\"report-link\">"));
    assert!(html.contains("150 tickets replayed, 120 drafted at threshold 0.35"));
    // Live gaps before the simulation's, with what to write next.
    let live_at = html.find("id=\"live-knowledge-gaps\"").expect("live gaps");
    let simulated_at = html.find("id=\"knowledge-gaps\"").expect("simulation gaps");
    assert!(live_at < simulated_at);
    assert!(html.contains("3 of the customer messages of the newest 40 drafts"));
    assert!(html.contains("1 of them fit no topic"));
    assert!(html.contains("<td>descaling · kettle</td><td>Brew &lt;One&gt;</td><td>2 (1 without a draft)</td><td>#90001, #90004</td>"), "{html}");
    assert!(html.contains(
        "Suggested article: <strong>Brew &lt;One&gt;: Descaling Kettle, what to do</strong>"
    ));
    assert!(html.contains("target=\"_blank\" rel=\"noopener\">Cleaning</a> (2)"));
}

#[test]
fn live_gaps_say_when_there_are_none_or_the_queue_is_unreadable() {
    let none = live_knowledge_gaps(Some(&(KnowledgeGaps::default(), 12)));
    assert!(none.contains("0 of the customer messages of the newest 12 drafts"));
    assert!(none.contains("No topic has two or more of them yet."));
    assert!(live_knowledge_gaps(None).contains("could not be read"));
}
