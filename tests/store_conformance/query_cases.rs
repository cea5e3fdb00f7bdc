//! Cases about what a query returns: payloads, similarity, and every filter.

use super::*;

pub(crate) async fn case_upsert_then_query_returns_payloads(store: Arc<dyn VectorStore>) {
    let case = DocumentKey::case(1);
    let article = DocumentKey::article(2);
    let mut rich = point(&case, 0, axis(0));
    rich.payload.product = Some("3".to_string());
    rich.payload.url = Some("https://example.test/case/1".to_string());
    rich.payload.resolution = Some("Turn it off and on again.".to_string());
    rich.payload.first_reply = Some("Thanks for writing.".to_string());
    rich.payload.linked_urls = vec!["https://example.test/a/2".to_string()];
    rich.payload.linked_article_ids = vec![2];
    rich.payload.tags = vec!["wifi".to_string(), "setup".to_string()];
    rich.payload.created_at = t0() + Duration::milliseconds(123);
    let expected = rich.payload.clone();
    upsert(
        &store,
        vec![rich, point(&case, 1, axis(3)), point(&article, 0, axis(5))],
    )
    .await;

    let results = search(&store, query(axis(0), QueryFilter::default())).await;
    assert_eq!(results.len(), 3, "every point is a candidate");
    let top = &results[0];
    assert_eq!(top.id, deterministic_point_id(&case, 0));
    assert_eq!(top.payload, expected, "the payload round-trips unchanged");
    assert!(
        (top.dense_similarity - 1.0).abs() < 1e-4,
        "an identical vector has cosine 1, got {}",
        top.dense_similarity
    );
    assert!(
        results[1].dense_similarity < top.dense_similarity,
        "dense_similarity is the cosine to the query"
    );
    assert_deterministic_order(&results);

    // `limit` caps the result.
    let mut limited = query(axis(0), QueryFilter::default());
    limited.limit = 2;
    assert_eq!(search(&store, limited).await.len(), 2);

    // A sparse-only match still reaches the fused result.
    let mut hybrid = query(axis(5), QueryFilter::default());
    hybrid.sparse_indices = vec![7];
    hybrid.sparse_values = vec![1.0];
    let results = search(&store, hybrid).await;
    assert_eq!(results[0].payload.doc_key, "article:2");
    assert_deterministic_order(&results);
}

/// `ScoredChunk::dense_similarity` is documented as the cosine similarity; it must not depend on
/// the length of the query vector (a remote embedder or a caller may not normalise).
pub(crate) async fn case_dense_similarity_is_cosine_for_any_query_norm(
    store: Arc<dyn VectorStore>,
) {
    let key = DocumentKey::case(1);
    // Stored vector not normalised either: the store must not rely on it.
    upsert(
        &store,
        vec![point(&key, 0, vec![3.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])],
    )
    .await;
    for scale in [1.0_f32, 2.0, 0.5] {
        let q = vec![
            3.0 * scale / 5.0,
            4.0 * scale / 5.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ];
        let results = search(&store, query(q, QueryFilter::default())).await;
        assert_eq!(results.len(), 1);
        assert!(
            (results[0].dense_similarity - 1.0).abs() < 1e-4,
            "cosine of parallel vectors is 1 whatever their length; got {} for a query of norm {scale}",
            results[0].dense_similarity
        );
    }
    let orthogonal = vec![0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let results = search(&store, query(orthogonal, QueryFilter::default())).await;
    assert!(results[0].dense_similarity.abs() < 1e-4);
}

pub(crate) async fn case_empty_store_and_empty_operations(store: Arc<dyn VectorStore>) {
    let results = search(&store, query(axis(0), QueryFilter::default())).await;
    assert!(results.is_empty());
    store.upsert(vec![]).await.expect("empty upsert is a no-op");
    store
        .delete_points(vec![])
        .await
        .expect("empty delete is a no-op");
    store
        .delete_documents(vec![])
        .await
        .expect("empty delete is a no-op");
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.points, 0);
    assert!(
        store
            .scroll_payloads(SourceType::Case)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.describe().is_empty());
}

pub(crate) async fn case_product_filter_keeps_same_product_or_none(store: Arc<dyn VectorStore>) {
    upsert(
        &store,
        vec![
            with_product(point(&DocumentKey::case(1), 0, axis(0)), Some("1")),
            with_product(point(&DocumentKey::case(2), 0, axis(0)), Some("2")),
            with_product(point(&DocumentKey::case(3), 0, axis(1)), None),
            with_product(point(&DocumentKey::article(4), 0, axis(2)), None),
            with_product(point(&DocumentKey::article(5), 0, axis(2)), Some("2")),
            with_product(point(&DocumentKey::article(6), 0, axis(3)), Some("1")),
            // A product id that merely starts like "1" must not match product "1".
            with_product(point(&DocumentKey::case(7), 0, axis(0)), Some("10")),
        ],
    )
    .await;
    let filter = QueryFilter {
        product: Some("1".to_string()),
        ..QueryFilter::default()
    };
    let results = search(&store, query(axis(0), filter)).await;
    assert_eq!(
        doc_keys(&results),
        keys(&["case:1", "case:3", "article:4", "article:6"])
    );
    for chunk in &results {
        assert!(matches!(chunk.payload.product.as_deref(), None | Some("1")));
    }
    // Without a product every point is a candidate.
    let all = search(&store, query(axis(0), QueryFilter::default())).await;
    assert_eq!(all.len(), 7);
}

