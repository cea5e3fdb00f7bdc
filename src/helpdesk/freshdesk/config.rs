//! Configuration of the Freshdesk client: where the account is, the API key (from the environment
//! only, never logged), and how much of the account's rate limit this service may use.

use std::time::Duration;

use url::Url;

use crate::retry::RetryPolicy;

/// Environment variable holding the agent API key.
pub const API_KEY_ENV: &str = "DESKDRAFT_FRESHDESK_API_KEY";
/// Configuration problems, found before any request is sent.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{0} is not set: create an API key in Freshdesk (Profile settings -> API key) and export it"
    )]
    MissingEnv(&'static str),
    #[error(
        "no Freshdesk account configured: set freshdesk.domain (DESKDRAFT_FRESHDESK__DOMAIN=acme for acme.freshdesk.com) or freshdesk.base_url"
    )]
    MissingDomain,
    #[error(
        "invalid Freshdesk domain {0:?}: expected the subdomain, e.g. `acme` for acme.freshdesk.com"
    )]
    InvalidDomain(String),
    #[error("invalid Freshdesk base URL {0:?}: {1}")]
    InvalidBaseUrl(String, String),
    #[error("invalid value for {name}: {value:?} ({reason})")]
    InvalidValue {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
}

/// The agent's API key. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key obtained elsewhere (tests, a secret store).
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Reads `DESKDRAFT_FRESHDESK_API_KEY`.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(API_KEY_ENV) {
            Ok(key) if !key.trim().is_empty() => Ok(Self(key.trim().to_owned())),
            _ => Err(ConfigError::MissingEnv(API_KEY_ENV)),
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Everything the client needs to talk to one Freshdesk account.
#[derive(Debug, Clone)]
pub struct FreshdeskConfig {
    /// `https://{domain}.freshdesk.com/api/v2`, or an override; no trailing slash.
    pub base_url: Url,
    /// Where customers read solution articles: `https://{domain}.freshdesk.com`, or a custom
    /// portal domain. Articles have no URL attribute; links are built from this.
    pub portal_url: Url,
    pub api_key: ApiKey,
    /// The account's limit in credits per minute (Trial 50, Growth 200, Pro 400, Enterprise 700).
    pub plan_limit_per_minute: u32,
    /// The "Tickets List" sub-limit per minute, when the plan has one (Growth 20, Pro 100, Enterprise 200).
    pub list_limit_per_minute: Option<u32>,
    /// Share of the limits this service may use; the rest is left to humans and other integrations.
    pub budget_share: f64,
    /// Length of the rate-limit window: one minute in production; tests shrink it and the
    /// stand-in's window together so the same logic runs in seconds.
    pub rate_window: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Page size for lists (Freshdesk maximum: 100).
    pub per_page: u32,
    /// Highest page number the ticket list serves (Freshdesk: 300).
    pub max_list_pages: u32,
    /// Languages whose article translations [`super::FreshdeskReader::article_translations`] may fetch.
    pub article_languages: Vec<String>,
    pub retry: RetryPolicy,
}

impl FreshdeskConfig {
    /// Defaults for `https://{domain}.freshdesk.com/api/v2`. `domain` may also be given as
    /// `acme.freshdesk.com`.
    pub fn for_domain(domain: &str, api_key: ApiKey) -> Result<Self, ConfigError> {
        let sub = domain.trim().trim_end_matches('/');
        let sub = sub.strip_prefix("https://").unwrap_or(sub);
        let sub = sub.strip_suffix(".freshdesk.com").unwrap_or(sub);
        let valid = !sub.is_empty()
            && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !sub.starts_with('-');
        if !valid {
            return Err(ConfigError::InvalidDomain(domain.to_owned()));
        }
        Self::with_base_url(&format!("https://{sub}.freshdesk.com/api/v2"), api_key)
    }

    /// The portal link of a solution article: `{portal}/support/solutions/articles/{id}-{slug}`.
    /// Freshdesk finds the article by the leading id; the slug only makes the link readable.
    pub fn article_url(&self, article_id: i64, title: &str) -> String {
        let slug = title_slug(title);
        let portal = self.portal_url.as_str().trim_end_matches('/');
        if slug.is_empty() {
            format!("{portal}/support/solutions/articles/{article_id}")
        } else {
            format!("{portal}/support/solutions/articles/{article_id}-{slug}")
        }
    }

    /// Sets a portal URL other than the account's own (a custom portal domain).
    pub fn set_portal_url(&mut self, portal_url: &str) -> Result<(), ConfigError> {
        let url = Url::parse(portal_url.trim())
            .map_err(|e| ConfigError::InvalidBaseUrl(portal_url.to_owned(), e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::InvalidValue {
                name: "portal_url",
                value: portal_url.to_owned(),
                reason: "expected an http(s) URL such as https://support.acme.com",
            });
        }
        self.portal_url = url;
        Ok(())
    }

    /// Defaults with an explicit base URL such as `http://127.0.0.1:8080/api/v2`.
    pub fn with_base_url(base_url: &str, api_key: ApiKey) -> Result<Self, ConfigError> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let url = Url::parse(trimmed)
            .map_err(|e| ConfigError::InvalidBaseUrl(base_url.to_owned(), e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::InvalidBaseUrl(
                base_url.to_owned(),
                "expected an http(s) URL with a host".to_owned(),
            ));
        }
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() == "http" && !loopback {
            return Err(ConfigError::InvalidBaseUrl(
                base_url.to_owned(),
                "plain HTTP would expose the API key; Freshdesk requires HTTPS (http is allowed for loopback only)"
                    .to_owned(),
            ));
        }
        // The portal is the API host without the API path: for `acme` that is the account's own
        // https://acme.freshdesk.com, for a local stand-in its http://127.0.0.1:PORT.
        let mut portal_url = url.clone();
        portal_url.set_path("");
        portal_url.set_query(None);
        Ok(Self {
            base_url: url,
            portal_url,
            api_key,
            plan_limit_per_minute: 50,
            list_limit_per_minute: None,
            budget_share: 0.5,
            rate_window: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            per_page: 100,
            max_list_pages: 300,
            article_languages: Vec::new(),
            retry: RetryPolicy::default(),
        })
    }

    /// From the `[freshdesk]` section of the configuration and a key (from the environment).
    pub fn from_settings(
        settings: &crate::config::FreshdeskSettings,
        api_key: ApiKey,
    ) -> Result<Self, ConfigError> {
        let mut config = match (&settings.base_url, &settings.domain) {
            (Some(base), _) if !base.trim().is_empty() => Self::with_base_url(base, api_key)?,
            (_, Some(domain)) if !domain.trim().is_empty() => Self::for_domain(domain, api_key)?,
            _ => return Err(ConfigError::MissingDomain),
        };
        config.plan_limit_per_minute = settings.plan_limit_per_minute;
        config.list_limit_per_minute = settings
            .list_limit_per_minute
            .or_else(|| plan_list_limit(settings.plan_limit_per_minute));
        config.budget_share = settings.budget_share;
        config.rate_window = Duration::from_secs_f64(settings.rate_window_seconds);
        config.timeout = Duration::from_secs(settings.timeout_seconds);
        if let Some(portal) = settings
            .portal_url
            .as_deref()
            .filter(|p| !p.trim().is_empty())
        {
            config.set_portal_url(portal)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the numeric settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.budget_share > 0.0 && self.budget_share <= 1.0) {
            return Err(ConfigError::InvalidValue {
                name: "budget_share",
                value: self.budget_share.to_string(),
                reason: "must be in (0, 1]",
            });
        }
        if self.plan_limit_per_minute == 0 {
            return Err(ConfigError::InvalidValue {
                name: "plan_limit_per_minute",
                value: "0".into(),
                reason: "the Free plan has no API access",
            });
        }
        if self.per_page == 0 || self.per_page > 100 {
            return Err(ConfigError::InvalidValue {
                name: "per_page",
                value: self.per_page.to_string(),
                reason: "Freshdesk accepts 1..=100",
            });
        }
        if self.max_list_pages == 0 || self.rate_window.is_zero() {
            return Err(ConfigError::InvalidValue {
                name: "max_list_pages/rate_window",
                value: format!("{}/{:?}", self.max_list_pages, self.rate_window),
                reason: "must be positive",
            });
        }
        Ok(())
    }

    /// Credits per window this service may spend: plan limit x share, at least 1.
    pub fn budget_per_window(&self) -> u32 {
        share_of(self.plan_limit_per_minute, self.budget_share)
    }

    /// Ticket-list calls per window this service may spend, when a sub-limit is configured.
    pub fn list_budget_per_window(&self) -> Option<u32> {
        self.list_limit_per_minute
            .map(|limit| share_of(limit, self.budget_share))
    }
}

