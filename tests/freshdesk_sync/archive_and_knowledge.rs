//! A mature account: older closed tickets live in Freshdesk's archive (no list shows them), one
//! knowledge folder is for agents only, and the team keeps canned responses. The sync finds and
//! indexes the archived cases, a `--full` reconcile keeps them, and drafts link customer-visible
//! articles at the portal (a custom portal domain here) while never linking the agents-only
//! ones, even where a reused past answer did.

use super::*;
use deskdraft::domain::CannedResponse;
use support::freshdesk_stand_in::DEFAULT_CANNED_FOLDER;

/// The folder holding the billing articles (charged twice, refunds, invoices, payment failed).
const BILLING_FOLDER: i64 = 31;

/// The demo account with its 40 oldest closed tickets archived, one ticket in the trash and one
/// marked spam.
fn mature_account() -> (Bundle, BTreeSet<i64>) {
    let mut bundle = demo_bundle();
    let mut closed: Vec<&mut Ticket> = bundle
        .tickets
        .iter_mut()
        .filter(|t| t.status == 5 && !t.spam)
        .collect();
    closed.sort_by_key(|t| t.created_at);
    let mut archived = BTreeSet::new();
    for ticket in closed.into_iter().take(40) {
        ticket.archived = true;
        archived.insert(ticket.id);
    }
    (bundle, archived)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_history_is_indexed_and_a_full_reconcile_keeps_it() {
    let (bundle, archived) = mature_account();
    let stand_in = StandIn::start(bundle.clone(), stand_in_config()).await;
    let data = tempfile::tempdir().unwrap();
    let sync = |full: bool| {
        let mut command = deskdraft(&stand_in, KEY, data.path());
        command.args(["ingest", "--freshdesk"]);
        if full {
            command.arg("--full");
        }
        async move { run_json(&mut command).await }
    };
    let first = sync(false).await;
    let expected = expected_case_keys(&bundle);
    let archived_cases: BTreeSet<String> = archived.iter().map(|id| format!("case:{id}")).collect();
    assert!(archived_cases.is_subset(&expected));
    let keys = indexed_keys(data.path());
    assert!(
        expected.is_subset(&keys),
        "missing: {:?}",
        expected.difference(&keys).collect::<Vec<_>>()
    );
    // Ids 1..=1000 were never used in this account, plus the 40 archived: each read once.
    assert_eq!(first["archive"]["archived_found"], 40, "{first}");
    assert_eq!(first["archive"]["probes"], 1040, "{first}");
    assert_eq!(
        first["freshdesk_calls"]["GET /tickets/archived/{id}"], 1040,
        "the calls spent on discovery are printed: {first}"
    );
    assert_eq!(
        first["freshdesk_calls"]["GET /tickets/archived/{id}/conversations"], 40,
        "{first}"
    );

    // Nothing new: no probe is paid for twice.
    stand_in.clear_log();
    let second = sync(false).await;
    assert_eq!(second["archive"]["probes"], 0, "{second}");
    assert!(
        !stand_in.log().iter().any(|r| r.path.contains("/archived/")),
        "an incremental sync reads no archive"
    );

    // Ten more tickets age into the archive and one is purged for good: a full reconcile reads
    // the ten at the archive and keeps them, removes only the purged one, and does not read
    // the 40 it read minutes ago.
    let listed_closed: Vec<i64> = bundle
        .tickets
        .iter()
        .filter(|t| !t.archived && t.status == 5 && !t.spam && !t.deleted)
        .map(|t| t.id)
        .filter(|id| expected.contains(&format!("case:{id}")))
        .collect();
    let newly_archived = &listed_closed[..10];
    for id in newly_archived {
        stand_in.archive_ticket(*id);
    }
    let purged = listed_closed[10];
    stand_in.purge_ticket(purged);
    stand_in.clear_log();
    let full = sync(true).await;
    let keys = indexed_keys(data.path());
    for id in archived.iter().chain(newly_archived) {
        assert!(
            keys.contains(&format!("case:{id}")),
            "case {id} was removed: {full}"
        );
    }
    assert!(!keys.contains(&format!("case:{purged}")), "{full}");
    assert_eq!(full["archive"]["unlisted_kept_as_archived"], 40, "{full}");
    assert_eq!(full["archive"]["probes"], 11, "{full}");
    assert_eq!(full["archive"]["archived_found"], 10, "{full}");
    assert_eq!(full["tickets_vanished"], 1, "{full}");
    assert_eq!(
        full["ingest"]["documents_indexed"], 0,
        "nothing re-embedded: {full}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_link_portal_articles_never_agents_only_ones_and_cite_canned_responses() {
    let mut bundle = demo_bundle();
    bundle.folder_visibility.insert(BILLING_FOLDER, 3);
    let at = chrono::Utc::now() - chrono::Duration::days(30);
    bundle.canned_responses.push(CannedResponse {
        id: 77,
        title: "Charged twice: duplicate payment refunded".into(),
        folder_id: Some(DEFAULT_CANNED_FOLDER),
        content: "Hi {{ticket.requester.name}}, you were charged twice for the same box: we have refunded the duplicate payment. It shows on your bank statement within 5 business days.".into(),
        content_html: "<div>Hi {{ticket.requester.name}}, you were charged twice for the same box: we have refunded the duplicate payment. It shows on your bank statement within 5 business days.</div>".into(),
        created_at: at,
        updated_at: at,
    });
    let stand_in = StandIn::start(bundle.clone(), stand_in_config()).await;
    let data = tempfile::tempdir().unwrap();
    // The demo company reads its knowledge base at its own portal domain; past agents linked
    // articles there too.
    let portal = "https://support.kettleby.example";
    let summary = run_json(
        deskdraft(&stand_in, KEY, data.path())
            .env("DESKDRAFT_FRESHDESK__PORTAL_URL", portal)
            .args(["ingest", "--freshdesk"]),
    )
    .await;
    assert_eq!(summary["canned_responses_listed"], 1, "{summary}");
    assert!(indexed_keys(data.path()).contains("canned_response:77"));

    let agents_only: BTreeSet<i64> = bundle
        .articles
        .iter()
        .filter(|a| a.folder_id == Some(BILLING_FOLDER))
        .map(|a| a.id)
        .collect();
    let mut linked_portal_articles = 0;
    let mut agents_only_cited = 0;
    let mut canned_cited = false;
    for entry in std::fs::read_dir(repo().join("knowledge/open-tickets")).unwrap() {
        let path = entry.unwrap().path();
        let draft = run_json(
            deskdraft(&stand_in, KEY, data.path())
                .args(["draft", "--json", "--ticket-json"])
                .arg(&path),
        )
        .await;
        let draft = &draft[0];
        let text = draft["text"].as_str().unwrap_or("");
        let article_links = deskdraft::ingest::clean::extract_urls(text)
            .into_iter()
            .filter(|url| url.contains("/solutions/articles/"));
        for url in article_links {
            let id = deskdraft::ingest::cases::freshdesk_article_id(&url);
            assert!(
                url.starts_with(&format!("{portal}/support/solutions/articles/")),
                "{url} is not a portal link ({})",
                path.display()
            );
            assert!(
                id.is_some_and(|id| !agents_only.contains(&id)),
                "{url} is agents-only and was linked in {}",
                path.display()
            );
            linked_portal_articles += 1;
        }
        for source in draft["sources"].as_array().unwrap() {
            let key = source["key"].as_str().unwrap();
            if let Some(id) = key
                .strip_prefix("article:")
                .and_then(|i| i.parse::<i64>().ok())
                && agents_only.contains(&id)
            {
                assert_eq!(source["agent_only"], true, "{source}");
                agents_only_cited += 1;
            }
            canned_cited |= key == "canned_response:77";
        }
    }
    assert!(linked_portal_articles > 0, "no draft linked any article");
    assert!(
        agents_only_cited > 0,
        "agents-only articles still inform drafts and are listed for the agent"
    );
    assert!(
        canned_cited,
        "the canned response is a source of the double-charge draft"
    );
}

/// An export of the mature account writes its archived tickets too (found the way the sync
/// finds them), marked `archived`, and remembers the ids the archive lacks: a second export
/// probes nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_writes_archived_tickets_and_probes_each_id_once() {
    let (bundle, archived) = mature_account();
    let stand_in = StandIn::start(bundle, stand_in_config()).await;
    let data = tempfile::tempdir().unwrap();
    let out = data.path().join("snapshot");
    let export = || {
        let mut command = deskdraft(&stand_in, KEY, data.path());
        command.args(["export", "--freshdesk", "--out"]).arg(&out);
        async move { run_json(&mut command).await }
    };
    let first = export().await;
    assert_eq!(first["archived_tickets_written"], 40, "{first}");
    let exported = deskdraft::helpdesk::bundle::Bundle::open(&out).expect("a bundle");
    let written: BTreeSet<i64> = exported
        .tickets()
        .unwrap()
        .map(Result::unwrap)
        .filter(|t| t.archived)
        .map(|t| t.id)
        .collect();
    assert_eq!(written, archived, "every archived ticket, marked archived");
    let probes = |log: &[support::freshdesk_stand_in::LoggedRequest]| {
        log.iter()
            .filter(|r| {
                r.path.starts_with("/api/v2/tickets/archived/")
                    && !r.path.ends_with("/conversations")
            })
            .count()
    };
    assert!(probes(&stand_in.log()) >= 40);
    stand_in.clear_log();
    let second = export().await;
    assert_eq!(
        probes(&stand_in.log()),
        0,
        "ids probed once are remembered: {second}"
    );
}
