//! Stored HTML of notes and replies: Freshdesk re-serialises it (Sanitize gem), wraps it in a
//! `<div>` and derives the text (research §6).

use super::*;
use serde_json::json;

/// DOC L3903-L3912 (reply sample: `"We are working on this issue. Will keep you posted."` comes
/// back as `"<div>We are working on this issue. Will keep you posted.</div>"`); OBSERVED
/// python-freshdesk fixtures `reply_1.json`/`note_1.json` (`body_text` is the bare text).
#[tokio::test]
async fn a_plain_text_reply_comes_back_wrapped_in_a_div_with_its_text() {
    let (stand_in, api) = start(tickets(2), StandInConfig::default()).await;
    let sent = "We are working on this issue. Will keep you posted.";
    let created = api.post("/tickets/2/reply", json!({ "body": sent })).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let body = created.json();
    assert_eq!(
        body["body"],
        "<div>We are working on this issue. Will keep you posted.</div>"
    );
    assert_eq!(body["body_text"], sent);

    let (listed, _) = api.all_pages("/tickets/2/conversations").await;
    let last = listed.last().expect("stored reply");
    assert_eq!((&last["id"], &last["body"]), (&body["id"], &body["body"]));
    let stored = stand_in.ticket(2).expect("ticket").conversations;
    assert_eq!(
        stored.last().map(|c| c.body.as_str()),
        body["body"].as_str()
    );
}

/// SRC `body_html_with_tags_renamed` (research id 12873481895: `<p>` becomes `<div>`) and SRC
/// `Utils::Sanitizer#sanitize_body_hash` (id 23033492099: Sanitize re-serialises through
/// Nokogiri, so `<br/>` becomes `<br>` and entities are re-encoded as an HTML serialiser does:
/// only `&amp;`, `&lt;`, `&gt;` and `&nbsp;` stay escaped in text).
#[tokio::test]
async fn paragraphs_become_divs_and_entities_and_void_tags_are_reserialised() {
    let (_stand_in, api) = start(tickets(1), StandInConfig::default()).await;
    let sent = "<P class=\"x\">It&#39;s &quot;done&quot; &amp; 1 &lt; 2<br/>ok<br />x&nbsp;y &copy;</p><p>second";
    let note = api
        .post("/tickets/1/notes", json!({ "body": sent, "private": true }))
        .await;
    assert_eq!(note.status, 201, "{}", note.text);
    let body = note.json();
    assert_eq!(
        body["body"],
        "<div><div class=\"x\">It's \"done\" &amp; 1 &lt; 2<br>ok<br>x&nbsp;y ©</div><div>second</div></div>"
    );
    assert_eq!(
        body["body_text"],
        "It's \"done\" & 1 < 2\nok\nx y ©\nsecond"
    );
    assert_eq!(body["private"], true);
}

/// SRC id 23033492099 (Sanitize with an allow-list: `<script>`/`<style>` go with their content,
/// event handlers and `javascript:` links are not allowed attributes, comments are dropped).
#[tokio::test]
async fn scripts_styles_comments_and_event_handlers_are_stripped() {
    let (_stand_in, api) = start(tickets(1), StandInConfig::default()).await;
    let sent = "<div onclick=\"steal()\">Hi<script>alert('x')</script><style>div{color:red}</style><!-- internal --> \
                <a href=\"javascript:alert(1)\" onmouseover=\"y()\">there</a> <img src=\"https://x.example/a.png\" onerror=\"z()\"></div>";
    let reply = api.post("/tickets/1/reply", json!({ "body": sent })).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        body["body"],
        "<div><div>Hi <a>there</a> <img src=\"https://x.example/a.png\"></div></div>"
    );
    assert_eq!(body["body_text"], "Hi there");
}

/// SRC `FDRinku.auto_link(..., rel="noreferrer")` (id 23033492099) and SRC test
/// `test_create_public_note_for_lotes_notes_http` (id 11953594885: `http://google.com` is
/// stored as `<a href="http://google.com" rel="noreferrer">http://google.com</a>`).
#[tokio::test]
async fn bare_urls_are_auto_linked_with_rel_noreferrer() {
    let (_stand_in, api) = start(tickets(1), StandInConfig::default()).await;
    let sent =
        "See http://google.com. Or <a href=\"https://help.example/a?x=1&amp;y=2\">the guide</a>";
    let note = api.post("/tickets/1/notes", json!({ "body": sent })).await;
    assert_eq!(note.status, 201, "{}", note.text);
    assert_eq!(
        note.json()["body"],
        "<div>See <a href=\"http://google.com\" rel=\"noreferrer\">http://google.com</a>. \
         Or <a href=\"https://help.example/a?x=1&amp;y=2\">the guide</a></div>"
    );
    assert_eq!(
        note.json()["body_text"],
        "See http://google.com. Or the guide"
    );
}

/// DOC `#update_a_conversation` (only notes; `body` is HTML) with the same sanitising as on
/// create (SRC id 23033492099 runs for every `body_html` write).
#[tokio::test]
async fn a_note_update_is_stored_rewritten_and_answered_with_the_rewrite() {
    let (stand_in, api) = start(tickets(1), StandInConfig::default()).await;
    let note = api
        .post("/tickets/1/notes", json!({ "body": "<p>draft</p>" }))
        .await
        .json();
    let id = note["id"].as_i64().expect("note id");
    let updated = api
        .put(
            &format!("/conversations/{id}"),
            json!({ "body": "<p>final &#39;answer&#39;</p>" }),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        updated.json()["body"],
        "<div><div>final 'answer'</div></div>"
    );
    assert_eq!(updated.json()["body_text"], "final 'answer'");
    let stored = stand_in.ticket(1).expect("ticket").conversations;
    let stored = stored.iter().find(|c| c.id == id).expect("note");
    assert_eq!(stored.body, "<div><div>final 'answer'</div></div>");

    let reply = api
        .post("/tickets/1/reply", json!({ "body": "hi" }))
        .await
        .json();
    let edit = api
        .put(
            &format!("/conversations/{}", reply["id"]),
            json!({ "body": "changed" }),
        )
        .await;
    assert_eq!(edit.status, 405, "only notes can be edited: {}", edit.text);
}

/// The real service always rewrites (research §6), so the stand-in does by default; switching
/// it off stores bodies as sent (for tests that need byte-exact bodies).
#[tokio::test]
async fn rewriting_is_on_by_default_and_can_be_switched_off() {
    assert!(StandInConfig::default().rewrite_html);
    let (stand_in, api) = start(
        tickets(1),
        StandInConfig {
            rewrite_html: false,
            ..StandInConfig::default()
        },
    )
    .await;
    let sent = "<p>It&#39;s<br/>here</p>";
    let note = api.post("/tickets/1/notes", json!({ "body": sent })).await;
    assert_eq!(note.json()["body"], sent);
    assert_eq!(
        stand_in
            .ticket(1)
            .expect("ticket")
            .conversations
            .last()
            .map(|c| c.body.clone()),
        Some(sent.to_owned())
    );
}
