//! The endpoints as configured for the binary and the library: `draft` and `simulate` with an
//! LLM from config alone, the embeddings endpoint, and a prompt too long for the context.

use super::*;

fn deskdraft(data_dir: &Path, llm_url: &str) -> std::process::Command {
    let mut command = support::binary::isolated_deskdraft(data_dir);
    command
        .env("DESKDRAFT_LLM__BASE_URL", llm_url)
        .env("DESKDRAFT_LLM__MODEL", "cli-model")
        .env("DESKDRAFT_LOG", "warn")
        .arg("--data-dir")
        .arg(data_dir.join("data"));
    command
}

/// `draft` and `simulate` pick the endpoint up from configuration alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_and_simulate_use_the_configured_endpoint() {
    let stand_in = OpenAiStandIn::start(
        Vec::new(),
        answer(
            "Hello, please follow the steps in the article we linked; it fixes this in most cases.",
            &["case:1"],
            0.8,
        ),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = stand_in.base_url();
    let run = move |args: Vec<String>, dir: PathBuf, url: String| async move {
        tokio::task::spawn_blocking(move || deskdraft(&dir, &url).args(args).output().unwrap())
            .await
            .unwrap()
    };
    let tiny = repo().join("tests/fixtures/tiny-bundle");
    let ticket = repo().join("knowledge/open-tickets/ticket-2001.json");
    let out = dir.path().join("sim");
    let ingest = run(
        vec![
            "ingest".into(),
            "--bundle".into(),
            tiny.display().to_string(),
        ],
        dir.path().to_path_buf(),
        url.clone(),
    )
    .await;
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    let drafted = run(
        vec![
            "draft".into(),
            "--json".into(),
            "--ticket-json".into(),
            ticket.display().to_string(),
        ],
        dir.path().to_path_buf(),
        url.clone(),
    )
    .await;
    assert!(
        drafted.status.success(),
        "{}",
        String::from_utf8_lossy(&drafted.stderr)
    );
    assert!(!stand_in.requests().is_empty(), "draft called the endpoint");
    assert_eq!(stand_in.requests()[0].body["model"], "cli-model");
    assert_eq!(
        stand_in.requests()[0].authorization,
        None,
        "no key configured, none sent"
    );

    let before = stand_in.requests().len();
    let simulated = run(
        vec![
            "simulate".into(),
            "--bundle".into(),
            tiny.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ],
        dir.path().to_path_buf(),
        url,
    )
    .await;
    assert!(
        simulated.status.success(),
        "{}",
        String::from_utf8_lossy(&simulated.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let replayed = summary["replayed_tickets"].as_u64().unwrap();
    assert!(replayed > 0);
    assert_eq!(
        stand_in.requests().len() - before,
        replayed as usize,
        "one call per replayed ticket"
    );
    assert_eq!(
        summary["total_prompt_tokens"].as_u64(),
        Some(420 * replayed)
    );
}

fn embedding_config(
    url: &str,
    dimensions: usize,
    batch_size: usize,
) -> deskdraft::config::EmbeddingConfig {
    deskdraft::config::EmbeddingConfig {
        endpoint_url: Some(url.to_string()),
        endpoint_model: "embed-model".into(),
        endpoint_dimensions: Some(dimensions),
        batch_size,
        ..deskdraft::config::EmbeddingConfig::default()
    }
}

/// The endpoint embedder batches, reorders by `index`, normalises, and redacts nothing on a
/// loopback endpoint (redaction applies to external ones).
#[tokio::test]
async fn the_embeddings_endpoint_is_batched_ordered_and_normalised() {
    use deskdraft::embed::{DenseEmbedder, OpenAiCompatibleEmbedder};
    let stand_in = OpenAiStandIn::start(Vec::new(), Scripted::Hang).await;
    let embedder =
        OpenAiCompatibleEmbedder::new(&embedding_config(&stand_in.base_url(), 8, 3), None, true)
            .unwrap();
    let texts: Vec<String> = (0..7).map(|i| format!("text number {i}")).collect();
    let vectors = embedder.embed_batch(&texts).await.unwrap();
    assert_eq!(vectors.len(), 7);
    for vector in &vectors {
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
    // Same text alone gives the same vector as inside a batch: order was restored.
    let single = embedder.embed_batch(&texts[4..5]).await.unwrap();
    assert_eq!(single[0], vectors[4]);
    let requests = stand_in.requests();
    let batch_sizes: Vec<usize> = requests
        .iter()
        .map(|r| r.body["input"].as_array().unwrap().len())
        .collect();
    assert_eq!(batch_sizes, [3, 3, 1, 1]);
    assert_eq!(requests[0].body["model"], "embed-model");
}

#[tokio::test]
async fn an_embedding_dimension_that_differs_is_a_clear_error() {
    use deskdraft::embed::{DenseEmbedder, EmbedError, OpenAiCompatibleEmbedder};
    let stand_in = OpenAiStandIn::start(Vec::new(), Scripted::Hang).await;
    stand_in.set_embedding_dimensions(12);
    let embedder =
        OpenAiCompatibleEmbedder::new(&embedding_config(&stand_in.base_url(), 8, 4), None, true)
            .unwrap();
    let error = embedder
        .embed_batch(&["hello".to_string()])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            EmbedError::DimensionMismatch {
                expected: 8,
                actual: 12
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("12 dimensions"), "{error}");

    // A store built with the local model (384) refuses an 8-dimension endpoint, naming both.
    let dir = tempfile::tempdir().unwrap();
    let ingest = deskdraft(dir.path(), &stand_in.base_url())
        .args(["ingest", "--bundle"])
        .arg(repo().join("tests/fixtures/tiny-bundle"))
        .output()
        .unwrap();
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    let switched = deskdraft(dir.path(), &stand_in.base_url())
        .env("DESKDRAFT_EMBEDDING__ENDPOINT_URL", stand_in.base_url())
        .env("DESKDRAFT_EMBEDDING__ENDPOINT_DIMENSIONS", "8")
        .args(["draft", "--ticket-json"])
        .arg(repo().join("knowledge/open-tickets/ticket-2001.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&switched.stderr);
    assert!(!switched.status.success());
    assert!(stderr.contains("384") && stderr.contains('8'), "{stderr}");
}

#[tokio::test]
async fn a_prompt_too_long_for_the_context_is_retried_with_fewer_sources() {
    let too_long = || Scripted::Error {
        status: 400,
        code: "context_length_exceeded",
        retry_after: None,
    };
    let setup = setup(
        vec![
            too_long(),
            too_long(),
            answer(&good_reply(), &["case:101"], 0.9),
        ],
        Scripted::Hang,
        10.0,
    )
    .await;
    let draft = draft_with(&setup, &english_request()).await;
    assert_eq!(draft.kind, DraftKind::Generated, "{:?}", draft.llm_fallback);
    let shown: Vec<usize> = setup
        .stand_in
        .requests()
        .iter()
        .map(|r| {
            r.prompt_text().matches("\n[case:").count()
                + r.prompt_text().matches("\n[article:").count()
        })
        .collect();
    assert_eq!(
        shown,
        [4, 2, 1],
        "sources shown per attempt (6 capped to the 4 retrieved, then half, then 1)"
    );
}

/// `simulate --compare` replays the same tickets with both drafters and reports them side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_compare_reports_both_drafters_on_the_same_tickets() {
    let stand_in = OpenAiStandIn::start(
        Vec::new(),
        answer(
            "Hello, please follow the steps in the article; see https://invented.example/fix.",
            &["case:999999"],
            3.5,
        ),
    )
    .await;
    stand_in.set_server_kind(support::openai_stand_in::ServerKind::LlamaCppPython);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare");
    let (data, url, tiny, target) = (
        dir.path().to_path_buf(),
        stand_in.base_url(),
        repo().join("tests/fixtures/tiny-bundle"),
        out.clone(),
    );
    let output = tokio::task::spawn_blocking(move || {
        deskdraft(&data, &url)
            .args(["simulate", "--compare", "--bundle"])
            .arg(tiny)
            .arg("--out")
            .arg(target)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let compare: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let (plain, llm) = (&compare["retrieval_only"], &compare["llm"]);
    let tickets = plain["tickets"].as_u64().unwrap();
    assert!(tickets > 0);
    assert_eq!(llm["tickets"].as_u64(), Some(tickets), "the same tickets");
    assert_eq!(plain["drafter"], "retrieval-only");
    assert_eq!(plain["total_prompt_tokens"], 0);
    assert_eq!(plain["fallback_rate"], 0.0);
    assert_eq!(llm["fallback_rate"], 0.0);
    assert_eq!(llm["checked_answers"].as_u64(), Some(tickets));
    // Every answer cited an id never shown and a link no source has, and rated itself 3.5.
    assert_eq!(llm["invented_id_rate"], 1.0);
    assert_eq!(llm["invented_ids_dropped"].as_u64(), Some(tickets));
    assert_eq!(llm["link_removed_rate"], 1.0);
    assert_eq!(llm["confidence_clamped_rate"], 1.0);
    assert_eq!(
        llm["structured_output"]["json_object_schema"].as_u64(),
        Some(tickets)
    );
    assert_eq!(llm["total_prompt_tokens"].as_u64(), Some(420 * tickets));
    // Detected once: one rejected json_schema request, then one call per ticket.
    let calls = stand_in.requests().len() as u64;
    assert_eq!(calls, tickets + 1);
    for side in ["retrieval-only", "llm"] {
        assert!(out.join(side).join("summary.json").exists(), "{side}");
    }
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(html.contains("Where they differ most"));
    assert!(
        stdout.contains("| fallback rate (model answer unusable) | 0.000 | 0.000 |"),
        "{stdout}"
    );
    let tickets_csv = std::fs::read_to_string(out.join("llm").join("tickets.csv")).unwrap();
    assert!(
        tickets_csv
            .lines()
            .next()
            .unwrap()
            .contains("invented_ids_dropped")
    );
}
