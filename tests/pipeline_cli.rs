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

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo_bundle() -> PathBuf {
    repo().join("knowledge/demo-bundle")
}

fn demo_docs() -> PathBuf {
    repo().join("knowledge/docs")
}

/// The binary, isolated from the caller's environment: absolute model and prompt paths, a
/// working directory without a `deskdraft.toml`, no inherited `DESKDRAFT_*` settings.
fn deskdraft(data_dir: &Path) -> Command {
    static WORK_DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let work_dir = WORK_DIR.get_or_init(|| tempfile::tempdir().expect("temporary directory"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_deskdraft"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DESKDRAFT_") {
            command.env_remove(key);
        }
    }
    command
        .current_dir(work_dir.path())
        .env(
            "DESKDRAFT_EMBEDDING__MODEL_DIR",
            repo().join("models/all-MiniLM-L6-v2"),
        )
        .env("DESKDRAFT_DRAFTING__PROMPTS_DIR", repo().join("prompts"))
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .arg("--data-dir")
        .arg(data_dir);
    command
}

/// Report a skipped test where it is seen: straight to the process's stderr, which the test
/// harness does not capture (unlike `println!`/`eprintln!`).
fn report_skip(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the deskdraft binary runs")
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Run, require exit 0, parse stdout as JSON.
fn run_json(command: &mut Command) -> Value {
    let output = run(command);
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", describe(&output)))
}

fn ingest(data_dir: &Path, bundle: &Path, knowledge: Option<&Path>) -> Value {
    let mut command = deskdraft(data_dir);
    command.arg("ingest").arg("--bundle").arg(bundle);
    if let Some(knowledge) = knowledge {
        command.arg("--knowledge").arg(knowledge);
    }
    run_json(&mut command)
}

fn stats(data_dir: &Path) -> Value {
    run_json(deskdraft(data_dir).args(["stats", "--json"]))
}

fn int(value: &Value, pointer: &str) -> u64 {
    value
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in {value:#}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    let file = std::fs::File::open(path).unwrap();
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        )))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    reader
        .lines()
        .map(Result::unwrap)
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(&line).unwrap())
        .collect()
}

fn write_jsonl(path: &Path, items: &[Value]) {
    let text: String = items
        .iter()
        .map(|item| serde_json::to_string(item).unwrap() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

/// Copy of the demo bundle whose tickets `edit` may change.
fn edited_bundle(dir: &Path, edit: impl FnOnce(&mut Vec<Value>)) -> PathBuf {
    let bundle = dir.join("bundle");
    copy_dir(&demo_bundle(), &bundle);
    let mut tickets = read_jsonl(&bundle.join("tickets.jsonl"));
    edit(&mut tickets);
    write_jsonl(&bundle.join("tickets.jsonl"), &tickets);
    bundle
}

/// Per-document chunk counts recorded by the last ingest.
fn state_chunks(data_dir: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(data_dir.join("ingest-state.json")).unwrap();
    let state: Value = serde_json::from_str(&text).unwrap();
    state["documents"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, doc)| (key.clone(), doc["chunk_count"].as_u64().unwrap()))
        .collect()
}

fn parse_time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {value}"))
        .to_utc()
}

// ---------------------------------------------------------------------------------------------
// What the demo data should produce, computed from the files themselves
// ---------------------------------------------------------------------------------------------

struct Expected {
    cases: u64,
    bundle_articles: u64,
    docs: u64,
    ineligible: u64,
}

fn is_public_agent_reply(conversation: &Value) -> bool {
    conversation["incoming"] != Value::Bool(true)
        && conversation["private"] != Value::Bool(true)
        && matches!(conversation["source"].as_i64(), None | Some(0))
}

fn is_indexable_case(ticket: &Value) -> bool {
    matches!(ticket["status"].as_i64(), Some(4 | 5))
        && ticket["spam"] != Value::Bool(true)
        && ticket["deleted"] != Value::Bool(true)
        && ticket["conversations"]
            .as_array()
            .is_some_and(|c| c.iter().any(is_public_agent_reply))
}

