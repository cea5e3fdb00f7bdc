//! Rules every outbound HTTP client of deskdraft shares (Freshdesk, the language model, the
//! embeddings endpoint, the Qdrant server): a secret travels only over TLS or to this machine,
//! and no answer is read past a size limit.

use url::Url;

/// Whether `url` points at this machine (a loopback address or `localhost`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

/// Refuses to send a secret over plain http to another machine. `setting` names the
/// configuration key to fix.
pub fn check_secret_transport(
    url: &Url,
    carries_secret: bool,
    setting: &str,
) -> Result<(), String> {
    if carries_secret && url.scheme() != "https" && !is_loopback(url) {
        return Err(format!(
            "{setting} {:?} is {} to another machine: the API key would travel unencrypted; use https",
            url.as_str(),
            url.scheme()
        ));
    }
    Ok(())
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the response is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("reading the response failed: {0}")]
    Read(String),
}

/// The response body, read chunk by chunk and refused once it passes `limit` bytes, so a
/// misbehaving server cannot make us buffer gigabytes.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Read(describe(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error with its cause chain but without the URL (which may carry a query string).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else {
        error.to_string()
    };
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_over_tls_or_stay_on_this_machine() {
        let url = |s: &str| Url::parse(s).unwrap();
        for local in [
            "http://127.0.0.1:6334",
            "http://127.5.0.1/v1",
            "http://localhost:11434/v1",
            "http://[::1]:8080/v1",
        ] {
            assert!(is_loopback(&url(local)), "{local}");
            assert!(check_secret_transport(&url(local), true, "x").is_ok());
        }
        assert!(check_secret_transport(&url("https://api.example.com/v1"), true, "x").is_ok());
        let refused =
            check_secret_transport(&url("http://qdrant.internal:6334"), true, "store.url")
                .unwrap_err();
        assert!(
            refused.contains("store.url") && refused.contains("https"),
            "{refused}"
        );
        assert!(
            check_secret_transport(&url("http://qdrant.internal:6334"), false, "x").is_ok(),
            "no key, nothing to leak"
        );
        assert!(!is_loopback(&url("http://localhost.example.com")));
    }

    #[tokio::test]
    async fn bodies_past_the_limit_are_refused_with_or_without_a_length() {
        use axum::routing::get;
        let app = axum::Router::new()
            .route("/small", get(|| async { "x".repeat(1_000) }))
            .route("/large", get(|| async { "x".repeat(2_000_000) }))
            .route(
                "/streamed",
                get(|| async {
                    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]));
                    axum::body::Body::from_stream(futures::stream::iter(chunks))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let get = |path: &str| reqwest::get(format!("{base}{path}"));
        let small = read_capped(get("/small").await.unwrap(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(small.len(), 1_000);
        for path in ["/large", "/streamed"] {
            let error = read_capped(get(path).await.unwrap(), 1 << 20)
                .await
                .unwrap_err();
            assert!(
                matches!(error, BodyError::TooLarge { limit } if limit == 1 << 20),
                "{path}"
            );
        }
    }
}
