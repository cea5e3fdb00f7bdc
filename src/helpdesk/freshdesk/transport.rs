//! The shared inner client: one `reqwest` client, one account limiter, one set of counters.
//! Every request goes through [`Inner::call`]: pace, send, count, classify, retry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::config::{API_KEY_ENV, ConfigError, FreshdeskConfig};
use super::metrics::{CallMetrics, NO_RESPONSE};
use super::ratelimit::AccountLimiter;
use super::wire::{error_summary, header_u64, next_link, retry_after};
use crate::helpdesk::HelpdeskError;

/// The largest response read: a page of 100 tickets with their descriptions is a few
/// megabytes at most.
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Upper bound on pages followed through `Link` headers for one listing (a loop guard).
const MAX_LINK_PAGES: usize = 10_000;

/// One request to make (retries re-send it unchanged).
pub(crate) struct Call<'a> {
    /// Metrics label: method and path template.
    pub endpoint: &'static str,
    pub method: Method,
    pub url: Url,
    pub body: Option<&'a serde_json::Value>,
    /// Credits Freshdesk charges for it (1, or more with `include=`).
    pub cost: u32,
    /// Subject to the "Tickets List" sub-limit.
    pub ticket_list: bool,
}

impl<'a> Call<'a> {
    pub(crate) fn get(endpoint: &'static str, url: Url) -> Self {
        Self {
            endpoint,
            method: Method::GET,
            url,
            body: None,
            cost: 1,
            ticket_list: false,
        }
    }
}

pub(crate) struct Inner {
    http: reqwest::Client,
    pub(crate) config: FreshdeskConfig,
    pub(crate) limiter: Arc<AccountLimiter>,
    pub(crate) metrics: Arc<CallMetrics>,
}

/// One limiter per account (keyed by base URL) even when several clients are built for it.
fn shared_limiter(config: &FreshdeskConfig) -> Arc<AccountLimiter> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<AccountLimiter>>>> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Default::default);
    let mut map = registry.lock().unwrap_or_else(|e| e.into_inner());
    map.retain(|_, weak| weak.strong_count() > 0);
    let key = config.base_url.as_str().to_owned();
    if let Some(existing) = map.get(&key).and_then(Weak::upgrade) {
        return existing;
    }
    let limiter = Arc::new(AccountLimiter::new(
        config.budget_per_window(),
        config.list_budget_per_window(),
        config.rate_window,
    ));
    map.insert(key, Arc::downgrade(&limiter));
    limiter
}

impl Inner {
    pub(crate) fn new(config: FreshdeskConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(std::time::Duration::from_secs(10)))
            .user_agent(concat!("deskdraft/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        let limiter = shared_limiter(&config);
        Ok(Self {
            http,
            config,
            limiter,
            metrics: Arc::new(CallMetrics::default()),
        })
    }

    /// `{base}/{segments...}`, each segment percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.config.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends `call` under the retry policy and decodes a JSON body.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
    ) -> Result<(T, HeaderMap), HelpdeskError> {
        self.config.retry.run(|_attempt| self.attempt(call)).await
    }

    /// One attempt, no retry: pace, send, count, classify.
    pub(crate) async fn attempt<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
    ) -> Result<(T, HeaderMap), HelpdeskError> {
        self.limiter.acquire(call.cost, call.ticket_list).await;
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .basic_auth(self.config.api_key.expose(), Some("X"))
            .header(ACCEPT, "application/json");
        if let Some(body) = call.body {
            // `.json` also sets `Content-Type: application/json`, which notes require.
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                self.metrics.record(call.endpoint, NO_RESPONSE);
                let message = format!("{}: {}", call.endpoint, describe(&error));
                return Err(if error.is_timeout() {
                    HelpdeskError::TimedOut(message)
                } else {
                    HelpdeskError::Transient(message)
                });
            }
        };
        let status = response.status();
        self.metrics.record(call.endpoint, status.as_u16());
        let headers = response.headers().clone();
        self.limiter.observe(
            header_u64(&headers, "x-ratelimit-total"),
            header_u64(&headers, "x-ratelimit-remaining"),
        );
        if let Some(used) = header_u64(&headers, "x-ratelimit-used-currentrequest") {
            self.metrics.add_credits(used);
        }
        let body = crate::net::read_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|error| HelpdeskError::Transient(format!("{}: {error}", call.endpoint)))?;
        if status.is_success() {
            let value = serde_json::from_slice::<T>(&body).map_err(|e| {
                HelpdeskError::Malformed(format!("{} returned invalid JSON: {e}", call.endpoint))
            })?;
            return Ok((value, headers));
        }
        Err(self.status_error(call.endpoint, status, &headers, &body))
    }

    fn status_error(
        &self,
        endpoint: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> HelpdeskError {
        let detail = error_summary(body);
        match status.as_u16() {
            401 => HelpdeskError::Unauthorized(format!(
                "check {API_KEY_ENV}: the key was rejected by {} ({detail})",
                self.config.base_url.host_str().unwrap_or("Freshdesk")
            )),
            403 => HelpdeskError::Forbidden(format!(
                "{endpoint}: the Freshdesk plan lacks API access for this, or the agent whose key is in \
                 {API_KEY_ENV} lacks the permission ({detail})"
            )),
            404 => HelpdeskError::NotFound(format!("{endpoint} ({detail})")),
            429 => {
                let wait = retry_after(headers);
                self.limiter.block_for(wait);
                HelpdeskError::RateLimited { retry_after: wait }
            }
            500..=599 => HelpdeskError::Transient(format!("{endpoint}: HTTP {status} ({detail})")),
            _ => HelpdeskError::Permanent(format!("{endpoint}: HTTP {status} ({detail})")),
        }
    }

    /// Follows `Link: <...>; rel="next"` from `first` and concatenates the pages.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        first: Url,
    ) -> Result<Vec<T>, HelpdeskError> {
        let mut items = Vec::new();
        let mut url = first;
        for _ in 0..MAX_LINK_PAGES {
            let (page, headers): (Vec<T>, _) = self.call(&Call::get(endpoint, url.clone())).await?;
            let empty = page.is_empty();
            items.extend(page);
            match next_link(&headers) {
                Some(next) if !empty && next != url => url = self.same_origin(&url, next),
                _ => return Ok(items),
            }
        }
        Err(HelpdeskError::Malformed(format!(
            "{endpoint}: more than {MAX_LINK_PAGES} pages of Link headers"
        )))
    }

    /// Keeps credentials on our host: a next link elsewhere is re-targeted at `current`'s path.
    pub(crate) fn same_origin(&self, current: &Url, next: Url) -> Url {
        if next.origin() == self.config.base_url.origin() {
            return next;
        }
        tracing::warn!("Freshdesk Link header points at another host; keeping our own");
        let mut url = current.clone();
        url.set_query(next.query());
        url
    }
}

/// A reqwest error with its cause chain (reqwest's own text hides "connection reset" etc.).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        format!("timed out: {error}")
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
