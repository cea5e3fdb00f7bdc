//! In-process dense embedder: sentence-transformers/all-MiniLM-L6-v2 run on the CPU.
//!
//! Reproduces the sentence-transformers pipeline of that model: BERT tokenizer (truncated to 256
//! tokens including `[CLS]`/`[SEP]`), the BERT encoder in f32 (our own forward pass in
//! [`super::bert_forward`]), mean pooling over the real tokens, L2 normalisation. The model files
//! come from `scripts/fetch-model.sh`.
//!
//! A call's texts are sorted by token length and cut into sub-batches (see [`plan_sub_batches`])
//! that bound the working memory; results are returned in the input order.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::bert_forward::{BertDims, BertEncoder};
use super::{DenseEmbedder, EmbedError};

/// Identifier recorded with collections built by this embedder.
pub const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// Output dimensions of all-MiniLM-L6-v2.
pub const DIMENSIONS: usize = 384;
/// Largest batch the embedder wants per call.
pub const MAX_BATCH: usize = 64;
/// sentence-transformers' `max_seq_length` for this model, special tokens included.
pub const MAX_SEQ_LEN: usize = 256;

const WEIGHTS_FILE: &str = "model.safetensors";
const TOKENIZER_FILE: &str = "tokenizer.json";
const CONFIG_FILE: &str = "config.json";
const POOLING_CONFIG_FILE: &str = "1_Pooling/config.json";

/// all-MiniLM-L6-v2 embedder running in-process. Cheap to clone (shares the loaded model).
#[derive(Clone)]
pub struct LocalMiniLmEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertEncoder,
    /// Truncates to [`MAX_SEQ_LEN`] tokens; never pads (padding is done per sub-batch here).
    encoder: Tokenizer,
    /// Same tokenizer with padding and truncation disabled, for sizing chunks.
    plain: Arc<Tokenizer>,
}

impl std::fmt::Debug for LocalMiniLmEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMiniLmEmbedder")
            .field("model_id", &MODEL_ID)
            .finish_non_exhaustive()
    }
}

impl LocalMiniLmEmbedder {
    /// Loads the model from a folder holding `model.safetensors`, `tokenizer.json` and
    /// `config.json` (as laid out by `scripts/fetch-model.sh`).
    pub fn load(model_dir: &Path) -> Result<Self, EmbedError> {
        let dir_display = model_dir.display().to_string();
        for file in [WEIGHTS_FILE, TOKENIZER_FILE, CONFIG_FILE] {
            if !model_dir.join(file).is_file() {
                return Err(EmbedError::ModelMissing { path: dir_display });
            }
        }
        let invalid = |reason: String| EmbedError::ModelInvalid {
            path: dir_display.clone(),
            reason,
        };

        let config_text = std::fs::read_to_string(model_dir.join(CONFIG_FILE))
            .map_err(|e| invalid(format!("cannot read {CONFIG_FILE}: {e}")))?;
        let config: BertDims = serde_json::from_str(&config_text)
            .map_err(|e| invalid(format!("{CONFIG_FILE} is not a BERT config: {e}")))?;
        if config.hidden_size != DIMENSIONS {
            return Err(invalid(format!(
                "hidden size is {}, expected {DIMENSIONS} for all-MiniLM-L6-v2",
                config.hidden_size
            )));
        }
        if config.max_position_embeddings < MAX_SEQ_LEN {
            return Err(invalid(format!(
                "max_position_embeddings is {}, below the {MAX_SEQ_LEN} tokens this embedder feeds",
                config.max_position_embeddings
            )));
        }
        check_pooling_config(model_dir).map_err(invalid)?;

        let mut plain = Tokenizer::from_file(model_dir.join(TOKENIZER_FILE))
            .map_err(|e| invalid(format!("cannot load {TOKENIZER_FILE}: {e}")))?;
        plain.with_padding(None);
        plain
            .with_truncation(None)
            .map_err(|e| invalid(format!("cannot reset tokenizer truncation: {e}")))?;
        let mut encoder = plain.clone();
        encoder
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: MAX_SEQ_LEN,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| invalid(format!("cannot set tokenizer truncation: {e}")))?;

        let weights = std::fs::read(model_dir.join(WEIGHTS_FILE))
            .map_err(|e| invalid(format!("cannot read {WEIGHTS_FILE}: {e}")))?;
        let model = BertEncoder::from_safetensors(&weights, config).map_err(|e| {
            invalid(format!(
                "{WEIGHTS_FILE} does not hold a matching BERT model: {e}"
            ))
        })?;