fn expected_demo() -> Expected {
    let tickets = read_jsonl(&demo_bundle().join("tickets.jsonl"));
    let articles = read_jsonl(&demo_bundle().join("articles.jsonl"));
    let cases = tickets.iter().filter(|t| is_indexable_case(t)).count() as u64;
    let published = articles
        .iter()
        .filter(|a| a["status"].as_i64() == Some(2))
        .count() as u64;
    let docs = std::fs::read_dir(demo_docs())
        .unwrap()
        .filter(|e| {
            let path = e.as_ref().unwrap().path();
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("md" | "markdown" | "html" | "htm")
            )
        })
        .count() as u64;
    Expected {
        cases,
        bundle_articles: published,
        docs,
        ineligible: (tickets.len() as u64 - cases) + (articles.len() as u64 - published),
    }
}

// ---------------------------------------------------------------------------------------------
// The shared base ingest
// ---------------------------------------------------------------------------------------------

struct Base {
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    summary: Value,
    stats: Value,
}

/// The demo bundle and docs ingested once into a fresh data dir; never written to afterwards.
fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let summary = ingest(&data_dir, &demo_bundle(), Some(&demo_docs()));
        let stats = stats(&data_dir);
        Base {
            _dir: dir,
            data_dir,
            summary,
            stats,
        }
    })
}

/// A private copy of the base data dir.
fn base_copy(dir: &Path) -> PathBuf {
    let data_dir = dir.join("data");
    copy_dir(&base().data_dir, &data_dir);
    data_dir
}

// ---------------------------------------------------------------------------------------------
// Ingest
// ---------------------------------------------------------------------------------------------

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

/// Drafts for open tickets 2001 and 2006 (one process), keyed by ticket id.
fn open_ticket_drafts() -> &'static BTreeMap<i64, Value> {
    static DRAFTS: OnceLock<(tempfile::TempDir, BTreeMap<i64, Value>)> = OnceLock::new();
    &DRAFTS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let data_dir = base_copy(dir.path());
            let drafts = run_json(
                deskdraft(&data_dir)
                    .args(["draft", "--json", "--ticket-json"])
                    .arg(repo().join("knowledge/open-tickets/ticket-2001.json"))
                    .arg(repo().join("knowledge/open-tickets/ticket-2006.json")),
            );
            let drafts = drafts
                .as_array()
                .expect("a JSON array of drafts")
                .iter()
                .map(|d| (d["ticket_id"].as_i64().unwrap(), d.clone()))
                .collect();
            (dir, drafts)
        })
        .1
}

/// Distinctive strings of the demo bundle's private notes (internal references).
fn private_note_markers() -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"\b(?:FIN|JIRA|RF|RMA|QA|CB|FW|APP)[- ]\d+\b|JIRA").unwrap();
    let mut markers = BTreeSet::new();
    for ticket in read_jsonl(&demo_bundle().join("tickets.jsonl")) {
        for conversation in ticket["conversations"].as_array().into_iter().flatten() {
            if conversation["private"] == Value::Bool(true) {
                let body = conversation["body"].as_str().unwrap_or_default();
                markers.extend(pattern.find_iter(body).map(|m| m.as_str().to_string()));
            }
        }
    }
    markers
}

