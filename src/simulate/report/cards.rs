//! Side-by-side ticket cards: customer message | real reply | draft, for the best, worst and a
//! seeded random sample of tickets.
//!
//! Best and worst show the extremes; the random sample guards against judging the system only
//! by its extremes. The sample is drawn from a `StdRng` seeded with `card_seed`, so the same run
//! always shows the same cards.

use std::cmp::Ordering;
use std::fmt::Write as _;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::html::{link, millis, num};
use super::svg::esc;
use crate::simulate::model::{TicketResult, Verdict};

/// Cards per group (best, worst, random).
const PER_GROUP: usize = 5;
/// Long texts are cut here so a single huge ticket cannot bloat the page.
const MAX_TEXT_CHARS: usize = 6000;

/// Ordering rule, best first:
/// 1. verdict: Good, then NoDraft, then Poor. A poor draft is worse than none, because an agent
///    may send it; so "worst" surfaces confidently wrong drafts rather than mere abstentions.
/// 2. rank of the first cited reference article: lower is better, not cited is worst.
/// 3. cosine to the real reply: higher is better, none is worst (`total_cmp`: NaN-safe).
/// 4. ticket id, so ties never depend on input order.
fn best_first(a: &TicketResult, b: &TicketResult) -> Ordering {
    let verdict = |t: &TicketResult| match t.verdict {
        Verdict::Good => 0,
        Verdict::NoDraft => 1,
        Verdict::Poor => 2,
    };
    let rank = |t: &TicketResult| t.first_correct_rank.unwrap_or(usize::MAX);
    let cosine = |t: &TicketResult| {
        t.cosine
            .filter(|c| c.is_finite())
            .unwrap_or(f32::NEG_INFINITY)
    };
    verdict(a)
        .cmp(&verdict(b))
        .then(rank(a).cmp(&rank(b)))
        .then(cosine(b).total_cmp(&cosine(a)))
        .then(a.ticket_id.cmp(&b.ticket_id))
}

/// The three groups as indices into `tickets`; no ticket appears in two groups.
fn select(tickets: &[TicketResult], seed: u64) -> [Vec<usize>; 3] {
    let mut order: Vec<usize> = (0..tickets.len()).collect();
    order.sort_by(|&a, &b| best_first(&tickets[a], &tickets[b]));
    let best: Vec<usize> = order.iter().take(PER_GROUP).copied().collect();
    let worst_count = PER_GROUP.min(order.len() - best.len());
    let worst: Vec<usize> = order.iter().rev().take(worst_count).copied().collect();
    // Shuffle the middle in ticket-id order, so the sample depends only on the seed and the set
    // of tickets, not on the order the replay produced them in.
    let mut rest: Vec<usize> = order[best.len()..order.len() - worst_count].to_vec();
    rest.sort_by_key(|&i| tickets[i].ticket_id);
    rest.shuffle(&mut StdRng::seed_from_u64(seed));
    rest.truncate(PER_GROUP);
    [best, worst, rest]
}

/// Appends the cards section to `page`.
pub fn render(page: &mut String, tickets: &[TicketResult], seed: u64) {
    page.push_str("<section><h2>Example tickets</h2>");
    if tickets.is_empty() {
        page.push_str("<p class=\"empty\">No ticket was replayed, so there are no examples to show.</p></section>");
        return;
    }
    let _ = write!(
        page,
        "<p class=\"note\">Each card shows what the customer wrote, what the agent really replied, \
         and the draft deskdraft would have offered. Best and worst are ranked by verdict (good, \
         no draft, poor), then by the rank of the right article, then by similarity to the real \
         reply. The random sample uses seed {seed}.</p>"
    );
    let [best, worst, random] = select(tickets, seed);
    for (title, group) in [
        ("Best drafts", best),
        ("Worst drafts", worst),
        ("Random sample", random),
    ] {
        let _ = write!(page, "<h3>{title}</h3>");
        if group.is_empty() {
            page.push_str("<p class=\"empty\">Too few tickets for this group (each ticket is shown once).</p>");
        }
        for i in group {
            card(page, &tickets[i]);
        }
    }
    page.push_str("</section>");
}

fn verdict_badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Good => "<span class=\"badge good\">Good</span>",
        Verdict::Poor => "<span class=\"badge poor\">Poor</span>",
        Verdict::NoDraft => "<span class=\"badge nodraft\">No draft</span>",
    }
}

