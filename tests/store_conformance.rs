//! Conformance suite for the [`VectorStore`] trait.
//!
//! Every case is a generic `async fn case_xxx(store: Arc<dyn VectorStore>)` that only talks to the
//! trait, so any implementation can be held to the same contract. The cases always run against
//! the embedded [`EdgeVectorStore`] (one fresh temporary directory per case, 8 dense dimensions,
//! hand-made sparse vectors and payloads); they run against a Qdrant server only when `QDRANT_URL`
//! is set (see [`server_backend`]; each case gets its own collection).
//!
//! Lifecycle cases (reopen after flush, dimension mismatch) need to open the same store twice, so
//! they take a [`Backend`] instead of a store.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use deskdraft::domain::{DocumentKey, SourceType, deterministic_point_id};
use deskdraft::store::{
    ChunkPayload, EdgeVectorStore, HybridQuery, QdrantServerStore, QueryFilter, ScoredChunk,
    StoreError, StoredPoint, VectorStore,
};
use uuid::Uuid;

/// Dense dimensions of every store in this suite.
const DIMS: usize = 8;

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/// Where a store lives, so a lifecycle case can open it again.
#[derive(Debug, Clone)]
enum Location {
    Path(std::path::PathBuf),
    Collection(String),
}

/// Creates stores for the suite.
#[async_trait]
trait Backend: Send + Sync {
    fn name(&self) -> String;
    /// A new, empty store for one case, and where it lives.
    async fn fresh(&self, dims: usize) -> (Arc<dyn VectorStore>, Location);
    /// Open the store at `location` again (the previous handle has been dropped).
    async fn reopen(
        &self,
        location: &Location,
        dims: usize,
    ) -> Result<Arc<dyn VectorStore>, StoreError>;
}

/// The embedded store, one temporary directory per case (kept alive by the backend).
#[derive(Default)]
struct EdgeBackend {
    dirs: std::sync::Mutex<Vec<tempfile::TempDir>>,
}

#[async_trait]
impl Backend for EdgeBackend {
    fn name(&self) -> String {
        "qdrant-edge".to_string()
    }

    async fn fresh(&self, dims: usize) -> (Arc<dyn VectorStore>, Location) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("store");
        self.dirs.lock().unwrap().push(dir);
        let store = EdgeVectorStore::open(&path, dims).expect("a fresh edge store opens");
        (Arc::new(store), Location::Path(path))
    }

    async fn reopen(
        &self,
        location: &Location,
        dims: usize,
    ) -> Result<Arc<dyn VectorStore>, StoreError> {
        let Location::Path(path) = location else {
            panic!("edge stores live in folders");
        };
        Ok(Arc::new(EdgeVectorStore::open(path, dims)?))
    }
}

/// The Qdrant server at `QDRANT_URL`: one fresh collection per case (unique name).
struct ServerBackend {
    url: String,
    run: String,
    next: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Backend for ServerBackend {
    fn name(&self) -> String {
        format!("qdrant server at {}", self.url)
    }

    async fn fresh(&self, dims: usize) -> (Arc<dyn VectorStore>, Location) {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let collection = format!("deskdraft_conformance_{}_{n}", self.run);
        let store = self
            .reopen(&Location::Collection(collection.clone()), dims)
            .await
            .expect("a fresh server collection");
        (store, Location::Collection(collection))
    }

    async fn reopen(
        &self,
        location: &Location,
        dims: usize,
    ) -> Result<Arc<dyn VectorStore>, StoreError> {
        let Location::Collection(collection) = location else {
            panic!("server stores live in collections");
        };
        let api_key = std::env::var("DESKDRAFT_QDRANT_API_KEY").ok();
        let store = QdrantServerStore::new(&self.url, api_key, collection, dims)?;
        // Creates the collection, or checks the existing one's dimension.
        store.ensure_collection().await?;
        Ok(Arc::new(store))
    }
}

fn server_backend(url: &str) -> Box<dyn Backend> {
    Box::new(ServerBackend {
        url: url.to_string(),
        run: format!("{}_{}", std::process::id(), Utc::now().timestamp()),
        next: std::sync::atomic::AtomicUsize::new(0),
    })
}

/// Report a skipped test where it is seen: straight to the process's stderr, which the test
/// harness does not capture (unlike `println!`/`eprintln!`).
fn report_skip(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs one store case on a fresh store of `backend`.
async fn run_store_case(backend: &dyn Backend, case: fn(Arc<dyn VectorStore>) -> CaseFuture) {
    let (store, _location) = backend.fresh(DIMS).await;
    case(store).await;
}

macro_rules! conformance_suite {
    (
        store_cases: [$($case:ident),* $(,)?],
        backend_cases: [$($lifecycle:ident),* $(,)?] $(,)?
    ) => {
        /// Every store case by name, for runners that loop (the server runner).
        fn store_cases() -> Vec<(&'static str, fn(Arc<dyn VectorStore>) -> CaseFuture)> {
            vec![$((stringify!($case), |store| Box::pin($case(store)) as CaseFuture)),*]
        }

        /// The embedded store: always runs, one test per case.
        mod edge {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    run_store_case(&EdgeBackend::default(), |store| Box::pin(super::$case(store)))
                        .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $lifecycle() {
                    super::$lifecycle(&EdgeBackend::default()).await;
                }
            )*
        }

        /// The Qdrant server store: only with `QDRANT_URL`.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn server_store_conformance() {
            let url = match std::env::var("QDRANT_URL") {
                Ok(url) if !url.is_empty() => url,
                _ => {
                    report_skip("skipped: QDRANT_URL not set (e.g. QDRANT_URL=http://localhost:6334 with a Qdrant 1.18 server running)");
                    return;
                }
            };
            let backend = server_backend(&url);
            for (name, case) in store_cases() {
                eprintln!("{}: {name}", backend.name());
                run_store_case(backend.as_ref(), case).await;
            }
            $(
                eprintln!("{}: {}", backend.name(), stringify!($lifecycle));
                $lifecycle(backend.as_ref()).await;
            )*
        }
    };
}

