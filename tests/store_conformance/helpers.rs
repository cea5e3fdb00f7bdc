//! Builders and assertions shared by the conformance cases.

use super::*;

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

/// A unit vector along axis `i` with a little of the next axis (so vectors are not all
/// orthogonal), L2-normalised like the embedder's output.
pub(crate) fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIMS];
    v[i % DIMS] = 1.0;
    v[(i + 1) % DIMS] = 0.1;
    normalized(v)
}

pub(crate) fn normalized(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

pub(crate) fn payload(key: &DocumentKey, chunk_number: usize, text: &str) -> ChunkPayload {
    ChunkPayload {
        source_type: key.source_type,
        doc_id: key.id,
        doc_key: key.to_string(),
        chunk_number,
        chunk_count: chunk_number + 1,
        title: format!("title of {key}"),
        text: text.to_string(),
        product: None,
        created_at: t0(),
        updated_at: t0() + Duration::hours(1),
        url: None,
        language: Some("en".to_string()),
        resolution: None,
        first_reply: None,
        linked_urls: vec![],
        linked_article_ids: vec![],
        tags: vec![],
        agent_only: false,
        content_hash: format!("hash-{key}-{chunk_number}"),
    }
}

/// A point with the deterministic id of `(key, chunk)`.
pub(crate) fn point(key: &DocumentKey, chunk_number: usize, dense: Vec<f32>) -> StoredPoint {
    StoredPoint {
        id: deterministic_point_id(key, chunk_number),
        dense,
        sparse_indices: vec![1, 7],
        sparse_values: vec![0.5, 0.25],
        payload: payload(key, chunk_number, &format!("text of {key} #{chunk_number}")),
    }
}

pub(crate) fn with_product(mut p: StoredPoint, product: Option<&str>) -> StoredPoint {
    p.payload.product = product.map(str::to_string);
    p
}

pub(crate) fn created(mut p: StoredPoint, at: DateTime<Utc>) -> StoredPoint {
    p.payload.created_at = at;
    p.payload.updated_at = at;
    p
}

pub(crate) fn query(dense: Vec<f32>, filter: QueryFilter) -> HybridQuery {
    HybridQuery {
        dense,
        sparse_indices: vec![],
        sparse_values: vec![],
        filter,
        prefetch_limit: 100,
        limit: 100,
    }
}

pub(crate) async fn search(store: &Arc<dyn VectorStore>, q: HybridQuery) -> Vec<ScoredChunk> {
    store.hybrid_query(q).await.expect("query succeeds")
}

pub(crate) fn doc_keys(chunks: &[ScoredChunk]) -> BTreeSet<String> {
    chunks.iter().map(|c| c.payload.doc_key.clone()).collect()
}

pub(crate) fn keys(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn assert_deterministic_order(chunks: &[ScoredChunk]) {
    for pair in chunks.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            a.score > b.score || (a.score == b.score && a.id < b.id),
            "results not ordered by (score desc, id asc): {} ({}) before {} ({})",
            a.id,
            a.score,
            b.id,
            b.score
        );
    }
}

pub(crate) async fn upsert(store: &Arc<dyn VectorStore>, points: Vec<StoredPoint>) {
    store.upsert(points).await.expect("upsert succeeds");
}
