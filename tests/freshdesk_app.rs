//! The Freshdesk ticket-sidebar app (`freshdesk-app/`) in headless Chromium, against a stand-in
//! of the Freshworks platform (its front-end client and request proxy,
//! tests/support/freshworks_client*) and a real `deskdraft serve` with the Freshdesk stand-in.
//! The Crayons CDN is blocked, so the page is tested as it renders without it. Chromium is
//! installed by `scripts/test.sh`; without it the tests say so and skip.

mod support;

#[path = "freshdesk_app/deskdraft.rs"]
mod deskdraft;

use std::time::Duration;

use deskdraft::{
    APP_TOKEN, FIRST_NEW_TICKET, REVIEW_TOKEN, Server, ingested_data_dir, repo,
    stand_in_with_new_tickets, start_server, ticket_for_app,
};
use serde_json::{Value, json};
use support::cdp::Browser;
use support::freshworks_client::Platform;

/// Chromium at the sidebar's width, with the Crayons CDN blocked; `None` (and a note) without it.
async fn sidebar_browser() -> Option<Browser> {
    let Some(mut browser) = Browser::launch().await else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: no chromium on PATH (scripts/test.sh installs Debian's chromium)"
        );
        return None;
    };
    browser.call("Network.enable", json!({})).await;
    browser
        .call(
            "Network.setBlockedURLs",
            json!({"urls": ["*cdn.jsdelivr.net*"]}),
        )
        .await;
    browser
        .call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 300, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    Some(browser)
}

async fn platform_for(server: &Server) -> Platform {
    Platform::start(
        &repo().join("freshdesk-app"),
        &[("deskdraft_host", &server.host()), ("app_token", APP_TOKEN)],
        json!({"id": 50_000_067_380_i64, "contact": {"name": "Ana Lima", "email": "ana.lima@stand-in.example"}}),
    )
    .await
}

async fn wait_for_state(browser: &mut Browser, state: &str) {
    browser
        .wait_for(&format!(
            "document.getElementById('app').dataset.state === '{state}'"
        ))
        .await;
}

async fn text_of(browser: &mut Browser, selector: &str) -> String {
    let value = browser
        .eval(&format!(
            "(document.querySelector({selector:?}) || {{}}).textContent || ''"
        ))
        .await;
    value.as_str().unwrap_or_default().to_string()
}

fn events(stats: &Value, kind: &str) -> u64 {
    stats["events"][kind].as_u64().unwrap_or(0)
}

