//! `deskdraft serve` with a real language model: webhooks for new demo tickets end in private
//! notes whose links all come from the knowledge base. Needs `DESKDRAFT_REAL_LLM_URL` (from `scripts/local-llm.sh start`); without it the
//! test prints "skipped: ..." and passes. Not in CI (see the README, "A real local model").

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_end_in_grounded_notes_written_by_the_real_model() {
    let Ok(url) = std::env::var("DESKDRAFT_REAL_LLM_URL") else {
        crate::support::report_skip(
            "skipped: DESKDRAFT_REAL_LLM_URL is not set (run scripts/local-llm.sh start)",
        );
        return;
    };
    const COUNT: usize = 2;
    let stand_in = stand_in_with_new_tickets(COUNT).await;
    let data = ingested_data_dir();
    let env = [
        ("DESKDRAFT_LLM__BASE_URL", url.as_str()),
        ("DESKDRAFT_LLM__MODEL", "gemma3-270m"),
        ("DESKDRAFT_LLM__SYSTEM_ROLE", "false"),
        ("DESKDRAFT_LLM__CONTEXT_TOKENS", "1536"),
        ("DESKDRAFT_LLM__MAX_OUTPUT_TOKENS", "256"),
        ("DESKDRAFT_LLM__TIMEOUT_SECONDS", "300"),
        ("DESKDRAFT_LLM__MAX_ATTEMPTS", "1"),
        ("DESKDRAFT_SERVE__WORKERS", "1"),
    ];
    let server = start_server_with(data.path(), &stand_in, &env).await;
    let client = http();
    for id in FIRST_NEW_TICKET..FIRST_NEW_TICKET + COUNT as i64 {
        assert_eq!(send_webhook(&client, &server.url, id).await, 202);
    }
    wait_for_notes(&stand_in, COUNT, COUNT, Duration::from_secs(900)).await;
    // Every address in a note must exist in the knowledge the drafts were made from.
    let knowledge = [
        "knowledge/demo-bundle/tickets.jsonl",
        "knowledge/demo-bundle/articles.jsonl",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(repo().join(f)).unwrap())
    .collect::<String>();
    for id in FIRST_NEW_TICKET..FIRST_NEW_TICKET + COUNT as i64 {
        let ticket = stand_in.ticket(id).unwrap();
        let note = ticket
            .conversations
            .iter()
            .find(|c| c.private)
            .expect("a private note");
        let text = deskdraft::ingest::clean::clean_message_html(&note.body, None);
        eprintln!("note on {id}:\n{text}\n");
        for link in deskdraft::ingest::clean::extract_urls(&text) {
            let path = link.split("://").nth(1).unwrap_or(&link);
            assert!(
                knowledge.contains(path) || link.starts_with(&server.url),
                "note on {id} links {link}, which the knowledge does not contain"
            );
        }
        // The language check is exact in tests/real_llm.rs (on the draft itself); the note
        // mixes the draft with deskdraft's own English labels.
    }
}
