//! Drafting with a language model, against an OpenAI-compatible stand-in on 127.0.0.1 that
//! checks what it receives and answers from a script, including adversarial answers. Every case
//! must end in a safe note: a checked, generated draft, or the labelled retrieval-only fallback.
//!
//! The library tests feed fixed retrieval results (no store) so each answer's handling is exact;
//! the CLI test at the end runs `deskdraft draft` and `simulate` with the endpoint set by config.

#[path = "../support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use deskdraft::config::{DraftingConfig, LlmSettings};
use deskdraft::domain::SourceType;
use deskdraft::draft::render::render_note_html;
use deskdraft::draft::{
    Draft, DraftKind, DraftRequest, Generation, PromptTemplates, compose_with_fallback,
};
use deskdraft::llm::OpenAiCompatibleChat;
use deskdraft::retrieve::{RetrievalResult, RetrievedSource};
use deskdraft::retry::RetryPolicy;
use support::openai_stand_in::{OpenAiStandIn, Scripted, answer};

const WIFI_URL: &str = "https://help.kettleby.example/a/wifi-reset";
const CUSTOMER_EMAIL: &str = "jane.doe@example.com";
const CUSTOMER_CARD: &str = "4111 1111 1111 1111";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn source(kind: SourceType, id: i64, title: &str, similarity: f32) -> RetrievedSource {
    RetrievedSource {
        source_type: kind,
        id,
        title: title.to_string(),
        url: None,
        snippet: String::new(),
        score: similarity,
        similarity,
        created_at: Utc.with_ymd_and_hms(2025, 1, 10, 9, 0, 0).unwrap(),
        product: None,
        language: Some("en".into()),
        first_reply: None,
        resolution: None,
        linked_article_ids: Vec::new(),
        supporting_cases: 0,
        agent_only: false,
        updated_at: None,
    }
}

/// Two close past cases that both linked the Wi-Fi reset article, and two articles.
fn retrieval() -> RetrievalResult {
    let mut case = source(
        SourceType::Case,
        101,
        "Kettle will not join the Wi-Fi",
        0.91,
    );
    case.snippet = "My kettle does not connect to the wifi after the update".into();
    case.resolution = Some(format!(
        "Hold the power button for 5 seconds to reset the Wi-Fi module, then pair again: {WIFI_URL}"
    ));
    case.linked_article_ids = vec![201];
    let mut second = source(
        SourceType::Case,
        102,
        "Wi-Fi lost after firmware update",
        0.86,
    );
    second.snippet = "Since the firmware update the app cannot find my kettle".into();
    second.resolution = Some(format!(
        "A reset of the Wi-Fi module fixes this: {WIFI_URL}"
    ));
    second.linked_article_ids = vec![201];
    let mut article = source(SourceType::Article, 201, "Resetting the Wi-Fi module", 0.8);
    article.url = Some(WIFI_URL.into());
    article.snippet = "Hold the power button for 5 seconds until the light blinks blue.".into();
    article.supporting_cases = 2;
    let mut warranty = source(SourceType::Article, 202, "Warranty", 0.5);
    warranty.url = Some("https://help.kettleby.example/a/warranty".into());
    warranty.snippet = "Kettles are covered for two years.".into();
    RetrievalResult {
        cases: vec![case, second],
        articles: vec![article, warranty],
        ..RetrievalResult::default()
    }
}

fn request(customer_text: &str) -> DraftRequest {
    DraftRequest {
        ticket_id: 7001,
        customer_text: customer_text.to_string(),
        customer_first_name: None,
        product: None,
        as_of: None,
        thread: Vec::new(),
    }
}

fn english_request() -> DraftRequest {
    request(&format!(
        "Kettle not connecting to wifi\n\nSince yesterday my kettle will not connect to the wifi \
         network any more. Please reply to {CUSTOMER_EMAIL}; I paid with {CUSTOMER_CARD}, call me \
         on +44 20 7946 0958 if needed."
    ))
}

