//! End-to-end tests of the `deskdraft` binary with the real MiniLM model on the demo data in
//! `knowledge/`.
//!
//! Embedding the demo bundle is the expensive step, so it runs once per test binary (a shared
//! fixture); every test that writes to a store works on its own copy of that data dir. The model
//! comes from `models/all-MiniLM-L6-v2` (`scripts/fetch-model.sh`).
//!
//! The `../shared/datasets/twitter-care` test ingests a deterministic subset of that bundle (every
//! ticket of the drafted ticket's product, a few other products, the articles they link and a
//! sample of the rest) to keep the run short; set `DESKDRAFT_TEST_FULL_SHARED=1` to ingest all of it.

mod drafting;
mod fixture;
#[path = "../support/mod.rs"]
mod support;

use fixture::*;

use serde_json::Value;

#[test]
fn ingest_indexes_resolved_cases_published_articles_and_docs() {
    let expected = expected_demo();
    assert_eq!(
        expected.cases, 150,
        "the demo bundle has 150 resolved cases"
    );
    let base = base();
    let summary = &base.summary;
    let documents = expected.cases + expected.bundle_articles + expected.docs;
    assert_eq!(int(summary, "/documents_indexed"), documents, "{summary:#}");
    assert_eq!(int(summary, "/ineligible_skipped"), expected.ineligible);
    assert_eq!(
        int(summary, "/documents_seen"),
        documents + expected.ineligible
    );
    assert_eq!(int(summary, "/documents_unchanged"), 0);
    assert_eq!(int(summary, "/documents_removed"), 0);
    assert_eq!(int(summary, "/invalid_lines_skipped"), 0);
    assert!(int(summary, "/chunks_embedded") >= documents);

    let stats = &base.stats;
    assert_eq!(int(stats, "/documents"), documents, "{stats:#}");
    assert_eq!(int(stats, "/cases"), expected.cases);
    assert_eq!(
        int(stats, "/articles"),
        expected.bundle_articles + expected.docs
    );
    let chunks = int(stats, "/chunks");
    assert_eq!(int(stats, "/points/points"), chunks, "one point per chunk");
    assert_eq!(
        chunks,
        int(summary, "/chunks_embedded") + int(summary, "/chunks_reused_within_run"),
        "every chunk was embedded or reused"
    );
    let by_source = &stats["points"]["points_by_source"];
    assert_eq!(int(by_source, "/case") + int(by_source, "/article"), chunks);
    assert!(int(by_source, "/case") >= expected.cases);
    assert!(int(by_source, "/article") >= expected.bundle_articles + expected.docs);
    assert_eq!(
        stats["embedding_model"],
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert!(stats["last_ingest_finished"].is_string());
}

#[test]
fn a_second_identical_ingest_embeds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = base_copy(dir.path());
    let base = base();
    let summary = ingest(&data_dir, &demo_bundle(), Some(&demo_docs()));
    assert_eq!(int(&summary, "/documents_indexed"), 0, "{summary:#}");
    assert_eq!(int(&summary, "/chunks_embedded"), 0);
    assert_eq!(int(&summary, "/documents_removed"), 0);
    assert_eq!(int(&summary, "/points_deleted"), 0);
    assert_eq!(
        int(&summary, "/documents_unchanged"),
        int(&base.summary, "/documents_indexed")
    );
    let stats = stats(&data_dir);
    assert_eq!(stats["points"], base.stats["points"]);
    assert_eq!(int(&stats, "/chunks"), int(&base.stats, "/chunks"));
}

