//! The LLM drafter: builds the prompt from the retrieved sources (redacted when the endpoint is
//! external), asks for a structured answer, and checks it against the grounding contract before
//! anything reaches an agent:
//! - cited ids must be among the sources shown (others are dropped and flagged);
//! - every URL in the reply must come from a cited source (invented links are removed, flagged);
//! - refunds, prices, deadlines or eligibility that no cited source mentions are flagged;
//! - the reply must be in the customer's language (a mismatch lowers confidence and is flagged).
//!
//! The answer is asked for with its JSON Schema (source ids limited to the ids shown) in the
//! structured-output form the server takes ([`crate::llm::structured`]); the prompt is fitted to
//! the model's context first ([`super::fit`]); the checks are in [`super::grounding`].
//!
//! Any failure (endpoint, empty or malformed answer) is returned as an error: the caller falls
//! back to the retrieval-only draft, so a ticket never goes without a note because of the model.

use chrono::{DateTime, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::compose::is_linkable;
use super::fit::{
    PromptFit, ShownSource, TEMPLATE_TOKENS_PER_MESSAGE, estimate_tokens, fit_sources,
};
use super::grounding::check_answer;
use super::templates::{PromptTemplates, TemplateError};
use super::thread::ThreadTurn;
use super::{Draft, DraftRequest, LlmUsage};
use crate::config::DraftingConfig;
use crate::domain::SourceType;
use crate::llm::redact::Redactor;
use crate::llm::{ChatModel, ChatRequest, LlmError};
use crate::retrieve::{RetrievalResult, RetrievedSource};

#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the model's answer is not the JSON the prompt asks for: {0}")]
    NotStructured(String),
    #[error("the model returned an empty reply")]
    EmptyReply,
    #[error("the model's reply is no draft: {0}")]
    NotAReply(String),
}

/// The structured answer the prompt asks for.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ModelAnswer {
    pub reply: String,
    #[serde(default)]
    pub source_ids: Vec<String>,
    /// As the model wrote it; outside 0..1 it is clamped and flagged.
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub needs_human: Vec<String>,
}

/// A source as the model sees it.
#[derive(Debug, Clone, Serialize)]
struct PromptSource {
    id: String,
    kind: &'static str,
    title: String,
    url: Option<String>,
    text: String,
    /// The text was shortened at a sentence end to fit the model's context.
    shortened: bool,
}

fn language_name(code: &str) -> &str {
    match code {
        "en" => "English",
        "fr" => "French",
        "es" => "Spanish",
        "de" => "German",
        "it" => "Italian",
        "pt" => "Portuguese",
        "nl" => "Dutch",
        "ja" => "Japanese",
        "zh" => "Chinese",
        "ko" => "Korean",
        other => other,
    }
}

/// The sources shown to the model: the nearest cases and the best-ranked articles, interleaved
/// so both kinds survive the cap.
pub fn prompt_sources(retrieval: &RetrievalResult, max_sources: usize) -> Vec<&RetrievedSource> {
    let mut cases = retrieval.cases.iter();
    let mut articles = retrieval.articles.iter();
    let mut chosen = Vec::new();
    while chosen.len() < max_sources {
        let before = chosen.len();
        chosen.extend(cases.next());
        if chosen.len() < max_sources {
            chosen.extend(articles.next());
        }
        if chosen.len() == before {
            break;
        }
    }
    chosen
}

/// How a source is named to the model; agents-only knowledge says so, so the model uses it
/// without pointing the customer to it.
fn prompt_kind(source: &RetrievedSource) -> &'static str {
    match source.source_type {
        SourceType::Case => "past case",
        SourceType::CannedResponse => "approved canned response",
        SourceType::Article if source.agent_only => {
            "internal article (agents only: use its facts, never link or name it)"
        }
        SourceType::Article => "article",
    }
}

