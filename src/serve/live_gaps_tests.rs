//! Tests of the module next to this file.

use super::*;
use crate::draft::thread::ThreadTurn;
use crate::queue::{ReplyOrigin, TicketContext};
use chrono::{TimeZone, Utc};

fn draft(id: &str, ticket_id: i64, kind: &str, subject: &str, question: &str) -> GapDraft {
    let at = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    GapDraft {
        id: id.into(),
        ticket_id,
        message_id: 0,
        status: if kind == "abstained" {
            DraftStatus::Abstained
        } else {
            DraftStatus::Pending
        },
        kind: kind.into(),
        product: Some("7".into()),
        revision: 0,
        created_at: at,
        sources: serde_json::json!([
            {"key": "article:12", "title": "Resetting a password", "url": null}
        ]),
        ticket: Some(TicketContext {
            subject: subject.into(),
            requester_id: None,
            priority: None,
            status: 2,
            product_id: Some(7),
            created_at: at,
            thread: vec![ThreadTurn {
                from_customer: true,
                text: question.into(),
                at,
            }],
        }),
    }
}

fn outcome(draft_id: &str, outcome: Outcome) -> DraftOutcome {
    DraftOutcome {
        draft_id: draft_id.into(),
        ticket_id: 0,
        reply_id: 1,
        outcome,
        edit_distance: 0.9,
        links_cited: 0,
        links_kept: 0,
        agent_id: Some(5),
        via: ReplyOrigin::Typed,
        seconds_to_reply: 60.0,
        product: Some("7".into()),
        confidence: 0.5,
        replied_at: Utc::now(),
    }
}

#[test]
fn abstentions_not_useful_drafts_and_unused_ones_are_grouped_into_named_topics() {
    let mut rejected = draft(
        "d6",
        6,
        "retrieval_only",
        "Refund for a double charge",
        "I was charged twice for my subscription this month, please refund one payment",
    );
    rejected.status = DraftStatus::Rejected;
    let drafts = vec![
        draft(
            "d1",
            1,
            "abstained",
            "Pairing the headset",
            "my bluetooth headset will not pair with the dock after the firmware update",
        ),
        draft(
            "d2",
            2,
            "retrieval_only",
            "Headset pairing fails",
            "the headset firmware update broke bluetooth pairing with my dock",
        ),
        draft(
            "d3",
            3,
            "retrieval_only",
            "Dock pairing",
            "after updating firmware the dock and headset bluetooth pairing fails",
        ),
        // A good draft: it weighs the terms but is no gap.
        draft(
            "d4",
            4,
            "retrieval_only",
            "Password reset",
            "how do I reset my password, the reset link expired",
        ),
        draft(
            "d5",
            5,
            "retrieval_only",
            "Charged twice",
            "you charged my card twice for the subscription, I want a refund of one payment",
        ),
        rejected,
        // A draft kept without its ticket cannot be placed in a topic.
        GapDraft {
            ticket: None,
            ..draft("d7", 7, "abstained", "", "")
        },
    ];
    let not_useful: HashSet<String> = ["d2".to_string()].into();
    let outcomes = vec![
        outcome("d3", Outcome::NotUsed),
        outcome("d4", Outcome::AsDrafted),
        outcome("d5", Outcome::Rewritten),
    ];
    let names = |id: &str| (id == "7").then(|| "Headsets".to_string());
    let tickets = live_gap_tickets(&drafts, &not_useful, &outcomes, names);
    assert_eq!(tickets.len(), 6, "one per drafted message with its ticket");
    let lacking: Vec<i64> = tickets
        .iter()
        .filter(|t| t.lacks_good_draft)
        .map(|t| t.ticket_id)
        .collect();
    assert_eq!(lacking, vec![1, 2, 3, 5, 6]);
    assert_eq!(
        tickets.iter().filter(|t| t.without_draft).count(),
        1,
        "only the abstention had no draft at all"
    );

    let gaps = live_knowledge_gaps(&drafts, &not_useful, &outcomes, names);
    assert_eq!(gaps.tickets, 5);
    let pairing = gaps
        .topics
        .iter()
        .find(|t| t.example_ticket_ids.contains(&1))
        .expect("a pairing topic");
    assert_eq!(pairing.example_ticket_ids, vec![1, 2, 3]);
    assert_eq!((pairing.without_draft, pairing.poor_draft), (1, 2));
    assert!(
        pairing.topic.contains("pairing") || pairing.topic.contains("headset"),
        "{}",
        pairing.topic
    );
    assert_eq!(pairing.product_name.as_deref(), Some("Headsets"));
    assert!(pairing.suggested_article_title.starts_with("Headsets: "));
    assert_eq!(pairing.closest_sources[0].key, "article:12");
    assert_eq!(pairing.closest_sources[0].cited_by, 3);
    let refunds = gaps
        .topics
        .iter()
        .find(|t| t.example_ticket_ids.contains(&5))
        .expect("a refund topic");
    assert_eq!(refunds.example_ticket_ids, vec![5, 6]);
}

#[test]
fn revisions_of_one_message_count_once_and_the_newest_decides_whether_it_abstained() {
    let first = draft("r0", 9, "abstained", "Late parcel", "my parcel is late");
    let mut second = draft(
        "r1",
        9,
        "retrieval_only",
        "Late parcel",
        "my parcel is late",
    );
    second.revision = 1;
    let tickets = live_gap_tickets(&[first, second], &HashSet::new(), &[], |_| None);
    assert_eq!(tickets.len(), 1);
    assert!(!tickets[0].without_draft, "the redraft gave a draft");
    assert!(!tickets[0].lacks_good_draft);
}
