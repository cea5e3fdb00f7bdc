//! Private notes (our HTML sent, Freshdesk's rewrite stored, never twice), staying within the
//! rate budget on a full read of twitter-care and when little credit remains, and the
//! knowledge-base walk.

use super::*;

/// Freshdesk stores a note's HTML rewritten (wrapped in a `<div>`, `<p>` renamed, entities
/// re-encoded: research §6): what was sent is exactly our HTML, what is stored and returned is
/// Freshdesk's version of it, and its text is ours.
#[tokio::test]
async fn a_private_note_is_sent_as_our_html_and_stored_as_freshdesk_rewrites_it() {
    let bundle = synthetic_bundle(3, 2, 0..0);
    let stand_in = StandIn::start(bundle, StandInConfig::default()).await;
    let freshdesk = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    let writer = freshdesk.writer();
    let html = "<p>Hi Ana,</p><p>Try <b>Settings &gt; Reset</b> &amp; \"restart\" — it&#39;s “fine” 😀</p>\n<ul><li>a</li></ul>";
    let rewritten = "<div><div>Hi Ana,</div><div>Try <b>Settings &gt; Reset</b> &amp; \"restart\" — it's “fine” 😀</div>\n<ul><li>a</li></ul></div>";

    let note = writer
        .create_private_note(2, html, "deskdraft:note-1")
        .await
        .expect("note");
    assert!(note.private);
    assert_eq!(note.body, rewritten, "the 201 carries the stored body");
    let post = stand_in
        .log()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("POST logged");
    assert_eq!(post.path, "/api/v2/tickets/2/notes");
    let sent: serde_json::Value = serde_json::from_str(&post.body).expect("json body");
    assert_eq!(sent, serde_json::json!({"body": html, "private": true}));

    let stored = stand_in.ticket(2).expect("ticket").conversations;
    let last = stored.last().expect("stored note");
    assert_eq!(
        (last.body.as_str(), last.private, last.source),
        (rewritten, true, Some(2))
    );
    assert_eq!(
        last.body_text.as_deref(),
        Some("Hi Ana,\nTry Settings > Reset & \"restart\" — it's “fine” 😀\na")
    );
    let comparable = deskdraft::helpdesk::matching::comparable_text;
    assert_eq!(comparable(&last.body), comparable(html), "same text");

    let listed = freshdesk.reader().conversations(2).await.expect("list");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[2].id, note.id);
    let notes: Vec<_> = writer
        .conversations_of(2)
        .await
        .expect("conversations")
        .into_iter()
        .filter(|c| c.private)
        .collect();
    assert_eq!(
        notes.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![note.id]
    );

    let updated = writer
        .update_note(note.id, "<p>edited</p>")
        .await
        .expect("update");
    assert_eq!(updated.body, "<div><div>edited</div></div>");
    assert_eq!(updated.body_text.as_deref(), Some("edited"));
    let reply = writer
        .create_reply(&deskdraft::helpdesk::ReplyRequest {
            ticket_id: 2,
            body_html: "<p>public answer</p>".into(),
            ..Default::default()
        })
        .await
        .expect("reply");
    assert!(!reply.private);
    let listed = freshdesk.reader().conversations(2).await.expect("list");
    assert!(
        listed
            .last()
            .is_some_and(|c| c.is_public_agent_reply() && c.id == reply.id)
    );
    let edit_reply = writer
        .update_note(reply.id, "<p>x</p>")
        .await
        .expect_err("replies are not editable");
    assert!(
        matches!(edit_reply, HelpdeskError::Permanent(_)),
        "{edit_reply:?}"
    );
}

#[tokio::test]
async fn full_read_of_twitter_care_stays_within_the_budget() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/twitter-care");
    if !dir.exists() {
        crate::support::report_skip("skipped: ../shared not present");
        return;
    }
    let bundle = load_bundle(&dir).expect("bundle");
    // 120 credits per "minute" of 1 s; the service may use half.
    let window = Duration::from_secs(1);
    let stand_in = StandIn::start(
        bundle.clone(),
        StandInConfig {
            limit_per_window: 120,
            window,
            ..Default::default()
        },
    )
    .await;
    let mut config = config(&stand_in, KEY);
    config.plan_limit_per_minute = 120;
    config.budget_share = 0.5;
    config.rate_window = window;
    let freshdesk = Freshdesk::new(config).expect("client");
    let reader: Arc<dyn HelpdeskRead> = Arc::new(freshdesk.reader());

    let started = Instant::now();
    let tickets = reader
        .tickets_updated_since(epoch())
        .await
        .expect("tickets");
    let conversations: HashMap<i64, Vec<Conversation>> =
        futures::stream::iter(tickets.iter().map(|t| t.id))
            .map(|id| {
                let reader = reader.clone();
                async move { (id, reader.conversations(id).await.expect("conversations")) }
            })
            .buffer_unordered(8)
            .collect()
            .await;
    let articles = reader.articles().await.expect("articles");
    let elapsed = started.elapsed();

    assert_eq!(tickets.len(), bundle.tickets.len());
    for expected in &bundle.tickets {
        assert_eq!(
            conversations.get(&expected.id),
            Some(&expected.conversations),
            "ticket {}",
            expected.id
        );
    }
    assert_eq!(articles.len(), bundle.articles.len());

    let log = stand_in.log();
    let calls = log.len();
    let credits: u32 = log.iter().map(|r| r.cost).sum();
    let mut per_window: HashMap<u128, u32> = HashMap::new();
    for r in &log {
        *per_window
            .entry(r.at.as_nanos() / window.as_nanos())
            .or_default() += r.cost;
    }
    let busiest = per_window.values().copied().max().unwrap_or(0);
    let sustained = f64::from(credits) / elapsed.as_secs_f64() * window.as_secs_f64();
    println!(
        "twitter-care full read: {} tickets, {} articles, {calls} calls ({:.3} per ticket incl. articles, \
         {:.3} per ticket for tickets+conversations), {credits} credits in {:.1}s = {sustained:.1} credits per window \
         (budget 60, account limit 120), busiest window {busiest}, 429s {}",
        tickets.len(),
        articles.len(),
        calls as f64 / tickets.len() as f64,
        log.iter().filter(|r| r.path.contains("/tickets")).count() as f64 / tickets.len() as f64,
        elapsed.as_secs_f64(),
        log.iter().filter(|r| r.status == 429).count()
    );
    assert_eq!(
        log.iter().filter(|r| r.status == 429).count(),
        0,
        "paced below the account limit"
    );
    assert!(busiest <= 120);
    assert!(
        sustained <= 66.0,
        "sustained {sustained:.1} credits per window exceeds budget + burst"
    );
}