/// The "Tickets List" sub-limit of the plan whose total limit this is (Freshdesk's published
/// table: Growth 200 -> 20, Pro 400 -> 100, Enterprise 700 -> 200, add-ons 1000 -> 300 and
/// 2000 -> 400). Trial accounts (50) and unknown totals have no known sub-limit.
pub fn plan_list_limit(plan_limit_per_minute: u32) -> Option<u32> {
    match plan_limit_per_minute {
        200 => Some(20),
        400 => Some(100),
        700 => Some(200),
        1000 => Some(300),
        2000 => Some(400),
        _ => None,
    }
}

/// Lower-case ASCII words of a title joined by `-` (at most 80 characters).
fn title_slug(title: &str) -> String {
    let mut slug = String::new();
    for word in title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if slug.len() + word.len() + 1 > 80 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    slug
}

fn share_of(limit: u32, share: f64) -> u32 {
    ((f64::from(limit) * share).floor() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let config =
            FreshdeskConfig::for_domain("acme", ApiKey::new("s3cr3t-key")).expect("config");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t-key"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn domain_forms_normalise_to_the_api_base() {
        for domain in ["acme", "acme.freshdesk.com", "https://acme.freshdesk.com/"] {
            let config = FreshdeskConfig::for_domain(domain, ApiKey::new("k")).expect("config");
            assert_eq!(
                config.base_url.as_str(),
                "https://acme.freshdesk.com/api/v2"
            );
        }
        assert!(FreshdeskConfig::for_domain("acme.example.com/x", ApiKey::new("k")).is_err());
        assert!(
            FreshdeskConfig::with_base_url("http://proxy.example/api/v2", ApiKey::new("k"))
                .is_err()
        );
    }

    #[test]
    fn budget_is_the_share_of_the_plan_limit() {
        let mut config =
            FreshdeskConfig::with_base_url("http://127.0.0.1:1/api/v2/", ApiKey::new("k"))
                .expect("config");
        assert_eq!(config.base_url.as_str(), "http://127.0.0.1:1/api/v2");
        assert_eq!(config.budget_per_window(), 25);
        config.plan_limit_per_minute = 700;
        config.budget_share = 0.3;
        assert_eq!(config.budget_per_window(), 210);
        config.budget_share = 1.5;
        assert!(config.validate().is_err());
    }

    #[test]
    fn the_tickets_list_sub_limit_follows_the_plan_unless_configured() {
        let settings_for = |plan: u32, configured: Option<u32>| crate::config::FreshdeskSettings {
            domain: Some("acme".into()),
            plan_limit_per_minute: plan,
            list_limit_per_minute: configured,
            ..Default::default()
        };
        let limit = |plan, configured| {
            FreshdeskConfig::from_settings(&settings_for(plan, configured), ApiKey::new("k"))
                .expect("config")
                .list_limit_per_minute
        };
        // Growth, Pro and Enterprise per the published table.
        assert_eq!(limit(200, None), Some(20));
        assert_eq!(limit(400, None), Some(100));
        assert_eq!(limit(700, None), Some(200));
        // A trial's or an unknown plan's sub-limit is not guessed.
        assert_eq!(limit(50, None), None);
        assert_eq!(limit(555, None), None);
        // What the team configured wins over the table.
        assert_eq!(limit(700, Some(60)), Some(60));
    }
}