pub(crate) async fn case_created_before_is_strict(store: Arc<dyn VectorStore>) {
    let at = t0();
    upsert(
        &store,
        vec![
            created(
                point(&DocumentKey::case(1), 0, axis(0)),
                at - Duration::days(30),
            ),
            created(
                point(&DocumentKey::case(2), 0, axis(0)),
                at - Duration::seconds(1),
            ),
            created(
                point(&DocumentKey::case(3), 0, axis(0)),
                at - Duration::milliseconds(1),
            ),
            // Exactly at the cut-off: excluded.
            created(point(&DocumentKey::case(4), 0, axis(0)), at),
            created(
                point(&DocumentKey::case(5), 0, axis(0)),
                at + Duration::milliseconds(1),
            ),
            created(
                point(&DocumentKey::article(6), 0, axis(0)),
                at + Duration::days(1),
            ),
            // Undated knowledge-folder documents are stored as the Unix epoch: always before.
            created(
                point(&DocumentKey::article(7), 0, axis(0)),
                DateTime::<Utc>::UNIX_EPOCH,
            ),
        ],
    )
    .await;
    let filter = QueryFilter {
        created_before: Some(at),
        ..QueryFilter::default()
    };
    let results = search(&store, query(axis(0), filter)).await;
    assert_eq!(
        doc_keys(&results),
        keys(&["case:1", "case:2", "case:3", "article:7"]),
        "only points created strictly before the cut-off"
    );
    for chunk in &results {
        assert!(chunk.payload.created_at < at);
    }
}

pub(crate) async fn case_exclude_documents(store: Arc<dyn VectorStore>) {
    upsert(
        &store,
        vec![
            point(&DocumentKey::case(1), 0, axis(0)),
            point(&DocumentKey::case(1), 1, axis(1)),
            point(&DocumentKey::case(2), 0, axis(0)),
            // Same numeric id as the excluded case, but an article: must stay.
            point(&DocumentKey::article(1), 0, axis(0)),
            point(&DocumentKey::case(3), 0, axis(2)),
        ],
    )
    .await;
    let filter = QueryFilter {
        exclude_documents: vec![DocumentKey::case(1), DocumentKey::case(3)],
        ..QueryFilter::default()
    };
    let results = search(&store, query(axis(0), filter)).await;
    assert_eq!(doc_keys(&results), keys(&["case:2", "article:1"]));
}

pub(crate) async fn case_source_type_filter(store: Arc<dyn VectorStore>) {
    upsert(
        &store,
        vec![
            point(&DocumentKey::case(1), 0, axis(0)),
            point(&DocumentKey::case(2), 0, axis(1)),
            point(&DocumentKey::article(1), 0, axis(0)),
            point(&DocumentKey::article(3), 0, axis(2)),
            point(&DocumentKey::article(3), 1, axis(3)),
        ],
    )
    .await;
    for (source_type, expected) in [
        (SourceType::Case, keys(&["case:1", "case:2"])),
        (SourceType::Article, keys(&["article:1", "article:3"])),
    ] {
        let filter = QueryFilter {
            source_types: vec![source_type],
            ..QueryFilter::default()
        };
        let results = search(&store, query(axis(0), filter)).await;
        assert_eq!(doc_keys(&results), expected);
        assert!(results.iter().all(|c| c.payload.source_type == source_type));
    }
}

pub(crate) async fn case_combined_filters(store: Arc<dyn VectorStore>) {
    let at = t0();
    upsert(
        &store,
        vec![
            // The only point that passes every filter.
            created(
                with_product(point(&DocumentKey::case(1), 0, axis(0)), Some("1")),
                at - Duration::days(1),
            ),
            // No product: passes too.
            created(
                with_product(point(&DocumentKey::case(2), 0, axis(0)), None),
                at - Duration::days(1),
            ),
            // Wrong product.
            created(
                with_product(point(&DocumentKey::case(3), 0, axis(0)), Some("2")),
                at - Duration::days(1),
            ),
            // Too late.
            created(
                with_product(point(&DocumentKey::case(4), 0, axis(0)), Some("1")),
                at,
            ),
            // Excluded.
            created(
                with_product(point(&DocumentKey::case(5), 0, axis(0)), Some("1")),
                at - Duration::days(1),
            ),
            // Wrong source type.
            created(
                with_product(point(&DocumentKey::article(6), 0, axis(0)), Some("1")),
                at - Duration::days(1),
            ),
        ],
    )
    .await;
    let filter = QueryFilter {
        source_types: vec![SourceType::Case],
        product: Some("1".to_string()),
        created_before: Some(at),
        exclude_documents: vec![DocumentKey::case(5)],
    };
    let mut q = query(axis(0), filter);
    q.sparse_indices = vec![1];
    q.sparse_values = vec![1.0];
    let results = search(&store, q).await;
    assert_eq!(doc_keys(&results), keys(&["case:1", "case:2"]));
}
