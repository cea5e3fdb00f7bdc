//! The draft-quality sections of `report.html`: another customer's specifics in drafts, and the
//! knowledge gaps (topics of tickets that got no good draft, with what to write next).

use std::fmt::Write as _;

use super::html::pct;
use super::svg::esc;

use crate::simulate::model::SimulationSummary;

pub(super) fn specifics(page: &mut String, summary: &SimulationSummary) {
    let s = &summary.specifics;
    page.push_str("<section><h2>Does a draft tell one customer about another's order?</h2>");
    if s.drafts == 0 {
        page.push_str(
            "<p class=\"empty\">No draft was written, so there is nothing to check.</p></section>",
        );
        return;
    }
    let _ = write!(
        page,
        "<p class=\"lead\"><strong>{} of drafts</strong> ({} of {}) contain a detail from a past \
         case's answer (order or tracking number, amount, date, name, email, phone, account id, \
         address) that the new ticket does not contain.</p>\
         <p>The drafter replaced {} such detail(s) by placeholders for the agent to fill \
         (<code>[order number]</code>, <code>[amount]</code>...) in {} of drafts ({} of {}).</p></section>",
        pct(s.foreign_specifics_share),
        s.drafts_with_foreign_specifics,
        s.drafts,
        s.details_replaced,
        pct(s.changed_share),
        s.drafts_changed_by_scrubbing,
        s.drafts,
    );
}

pub(super) fn knowledge_gaps(page: &mut String, summary: &SimulationSummary) {
    let gaps = &summary.knowledge_gaps;
    page.push_str("<section><h2>Knowledge gaps: what to write next</h2>");
    if gaps.topics.is_empty() {
        let _ = write!(
            page,
            "<p class=\"empty\">No topic of two or more tickets lacked a good draft ({} ticket(s) \
             without one).</p></section>",
            gaps.tickets
        );
        return;
    }
    let _ = write!(
        page,
        "<p class=\"lead\">{} tickets got no good draft (none, one below the threshold, or a \
         wrong article). These topics group {} of them; {} more are one-offs or smaller topics \
         (all in <code>summary.json</code>, <code>knowledge_gaps</code>).</p>\
         <table><thead><tr><th>Topic</th><th>Product</th><th>Tickets</th><th>Examples</th>\
         <th>Closest existing sources</th><th>Suggested article</th></tr></thead><tbody>",
        gaps.tickets,
        gaps.tickets - gaps.unlisted_tickets,
        gaps.unlisted_tickets
    );
    for gap in &gaps.topics {
        let sources: Vec<String> = gap
            .closest_sources
            .iter()
            .map(|s| {
                format!(
                    "{} ({}×)",
                    super::html::link(s.url.as_deref(), &format!("{}: {}", s.key, s.title)),
                    s.cited_by
                )
            })
            .collect();
        let examples: Vec<String> = gap.example_ticket_ids.iter().map(i64::to_string).collect();
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{} ({} no draft, {} poor)</td><td>{}</td><td>{}</td>\
             <td><strong>{}</strong><br><small>{}</small></td></tr>",
            esc(&gap.topic),
            esc(gap
                .product_name
                .as_deref()
                .or(gap.product.as_deref())
                .unwrap_or("-")),
            gap.volume,
            gap.without_draft,
            gap.poor_draft,
            esc(&examples.join(", ")),
            sources.join("<br>"),
            esc(&gap.suggested_article_title),
            esc(&gap.representative_question),
        );
    }
    page.push_str("</tbody></table></section>");
}
