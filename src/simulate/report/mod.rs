//! Writes a simulation's reports: `summary.json`, `tickets.csv` and a self-contained `report.html`.
//!
//! Every file is rendered in memory first and then written atomically (temp file + rename), so a
//! crash or a full disk never leaves a half-written report that looks complete. Rendering is a
//! pure function of its inputs (no clock, no unseeded randomness): the same summary, tickets and
//! `card_seed` give byte-identical files, which makes reports diffable between runs.

mod cards;
pub mod compare;
pub mod html;
mod quality;
mod sections;
pub(crate) mod svg;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::model::{SimulationSummary, TicketResult, Verdict};

pub const SUMMARY_JSON: &str = "summary.json";
pub const TICKETS_CSV: &str = "tickets.csv";
pub const REPORT_HTML: &str = "report.html";

/// Where [`write_reports`] put each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaths {
    pub summary_json: PathBuf,
    pub tickets_csv: PathBuf,
    pub report_html: PathBuf,
}

/// A report that could not be written; always names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot create report directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialise {}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write CSV rows for {}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
}

/// Renders and writes the three reports into `out_dir` (created if missing). `card_seed` picks
/// the random sample of ticket cards in the HTML deterministically.
pub fn write_reports(
    out_dir: &Path,
    summary: &SimulationSummary,
    tickets: &[TicketResult],
    card_seed: u64,
) -> Result<ReportPaths, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let paths = ReportPaths {
        summary_json: out_dir.join(SUMMARY_JSON),
        tickets_csv: out_dir.join(TICKETS_CSV),
        report_html: out_dir.join(REPORT_HTML),
    };

    let mut json = serde_json::to_vec_pretty(summary).map_err(|source| ReportError::Json {
        path: paths.summary_json.clone(),
        source,
    })?;
    json.push(b'\n');
    write_atomic(&paths.summary_json, &json)?;

    let csv = tickets_csv(tickets).map_err(|source| ReportError::Csv {
        path: paths.tickets_csv.clone(),
        source,
    })?;
    write_atomic(&paths.tickets_csv, &csv)?;

    let page = html::render(summary, tickets, card_seed);
    write_atomic(&paths.report_html, page.as_bytes())?;
    Ok(paths)
}

/// Writes `bytes` to a sibling temp file, syncs it and renames it over `path`, so readers see
/// either the old file or the complete new one. The temp file is removed if anything fails.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let error = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.as_deref().unwrap_or("report"),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(error)
}

/// One `tickets.csv` row: every scalar metric, id lists joined with `;`, but not the long texts
/// (those are in the HTML cards; a CSV with multi-paragraph cells is painful in spreadsheets).
#[derive(Debug, Serialize)]
struct CsvRow {
    ticket_id: i64,
    product: Option<String>,
    product_name: Option<String>,
    created_at: String,
    kind: String,
    verdict: Verdict,
    confidence: Option<f32>,
    customer_language: Option<String>,
    draft_language: Option<String>,
    language_match: Option<bool>,
    reference_article_ids: String,
    cited_article_ids: String,
    first_correct_rank: Option<usize>,
    hit_at_1: Option<bool>,
    hit_at_3: Option<bool>,
    hit_at_5: Option<bool>,
    cosine: Option<f32>,
    rouge_l_f1: Option<f32>,
    length_ratio: Option<f32>,
    retrieval_millis: Option<f64>,
    generation_millis: Option<f64>,
    total_millis: Option<f64>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    source_keys: String,
    flags: String,
    llm_fallback: bool,
    structured_output: Option<String>,
    invented_ids_dropped: usize,
    links_removed: usize,
    unsupported_claims: usize,
    confidence_clamped: bool,
    prompt_sources_shown: Option<usize>,
    prompt_sources_left_out: Option<usize>,
    prompt_sources_shortened: Option<usize>,
}

