//! Small wire-format helpers: the `Link` header, `Retry-After`, rate-limit headers, error bodies.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use url::Url;

/// The `rel="next"` URL of a `Link` header, parsed leniently (spaces inside the angle brackets
/// and around `;` occur in Freshdesk's own samples).
pub fn next_link(headers: &HeaderMap) -> Option<Url> {
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let target = pieces.next()?.trim();
            let is_next = pieces.any(|param| {
                let param = param.trim().to_ascii_lowercase().replace(' ', "");
                param == "rel=\"next\"" || param == "rel=next"
            });
            if !is_next {
                continue;
            }
            let inner = target.trim_start_matches('<').trim_end_matches('>').trim();
            if let Ok(url) = Url::parse(inner) {
                return Some(url);
            }
        }
    }
    None
}

/// `Retry-After` (Freshdesk sends delta-seconds), clamped by the one retry policy.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    crate::retry::parse_retry_after(raw)
}

/// An integer header, matched case-insensitively (Freshdesk's docs spell `X-Ratelimit-*`).
pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    errors: Vec<FieldError>,
}

#[derive(Debug, Deserialize)]
struct FieldError {
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// A one-line summary of a Freshdesk error body; tolerates empty and non-JSON bodies.
pub(crate) fn error_summary(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => {
            let mut parts: Vec<String> = Vec::new();
            if let Some(description) = parsed.description {
                parts.push(description);
            }
            if let Some(code) = parsed.code {
                parts.push(format!("code {code}"));
            }
            if let Some(message) = parsed.message {
                parts.push(message);
            }
            for error in parsed.errors {
                parts.push(format!(
                    "{}: {} ({})",
                    error.field.unwrap_or_default(),
                    error.message.unwrap_or_default(),
                    error.code.unwrap_or_default()
                ));
            }
            parts.join("; ")
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "(empty body)".to_owned()
            } else {
                text.chars().take(200).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, LINK, RETRY_AFTER};

    #[test]
    fn link_header_variants_parse() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "< https://a.freshdesk.com/api/v2/tickets?page=2>;rel=\"next\"",
            ),
        );
        assert_eq!(
            next_link(&headers).map(|u| u.to_string()),
            Some("https://a.freshdesk.com/api/v2/tickets?page=2".to_owned())
        );
        headers.insert(
            LINK,
            HeaderValue::from_static("<http://x/api/v2/t?page=3&per_page=100>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&headers)
                .and_then(|u| u.query().map(str::to_owned))
                .as_deref(),
            Some("page=3&per_page=100")
        );
        headers.insert(
            LINK,
            HeaderValue::from_static("<http://x/a?page=1>; rel=\"prev\""),
        );
        assert!(next_link(&headers).is_none());
    }

    #[test]
    fn retry_after_and_error_bodies() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("34"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(34)));
        let body = br#"{"code":"invalid_credentials","message":"You have to be logged in to perform this action."}"#;
        assert!(error_summary(body).contains("invalid_credentials"));
        let body = br#"{"description":"Validation failed","errors":[{"field":"page","message":"too far","code":"invalid_value"}]}"#;
        assert_eq!(
            error_summary(body),
            "Validation failed; page: too far (invalid_value)"
        );
        assert_eq!(error_summary(b""), "(empty body)");
    }
}
