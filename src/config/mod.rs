//! Owns configuration: one typed [`Config`] with documented defaults, read from an optional TOML
//! file and then overridden by `DESKDRAFT_*` environment variables (`__` separates sections, e.g.
//! `DESKDRAFT_RETRIEVAL__MAX_CASES=8`). [`Config::validate`] fails early with a clear message.

use std::path::{Path, PathBuf};

mod queue;
mod retrieval;
mod services;

pub use queue::{
    DATABASE_URL_ENV, QUEUE_URL_ENV, QueueBackend, QueueSettings, check_queue_url,
    queue_url_from_env,
};

pub use retrieval::RetrievalConfig;

pub use services::{
    FreshdeskSettings, LlmSettings, RedactMode, ServeSettings, StoreBackend, StoreSettings,
    StructuredOutputSetting,
};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(String),
    #[error("configuration file {0} does not exist")]
    MissingFile(String),
    #[error("invalid configuration: {field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

/// Everything deskdraft can be told. Every field has a default; see `deskdraft.example.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the store, ingest state and reports live. Default `./data`.
    pub data_dir: PathBuf,
    pub embedding: EmbeddingConfig,
    pub chunking: ChunkingConfig,
    pub retrieval: RetrievalConfig,
    pub drafting: DraftingConfig,
    pub simulation: SimulationConfig,
    pub freshdesk: FreshdeskSettings,
    pub llm: LlmSettings,
    pub serve: ServeSettings,
    pub store: StoreSettings,
    pub queue: QueueSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Folder holding all-MiniLM-L6-v2 (`model.safetensors`, `tokenizer.json`, `config.json`),
    /// placed there by `scripts/fetch-model.sh`. Default `./models/all-MiniLM-L6-v2`.
    pub model_dir: PathBuf,
    /// Texts per embedding batch. Default 32.
    pub batch_size: usize,
    /// Use an OpenAI-compatible `/embeddings` endpoint instead of the local model, e.g.
    /// `https://api.openai.com/v1`. The key comes only from `DESKDRAFT_EMBEDDING_API_KEY`.
    /// Default none (local model). Changing it re-embeds everything into a new `data_dir`.
    pub endpoint_url: Option<String>,
    /// Model name at the endpoint. Default `text-embedding-3-small`.
    pub endpoint_model: String,
    /// Dimension of the endpoint's vectors (required with `endpoint_url`; 1536 for
    /// text-embedding-3-small). Default none.
    pub endpoint_dimensions: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkingConfig {
    /// Largest chunk in model tokens; MiniLM reads at most 256 including special tokens. Default 200.
    pub max_tokens: usize,
    /// Tokens shared by consecutive chunks so a sentence cut in two is still found. Default 24.
    pub overlap_tokens: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DraftingConfig {
    /// Folder of the editable templates. Default `./prompts`.
    pub prompts_dir: PathBuf,
    /// Below this confidence the note explains why there is no draft. Default 0.35.
    pub confidence_threshold: f32,
    /// Longest draft text in characters. Default 6000.
    pub max_draft_chars: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimulationConfig {
    /// Tickets replayed when no selection is given. Default 200.
    pub default_sample: usize,
    /// Precision the suggested confidence threshold aims for. Default 0.5.
    pub target_precision: f32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            embedding: EmbeddingConfig::default(),
            chunking: ChunkingConfig::default(),
            retrieval: RetrievalConfig::default(),
            drafting: DraftingConfig::default(),
            simulation: SimulationConfig::default(),
            freshdesk: FreshdeskSettings::default(),
            llm: LlmSettings::default(),
            serve: ServeSettings::default(),
            store: StoreSettings::default(),
            queue: QueueSettings::default(),
        }
    }
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            model_dir: PathBuf::from("./models/all-MiniLM-L6-v2"),
            batch_size: 32,
            endpoint_url: None,
            endpoint_model: "text-embedding-3-small".to_string(),
            endpoint_dimensions: None,
        }
    }
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        Self {
            max_tokens: 200,
            overlap_tokens: 24,
        }
    }
}

impl Default for DraftingConfig {
    fn default() -> Self {
        Self {
            prompts_dir: PathBuf::from("./prompts"),
            confidence_threshold: 0.35,
            max_draft_chars: 6000,
        }
    }
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            default_sample: 200,
            target_precision: 0.5,
        }
    }
}

