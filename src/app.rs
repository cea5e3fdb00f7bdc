//! Wires components from configuration: the embedded defaults (local MiniLM, BM25, Qdrant Edge,
//! retrieval-only drafter) behind the traits the rest of the code uses.

use std::sync::Arc;

use crate::config::Config;
use crate::config::RedactMode;
use crate::config::StoreBackend;
use crate::draft::Generation;
use crate::draft::{Drafter, PromptTemplates};
use crate::embed::{DenseEmbedder, LocalMiniLmEmbedder, OpenAiCompatibleEmbedder, SparseEncoder};
use crate::errors::CommandError;
use crate::ingest::chunk::Chunker;
use crate::ingest::pipeline::IngestPipeline;
use crate::llm::{ChatModel, OpenAiCompatibleChat};
use crate::retrieve::Retriever;
use crate::store::server::CollectionLayout;
use crate::store::server::QDRANT_API_KEY_ENV;
use crate::store::{EdgeVectorStore, QdrantServerStore, VectorStore};

/// Shared, long-lived components.
pub struct Components {
    pub config: Config,
    pub local_embedder: Arc<LocalMiniLmEmbedder>,
    pub embedder: Arc<dyn DenseEmbedder>,
    pub sparse: Arc<SparseEncoder>,
    pub store: Arc<dyn VectorStore>,
}

impl Components {
    /// Load the model and open (or create) the store.
    pub fn open(config: Config) -> Result<Self, CommandError> {
        // The local model's tokenizer sizes chunks even when an endpoint embeds them.
        let local_embedder = Arc::new(LocalMiniLmEmbedder::load(&config.embedding.model_dir)?);
        let embedder: Arc<dyn DenseEmbedder> = if config.embedding.endpoint_url.is_some() {
            let redact = config.llm.redact != RedactMode::Off;
            Arc::new(OpenAiCompatibleEmbedder::from_config(
                &config.embedding,
                redact,
            )?)
        } else {
            local_embedder.clone()
        };
        let store: Arc<dyn VectorStore> = match config.store.backend {
            StoreBackend::Edge => Arc::new(EdgeVectorStore::open(
                &config.store_dir(),
                embedder.dimensions(),
            )?),
            StoreBackend::Qdrant => Arc::new(
                QdrantServerStore::new(
                    config.store.url.as_deref().unwrap_or_default(),
                    std::env::var(QDRANT_API_KEY_ENV)
                        .ok()
                        .filter(|k| !k.is_empty()),
                    &config.store.collection,
                    embedder.dimensions(),
                )?
                .with_layout(CollectionLayout::from_settings(&config.store)),
            ),
        };
        Ok(Self {
            config,
            local_embedder,
            embedder,
            sparse: Arc::new(SparseEncoder::new()),
            store,
        })
    }

    pub fn ingest_pipeline(&self) -> Result<IngestPipeline, CommandError> {
        let chunking = &self.config.chunking;
        let chunker = Chunker::new(
            self.local_embedder.tokenizer_arc(),
            chunking.max_tokens,
            chunking.overlap_tokens,
        )
        .map_err(|e| CommandError::Config(e.to_string()))?;
        Ok(IngestPipeline {
            embedder: Arc::clone(&self.embedder),
            sparse: Arc::clone(&self.sparse),
            chunker: Arc::new(chunker),
            store: Arc::clone(&self.store),
            state_path: self.config.ingest_state_path(),
            fingerprint: format!(
                "chunk={}/{};model={}",
                chunking.max_tokens,
                chunking.overlap_tokens,
                self.embedder.model_id()
            ),
            documents_per_batch: 256,
        })
    }

    pub async fn retriever(&self) -> Result<Arc<Retriever>, CommandError> {
        Ok(Arc::new(
            Retriever::new(
                Arc::clone(&self.embedder),
                Arc::clone(&self.sparse),
                Arc::clone(&self.store),
                self.config.retrieval.clone(),
            )
            .await?,
        ))
    }

    pub async fn drafter(&self) -> Result<Drafter, CommandError> {
        let templates = Arc::new(PromptTemplates::load(&self.config.drafting.prompts_dir)?);
        Ok(Drafter {
            retriever: self.retriever().await?,
            templates,
            config: self.config.drafting.clone(),
            generation: self.generation()?,
        })
    }

    /// The configured language model, if any; `None` keeps drafts retrieval-only.
    pub fn generation(&self) -> Result<Option<Generation>, CommandError> {
        let settings = &self.config.llm;
        if settings.base_url.is_none() {
            return Ok(None);
        }
        let chat = OpenAiCompatibleChat::from_settings(settings)
            .map_err(|e| CommandError::Config(e.to_string()))?;
        let redact = match settings.redact {
            RedactMode::On => true,
            RedactMode::Off => false,
            RedactMode::Auto => chat.is_external(),
        };
        Ok(Some(Generation {
            chat: Arc::new(chat),
            redact,
            max_sources: settings.max_sources,
        }))
    }
}
