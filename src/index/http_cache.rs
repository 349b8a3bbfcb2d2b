//! An on-disk HTTP cache for index pages and metadata, honouring `Cache-Control` and
//! revalidating with `ETag` / `Last-Modified`, so a repeated lock needs the network only
//! for cheap 304 answers, and `--offline` can answer from disk alone.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil::{read_capped, write_cache_entry};
use crate::http::{get_body, redact, strip_userinfo};

/// What is stored beside each cached body.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    url: String,
    final_url: String,
    content_type: String,
    etag: Option<String>,
    last_modified: Option<String>,
    /// Unix seconds until which the body may be used without asking the server.
    fresh_until: u64,
}

/// A body served from the network or from the cache.
#[derive(Debug, Clone)]
pub struct CachedBody {
    pub body: Vec<u8>,
    pub content_type: String,
    /// The URL after redirects, against which relative links resolve.
    pub final_url: String,
}

/// The outcome of a cached GET.
pub enum Fetched {
    Found(CachedBody),
    NotFound,
}

#[derive(Clone)]
pub struct HttpCache {
    dir: PathBuf,
    offline: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The entry name of a URL: a hash of the URL without its user-info, so neither the file
/// names nor their contents depend on (or reveal) a credential.
fn key(url: &str, accept: &str) -> String {
    let mut h = Sha256::new();
    h.update(strip_userinfo(url).as_bytes());
    h.update(b"\n");
    h.update(accept.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Seconds the response may be reused without revalidation, from `Cache-Control`
/// (`no-store` → None: do not store at all).
fn freshness(headers: &HeaderMap) -> Option<u64> {
    let cc = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut max_age = 0u64;
    for part in cc.split(',').map(str::trim) {
        if part == "no-store" {
            return None;
        }
        if part == "no-cache" {
            return Some(0);
        }
        if let Some(v) = part.strip_prefix("max-age=") {
            max_age = v.trim_matches('"').parse().unwrap_or(0);
        }
    }
    let age = headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Some(max_age.saturating_sub(age))
}

impl HttpCache {
    pub fn new(dir: PathBuf, offline: bool) -> Self {
        HttpCache { dir, offline }
    }

    /// One file per entry: the description as one line of JSON, then the body. (Two files
    /// per entry under 256 fan-out directories made a cold resolution spend a third of its
    /// CPU time creating inodes; docs/benchmarks.md, "CPU of a resolution".)
    fn path(&self, k: &str) -> PathBuf {
        self.dir.join(k)
    }

    fn load(&self, k: &str) -> Option<(Meta, Vec<u8>)> {
        let mut bytes =
            read_capped(&self.path(k), crate::index::PAGE_MAX_BYTES + (1 << 20)).ok()?;
        let eol = bytes.iter().position(|&b| b == b'\n')?;
        let meta: Meta = serde_json::from_slice(&bytes[..eol]).ok()?;
        bytes.drain(..=eol);
        Some((meta, bytes))
    }

    /// Stores an entry without waiting for the write (see [`crate::write_behind`]): the
    /// body is handed on at once and a copy is written behind it.
    fn store_behind(&self, k: String, meta: Meta, body: &[u8]) {
        let me = self.clone();
        let body = body.to_vec();
        crate::write_behind::spawn(move || me.store(&k, &meta, &body));
    }

    fn store(&self, k: &str, meta: &Meta, body: &[u8]) {
        // Written whole and renamed into place, so a reader sees the old entry or the new
        // one. Cache writes are best effort; failing to cache never fails the command.
        if let Ok(mut entry) = serde_json::to_vec(meta) {
            entry.push(b'\n');
            entry.extend_from_slice(body);
            let _ = write_cache_entry(&self.path(k), &entry);
        }
    }

    /// Reads an immutable entry (content-addressed metadata) without touching the network.
    pub fn get_immutable(&self, name: &str) -> Option<Vec<u8>> {
        read_capped(
            &self.path(&key(name, "immutable")),
            crate::index::PAGE_MAX_BYTES,
        )
        .ok()
    }

    /// Stores an immutable entry forever: the body alone, one file per entry, written
    /// behind (see [`crate::write_behind`]).
    pub fn put_immutable(&self, name: &str, body: &[u8]) {
        let (path, body) = (self.path(&key(name, "immutable")), body.to_vec());
        crate::write_behind::spawn(move || {
            let _ = write_cache_entry(&path, &body);
        });
    }

    /// GET `url` with `accept`, using a fresh cached copy, revalidating a stale one, and in
    /// offline mode using whatever is cached (or failing, naming the URL).
    pub async fn get(
        &self,
        client: &reqwest::Client,
        url: &str,
        accept: &str,
        extra: &HeaderMap,
    ) -> anyhow::Result<Fetched> {
        let k = key(url, accept);
        let cached = self.load(&k);
        if let Some((meta, _)) = &cached
            && (self.offline || meta.fresh_until > now())
            && let Some((meta, body)) = cached
        {
            return Ok(Fetched::Found(CachedBody {
                body,
                content_type: meta.content_type,
                final_url: meta.final_url,
            }));
        }
        if self.offline {
            anyhow::bail!(
                "{} is not in the cache and --offline forbids the network; run once without --offline",
                redact(url)
            );
        }
        let mut headers = extra.clone();
        if let Ok(v) = HeaderValue::from_str(accept) {
            headers.insert(header::ACCEPT, v);
        }
        if let Some((meta, _)) = &cached {
            if let Some(etag) = meta
                .etag
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.insert(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = meta
                .last_modified
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.insert(header::IF_MODIFIED_SINCE, lm);
            }
        }
        let resp = get_body(
            || client.get(url).headers(headers.clone()),
            url,
            crate::index::PAGE_MAX_BYTES,
        )
        .await?;
        let status = resp.status;
        if status == reqwest::StatusCode::NOT_MODIFIED
            && let Some((mut meta, body)) = cached
        {
            meta.fresh_until = now().saturating_add(freshness(&resp.headers).unwrap_or(0));
            self.store_behind(k, meta.clone(), &body);
            return Ok(Fetched::Found(CachedBody {
                body,
                content_type: meta.content_type,
                final_url: meta.final_url,
            }));
        }
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            return Ok(Fetched::NotFound);
        }
        if !status.is_success() {
            let hint = match status.as_u16() {
                // The index and the vulnerability service both come here: name the host.
                401 | 403 => {
                    let host = url::Url::parse(url)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_string))
                        .unwrap_or_else(|| "this server".to_string());
                    format!(
                        " (check the credentials for {host}: a user and password in the URL, \
                         or an entry for {host} in ~/.netrc or $NETRC)"
                    )
                }
                _ => crate::http::unfollowed_redirect(status, &resp.headers),
            };
            anyhow::bail!("{} answered HTTP {status}{hint}", redact(url));
        }
        let headers = resp.headers;
        // Stored and used for relative links: never with user-info.
        let final_url = strip_userinfo(&resp.final_url);
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.bytes;
        if let Some(fresh) = freshness(&headers) {
            let meta = Meta {
                url: strip_userinfo(url),
                final_url: final_url.clone(),
                content_type: content_type.clone(),
                etag: headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                last_modified: headers
                    .get(header::LAST_MODIFIED)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                fresh_until: now().saturating_add(fresh),
            };
            self.store_behind(k, meta, &body);
        }
        Ok(Fetched::Found(CachedBody {
            body,
            content_type,
            final_url,
        }))
    }
}