/// The draft and its sources show; Insert opens the reply editor with the draft's text and
/// records an insertion; Not useful (with a reason) is counted by `/api/stats`; Redraft brings
/// the next revision; another ticket the agent opens is "not drafted yet". Screenshot kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sidebar_shows_the_draft_inserts_it_and_records_feedback() {
    let Some(mut browser) = sidebar_browser().await else {
        return;
    };
    let stand_in = stand_in_with_new_tickets(2).await;
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in, &[]).await;
    server.draft_by_webhook(&stand_in, FIRST_NEW_TICKET).await;
    let api = server
        .get(&format!("/api/tickets/{FIRST_NEW_TICKET}/draft"), APP_TOKEN)
        .await;
    assert_eq!(api["state"], "drafted", "{api}");
    let draft = api["draft"].clone();
    let text = draft["text"].as_str().unwrap().to_string();
    let platform = platform_for(&server).await;
    platform.add_ticket(ticket_for_app(&stand_in, FIRST_NEW_TICKET));
    platform.add_ticket(ticket_for_app(&stand_in, FIRST_NEW_TICKET + 1));

    browser
        .navigate(&platform.url(&format!("index.html?ticket={FIRST_NEW_TICKET}")))
        .await;
    wait_for_state(&mut browser, "drafted").await;
    assert_eq!(text_of(&mut browser, "#dd-draft-text").await, text);
    let band = text_of(&mut browser, ".dd-band").await;
    let confidence = format!("{:.2}", draft["confidence"].as_f64().unwrap());
    assert!(
        band.contains("confidence") && band.contains(&confidence),
        "{band}"
    );

    // Every source is listed with its age; links open in a new tab without an opener.
    let shown = browser
        .eval(
            "[...document.querySelectorAll('.dd-source')].map(li => { const a = li.querySelector('a'); \
             return {key: li.dataset.key, text: li.textContent, target: a && a.target, rel: a && a.rel}; })",
        )
        .await;
    let sources = draft["sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "{draft}");
    assert_eq!(shown.as_array().unwrap().len(), sources.len(), "{shown}");
    for (source, item) in sources.iter().zip(shown.as_array().unwrap()) {
        assert_eq!(item["key"], source["key"], "{shown}");
        let item_text = item["text"].as_str().unwrap();
        assert!(
            item_text.contains(source["title"].as_str().unwrap()),
            "{item}"
        );
        assert!(
            ["old", "from today", "age unknown"]
                .iter()
                .any(|age| item_text.contains(age)),
            "{item}"
        );
        if source["url"].is_string() {
            assert_eq!(item["target"], "_blank", "{item}");
            assert_eq!(item["rel"], "noopener noreferrer", "{item}");
        }
        if source["agent_only"] == true {
            assert!(item_text.contains("Agents only"), "{item}");
        }
    }

    // The secure token reaches deskdraft in the header and never the page.
    let page = browser
        .eval(
            "app.initialized().then(c => c.iparams.get()).then(p => JSON.stringify(p) + document.documentElement.outerHTML)",
        )
        .await;
    assert!(!page.as_str().unwrap().contains(APP_TOKEN));
    let first = &platform.invocations()[0];
    assert_eq!(first.template, "getDraft");
    assert_eq!(
        first.headers["Authorization"],
        format!("Bearer {APP_TOKEN}")
    );

    // Insert: the reply editor opens with the draft's text, and deskdraft hears of it.
    browser
        .eval("document.getElementById('dd-insert').click(); true")
        .await;
    browser
        .wait_for("window.__interfaceCalls.some(c => c.action === 'click')")
        .await;
    let calls = browser.eval("window.__interfaceCalls").await;
    let click = calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "click")
        .unwrap();
    assert_eq!(click["payload"], json!({"id": "reply", "text": text}));
    server
        .wait_for("/api/stats", Duration::from_secs(10), |s| {
            events(s, "inserted") == 1
        })
        .await;

    // Not useful: a reason is required; with one, the feedback is recorded and counted.
    browser
        .eval(
            "document.getElementById('dd-not-useful').click(); \
             document.getElementById('dd-feedback-send').click(); true",
        )
        .await;
    browser
        .wait_for(
            "document.getElementById('dd-feedback-error').textContent.includes('Choose a reason')",
        )
        .await;
    browser
        .eval(
            "document.getElementById('dd-reason').value = 'Wrong topic'; \
             document.getElementById('dd-details').value = 'The customer asks about invoices'; \
             document.getElementById('dd-feedback-send').click(); true",
        )
        .await;
    browser
        .wait_for("document.getElementById('dd-not-useful').textContent === 'Marked not useful'")
        .await;
    let stats = server.get("/api/stats", REVIEW_TOKEN).await;
    assert_eq!(events(&stats, "not_useful"), 1, "{stats}");
    let feedback = platform
        .invocations()
        .into_iter()
        .filter(|i| i.template == "postFeedback")
        .map(|i| serde_json::from_str::<Value>(i.body.as_deref().unwrap()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(feedback.len(), 2, "{feedback:?}");
    assert_eq!(feedback[1]["kind"], "not_useful");
    assert_eq!(
        feedback[1]["reason"],
        "Wrong topic: The customer asks about invoices"
    );
    assert_eq!(feedback[1]["agent"], "ana.lima@stand-in.example");

    let png = browser
        .screenshot(&repo().join("target/freshdesk-app-screenshot.png"))
        .await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    // The sidebar's 300 px, less the scrollbar's width when the page is taller than the window.
    assert!((280..=300).contains(&width), "the sidebar's width: {width}");
    assert!(
        png.len() > 10_000,
        "screenshot too small: {} bytes",
        png.len()
    );

    // Redraft: the app polls until the next revision shows.
    let revision = draft["revision"].as_i64().unwrap();
    browser
        .eval("document.getElementById('dd-redraft').click(); true")
        .await;
    browser
        .wait_for(&format!(
            "document.getElementById('app').dataset.state === 'drafted' && \
             Number(document.getElementById('app').dataset.revision) > {revision}"
        ))
        .await;
    assert!(
        text_of(&mut browser, ".dd-meta")
            .await
            .contains("Redrafted")
    );

    // The agent moves to a ticket deskdraft never saw.
    browser
        .eval(&format!(
            "window.__freshworks.switchTicket({}); true",
            FIRST_NEW_TICKET + 1
        ))
        .await;
    wait_for_state(&mut browser, "not_drafted").await;
    assert!(
        text_of(&mut browser, "#app")
            .await
            .contains("Not drafted yet")
    );
    let resized = browser.eval("window.__resizeCalls.length").await;
    assert!(resized.as_u64().unwrap() > 0, "the app sizes its sidebar");
}

/// Without a draft the app says why: abstained (with the closest sources), not drafted yet,
/// a token deskdraft refuses, and deskdraft unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sidebar_says_why_there_is_no_draft() {
    let Some(mut browser) = sidebar_browser().await else {
        return;
    };
    let stand_in = stand_in_with_new_tickets(2).await;
    // A question no past case or article is about: too far from everything to reuse an answer.
    stand_in.edit_ticket(FIRST_NEW_TICKET, |ticket| {
        ticket.subject = "Sponsorship of our village football team".into();
        ticket.description = "<div>Hello, our under-12 football team is looking for a sponsor \
            for next season's shirts. Would your company consider sponsoring us?</div>"
            .into();
        ticket.description_text = Some(
            "Hello, our under-12 football team is looking for a sponsor for next season's \
             shirts. Would your company consider sponsoring us?"
                .into(),
        );
    });
    let data = ingested_data_dir();
    let server = start_server(data.path(), &stand_in, &[]).await;
    server.draft_by_webhook(&stand_in, FIRST_NEW_TICKET).await;
    let api = server
        .get(&format!("/api/tickets/{FIRST_NEW_TICKET}/draft"), APP_TOKEN)
        .await;
    assert_eq!(api["state"], "abstained", "{api}");
    let platform = platform_for(&server).await;
    platform.add_ticket(ticket_for_app(&stand_in, FIRST_NEW_TICKET));
    platform.add_ticket(ticket_for_app(&stand_in, FIRST_NEW_TICKET + 1));

    browser
        .navigate(&platform.url(&format!("index.html?ticket={FIRST_NEW_TICKET}")))
        .await;
    wait_for_state(&mut browser, "abstained").await;
    let page = text_of(&mut browser, "#app").await;
    assert!(page.contains("Closest sources"), "{page}");
    let closest = api["draft"]["sources"].as_array().unwrap();
    let listed = browser
        .eval("document.querySelectorAll('.dd-source').length")
        .await;
    assert_eq!(listed.as_u64().unwrap() as usize, closest.len());
    if let Some(reason) = api["draft"]["abstain_reason"].as_str() {
        assert!(page.contains(reason), "{page}");
    }
    assert_eq!(
        browser.eval("!!document.getElementById('dd-insert')").await,
        false,
        "nothing to insert"
    );

    browser
        .eval(&format!(
            "window.__freshworks.switchTicket({}); true",
            FIRST_NEW_TICKET + 1
        ))
        .await;
    wait_for_state(&mut browser, "not_drafted").await;

    // An admin saved a wrong token.
    platform.set_iparam("app_token", "not-the-app-token-0123456789");
    browser.eval("window.__freshworks.activate(); true").await;
    wait_for_state(&mut browser, "unauthorized").await;
    assert!(text_of(&mut browser, "#app").await.contains("app token"));

    // deskdraft is down: the platform's proxy cannot connect (502), after the template's retries.
    platform.set_iparam("app_token", APP_TOKEN);
    server.stop().await;
    browser.eval("window.__freshworks.activate(); true").await;
    wait_for_state(&mut browser, "unreachable").await;
    assert!(text_of(&mut browser, "#app").await.contains("unreachable"));
    let last = platform.invocations().pop().unwrap();
    assert_eq!((last.status, last.attempts), (502, 2));
}

