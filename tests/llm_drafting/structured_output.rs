//! Structured output and context fitting against stand-ins that behave like different servers:
//! the form is detected once per server and remembered, a rejected form is never sent again,
//! the schema limits cited ids to the sources shown, an out-of-range self-rating is clamped and
//! flagged, and the prompt is fitted to the context the configuration or the server gives.

use super::*;
use deskdraft::llm::StructuredOutputForm;
use support::openai_stand_in::ServerKind;

fn formats(setup: &Setup) -> Vec<String> {
    setup
        .stand_in
        .requests()
        .iter()
        .map(|r| match r.body["response_format"]["type"].as_str() {
            Some("json_object") if r.body["response_format"].get("schema").is_some() => {
                "json_object+schema".to_string()
            }
            Some(kind) => kind.to_string(),
            None => "none".to_string(),
        })
        .collect()
}

fn two_answers() -> Vec<Scripted> {
    vec![
        answer(&good_reply(), &["case:101"], 0.9),
        answer(&good_reply(), &["article:201"], 0.8),
    ]
}

#[tokio::test]
async fn an_openai_like_server_gets_json_schema_with_the_shown_ids_only() {
    let setup = setup(two_answers(), Scripted::Hang, 10.0).await;
    for _ in 0..2 {
        let draft = draft_with(&setup, &english_request()).await;
        assert_eq!(draft.kind, DraftKind::Generated, "{:?}", draft.llm_fallback);
        let usage = draft.llm.as_ref().unwrap();
        assert_eq!(
            usage.structured_output,
            Some(StructuredOutputForm::JsonSchema)
        );
    }
    assert_eq!(formats(&setup), ["json_schema", "json_schema"]);
    let sent = &setup.stand_in.requests()[0].body["response_format"]["json_schema"];
    assert_eq!(sent["strict"], true);
    let ids = &sent["schema"]["properties"]["source_ids"]["items"]["enum"];
    assert_eq!(
        ids,
        &serde_json::json!(["case:101", "article:201", "case:102", "article:202"])
    );
    // OpenAI's strict mode refuses length keywords: none are sent in this form.
    assert!(!sent.to_string().contains("maxLength"), "{sent}");
}

