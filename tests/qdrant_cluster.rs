//! A real 3-node Qdrant cluster with one node killed: the server store keeps answering queries
//! (every shard has a second replica), writes made while the node is down either succeed or fail
//! with a retryable error and complete once it is back, and deterministic ids leave no duplicates.
//!
//! Needs a Qdrant binary (v1.19, built from source; see the README): `QDRANT_BIN=/path/to/qdrant`.
//! The test starts the three nodes itself on free 127.0.0.1 ports with temporary storage, and
//! skips visibly without `QDRANT_BIN` (CI has no binary).

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use deskdraft::domain::{DocumentKey, SourceType, deterministic_point_id};
use deskdraft::retry::{Classify, ErrorClass};
use deskdraft::store::server::CollectionLayout;
use deskdraft::store::{
    ChunkPayload, HybridQuery, QdrantServerStore, QueryFilter, StoredPoint, VectorStore,
};
use uuid::Uuid;

const DIMS: usize = 8;

fn report(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// Ports the OS says are free now (held together so they differ).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

struct Node {
    dir: PathBuf,
    http: u16,
    grpc: u16,
    p2p: u16,
    process: Option<Child>,
}

impl Node {
    fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    /// Starts (or restarts, on the same storage) this node; `bootstrap` is the first node's p2p
    /// port for a node joining for the first time.
    fn start(&mut self, binary: &Path, bootstrap: Option<u16>) {
        std::fs::create_dir_all(self.dir.join("storage")).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("qdrant.log"))
            .unwrap();
        let mut command = Command::new(binary);
        // Run from the node's folder so no `config/` of a source tree is picked up.
        command
            .current_dir(&self.dir)
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", self.dir.join("storage"))
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                self.dir.join("snapshots"),
            )
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__CLUSTER__ENABLED", "true")
            .env("QDRANT__CLUSTER__P2P__PORT", self.p2p.to_string())
            .arg("--disable-telemetry")
            .arg("--uri")
            .arg(format!("http://127.0.0.1:{}", self.p2p))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(first) = bootstrap {
            command
                .arg("--bootstrap")
                .arg(format!("http://127.0.0.1:{first}"));
        }
        self.process = Some(command.spawn().expect("the Qdrant binary starts"));
    }

    /// SIGKILL: no shutdown, as a crashed machine.
    fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn get_json(&self, path: &str) -> Option<serde_json::Value> {
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.http))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())?;
        // `/readyz` answers plain text: a success without JSON is `null`.
        Some(response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Waits until `ready(json)` holds for `GET path`, or panics after `within` naming the log.
    async fn wait_for(
        &self,
        path: &str,
        within: Duration,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.get_json(path).await.as_ref().is_some_and(&ready) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "node on {} not ready for {path} after {within:?}; see {}",
            self.http,
            self.dir.join("qdrant.log").display()
        );
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn point(i: i64, version: u32) -> StoredPoint {
    let key = DocumentKey::case(i);
    let mut dense = vec![0.0_f32; DIMS];
    dense[(i as usize) % DIMS] = 1.0;
    dense[(i as usize + 1) % DIMS] = 0.05 * (i % 7) as f32;
    let at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    StoredPoint {
        id: deterministic_point_id(&key, 0),
        dense,
        sparse_indices: vec![(i % 13) as u32, 100 + (i % 3) as u32],
        sparse_values: vec![1.0, 0.5],
        payload: ChunkPayload {
            source_type: SourceType::Case,
            doc_id: i,
            doc_key: key.to_string(),
            chunk_number: 0,
            chunk_count: 1,
            title: format!("case {i}"),
            text: format!("text of case {i}, version {version}"),
            product: None,
            created_at: at,
            updated_at: at,
            url: None,
            language: Some("en".to_string()),
            resolution: None,
            first_reply: None,
            linked_urls: vec![],
            linked_article_ids: vec![],
            tags: vec![],
            agent_only: false,
            content_hash: format!("{i}-{version}"),
        },
    }
}

fn probe() -> HybridQuery {
    let mut dense = vec![0.0_f32; DIMS];
    dense[0] = 1.0;
    dense[1] = 0.2;
    HybridQuery {
        dense,
        sparse_indices: vec![0, 101],
        sparse_values: vec![1.0, 1.0],
        filter: QueryFilter::default(),
        prefetch_limit: 40,
        limit: 20,
    }
}

async fn ranked(store: &QdrantServerStore) -> Vec<(Uuid, f32)> {
    store
        .hybrid_query(probe())
        .await
        .expect("the query answers")
        .iter()
        .map(|c| (c.id, c.score))
        .collect()
}

/// Upserts `points`; a failure must be retryable, and the write is repeated (as `ingest`
/// resumes) until it succeeds or `within` passes. Returns how many attempts failed.
async fn upsert_until_done(
    store: &QdrantServerStore,
    points: &[StoredPoint],
    within: Duration,
) -> usize {
    let start = Instant::now();
    let mut failures = 0;
    loop {
        match store.upsert(points.to_vec()).await {
            Ok(()) => return failures,
            Err(error) => {
                assert!(
                    !matches!(error.class(), ErrorClass::Permanent),
                    "a write with a node down must fail as retryable, got: {error}"
                );
                failures += 1;
                report(&format!(
                    "write attempt {failures} failed (retryable): {error}"
                ));
                assert!(
                    start.elapsed() < within,
                    "the write never completed: {error}"
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// `write_consistency = 1`: a write needs one copy, so ingest goes on while a node is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_leaves_queries_answering_and_ingest_going_on() {
    killed_node_scenario(1).await;
}

/// `write_consistency = 2`: every copy must acknowledge; a write to a shard with a dead copy may
/// fail, and must then fail as retryable and complete once the node is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_full_write_consistency_ingest_resumes_when_the_node_returns() {
    killed_node_scenario(2).await;
}

async fn killed_node_scenario(write_consistency: u32) {
    let binary = match std::env::var("QDRANT_BIN") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => {
            report(
                "skipped: QDRANT_BIN not set (a Qdrant v1.19 binary; the test starts a 3-node cluster itself)",
            );
            return;
        }
    };
    let root = tempfile::tempdir().unwrap();
    let ports = free_ports(9);
    let mut nodes: Vec<Node> = (0..3)
        .map(|n| Node {
            dir: root.path().join(format!("node{}", n + 1)),
            http: ports[3 * n],
            grpc: ports[3 * n + 1],
            p2p: ports[3 * n + 2],
            process: None,
        })
        .collect();
    let first_p2p = nodes[0].p2p;
    for (n, node) in nodes.iter_mut().enumerate() {
        node.start(&binary, (n > 0).then_some(first_p2p));
        node.wait_for("/readyz", Duration::from_secs(60), |_| true)
            .await;
    }
    nodes[0]
        .wait_for("/cluster", Duration::from_secs(60), |json| {
            json["result"]["peers"].as_object().map(|p| p.len()) == Some(3)
        })
        .await;

    // The layout of `[store]`: 3 shards, each on 2 of the 3 nodes.
    let layout = CollectionLayout {
        shards: Some(3),
        replication_factor: Some(2),
        write_consistency: Some(write_consistency),
    };
    let store = QdrantServerStore::new(&nodes[0].grpc_url(), None, "deskdraft", DIMS)
        .unwrap()
        .with_layout(layout);
    let before: Vec<StoredPoint> = (0..300).map(|i| point(i, 1)).collect();
    upsert_until_done(&store, &before, Duration::from_secs(5)).await;
    assert_eq!(store.stats().await.unwrap().points, 300);
    let answer_before = ranked(&store).await;
    assert_eq!(answer_before.len(), 20);

    // Node 3 dies (the client talks to node 1, as a client talks to its one entry point).
    nodes[2].kill();
    let killed_at = Instant::now();
    let answer_down = ranked(&store).await;
    report(&format!(
        "first query with a node down answered in {:?}",
        killed_at.elapsed()
    ));
    assert_eq!(
        answer_down, answer_before,
        "with a node down the other replicas give the same answer"
    );
    assert_eq!(store.stats().await.unwrap().points, 300);

    // Ingest while it is down: 200 new documents and 50 rewritten ones.
    let during: Vec<StoredPoint> = (250..500).map(|i| point(i, 2)).collect();
    let written_while_down = match store.upsert(during.clone()).await {
        Ok(()) => true,
        Err(error) => {
            assert!(
                !matches!(error.class(), ErrorClass::Permanent),
                "a write with a node down must fail as retryable, got: {error}"
            );
            report(&format!(
                "write_consistency {write_consistency}: a write with a node down failed (retryable): {error}"
            ));
            false
        }
    };
    report(&format!(
        "write_consistency {write_consistency}: ingest with a node down {}",
        if written_while_down {
            "succeeded"
        } else {
            "failed, retryable"
        }
    ));
    if write_consistency == 1 {
        assert!(written_while_down, "one live copy is enough to write");
    }
    if written_while_down {
        let down = nodes[0]
            .get_json("/collections/deskdraft/cluster")
            .await
            .unwrap();
        assert!(
            replica_states(&down).contains(&"Dead".to_string()),
            "the killed node's replicas are marked dead and writes went on without them: {down}"
        );
        assert_eq!(store.stats().await.unwrap().points, 500);
    }

    // The node comes back on its own storage and catches up; the interrupted ingest resumes.
    nodes[2].start(&binary, None);
    nodes[2]
        .wait_for("/readyz", Duration::from_secs(60), |_| true)
        .await;
    let back_at = Instant::now();
    if !written_while_down {
        let failures = upsert_until_done(&store, &during, Duration::from_secs(120)).await;
        report(&format!(
            "the resumed write completed after {failures} more failed attempts"
        ));
    }
    nodes[0]
        .wait_for(
            "/collections/deskdraft/cluster",
            Duration::from_secs(120),
            all_replicas_active,
        )
        .await;
    report(&format!(
        "every replica active again {:?} after the restart",
        back_at.elapsed()
    ));
    let after: Vec<StoredPoint> = (500..600).map(|i| point(i, 3)).collect();
    upsert_until_done(&store, &after, Duration::from_secs(60)).await;

    // No duplicates, nothing lost, the rewritten documents carry their new text.
    let expected: BTreeSet<Uuid> = (0..600)
        .map(|i| deterministic_point_id(&DocumentKey::case(i), 0))
        .collect();
    for node in [&nodes[0], &nodes[2]] {
        let view = QdrantServerStore::new(&node.grpc_url(), None, "deskdraft", DIMS).unwrap();
        let stats = view.stats().await.unwrap();
        assert_eq!(stats.points, 600, "exactly one point per document");
        let payloads = view.scroll_payloads(SourceType::Case).await.unwrap();
        let ids: BTreeSet<Uuid> = payloads.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, expected);
        assert_eq!(payloads.len(), 600);
        for (_, payload) in &payloads {
            let version = match payload.doc_id {
                0..250 => 1,
                250..500 => 2,
                _ => 3,
            };
            assert_eq!(
                payload.content_hash,
                format!("{}-{version}", payload.doc_id)
            );
        }
    }
    // Every replica of a shard holds the same points: the restarted node caught up.
    let mut replica_counts: std::collections::BTreeMap<u64, BTreeSet<u64>> = Default::default();
    for node in &nodes {
        let info = node
            .get_json("/collections/deskdraft/cluster")
            .await
            .unwrap();
        for shard in info["result"]["local_shards"].as_array().unwrap() {
            replica_counts
                .entry(shard["shard_id"].as_u64().unwrap())
                .or_default()
                .insert(shard["points_count"].as_u64().unwrap());
        }
    }
    assert_eq!(replica_counts.len(), 3, "{replica_counts:?}");
    assert!(
        replica_counts.values().all(|counts| counts.len() == 1),
        "replicas of a shard disagree: {replica_counts:?}"
    );
    assert_eq!(
        replica_counts
            .values()
            .map(|c| c.iter().next().unwrap())
            .sum::<u64>(),
        600
    );
    // Node 3 answers queries from its own replicas like node 1.
    let view = QdrantServerStore::new(&nodes[2].grpc_url(), None, "deskdraft", DIMS).unwrap();
    assert_eq!(ranked(&view).await, ranked(&store).await);
}

/// The state of every shard replica, local and remote, as one node sees them.
fn replica_states(json: &serde_json::Value) -> Vec<String> {
    let result = &json["result"];
    result["local_shards"]
        .as_array()
        .into_iter()
        .chain(result["remote_shards"].as_array())
        .flatten()
        .map(|shard| shard["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every shard replica of the collection is `Active` and no transfer is running.
fn all_replicas_active(json: &serde_json::Value) -> bool {
    let states = replica_states(json);
    let transfers = json["result"]["shard_transfers"]
        .as_array()
        .is_none_or(|t| t.is_empty());
    states.len() == 6 && transfers && states.iter().all(|s| s == "Active")
}
