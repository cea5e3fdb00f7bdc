//! Parity of the in-process all-MiniLM-L6-v2 embedder with sentence-transformers.
//!
//! The reference vectors in `tests/fixtures/minilm-reference-vectors.json` were produced with
//! sentence-transformers (`encode(normalize_embeddings=True)`, max_seq_length 256). The model is
//! read from `models/all-MiniLM-L6-v2` (or `$DESKDRAFT_MODEL_DIR`); `scripts/fetch-model.sh`
//! installs it, and CI runs that script before the tests, so a missing model fails these tests.

use std::path::PathBuf;
use std::sync::OnceLock;

use deskdraft::embed::{DenseEmbedder, EmbedError, LocalMiniLmEmbedder};
use serde::Deserialize;

const PARITY_MIN_COSINE: f64 = 0.9999;
const BATCH_MIN_COSINE: f64 = 0.99999;

#[derive(Deserialize)]
struct Reference {
    items: Vec<ReferenceItem>,
}

#[derive(Deserialize)]
struct ReferenceItem {
    text: String,
    embedding: Vec<f32>,
}

fn model_dir() -> PathBuf {
    match std::env::var_os("DESKDRAFT_MODEL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2"),
    }
}

fn embedder() -> &'static LocalMiniLmEmbedder {
    static EMBEDDER: OnceLock<LocalMiniLmEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let dir = model_dir();
        match LocalMiniLmEmbedder::load(&dir) {
            Ok(embedder) => embedder,
            Err(err @ EmbedError::ModelMissing { .. }) => panic!(
                "the all-MiniLM-L6-v2 model is missing from {}: run `scripts/fetch-model.sh` \
                 (CI runs it before the tests) or point DESKDRAFT_MODEL_DIR at an installed copy ({err})",
                dir.display()
            ),
            Err(err) => panic!("cannot load the model from {}: {err}", dir.display()),
        }
    })
}

fn reference() -> Reference {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/minilm-reference-vectors.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let reference: Reference = serde_json::from_str(&text).expect("reference vectors parse");
    assert!(!reference.items.is_empty(), "reference file has no items");
    reference
}

/// Cosine similarity that does not assume unit vectors (the reference is rounded to 7 digits).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "vector lengths differ");
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

fn embed_one(text: &str) -> Vec<f32> {
    let mut out = embedder().embed_sync(&[text]).expect("embedding succeeds");
    assert_eq!(out.len(), 1);
    out.pop().unwrap()
}

#[test]
fn model_metadata() {
    let e = embedder();
    assert_eq!(e.dimensions(), 384);
    assert_eq!(e.max_batch(), 64);
    assert!(
        e.model_id().contains("all-MiniLM-L6-v2"),
        "model id: {}",
        e.model_id()
    );
}

#[test]
fn matches_sentence_transformers_reference() {
    let reference = reference();
    let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();
    let batch = embedder()
        .embed_sync(&texts)
        .expect("batch embedding succeeds");
    assert_eq!(batch.len(), texts.len());

    let mut min_cos = f64::INFINITY;
    let mut failures = Vec::new();
    for (item, from_batch) in reference.items.iter().zip(&batch) {
        assert_eq!(
            item.embedding.len(),
            384,
            "reference vector for {:?}",
            short(&item.text)
        );
        assert_eq!(from_batch.len(), 384, "vector for {:?}", short(&item.text));
        let norm: f32 = from_batch.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-4,
            "vector for {:?} has norm {norm}",
            short(&item.text)
        );
        for (how, vector) in [
            ("batch", from_batch.clone()),
            ("single", embed_one(&item.text)),
        ] {
            let cos = cosine(&vector, &item.embedding);
            min_cos = min_cos.min(cos);
            if cos < PARITY_MIN_COSINE {
                failures.push(format!("{how} {:?}: cosine {cos}", short(&item.text)));
            }
        }
    }
    eprintln!("minimum cosine against sentence-transformers: {min_cos:.9}");
    assert!(
        failures.is_empty(),
        "below {PARITY_MIN_COSINE}:\n{}",
        failures.join("\n")
    );
}

