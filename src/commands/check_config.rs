//! `deskdraft check-config`: load and validate configuration, templates and the model folder
//! without touching any data, so mistakes surface before a long run.

use crate::config::Config;
use crate::draft::PromptTemplates;
use crate::errors::CommandError;

/// Returns the effective configuration as TOML when everything checks out.
pub fn run_check_config(config: &Config) -> Result<String, CommandError> {
    config.validate()?;
    PromptTemplates::load(&config.drafting.prompts_dir)?;
    let model_dir = &config.embedding.model_dir;
    for file in ["model.safetensors", "tokenizer.json", "config.json"] {
        if !model_dir.join(file).is_file() {
            return Err(CommandError::Embed(
                crate::embed::EmbedError::ModelMissing {
                    path: model_dir.display().to_string(),
                },
            ));
        }
    }
    let settings = &config.freshdesk;
    if settings.domain.is_some() || settings.base_url.is_some() {
        // The domain/URL and limits are checked with a placeholder key: the real key is only
        // required to be present, never read into the output.
        let placeholder = crate::helpdesk::freshdesk::ApiKey::new("placeholder");
        crate::helpdesk::freshdesk::FreshdeskConfig::from_settings(settings, placeholder)
            .map_err(|e| CommandError::Config(e.to_string()))?;
        crate::helpdesk::freshdesk::ApiKey::from_env()
            .map_err(|e| CommandError::Config(e.to_string()))?;
    }
    // `[queue] backend = "postgres"` needs its URL in the environment (checked, never printed).
    config.postgres_queue_url()?;
    if config.llm.base_url.is_some() {
        crate::llm::OpenAiCompatibleChat::from_settings(&config.llm)
            .map_err(|e| CommandError::Config(e.to_string()))?;
    }
    toml::to_string_pretty(config).map_err(|e| CommandError::Config(e.to_string()))
}