struct Setup {
    stand_in: OpenAiStandIn,
    generation: Generation,
}

async fn setup(script: Vec<Scripted>, fallback: Scripted, timeout_seconds: f64) -> Setup {
    setup_with(script, fallback, |settings| {
        settings.timeout_seconds = timeout_seconds
    })
    .await
}

/// A stand-in and a chat client whose `[llm]` settings `adjust` may change.
async fn setup_with(
    script: Vec<Scripted>,
    fallback: Scripted,
    adjust: impl FnOnce(&mut LlmSettings),
) -> Setup {
    let stand_in = OpenAiStandIn::start(script, fallback).await;
    let mut settings = LlmSettings {
        base_url: Some(stand_in.base_url()),
        model: "stand-in-model".into(),
        timeout_seconds: 10.0,
        max_attempts: 3,
        ..LlmSettings::default()
    };
    adjust(&mut settings);
    let chat = OpenAiCompatibleChat::new(&settings, Some("sk-test-key".into()))
        .expect("chat client")
        .with_retry_policy(RetryPolicy {
            max_attempts: settings.max_attempts,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        });
    Setup {
        stand_in,
        generation: Generation {
            chat: Arc::new(chat),
            redact: true,
            max_sources: 6,
        },
    }
}

async fn draft_with(setup: &Setup, request: &DraftRequest) -> Draft {
    let templates = PromptTemplates::load(&repo().join("prompts")).expect("templates");
    compose_with_fallback(
        Some(&setup.generation),
        request,
        retrieval(),
        deskdraft::ingest::language::detect_language(&request.customer_text),
        &templates,
        &DraftingConfig::default(),
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
    )
    .await
    .expect("a draft, whatever the model did")
}

fn good_reply() -> String {
    format!(
        "Hi,\n\nPlease hold the power button for 5 seconds to reset the Wi-Fi module, then pair the \
         kettle again in the app. The steps are here: {WIFI_URL}\n\nWe will confirm to {{email}} \
         once it works.\n\nThe Kettleby Support Team"
    )
    .replace("{email}", "[EMAIL_1]")
}

fn assert_fallback(draft: &Draft, cause: &str) {
    assert_eq!(draft.kind, DraftKind::RetrievalOnly, "{draft:#?}");
    let reason = draft
        .llm_fallback
        .as_deref()
        .expect("labelled as a fallback");
    assert!(
        reason.contains(cause),
        "fallback reason {reason:?} lacks {cause:?}"
    );
    assert!(
        draft.flags[0].contains("retrieval-only draft"),
        "{:?}",
        draft.flags
    );
    assert!(
        draft.text.contains(WIFI_URL),
        "the retrieval-only draft is a real draft"
    );
    assert!(render_note_html(draft).contains("retrieval-only fallback"));
}

#[tokio::test]
async fn a_grounded_answer_becomes_a_cited_draft_and_nothing_identifying_leaves() {
    let setup = setup(
        vec![answer(&good_reply(), &["case:101", "article:201"], 0.9)],
        Scripted::Hang,
        10.0,
    )
    .await;
    let draft = draft_with(&setup, &english_request()).await;

    assert_eq!(draft.kind, DraftKind::Generated, "{draft:#?}");
    let keys: Vec<&str> = draft.sources.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["case:101", "article:201"]);
    assert!(
        draft.text.contains(CUSTOMER_EMAIL),
        "placeholder restored: {}",
        draft.text
    );
    assert!(draft.text.contains(WIFI_URL));
    assert!(draft.confidence >= 0.7, "{}", draft.confidence);
    assert_eq!(draft.cited_article_ids.first(), Some(&201));
    let usage = draft.llm.as_ref().expect("usage recorded");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (420, 96));
    assert_eq!(usage.model, "stand-in-model");
    assert!(usage.identifiers_redacted >= 3, "{usage:?}");

    let requests = setup.stand_in.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.body["model"], "stand-in-model");
    // The stand-in takes OpenAI's form, so the answer's schema travels as `json_schema`.
    assert_eq!(sent.body["response_format"]["type"], "json_schema");
    assert_eq!(sent.authorization.as_deref(), Some("Bearer sk-test-key"));
    let prompt = sent.prompt_text();
    for secret in [CUSTOMER_EMAIL, CUSTOMER_CARD, "7946 0958"] {
        assert!(!prompt.contains(secret), "{secret} left the machine");
    }
    assert!(prompt.contains("[EMAIL_1]") && prompt.contains("[CARD_1]"));
    assert!(prompt.contains("[case:101]") && prompt.contains("[article:201]"));
    assert!(
        prompt.contains("English"),
        "the prompt names the customer's language"
    );
}

