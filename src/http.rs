//! The one HTTP client pylayer uses, and the one retry policy every request goes through:
//! a shared connection pool, the operating system's trusted certificates (so TLS-intercepting
//! corporate proxies work), `HTTPS_PROXY` / `NO_PROXY`, redirects kept to http(s), and for
//! every request exponential backoff with jitter (honouring `Retry-After`), an idle timeout
//! and a total deadline.
//!
//! `PYLAYER_HTTP_TIMEOUT` (seconds, default 900) is the total deadline of one request, all
//! its retries included; the idle timeout (no byte received) is 30 s or the deadline if that
//! is shorter. A request that runs out of either ends with an error naming the URL.

mod dns;

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode};

/// How many times a request is tried before its failure is reported.
pub const ATTEMPTS: u32 = 4;

/// The environment variable that sets the total deadline of one request, in seconds.
pub const TIMEOUT_ENV: &str = "PYLAYER_HTTP_TIMEOUT";

/// The default total deadline: long enough for a large wheel on a slow link.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(900);

/// At most this long without a byte from the server.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// Backoff before the second attempt; doubled for each further attempt, jittered.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// A server's `Retry-After` is honoured up to this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The timeouts of every request.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Total time for one request, all attempts and the body included.
    pub deadline: Duration,
    /// Time without progress (connecting, waiting for headers, between body chunks).
    pub idle: Duration,
}

/// The policy from `PYLAYER_HTTP_TIMEOUT`, or an error naming the variable.
pub fn policy() -> anyhow::Result<Policy> {
    let deadline = match std::env::var(TIMEOUT_ENV) {
        Ok(v) if !v.trim().is_empty() => {
            let secs: f64 = v.trim().parse().ok().filter(|s: &f64| *s > 0.0 && s.is_finite()).ok_or_else(|| {
                anyhow::anyhow!(
                    "{TIMEOUT_ENV}={v:?} is not a number of seconds; set it to e.g. 900, or unset it"
                )
            })?;
            Duration::from_secs_f64(secs.min(7.0 * 24.0 * 3600.0))
        }
        _ => DEFAULT_DEADLINE,
    };
    Ok(Policy {
        deadline,
        idle: deadline.min(MAX_IDLE),
    })
}

/// The shared client: one connection pool for index pages, metadata and wheels, so a build
/// that locks and then fetches reuses its connections. Certificates come from the OS store
/// (and `SSL_CERT_FILE`), read once.
pub fn client() -> anyhow::Result<Client> {
    static CLIENT: std::sync::OnceLock<Result<Client, String>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let policy = policy().map_err(|e| e.to_string())?;
            let user_agent = concat!("pylayer/", env!("CARGO_PKG_VERSION"));
            Client::builder()
                .user_agent(user_agent)
                .connect_timeout(policy.idle.min(Duration::from_secs(15)))
                .read_timeout(policy.idle)
                .redirect(redirect_policy())
                .pool_max_idle_per_host(32)
                .dns_resolver(std::sync::Arc::new(dns::SharedLookups::default()))
                .build()
                .map_err(|e| format!("cannot set up HTTPS (certificates or proxy settings): {e}"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// Redirects are followed only to http(s) URLs, at most ten times. (The client drops
/// `Authorization` when a redirect changes host or port.)
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let scheme = attempt.url().scheme().to_string();
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects (more than 10)")
        } else if scheme != "http" && scheme != "https" {
            attempt.error(format!(
                "refused a redirect to a {scheme}: URL; only http and https redirects are followed"
            ))
        } else {
            attempt.follow()
        }
    })
}

/// Why a 3xx answer was not followed, for the error that reports it: the redirect pointed
/// somewhere other than http(s) (a `file:` URL would make the index read local files).
pub fn unfollowed_redirect(status: StatusCode, headers: &reqwest::header::HeaderMap) -> String {
    if !status.is_redirection() {
        return String::new();
    }
    match headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(to) => format!(
            " (a redirect to {} that was not followed: only http and https redirects are followed)",
            crate::text::shown(&redact(to))
        ),
        None => " (a redirect without a Location)".to_string(),
    }
}

