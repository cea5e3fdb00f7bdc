//! deskdraft: drafts replies to helpdesk tickets from a team's own resolved tickets and knowledge
//! base, and measures how good those drafts would have been.
//!
//! One folder per concern: `helpdesk` (sources and the live API), `ingest` (clean, case, chunk,
//! pipeline), `embed` (dense and sparse vectors), `store` (vector stores), `retrieve` (hybrid
//! search and fusion), `llm` (chat models, redaction), `draft` (composition, generation, templates,
//! note HTML), `simulate` (replay and reports), `commands` (one runner per CLI subcommand).

pub mod app;
pub mod commands;
pub mod config;
pub mod domain;
pub mod draft;
pub mod embed;
pub mod errors;
pub mod helpdesk;
pub mod ingest;
pub mod llm;
pub mod net;
pub mod queue;
pub mod retrieve;
pub mod retry;
pub mod runtime;
pub mod serve;
pub mod simulate;
pub mod store;
pub mod telemetry;
