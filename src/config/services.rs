//! Settings of the services deskdraft talks to or runs: the Freshdesk account, the language
//! model endpoint, and `deskdraft serve`. Secrets are never fields here: they come from the
//! environment where they are used.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An OpenAI-compatible chat endpoint for written drafts. Without `base_url`, drafts are
/// retrieval-only. The key (if the endpoint needs one) comes only from `DESKDRAFT_LLM_API_KEY`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1` (Ollama). Default none.
    pub base_url: Option<String>,
    /// Model name as the endpoint knows it. Default `gpt-4o-mini`.
    pub model: String,
    /// Default 0.2: drafts should be faithful to the sources, not creative.
    pub temperature: f32,
    /// Longest answer in tokens. Default 800.
    pub max_output_tokens: u32,
    /// Per-attempt timeout in seconds (a hung endpoint falls back after the retries). Default 60.
    pub timeout_seconds: f64,
    /// Attempts per draft for rate limits and transient errors. Default 3.
    pub max_attempts: u32,
    /// Replace emails, phone, card and IBAN numbers by placeholders before text is sent:
    /// `auto` (on unless the endpoint is on this machine), `on`, `off`. Default `auto`.
    pub redact: RedactMode,
    /// Sources (cases + articles) shown to the model. Default 6.
    pub max_sources: usize,
    /// The model's context window in tokens: sources are left out (lowest-ranked first) or
    /// shortened at a sentence end so the prompt and `max_output_tokens` fit. Default none: asked
    /// from the server where it says (llama.cpp's `/props`, llama-cpp-python's and vLLM's
    /// `/models`), otherwise 8192.
    pub context_tokens: Option<u32>,
    /// How to ask for the answer's JSON shape: `auto` (detected once per server: OpenAI's
    /// `json_schema`, else `json_object` with a `schema` as llama-cpp-python takes it, else plain
    /// `json_object`, else none; a form the server rejects is not sent again), or one of
    /// `json_schema`, `json_object_schema`, `json_object`, `none`. Default `auto`.
    pub structured_output: StructuredOutputSetting,
    /// Whether the model's chat template has a system role. Default true; `false` sends the
    /// system prompt at the top of the user message (Gemma's template drops system messages).
    pub system_role: bool,
}

/// `[llm] structured_output`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutputSetting {
    Auto,
    JsonSchema,
    JsonObjectSchema,
    JsonObject,
    None,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RedactMode {
    Auto,
    On,
    Off,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            model: "gpt-4o-mini".to_string(),
            temperature: 0.2,
            max_output_tokens: 800,
            timeout_seconds: 60.0,
            max_attempts: 3,
            redact: RedactMode::Auto,
            max_sources: 6,
            context_tokens: None,
            structured_output: StructuredOutputSetting::Auto,
            system_role: true,
        }
    }
}

/// Where the Freshdesk account is and how much of its rate limit deskdraft may use. The API key
/// is not here: it comes only from `DESKDRAFT_FRESHDESK_API_KEY`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FreshdeskSettings {
    /// Account subdomain: `acme` for acme.freshdesk.com. Needed by `--freshdesk` commands.
    pub domain: Option<String>,
    /// Replaces `https://{domain}.freshdesk.com/api/v2` (a proxy, or a local stand-in; plain
    /// http is accepted for loopback only). Default none.
    pub base_url: Option<String>,
    /// The plan's limit in credits per minute (Growth 200, Pro 400, Enterprise 700). Default 50
    /// (Trial), the safe choice when unknown.
    pub plan_limit_per_minute: u32,
    /// The plan's "Tickets List" sub-limit per minute (Growth 20, Pro 100, Enterprise 200).
    /// Default: derived from `plan_limit_per_minute` when it is a published plan's total
    /// (200, 400, 700, 1000, 2000), otherwise none.
    pub list_limit_per_minute: Option<u32>,
    /// Where customers read solution articles, for links in drafts: a custom portal domain such
    /// as `https://support.acme.com`. Default `https://{domain}.freshdesk.com`.
    pub portal_url: Option<String>,
    /// Share of the limits deskdraft may use; the rest stays with humans and other
    /// integrations. Default 0.5.
    pub budget_share: f64,
    /// Length of the rate-limit window in seconds: Freshdesk's is 60. Only tests shorten it
    /// (together with their stand-in's). Default 60.
    pub rate_window_seconds: f64,
    /// Per-request timeout in seconds. Default 30.
    pub timeout_seconds: u64,
    /// Ticket conversations fetched concurrently during a sync or export (the limiter still
    /// paces them). Default 4.
    pub concurrency: usize,
    /// An incremental sync walks the knowledge base (which has no "updated since" filter) only
    /// when the last walk is older than this many minutes; `--full` always walks it. Default 60.
    pub articles_refresh_minutes: u64,
    /// A `--full` reconcile reads an archived ticket again (to notice one deleted from the
    /// archive, 1 credit each) only when it was last read longer ago than this. Default 30.
    pub archive_recheck_days: u64,
}