#[tokio::test]
async fn markup_from_the_model_is_escaped_in_the_note() {
    let evil = format!(
        "Hello <script>alert('x')</script> and <img src=x onerror=alert(1)>. Reset the Wi-Fi \
         module by holding the power button for 5 seconds: {WIFI_URL}"
    );
    let setup = setup(
        vec![answer(&evil, &["case:101"], 0.9)],
        Scripted::Hang,
        10.0,
    )
    .await;
    let draft = draft_with(&setup, &english_request()).await;
    assert_eq!(draft.kind, DraftKind::Generated);
    let html = render_note_html(&draft);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(html.contains(&format!("<a href=\"{WIFI_URL}\"")) || html.contains(WIFI_URL));
}

#[tokio::test]
async fn an_invented_link_and_a_never_retrieved_citation_are_removed_and_flagged() {
    let reply = format!(
        "Please reset the Wi-Fi module (hold the power button for 5 seconds): {WIFI_URL}. You can \
         also log in at https://kettleby-login.example/verify to confirm your account."
    );
    let setup = setup(
        vec![
            answer(&good_reply(), &["case:101", "article:201"], 0.9),
            answer(&reply, &["case:999", "case:101"], 0.9),
        ],
        Scripted::Hang,
        10.0,
    )
    .await;
    let clean = draft_with(&setup, &english_request()).await;
    let draft = draft_with(&setup, &english_request()).await;
    assert!(
        !draft.text.contains("kettleby-login.example"),
        "{}",
        draft.text
    );
    assert!(draft.text.contains("[link removed]"));
    assert!(
        draft.text.contains(WIFI_URL),
        "a link from a cited source stays"
    );
    let keys: Vec<&str> = draft.sources.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["case:101"]);
    let flags = draft.flags.join("\n");
    assert!(flags.contains("kettleby-login.example"), "{flags}");
    assert!(flags.contains("case:999"), "{flags}");
    assert!(
        draft.confidence < clean.confidence * 0.7,
        "{} vs {}",
        draft.confidence,
        clean.confidence
    );
}

/// A written-out address without a scheme is a link to a reader all the same.
#[tokio::test]
async fn an_invented_address_without_a_scheme_is_removed_and_flagged() {
    let reply = "Please reset the Wi-Fi module (hold the power button for 5 seconds), then \
                 confirm your account at evil.example/login or www.kettleby-verify.com today.";
    let setup = setup(
        vec![answer(reply, &["case:101", "article:201"], 0.9)],
        Scripted::Hang,
        10.0,
    )
    .await;
    let draft = draft_with(&setup, &english_request()).await;
    assert!(!draft.text.contains("evil.example"), "{}", draft.text);
    assert!(
        !draft.text.contains("kettleby-verify.com"),
        "{}",
        draft.text
    );
    assert_eq!(
        draft.text.matches("[link removed]").count(),
        2,
        "{}",
        draft.text
    );
    let flags = draft.flags.join("\n");
    assert!(flags.contains("evil.example/login"), "{flags}");
    assert!(
        draft.text.contains("hold the power button"),
        "the rest stays"
    );
}

