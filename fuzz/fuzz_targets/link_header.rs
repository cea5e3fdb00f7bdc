//! Freshdesk's `Link` header: one or several `link` values built from the input (split at
//! `\n`; values a header cannot hold are skipped, as `HeaderValue` refuses them). Never a panic;
//! a `Some(url)` is a parsed absolute URL that came from a value marked `rel="next"`/`rel=next`.
#![no_main]

use http::header::{HeaderMap, HeaderValue, LINK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for value in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(LINK, value);
        }
    }
    let Some(url) = deskdraft::helpdesk::freshdesk::next_link(&headers) else {
        return;
    };
    let texts: Vec<String> = headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|t| t.to_ascii_lowercase().replace(' ', ""))
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("rel=\"next\"") || t.contains("rel=next")),
        "{url} from a header without rel=next: {texts:?}"
    );
    // The URL round-trips through its own serialisation (what the reader requests next).
    let again = url::Url::parse(url.as_str()).expect("a returned URL reparses");
    assert_eq!(again, url);
});