impl Default for FreshdeskSettings {
    fn default() -> Self {
        Self {
            domain: None,
            base_url: None,
            plan_limit_per_minute: 50,
            list_limit_per_minute: None,
            portal_url: None,
            budget_share: 0.5,
            rate_window_seconds: 60.0,
            timeout_seconds: 30,
            concurrency: 4,
            articles_refresh_minutes: 60,
            archive_recheck_days: 30,
        }
    }
}

/// `deskdraft serve`: the webhook, the queue workers and the review page. The webhook secret and
/// the review-page token come only from `DESKDRAFT_WEBHOOK_SECRET` and `DESKDRAFT_REVIEW_TOKEN`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServeSettings {
    /// Address to listen on. Default `127.0.0.1:8080` (put a TLS proxy in front for Freshdesk).
    pub listen: String,
    /// Jobs drafted at once. Default 2.
    pub workers: usize,
    /// Attempts before a job becomes a dead letter. Default 5.
    pub max_attempts: u32,
    /// How often the reconciler polls Freshdesk for new tickets the webhook missed, in seconds;
    /// 0 disables it. Default 300.
    pub poll_interval_seconds: u64,
    /// Largest webhook body accepted, in bytes. Default 65536.
    pub max_body_bytes: usize,
    /// Per-request timeout of the HTTP server, in seconds. Default 30.
    pub request_timeout_seconds: u64,
    /// The job queue database. Default `<data_dir>/queue.sqlite`.
    pub queue_path: Option<PathBuf>,
    /// How long a claimed job is reserved for its worker, in seconds; the worker renews it every
    /// third of that while it works, so a slow model call keeps its job, and a crashed worker's
    /// job is taken over after at most this long. Default 120.
    pub lease_seconds: u64,
    /// The address agents reach deskdraft at, e.g. `https://deskdraft.acme.com` (behind a TLS
    /// proxy). With https the review page's cookies are `Secure`. Default none.
    pub public_url: Option<String>,
    /// Browser origins allowed to call the sidebar app's API directly (CORS). The app calls it
    /// through the Freshworks request proxy, which needs none. Default none.
    pub app_origins: Vec<String>,
    /// The folder of the latest `deskdraft simulate --out DIR` run: the review console shows its
    /// measured precision per confidence band, risk-coverage curve and knowledge gaps next to the
    /// live figures, and serves its `report.html`. Default none.
    pub simulation_report_dir: Option<PathBuf>,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_string(),
            workers: 2,
            max_attempts: 5,
            poll_interval_seconds: 300,
            max_body_bytes: 65_536,
            request_timeout_seconds: 30,
            queue_path: None,
            lease_seconds: 120,
            public_url: None,
            app_origins: Vec::new(),
            simulation_report_dir: None,
        }
    }
}

/// Which vector store holds the index. The server's API key comes only from
/// `DESKDRAFT_QDRANT_API_KEY`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `edge` (Qdrant's engine in-process, in `<data_dir>/store`) or `qdrant` (a server or
    /// cluster at `url`). Default `edge`.
    pub backend: StoreBackend,
    /// gRPC URL of the Qdrant server, e.g. `http://localhost:6334`. Required for `qdrant`.
    pub url: Option<String>,
    /// Collection name on the server. Default `deskdraft`.
    pub collection: String,
    /// Shards of the collection deskdraft creates on a server. Default unset: the server
    /// decides (1 on a single server, one per node on a cluster). Applied only at creation;
    /// an existing collection with another value is reported (a warning), never changed.
    pub shards: Option<u32>,
    /// Copies of each shard on a cluster (Qdrant's `replication_factor`). Default 1; 2 keeps
    /// queries answering with one node down. Applied at creation, like `shards`.
    pub replication_factor: u32,
    /// Replicas that must acknowledge a write before it succeeds (Qdrant's
    /// `write_consistency_factor`), at most `replication_factor`. Default 1: ingest goes on
    /// while a replica is down. Applied at creation, like `shards`.
    pub write_consistency: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    Edge,
    Qdrant,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Edge,
            url: None,
            collection: "deskdraft".to_string(),
            shards: None,
            replication_factor: 1,
            write_consistency: 1,
        }
    }
}

#[cfg(test)]
// figment's test Jail returns its large error type by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::super::Config;

    #[test]
    fn store_layout_comes_from_the_environment_and_is_checked() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DESKDRAFT_STORE__SHARDS", "3");
            jail.set_env("DESKDRAFT_STORE__REPLICATION_FACTOR", "2");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.store.shards, Some(3));
            assert_eq!(config.store.replication_factor, 2);
            assert_eq!(config.store.write_consistency, 1, "the default");
            jail.set_env("DESKDRAFT_STORE__WRITE_CONSISTENCY", "3");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(
                error.contains("store.write_consistency") && error.contains("replication_factor"),
                "{error}"
            );
            Ok(())
        });
        let mut config = Config::default();
        config.store.replication_factor = 0;
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("store.replication_factor"), "{error}");
        let mut config = Config::default();
        config.store.shards = Some(0);
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("store.shards"), "{error}");
    }
}
