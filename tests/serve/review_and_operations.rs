//! Bad webhooks and API requests, the review page in headless Chromium, and the reconciler and
//! SIGTERM.

use super::*;

/// Wrong secret -> 401, no id -> 400, oversized -> 413, each with a JSON error; Basic auth with the
/// secret as password works; the API refuses requests without the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_webhooks_get_clear_errors_and_nothing_is_stored() {
    let stand_in = StandIn::start(
        account_with_new_tickets(1),
        StandInConfig {
            api_key: KEY.into(),
            ..StandInConfig::default()
        },
    )
    .await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in).await;
    let client = http();
    let hook = format!("{}/webhooks/freshdesk", server.url);
    let cases = [
        (
            client
                .post(&hook)
                .header("X-Deskdraft-Secret", "wrong")
                .json(&json!({"ticket_id": 1})),
            401,
            "secret",
        ),
        (
            client
                .post(&hook)
                .header("X-Deskdraft-Secret", WEBHOOK_SECRET)
                .json(&json!({"ticket_id": "{{ticket.id}}"})),
            400,
            "placeholder",
        ),
        (
            client
                .post(&hook)
                .header("X-Deskdraft-Secret", WEBHOOK_SECRET)
                .body("x".repeat(70_000)),
            413,
            "",
        ),
    ];
    for (request, status, mentions) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let text = response.text().await.unwrap();
        assert!(text.contains(mentions), "{text}");
    }
    let basic = client
        .post(&hook)
        .basic_auth("freshdesk", Some(WEBHOOK_SECRET))
        .json(&json!({"ticket_id": FIRST_NEW_TICKET}))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 202);
    let unauthorised = client
        .get(format!("{}/api/drafts", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    // The token is checked before the body is read: no hint about what would parse.
    let unauthorised_post = client
        .post(format!("{}/api/drafts/x/reject", server.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised_post.status(), 401);
    let bad_filter = client
        .get(format!("{}/api/jobs?state=finished", server.url))
        .bearer_auth(REVIEW_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_filter.status(), 400);
    let message: Value = bad_filter.json().await.unwrap();
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("queued, running, done, dead"),
        "{message}"
    );
    let ready: Value = client
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
}

/// The review page in headless Chromium: sign in, approve one draft with an edit, reject another,
/// screenshot. Chromium is installed by `scripts/test.sh`; without it the test says so and skips.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_review_page_signs_in_approves_with_an_edit_and_rejects_in_chromium() {
    let Some(mut browser) = support::cdp::Browser::launch().await else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: no chromium on PATH (scripts/test.sh installs Debian's chromium)"
        );
        return;
    };
    let stand_in = stand_in_with_new_tickets(3).await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in).await;
    let client = http();
    draft_new_tickets_by_webhook(&client, &server, &stand_in, 3).await;

    browser.navigate(&format!("{}/", server.url)).await;
    browser.wait_for("location.pathname === '/login'").await;
    browser
        .eval(&format!(
            "document.getElementById('token').value = '{REVIEW_TOKEN}'; document.getElementById('sign-in').click(); true"
        ))
        .await;
    browser
        .wait_for("location.pathname === '/' && document.querySelectorAll('tr.row').length >= 2")
        .await;
    // Open the first draft of the queue, edit it and approve it: the next draft opens.
    browser
        .eval("document.querySelector('a.row-link').click(); true")
        .await;
    browser
        .wait_for("document.body.dataset.page === 'draft'")
        .await;
    let first_ticket = browser
        .eval("document.querySelector('.facts dd').textContent.match(/#(\\d+)/)[1]")
        .await;
    browser
        .eval(
            "const area = document.getElementById('reply-text'); \
             area.value = area.value + '\\n\\nEdited in the browser.'; \
             document.getElementById('approve-button').click(); true",
        )
        .await;
    browser
        .wait_for("(document.getElementById('flash') || {textContent: ''}).textContent.includes('approved')")
        .await;
    browser
        .eval(
            "document.getElementById('reject-reason').value = 'Wrong product'; \
             document.getElementById('reject-button').click(); true",
        )
        .await;
    browser
        .wait_for("(document.getElementById('flash') || {textContent: ''}).textContent.includes('rejected')")
        .await;
    browser.navigate(&format!("{}/lead", server.url)).await;
    browser
        .wait_for("document.body.dataset.page === 'lead'")
        .await;
    let stats_text = browser
        .eval("document.getElementById('review-tiles').textContent")
        .await;
    assert!(
        stats_text.as_str().unwrap().contains("50%acceptance"),
        "{stats_text}"
    );
    let png = browser
        .screenshot(&repo().join("target/review-page-screenshot.png"))
        .await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 10_000,
        "screenshot suspiciously small: {} bytes",
        png.len()
    );

    let ticket_id: i64 = first_ticket.as_str().unwrap().parse().unwrap();
    // The approval is recorded at once and sent by a worker.
    wait_until("the approved reply", Duration::from_secs(60), || {
        !public_replies(&stand_in, ticket_id).is_empty()
    })
    .await;
    let replies = public_replies(&stand_in, ticket_id);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].body.contains("Edited in the browser."),
        "{}",
        replies[0].body
    );
}

