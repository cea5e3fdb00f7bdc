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
