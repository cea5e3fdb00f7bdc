//! Splits documents into chunks sized in the embedding model's own tokens (`text-splitter` with the
//! model's tokenizer), so no chunk is silently truncated by the model.

use std::sync::Arc;

use text_splitter::{ChunkConfig, TextSplitter};
use tokenizers::Tokenizer;

use crate::domain::IndexedDocument;

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("invalid chunk configuration: {0}")]
    Config(String),
}

/// One piece of a document, as it will be embedded.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentChunk {
    pub chunk_number: usize,
    /// Text that is embedded and stored; later chunks repeat the title for context.
    pub text: String,
}

/// A tokenizer-aware splitter shared across the pipeline.
pub struct Chunker {
    splitter: TextSplitter<Tokenizer>,
}

impl Chunker {
    /// `tokenizer` must have truncation and padding disabled, or sizes would be capped and lie.
    pub fn new(
        tokenizer: Arc<Tokenizer>,
        max_tokens: usize,
        overlap_tokens: usize,
    ) -> Result<Self, ChunkError> {
        let config = ChunkConfig::new(max_tokens)
            .with_sizer((*tokenizer).clone())
            .with_overlap(overlap_tokens)
            .map_err(|e| ChunkError::Config(e.to_string()))?;
        Ok(Self {
            splitter: TextSplitter::new(config),
        })
    }

    /// Chunks of a document; never empty (an empty body yields the title as its only chunk).
    pub fn chunk_document(&self, document: &IndexedDocument) -> Vec<DocumentChunk> {
        let pieces: Vec<&str> = self.splitter.chunks(&document.body).collect();
        if pieces.is_empty() {
            return vec![DocumentChunk {
                chunk_number: 0,
                text: document.title.clone(),
            }];
        }
        pieces
            .into_iter()
            .enumerate()
            .map(|(chunk_number, piece)| {
                let text = if chunk_number == 0 || document.title.is_empty() {
                    piece.to_string()
                } else {
                    format!("{}\n{}", document.title, piece)
                };
                DocumentChunk { chunk_number, text }
            })
            .collect()
    }
}

/// A tokenizer loaded from `tokenizer.json` with its shipped truncation and padding removed.
pub fn sizing_tokenizer(path: &std::path::Path) -> Result<Tokenizer, String> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| e.to_string())?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).map_err(|e| e.to_string())?;
    Ok(tokenizer)
}
