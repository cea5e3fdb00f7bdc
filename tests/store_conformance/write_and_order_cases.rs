//! Cases about writes (overwrite, deletes), the deterministic order of results, scrolling
//! and statistics.

use super::*;

pub(crate) async fn case_overwrite_by_deterministic_id(store: Arc<dyn VectorStore>) {
    let key = DocumentKey::case(42);
    upsert(
        &store,
        vec![
            with_product(point(&key, 0, axis(0)), Some("1")),
            with_product(point(&key, 1, axis(1)), Some("1")),
            with_product(point(&DocumentKey::article(1), 0, axis(2)), Some("1")),
        ],
    )
    .await;
    assert_eq!(store.stats().await.unwrap().points, 3);

    let mut updated = point(&key, 0, axis(4));
    updated.payload.text = "updated text".to_string();
    updated.payload.content_hash = "new-hash".to_string();
    updated.payload.product = Some("9".to_string());
    upsert(&store, vec![updated]).await;

    assert_eq!(
        store.stats().await.unwrap().points,
        3,
        "overwriting by id must not add a point"
    );
    let cases = store.scroll_payloads(SourceType::Case).await.unwrap();
    let (_, stored) = cases
        .iter()
        .find(|(id, _)| *id == deterministic_point_id(&key, 0))
        .expect("the overwritten point is still there");
    assert_eq!(stored.text, "updated text");
    assert_eq!(stored.content_hash, "new-hash");
    assert_eq!(stored.product.as_deref(), Some("9"));
    // The vector was replaced too: the new vector's direction now finds it first.
    let results = search(&store, query(axis(4), QueryFilter::default())).await;
    assert_eq!(results[0].id, deterministic_point_id(&key, 0));
    assert_eq!(results[0].payload.text, "updated text");
    assert!((results[0].dense_similarity - 1.0).abs() < 1e-4);
    // The product index follows the new payload.
    let filter = QueryFilter {
        product: Some("9".to_string()),
        source_types: vec![SourceType::Case],
        ..QueryFilter::default()
    };
    let results = search(&store, query(axis(4), filter)).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].id, deterministic_point_id(&key, 0));
}

pub(crate) async fn case_delete_points(store: Arc<dyn VectorStore>) {
    let key = DocumentKey::case(1);
    upsert(
        &store,
        vec![
            point(&key, 0, axis(0)),
            point(&key, 1, axis(1)),
            point(&key, 2, axis(2)),
            point(&DocumentKey::case(2), 0, axis(3)),
        ],
    )
    .await;
    store
        .delete_points(vec![
            deterministic_point_id(&key, 1),
            deterministic_point_id(&key, 2),
            // Unknown ids are ignored.
            Uuid::from_u128(7),
        ])
        .await
        .expect("delete succeeds");
    assert_eq!(store.stats().await.unwrap().points, 2);
    let ids: BTreeSet<Uuid> = store
        .scroll_payloads(SourceType::Case)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let expected: BTreeSet<Uuid> = [
        deterministic_point_id(&key, 0),
        deterministic_point_id(&DocumentKey::case(2), 0),
    ]
    .into();
    assert_eq!(ids, expected);
    let results = search(&store, query(axis(1), QueryFilter::default())).await;
    assert!(
        results
            .iter()
            .all(|c| c.id != deterministic_point_id(&key, 1))
    );
}

pub(crate) async fn case_delete_documents(store: Arc<dyn VectorStore>) {
    upsert(
        &store,
        vec![
            point(&DocumentKey::case(1), 0, axis(0)),
            point(&DocumentKey::case(1), 1, axis(1)),
            point(&DocumentKey::case(1), 2, axis(2)),
            point(&DocumentKey::case(2), 0, axis(3)),
            point(&DocumentKey::article(1), 0, axis(4)),
            point(&DocumentKey::article(2), 0, axis(5)),
            point(&DocumentKey::article(2), 1, axis(6)),
            point(&DocumentKey::case(11), 0, axis(7)),
        ],
    )
    .await;
    store
        .delete_documents(vec![
            DocumentKey::case(1),
            DocumentKey::article(2),
            DocumentKey::case(999),
        ])
        .await
        .expect("delete succeeds");
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.points, 3);
    let results = search(&store, query(axis(0), QueryFilter::default())).await;
    // `case:1` must not take `case:11` with it, nor `article:1`.
    assert_eq!(
        doc_keys(&results),
        keys(&["case:2", "case:11", "article:1"])
    );
}