pub(crate) fn source_text(source: &RetrievedSource) -> String {
    match &source.resolution {
        Some(answer) => format!(
            "Customer: {}\nAgent's answer: {}",
            source.snippet.trim(),
            answer.trim()
        ),
        None => source.snippet.trim().to_string(),
    }
}

/// The sources as the model would see them, whole, before fitting to the context.
pub fn whole_sources<'a>(sources: &[&'a RetrievedSource]) -> Vec<ShownSource<'a>> {
    sources
        .iter()
        .map(|s| ShownSource::whole(s, source_text(s)))
        .collect()
}

/// The longest reply the schema allows where the server enforces lengths (llama-cpp-python's
/// grammar): a small model that rambles stops at a closed string instead of running out of
/// tokens mid-JSON. Three characters a token leaves room for the rest of the object.
fn reply_max_chars(config: &DraftingConfig, max_output_tokens: u32) -> usize {
    config
        .max_draft_chars
        .min(max_output_tokens as usize * 3 / 2)
        .clamp(200, REPLY_MAX_CHARS_IN_A_GRAMMAR)
}

/// llama.cpp turns `maxLength: n` into n nested optional rules; past about 1,200 in one schema
/// its grammar parser refuses ("exceeds sane defaults") and llama-cpp-python 0.3.36 then crashes
/// on a null grammar (segfault in libllama, measured). 800 stays well clear of that.
const REPLY_MAX_CHARS_IN_A_GRAMMAR: usize = 800;