/// Sessions live on the server: signing out ends one for good; a session's form posts and API
/// calls need its CSRF token (or our own origin); wrong tokens at sign-in are throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_are_server_side_csrf_bound_and_sign_in_is_throttled() {
    let stand_in = stand_in_with_new_tickets(1).await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |token: &'static str| {
        client
            .post(format!("{}/login", server.url))
            .form(&[("token", token)])
            .send()
    };
    let response = sign_in(REVIEW_TOKEN).await.unwrap();
    assert_eq!(response.status(), 303);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(
        !set_cookie.contains("Secure"),
        "plain http on loopback: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let page = client
        .get(format!("{}/", server.url))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries a CSRF token")
        .to_string();

    // A form post with the session but a wrong token, and an API call from another site.
    let forged = client
        .post(format!("{}/drafts/anything/reject", server.url))
        .header("Cookie", &cookie)
        .form(&[("csrf", "nope"), ("reason", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let cross_site = client
        .post(format!("{}/api/drafts/anything/reject", server.url))
        .header("Cookie", &cookie)
        .header("Origin", "https://evil.example")
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let with_token = client
        .post(format!("{}/api/drafts/anything/reject", server.url))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_token.status(),
        404,
        "authorised; the draft just does not exist"
    );

    // Signing out ends the session on the server: the old cookie opens nothing.
    let out = client
        .post(format!("{}/logout", server.url))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let after = client
        .get(format!("{}/api/drafts", server.url))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);

    // Five wrong tokens, then even the right one waits.
    for _ in 0..5 {
        assert_eq!(
            sign_in("wrong-token-wrong-token").await.unwrap().status(),
            401
        );
    }
    let throttled = sign_in(REVIEW_TOKEN).await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
}

/// Without any webhook, the reconciler finds new open tickets and drafts them; SIGTERM stops the
/// server cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reconciler_drafts_tickets_the_webhook_missed_and_sigterm_stops_cleanly() {
    let stand_in = stand_in_with_new_tickets(4).await;
    let data = ingested_data_dir();
    let mut command = tokio::process::Command::from(base_command(data.path()));
    command
        .env("DESKDRAFT_FRESHDESK__BASE_URL", stand_in.base_url())
        .env("DESKDRAFT_FRESHDESK__PLAN_LIMIT_PER_MINUTE", "100000")
        .env("DESKDRAFT_FRESHDESK__RATE_WINDOW_SECONDS", "1")
        .env("DESKDRAFT_FRESHDESK_API_KEY", KEY)
        .env("DESKDRAFT_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("DESKDRAFT_REVIEW_TOKEN", REVIEW_TOKEN)
        .env("DESKDRAFT_SERVE__LISTEN", "127.0.0.1:0")
        .env("DESKDRAFT_SERVE__POLL_INTERVAL_SECONDS", "1")
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    wait_for_notes(&stand_in, 4, 4, Duration::from_secs(120)).await;
    let notes = notes_per_ticket(&stand_in, 4);
    assert!(notes.values().all(|n| *n == 1), "{notes:?}");
    let history_notes: usize = demo_tickets()
        .iter()
        .filter_map(|t| stand_in.ticket(t.id))
        .map(|t| t.conversations.iter().filter(|c| c.private).count())
        .sum::<usize>();
    let demo_notes: usize = demo_tickets()
        .iter()
        .map(|t| t.conversations.iter().filter(|c| c.private).count())
        .sum();
    assert_eq!(
        history_notes, demo_notes,
        "old and resolved tickets are not drafted"
    );

    let pid = child.id().expect("pid");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within 30 s of SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