        Ok(Self {
            inner: Arc::new(Inner {
                model,
                encoder,
                plain: Arc::new(plain),
            }),
        })
    }

    /// The model's tokenizer with padding and truncation disabled (for sizing chunks in tokens).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.inner.plain
    }

    /// Shared handle to the same tokenizer as [`Self::tokenizer`].
    pub fn tokenizer_arc(&self) -> Arc<Tokenizer> {
        Arc::clone(&self.inner.plain)
    }

    /// Embeds `texts` on the calling thread (CPU-bound; don't call from an async task).
    /// Output order matches input order; vectors are L2-normalised.
    pub fn embed_sync(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed(texts)
    }
}

fn check_pooling_config(model_dir: &Path) -> Result<(), String> {
    let path = model_dir.join(POOLING_CONFIG_FILE);
    if !path.is_file() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {POOLING_CONFIG_FILE}: {e}"))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{POOLING_CONFIG_FILE} is not JSON: {e}"))?;
    if value
        .get("pooling_mode_mean_tokens")
        .and_then(serde_json::Value::as_bool)
        == Some(false)
    {
        return Err(format!(
            "{POOLING_CONFIG_FILE} does not use mean pooling, which this embedder implements"
        ));
    }
    Ok(())
}

impl Inner {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .encoder
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| EmbedError::Inference(format!("tokenization failed: {e}")))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();

        // Shortest first: sub-batches then hold similar lengths, which splits them evenly
        // across threads in the forward pass.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let lengths: Vec<usize> = order.iter().map(|&i| ids[i].len()).collect();

        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for range in plan_sub_batches(&lengths, MAX_BATCH) {
            let members = &order[range];
            let batch: Vec<&[u32]> = members.iter().map(|&i| ids[i]).collect();
            let vectors = self.forward_pooled(&batch)?;
            for (&i, v) in members.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Runs one sub-batch through BERT; returns mean-pooled, L2-normalised vectors.
    fn forward_pooled(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model
            .embed(batch, rayon::current_num_threads())
            .map_err(EmbedError::Inference)
    }
}

/// Most tokens one sub-batch may hold. The forward pass needs ~15 KiB of scratch per token, so
/// this bounds a call's working memory to ~60 MiB; a sub-batch this size already keeps both
/// cores' matrix products efficient.
const MAX_SUB_BATCH_TOKENS: usize = 4096;

/// Cuts length-sorted sequences into contiguous sub-batches of at most `max_rows` rows and
/// [`MAX_SUB_BATCH_TOKENS`] tokens (a longer single sequence gets a sub-batch of its own).
///
/// The forward pass packs sequences without padding, so unlike a padded batch there is nothing
/// to gain from cutting more often: fewer, larger sub-batches keep the matrix products large.
fn plan_sub_batches(lengths: &[usize], max_rows: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut tokens) = (0, 0);
    for (i, &len) in lengths.iter().enumerate() {
        if i > start && (i - start == max_rows || tokens + len > MAX_SUB_BATCH_TOKENS) {
            ranges.push(start..i);
            (start, tokens) = (i, 0);
        }
        tokens += len;
    }
    if start < lengths.len() {
        ranges.push(start..lengths.len());
    }
    ranges
}

#[async_trait]
impl DenseEmbedder for LocalMiniLmEmbedder {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dimensions(&self) -> usize {
        DIMENSIONS
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // One query (a draft's retrieval) runs right here when the runtime allows blocking in
        // place: handing it to a blocking-pool thread cost a thread wake-up, about 1 ms of a
        // 7 ms embedding on a 2-core VM. Batches keep to the blocking pool.
        if texts.len() == 1 && crate::runtime::can_block_in_place() {
            return tokio::task::block_in_place(|| self.inner.embed(&[texts[0].as_str()]));
        }
        let inner = Arc::clone(&self.inner);
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            inner.embed(&refs)
        })
        .await
        .map_err(|e| EmbedError::Inference(format!("embedding task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::plan_sub_batches;

    #[test]
    fn plan_covers_every_sequence_once_in_order() {
        for lengths in [vec![], vec![2], vec![2; 100], (1..=200).collect::<Vec<_>>()] {
            let plan = plan_sub_batches(&lengths, 64);
            let mut next = 0;
            for r in &plan {
                assert_eq!(r.start, next);
                assert!(r.end > r.start && r.end - r.start <= 64);
                next = r.end;
            }
            assert_eq!(next, lengths.len());
        }
    }

    #[test]
    fn plan_keeps_packed_sub_batches_large() {
        // Mixed lengths need no split: the forward pass does not pad.
        let mut lengths = vec![10; 30];
        lengths.extend([256; 2]);
        assert_eq!(plan_sub_batches(&lengths, 64), vec![0..32]);
        assert_eq!(
            plan_sub_batches(&[30; 130], 64),
            vec![0..64, 64..128, 128..130]
        );
        // The token budget splits long sequences: 16 x 256 = 4096 tokens per sub-batch.
        assert_eq!(
            plan_sub_batches(&[256; 40], 64),
            vec![0..16, 16..32, 32..40]
        );
    }
}