#[test]
fn a_changed_ticket_is_reindexed_and_a_reopened_ticket_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = base_copy(dir.path());
    let base_documents = int(&base().summary, "/documents_indexed");
    let tickets = read_jsonl(&demo_bundle().join("tickets.jsonl"));
    let indexable: Vec<i64> = tickets
        .iter()
        .filter(|t| is_indexable_case(t))
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    let (changed, reopened) = (indexable[3], indexable[10]);

    // 1. One ticket's text changes: only it is re-indexed.
    let change = |tickets: &mut Vec<Value>| {
        let ticket = tickets.iter_mut().find(|t| t["id"] == changed).unwrap();
        ticket["description"] = Value::String(format!(
            "{}<div>P.S. The kettle also makes a rattling noise when it boils.</div>",
            ticket["description"].as_str().unwrap()
        ));
        ticket["description_text"] = Value::Null;
    };
    let bundle = edited_bundle(&dir.path().join("changed"), change);
    let summary = ingest(&data_dir, &bundle, Some(&demo_docs()));
    assert_eq!(int(&summary, "/documents_indexed"), 1, "{summary:#}");
    assert_eq!(int(&summary, "/documents_unchanged"), base_documents - 1);
    assert_eq!(int(&summary, "/documents_removed"), 0);
    assert!(int(&summary, "/chunks_embedded") >= 1);
    let after_change = stats(&data_dir);
    assert_eq!(
        int(&after_change, "/points/points"),
        int(&after_change, "/chunks")
    );

    // 2. Another ticket is reopened (status 2): its chunks leave the store.
    let reopened_chunks = state_chunks(&data_dir)[&format!("case:{reopened}")];
    let bundle = edited_bundle(&dir.path().join("reopened"), |tickets| {
        change(tickets);
        let ticket = tickets.iter_mut().find(|t| t["id"] == reopened).unwrap();
        ticket["status"] = Value::from(2);
    });
    let summary = ingest(&data_dir, &bundle, Some(&demo_docs()));
    assert_eq!(int(&summary, "/documents_removed"), 1, "{summary:#}");
    assert_eq!(int(&summary, "/documents_indexed"), 0);
    assert_eq!(int(&summary, "/chunks_embedded"), 0);
    assert_eq!(int(&summary, "/documents_unchanged"), base_documents - 1);
    let after_reopen = stats(&data_dir);
    assert_eq!(
        int(&after_reopen, "/points/points"),
        int(&after_change, "/points/points") - reopened_chunks,
        "the reopened ticket's points are gone"
    );
    assert_eq!(
        int(&after_reopen, "/points/points_by_source/case"),
        int(&after_change, "/points/points_by_source/case") - reopened_chunks
    );
    assert_eq!(
        int(&after_reopen, "/cases"),
        int(&after_change, "/cases") - 1
    );
    assert!(!state_chunks(&data_dir).contains_key(&format!("case:{reopened}")));
}

#[test]
fn a_malformed_line_stops_the_ingest_with_its_location_unless_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = base_copy(dir.path());
    let before = stats(&data_dir);
    let broken = dir.path().join("broken");
    copy_dir(&demo_bundle(), &broken);
    let text = std::fs::read_to_string(broken.join("tickets.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, r#"{"id": 9999, "subject": "cut off here"#);
    std::fs::write(broken.join("tickets.jsonl"), lines.join("\n") + "\n").unwrap();

    let output = run(deskdraft(&data_dir)
        .arg("ingest")
        .arg("--bundle")
        .arg(&broken)
        .arg("--knowledge")
        .arg(demo_docs()));
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tickets.jsonl:3:"), "{stderr}");

    // The failed run left the store usable: a normal ingest of the good bundle finds everything.
    let summary = ingest(&data_dir, &demo_bundle(), Some(&demo_docs()));
    assert_eq!(int(&summary, "/documents_indexed"), 0, "{summary:#}");
    assert_eq!(
        int(&summary, "/documents_unchanged"),
        int(&before, "/documents")
    );
    assert_eq!(stats(&data_dir)["points"], before["points"]);

    // With --skip-invalid the bad line is counted and everything else is read.
    let summary = run_json(
        deskdraft(&data_dir)
            .arg("ingest")
            .arg("--bundle")
            .arg(&broken)
            .arg("--knowledge")
            .arg(demo_docs())
            .arg("--skip-invalid"),
    );
    assert_eq!(int(&summary, "/invalid_lines_skipped"), 1, "{summary:#}");
    assert_eq!(
        int(&summary, "/documents_unchanged"),
        int(&before, "/documents")
    );
    assert_eq!(int(&summary, "/documents_removed"), 0);
    assert_eq!(stats(&data_dir)["points"], before["points"]);
}

#[test]
fn a_missing_model_names_the_fetch_script() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(deskdraft(&dir.path().join("data"))
        .env("DESKDRAFT_EMBEDDING__MODEL_DIR", "/nonexistent")
        .arg("ingest")
        .arg("--bundle")
        .arg(demo_bundle()));
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("scripts/fetch-model.sh"), "{stderr}");
}

#[test]
fn an_invalid_setting_is_named_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(deskdraft(&dir.path().join("data"))
        .env("DESKDRAFT_CHUNKING__MAX_TOKENS", "9999")
        .arg("ingest")
        .arg("--bundle")
        .arg(demo_bundle()));
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("chunking.max_tokens"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Drafting
// ---------------------------------------------------------------------------------------------