#[tokio::test]
async fn llama_cpp_python_is_detected_once_and_json_schema_is_not_sent_again() {
    let setup = setup(two_answers(), Scripted::Hang, 10.0).await;
    setup.stand_in.set_server_kind(ServerKind::LlamaCppPython);
    for _ in 0..2 {
        let draft = draft_with(&setup, &english_request()).await;
        assert_eq!(draft.kind, DraftKind::Generated, "{:?}", draft.llm_fallback);
        assert_eq!(
            draft.llm.as_ref().unwrap().structured_output,
            Some(StructuredOutputForm::JsonObjectSchema)
        );
    }
    // The rejection (a 500 naming response_format) is not retried as a transient error.
    assert_eq!(
        formats(&setup),
        ["json_schema", "json_object+schema", "json_object+schema"]
    );
    let schema = &setup.stand_in.requests()[1].body["response_format"]["schema"];
    assert_eq!(schema["properties"]["reply"]["maxLength"], 800);
    assert_eq!(schema["required"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn a_server_without_structured_output_ends_with_plain_requests_and_parsing() {
    let setup = setup(two_answers(), Scripted::Hang, 10.0).await;
    setup
        .stand_in
        .set_server_kind(ServerKind::NoStructuredOutput);
    let first = draft_with(&setup, &english_request()).await;
    let second = draft_with(&setup, &english_request()).await;
    for draft in [&first, &second] {
        assert_eq!(draft.kind, DraftKind::Generated, "{:?}", draft.llm_fallback);
        assert_eq!(
            draft.llm.as_ref().unwrap().structured_output,
            Some(StructuredOutputForm::Plain)
        );
    }
    assert_eq!(
        formats(&setup),
        [
            "json_schema",
            "json_object+schema",
            "json_object",
            "none",
            "none"
        ]
    );
}

#[tokio::test]
async fn a_configured_form_is_the_only_one_sent_and_its_rejection_falls_back() {
    let setup = setup_with(two_answers(), Scripted::Hang, |settings| {
        settings.structured_output = deskdraft::config::StructuredOutputSetting::JsonSchema;
    })
    .await;
    setup.stand_in.set_server_kind(ServerKind::LlamaCppPython);
    let draft = draft_with(&setup, &english_request()).await;
    assert_fallback(&draft, "does not accept this response_format");
    assert_eq!(formats(&setup), ["json_schema"]);
}

#[tokio::test]
async fn an_absurd_self_rating_is_clamped_and_flagged_and_invented_ids_are_counted() {
    let answer_text = serde_json::json!({
        "reply": good_reply(),
        "source_ids": ["case:101", "127.0.43.185"],
        "confidence": 2_924_020_537_668_830.0_f64,
        "needs_human": []
    })
    .to_string();
    let setup = setup(vec![Scripted::Answer(answer_text)], Scripted::Hang, 10.0).await;
    let draft = draft_with(&setup, &english_request()).await;
    assert_eq!(draft.kind, DraftKind::Generated, "{:?}", draft.llm_fallback);
    assert!(draft.grounding.confidence_clamped);
    assert_eq!(draft.grounding.invented_ids_dropped, 1);
    assert!(
        draft
            .flags
            .iter()
            .any(|f| f.contains("outside 0..1") && f.contains("clamped")),
        "{:?}",
        draft.flags
    );
    assert!(draft.confidence <= 1.0);
    assert_eq!(
        draft
            .sources
            .iter()
            .map(|s| s.key.as_str())
            .collect::<Vec<_>>(),
        ["case:101"]
    );
}

/// A long source for the context tests: many whole sentences.
fn long_retrieval_text() -> String {
    "Hold the power button for five seconds until the light blinks blue. ".repeat(60)
}

#[tokio::test]
async fn a_small_configured_context_leaves_sources_out_and_says_so() {
    let setup = setup_with(two_answers(), Scripted::Hang, |settings| {
        settings.context_tokens = Some(1400);
        settings.max_output_tokens = 400;
    })
    .await;
    let templates = PromptTemplates::load(&repo().join("prompts")).expect("templates");
    let mut retrieval = retrieval();
    retrieval.cases[1].resolution = Some(long_retrieval_text());
    let request = english_request();
    let draft = compose_with_fallback(
        Some(&setup.generation),
        &request,
        retrieval,
        Some("en".into()),
        &templates,
        &DraftingConfig::default(),
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
    )
    .await
    .unwrap();
    // Generated or abstained on the checks, the model was asked and the fit recorded.
    assert!(draft.llm_fallback.is_none(), "{:?}", draft.llm_fallback);
    let fit = draft.llm.as_ref().unwrap().prompt_fit.clone().unwrap();
    assert_eq!(fit.context_tokens, 1400);
    assert_eq!(fit.sources_available, 4);
    assert!(
        fit.sources_left_out() + fit.sources_shortened >= 1,
        "{fit:?}"
    );
    assert!(fit.estimated_prompt_tokens + 400 <= 1400, "{fit:?}");
    assert!(
        draft.flags.iter().any(|f| f.contains("1400-token context")),
        "{:?}",
        draft.flags
    );
    let prompt = setup.stand_in.requests()[0].prompt_text();
    assert!(
        !prompt.contains(long_retrieval_text().trim()),
        "the long source was not sent whole"
    );
    // A shortened source ends at a sentence end, marked as shortened.
    for (index, _) in prompt.match_indices(" […]") {
        assert!(prompt[..index].ends_with("blue."), "{}", &prompt[..index]);
    }
}

#[tokio::test]
async fn the_context_size_is_taken_from_a_server_that_reports_it() {
    let setup = setup(two_answers(), Scripted::Hang, 10.0).await;
    setup.stand_in.set_props_context(1300);
    assert_eq!(setup.generation.chat.context_tokens().await, Some(1300));
    let mut retrieval = retrieval();
    retrieval.cases[1].resolution = Some(long_retrieval_text());
    let templates = PromptTemplates::load(&repo().join("prompts")).expect("templates");
    let draft = compose_with_fallback(
        Some(&setup.generation),
        &english_request(),
        retrieval,
        Some("en".into()),
        &templates,
        &DraftingConfig::default(),
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
    )
    .await
    .unwrap();
    let fit = draft.llm.as_ref().unwrap().prompt_fit.clone().unwrap();
    assert_eq!(fit.context_tokens, 1300);
    assert!(
        fit.sources_left_out() + fit.sources_shortened >= 1,
        "{fit:?}"
    );
}