conformance_suite! {
    store_cases: [
        case_upsert_then_query_returns_payloads,
        case_dense_similarity_is_cosine_for_any_query_norm,
        case_empty_store_and_empty_operations,
        case_product_filter_keeps_same_product_or_none,
        case_created_before_is_strict,
        case_exclude_documents,
        case_source_type_filter,
        case_combined_filters,
        case_overwrite_by_deterministic_id,
        case_delete_points,
        case_delete_documents,
        case_ties_are_ordered_by_id,
        case_identical_vectors_order_by_id,
        case_repeated_queries_give_identical_results,
        case_limit_cuts_the_deterministic_order,
        case_scroll_payloads_pages_and_sorts,
        case_stats_counts_by_source,
    ],
    backend_cases: [
        case_reopen_after_flush_keeps_data,
        case_other_dimension_is_a_mismatch,
    ],
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

/// A unit vector along axis `i` with a little of the next axis (so vectors are not all
/// orthogonal), L2-normalised like the embedder's output.
fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIMS];
    v[i % DIMS] = 1.0;
    v[(i + 1) % DIMS] = 0.1;
    normalized(v)
}

fn normalized(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn payload(key: &DocumentKey, chunk_number: usize, text: &str) -> ChunkPayload {
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
        content_hash: format!("hash-{key}-{chunk_number}"),
    }
}

/// A point with the deterministic id of `(key, chunk)`.
fn point(key: &DocumentKey, chunk_number: usize, dense: Vec<f32>) -> StoredPoint {
    StoredPoint {
        id: deterministic_point_id(key, chunk_number),
        dense,
        sparse_indices: vec![1, 7],
        sparse_values: vec![0.5, 0.25],
        payload: payload(key, chunk_number, &format!("text of {key} #{chunk_number}")),
    }
}

fn with_product(mut p: StoredPoint, product: Option<&str>) -> StoredPoint {
    p.payload.product = product.map(str::to_string);
    p
}

fn created(mut p: StoredPoint, at: DateTime<Utc>) -> StoredPoint {
    p.payload.created_at = at;
    p.payload.updated_at = at;
    p
}

fn query(dense: Vec<f32>, filter: QueryFilter) -> HybridQuery {
    HybridQuery {
        dense,
        sparse_indices: vec![],
        sparse_values: vec![],
        filter,
        prefetch_limit: 100,
        limit: 100,
    }
}

async fn search(store: &Arc<dyn VectorStore>, q: HybridQuery) -> Vec<ScoredChunk> {
    store.hybrid_query(q).await.expect("query succeeds")
}

fn doc_keys(chunks: &[ScoredChunk]) -> BTreeSet<String> {
    chunks.iter().map(|c| c.payload.doc_key.clone()).collect()
}

