//! Who may call `serve`: the webhook secret (Freshdesk signs nothing, so its automation rule
//! sends it in `X-Deskdraft-Secret` or as the Basic-auth password), the review token (API bearer
//! token and review-page sign-in), review-page sessions with their CSRF checks and `Secure`
//! cookies, and the throttle on sign-in guesses. Secrets are compared in constant time and never
//! logged.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::{self, AUTHORIZATION, COOKIE};
use base64::Engine;
use subtle::ConstantTimeEq;

pub const WEBHOOK_SECRET_ENV: &str = "DESKDRAFT_WEBHOOK_SECRET";
pub const REVIEW_TOKEN_ENV: &str = "DESKDRAFT_REVIEW_TOKEN";
/// The Freshdesk sidebar app's token (optional): opens the app's three routes only.
pub const APP_TOKEN_ENV: &str = "DESKDRAFT_APP_TOKEN";
/// Header a Freshdesk automation rule can send the webhook secret in.
pub const SECRET_HEADER: &str = "x-deskdraft-secret";
pub const SESSION_COOKIE: &str = "deskdraft_session";
/// Header cookie-authenticated API calls carry the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A secret value. `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Rejects secrets too short to resist guessing.
    pub fn new(value: impl Into<String>, name: &str) -> Result<Self, String> {
        let value = value.into();
        if value.trim().len() < 16 {
            return Err(format!("{name} must be at least 16 characters"));
        }
        Ok(Self(value.trim().to_string()))
    }

    pub fn from_env(name: &'static str) -> Result<Self, String> {
        let value = std::env::var(name).map_err(|_| {
            format!("{name} is not set: generate one (e.g. `openssl rand -hex 24`) and export it")
        })?;
        Self::new(value, name)
    }

    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.trim().as_bytes()).into()
    }
}

fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_string())
}

/// The webhook carries the secret in its header or as the Basic-auth password.
pub fn webhook_authorised(headers: &HeaderMap, secret: &Secret) -> bool {
    let from_header = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| secret.matches(v));
    from_header || basic_password(headers).is_some_and(|p| secret.matches(&p))
}

/// `Authorization: Bearer <review token>`: API clients. Browsers never send it on their own, so
/// it needs no CSRF check.
pub fn bearer_authorised(headers: &HeaderMap, token: &Secret) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|v| token.matches(v))
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// The live session the request's cookie names (none when absent, unknown, signed out or
/// expired, or when the queue cannot answer).
pub async fn current_session(
    queue: &crate::queue::JobQueue,
    headers: &HeaderMap,
) -> Option<crate::queue::Session> {
    let cookie = session_cookie(headers)?;
    match queue.session(&cookie).await {
        Ok(session) => session,
        Err(error) => {
            tracing::warn!(%error, "session lookup failed");
            None
        }
    }
}

/// Whether a state-changing request made with a session cookie comes from our own pages: it
/// carries the session's CSRF token (`X-CSRF-Token` header or the form's field), or its
/// `Origin` is this server (or `serve.public_url`).
pub fn same_site_request(
    headers: &HeaderMap,
    csrf: &str,
    form_token: Option<&str>,
    public_url: Option<&str>,
) -> bool {
    let token_matches = |candidate: &str| bool::from(candidate.as_bytes().ct_eq(csrf.as_bytes()));
    if form_token.is_some_and(token_matches)
        || headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(token_matches)
    {
        return true;
    }
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|o| url::Url::parse(o).ok())
    else {
        return false;
    };
    let origin_authority = match (origin.host_str(), origin.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => return false,
    };
    let same_host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(&origin_authority));
    let public = public_url
        .and_then(|u| url::Url::parse(u).ok())
        .is_some_and(|u| u.origin() == origin.origin());
    same_host || public
}

/// Whether cookies must be `Secure`: deskdraft is reached over https (its public URL says so,
/// or the TLS proxy in front of it does).
pub fn secure_cookies(public_url: Option<&str>, headers: &HeaderMap) -> bool {
    public_url.is_some_and(|u| u.trim_start().to_ascii_lowercase().starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Failed sign-ins allowed per client address in [`THROTTLE_WINDOW`], and for all addresses
/// together (a guess spread over many addresses is still slowed down).
const FAILURES_PER_ADDRESS: usize = 5;
const FAILURES_OVERALL: usize = 50;
const THROTTLE_WINDOW: Duration = Duration::from_secs(300);

/// Slows down guessing of the review token at the sign-in form.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<VecDeque<(Instant, Option<IpAddr>)>>,
}

impl LoginThrottle {
    /// `Err(wait)` when `address` (or everyone) failed too often lately.
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        while failures
            .front()
            .is_some_and(|(at, _)| at.elapsed() >= THROTTLE_WINDOW)
        {
            failures.pop_front();
        }
        let mine: Vec<Instant> = failures
            .iter()
            .filter(|(_, a)| *a == address)
            .map(|(at, _)| *at)
            .collect();
        let blocking = if mine.len() >= FAILURES_PER_ADDRESS {
            mine.first().copied()
        } else if failures.len() >= FAILURES_OVERALL {
            failures.front().map(|(at, _)| *at)
        } else {
            None
        };
        match blocking {
            Some(oldest) => Err(THROTTLE_WINDOW.saturating_sub(oldest.elapsed())),
            None => Ok(()),
        }
    }

    pub fn failed(&self, address: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.push_back((Instant::now(), address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn sign_in_failures_are_throttled_per_address_and_overall() {
        let throttle = LoginThrottle::default();
        let guesser: Option<IpAddr> = Some("10.0.0.9".parse().unwrap());
        for _ in 0..FAILURES_PER_ADDRESS {
            assert!(throttle.check(guesser).is_ok());
            throttle.failed(guesser);
        }
        let wait = throttle.check(guesser).unwrap_err();
        assert!(wait > Duration::from_secs(290), "{wait:?}");
        assert!(throttle.check(Some("10.0.0.10".parse().unwrap())).is_ok());
        for i in 0..FAILURES_OVERALL {
            throttle.failed(Some(IpAddr::from([
                10,
                1,
                (i / 256) as u8,
                (i % 256) as u8,
            ])));
        }
        assert!(throttle.check(Some("10.9.9.9".parse().unwrap())).is_err());
    }

    #[test]
    fn cookie_requests_need_the_csrf_token_or_our_own_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!same_site_request(&headers, "t0k3n", None, None));
        assert!(same_site_request(&headers, "t0k3n", Some("t0k3n"), None));
        assert!(!same_site_request(&headers, "t0k3n", Some("other"), None));
        headers.insert(CSRF_HEADER, HeaderValue::from_static("t0k3n"));
        assert!(same_site_request(&headers, "t0k3n", None, None));
        headers.remove(CSRF_HEADER);
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_site_request(&headers, "t0k3n", None, None));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_site_request(&headers, "t0k3n", None, None));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://deskdraft.acme.com"),
        );
        assert!(same_site_request(
            &headers,
            "t0k3n",
            None,
            Some("https://deskdraft.acme.com")
        ));
        assert!(secure_cookies(
            Some("https://deskdraft.acme.com"),
            &HeaderMap::new()
        ));
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(secure_cookies(None, &proxied));
        assert!(!secure_cookies(
            Some("http://127.0.0.1:8080"),
            &HeaderMap::new()
        ));
    }
}
