//! Tests of the module next to this file.

use super::*;

#[test]
fn bare_domains_are_found_but_not_emails_urls_or_file_names() {
    let text = "Log in at evil.example/login or www.acme.com. Mail help@kettleby.com, \
                see https://kettleby.com/x, use Node.js v1.2 and open report.pdf, e.g. now.";
    assert_eq!(
        extract_bare_domains(text),
        vec!["evil.example/login".to_string(), "www.acme.com".to_string()]
    );
    assert!(extract_bare_domains("Version 2.0 of the app, i.e. the new one").is_empty());
}

#[test]
fn hostile_html_is_bounded_in_depth_and_size() {
    // 100,000 nested elements: once a stack overflow in the recursive prune.
    let deep = format!(
        "{}hello{}",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    assert_eq!(html_to_text(&deep), "hello");
    let deep_quote = format!("{}<b>x &amp; y</b>", "<blockquote>".repeat(30_000));
    assert_eq!(html_to_text(&deep_quote).trim(), "x & y");
    // Just under the limit the tree is still parsed (quotes dropped, links kept).
    let fine = format!(
        "{}<p>See <a href=\"https://a.example/x\">docs</a></p><blockquote>old</blockquote>{}",
        "<div>".repeat(100),
        "</div>".repeat(100)
    );
    assert_eq!(html_to_text(&fine), "See docs (https://a.example/x)");
    // Sizes: a 5 MB body is read up to the limit, cut on a character boundary.
    let huge = format!("<p>{}</p>", "é".repeat(2_500_000));
    let text: String = html_to_text(&huge)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(text.len() <= MAX_HTML_BYTES, "{}", text.len());
    assert!(text.len() > MAX_HTML_BYTES / 2, "{}", text.len());
    assert!(text.chars().all(|c| c == 'é'));
    assert!(!nests_deeper_than("<br><img src=x/><p>a</p>", 1));
    assert!(nests_deeper_than("<div><div><span>", 2));
}

#[test]
fn html_links_blocks_and_entities() {
    let html = r##"<html><head><title>T</title><style>p{color:red}</style></head><body>
        <div>Hi&nbsp;there &amp; all &#x27;x&#39;</div>
        <p>See <a href="https://ex.com/a?b=1&amp;c=2">the guide</a> or <a href="https://ex.com/docs">https://ex.com/docs</a>.</p>
        <script>alert(1)</script>line<br>two<br/>three
        <ul><li>first</li><li>second</li></ul>
        <a href="mailto:help@ex.com">help@ex.com</a> <a href="#top">top</a></body></html>"##;
    let text = html_to_text(html);
    assert!(text.starts_with("Hi there & all 'x'"), "{text}");
    assert!(
        text.contains("See the guide (https://ex.com/a?b=1&c=2) or https://ex.com/docs."),
        "{text}"
    );
    assert!(text.contains("line\ntwo\nthree"), "{text}");
    assert!(text.contains("- first\n- second"), "{text}");
    assert!(text.contains("help@ex.com top"), "{text}");
    for junk in [
        "alert",
        "color:red",
        "\u{E000}",
        "\u{A0}",
        "(https://ex.com/docs)",
    ] {
        assert!(!text.contains(junk), "{junk:?} in {text}");
    }
}

#[test]
fn html_drops_quoted_blocks() {
    let html = r#"<div>New answer here.</div>
        <div class="freshdesk_quote"><blockquote class="freshdesk_quote">On Mon we said old stuff</blockquote></div>
        <div class="gmail_quote gmail_quote_container"><div class="gmail_attr">On Tue, 4 Mar 2025 Bob wrote:</div>gmail old</div>
        <blockquote type="cite">apple old</blockquote>
        <span style="display: none">preheader</span><p>Tail.</p>"#;
    let text = html_to_text(html);
    assert_eq!(text, "New answer here.\n\nTail.");
}

#[test]
fn html_empty_and_garbage_do_not_panic() {
    assert_eq!(html_to_text(""), "");
    assert_eq!(html_to_text("plain <b>bold"), "plain bold");
    assert_eq!(html_to_text("<p>a &lt;b&gt;</p><p></p>"), "a <b>");
}

#[test]
fn normalizes_whitespace() {
    let text = "  a \t\t b  \n\n\n\n c\u{A0}\u{A0}d \n \n";
    assert_eq!(normalize_whitespace(text), "a b\n\nc d");
    assert_eq!(normalize_whitespace("\n\n x\r\ny \n"), "x\ny");
    assert_eq!(normalize_whitespace(""), "");
}

#[test]
fn full_pipeline() {
    let html = "<p>My   order is late.</p><p>Sent from my iPhone</p><div class=\"gmail_quote\">On Tue wrote: x</div>";
    assert_eq!(clean_message_html(html, None), "My order is late.");
    let fallback = "Hello\n\n\nOn Tue, 4 Mar 2025 at 10:02, A <a@b.c> wrote:\n> old";
    assert_eq!(clean_message_html("  ", Some(fallback)), "Hello");
    assert_eq!(
        clean_message_html("<blockquote>only quote</blockquote>", Some("plain")),
        "plain"
    );
    assert_eq!(clean_message_html("", None), "");
}

#[test]
fn extracts_urls() {
    let text = "See https://ex.com/a, then (https://ex.com/b). Also https://ex.com/a again; \
                HTTP://EX.com/c; https://en.wikipedia.org/wiki/Foo_(bar) and <https://ex.com/d>.";
    assert_eq!(
        extract_urls(text),
        vec![
            "https://ex.com/a",
            "https://ex.com/b",
            "HTTP://EX.com/c",
            "https://en.wikipedia.org/wiki/Foo_(bar)",
            "https://ex.com/d",
        ]
    );
    assert!(extract_urls("no links, ftp://x.y, http://").is_empty());
}
