//! The HTML cleaner: `html_to_text`, `clean_message_html` (with and without a plain-text
//! fallback) and `extract_urls`. Never a panic; the link sentinels U+E000..U+E002 never leak
//! into the output; every extracted URL has a scheme.
#![no_main]

use deskdraft::ingest::clean::{clean_message_html, extract_urls, html_to_text};
use libfuzzer_sys::fuzz_target;

fn has_sentinel(text: &str) -> bool {
    text.chars().any(|c| ('\u{E000}'..='\u{E002}').contains(&c))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first NUL (if any) separates the HTML part from a plain-text fallback.
    let (html, fallback) = match text.split_once('\0') {
        Some((html, fallback)) => (html, Some(fallback)),
        None => (&*text, None),
    };

    let plain = html_to_text(html);
    assert!(!has_sentinel(&plain), "sentinel in html_to_text: {plain:?}");

    let cleaned = clean_message_html(html, fallback);
    // The fallback is used verbatim when the HTML renders to nothing; only then can a
    // sentinel the caller passed in come back.
    if !fallback.is_some_and(has_sentinel) {
        assert!(
            !has_sentinel(&cleaned),
            "sentinel in clean_message_html: {cleaned:?}"
        );
    }

    for source in [&*text, &plain, &cleaned] {
        for url in extract_urls(source) {
            assert!(url.contains("://"), "{url:?} from {source:?}");
            assert!(!has_sentinel(&url), "sentinel in URL {url:?}");
        }
    }
});