/// When a request must be finished.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    total: Duration,
}

impl Deadline {
    /// A deadline starting now, from the policy.
    pub fn start(policy: &Policy) -> Deadline {
        Deadline {
            end: Instant::now() + policy.deadline,
            total: policy.deadline,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// The error for a request that ran out of time.
    pub fn exceeded(&self, url: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "timed out: {} did not finish within {:.0} s; the server or network is too slow or stalled \
             (set {TIMEOUT_ENV} to a number of seconds to allow longer)",
            redact(url),
            self.total.as_secs_f64()
        )
    }

    /// Runs `fut` within the deadline.
    pub async fn run<T>(
        &self,
        url: &str,
        fut: impl std::future::Future<Output = T>,
    ) -> anyhow::Result<T> {
        tokio::time::timeout(self.remaining(), fut)
            .await
            .map_err(|_| self.exceeded(url))
    }
}

/// Whether a status is worth retrying.
fn transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// Whether a transport error is worth retrying: resets, refused or timed-out connections,
/// bodies that broke off.
pub fn transient_error(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode()
}

/// How long to wait before attempt `attempt + 1`: the server's `Retry-After` (seconds) when
/// it gave one, else exponential backoff with jitter, never past the deadline.
pub fn backoff(attempt: u32, headers: Option<&HeaderMap>, deadline: &Deadline) -> Duration {
    let asked = headers
        .and_then(|h| h.get(RETRY_AFTER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    let delay = asked.unwrap_or_else(|| {
        let base = FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
        // Half fixed, half random: concurrent clients do not retry in lockstep.
        base / 2 + base.mul_f64(fastrand::f64() / 2.0)
    });
    delay.min(deadline.remaining())
}

/// Sends the request built by `make`, retrying transient failures. Returns the last
/// response (which may be an error status) or the last transport error. The body is the
/// caller's to read, within `deadline`.
pub async fn send_with_retry(
    make: impl Fn() -> RequestBuilder,
    url_for_errors: &str,
) -> anyhow::Result<Response> {
    let deadline = Deadline::start(&policy()?);
    send_within(&make, url_for_errors, &deadline).await
}

/// [`send_with_retry`] within a deadline the caller already started.
pub async fn send_within(
    make: &impl Fn() -> RequestBuilder,
    url_for_errors: &str,
    deadline: &Deadline,
) -> anyhow::Result<Response> {
    let mut last_err = String::new();
    let mut last_hint = "";
    for attempt in 1..=ATTEMPTS {
        let wait = match deadline.run(url_for_errors, make().send()).await? {
            Ok(resp) if transient(resp.status()) && attempt < ATTEMPTS => {
                last_err = format!("HTTP {}", resp.status());
                backoff(attempt, Some(resp.headers()), deadline)
            }
            Ok(resp) => return Ok(resp),
            Err(e) if attempt < ATTEMPTS && transient_error(&e) => {
                last_err = describe(&e);
                last_hint = hint(&e);
                backoff(attempt, None, deadline)
            }
            Err(e) if transient_error(&e) => {
                last_err = describe(&e);
                last_hint = hint(&e);
                break;
            }
            Err(e) => {
                anyhow::bail!(
                    "cannot fetch {}: {}{}",
                    redact(url_for_errors),
                    describe(&e),
                    hint(&e)
                );
            }
        };
        deadline
            .run(url_for_errors, tokio::time::sleep(wait))
            .await?;
    }
    anyhow::bail!(
        "cannot fetch {} after {ATTEMPTS} attempts: {last_err}{last_hint}",
        redact(url_for_errors)
    )
}

/// A response read whole.
#[derive(Debug)]
pub struct Body {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The URL after redirects.
    pub final_url: String,
    pub bytes: Vec<u8>,
}

/// Sends the request built by `make` and reads its body (at most `limit` bytes), retrying
/// transient statuses, dropped connections and bodies that break off, all within one
/// deadline. A body over `limit` is an error naming the URL, without reading the rest.
pub async fn get_body(
    make: impl Fn() -> RequestBuilder,
    url: &str,
    limit: u64,
) -> anyhow::Result<Body> {
    let deadline = Deadline::start(&policy()?);
    let mut attempt = 1;
    loop {
        let resp = send_within(&make, url, &deadline).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let final_url = resp.url().to_string();
        match deadline.run(url, read_body(resp, limit, url)).await? {
            Ok(bytes) => {
                return Ok(Body {
                    status,
                    headers,
                    final_url,
                    bytes,
                });
            }
            Err(ReadError::TooLarge(e)) => return Err(e),
            Err(ReadError::Broken(_)) if attempt < ATTEMPTS => {
                let wait = backoff(attempt, None, &deadline);
                deadline.run(url, tokio::time::sleep(wait)).await?;
                attempt += 1;
            }
            Err(ReadError::Broken(e)) => {
                return Err(e.context(format!("after {ATTEMPTS} attempts")));
            }
        }
    }
}

/// Why a body could not be read.
pub enum ReadError {
    /// Over the limit: not worth another attempt.
    TooLarge(anyhow::Error),
    /// The connection broke or stalled: worth another attempt.
    Broken(anyhow::Error),
}

/// Reads a response body of at most `limit` bytes (more is refused without reading it).
pub async fn read_body(mut resp: Response, limit: u64, url: &str) -> Result<Vec<u8>, ReadError> {
    let too_large = || {
        ReadError::TooLarge(anyhow::anyhow!(
            "{} is larger than {} MiB, more than any index page or metadata file should be; \
             refusing it (is the URL right?)",
            redact(url),
            limit >> 20
        ))
    };
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // The whole body at once when its length is announced: growing by doubling copies a
    // page of megabytes several times, each time into freshly zeroed memory. (Up to 8 MiB:
    // an announced length is the server's word, and the body may never come.)
    let mut out = Vec::with_capacity(announced.map_or(0, |n| n.min(8 << 20) as usize));
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() as u64 + chunk.len() as u64 > limit {
                    return Err(too_large());
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(ReadError::Broken(anyhow::anyhow!(
                    "reading {} broke off after {} bytes: {}",
                    redact(url),
                    out.len(),
                    describe(&e)
                )));
            }
        }
    }
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
    if e.is_timeout() && !msg.contains("timed out") {
        msg = format!("timed out ({msg})");
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

/// A URL without its user-info, for anything stored (cache metadata, the lock, digests):
/// credentials never reach disk.
pub fn strip_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `text` with the user-info of every `scheme://user:pass@host` in it removed (for
/// requirement lines that embed URLs).
pub fn strip_userinfo_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let authority_end = rest
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
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

    #[test]
    fn strips_credentials_for_storage() {
        assert_eq!(
            strip_userinfo("https://user:secret@host:8080/simple/"),
            "https://host:8080/simple/"
        );
        assert_eq!(strip_userinfo("https://tok@host/x"), "https://host/x");
        assert_eq!(
            strip_userinfo_in_text("foo @ https://u:p%40ss@h/foo-1.0-py3-none-any.whl ; x"),
            "foo @ https://h/foo-1.0-py3-none-any.whl ; x"
        );
        assert_eq!(
            strip_userinfo_in_text("bar>=1 https://h/a@b"),
            "bar>=1 https://h/a@b"
        );
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let d = Deadline::start(&Policy {
            deadline: Duration::from_secs(100),
            idle: Duration::from_secs(30),
        });
        let first = backoff(1, None, &d);
        let third = backoff(3, None, &d);
        assert!(
            first <= FIRST_BACKOFF && first >= FIRST_BACKOFF / 2,
            "{first:?}"
        );
        assert!(third >= FIRST_BACKOFF * 2, "{third:?}");
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(backoff(1, Some(&h), &d), Duration::from_secs(7));
        let short = Deadline::start(&Policy {
            deadline: Duration::from_millis(50),
            idle: Duration::from_millis(50),
        });
        assert!(backoff(1, Some(&h), &short) <= Duration::from_millis(50));
    }
}
