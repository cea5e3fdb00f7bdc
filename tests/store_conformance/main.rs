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
use deskdraft::store::server::CollectionLayout;
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

/// The Qdrant server at `QDRANT_URL`: one fresh collection per case (unique name), created with
/// the layout of deskdraft's configuration (`DESKDRAFT_STORE__SHARDS`, `..._REPLICATION_FACTOR`,
/// `..._WRITE_CONSISTENCY`), as `deskdraft` itself would create it.
struct ServerBackend {
    url: String,
    run: String,
    next: std::sync::atomic::AtomicUsize,
    layout: CollectionLayout,
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
        let store =
            QdrantServerStore::new(&self.url, api_key, collection, dims)?.with_layout(self.layout);
        // Creates the collection, or checks the existing one's dimension.
        store.ensure_collection().await?;
        Ok(Arc::new(store))
    }
}

fn server_backend(url: &str, layout: CollectionLayout) -> Box<dyn Backend> {
    Box::new(ServerBackend {
        url: url.to_string(),
        run: format!("{}_{}", std::process::id(), Utc::now().timestamp()),
        next: std::sync::atomic::AtomicUsize::new(0),
        layout,
    })
}

/// The collection layout deskdraft's configuration asks for (defaults plus `DESKDRAFT_STORE__*`).
fn configured_layout() -> CollectionLayout {
    let config = deskdraft::config::Config::load(None).expect("deskdraft's configuration loads");
    CollectionLayout::from_settings(&config.store)
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
                    report_skip("skipped: QDRANT_URL not set (e.g. QDRANT_URL=http://127.0.0.1:6334 with a Qdrant v1.19 server or cluster running; see the README)");
                    return;
                }
            };
            let layout = configured_layout();
            check_layout_is_applied(&url, layout).await;
            let backend = server_backend(&url, layout);
            let mut passed = 0;
            for (name, case) in store_cases() {
                eprintln!("{}: {name}", backend.name());
                run_store_case(backend.as_ref(), case).await;
                passed += 1;
            }
            $(
                eprintln!("{}: {}", backend.name(), stringify!($lifecycle));
                $lifecycle(backend.as_ref()).await;
                passed += 1;
            )*
            report_skip(&format!("{}: {passed} cases passed with layout {layout:?}", backend.name()));
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

/// The embedded store blocks in place on a multi-threaded runtime (the service's and the CLI's)
/// and goes through the blocking pool on a current-thread one: every store case on the latter
/// too.
#[tokio::test(flavor = "current_thread")]
async fn edge_store_cases_on_a_current_thread_runtime() {
    for (name, case) in store_cases() {
        eprintln!("edge, current-thread runtime: {name}");
        run_store_case(&EdgeBackend::default(), case).await;
    }
}

mod helpers;
mod query_cases;
mod write_and_order_cases;

use helpers::*;
use query_cases::*;
use write_and_order_cases::*;

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
        source_types: vec![SourceType::Case],
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

/// A collection deskdraft creates has the configured shards, replicas and write consistency.
async fn check_layout_is_applied(url: &str, layout: CollectionLayout) {
    let collection = format!(
        "deskdraft_conformance_layout_{}_{}",
        std::process::id(),
        Utc::now().timestamp()
    );
    let api_key = std::env::var("DESKDRAFT_QDRANT_API_KEY").ok();
    let store = QdrantServerStore::new(url, api_key.clone(), &collection, DIMS)
        .unwrap()
        .with_layout(layout);
    store
        .ensure_collection()
        .await
        .expect("the collection is created");
    let client = qdrant_client::Qdrant::from_url(url)
        .api_key(api_key)
        .skip_compatibility_check()
        .build()
        .unwrap();
    let params = client
        .collection_info(&collection)
        .await
        .expect("collection info")
        .result
        .and_then(|info| info.config)
        .and_then(|config| config.params)
        .expect("collection parameters");
    if let Some(shards) = layout.shards {
        assert_eq!(params.shard_number, shards, "store.shards applied");
    }
    assert_eq!(
        params.replication_factor, layout.replication_factor,
        "store.replication_factor applied"
    );
    assert_eq!(
        params.write_consistency_factor, layout.write_consistency,
        "store.write_consistency applied"
    );
    assert!(
        layout.differences(&params).is_empty(),
        "an existing collection with the configured layout is reported as matching"
    );
    client.delete_collection(&collection).await.unwrap();
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