#[tokio::test]
async fn unsupported_refunds_and_time_frames_are_flagged() {
    let reply = "Please reset the Wi-Fi module by holding the power button for 5 seconds. We will \
                 also refund $30 within 3 business days.";
    let setup = setup(
        vec![answer(reply, &["case:101"], 0.9)],
        Scripted::Hang,
        10.0,
    )
    .await;
    let draft = draft_with(&setup, &english_request()).await;
    let flags = draft.flags.join("\n");
    for claim in ["a refund", "a price", "a time frame"] {
        assert!(
            flags.contains(&format!("mentions {claim} that no cited source supports")),
            "{claim} not flagged: {flags}"
        );
    }
}

#[tokio::test]
async fn a_reply_in_the_wrong_language_is_flagged_and_less_confident() {
    let french = request(
        "Ma bouilloire ne se connecte plus au wifi\n\nDepuis la mise à jour, ma bouilloire ne se \
         connecte plus au réseau wifi de la maison. Pouvez-vous m'aider s'il vous plaît ?",
    );
    let setup = setup(
        vec![
            answer(
                "Bonjour, maintenez le bouton marche pendant 5 secondes pour réinitialiser le module \
                 wifi, puis associez de nouveau la bouilloire dans l'application. Cordialement",
                &["case:101"],
                0.9,
            ),
            answer(&good_reply(), &["case:101", "article:201"], 0.9),
        ],
        Scripted::Hang,
        10.0,
    )
    .await;
    let right = draft_with(&setup, &french).await;
    let wrong = draft_with(&setup, &french).await;
    assert!(
        setup.stand_in.requests()[0]
            .prompt_text()
            .contains("French")
    );
    assert_eq!(right.draft_language.as_deref(), Some("fr"));
    assert!(
        wrong
            .flags
            .iter()
            .any(|f| f.contains("the draft is in 'en' but the customer wrote in 'fr'")),
        "{:?}",
        wrong.flags
    );
    assert!(wrong.confidence < right.confidence * 0.7);
}

#[tokio::test]
async fn empty_and_malformed_answers_fall_back_to_the_labelled_retrieval_only_draft() {
    let setup = setup(
        vec![
            answer("   ", &["case:101"], 0.9),
            Scripted::RawBody("{\"choices\": [ {\"message\": ".into()),
            Scripted::Answer("Sure! Here is a friendly reply without any JSON.".into()),
        ],
        Scripted::Hang,
        10.0,
    )
    .await;
    assert_fallback(&draft_with(&setup, &english_request()).await, "empty reply");
    assert_fallback(
        &draft_with(&setup, &english_request()).await,
        "not a chat completion",
    );
    assert_fallback(
        &draft_with(&setup, &english_request()).await,
        "not the JSON",
    );
    assert_eq!(
        setup.stand_in.requests().len(),
        3,
        "unusable answers are not retried"
    );
}

#[tokio::test]
async fn a_429_is_retried_only_after_retry_after_and_a_500_falls_back_after_the_retries() {
    let limited = Scripted::Error {
        status: 429,
        code: "rate_limit_exceeded",
        retry_after: Some(1),
    };
    let setup = setup(
        vec![limited, answer(&good_reply(), &["case:101"], 0.9)],
        Scripted::Error {
            status: 500,
            code: "server_error",
            retry_after: None,
        },
        10.0,
    )
    .await;
    let draft = draft_with(&setup, &english_request()).await;
    assert_eq!(draft.kind, DraftKind::Generated);
    let requests = setup.stand_in.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "retried {waited:?} after a Retry-After of 1 s"
    );

    assert_fallback(&draft_with(&setup, &english_request()).await, "500");
    assert_eq!(
        setup.stand_in.requests().len(),
        2 + 3,
        "three attempts on a 500"
    );
}

#[tokio::test]
async fn a_hung_endpoint_times_out_and_falls_back() {
    let setup = setup(Vec::new(), Scripted::Hang, 0.3).await;
    let started = std::time::Instant::now();
    let draft = draft_with(&setup, &english_request()).await;
    assert_fallback(&draft, "timed out");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(setup.stand_in.requests().len(), 3);
}

mod configured_endpoints;
mod structured_output;
