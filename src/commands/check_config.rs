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
    toml::to_string_pretty(config).map_err(|e| CommandError::Config(e.to_string()))
}