/// The app token opens the app's three routes and nothing else (not the review API, the queue
/// or a sign-in), and browsers get CORS on the app's routes only from the configured origins.
/// No browser needed: plain HTTP against a real `deskdraft serve`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_app_token_opens_only_the_app_routes_and_cors_only_for_configured_origins() {
    const ALLOWED_ORIGIN: &str = "https://acme.freshdesk.com";
    let stand_in = stand_in_with_new_tickets(1).await;
    let data = ingested_data_dir();
    let origins = format!("[\"{ALLOWED_ORIGIN}\"]");
    let server = start_server(
        data.path(),
        &stand_in,
        &[("DESKDRAFT_SERVE__APP_ORIGINS", origins.as_str())],
    )
    .await;
    server.draft_by_webhook(&stand_in, FIRST_NEW_TICKET).await;
    let client = deskdraft::http();
    let draft = server
        .get(&format!("/api/tickets/{FIRST_NEW_TICKET}/draft"), APP_TOKEN)
        .await;
    let draft_id = draft["draft"]["id"]
        .as_str()
        .expect("a draft id")
        .to_string();
    let status = |method: reqwest::Method, path: String, token: Option<&'static str>| {
        let mut request = client.request(method, format!("{}{path}", server.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            request
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    use reqwest::Method;
    // Everything a reviewer may do stays closed to the app token.
    let review_routes = [
        (Method::GET, "/api/drafts".to_string()),
        (Method::GET, format!("/api/drafts/{draft_id}")),
        (Method::POST, format!("/api/drafts/{draft_id}/approve")),
        (Method::POST, format!("/api/drafts/{draft_id}/reject")),
        (Method::GET, "/api/jobs".to_string()),
        (Method::GET, "/api/stats".to_string()),
    ];
    for (method, path) in &review_routes {
        let with_app = status(method.clone(), path.clone(), Some(APP_TOKEN)).await;
        assert_eq!(with_app, 401, "{method} {path} must refuse the app token");
    }
    let pending: Value = server.get("/api/drafts?status=pending", REVIEW_TOKEN).await;
    assert!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == draft_id.as_str()),
        "the app token's tries approved or rejected nothing: {pending}"
    );
    // The app's routes (a redraft last, as it writes a new revision): open to the app token, closed without one.
    let app_routes = [
        (
            Method::GET,
            format!("/api/tickets/{FIRST_NEW_TICKET}/draft"),
        ),
        (
            Method::POST,
            format!("/api/tickets/{FIRST_NEW_TICKET}/redraft"),
        ),
    ];
    for (method, path) in &app_routes {
        let with_app = status(method.clone(), path.clone(), Some(APP_TOKEN)).await;
        assert!(
            (200..300).contains(&with_app),
            "{method} {path} with the app token: {with_app}"
        );
        let anonymous = status(method.clone(), path.clone(), None).await;
        assert_eq!(anonymous, 401, "{method} {path} without a token");
    }

    // CORS: a preflight from the configured origin is allowed, from any other is not, and the
    // review API never answers a browser of another origin.
    let preflight = |path: String, origin: &'static str| {
        client
            .request(Method::OPTIONS, format!("{}{path}", server.url))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
    };
    let draft_path = format!("/api/tickets/{FIRST_NEW_TICKET}/draft");
    let allowed = preflight(draft_path.clone(), ALLOWED_ORIGIN).await.unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(ALLOWED_ORIGIN),
        "the configured origin may call the app's routes"
    );
    let other = preflight(draft_path, "https://evil.example").await.unwrap();
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "another origin gets no CORS grant: {:?}",
        other.headers()
    );
    let review = preflight("/api/stats".to_string(), ALLOWED_ORIGIN)
        .await
        .unwrap();
    assert!(
        review
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "the review API grants no CORS: {:?}",
        review.headers()
    );
}
