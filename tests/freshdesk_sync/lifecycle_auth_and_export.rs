//! Tickets that leave the account (reopened, spam, trashed, purged), a rejected key, and an
//! interrupted export.

use super::*;

/// Reopened tickets leave the store and come back when resolved again; spam and deleted tickets
/// (no longer listed) leave it at the next full reconcile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopened_spam_and_vanished_tickets_leave_the_store() {
    let bundle = demo_bundle();
    let stand_in = StandIn::start(bundle.clone(), stand_in_config()).await;
    let data = tempfile::tempdir().unwrap();
    let sync = || async {
        run_json(deskdraft(&stand_in, KEY, data.path()).args(["ingest", "--freshdesk"])).await
    };
    sync().await;
    let expected = expected_case_keys(&bundle);
    assert!(expected.len() > 20);
    assert!(expected.is_subset(&indexed_keys(data.path())));

    let mut cases = expected
        .iter()
        .map(|k| k["case:".len()..].parse::<i64>().unwrap());
    let (reopened, spam, purged, trashed) = (
        cases.next().unwrap(),
        cases.next().unwrap(),
        cases.next().unwrap(),
        cases.next().unwrap(),
    );
    let later = chrono::Utc::now();
    stand_in.edit_ticket(reopened, |t| {
        t.status = 2;
        t.updated_at = later;
    });
    stand_in.edit_ticket(spam, |t| {
        t.spam = true;
        t.updated_at = later;
    });
    stand_in.edit_ticket(trashed, |t| {
        t.deleted = true;
        t.updated_at = later;
    });
    stand_in.purge_ticket(purged);
    stand_in.clear_log();

    let incremental = sync().await;
    let keys = indexed_keys(data.path());
    assert!(
        !keys.contains(&format!("case:{reopened}")),
        "a reopened ticket stays out until resolved"
    );
    assert!(
        keys.contains(&format!("case:{spam}")),
        "spam is not listed: only a full reconcile sees it"
    );
    assert!(
        conversation_calls(&stand_in.log()).is_empty(),
        "an open ticket needs no conversations call"
    );
    assert_eq!(
        incremental["ingest"]["documents_removed"], 1,
        "{incremental}"
    );

    let full =
        run_json(deskdraft(&stand_in, KEY, data.path()).args(["ingest", "--freshdesk", "--full"]))
            .await;
    let keys = indexed_keys(data.path());
    for gone in [spam, purged, trashed] {
        assert!(
            !keys.contains(&format!("case:{gone}")),
            "case {gone} is still indexed: {full}"
        );
    }
    assert_eq!(full["tickets_vanished"], 3, "{full}");
    assert_eq!(
        full["ingest"]["documents_indexed"], 0,
        "unchanged tickets are not re-indexed: {full}"
    );

    stand_in.edit_ticket(reopened, |t| {
        t.status = 4;
        t.updated_at = chrono::Utc::now();
    });
    stand_in.clear_log();
    sync().await;
    assert!(indexed_keys(data.path()).contains(&format!("case:{reopened}")));
    assert_eq!(conversation_calls(&stand_in.log()), vec![reopened]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_exits_3_naming_the_fix_without_printing_the_key() {
    let stand_in = StandIn::start(
        demo_bundle(),
        StandInConfig {
            api_key: KEY.into(),
            ..StandInConfig::default()
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    for args in [
        &["ingest", "--freshdesk"][..],
        &["export", "--freshdesk", "--out"][..],
    ] {
        let out = data.path().join("export");
        let mut command = deskdraft(&stand_in, "wrong-key-123", data.path());
        command.args(args);
        if args[0] == "export" {
            command.arg(&out);
        }
        let output = command.output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
        assert!(stderr.contains("DESKDRAFT_FRESHDESK_API_KEY"), "{stderr}");
        assert!(
            !stderr.contains("wrong-key-123"),
            "the key was printed: {stderr}"
        );
    }
    assert_eq!(
        stand_in.log().len(),
        2,
        "one rejected call per command, no retries"
    );
    assert!(
        !data.path().join("store").exists(),
        "nothing was opened before the key check"
    );
}

/// An export killed halfway and run again equals the account: same tickets with the same
/// conversations, same articles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_export_resumes_and_equals_the_source_bundle() {
    let (bundle, name) = match twitter_care() {
        Some(dir) => (load_bundle(&dir).expect("twitter-care"), "twitter-care"),
        None => (demo_bundle(), "the demo bundle"),
    };
    let stand_in = StandIn::start(
        bundle.clone(),
        StandInConfig {
            limit_per_window: 400,
            ..stand_in_config()
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    let out = data.path().join("snapshot");
    let export = || {
        let mut command = deskdraft(&stand_in, KEY, data.path());
        command.args(["export", "--freshdesk", "--out"]).arg(&out);
        command
    };
    kill_after_conversation_calls(&stand_in, &mut export(), bundle.tickets.len() / 2).await;
    let first: BTreeSet<i64> = conversation_calls(&stand_in.log()).into_iter().collect();
    stand_in.clear_log();
    let summary = run_json(&mut export()).await;
    let refetched = conversation_calls(&stand_in.log())
        .iter()
        .filter(|id| first.contains(id))
        .count();
    println!(
        "export of {name}: killed after {} tickets, resumed: {summary}, re-fetched {refetched}",
        first.len()
    );
    // At most the group being fetched when the process died is fetched again.
    let group = deskdraft::helpdesk::export::TICKETS_PER_GROUP;
    assert!(
        refetched <= group,
        "re-fetched {refetched}, more than one group of {group}"
    );
    if name == "twitter-care" {
        assert!(
            (refetched as f64) < 0.10 * first.len() as f64,
            "re-fetched {refetched}"
        );
    }
    assert!(
        stand_in.log().iter().all(|r| r.method == "GET"),
        "an export only reads"
    );

    let exported = deskdraft::helpdesk::bundle::Bundle::open(&out).expect("a bundle");
    let mut tickets: Vec<Ticket> = exported.tickets().unwrap().map(Result::unwrap).collect();
    tickets.sort_by_key(|t| t.id);
    // The account lists everything except spam and deleted tickets (the demo bundle has some).
    let mut source: Vec<Ticket> = bundle
        .tickets
        .iter()
        .filter(|t| !t.spam && !t.deleted)
        .cloned()
        .collect();
    source.sort_by_key(|t| t.id);
    assert_eq!(tickets.len(), source.len());
    for (got, want) in tickets.iter().zip(&source) {
        assert_eq!(got, want, "ticket {} differs", want.id);
    }
    let mut articles: Vec<Article> = exported
        .articles()
        .unwrap()
        .expect("articles.jsonl")
        .map(Result::unwrap)
        .collect();
    articles.sort_by_key(|a| a.id);
    // Freshdesk serves articles without a URL, a visibility or a product: the export holds the
    // portal link, the folder's visibility (1 in these bundles) and no product.
    let portal = deskdraft::helpdesk::freshdesk::FreshdeskConfig::with_base_url(
        &stand_in.base_url(),
        deskdraft::helpdesk::freshdesk::ApiKey::new(KEY),
    )
    .expect("config");
    let mut source_articles: Vec<Article> = bundle
        .articles
        .iter()
        .map(|a| Article {
            url: Some(portal.article_url(a.id, &a.title)),
            folder_visibility: Some(a.folder_visibility.unwrap_or(1)),
            product_id: None,
            ..a.clone()
        })
        .collect();
    source_articles.sort_by_key(|a| a.id);
    assert_eq!(articles, source_articles);
    assert_eq!(
        exported.meta.other.get("export_complete"),
        Some(&Value::Bool(true))
    );
}