#[test]
fn draft_for_a_double_charge_cites_the_article_and_leaks_no_private_note() {
    let draft = &open_ticket_drafts()[&2001];
    assert_eq!(draft["kind"], "retrieval_only", "{draft:#}");
    let cited: Vec<i64> = draft["cited_article_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(cited.contains(&104), "cited {cited:?}");
    let sources = draft["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    for source in sources {
        let key = source["key"].as_str().unwrap_or_default();
        assert!(
            key.starts_with("case:") || key.starts_with("article:"),
            "source without a key: {source}"
        );
    }
    let text = draft["text"].as_str().unwrap();
    assert!(!text.trim().is_empty());
    let markers = private_note_markers();
    assert!(
        markers.contains("FIN-2214") && markers.len() > 10,
        "the marker scan found {markers:?}"
    );
    let whole = serde_json::to_string(draft).unwrap();
    for marker in markers.iter().chain(&["FIN-".to_string()]) {
        assert!(!text.contains(marker.as_str()), "draft text leaks {marker}");
        assert!(
            !whole.contains(marker.as_str()),
            "draft JSON (sources/retrieval) leaks {marker}"
        );
    }
}

#[test]
fn an_uncovered_ticket_gets_lower_confidence() {
    let drafts = open_ticket_drafts();
    let covered = drafts[&2001]["confidence"].as_f64().unwrap();
    let uncovered = drafts[&2006]["confidence"].as_f64().unwrap();
    assert!(
        uncovered < covered,
        "ticket 2006 (local API, not in the knowledge) {uncovered} vs 2001 {covered}"
    );
}

/// Every source and retrieved document of a replayed draft.
fn check_replay(draft: &Value, ticket: &Value, as_of: Option<chrono::DateTime<chrono::Utc>>) {
    let ticket_id = ticket["id"].as_i64().unwrap();
    let own = format!("case:{ticket_id}");
    let product = ticket["product_id"].as_i64().map(|p| p.to_string());
    let sources = draft["sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "{draft:#}");
    for source in sources {
        assert_ne!(source["key"], own.as_str(), "the ticket is its own source");
        if let Some(as_of) = as_of {
            assert!(
                parse_time(&source["created_at"]) < as_of,
                "source {} created {} is not before {as_of}",
                source["key"],
                source["created_at"]
            );
        }
    }
    let retrieval = &draft["retrieval"];
    for kind in ["cases", "articles"] {
        for found in retrieval[kind].as_array().unwrap() {
            let key = format!(
                "{}:{}",
                found["source_type"].as_str().unwrap(),
                found["id"].as_i64().unwrap()
            );
            assert_ne!(key, own, "the ticket retrieved itself");
            if let Some(as_of) = as_of {
                assert!(
                    parse_time(&found["created_at"]) < as_of,
                    "{key} created {} is not before {as_of}",
                    found["created_at"]
                );
            }
            if let (Some(product), Some(found_product)) = (&product, found["product"].as_str()) {
                assert_eq!(found_product, product, "{key} is from another product");
            }
        }
    }
    // Every cited source is one of the retrieved documents (so the product check covers it).
    let retrieved: BTreeSet<String> = ["cases", "articles"]
        .iter()
        .flat_map(|kind| retrieval[kind].as_array().unwrap())
        .map(|f| format!("{}:{}", f["source_type"].as_str().unwrap(), f["id"]))
        .collect();
    for source in sources {
        assert!(
            retrieved.contains(source["key"].as_str().unwrap()),
            "source {} was not retrieved",
            source["key"]
        );
    }
}

#[test]
fn a_replayed_draft_only_uses_earlier_knowledge_of_the_same_product() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = base_copy(dir.path());
    // A mid-2025 double-charge ticket (product 3): similar cases exist before and after it.
    let ticket_id = 1041;
    let ticket = read_jsonl(&demo_bundle().join("tickets.jsonl"))
        .into_iter()
        .find(|t| t["id"] == ticket_id)
        .unwrap();
    let created_at = parse_time(&ticket["created_at"]);
    let draft_with = |as_of: Option<&str>| {
        let mut command = deskdraft(&data_dir);
        command
            .args(["draft", "--json", "--ticket-id", &ticket_id.to_string()])
            .arg("--bundle")
            .arg(demo_bundle());
        if let Some(as_of) = as_of {
            command.args(["--as-of", as_of]);
        }
        let drafts = run_json(&mut command);
        drafts[0].clone()
    };

    // Default for --ticket-id: as of the ticket's creation.
    let replay = draft_with(None);
    assert_eq!(replay["ticket_id"], ticket_id);
    check_replay(&replay, &ticket, Some(created_at));

    // Even with all knowledge, the ticket's own case is never a source.
    let now = draft_with(Some("now"));
    check_replay(&now, &ticket, None);
    let later_cases = now["retrieval"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| parse_time(&c["created_at"]) >= created_at)
        .count();
    assert!(
        later_cases > 0,
        "with --as-of now later cases are found (else the replay check proves nothing)"
    );
}

// ---------------------------------------------------------------------------------------------
// ../shared/datasets/twitter-care
// ---------------------------------------------------------------------------------------------

/// A deterministic subset of a bundle: every ticket of `keep_products`, the articles they link
/// and every `article_stride`-th other article.
fn subset_bundle(source: &Path, target: &Path, keep_products: &[i64], article_stride: usize) {
    std::fs::create_dir_all(target).unwrap();
    std::fs::copy(source.join("meta.json"), target.join("meta.json")).unwrap();
    let tickets: Vec<Value> = read_jsonl(&source.join("tickets.jsonl.gz"))
        .into_iter()
        .filter(|t| {
            t["product_id"]
                .as_i64()
                .is_some_and(|p| keep_products.contains(&p))
        })
        .collect();
    let thread_text: String = tickets.iter().map(|t| t.to_string()).collect();
    let articles: Vec<Value> = read_jsonl(&source.join("articles.jsonl.gz"))
        .into_iter()
        .enumerate()
        .filter(|(i, a)| {
            i % article_stride == 0 || a["url"].as_str().is_some_and(|u| thread_text.contains(u))
        })
        .map(|(_, a)| a)
        .collect();
    write_jsonl(&target.join("tickets.jsonl"), &tickets);
    write_jsonl(&target.join("articles.jsonl"), &articles);
}

#[test]
fn shared_twitter_care_replay_of_the_latest_ticket() {
    let shared = repo().join("../shared/datasets/twitter-care");
    if !shared.is_dir() {
        report_skip("skipped: ../shared/datasets/twitter-care not present");
        return;
    }
    let tickets = read_jsonl(&shared.join("tickets.jsonl.gz"));
    let latest = tickets
        .iter()
        .max_by_key(|t| (parse_time(&t["created_at"]), t["id"].as_i64()))
        .unwrap()
        .clone();
    let latest_id = latest["id"].as_i64().unwrap();
    let created_at = parse_time(&latest["created_at"]);

    let dir = tempfile::tempdir().unwrap();
    let bundle = if std::env::var("DESKDRAFT_TEST_FULL_SHARED").is_ok_and(|v| v == "1") {
        shared.clone()
    } else {
        // The latest ticket's product, plus other products whose cases must never be used.
        let product = latest["product_id"].as_i64().unwrap();
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for ticket in &tickets {
            *counts
                .entry(ticket["product_id"].as_i64().unwrap())
                .or_default() += 1;
        }
        let mut others: Vec<i64> = counts
            .iter()
            .filter(|(p, n)| **p != product && **n <= 8)
            .map(|(p, _)| *p)
            .collect();
        others.truncate(4);
        let mut keep = vec![product];
        keep.extend(others);
        let subset = dir.path().join("subset");
        subset_bundle(&shared, &subset, &keep, 40);
        subset
    };
    let data_dir = dir.path().join("data");
    let summary = ingest(&data_dir, &bundle, None);
    assert!(int(&summary, "/documents_indexed") > 0, "{summary:#}");
    let drafts = run_json(
        deskdraft(&data_dir)
            .args(["draft", "--json", "--ticket-id", &latest_id.to_string()])
            .arg("--bundle")
            .arg(&bundle),
    );
    let draft = &drafts[0];
    assert_eq!(draft["ticket_id"], latest_id);
    check_replay(draft, &latest, Some(created_at));
}