fn keys(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn assert_deterministic_order(chunks: &[ScoredChunk]) {
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

async fn upsert(store: &Arc<dyn VectorStore>, points: Vec<StoredPoint>) {
    store.upsert(points).await.expect("upsert succeeds");
}

// ---------------------------------------------------------------------------------------------
// Store cases
// ---------------------------------------------------------------------------------------------

async fn case_upsert_then_query_returns_payloads(store: Arc<dyn VectorStore>) {
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
async fn case_dense_similarity_is_cosine_for_any_query_norm(store: Arc<dyn VectorStore>) {
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

async fn case_empty_store_and_empty_operations(store: Arc<dyn VectorStore>) {
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

async fn case_product_filter_keeps_same_product_or_none(store: Arc<dyn VectorStore>) {
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

async fn case_created_before_is_strict(store: Arc<dyn VectorStore>) {
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

async fn case_exclude_documents(store: Arc<dyn VectorStore>) {
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

async fn case_source_type_filter(store: Arc<dyn VectorStore>) {
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
            source_type: Some(source_type),
            ..QueryFilter::default()
        };
        let results = search(&store, query(axis(0), filter)).await;
        assert_eq!(doc_keys(&results), expected);
        assert!(results.iter().all(|c| c.payload.source_type == source_type));
    }
}

async fn case_combined_filters(store: Arc<dyn VectorStore>) {
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
        source_type: Some(SourceType::Case),
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

async fn case_overwrite_by_deterministic_id(store: Arc<dyn VectorStore>) {
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
        source_type: Some(SourceType::Case),
        ..QueryFilter::default()
    };
    let results = search(&store, query(axis(4), filter)).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].id, deterministic_point_id(&key, 0));
}

async fn case_delete_points(store: Arc<dyn VectorStore>) {
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

async fn case_delete_documents(store: Arc<dyn VectorStore>) {
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
async fn case_ties_are_ordered_by_id(store: Arc<dyn VectorStore>) {
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
async fn case_identical_vectors_order_by_id(store: Arc<dyn VectorStore>) {
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

async fn case_repeated_queries_give_identical_results(store: Arc<dyn VectorStore>) {
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
async fn case_limit_cuts_the_deterministic_order(store: Arc<dyn VectorStore>) {
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

async fn case_scroll_payloads_pages_and_sorts(store: Arc<dyn VectorStore>) {
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

async fn case_stats_counts_by_source(store: Arc<dyn VectorStore>) {
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

// ---------------------------------------------------------------------------------------------
// Lifecycle cases
// ---------------------------------------------------------------------------------------------

async fn case_reopen_after_flush_keeps_data(backend: &dyn Backend) {
    let (store, location) = backend.fresh(DIMS).await;
    let mut written = vec![
        with_product(point(&DocumentKey::case(1), 0, axis(0)), Some("1")),
        point(&DocumentKey::case(1), 1, axis(1)),
        point(&DocumentKey::article(2), 0, axis(2)),
    ];
    written[2].payload.url = Some("https://example.test/a/2".to_string());
    let before_query = query(axis(0), QueryFilter::default());
    upsert(&store, written.clone()).await;
    store.optimize().await.expect("optimize succeeds");
    store.flush().await.expect("flush succeeds");
    let stats_before = store.stats().await.unwrap();
    let results_before: Vec<Uuid> = search(&store, before_query.clone())
        .await
        .iter()
        .map(|c| c.id)
        .collect();
    drop(store);

    let store = backend
        .reopen(&location, DIMS)
        .await
        .expect("the store reopens");
    assert_eq!(store.stats().await.unwrap(), stats_before);
    let results_after: Vec<Uuid> = search(&store, before_query)
        .await
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(results_after, results_before);
    let articles = store.scroll_payloads(SourceType::Article).await.unwrap();
    assert_eq!(
        articles,
        vec![(written[2].id, written[2].payload.clone())],
        "payloads survive a reopen"
    );
    // The payload indexes still work after a reopen.
    let filter = QueryFilter {
        product: Some("2".to_string()),
        source_type: Some(SourceType::Case),
        ..QueryFilter::default()
    };
    let results = search(&store, query(axis(0), filter)).await;
    assert_eq!(doc_keys(&results), keys(&["case:1"]));
    assert_eq!(results.len(), 1, "only the chunk without a product");
    // And it still accepts writes.
    upsert(&store, vec![point(&DocumentKey::case(3), 0, axis(3))]).await;
    assert_eq!(store.stats().await.unwrap().points, 4);
}

async fn case_other_dimension_is_a_mismatch(backend: &dyn Backend) {
    let (store, location) = backend.fresh(DIMS).await;
    upsert(&store, vec![point(&DocumentKey::case(1), 0, axis(0))]).await;
    store.flush().await.unwrap();
    drop(store);
    match backend.reopen(&location, DIMS * 2).await {
        Err(StoreError::DimensionMismatch {
            existing,
            requested,
        }) => {
            assert_eq!(existing, DIMS);
            assert_eq!(requested, DIMS * 2);
        }
        Err(other) => panic!("expected DimensionMismatch, got {other}"),
        Ok(_) => panic!("opening with another dimension must fail"),
    }
    // The failed open did not damage the store.
    let store = backend.reopen(&location, DIMS).await.unwrap();
    assert_eq!(store.stats().await.unwrap().points, 1);
}

/// Without a server, the server store fails with an error that names the URL and the cause,
/// instead of hanging or panicking.
#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let store = QdrantServerStore::new("http://127.0.0.1:9", None, "deskdraft", DIMS).unwrap();
    let error = store.stats().await.unwrap_err().to_string();
    assert!(
        error.contains("127.0.0.1:9") && error.contains("unreachable"),
        "{error}"
    );
}