#[test]
fn batch_composition_does_not_change_vectors() {
    let reference = reference();
    let mut texts: Vec<String> = reference.items.iter().map(|i| i.text.clone()).collect();
    // Lengths from 2 tokens to past the 256-token limit, so sub-batches mix and split.
    texts.push("word ".repeat(300));
    texts.push("Short one.".to_string());
    texts.push(
        "A medium length sentence about a refund that has not arrived after two weeks.".repeat(3),
    );
    let singles: Vec<Vec<f32>> = texts.iter().map(|t| embed_one(t)).collect();

    let n = texts.len();
    let mut orders: Vec<Vec<usize>> = vec![(0..n).collect(), (0..n).rev().collect()];
    // A deterministic shuffle with duplicates, larger than one max_batch.
    orders.push((0..150).map(|k| (k * 7 + 3) % n).collect());
    orders.push(
        (0..n)
            .filter(|i| i % 2 == 0)
            .chain((0..n).filter(|i| i % 2 == 1))
            .collect(),
    );
    for order in &orders {
        let batch_texts: Vec<&str> = order.iter().map(|&i| texts[i].as_str()).collect();
        let vectors = embedder()
            .embed_sync(&batch_texts)
            .expect("batch embedding succeeds");
        assert_eq!(vectors.len(), order.len());
        for (&i, v) in order.iter().zip(&vectors) {
            let cos = cosine(v, &singles[i]);
            assert!(
                cos >= BATCH_MIN_COSINE,
                "{:?} differs between batch and single embedding: cosine {cos}",
                short(&texts[i])
            );
        }
    }
}

#[test]
fn empty_input_list_gives_no_vectors() {
    assert!(
        embedder()
            .embed_sync(&[])
            .expect("empty call succeeds")
            .is_empty()
    );
}

#[test]
fn long_text_is_truncated_to_256_tokens() {
    // Anything past 256 tokens (254 words + [CLS] + [SEP]) must not change the vector.
    let base = "alpha ".repeat(254);
    let longer = format!("{base}{}", "omega ".repeat(100));
    let cos = cosine(&embed_one(&base), &embed_one(&longer));
    assert!(cos >= BATCH_MIN_COSINE, "truncation differs: cosine {cos}");
    let shorter = "alpha ".repeat(253);
    let longer_by_one = format!("{shorter}omega");
    assert!(cosine(&embed_one(&shorter), &embed_one(&longer_by_one)) < 0.999999);
}

#[test]
fn chunking_tokenizer_neither_pads_nor_truncates() {
    let tokenizer = embedder().tokenizer();
    let text = "word ".repeat(600);
    let encoding = tokenizer.encode(text.as_str(), false).expect("tokenizes");
    assert_eq!(encoding.get_ids().len(), 600);
    let encoding = tokenizer.encode("hi", true).expect("tokenizes");
    assert_eq!(encoding.get_ids().len(), 3, "[CLS] hi [SEP], no padding");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_trait_matches_sync() {
    let reference = reference();
    let texts: Vec<String> = reference.items.iter().map(|i| i.text.clone()).collect();
    let dense: &dyn DenseEmbedder = embedder();
    let vectors = dense
        .embed_batch(&texts)
        .await
        .expect("async embedding succeeds");
    assert_eq!(vectors.len(), texts.len());
    for (item, v) in reference.items.iter().zip(&vectors) {
        let cos = cosine(v, &item.embedding);
        assert!(
            cos >= PARITY_MIN_COSINE,
            "async {:?}: cosine {cos}",
            short(&item.text)
        );
    }
    assert!(
        dense
            .embed_batch(&[])
            .await
            .expect("empty call succeeds")
            .is_empty()
    );
}

#[test]
fn missing_model_names_the_fetch_script() {
    let dir = std::env::temp_dir().join("deskdraft-no-model-here");
    let err = LocalMiniLmEmbedder::load(&dir).expect_err("loading from an empty folder fails");
    assert!(
        matches!(err, EmbedError::ModelMissing { .. }),
        "unexpected error: {err}"
    );
    assert!(
        err.to_string().contains("scripts/fetch-model.sh"),
        "message: {err}"
    );
}

/// One text (a draft's query) is embedded in place on a multi-threaded runtime's worker, and on
/// the blocking pool under a current-thread runtime, where blocking in place would panic; both
/// give the vector `embed_sync` gives.
#[test]
fn one_text_embeds_alike_on_either_runtime_flavor() {
    let text = reference().items[0].text.clone();
    let expected = embed_one(&text);
    let runtimes = [
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build(),
        tokio::runtime::Builder::new_current_thread().build(),
    ];
    for runtime in runtimes {
        let runtime = runtime.expect("runtime builds");
        let text = text.clone();
        let vectors = runtime
            .block_on(async move {
                // Spawned, so it runs on a worker thread as a draft does in the service.
                tokio::spawn(async move {
                    let dense: &dyn DenseEmbedder = embedder();
                    dense.embed_batch(&[text]).await
                })
                .await
            })
            .expect("task completes")
            .expect("embeds");
        assert_eq!(vectors.len(), 1);
        let cos = cosine(&vectors[0], &expected);
        assert!(cos >= BATCH_MIN_COSINE, "cosine {cos}");
    }
}
