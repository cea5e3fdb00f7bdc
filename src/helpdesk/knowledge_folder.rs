//! Reads a knowledge folder: Markdown or HTML files with a small YAML front matter (title, url,
//! tags, product, created_at) become knowledge-base articles, so teams can add documents that are
//! not in Freshdesk.
//!
//! Ids are negative (derived from the file's relative path) so they can never collide with
//! Freshdesk's positive article ids, and stay stable when the file is edited.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use once_cell::sync::Lazy;
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::Article;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeFolderError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: invalid front matter: {problem}")]
    FrontMatter { path: String, problem: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Option<String>,
    url: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    product: Option<i64>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    /// `agents` for internal documents: used as knowledge and shown to agents among a note's
    /// sources, never linked in a reply to a customer. Default `public`.
    #[serde(default)]
    audience: Audience,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Audience {
    #[default]
    Public,
    Agents,
}

/// Every `.md`, `.markdown`, `.html` and `.htm` file below `dir`, in path order, as articles.
///
/// Documents without `created_at` are treated as timeless (dated 1970-01-01) so a replay of past
/// tickets may use them; give a date when that would be a leak.
pub fn read_knowledge_folder(dir: &Path) -> Result<Vec<Article>, KnowledgeFolderError> {
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    files.sort();
    files.iter().map(|path| read_document(dir, path)).collect()
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), KnowledgeFolderError> {
    let io = |source| KnowledgeFolderError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            matches!(
                e.to_ascii_lowercase().as_str(),
                "md" | "markdown" | "html" | "htm"
            )
        }) {
            files.push(path);
        }
    }
    Ok(())
}

fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let text = text.trim_start_matches('\u{feff}');
    let Some(rest) = text.strip_prefix("---") else {
        return (None, text);
    };
    let rest = rest.trim_start_matches(['\r', '\n']);
    match rest.find("\n---") {
        Some(end) => {
            let after = &rest[end + 4..];
            let body = after.split_once('\n').map(|(_, body)| body).unwrap_or("");
            (Some(&rest[..end]), body)
        }
        None => (None, text),
    }
}

/// Stable negative id from the path relative to the folder.
fn knowledge_document_id(relative_path: &str) -> i64 {
    let digest = Sha256::digest(relative_path.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    let positive = (u64::from_be_bytes(bytes) >> 2) as i64; // < 2^62
    -(positive + 1)
}

static MARKDOWN_LINK: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"\[([^\]]+)\]\((https?://[^)\s]+)\)").expect("valid regex"));
static MARKDOWN_MARKUP: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?m)^#{1,6}\s+|\*\*|__|`").expect("valid regex"));

/// Markdown to plain text: keep link targets visible, drop heading and emphasis markers.
fn markdown_to_text(markdown: &str) -> String {
    let linked = MARKDOWN_LINK.replace_all(markdown, "$1 ($2)");
    MARKDOWN_MARKUP.replace_all(&linked, "").trim().to_string()
}

fn first_heading(body: &str) -> Option<String> {
    body.lines()
        .find_map(|line| line.strip_prefix("# "))
        .map(|title| title.trim().to_string())
}

fn read_document(root: &Path, path: &Path) -> Result<Article, KnowledgeFolderError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KnowledgeFolderError::Io {
        path: display.clone(),
        source,
    })?;
    let (front, body) = split_front_matter(&text);
    let front: FrontMatter = match front {
        Some(yaml) => {
            serde_yaml_ng::from_str(yaml).map_err(|e| KnowledgeFolderError::FrontMatter {
                path: display.clone(),
                problem: e.to_string(),
            })?
        }
        None => FrontMatter::default(),
    };
    let is_html = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    let (html, plain) = if is_html {
        (body.to_string(), crate::ingest::clean::html_to_text(body))
    } else {
        (String::new(), markdown_to_text(body))
    };
    let relative = path
        .strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
    let title = front
        .title
        .or_else(|| if is_html { None } else { first_heading(body) })
        .unwrap_or_else(|| relative.clone());
    let created_at = front.created_at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok(Article {
        id: knowledge_document_id(&relative),
        title,
        description: html,
        description_text: Some(plain),
        status: 2,
        folder_id: None,
        category_id: None,
        tags: front.tags,
        url: front.url,
        product_id: front.product,
        // Freshdesk's folder visibility 3 ("agents") is what an internal document is.
        folder_visibility: (front.audience == Audience::Agents).then_some(3),
        created_at,
        updated_at: front.updated_at.unwrap_or(created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_with_front_matter_becomes_an_article() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("guides")).unwrap();
        std::fs::write(
            dir.path().join("guides/descale.md"),
            "---\ntitle: Descaling\nurl: https://example.com/descale\ntags: [device, care]\nproduct: 1\n---\n# Descaling\nUse **citric** acid, see [the guide](https://example.com/g).\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let articles = read_knowledge_folder(dir.path()).unwrap();
        assert_eq!(articles.len(), 1);
        let article = &articles[0];
        assert_eq!(article.title, "Descaling");
        assert_eq!(article.url.as_deref(), Some("https://example.com/descale"));
        assert_eq!(article.tags, vec!["device", "care"]);
        assert_eq!(article.product_id, Some(1));
        assert!(article.id < 0);
        let text = article.description_text.as_deref().unwrap();
        assert!(
            text.contains("Use citric acid, see the guide (https://example.com/g)."),
            "{text}"
        );
        // The id depends only on the relative path, so edits keep it.
        assert_eq!(article.id, knowledge_document_id("guides/descale.md"));
    }

    #[test]
    fn bad_front_matter_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.md"), "---\ntitel: Oops\n---\nbody\n").unwrap();
        let error = read_knowledge_folder(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("bad.md") && error.contains("titel"),
            "{error}"
        );
    }

    #[test]
    fn a_file_without_front_matter_uses_its_heading() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), "# Returns policy\n30 days.\n").unwrap();
        let articles = read_knowledge_folder(dir.path()).unwrap();
        assert_eq!(articles[0].title, "Returns policy");
        assert_eq!(articles[0].created_at, DateTime::<Utc>::UNIX_EPOCH);
    }
}
