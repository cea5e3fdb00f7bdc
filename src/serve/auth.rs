//! Shared secrets of `serve`: the webhook secret (Freshdesk signs nothing, so its automation rule
//! sends it in `X-Deskdraft-Secret` or as the Basic-auth password) and the review token (API
//! bearer token and review-page login). Compared in constant time; never logged.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const WEBHOOK_SECRET_ENV: &str = "DESKDRAFT_WEBHOOK_SECRET";
pub const REVIEW_TOKEN_ENV: &str = "DESKDRAFT_REVIEW_TOKEN";
/// Header a Freshdesk automation rule can send the webhook secret in.
pub const SECRET_HEADER: &str = "x-deskdraft-secret";
pub const SESSION_COOKIE: &str = "deskdraft_session";

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

    /// The session cookie value for a logged-in reviewer (a hash, never the token itself).
    pub fn session_value(&self) -> String {
        hex::encode(Sha256::digest(format!("session:{}", self.0)))
    }

    /// The CSRF token forms carry, bound to the session.
    pub fn csrf_token(&self) -> String {
        hex::encode(&Sha256::digest(format!("csrf:{}", self.session_value()))[..16])
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

/// API calls: `Authorization: Bearer <review token>`, or the review page's session cookie.
pub fn reviewer_authorised(headers: &HeaderMap, token: &Secret) -> bool {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|v| token.matches(v));
    bearer || has_session(headers, token)
}

pub fn has_session(headers: &HeaderMap, token: &Secret) -> bool {
    let expected = token.session_value();
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| {
            name == SESSION_COOKIE && bool::from(value.as_bytes().ct_eq(expected.as_bytes()))
        })
}