/// The JSON Schema of the answer: the cited ids can only be ids of the sources shown, so a
/// server that enforces the schema cannot return an invented one.
pub fn answer_schema(shown_ids: &[String], reply_max_chars: usize) -> serde_json::Value {
    let ids = if shown_ids.is_empty() {
        serde_json::json!({"type": "array", "items": {"type": "string"}, "maxItems": 0})
    } else {
        serde_json::json!({
            "type": "array",
            "items": {"type": "string", "enum": shown_ids},
            "maxItems": shown_ids.len(),
        })
    };
    serde_json::json!({
        "type": "object",
        "properties": {
            "reply": {"type": "string", "minLength": 1, "maxLength": reply_max_chars},
            "source_ids": ids,
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            // No maxLength on these items: every length limit adds nested rules to a grammar.
            "needs_human": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
        "required": ["reply", "source_ids", "confidence", "needs_human"],
        "additionalProperties": false,
    })
}

/// The chat request for a ticket, redacting identifiers when `redactor` is given.
pub fn build_chat_request(
    request: &DraftRequest,
    sources: &[ShownSource<'_>],
    customer_language: &str,
    templates: &PromptTemplates,
    redactor: Option<&mut Redactor>,
) -> Result<ChatRequest, TemplateError> {
    let mut identity = |text: &str| text.to_string();
    let mut redact_with;
    let redact: &mut dyn FnMut(&str) -> String = match redactor {
        Some(redactor) => {
            redact_with = move |text: &str| redactor.redact(text);
            &mut redact_with
        }
        None => &mut identity,
    };
    let customer_text = redact(&request.customer_text);
    let thread: Vec<ThreadTurn> = request
        .thread
        .iter()
        .map(|turn| ThreadTurn {
            text: redact(&turn.text),
            ..turn.clone()
        })
        .collect();
    let shown: Vec<PromptSource> = sources
        .iter()
        .map(|shown| {
            let s = shown.source;
            PromptSource {
                id: s.key().to_string(),
                kind: prompt_kind(s),
                title: redact(&s.title),
                // The model never sees the address of what customers must not be sent to.
                url: s.url.clone().filter(|_| is_linkable(s)),
                text: redact(&shown.text),
                shortened: shown.shortened,
            }
        })
        .collect();
    let system = templates.render(
        "system.j2",
        context! {
            tone => &templates.tone,
            language => customer_language,
            language_name => language_name(customer_language),
        },
    )?;
    let user = templates.render(
        "draft.j2",
        context! { customer_text => customer_text, thread => thread, sources => shown },
    )?;
    Ok(ChatRequest {
        system,
        user,
        json_object: true,
        answer_schema: None,
    })
}

/// The JSON object in the model's text (tolerating a Markdown fence around it, and raw line
/// breaks inside its strings).
pub fn parse_answer(content: &str) -> Result<ModelAnswer, GenerationError> {
    let json = super::model_json::object_text(content)
        .ok_or_else(|| GenerationError::NotStructured("no JSON object".into()))?;
    let json = super::model_json::escape_control_characters_in_strings(json);
    let mut answer: ModelAnswer =
        serde_json::from_str(&json).map_err(|e| GenerationError::NotStructured(e.to_string()))?;
    // A small base model shown an example with slots ({"reply": "<the reply text>", ...})
    // copies it back: valid JSON, ids within the schema, and no answer at all (seen with
    // Gemma 3 270M on every demo ticket). prompts/system.j2 no longer shows one, but a team's
    // own prompt may. Such a reply is no draft.
    if is_placeholder(&answer.reply) {
        return Err(GenerationError::NotStructured(format!(
            "the reply repeats the prompt's example ({:?}) instead of answering",
            answer.reply.trim()
        )));
    }
    answer.needs_human.retain(|reason| !is_placeholder(reason));
    Ok(answer)
}

/// `<something>` standing alone: a placeholder of the prompt's example, not text.
fn is_placeholder(text: &str) -> bool {
    let text = text.trim();
    text.starts_with('<')
        && text.ends_with('>')
        && !text[1..text.len().saturating_sub(1)].contains(['<', '>', '\n'])
}

/// Everything the model saw and said, checked into a draft.
pub struct GenerationInput<'a> {
    pub request: &'a DraftRequest,
    pub retrieval: RetrievalResult,
    pub customer_language: Option<String>,
    pub templates: &'a PromptTemplates,
    pub config: &'a DraftingConfig,
    pub max_sources: usize,
    pub redact: bool,
    pub now: DateTime<Utc>,
}

/// Fits the candidate sources to the model's context (see [`super::fit`]).
async fn fitted_sources<'a>(
    input: &GenerationInput<'_>,
    candidates: &[&'a RetrievedSource],
    language: &str,
    chat: &dyn ChatModel,
) -> Result<(Vec<ShownSource<'a>>, PromptFit), GenerationError> {
    let context_tokens = chat
        .context_tokens()
        .await
        .unwrap_or(crate::llm::openai::DEFAULT_CONTEXT_TOKENS);
    let bare = build_chat_request(input.request, &[], language, input.templates, None)?;
    let fixed = estimate_tokens(&bare.system)
        + estimate_tokens(&bare.user)
        + 2 * TEMPLATE_TOKENS_PER_MESSAGE
        + chat.max_output_tokens();
    let budget = context_tokens.saturating_sub(fixed);
    let texts: Vec<String> = candidates.iter().map(|s| source_text(s)).collect();
    let overhead = |index: usize| {
        let s = candidates[index];
        // "\n\n[id] kind: title (url)\n"
        s.key().to_string().len()
            + prompt_kind(s).len()
            + s.title.len()
            + s.url.as_deref().map_or(0, |u| u.len() + 3)
            + 8
    };
    let shown = fit_sources(candidates, texts, overhead, budget);
    let fit = PromptFit {
        context_tokens,
        estimated_prompt_tokens: 0,
        sources_available: candidates.len(),
        sources_shown: shown.len(),
        sources_shortened: shown.iter().filter(|s| s.shortened).count(),
    };
    Ok((shown, fit))
}

pub async fn compose_generated(
    input: GenerationInput<'_>,
    chat: &dyn ChatModel,
) -> Result<Draft, GenerationError> {
    let started = std::time::Instant::now();
    let language = input
        .customer_language
        .clone()
        .unwrap_or_else(|| "en".to_string());
    let retrieval = input.retrieval.clone();
    let candidates = prompt_sources(&retrieval, input.max_sources);
    let (mut shown, mut fit) = fitted_sources(&input, &candidates, &language, chat).await?;
    let reply_max_chars = reply_max_chars(input.config, chat.max_output_tokens());
    let mut redactor = Redactor::new();
    // A prompt the server still finds too long is retried with half the sources, down to one.
    let response = loop {
        let mut chat_request = build_chat_request(
            input.request,
            &shown,
            &language,
            input.templates,
            input.redact.then_some(&mut redactor),
        )?;
        let ids: Vec<String> = shown.iter().map(|s| s.source.key().to_string()).collect();
        chat_request.answer_schema = Some(answer_schema(&ids, reply_max_chars));
        fit.estimated_prompt_tokens = estimate_tokens(&chat_request.system)
            + estimate_tokens(&chat_request.user)
            + 2 * TEMPLATE_TOKENS_PER_MESSAGE;
        match chat.complete(&chat_request).await {
            Err(LlmError::ContextTooLong(message)) if shown.len() > 1 => {
                tracing::info!(shown = shown.len(), %message, "prompt too long; retrying with fewer sources");
                shown.truncate(shown.len() / 2);
                fit.sources_shown = shown.len();
                fit.sources_shortened = shown.iter().filter(|s| s.shortened).count();
            }
            other => break other?,
        }
    };
    let sources: Vec<&RetrievedSource> = shown.iter().map(|s| s.source).collect();
    let answer = parse_answer(&response.content)?;
    let reply = redactor.restore(answer.reply.trim());
    if reply.is_empty() {
        return Err(GenerationError::EmptyReply);
    }
    if let Some(reason) = super::reply_check::no_draft_reason(&reply, &input.request.customer_text)
    {
        return Err(GenerationError::NotAReply(reason));
    }
    let usage = LlmUsage {
        model: response.model.clone(),
        prompt_tokens: response.prompt_tokens,
        completion_tokens: response.completion_tokens,
        millis: started.elapsed().as_secs_f64() * 1e3,
        identifiers_redacted: redactor.count(),
        structured_output: response.structured_output,
        prompt_fit: Some(fit),
    };
    Ok(check_answer(input, &sources, answer, reply, usage))
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;

    #[test]
    fn a_reply_copied_from_the_prompts_example_is_not_an_answer() {
        let echoed = r#"{"reply": "<the reply text>", "source_ids": ["article:101"], "confidence": 0.9, "needs_human": ["<reasons an agent must check something>"]}"#;
        let error = parse_answer(echoed).unwrap_err().to_string();
        assert!(error.contains("repeats the prompt's example"), "{error}");
    }

    #[test]
    fn a_real_models_answer_with_a_raw_line_break_in_its_reply_is_read() {
        // Gemma 3 270M under llama-cpp-python's grammar, verbatim but for the words.
        let raw = "{ \"reply\": \"We only took one payment.\n\" ,\"source_ids\": [\"case:42\"], \"confidence\": 0, \"needs_human\": [] }";
        let answer = parse_answer(raw).unwrap();
        assert_eq!(answer.reply, "We only took one payment.\n");
        assert_eq!(answer.source_ids, vec!["case:42".to_string()]);
    }

    #[test]
    fn placeholder_reasons_are_dropped_and_real_replies_kept() {
        let answer = parse_answer(
            r#"{"reply": "Hold <K> for 5 seconds.", "needs_human": ["<reasons an agent must check something>", "check the order"]}"#,
        )
        .unwrap();
        assert_eq!(answer.reply, "Hold <K> for 5 seconds.");
        assert_eq!(answer.needs_human, vec!["check the order".to_string()]);
        // An HTML-looking reply is text, not a placeholder.
        assert!(parse_answer(r#"{"reply": "<p>Hi</p>"}"#).is_ok());
    }
}
