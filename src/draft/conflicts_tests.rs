use chrono::TimeZone;

use super::*;

fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).unwrap()
}

fn source(kind: SourceType, id: i64, text: &str, created_at: DateTime<Utc>) -> RetrievedSource {
    let is_case = kind == SourceType::Case;
    RetrievedSource {
        source_type: kind,
        id,
        title: format!("source {id}"),
        url: None,
        snippet: if is_case { String::new() } else { text.into() },
        score: 1.0,
        similarity: 0.8,
        created_at,
        product: None,
        language: Some("en".into()),
        first_reply: None,
        resolution: is_case.then(|| text.to_string()),
        linked_article_ids: vec![],
        supporting_cases: 0,
        agent_only: false,
        updated_at: None,
    }
}

#[test]
fn an_article_updated_after_a_contradicting_case_is_preferred_and_named() {
    let case = source(
        SourceType::Case,
        42,
        "The refund reaches your card within 10 working days.",
        at(2019, 3, 1),
    );
    let mut article = source(
        SourceType::Article,
        104,
        "Refunds reach your card in 3-5 working days.",
        at(2018, 1, 1),
    );
    article.updated_at = Some(at(2020, 5, 1));
    let flags = conflict_flags(&[&case, &article]);
    assert_eq!(
        flags,
        vec![
            "sources disagree on a time frame: past case 42 says \"10 working days\", article 104 \
             says \"3-5 working days\"; article 104 was updated on 2020-05-01, after past case 42 \
             (2019-03-01): prefer the article"
                .to_string()
        ]
    );
}

#[test]
fn a_case_newer_than_the_article_it_contradicts_marks_the_article_as_possibly_stale() {
    let article = source(
        SourceType::Article,
        7,
        "Standard delivery to Germany takes 2 weeks.",
        at(2018, 1, 1),
    );
    let case = source(
        SourceType::Case,
        9,
        "Standard delivery to Germany now takes 3 days.",
        at(2020, 1, 1),
    );
    let flags = conflict_flags(&[&case, &article]);
    assert_eq!(flags.len(), 1);
    assert!(
        flags[0].ends_with("past case 9 (2020-01-01) is newer than article 7 (last updated 2018-01-01): the article may be out of date"),
        "{}",
        flags[0]
    );
}

#[test]
fn agreeing_or_overlapping_time_frames_are_no_conflict() {
    let case = source(
        SourceType::Case,
        1,
        "Expect it within 5 business days.",
        at(2020, 1, 1),
    );
    let article = source(
        SourceType::Article,
        2,
        "It takes 3 to 5 days.",
        at(2020, 1, 1),
    );
    // 120 hours either way: "a week" style rewordings in hours agree too.
    let other = source(SourceType::Article, 3, "Allow 120 hours.", at(2020, 1, 1));
    assert!(conflict_flags(&[&case, &article, &other]).is_empty());
}

#[test]
fn a_case_quoting_an_old_price_conflicts_but_an_order_amount_does_not() {
    let article = source(
        SourceType::Article,
        1,
        "The Tea Club monthly plan costs €12.99 including delivery.",
        at(2020, 6, 1),
    );
    let stale = source(
        SourceType::Case,
        2,
        "Hi! The Tea Club monthly plan costs 9.99 EUR, delivery included.",
        at(2020, 1, 1),
    );
    let flags = conflict_flags(&[&stale, &article]);
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert!(
        flags[0].starts_with(
            "sources disagree on a price: past case 2 says \"9.99 EUR\", article 1 says \"€12.99\""
        ),
        "{}",
        flags[0]
    );
    // Another customer's payment shares no subject with the plan's price.
    let order = source(
        SourceType::Case,
        3,
        "We have only taken one payment of €19.00 for your order.",
        at(2020, 7, 1),
    );
    assert!(conflict_flags(&[&order, &article]).is_empty());
}

#[test]
fn two_articles_are_not_compared_with_each_other() {
    let refunds = source(
        SourceType::Article,
        1,
        "Card refunds take 5 business days.",
        at(2020, 1, 1),
    );
    let other = source(
        SourceType::Article,
        2,
        "Card refunds take 10 business days.",
        at(2020, 1, 1),
    );
    assert!(conflict_flags(&[&refunds, &other]).is_empty());
}

#[test]
fn events_in_the_past_and_sources_without_claims_are_ignored() {
    let case = source(
        SourceType::Case,
        1,
        "Your order shipped 3 days ago.",
        at(2020, 1, 1),
    );
    let article = source(
        SourceType::Article,
        2,
        "Shipping takes 7 days.",
        at(2020, 1, 1),
    );
    let silent = source(
        SourceType::Article,
        3,
        "Contact us any time.",
        at(2020, 1, 1),
    );
    assert!(conflict_flags(&[&case, &article, &silent]).is_empty());
}

