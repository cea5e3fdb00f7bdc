//! The error a command returns to the binary, with the process exit code it maps to:
//! 2 for bad input (malformed bundle, invalid arguments), 3 for rejected credentials,
//! 1 for everything else.

use crate::draft::{DraftError, TemplateError};
use crate::embed::EmbedError;
use crate::helpdesk::HelpdeskError;
use crate::helpdesk::bundle::BundleError;
use crate::helpdesk::export::ExportError;
use crate::ingest::pipeline::IngestError;
use crate::retrieve::RetrieveError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Configuration(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Retrieve(#[from] RetrieveError),
    #[error(transparent)]
    Draft(#[from] DraftError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Helpdesk(#[from] HelpdeskError),
    #[error(transparent)]
    Export(#[from] crate::helpdesk::export::ExportError),
    /// The job queue could not be opened or used (a database down is not bad input: exit 1).
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl CommandError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::BadInput(_) | Self::Config(_) | Self::Configuration(_) | Self::Bundle(_) => 2,
            Self::Queue(crate::queue::QueueError::TargetNotEmpty(_))
            | Self::Queue(crate::queue::QueueError::NewerSchema(_)) => 2,
            Self::Ingest(
                IngestError::Bundle(_)
                | IngestError::KnowledgeFolder(_)
                | IngestError::WrongAccount { .. },
            ) => 2,
            Self::Helpdesk(HelpdeskError::Unauthorized(_))
            | Self::Ingest(IngestError::Helpdesk(HelpdeskError::Unauthorized(_)))
            | Self::Export(ExportError::Helpdesk(HelpdeskError::Unauthorized(_))) => 3,
            _ => 1,
        }
    }
}