fn card(page: &mut String, t: &TicketResult) {
    let class = match t.verdict {
        Verdict::Good => "good",
        Verdict::Poor => "poor",
        Verdict::NoDraft => "nodraft",
    };
    let product = t
        .product_name
        .as_deref()
        .or(t.product.as_deref())
        .unwrap_or("no product");
    let _ = write!(
        page,
        "<article class=\"card {class}\"><header><h4>Ticket #{} {}</h4><p class=\"meta\">{} · {} · \
         {} · confidence {}</p>",
        t.ticket_id,
        verdict_badge(t.verdict),
        esc(product),
        t.created_at.format("%Y-%m-%d"),
        esc(&t.kind),
        num(f64::from(t.confidence))
    );
    let article = if t.reference_article_ids.is_empty() {
        "no reference article".to_string()
    } else if let Some(rank) = t.first_correct_rank {
        format!("right article cited at rank {rank}")
    } else {
        "right article not cited".to_string()
    };
    let metric = |v: Option<f32>| v.map_or_else(|| "n/a".into(), |v| num(f64::from(v)));
    let language = match (&t.customer_language, &t.draft_language, t.language_match) {
        (Some(c), Some(d), Some(m)) => format!("{c} → {d} {}", if m { "✓" } else { "✗" }),
        (Some(c), _, _) => format!("{c} → ?"),
        _ => "unknown".to_string(),
    };
    let _ = write!(
        page,
        "<ul class=\"metrics\"><li>{}</li><li>cosine {}</li><li>ROUGE-L {}</li><li>language {}</li>\
         <li>latency {}</li></ul>",
        esc(&article),
        metric(t.cosine),
        metric(t.rouge_l_f1),
        esc(&language),
        millis(t.retrieval_millis + t.generation_millis)
    );
    if !t.flags.is_empty() {
        page.push_str("<p class=\"flags\">");
        for flag in &t.flags {
            let _ = write!(page, "<span class=\"chip\">{}</span>", esc(flag));
        }
        page.push_str("</p>");
    }
    let draft_title = if t.verdict == Verdict::NoDraft {
        "Abstained"
    } else {
        "Draft"
    };
    let _ = write!(
        page,
        "</header><div class=\"cols\"><section><h5>Customer message</h5><div class=\"text\">{}</div>\
         </section><section><h5>Real agent reply</h5><div class=\"text\">{}</div></section>\
         <section class=\"draft\"><h5>{draft_title}</h5><div class=\"text\">{}</div></section></div>",
        text(&t.customer_text),
        text(&t.reference_reply),
        text(&t.draft_text)
    );
    if t.sources.is_empty() {
        page.push_str("<p class=\"sources empty\">No sources used.</p>");
    } else {
        page.push_str("<div class=\"sources\"><h5>Sources</h5><ol>");
        for s in &t.sources {
            let age = s
                .age_days
                .map_or_else(|| "undated".to_string(), |d| format!("{d} days old"));
            let title = if s.title.trim().is_empty() {
                &s.key
            } else {
                &s.title
            };
            let _ = write!(
                page,
                "<li>{} <span class=\"muted\">· {} · similarity {}</span></li>",
                link(s.url.as_deref(), title),
                esc(&age),
                num(f64::from(s.similarity))
            );
        }
        page.push_str("</ol></div>");
    }
    page.push_str("</article>");
}

/// Escaped ticket text, cut at [`MAX_TEXT_CHARS`]; newlines survive via `white-space: pre-wrap`.
fn text(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "<span class=\"muted\">(empty)</span>".into();
    }
    match body.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!(
            "{}<span class=\"muted\"> … (cut: {} more characters)</span>",
            esc(&body[..cut]),
            body[cut..].chars().count()
        ),
        None => esc(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::report::tests::ticket;

    fn sample(n: i64) -> Vec<TicketResult> {
        (1..=n)
            .map(|i| {
                let v = [Verdict::Good, Verdict::Poor, Verdict::NoDraft][i as usize % 3];
                ticket(i, v, Some((i as f32 * 0.37) % 1.0))
            })
            .collect()
    }

    #[test]
    fn groups_are_disjoint_ordered_and_seeded() {
        let tickets = sample(40);
        let [best, worst, random] = select(&tickets, 7);
        assert_eq!((best.len(), worst.len(), random.len()), (5, 5, 5));
        assert!(best.iter().all(|&i| tickets[i].verdict == Verdict::Good));
        assert!(worst.iter().all(|&i| tickets[i].verdict == Verdict::Poor));
        let mut all: Vec<usize> = best.iter().chain(&worst).chain(&random).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 15, "no ticket in two groups");
        assert_eq!(select(&tickets, 7), select(&tickets, 7));
        assert_ne!(select(&tickets, 7)[2], select(&tickets, 8)[2]);
        // Input order does not change the sample.
        let mut reversed = tickets.clone();
        reversed.reverse();
        let ids =
            |t: &[TicketResult], g: &[usize]| g.iter().map(|&i| t[i].ticket_id).collect::<Vec<_>>();
        assert_eq!(
            ids(&tickets, &select(&tickets, 7)[2]),
            ids(&reversed, &select(&reversed, 7)[2])
        );
    }

    #[test]
    fn few_tickets_fill_best_first() {
        let tickets = sample(3);
        let [best, worst, random] = select(&tickets, 1);
        assert_eq!((best.len(), worst.len(), random.len()), (3, 0, 0));
        let mut page = String::new();
        render(&mut page, &tickets, 1);
        assert_eq!(page.matches("<article").count(), 3);
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_TEXT_CHARS + 10);
        let out = text(&long);
        assert!(out.contains("cut: 10 more characters"));
        assert_eq!(text("  "), "<span class=\"muted\">(empty)</span>");
    }
}
