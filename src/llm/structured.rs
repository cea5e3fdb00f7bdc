//! Owns structured output: the forms in which OpenAI-compatible servers take a JSON Schema for
//! the answer, the order in which they are tried, and what counts as a server saying "not this
//! form".
//!
//! Servers differ: OpenAI, vLLM, Ollama and llama.cpp's own server take OpenAI's
//! `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`; llama-cpp-python's server
//! rejects it (HTTP 422 "Input should be 'text' or 'json_object'") and takes
//! `{"type": "json_object", "schema": {...}}` instead; some servers take neither. The client tries
//! the forms in [`candidates`] order once, remembers the first one the server accepts, and never
//! sends a rejected form again.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::LlmError;
use crate::config::StructuredOutputSetting;

/// How the answer's shape is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutputForm {
    /// OpenAI's `response_format: {"type": "json_schema", ...}`: the server enforces the schema.
    JsonSchema,
    /// `response_format: {"type": "json_object", "schema": ...}` (llama-cpp-python): enforced by a
    /// grammar built from the schema.
    JsonObjectSchema,
    /// `response_format: {"type": "json_object"}`: valid JSON, shape only asked for in the prompt.
    JsonObject,
    /// No `response_format`: the prompt asks for JSON and the answer is parsed leniently.
    Plain,
}

impl StructuredOutputForm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JsonSchema => "json_schema",
            Self::JsonObjectSchema => "json_object_schema",
            Self::JsonObject => "json_object",
            Self::Plain => "plain",
        }
    }

    /// Whether the server constrains the answer to the schema.
    pub fn enforces_schema(self) -> bool {
        matches!(self, Self::JsonSchema | Self::JsonObjectSchema)
    }

    /// The `response_format` value for this form, or `None` when none is sent.
    pub fn response_format(self, schema: &Value) -> Option<Value> {
        match self {
            Self::JsonSchema => Some(json!({
                "type": "json_schema",
                "json_schema": {
                    "name": "draft_answer",
                    "schema": without_length_limits(schema),
                    "strict": true,
                },
            })),
            Self::JsonObjectSchema => Some(json!({"type": "json_object", "schema": schema})),
            Self::JsonObject => Some(json!({"type": "json_object"})),
            Self::Plain => None,
        }
    }
}

/// The forms to try, best first: the configured one only, or (auto) the remembered one, or all.
pub fn candidates(
    setting: StructuredOutputSetting,
    remembered: Option<StructuredOutputForm>,
) -> Vec<StructuredOutputForm> {
    use StructuredOutputForm as Form;
    match setting {
        StructuredOutputSetting::JsonSchema => vec![Form::JsonSchema],
        StructuredOutputSetting::JsonObjectSchema => vec![Form::JsonObjectSchema],
        StructuredOutputSetting::JsonObject => vec![Form::JsonObject],
        StructuredOutputSetting::None => vec![Form::Plain],
        StructuredOutputSetting::Auto => match remembered {
            Some(form) => vec![form],
            None => vec![
                Form::JsonSchema,
                Form::JsonObjectSchema,
                Form::JsonObject,
                Form::Plain,
            ],
        },
    }
}

/// Whether an error is a validation error about the `response_format` the request carried: then
/// the next form is tried; any other error is the call's real outcome. Usually a 400 or 422;
/// llama-cpp-python 0.3 answers its validation error with a 500 whose message names the field.
pub fn rejects_response_format(status: u16, body: &str) -> bool {
    let lower = body.to_lowercase();
    let names_the_field = lower.contains("response_format") || lower.contains("json_schema");
    let is_validation = [
        "validation",
        "input should be",
        "not supported",
        "unsupported",
        "invalid",
        "unknown",
        "unrecognized",
        "not allowed",
    ]
    .iter()
    .any(|word| lower.contains(word));
    matches!(status, 400 | 422 | 500) && names_the_field && is_validation
}

/// OpenAI's strict mode refuses string length keywords; the other forms keep them (they bound a
/// small model's reply so it cannot run past `max_tokens` mid-string).
fn without_length_limits(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !matches!(key.as_str(), "minLength" | "maxLength"))
                .map(|(key, value)| (key.clone(), without_length_limits(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_length_limits).collect()),
        other => other.clone(),
    }
}

impl LlmError {
    /// Whether this error is a server refusing the structured-output form (see
    /// [`rejects_response_format`]).
    pub fn is_response_format_rejection(&self) -> bool {
        matches!(self, Self::ResponseFormatRejected(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_tries_every_form_until_one_is_remembered() {
        let all = candidates(StructuredOutputSetting::Auto, None);
        assert_eq!(all.first(), Some(&StructuredOutputForm::JsonSchema));
        assert_eq!(all.last(), Some(&StructuredOutputForm::Plain));
        assert_eq!(
            candidates(
                StructuredOutputSetting::Auto,
                Some(StructuredOutputForm::JsonObjectSchema)
            ),
            vec![StructuredOutputForm::JsonObjectSchema]
        );
        assert_eq!(
            candidates(
                StructuredOutputSetting::None,
                Some(StructuredOutputForm::JsonSchema)
            ),
            vec![StructuredOutputForm::Plain]
        );
    }

    #[test]
    fn llama_cpp_pythons_validation_error_is_a_rejection_and_other_errors_are_not() {
        // As llama-cpp-python 0.3.36 answers `json_schema` (measured): a 500.
        let llama = r#"{"error":{"message":"1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}","type":"internal_server_error","param":null,"code":null}}"#;
        assert!(rejects_response_format(500, llama));
        assert!(rejects_response_format(
            400,
            r#"{"error":{"message":"Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model"}}"#
        ));
        assert!(!rejects_response_format(
            400,
            r#"{"error":{"message":"maximum context length is 2048"}}"#
        ));
        assert!(!rejects_response_format(
            500,
            r#"{"error":{"message":"CUDA out of memory"}}"#
        ));
        assert!(!rejects_response_format(503, llama));
    }

    #[test]
    fn the_openai_form_drops_length_keywords_and_the_llama_form_keeps_them() {
        let schema =
            json!({"type": "object", "properties": {"reply": {"type": "string", "maxLength": 9}}});
        let openai = StructuredOutputForm::JsonSchema
            .response_format(&schema)
            .unwrap();
        assert!(
            openai["json_schema"]["schema"]["properties"]["reply"]
                .get("maxLength")
                .is_none()
        );
        let llama = StructuredOutputForm::JsonObjectSchema
            .response_format(&schema)
            .unwrap();
        assert_eq!(llama["schema"]["properties"]["reply"]["maxLength"], 9);
        assert!(
            StructuredOutputForm::Plain
                .response_format(&schema)
                .is_none()
        );
    }
}
