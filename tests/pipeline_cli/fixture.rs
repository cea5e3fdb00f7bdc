//! The shared fixture (the demo data embedded once per test binary) and helpers that run the
//! binary and read its data folder.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn demo_bundle() -> PathBuf {
    repo().join("knowledge/demo-bundle")
}

pub(crate) fn demo_docs() -> PathBuf {
    repo().join("knowledge/docs")
}

/// The binary, isolated from the caller's environment: absolute model and prompt paths, a
/// working directory without a `deskdraft.toml`, no inherited `DESKDRAFT_*` settings.
pub(crate) fn deskdraft(data_dir: &Path) -> Command {
    static WORK_DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let work_dir = WORK_DIR.get_or_init(|| tempfile::tempdir().expect("temporary directory"));
    let mut command = crate::support::binary::isolated_deskdraft(work_dir.path());
    command
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .arg("--data-dir")
        .arg(data_dir);
    command
}

/// Report a skipped test where it is seen: straight to the process's stderr, which the test
/// harness does not capture (unlike `println!`/`eprintln!`).
pub(crate) fn report_skip(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

pub(crate) fn run(command: &mut Command) -> Output {
    command.output().expect("the deskdraft binary runs")
}

pub(crate) fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Run, require exit 0, parse stdout as JSON.
pub(crate) fn run_json(command: &mut Command) -> Value {
    let output = run(command);
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", describe(&output)))
}

pub(crate) fn ingest(data_dir: &Path, bundle: &Path, knowledge: Option<&Path>) -> Value {
    let mut command = deskdraft(data_dir);
    command.arg("ingest").arg("--bundle").arg(bundle);
    if let Some(knowledge) = knowledge {
        command.arg("--knowledge").arg(knowledge);
    }
    run_json(&mut command)
}

pub(crate) fn stats(data_dir: &Path) -> Value {
    run_json(deskdraft(data_dir).args(["stats", "--json"]))
}

pub(crate) fn int(value: &Value, pointer: &str) -> u64 {
    value
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in {value:#}"))
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
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

pub(crate) fn read_jsonl(path: &Path) -> Vec<Value> {
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

pub(crate) fn write_jsonl(path: &Path, items: &[Value]) {
    let text: String = items
        .iter()
        .map(|item| serde_json::to_string(item).unwrap() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

/// Copy of the demo bundle whose tickets `edit` may change.
pub(crate) fn edited_bundle(dir: &Path, edit: impl FnOnce(&mut Vec<Value>)) -> PathBuf {
    let bundle = dir.join("bundle");
    copy_dir(&demo_bundle(), &bundle);
    let mut tickets = read_jsonl(&bundle.join("tickets.jsonl"));
    edit(&mut tickets);
    write_jsonl(&bundle.join("tickets.jsonl"), &tickets);
    bundle
}

/// Per-document chunk counts recorded by the last ingest.
pub(crate) fn state_chunks(data_dir: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(data_dir.join("ingest-state.json")).unwrap();
    let state: Value = serde_json::from_str(&text).unwrap();
    state["documents"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, doc)| (key.clone(), doc["chunk_count"].as_u64().unwrap()))
        .collect()
}

pub(crate) fn parse_time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {value}"))
        .to_utc()
}

// ---------------------------------------------------------------------------------------------
// What the demo data should produce, computed from the files themselves
// ---------------------------------------------------------------------------------------------

pub(crate) struct Expected {
    pub(crate) cases: u64,
    pub(crate) bundle_articles: u64,
    pub(crate) docs: u64,
    pub(crate) ineligible: u64,
}

pub(crate) fn is_public_agent_reply(conversation: &Value) -> bool {
    conversation["incoming"] != Value::Bool(true)
        && conversation["private"] != Value::Bool(true)
        && matches!(conversation["source"].as_i64(), None | Some(0))
}

pub(crate) fn is_indexable_case(ticket: &Value) -> bool {
    matches!(ticket["status"].as_i64(), Some(4 | 5))
        && ticket["spam"] != Value::Bool(true)
        && ticket["deleted"] != Value::Bool(true)
        && ticket["conversations"]
            .as_array()
            .is_some_and(|c| c.iter().any(is_public_agent_reply))
}

pub(crate) fn expected_demo() -> Expected {
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

pub(crate) struct Base {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) data_dir: PathBuf,
    pub(crate) summary: Value,
    pub(crate) stats: Value,
}

/// The demo bundle and docs ingested once into a fresh data dir; never written to afterwards.
pub(crate) fn base() -> &'static Base {
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
pub(crate) fn base_copy(dir: &Path) -> PathBuf {
    let data_dir = dir.join("data");
    copy_dir(&base().data_dir, &data_dir);
    data_dir
}

// ---------------------------------------------------------------------------------------------
// Ingest
// ---------------------------------------------------------------------------------------------