#[tokio::test]
async fn a_note_whose_201_was_lost_is_not_posted_twice() {
    let stand_in = StandIn::start(synthetic_bundle(2, 1, 0..0), StandInConfig::default()).await;
    let freshdesk = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    // The note is stored, but its 201 arrives unreadable: the retry must find it, not re-post.
    stand_in.set_faults(Faults {
        malformed_next: 1,
        ..Default::default()
    });
    let note = freshdesk
        .writer()
        .create_private_note(1, "<p>draft</p>", "deskdraft:d1")
        .await
        .expect("note");
    let stored = stand_in.ticket(1).expect("ticket").conversations;
    assert_eq!(
        stored.iter().filter(|c| c.private).count(),
        1,
        "exactly one note"
    );
    assert_eq!(stored.last().map(|c| c.id), Some(note.id));
    let posts = stand_in.log().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn little_remaining_credit_slows_the_client_down() {
    // Other consumers spend 80 of 100 credits at the start of every 1 s window.
    let window = Duration::from_secs(1);
    let stand_in = StandIn::start(
        synthetic_bundle(40, 1, 0..0),
        StandInConfig {
            limit_per_window: 100,
            window,
            external_usage_per_window: 80,
            ..Default::default()
        },
    )
    .await;
    let mut config = config(&stand_in, KEY);
    config.plan_limit_per_minute = 100;
    config.budget_share = 0.5;
    config.rate_window = window;
    let freshdesk = Freshdesk::new(config).expect("client");
    let reader = freshdesk.reader();
    for id in 1..=40 {
        reader.conversations(id).await.expect("conversations");
    }
    let status = freshdesk.rate_status();
    assert_eq!(status.budget_per_window, 50);
    assert!(status.effective_budget_per_window < 50, "{status:?}");
    let log = stand_in.log();
    let rejected = log.iter().filter(|r| r.status == 429).count();
    println!(
        "adaptive run: {} requests, {rejected} x 429, status {status:?}",
        log.len()
    );
    // Every 429 is followed by silence until its Retry-After.
    for r in log.iter().filter(|r| r.status == 429) {
        let until = r.at + Duration::from_secs(r.retry_after.unwrap_or(1));
        let early = log
            .iter()
            .filter(|o| o.at > r.at + Duration::from_millis(300) && o.at < until)
            .count();
        assert_eq!(
            early, 0,
            "request inside Retry-After after the 429 at {:?}",
            r.at
        );
    }
}

#[tokio::test]
async fn articles_walk_categories_folders_and_pages() {
    let article = |id: i64, folder: i64, category: i64| deskdraft::domain::Article {
        id,
        title: format!("Article {id}"),
        description: format!("<p>Body {id}</p>"),
        description_text: Some(format!("Body {id}")),
        status: if id == 3 { 1 } else { 2 },
        folder_id: Some(folder),
        category_id: Some(category),
        tags: Vec::new(),
        url: Some(format!("https://help.example/{id}")),
        product_id: None,
        folder_visibility: None,
        created_at: ts(id),
        updated_at: ts(id),
    };
    let articles = vec![
        article(1, 10, 1),
        article(2, 10, 1),
        article(3, 10, 1),
        article(4, 20, 2),
    ];
    let bundle = Bundle {
        articles: articles.clone(),
        folder_visibility: [(20, 3)].into(),
        ..Bundle::default()
    };
    let stand_in = StandIn::start(bundle, StandInConfig::default()).await;
    let mut config = config(&stand_in, KEY);
    config.per_page = 2;
    let freshdesk = Freshdesk::new(config).expect("client");
    let reader = freshdesk.reader();
    let mut read = reader.articles().await.expect("articles");
    read.sort_by_key(|a| a.id);
    // Freshdesk serves no article URL and no visibility: the client links the portal and takes
    // the folder's visibility (folder 20 is agents-only).
    let portal =
        FreshdeskConfig::with_base_url(&stand_in.base_url(), ApiKey::new(KEY)).expect("config");
    let expected: Vec<_> = articles
        .iter()
        .map(|a| deskdraft::domain::Article {
            url: Some(portal.article_url(a.id, &a.title)),
            folder_visibility: Some(if a.folder_id == Some(20) { 3 } else { 1 }),
            ..a.clone()
        })
        .collect();
    assert_eq!(read, expected, "drafts included, folder pages followed");
    // categories, 2 x folders, folder 10 (2 pages), folder 20: subfolders skipped (count 0).
    assert_eq!(stand_in.log().len(), 6, "{:?}", stand_in.log());
    let translated = reader
        .article_translations("es")
        .await
        .expect("no translations is not an error");
    assert!(translated.is_empty());
    assert!(reader.article_translations("../x").await.is_err());
}
