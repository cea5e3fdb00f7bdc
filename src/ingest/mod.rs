//! Owns ingestion: cleaning raw messages, turning tickets and articles into documents, chunking,
//! and the pipeline that embeds and upserts them incrementally.

pub mod cases;
pub mod chunk;
pub mod clean;
pub mod freshdesk_sync;
pub mod language;
pub mod pipeline;
pub mod sources;
pub mod state;
pub mod sync_state;