fn tickets_csv(tickets: &[TicketResult]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if tickets.is_empty() {
        // serde-driven writers emit the header with the first row; write it explicitly so an
        // empty run still yields a well-formed CSV with its columns.
        writer.write_record(CSV_HEADER)?;
    }
    for ticket in tickets {
        writer.serialize(csv_row(ticket))?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

const CSV_HEADER: [&str; 35] = [
    "ticket_id",
    "product",
    "product_name",
    "created_at",
    "kind",
    "verdict",
    "confidence",
    "customer_language",
    "draft_language",
    "language_match",
    "reference_article_ids",
    "cited_article_ids",
    "first_correct_rank",
    "hit_at_1",
    "hit_at_3",
    "hit_at_5",
    "cosine",
    "rouge_l_f1",
    "length_ratio",
    "retrieval_millis",
    "generation_millis",
    "total_millis",
    "prompt_tokens",
    "completion_tokens",
    "source_keys",
    "flags",
    "llm_fallback",
    "structured_output",
    "invented_ids_dropped",
    "links_removed",
    "unsupported_claims",
    "confidence_clamped",
    "prompt_sources_shown",
    "prompt_sources_left_out",
    "prompt_sources_shortened",
];

fn csv_row(t: &TicketResult) -> CsvRow {
    let ids = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(";");
    // Non-finite numbers become empty cells: "NaN" would break numeric columns in spreadsheets.
    let f32_cell = |v: Option<f32>| v.filter(|v| v.is_finite());
    let f64_cell = |v: f64| v.is_finite().then_some(v);
    CsvRow {
        ticket_id: t.ticket_id,
        product: t.product.as_deref().map(spreadsheet_safe),
        product_name: t.product_name.as_deref().map(spreadsheet_safe),
        created_at: t.created_at.to_rfc3339(),
        kind: spreadsheet_safe(&t.kind),
        verdict: t.verdict,
        confidence: f32_cell(Some(t.confidence)),
        customer_language: t.customer_language.as_deref().map(spreadsheet_safe),
        draft_language: t.draft_language.as_deref().map(spreadsheet_safe),
        language_match: t.language_match,
        reference_article_ids: ids(&t.reference_article_ids),
        cited_article_ids: ids(&t.cited_article_ids),
        first_correct_rank: t.first_correct_rank,
        hit_at_1: t.hit_at_1,
        hit_at_3: t.hit_at_3,
        hit_at_5: t.hit_at_5,
        cosine: f32_cell(t.cosine),
        rouge_l_f1: f32_cell(t.rouge_l_f1),
        length_ratio: f32_cell(t.length_ratio),
        retrieval_millis: f64_cell(t.retrieval_millis),
        generation_millis: f64_cell(t.generation_millis),
        total_millis: f64_cell(t.retrieval_millis + t.generation_millis),
        prompt_tokens: t.prompt_tokens,
        completion_tokens: t.completion_tokens,
        source_keys: spreadsheet_safe(&join(t.sources.iter().map(|s| s.key.as_str()))),
        flags: spreadsheet_safe(&join(t.flags.iter().map(String::as_str))),
        llm_fallback: t.llm_fallback.is_some(),
        structured_output: t.structured_output.clone(),
        invented_ids_dropped: t.grounding.invented_ids_dropped,
        links_removed: t.grounding.links_removed,
        unsupported_claims: t.grounding.unsupported_claims,
        confidence_clamped: t.grounding.confidence_clamped,
        prompt_sources_shown: t.prompt_fit.as_ref().map(|f| f.sources_shown),
        prompt_sources_left_out: t.prompt_fit.as_ref().map(|f| f.sources_left_out()),
        prompt_sources_shortened: t.prompt_fit.as_ref().map(|f| f.sources_shortened),
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(";")
}

/// Text from the helpdesk (product names, flags) is opened in spreadsheets by support leads; a
/// cell starting with `=`, `+`, `-`, `@` or a control character would run as a formula there
/// (CSV injection), so such values get a leading apostrophe, which spreadsheets display as text.
fn spreadsheet_safe(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::simulate::model::{ReportSource, Verdict};
    use chrono::{TimeZone, Utc};

    /// A ticket with a hostile payload in every text field, for escaping tests.
    pub(crate) fn ticket(id: i64, verdict: Verdict, cosine: Option<f32>) -> TicketResult {
        let evil = "<script>alert(1)</script> & \"quotes\"";
        TicketResult {
            ticket_id: id,
            product: Some(format!("p{}", id % 3)),
            product_name: Some(format!("Product <{}>", id % 3)),
            created_at: Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap(),
            kind: if verdict == Verdict::NoDraft {
                "abstained"
            } else {
                "retrieval_only"
            }
            .into(),
            confidence: 0.1 * (id % 10) as f32,
            customer_language: Some("en".into()),
            draft_language: Some("en".into()),
            language_match: Some(true),
            reference_article_ids: vec![id, id + 1],
            cited_article_ids: vec![id + 1, 7],
            first_correct_rank: (verdict == Verdict::Good).then_some(1),
            hit_at_1: Some(verdict == Verdict::Good),
            hit_at_3: Some(verdict == Verdict::Good),
            hit_at_5: Some(verdict == Verdict::Good),
            cosine,
            rouge_l_f1: cosine.map(|c| c / 2.0),
            length_ratio: Some(1.1),
            retrieval_millis: 12.5,
            generation_millis: 300.0,
            prompt_tokens: Some(100),
            completion_tokens: None,
            verdict,
            customer_text: format!("Help {evil}\nsecond line"),
            reference_reply: format!("Reply {evil}"),
            draft_text: format!("Draft {evil}"),
            flags: vec!["=cmd|evil".into(), "stale_source".into()],
            sources: vec![ReportSource {
                key: "article:1".into(),
                title: format!("Title {evil}"),
                url: Some("javascript:alert(1)".into()),
                created_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
                age_days: None,
                similarity: 0.8,
            }],
            foreign_specifics: 0,
            scrubbed_specifics: usize::from(verdict == Verdict::Good),
            llm_fallback: None,
            grounding: Default::default(),
            structured_output: None,
            prompt_fit: None,
        }
    }

    #[test]
    fn csv_has_one_row_per_ticket_and_parses_back() {
        let tickets: Vec<_> = (1..=7)
            .map(|i| ticket(i, Verdict::Good, Some(0.7)))
            .collect();
        let bytes = tickets_csv(&tickets).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, CSV_HEADER);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), tickets.len());
        assert_eq!(&rows[0][0], "1");
        assert_eq!(&rows[0][10], "1;2", "reference ids joined with ;");
        assert_eq!(&rows[0][5], "good");
        assert_eq!(&rows[0][22], "100");
        assert_eq!(&rows[0][23], "", "None is an empty cell");
        assert_eq!(
            &rows[0][25], "'=cmd|evil;stale_source",
            "formula neutralised"
        );
        assert!(
            !String::from_utf8(bytes).unwrap().contains("<script>"),
            "no long texts"
        );
    }

    #[test]
    fn empty_csv_still_has_header() {
        let bytes = tickets_csv(&[]).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(reader.headers().unwrap().len(), CSV_HEADER.len());
        assert_eq!(reader.records().count(), 0);
    }

    #[test]
    fn writes_three_files_deterministically() {
        let dir = tempfile::tempdir().unwrap();
        let tickets: Vec<_> = (1..=30)
            .map(|i| {
                ticket(
                    i,
                    [Verdict::Good, Verdict::Poor, Verdict::NoDraft][i as usize % 3],
                    Some(0.5),
                )
            })
            .collect();
        let summary = SimulationSummary::default();
        let first = write_reports(&dir.path().join("a"), &summary, &tickets, 42).unwrap();
        let second = write_reports(&dir.path().join("b"), &summary, &tickets, 42).unwrap();
        for (a, b) in [
            (&first.summary_json, &second.summary_json),
            (&first.tickets_csv, &second.tickets_csv),
            (&first.report_html, &second.report_html),
        ] {
            assert_eq!(
                std::fs::read(a).unwrap(),
                std::fs::read(b).unwrap(),
                "{a:?}"
            );
        }
        let json: SimulationSummary =
            serde_json::from_slice(&std::fs::read(&first.summary_json).unwrap()).unwrap();
        assert_eq!(json, summary);
        let leftovers = std::fs::read_dir(dir.path().join("a")).unwrap().count();
        assert_eq!(leftovers, 3, "no temp files left behind");
    }

    #[test]
    fn error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the HTML should go makes the rename fail.
        std::fs::create_dir_all(dir.path().join(REPORT_HTML).join("x")).unwrap();
        let err = write_reports(dir.path(), &SimulationSummary::default(), &[], 1).unwrap_err();
        assert!(err.to_string().contains(REPORT_HTML), "{err}");
    }
}
