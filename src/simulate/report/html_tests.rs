//! Tests of the module next to this file.

use super::*;
use crate::simulate::model::{
    ArticleAgreement, LatencyStats, ProductBreakdown, ReplayIssues, Timings,
};
use crate::simulate::report::tests::ticket;

fn populated() -> (SimulationSummary, Vec<TicketResult>) {
    let tickets: Vec<_> = (1..=20)
        .map(|i| {
            let v = [Verdict::Good, Verdict::Poor, Verdict::NoDraft][i as usize % 3];
            ticket(i, v, Some(0.5))
        })
        .collect();
    let summary = SimulationSummary {
        replayed_tickets: 20,
        drafted_tickets: 14,
        abstained_tickets: 6,
        confidence_threshold: 0.4,
        risk_coverage: (0..=10)
            .map(|k| CoveragePoint {
                threshold: f64::from(k) / 10.0,
                coverage: 1.0 - f64::from(k) / 10.0,
                precision: (k < 10).then_some(0.5 + f64::from(k) / 25.0),
                ..Default::default()
            })
            .collect(),
        per_product: vec![ProductBreakdown {
            product: "p1".into(),
            product_name: Some("<img src=x onerror=alert(1)>".into()),
            tickets: 20,
            article_agreement: ArticleAgreement {
                eligible_tickets: 5,
                hit_at_1: 0.4,
                ..Default::default()
            },
            ..Default::default()
        }],
        issues: ReplayIssues {
            ids_not_found: (1..=150).collect(),
            ..Default::default()
        },
        timings: Timings {
            total_latency: LatencyStats {
                p50: 300.0,
                p95: f64::NAN,
                histogram_bounds: vec![100.0, 500.0, 1000.0],
                histogram_counts: vec![5, 10, 5],
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    (summary, tickets)
}

#[test]
fn ticket_text_is_always_escaped() {
    let (mut summary, tickets) = populated();
    summary.run.notes = vec!["<script>alert(2)</script>".into()];
    summary.run.bundle_name = Some("</title><script>".into());
    let page = render(&summary, &tickets, 3);
    assert!(
        !page.contains("<script"),
        "a <script> from the data reached the page"
    );
    assert!(!page.contains("<img"));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    // `javascript:` source URLs are shown as text, never linked.
    assert!(!page.contains("href=\"javascript"));
}

#[test]
fn page_is_self_contained() {
    let (summary, tickets) = populated();
    let page = render(&summary, &tickets, 3);
    for forbidden in [
        "<script", "<link", "@import", "url(", "<iframe", "<img", "<object", "src=\"",
    ] {
        assert!(!page.contains(forbidden), "found {forbidden}");
    }
    assert!(page.contains("Content-Security-Policy"));
}

#[test]
fn charts_and_sections_are_present() {
    let (summary, tickets) = populated();
    let page = render(&summary, &tickets, 3);
    assert_eq!(
        page.matches("<svg").count(),
        3,
        "risk-coverage, per-product, latency"
    );
    assert_eq!(
        page.matches("<title id=").count(),
        3,
        "every chart has an accessible title"
    );
    assert!(page.contains("At threshold 0.40"));
    assert!(page.contains("… and 50 more"));
    assert_eq!(page.matches("<article").count(), 15);
    assert!(!page.contains("NaN") && !page.contains("inf"));
}

#[test]
fn empty_summary_renders_and_says_so() {
    let summary = SimulationSummary {
        issues: ReplayIssues {
            empty_selection: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let page = render(&summary, &[], 0);
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    assert!(page.contains("No tickets were replayed"));
    assert!(page.contains("Unnamed bundle"));
    assert!(!page.contains("<svg") && !page.contains("NaN"));
}

#[test]
fn rendering_is_deterministic() {
    let (summary, tickets) = populated();
    assert_eq!(render(&summary, &tickets, 9), render(&summary, &tickets, 9));
}

#[test]
fn only_web_urls_become_links() {
    assert!(
        link(Some("https://x.test/a?b=1&c=\"2\""), "t").contains(
            "href=\"https://x.test/a?b=1&amp;c=&quot;2&quot;\" rel=\"noopener noreferrer\""
        )
    );
    for bad in [
        "javascript:alert(1)",
        "data:text/html,x",
        "//evil.test",
        "https://a b",
    ] {
        assert_eq!(link(Some(bad), "<t>"), "&lt;t&gt;", "{bad}");
    }
    assert_eq!(pct(f64::NAN), "n/a");
    assert_eq!(millis(1500.0), "1.5 s");
}