#[test]
fn claims_about_different_things_are_no_conflict() {
    let case = source(
        SourceType::Case,
        1,
        "The reset link expires in 30 minutes.",
        at(2020, 1, 1),
    );
    let article = source(
        SourceType::Article,
        2,
        "Refunds reach your card in 14 days. The reset email arrives within 30 minutes.",
        at(2020, 2, 1),
    );
    let unrelated = source(
        SourceType::Article,
        3,
        "Standard delivery to Germany takes 2 weeks.",
        at(2020, 2, 1),
    );
    // The article's refund time is about something else; its reset time agrees with the case.
    assert!(conflict_flags(&[&case, &article, &unrelated]).is_empty());
}

#[test]
fn a_case_claim_confirmed_by_one_cited_article_is_not_contradicted_by_another() {
    let case = source(
        SourceType::Case,
        1,
        "The link is valid for 60 minutes.",
        at(2020, 1, 1),
    );
    let password = source(
        SourceType::Article,
        2,
        "The link is valid for 60 minutes and can be used once.",
        at(2020, 2, 1),
    );
    let email_change = source(
        SourceType::Article,
        3,
        "The change only takes effect once you click it (the link is valid for 24 hours).",
        at(2020, 3, 1),
    );
    assert!(conflict_flags(&[&case, &password, &email_change]).is_empty());
    // Without the confirming article the two links look alike, and the flag says so.
    assert_eq!(conflict_flags(&[&case, &email_change]).len(), 1);
}

#[test]
fn a_policy_in_words_that_an_updated_article_reverses_is_flagged() {
    let case = source(
        SourceType::Case,
        31,
        "Sorry, gift cards are non-refundable once they have been sent.",
        at(2019, 2, 1),
    );
    let mut article = source(
        SourceType::Article,
        12,
        "Gift cards can be refunded within 14 days of purchase.",
        at(2018, 1, 1),
    );
    article.updated_at = Some(at(2020, 3, 1));
    assert_eq!(
        conflict_flags(&[&case, &article]),
        vec![
            "sources disagree on a policy: past case 31 says \"non-refundable\", article 12 says \
             \"can be refunded\"; article 12 was updated on 2020-03-01, after past case 31 \
             (2019-02-01): prefer the article"
                .to_string()
        ]
    );
}

#[test]
fn policies_are_read_in_their_usual_forms() {
    let read = |text: &str| -> Vec<(String, f64)> {
        policies(text)
            .into_iter()
            .map(|c| (c.currency, c.low))
            .collect()
    };
    assert_eq!(
        read("Tickets are not refundable."),
        [("refund".into(), 0.0)]
    );
    assert_eq!(
        read("Orders can’t be cancelled after dispatch."),
        [("cancel".into(), 0.0)]
    );
    assert_eq!(
        read("You can return it within 30 days."),
        [("return".into(), 1.0)]
    );
    assert_eq!(
        read("Sale items are exchangeable in store."),
        [("exchang".into(), 1.0)]
    );
    assert_eq!(
        read("Licences are transferable."),
        [("transfer".into(), 1.0)]
    );
    assert_eq!(
        read("We cannot transfer licences."),
        [("transfer".into(), 0.0)]
    );
    assert_eq!(read("Final sale: no returns."), [("return".into(), 0.0)]);
    assert!(
        read("Your return label is attached.").is_empty(),
        "no policy stated"
    );
}

#[test]
fn policies_about_different_things_or_agreeing_are_not_flagged() {
    let date = at(2019, 1, 1);
    let case = source(
        SourceType::Case,
        1,
        "Event tickets are non-refundable.",
        date,
    );
    // Another thing refunded: subscriptions, not tickets.
    let other_thing = source(
        SourceType::Article,
        2,
        "Unused subscriptions can be refunded.",
        date,
    );
    assert!(conflict_flags(&[&case, &other_thing]).is_empty());
    // Another policy on the same thing: cancelling, not refunding.
    let other_policy = source(
        SourceType::Article,
        3,
        "Event tickets can be cancelled up to a day before.",
        date,
    );
    assert!(conflict_flags(&[&case, &other_policy]).is_empty());
    // The same policy stated again.
    let agreeing = source(
        SourceType::Article,
        4,
        "Event tickets cannot be refunded.",
        date,
    );
    assert!(conflict_flags(&[&case, &agreeing]).is_empty());
}