impl Config {
    /// Defaults, then the file (if given; it must exist), then `DESKDRAFT_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::MissingFile(file.display().to_string()));
            }
            figment = figment.merge(Toml::file(file));
        } else if Path::new("deskdraft.toml").exists() {
            figment = figment.merge(Toml::file("deskdraft.toml"));
        }
        // Secrets such as DESKDRAFT_FRESHDESK_API_KEY are read where they are used, never stored here.
        let env = Env::prefixed("DESKDRAFT_").split("__").ignore(&[
            "config",
            "freshdesk_api_key",
            "llm_api_key",
            "embedding_api_key",
            "webhook_secret",
            "review_token",
            "app_token",
            "qdrant_api_key",
            "queue_url",
            "log",
            // scripts/local-llm.sh and the real-model test, not configuration.
            "real_llm_url",
            "local_llm_dir",
            "local_llm_port",
            "local_llm_n_ctx",
            "local_llm_threads",
        ]);
        let mut config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        config.treat_empty_as_unset();
        config.validate()?;
        Ok(config)
    }

    /// `DESKDRAFT_LLM__BASE_URL=` (empty, as compose files write an unset variable) means "not
    /// set", not "an invalid URL".
    fn treat_empty_as_unset(&mut self) {
        for field in [
            &mut self.llm.base_url,
            &mut self.embedding.endpoint_url,
            &mut self.freshdesk.domain,
            &mut self.freshdesk.base_url,
            &mut self.store.url,
        ] {
            if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *field = None;
            }
        }
    }

    /// Check values that would otherwise fail late (mid-ingest) or silently misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, problem: &str| {
            Err(ConfigError::Invalid {
                field,
                problem: problem.to_string(),
            })
        };
        if self.embedding.batch_size == 0 || self.embedding.batch_size > 1024 {
            return invalid("embedding.batch_size", "must be between 1 and 1024");
        }
        if self.chunking.max_tokens < 16 || self.chunking.max_tokens > 254 {
            return invalid(
                "chunking.max_tokens",
                "must be between 16 and 254 (the model reads 256 tokens including [CLS] and [SEP])",
            );
        }
        if self.chunking.overlap_tokens >= self.chunking.max_tokens / 2 {
            return invalid(
                "chunking.overlap_tokens",
                "must be less than half of chunking.max_tokens",
            );
        }
        if self.retrieval.prefetch_limit == 0 || self.retrieval.candidate_chunks == 0 {
            return invalid(
                "retrieval.prefetch_limit",
                "prefetch_limit and candidate_chunks must be positive",
            );
        }
        if self.retrieval.max_cases == 0 && self.retrieval.max_articles == 0 {
            return invalid(
                "retrieval.max_cases",
                "max_cases and max_articles cannot both be 0",
            );
        }
        let retrieval = &self.retrieval;
        if retrieval.case_vote_weight < 0.0 || retrieval.direct_article_weight < 0.0 {
            return invalid(
                "retrieval.case_vote_weight",
                "article ranking weights cannot be negative",
            );
        }
        if retrieval.rank_constant <= 0.0 {
            return invalid("retrieval.rank_constant", "must be positive");
        }
        if !(0.0..=1.0).contains(&self.drafting.confidence_threshold) {
            return invalid(
                "drafting.confidence_threshold",
                "must be between 0.0 and 1.0",
            );
        }
        if self.drafting.max_draft_chars < 200 {
            return invalid("drafting.max_draft_chars", "must be at least 200");
        }
        if !(0.0..=1.0).contains(&self.simulation.target_precision) {
            return invalid("simulation.target_precision", "must be between 0.0 and 1.0");
        }
        let freshdesk = &self.freshdesk;
        if !(freshdesk.budget_share > 0.0 && freshdesk.budget_share <= 1.0) {
            return invalid("freshdesk.budget_share", "must be in (0, 1]");
        }
        if freshdesk.plan_limit_per_minute == 0 {
            return invalid(
                "freshdesk.plan_limit_per_minute",
                "must be positive (the Free plan has no API access)",
            );
        }
        let window_is_positive =
            freshdesk.rate_window_seconds.is_finite() && freshdesk.rate_window_seconds > 0.0;
        if !window_is_positive || freshdesk.timeout_seconds == 0 {
            return invalid(
                "freshdesk.rate_window_seconds",
                "rate_window_seconds and timeout_seconds must be positive",
            );
        }
        if self.embedding.endpoint_url.is_some()
            && self.embedding.endpoint_dimensions.is_none_or(|d| d == 0)
        {
            return invalid(
                "embedding.endpoint_dimensions",
                "must be set (e.g. 1536 for text-embedding-3-small) when embedding.endpoint_url is",
            );
        }
        if self.store.backend == StoreBackend::Qdrant
            && !self
                .store
                .url
                .as_deref()
                .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"))
        {
            return invalid(
                "store.url",
                "the qdrant backend needs the server's gRPC URL, e.g. http://localhost:6334",
            );
        }
        let store = &self.store;
        if store
            .shards
            .is_some_and(|shards| shards == 0 || shards > 1024)
        {
            return invalid("store.shards", "must be between 1 and 1024 (or unset)");
        }
        if store.replication_factor == 0 || store.replication_factor > 16 {
            return invalid("store.replication_factor", "must be between 1 and 16");
        }
        if store.write_consistency == 0 || store.write_consistency > store.replication_factor {
            return invalid(
                "store.write_consistency",
                "must be between 1 and store.replication_factor (a write cannot wait for more copies than exist)",
            );
        }
        let llm = &self.llm;
        if let Some(base_url) = &llm.base_url
            && !(base_url.starts_with("http://") || base_url.starts_with("https://"))
        {
            return invalid(
                "llm.base_url",
                "must be an http(s) URL such as http://localhost:11434/v1",
            );
        }
        if llm.model.trim().is_empty() || !(0.0..=2.0).contains(&llm.temperature) {
            return invalid("llm.model", "model must be set and temperature within 0..2");
        }
        if llm.max_output_tokens < 50 || llm.max_attempts == 0 || llm.max_sources == 0 {
            return invalid(
                "llm.max_output_tokens",
                "max_output_tokens must be >= 50, max_attempts and max_sources >= 1",
            );
        }
        if !(llm.timeout_seconds.is_finite() && llm.timeout_seconds > 0.0) {
            return invalid("llm.timeout_seconds", "must be positive");
        }
        if let Some(context) = llm.context_tokens
            && context < llm.max_output_tokens.saturating_add(256)
        {
            return invalid(
                "llm.context_tokens",
                &format!(
                    "{context} leaves no room for a prompt: it must exceed max_output_tokens ({}) by at least 256",
                    llm.max_output_tokens
                ),
            );
        }
        if let Some(portal) = freshdesk.portal_url.as_deref()
            && url::Url::parse(portal)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .is_none()
        {
            return invalid(
                "freshdesk.portal_url",
                "must be an http(s) URL such as https://support.acme.com",
            );
        }
        if self.serve.lease_seconds < 2 {
            return invalid(
                "serve.lease_seconds",
                "must be at least 2 (workers renew leases every third of it)",
            );
        }
        if let Some(public) = self.serve.public_url.as_deref()
            && url::Url::parse(public)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .is_none()
        {
            return invalid(
                "serve.public_url",
                "must be an http(s) URL such as https://deskdraft.acme.com",
            );
        }
        if freshdesk.concurrency == 0 || freshdesk.concurrency > 32 {
            return invalid("freshdesk.concurrency", "must be between 1 and 32");
        }
        if self.queue.backend == QueueBackend::Postgres {
            let needed = 2 * self.serve.workers.max(1) + 2;
            if self.queue.max_connections < needed {
                return invalid(
                    "queue.max_connections",
                    &format!(
                        "must be at least 2 x serve.workers + 2 = {needed} (a posting worker \
                         holds a ticket lock and a queue connection at once)"
                    ),
                );
            }
        }
        Ok(())
    }

    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    pub fn ingest_state_path(&self) -> PathBuf {
        self.data_dir.join("ingest-state.json")
    }

    /// The PostgreSQL queue's URL when `[queue] backend = "postgres"`: required, from the
    /// environment only. Checked by `check-config` and at the start of `serve`.
    pub fn postgres_queue_url(&self) -> Result<Option<String>, ConfigError> {
        if self.queue.backend != QueueBackend::Postgres {
            return Ok(None);
        }
        let (url, variable) = queue_url_from_env().ok_or_else(|| ConfigError::Invalid {
            field: "queue.backend",
            problem: format!(
                "postgres needs the database URL in {QUEUE_URL_ENV} (or {DATABASE_URL_ENV}), \
                 e.g. postgres://deskdraft:secret@localhost:5432/deskdraft"
            ),
        })?;
        check_queue_url(&url, variable).map_err(|problem| ConfigError::Invalid {
            field: "queue.backend",
            problem,
        })?;
        Ok(Some(url))
    }

    /// The serve job queue and drafts database.
    pub fn queue_path(&self) -> PathBuf {
        self.serve
            .queue_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("queue.sqlite"))
    }

    /// Cursor and per-ticket versions of the Freshdesk sync.
    pub fn freshdesk_sync_state_path(&self) -> PathBuf {
        self.data_dir.join("freshdesk-sync.json")
    }
}

#[cfg(test)]
// figment's test Jail returns its large error type by design.
#[allow(clippy::result_large_err)]
mod tests;
