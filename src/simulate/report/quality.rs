//! The draft-quality sections of `report.html`: another customer's specifics in drafts, and the
//! knowledge gaps (topics of tickets that got no good draft, with what to write next).

use std::fmt::Write as _;

use super::html::pct;

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