/// A real tie of fused scores: A is first by dense and second by sparse, B the other way round,
/// so both get the same reciprocal-rank score; the id decides.
pub(crate) async fn case_ties_are_ordered_by_id(store: Arc<dyn VectorStore>) {
    let a_key = DocumentKey::case(1);
    let b_key = DocumentKey::case(2);
    let mut a = point(&a_key, 0, vec![1.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    a.sparse_indices = vec![10, 11];
    a.sparse_values = vec![0.2, 1.0];
    let mut b = point(&b_key, 0, vec![1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    b.sparse_indices = vec![10, 11];
    b.sparse_values = vec![1.0, 0.2];
    let (low, high) = if a.id < b.id { (a, b) } else { (b, a) };
    let low_id = low.id;
    // Insert the larger id first so insertion order cannot pass for id order.
    upsert(&store, vec![high]).await;
    upsert(&store, vec![low]).await;

    let mut q = query(
        vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        QueryFilter::default(),
    );
    q.sparse_indices = vec![10];
    q.sparse_values = vec![1.0];
    let results = search(&store, q).await;
    assert_eq!(results.len(), 2);
    // Sanity: the two rankings really disagree (otherwise there is no tie to break).
    let dense_first = if results[0].dense_similarity > results[1].dense_similarity {
        &results[0]
    } else {
        &results[1]
    };
    assert_eq!(dense_first.payload.doc_key, "case:1");
    assert_eq!(
        results[0].score, results[1].score,
        "reciprocal-rank scores of mirrored ranks are equal"
    );
    assert_eq!(results[0].id, low_id, "ties are broken by id ascending");
    assert_deterministic_order(&results);
}

/// Several points with identical vectors are indistinguishable: equal inputs must give equal
/// outputs, so they come back in id order whatever order they were written in.
pub(crate) async fn case_identical_vectors_order_by_id(store: Arc<dyn VectorStore>) {
    let mut points: Vec<StoredPoint> = (1..=6)
        .map(|i| point(&DocumentKey::case(i), 0, axis(0)))
        .collect();
    // Write in descending id order, one upsert each.
    points.sort_by_key(|p| std::cmp::Reverse(p.id));
    let mut expected: Vec<Uuid> = points.iter().map(|p| p.id).collect();
    expected.sort();
    for p in points {
        upsert(&store, vec![p]).await;
    }
    let mut q = query(axis(0), QueryFilter::default());
    q.sparse_indices = vec![1, 7];
    q.sparse_values = vec![1.0, 1.0];
    let results = search(&store, q).await;
    let ids: Vec<Uuid> = results.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        expected,
        "identical points must be ordered by id (scores: {:?})",
        results.iter().map(|c| c.score).collect::<Vec<_>>()
    );
    assert_deterministic_order(&results);
}

pub(crate) async fn case_repeated_queries_give_identical_results(store: Arc<dyn VectorStore>) {
    let mut points = Vec::new();
    for i in 0..40 {
        // Many exact duplicates of a few directions: lots of potential ties.
        let mut p = point(&DocumentKey::case(i), 0, axis((i % 3) as usize));
        p.sparse_indices = vec![(i % 4) as u32, 100];
        p.sparse_values = vec![1.0, 0.5];
        points.push(p);
    }
    points.reverse();
    upsert(&store, points).await;
    let make = || {
        let mut q = query(axis(0), QueryFilter::default());
        q.sparse_indices = vec![0, 100];
        q.sparse_values = vec![1.0, 1.0];
        q.limit = 25;
        q.prefetch_limit = 30;
        q
    };
    let first = search(&store, make()).await;
    assert_eq!(first.len(), 25);
    assert_deterministic_order(&first);
    // Qdrant's fusion may visit tied candidates in any order: ask often enough to notice.
    for _ in 0..30 {
        let again = search(&store, make()).await;
        let a: Vec<(Uuid, f32)> = first.iter().map(|c| (c.id, c.score)).collect();
        let b: Vec<(Uuid, f32)> = again.iter().map(|c| (c.id, c.score)).collect();
        assert_eq!(a, b, "identical queries give identical results");
    }
}

/// `limit` must cut the full (score desc, id asc) order, also when the cut falls inside a group of
/// tied scores: the top `n` are always the first `n` of the complete result.
pub(crate) async fn case_limit_cuts_the_deterministic_order(store: Arc<dyn VectorStore>) {
    let mut points = Vec::new();
    for i in 0..10 {
        // Found only by the dense search, in order of i.
        let mut dense_only = point(
            &DocumentKey::case(100 + i),
            0,
            normalized(vec![1.0, 0.1 * i as f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        );
        dense_only.sparse_indices = vec![50];
        dense_only.sparse_values = vec![1.0];
        // Found only by the sparse search, in order of i: each ties with a dense-only point.
        let mut sparse_only = point(
            &DocumentKey::case(200 + i),
            0,
            vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        );
        sparse_only.sparse_indices = vec![10];
        sparse_only.sparse_values = vec![1.0 - 0.05 * i as f32];
        points.push(dense_only);
        points.push(sparse_only);
    }
    upsert(&store, points).await;
    let make = |limit: usize| {
        let mut q = query(axis(0), QueryFilter::default());
        q.sparse_indices = vec![10];
        q.sparse_values = vec![1.0];
        q.prefetch_limit = 10;
        q.limit = limit;
        q
    };
    let full = search(&store, make(20)).await;
    assert_eq!(full.len(), 20);
    assert_deterministic_order(&full);
    assert_eq!(
        full[0].score, full[1].score,
        "sanity: the best dense-only and sparse-only points tie"
    );
    let full: Vec<Uuid> = full.iter().map(|c| c.id).collect();
    for limit in 1..20 {
        for _ in 0..3 {
            let cut: Vec<Uuid> = search(&store, make(limit))
                .await
                .iter()
                .map(|c| c.id)
                .collect();
            assert_eq!(
                cut,
                full[..limit],
                "limit {limit} must return the first {limit} of the full ordered result"
            );
        }
    }
}

pub(crate) async fn case_scroll_payloads_pages_and_sorts(store: Arc<dyn VectorStore>) {
    // More than one scroll page (the edge store pages by 1,000).
    let articles: Vec<StoredPoint> = (0..1_050)
        .map(|i| point(&DocumentKey::article(i), 0, axis(i as usize)))
        .collect();
    let mut expected: Vec<(Uuid, ChunkPayload)> =
        articles.iter().map(|p| (p.id, p.payload.clone())).collect();
    expected.sort_by_key(|(id, _)| *id);
    for batch in articles.chunks(300) {
        upsert(&store, batch.to_vec()).await;
    }
    upsert(
        &store,
        vec![
            point(&DocumentKey::case(1), 0, axis(0)),
            point(&DocumentKey::case(1), 1, axis(1)),
        ],
    )
    .await;

    let scrolled = store.scroll_payloads(SourceType::Article).await.unwrap();
    assert_eq!(scrolled.len(), 1_050, "every article point, no duplicates");
    assert!(scrolled.windows(2).all(|w| w[0].0 < w[1].0), "sorted by id");
    assert_eq!(scrolled, expected, "ids and payloads as written");

    let cases = store.scroll_payloads(SourceType::Case).await.unwrap();
    assert_eq!(cases.len(), 2);
    assert!(cases.iter().all(|(_, p)| p.doc_key == "case:1"));
}

pub(crate) async fn case_stats_counts_by_source(store: Arc<dyn VectorStore>) {
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.points, 0);
    let mut points = Vec::new();
    for i in 0..5 {
        points.push(point(&DocumentKey::case(i), 0, axis(0)));
        points.push(point(&DocumentKey::case(i), 1, axis(1)));
    }
    for i in 0..3 {
        points.push(point(&DocumentKey::article(i), 0, axis(2)));
    }
    upsert(&store, points).await;
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.points, 13);
    assert_eq!(stats.points_by_source.get("case"), Some(&10));
    assert_eq!(stats.points_by_source.get("article"), Some(&3));
    assert_eq!(
        stats.points_by_source.values().sum::<u64>(),
        stats.points,
        "by-source counts add up to the total"
    );
    store
        .delete_documents(vec![DocumentKey::case(0)])
        .await
        .unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.points, 11);
    assert_eq!(stats.points_by_source.get("case"), Some(&8));
}
