//! Reads and writes the bundle format: a folder with `tickets.jsonl[.gz]` (tickets with embedded
//! conversations), optional `articles.jsonl[.gz]` and `canned_responses.jsonl[.gz]`, and
//! `meta.json`. Reading streams line by line so
//! a 40k-ticket bundle is never held in memory twice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{Article, CannedResponse, Ticket};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: not a bundle folder (expected tickets.jsonl or tickets.jsonl.gz inside)")]
    NotABundle { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A line that does not parse; `file:line: what is wrong`.
    #[error("{path}:{line}: {problem}")]
    InvalidLine {
        path: String,
        line: usize,
        problem: String,
    },
    #[error("{path}: invalid meta.json: {problem}")]
    InvalidMeta { path: String, problem: String },
}

/// `meta.json`: descriptive, every field optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BundleMeta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub license: Option<String>,
    /// Product id (as text) to product name.
    #[serde(default)]
    pub products: BTreeMap<String, String>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// An opened bundle folder.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    tickets_path: PathBuf,
    articles_path: Option<PathBuf>,
    canned_responses_path: Option<PathBuf>,
    pub meta: BundleMeta,
}

fn existing(dir: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.jsonl"), format!("{stem}.jsonl.gz")]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

impl Bundle {
    pub fn open(dir: &Path) -> Result<Self, BundleError> {
        let tickets_path = existing(dir, "tickets").ok_or_else(|| BundleError::NotABundle {
            path: dir.display().to_string(),
        })?;
        let articles_path = existing(dir, "articles");
        let canned_responses_path = existing(dir, "canned_responses");
        let meta_path = dir.join("meta.json");
        let meta = if meta_path.is_file() {
            let text = std::fs::read_to_string(&meta_path).map_err(|source| BundleError::Io {
                path: meta_path.display().to_string(),
                source,
            })?;
            serde_json::from_str(&text).map_err(|e| BundleError::InvalidMeta {
                path: meta_path.display().to_string(),
                problem: e.to_string(),
            })?
        } else {
            BundleMeta::default()
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            tickets_path,
            articles_path,
            canned_responses_path,
            meta,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stream tickets in file order.
    pub fn tickets(&self) -> Result<JsonLines<Ticket>, BundleError> {
        JsonLines::open(&self.tickets_path)
    }

    /// Stream articles in file order; empty when the bundle has none.
    pub fn articles(&self) -> Result<Option<JsonLines<Article>>, BundleError> {
        self.articles_path
            .as_deref()
            .map(JsonLines::open)
            .transpose()
    }

    /// Stream canned responses in file order; empty when the bundle has none.
    pub fn canned_responses(&self) -> Result<Option<JsonLines<CannedResponse>>, BundleError> {
        self.canned_responses_path
            .as_deref()
            .map(JsonLines::open)
            .transpose()
    }

    /// SHA-256 of each data file, for reports that must say exactly what they measured.
    pub fn checksums(&self) -> Result<BTreeMap<String, String>, BundleError> {
        let mut sums = BTreeMap::new();
        let mut files = vec![self.tickets_path.clone()];
        files.extend(self.articles_path.clone());
        files.extend(self.canned_responses_path.clone());
        let meta = self.dir.join("meta.json");
        if meta.is_file() {
            files.push(meta);
        }
        for path in files {
            let mut file = File::open(&path).map_err(|source| BundleError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let mut hasher = Sha256::new();
            std::io::copy(&mut file, &mut hasher).map_err(|source| BundleError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            sums.insert(name, hex::encode(hasher.finalize()));
        }
        Ok(sums)
    }

    /// Product name for a product id, when `meta.json` lists it.
    pub fn product_name(&self, product: &str) -> Option<&str> {
        self.meta.products.get(product).map(String::as_str)
    }
}

/// A streaming reader of one JSON object per line, with `file:line` errors.
pub struct JsonLines<T> {
    path: String,
    reader: Box<dyn BufRead + Send>,
    line_number: usize,
    buffer: String,
    _item: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonLines<T> {
    pub fn open(path: &Path) -> Result<Self, BundleError> {
        let file = File::open(path).map_err(|source| BundleError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let raw: Box<dyn Read + Send> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Ok(Self::from_reader(
            &path.display().to_string(),
            BufReader::with_capacity(1 << 16, raw),
        ))
    }

    /// Lines from any reader; `name` is what errors call it.
    pub fn from_reader(name: &str, reader: impl BufRead + Send + 'static) -> Self {
        Self {
            path: name.to_string(),
            reader: Box::new(reader),
            line_number: 0,
            buffer: String::new(),
            _item: PhantomData,
        }
    }
}

/// The longest line a bundle may have: a ticket with every conversation is a few hundred
/// kilobytes at most; a longer line is a broken file, not a ticket to hold in memory.
pub const MAX_LINE_BYTES: u64 = 32 * 1024 * 1024;

impl<T: DeserializeOwned> Iterator for JsonLines<T> {
    /// `(line number, parsed item or error)`.
    type Item = Result<T, BundleError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buffer.clear();
            self.line_number += 1;
            match (&mut self.reader)
                .take(MAX_LINE_BYTES + 1)
                .read_line(&mut self.buffer)
            {
                Ok(0) => return None,
                Ok(read) if read as u64 > MAX_LINE_BYTES => {
                    // Skip the rest of the overlong line so reading can go on after it.
                    let _ = skip_line(&mut self.reader);
                    return Some(Err(BundleError::InvalidLine {
                        path: self.path.clone(),
                        line: self.line_number,
                        problem: format!("longer than {MAX_LINE_BYTES} bytes"),
                    }));
                }
                Ok(_) => {}
                Err(error) => {
                    return Some(Err(BundleError::InvalidLine {
                        path: self.path.clone(),
                        line: self.line_number,
                        problem: format!("cannot read line: {error}"),
                    }));
                }
            }
            let line = self.buffer.trim();
            if line.is_empty() {
                continue;
            }
            return Some(
                serde_json::from_str(line).map_err(|error| BundleError::InvalidLine {
                    path: self.path.clone(),
                    line: self.line_number,
                    problem: error.to_string(),
                }),
            );
        }
    }
}

/// Consumes input up to and including the next newline.
fn skip_line(reader: &mut dyn BufRead) -> std::io::Result<()> {
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        if let Some(newline) = available.iter().position(|b| *b == b'\n') {
            reader.consume(newline + 1);
            return Ok(());
        }
        let length = available.len();
        reader.consume(length);
    }
}

/// Writes a bundle folder (used by `export`); lines are appended so an export can resume.
pub struct BundleWriter {
    dir: PathBuf,
}

impl BundleWriter {
    pub fn create(dir: &Path, meta: &BundleMeta) -> Result<Self, BundleError> {
        let io = |source| BundleError::Io {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let meta_text = serde_json::to_string_pretty(meta).unwrap_or_else(|_| "{}".to_string());
        std::fs::write(dir.join("meta.json"), meta_text).map_err(io)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn append_lines<T: Serialize>(&self, file_name: &str, items: &[T]) -> Result<(), BundleError> {
        use std::io::Write;
        let path = self.dir.join(file_name);
        let io = |source| BundleError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let mut text = String::new();
        for item in items {
            text.push_str(&serde_json::to_string(item).unwrap_or_default());
            text.push('\n');
        }
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }

    pub fn append_tickets(&self, tickets: &[Ticket]) -> Result<(), BundleError> {
        self.append_lines("tickets.jsonl", tickets)
    }

    pub fn append_articles(&self, articles: &[Article]) -> Result<(), BundleError> {
        self.append_lines("articles.jsonl", articles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlong_line_is_an_error_and_reading_goes_on_after_it() {
        let long = format!("{{\"id\": \"{}\"}}", "x".repeat(MAX_LINE_BYTES as usize));
        let input = format!("{{\"id\": 1}}\n{long}\n{{\"id\": 3}}\nnot json\n");
        let lines: Vec<Result<serde_json::Value, BundleError>> =
            JsonLines::from_reader("input", std::io::Cursor::new(input.into_bytes())).collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].as_ref().unwrap()["id"], 1);
        let error = lines[1].as_ref().unwrap_err().to_string();
        assert!(error.starts_with("input:2: longer than"), "{error}");
        assert_eq!(lines[2].as_ref().unwrap()["id"], 3);
        assert!(
            lines[3]
                .as_ref()
                .unwrap_err()
                .to_string()
                .starts_with("input:4:")
        );
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    const TICKET: &str = r#"{"id": 7, "subject": "Hi", "description": "<p>x</p>", "status": 5, "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T01:00:00Z", "unknown_field": {"a": 1}, "tags": null}"#;

    #[test]
    fn reads_plain_and_gzipped_bundles_tolerating_unknown_fields_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "tickets.jsonl",
            &format!("{TICKET}\n\n{TICKET}\n"),
        );
        let bundle = Bundle::open(dir.path()).unwrap();
        let tickets: Vec<Ticket> = bundle.tickets().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(tickets.len(), 2);
        assert!(tickets[0].tags.is_empty());
        assert!(bundle.articles().unwrap().is_none());

        let gz_dir = tempfile::tempdir().unwrap();
        let mut encoder = flate2::write::GzEncoder::new(
            File::create(gz_dir.path().join("tickets.jsonl.gz")).unwrap(),
            flate2::Compression::fast(),
        );
        std::io::Write::write_all(&mut encoder, format!("{TICKET}\n").as_bytes()).unwrap();
        encoder.finish().unwrap();
        let count = Bundle::open(gz_dir.path())
            .unwrap()
            .tickets()
            .unwrap()
            .count();
        assert_eq!(count, 1);
    }

    #[test]
    fn a_malformed_line_reports_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "tickets.jsonl",
            &format!("{TICKET}\n{{\"id\": \"seven\"}}\n"),
        );
        let bundle = Bundle::open(dir.path()).unwrap();
        let results: Vec<_> = bundle.tickets().unwrap().collect();
        assert!(results[0].is_ok());
        let error = results[1].as_ref().unwrap_err().to_string();
        assert!(error.contains("tickets.jsonl:2:"), "{error}");
    }

    #[test]
    fn a_folder_without_tickets_is_not_a_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let error = Bundle::open(dir.path()).unwrap_err();
        assert!(matches!(error, BundleError::NotABundle { .. }));
    }

    #[test]
    fn written_bundles_read_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let ticket: Ticket = serde_json::from_str(TICKET).unwrap();
        let writer = BundleWriter::create(dir.path(), &BundleMeta::default()).unwrap();
        writer
            .append_tickets(std::slice::from_ref(&ticket))
            .unwrap();
        let bundle = Bundle::open(dir.path()).unwrap();
        let read: Vec<Ticket> = bundle.tickets().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(read, vec![ticket]);
    }
}
