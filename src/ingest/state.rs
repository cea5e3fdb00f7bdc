//! Remembers what has been indexed (content hash and chunk count per document), so re-ingesting
//! unchanged content costs almost nothing and shrinking documents leave no stale chunks.
//!
//! The state is written atomically (temp file + rename) only after the store has flushed the batch
//! it describes; a crash in between means the next run re-embeds that batch, never that it is lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::IndexedDocument;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: ingest state is corrupt ({problem}); delete it to re-index everything")]
    Corrupt { path: String, problem: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentState {
    pub content_hash: String,
    pub chunk_count: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IngestState {
    /// Keyed by document key (`case:123`).
    pub documents: BTreeMap<String, DocumentState>,
    pub last_ingest_finished: Option<DateTime<Utc>>,
    /// Model the vectors were made with; a different model means everything is re-embedded.
    pub embedding_model: Option<String>,
    #[serde(skip)]
    path: PathBuf,
}

impl IngestState {
    pub fn load(path: &Path) -> Result<Self, StateError> {
        if !path.exists() {
            return Ok(Self {
                path: path.to_path_buf(),
                ..Self::default()
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut state: Self = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
            path: path.display().to_string(),
            problem: e.to_string(),
        })?;
        state.path = path.to_path_buf();
        Ok(state)
    }

    pub fn save(&self) -> Result<(), StateError> {
        write_json_atomically(&self.path, self)
    }
}

/// Temp file + rename: a crash leaves either the old or the new file, never half of one.
pub(crate) fn write_json_atomically(path: &Path, value: &impl Serialize) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let temporary = path.with_extension("json.tmp");
    let text = serde_json::to_vec(value).expect("state always serialises");
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

/// Hash of everything that affects a document's points: its content and metadata, the chunking
/// parameters and the embedding model.
pub fn document_content_hash(document: &IndexedDocument, chunking_and_model: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(document).expect("documents always serialise"));
    hasher.update(b"\x00");
    hasher.update(chunking_and_model.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_corrupt_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = IngestState::load(&path).unwrap();
        state.documents.insert(
            "case:1".into(),
            DocumentState {
                content_hash: "abc".into(),
                chunk_count: 2,
            },
        );
        state.save().unwrap();
        assert_eq!(IngestState::load(&path).unwrap().documents, state.documents);
        std::fs::write(&path, "{not json").unwrap();
        let error = IngestState::load(&path).unwrap_err().to_string();
        assert!(error.contains("corrupt"), "{error}");
    }
}
