//! The one HTTP client pylayer uses: a shared connection pool with timeouts, retries with
//! backoff on 5xx and dropped connections, the operating system's trusted certificates
//! (so TLS-intercepting corporate proxies work) and `HTTPS_PROXY` / `NO_PROXY`.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};

/// How many times a request is tried before its failure is reported.
pub const ATTEMPTS: u32 = 4;

/// The shared client: one connection pool for index pages, metadata and wheels, so a build
/// that locks and then fetches reuses its connections. Certificates come from the OS store
/// (and `SSL_CERT_FILE`), read once.
pub fn client() -> anyhow::Result<Client> {
    static CLIENT: std::sync::OnceLock<Result<Client, String>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let user_agent = concat!("pylayer/", env!("CARGO_PKG_VERSION"));
            Client::builder()
                .user_agent(user_agent)
                .connect_timeout(Duration::from_secs(15))
                .read_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(32)
                .build()
                .map_err(|e| format!("cannot set up HTTPS (certificates or proxy settings): {e}"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// Whether a status is worth retrying.
fn transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// Sends the request built by `make`, retrying transient failures with exponential backoff.
/// Returns the last response (which may be an error status) or the last transport error.
pub async fn send_with_retry(
    make: impl Fn() -> RequestBuilder,
    url_for_errors: &str,
) -> anyhow::Result<Response> {
    let mut delay = Duration::from_millis(200);
    let mut last_err = None;
    for attempt in 1..=ATTEMPTS {
        match make().send().await {
            Ok(resp) if transient(resp.status()) && attempt < ATTEMPTS => {
                last_err = Some(format!("HTTP {}", resp.status()));
            }
            Ok(resp) => return Ok(resp),
            Err(e)
                if attempt < ATTEMPTS
                    && (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()) =>
            {
                last_err = Some(describe(&e));
            }
            Err(e) => {
                anyhow::bail!(
                    "cannot fetch {}: {}{}",
                    redact(url_for_errors),
                    describe(&e),
                    hint(&e)
                );
            }
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    anyhow::bail!(
        "cannot fetch {} after {ATTEMPTS} attempts: {}",
        redact(url_for_errors),
        last_err.unwrap_or_default()
    )
}

/// What to do about a transport error.
fn hint(e: &reqwest::Error) -> &'static str {
    let text = describe(e).to_ascii_lowercase();
    if text.contains("certificate") || text.contains("unknownissuer") {
        "\n  the server's certificate is not trusted: add your organisation's CA to the system store or point SSL_CERT_FILE at it"
    } else if e.is_connect() || e.is_timeout() {
        "\n  check the index URL, your network, and HTTPS_PROXY / NO_PROXY; --offline works from the cache"
    } else {
        ""
    }
}

/// A transport error in one line, with its innermost cause (which is the useful part) and
/// no URL (callers print the redacted URL themselves).
pub fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.without_url_ref().to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let s = self.to_string();
        match self.url() {
            Some(u) => s.replace(u.as_str(), &redact(u.as_str())),
            None => s,
        }
    }
}

/// The full length of a resource from a `Content-Range: bytes a-b/TOTAL` answer.
pub fn content_range_total(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('/').next())
        .and_then(|v| v.parse().ok())
}

/// Hides the password (or token) in a URL's user-info so it can be printed.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            if u.password().is_some() {
                let _ = u.set_password(Some("****"));
            } else {
                // A lone user name is usually a token.
                let _ = u.set_username("****");
            }
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact("https://user:secret@host/simple/"),
            "https://user:****@host/simple/"
        );
        assert_eq!(
            redact("https://tok3n@host/simple/"),
            "https://****@host/simple/"
        );
        assert_eq!(redact("https://host/simple/"), "https://host/simple/");
    }
}
