//! Loads the editable templates of `prompts/` (Jinja syntax via minijinja) and the team-owned
//! `tone.toml`, and renders them. Templates are data: edit them without rebuilding.

use std::path::{Path, PathBuf};

use minijinja::Environment;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "prompt folder {path} is missing {file}: point drafting.prompts_dir at the repository's prompts/ folder"
    )]
    Missing { path: String, file: &'static str },
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: String },
    #[error("rendering {template} failed: {problem}")]
    Render {
        template: &'static str,
        problem: String,
    },
}

/// The support team's voice settings (`tone.toml`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tone {
    pub signoff: String,
    #[serde(default)]
    pub voice: String,
    #[serde(default)]
    pub never_promise: Vec<String>,
}

/// Parsed templates, ready to render.
pub struct PromptTemplates {
    environment: Environment<'static>,
    pub tone: Tone,
    pub dir: PathBuf,
}

/// The templates every prompts folder must have.
const REQUIRED: [&str; 4] = ["retrieval_only.j2", "abstain.j2", "system.j2", "draft.j2"];

impl PromptTemplates {
    pub fn load(dir: &Path) -> Result<Self, TemplateError> {
        let mut environment = Environment::new();
        environment.set_trim_blocks(false);
        environment.set_keep_trailing_newline(false);
        for file in REQUIRED {
            let path = dir.join(file);
            let source = std::fs::read_to_string(&path).map_err(|_| TemplateError::Missing {
                path: dir.display().to_string(),
                file,
            })?;
            environment
                .add_template_owned(file.to_string(), source)
                .map_err(|e| TemplateError::Invalid {
                    file: path.display().to_string(),
                    problem: e.to_string(),
                })?;
        }
        let tone_path = dir.join("tone.toml");
        let tone_text =
            std::fs::read_to_string(&tone_path).map_err(|_| TemplateError::Missing {
                path: dir.display().to_string(),
                file: "tone.toml",
            })?;
        let tone: Tone = toml::from_str(&tone_text).map_err(|e| TemplateError::Invalid {
            file: tone_path.display().to_string(),
            problem: e.to_string(),
        })?;
        Ok(Self {
            environment,
            tone,
            dir: dir.to_path_buf(),
        })
    }

    pub fn render(
        &self,
        template: &'static str,
        context: minijinja::Value,
    ) -> Result<String, TemplateError> {
        self.environment
            .get_template(template)
            .and_then(|t| t.render(context))
            .map(|text| text.trim().to_string())
            .map_err(|e| TemplateError::Render {
                template,
                problem: format!("{e:#}"),
            })
    }
}
