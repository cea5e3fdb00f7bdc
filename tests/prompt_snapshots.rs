//! Snapshot tests of the editable templates in `prompts/` as the drafter renders them.
//!
//! When a template is edited on purpose, review and accept the new output with
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test --test prompt_snapshots`); in CI (`CI`
//! set) a mismatch fails.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use deskdraft::draft::{CitedSource, PromptTemplates};
use minijinja::context;

fn templates() -> &'static PromptTemplates {
    static TEMPLATES: OnceLock<PromptTemplates> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        PromptTemplates::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prompts"))
            .expect("the repository's prompts load")
    })
}

const ANSWER_EN: &str = "I've checked your account and we only took one payment of €19.00.\n\
The second amount is a temporary authorisation by your bank and will disappear by itself.";
const ANSWER_FR: &str = "J'ai vérifié votre compte : nous n'avons prélevé qu'un seul paiement de 19,00 €.\n\
Le second montant est une autorisation temporaire de votre banque.";
const ANSWER_ES: &str = "He revisado su cuenta y solo hemos cobrado un pago de 19,00 €.\n\
El segundo importe es una autorización temporal de su banco.";

fn articles() -> Vec<minijinja::Value> {
    vec![
        context! {
            title => "I was charged twice - what happened?",
            url => "https://support.kettleby.example/support/solutions/articles/104-i-was-charged-twice-what-happened",
        },
        context! {
            title => "Refunds: how long they take and where they go",
            url => "https://support.kettleby.example/support/solutions/articles/105-refunds-how-long-they-take-and-where-they-go",
        },
    ]
}

fn render_draft(
    language: &str,
    customer_name: &str,
    answer: &str,
    articles: Vec<minijinja::Value>,
) -> String {
    let templates = templates();
    templates
        .render(
            "retrieval_only.j2",
            context! {
                language => language,
                customer_name => customer_name,
                answer => answer,
                articles => articles,
                signoff => &templates.tone.signoff,
            },
        )
        .expect("retrieval_only.j2 renders")
}

#[test]
fn retrieval_only_en_with_articles() {
    insta::assert_snapshot!(render_draft("en", "Laura", ANSWER_EN, articles()));
}

#[test]
fn retrieval_only_en_without_articles_or_name() {
    insta::assert_snapshot!(render_draft("en", "", ANSWER_EN, vec![]));
}

#[test]
fn retrieval_only_fr_with_articles() {
    insta::assert_snapshot!(render_draft("fr", "Camille", ANSWER_FR, articles()));
}

#[test]
fn retrieval_only_fr_without_articles() {
    insta::assert_snapshot!(render_draft("fr", "", ANSWER_FR, vec![]));
}

#[test]
fn retrieval_only_es_with_articles() {
    insta::assert_snapshot!(render_draft("es", "Lucía", ANSWER_ES, articles()));
}

#[test]
fn retrieval_only_es_without_articles() {
    insta::assert_snapshot!(render_draft("es", "", ANSWER_ES, vec![]));
}

#[test]
fn retrieval_only_unknown_language_falls_back_to_english() {
    let rendered = render_draft("nl", "", ANSWER_EN, vec![]);
    assert_eq!(rendered, render_draft("en", "", ANSWER_EN, vec![]));
}

#[test]
fn the_signoff_comes_from_tone_toml() {
    let signoff = &templates().tone.signoff;
    assert!(!signoff.is_empty());
    for language in ["en", "fr", "es"] {
        let rendered = render_draft(language, "", ANSWER_EN, vec![]);
        assert!(rendered.ends_with(signoff.as_str()), "{rendered}");
    }
}

fn source(key: &str, title: &str, url: Option<&str>, age_days: Option<i64>) -> CitedSource {
    CitedSource {
        key: key.to_string(),
        title: title.to_string(),
        url: url.map(str::to_string),
        similarity: 0.61,
        created_at: Utc.with_ymd_and_hms(2025, 1, 10, 18, 14, 58).unwrap(),
        age_days,
        agent_only: false,
    }
}

fn render_abstain(reason: &str, confidence: f32, sources: &[CitedSource]) -> String {
    templates()
        .render(
            "abstain.j2",
            context! { reason => reason, confidence => confidence, sources => sources },
        )
        .expect("abstain.j2 renders")
}

#[test]
fn abstain_with_sources_including_an_undated_one() {
    let sources = vec![
        source(
            "case:1002",
            "Charged twice for first Tea Club box?",
            None,
            Some(686),
        ),
        source(
            "article:104",
            "I was charged twice - what happened?",
            Some(
                "https://support.kettleby.example/support/solutions/articles/104-i-was-charged-twice-what-happened",
            ),
            Some(0),
        ),
        source(
            "article:-123456789",
            "Brew One error codes and light ring colours",
            Some("https://kettleby.example/guides/error-codes"),
            None,
        ),
    ];
    insta::assert_snapshot!(render_abstain(
        "the closest past cases are not similar enough to reuse an answer",
        0.2663,
        &sources
    ));
}

#[test]
fn abstain_without_sources() {
    insta::assert_snapshot!(render_abstain("no similar past case was found", 0.0, &[]));
}

#[test]
fn drafts_are_plain_text_never_html_escaped() {
    let answer = "Use the \"Reset\" button & hold <K> for 5 s; it's fine.";
    let rendered = render_draft("en", "Zoë & Jo", answer, vec![]);
    assert!(rendered.contains(answer), "{rendered}");
    assert!(rendered.starts_with("Hi Zoë & Jo,"), "{rendered}");
    let abstained = render_abstain("closest case is about \"E2\" & <E3>", 0.1, &[]);
    assert!(abstained.contains("\"E2\" & <E3>"), "{abstained}");
}

/// The LLM prompts as `build_chat_request` renders them: system rules with the tone file and
/// the customer's language, and the user message with redacted identifiers and numbered sources.
#[test]
fn llm_prompts_with_redaction() {
    use deskdraft::domain::SourceType;
    use deskdraft::draft::DraftRequest;
    use deskdraft::draft::generate::{build_chat_request, whole_sources};
    use deskdraft::llm::redact::Redactor;
    use deskdraft::retrieve::RetrievedSource;

    let source = |kind, id, title: &str| RetrievedSource {
        source_type: kind,
        id,
        title: title.to_string(),
        url: None,
        snippet: String::new(),
        score: 1.0,
        similarity: 0.9,
        created_at: Utc.with_ymd_and_hms(2025, 1, 10, 9, 0, 0).unwrap(),
        product: None,
        language: Some("fr".into()),
        first_reply: None,
        resolution: None,
        linked_article_ids: Vec::new(),
        supporting_cases: 0,
        agent_only: false,
        updated_at: None,
    };
    let mut case = source(SourceType::Case, 42, "Double prélèvement");
    case.snippet = "J'ai été débité deux fois, contactez-moi à paul@example.fr".into();
    case.resolution = Some(ANSWER_FR.into());
    let mut article = source(
        SourceType::Article,
        104,
        "I was charged twice - what happened?",
    );
    article.url = Some("https://support.kettleby.example/support/solutions/articles/104".into());
    article.snippet = "A second amount is usually a temporary authorisation.".into();
    let request = DraftRequest {
        ticket_id: 9,
        customer_text: "Débité deux fois\n\nBonjour, ma carte 4111 1111 1111 1111 a été débitée \
                        deux fois. Écrivez-moi à marie@example.fr."
            .into(),
        customer_first_name: None,
        product: None,
        as_of: None,
        thread: Vec::new(),
    };
    let mut redactor = Redactor::new();
    let chat = build_chat_request(
        &request,
        &whole_sources(&[&case, &article]),
        "fr",
        templates(),
        Some(&mut redactor),
    )
    .expect("LLM prompts render");
    assert!(chat.json_object);
    insta::assert_snapshot!(
        "llm_system_fr",
        chat.system,
        "system.j2: French customer, tone.toml"
    );
    insta::assert_snapshot!(
        "llm_user_fr_redacted",
        chat.user,
        "draft.j2: a case and an article, identifiers redacted"
    );
}

/// The user prompt when the model's context is small: the case fits whole, the long article is
/// shortened at a sentence end (and says so), a third source is left out.
#[test]
fn llm_user_prompt_fitted_to_a_small_context() {
    use deskdraft::domain::SourceType;
    use deskdraft::draft::DraftRequest;
    use deskdraft::draft::fit::{estimate_tokens, fit_sources};
    use deskdraft::draft::generate::build_chat_request;
    use deskdraft::retrieve::RetrievedSource;

    let source = |kind, id, title: &str, snippet: &str| RetrievedSource {
        source_type: kind,
        id,
        title: title.to_string(),
        url: None,
        snippet: snippet.to_string(),
        score: 1.0,
        similarity: 0.9,
        created_at: Utc.with_ymd_and_hms(2025, 1, 10, 9, 0, 0).unwrap(),
        product: None,
        language: Some("en".into()),
        first_reply: None,
        resolution: None,
        linked_article_ids: Vec::new(),
        supporting_cases: 0,
        agent_only: false,
        updated_at: None,
    };
    let case = source(
        SourceType::Case,
        42,
        "Charged twice",
        "I was charged twice for my order.",
    );
    let article = source(
        SourceType::Article,
        104,
        "Why a payment shows twice",
        "A second amount is usually a temporary authorisation by the bank. It disappears within \
         a few days. If it is still there after 10 days, send us the bank statement. We then ask \
         the payment provider to check it, which takes up to two weeks.",
    );
    let third = source(
        SourceType::Article,
        105,
        "Refunds",
        &"Refunds go back to the card that paid. ".repeat(20),
    );
    let candidates = [&case, &article, &third];
    let texts: Vec<String> = candidates.iter().map(|s| s.snippet.clone()).collect();
    let budget = estimate_tokens(&case.snippet) + 40;
    let shown = fit_sources(&candidates, texts, |_| 0, budget);
    assert_eq!(shown.len(), 2, "the third source is left out");
    assert!(shown[1].shortened);
    let request = DraftRequest {
        ticket_id: 9,
        customer_text: "Charged twice\n\nMy card shows two payments for one order.".into(),
        customer_first_name: None,
        product: None,
        as_of: None,
        thread: Vec::new(),
    };
    let chat =
        build_chat_request(&request, &shown, "en", templates(), None).expect("LLM prompts render");
    assert!(chat.user.contains("It disappears within a few days. […]"));
    assert!(!chat.user.contains("two weeks"));
    insta::assert_snapshot!(
        "llm_user_fitted_to_a_small_context",
        chat.user,
        "draft.j2: one source whole, one shortened at a sentence end, one left out"
    );
}
