use super::*;
use crate::simulate::model::ReportSource;
use crate::simulate::report::tests::ticket;

fn replayed(id: i64, product: &str, text: &str, verdict: Verdict, source: &str) -> TicketResult {
    let mut t = ticket(id, verdict, Some(0.5));
    t.product = Some(product.into());
    t.product_name = Some(format!("Product {product}"));
    t.customer_text = text.into();
    t.confidence = if verdict == Verdict::NoDraft {
        0.1
    } else {
        0.9
    };
    t.sources = vec![ReportSource {
        key: source.into(),
        title: format!("Title of {source}"),
        url: None,
        created_at: t.created_at,
        age_days: None,
        similarity: 0.5,
    }];
    t
}

#[test]
fn tickets_without_a_good_draft_are_grouped_by_topic_with_what_to_write() {
    let results = vec![
        replayed(
            1,
            "p1",
            "@acme my account was hacked, how do I recover it",
            Verdict::NoDraft,
            "case:9",
        ),
        replayed(
            2,
            "p1",
            "account hacked! someone changed my password, recover please",
            Verdict::Poor,
            "case:9",
        ),
        replayed(
            3,
            "p1",
            "hacked account, cannot recover access https://t.co/x",
            Verdict::NoDraft,
            "article:4",
        ),
        replayed(
            4,
            "p1",
            "where is my refund for the blender",
            Verdict::Good,
            "article:5",
        ),
        replayed(
            5,
            "p1",
            "my parcel tracking shows delivered but no parcel",
            Verdict::NoDraft,
            "article:6",
        ),
        replayed(
            6,
            "p1",
            "tracking says parcel delivered, parcel missing",
            Verdict::Poor,
            "article:6",
        ),
        replayed(
            7,
            "p2",
            "hacked account recover",
            Verdict::NoDraft,
            "case:10",
        ),
        replayed(
            8,
            "p1",
            "the app crashes when I open settings",
            Verdict::NoDraft,
            "article:7",
        ),
    ];
    let gaps = knowledge_gaps(&results, 0.35);
    // Ticket 4 got a good draft; 7 tickets did not.
    assert_eq!(gaps.tickets, 7);
    assert_eq!(gaps.topics.len(), 2, "{gaps:#?}");
    let hacked = &gaps.topics[0];
    assert_eq!(hacked.volume, 3);
    assert_eq!(hacked.example_ticket_ids, vec![1, 2, 3]);
    assert_eq!((hacked.without_draft, hacked.poor_draft), (2, 1));
    assert_eq!(hacked.product.as_deref(), Some("p1"));
    for term in ["hacked", "recover"] {
        assert!(hacked.topic.contains(term), "{}", hacked.topic);
    }
    assert_eq!(hacked.closest_sources[0].key, "case:9");
    assert_eq!(hacked.closest_sources[0].cited_by, 2);
    assert!(hacked.suggested_article_title.starts_with("Product p1: "));
    assert!(!hacked.representative_question.contains('@'));
    let parcel = &gaps.topics[1];
    assert_eq!(parcel.example_ticket_ids, vec![5, 6]);
    assert!(parcel.topic.contains("parcel"), "{}", parcel.topic);
    // Another product's ticket and a lone topic are counted, not listed.
    assert_eq!(gaps.unlisted_tickets, 2);
}

#[test]
fn no_gap_when_every_draft_is_good() {
    let results = vec![replayed(
        1,
        "p1",
        "refund please",
        Verdict::Good,
        "article:5",
    )];
    assert_eq!(
        knowledge_gaps(&results, 0.35),
        KnowledgeGaps {
            tickets: 0,
            topics: vec![],
            unlisted_tickets: 0
        }
    );
}
