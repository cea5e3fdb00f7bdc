//! Builds the Freshdesk client for the `--freshdesk` commands from the `[freshdesk]` settings and
//! the API key in the environment, and checks the key before any long-running work starts.

use crate::config::Config;
use crate::errors::CommandError;
use crate::helpdesk::freshdesk::{ApiKey, Freshdesk, FreshdeskConfig, FreshdeskReader};

/// The account client, or a configuration error naming what is missing.
pub fn freshdesk_from_config(config: &Config) -> Result<Freshdesk, CommandError> {
    let key = ApiKey::from_env().map_err(|e| CommandError::Config(e.to_string()))?;
    let client_config = FreshdeskConfig::from_settings(&config.freshdesk, key)
        .map_err(|e| CommandError::Config(e.to_string()))?;
    Freshdesk::new(client_config).map_err(|e| CommandError::Config(e.to_string()))
}

/// `GET /agents/me`: a rejected key or an account without API access fails here, in one call,
/// with the fix in the message (exit code 3 for a rejected key).
pub async fn check_credentials(reader: &FreshdeskReader) -> Result<(), CommandError> {
    let agent = reader.me().await?;
    tracing::info!(agent_id = agent.id, "freshdesk: API key accepted");
    Ok(())
}
