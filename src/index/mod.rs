//! The package index client: project pages from one or more indexes and `--find-links`
//! sources, and core metadata for each wheel by the cheapest route available (PEP 658
//! file, HTTP range requests into the wheel, then the whole wheel).

pub mod http_cache;
pub mod metadata;
pub mod netrc;
pub mod simple;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use reqwest::header::{self, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uv_normalize::PackageName;

use crate::cache::CacheDir;
use crate::fsutil::write_cache_entry;
use crate::http::{redact, send_with_retry};
use http_cache::{Fetched, HttpCache};
pub use metadata::CoreMetadata;
pub use simple::DistFile;

/// The public package index, used when the user configures none.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple/";

const ACCEPT_SIMPLE: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// How packages found on several indexes are chosen between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum IndexStrategy {
    /// A package found on an index is taken only from the first index that has it
    /// (protects against dependency confusion).
    #[default]
    FirstIndex,
    /// Files of all indexes are considered together, and the best version wins.
    UnsafeBestMatch,
}

/// Where packages come from.
#[derive(Debug, Clone, Default)]
pub struct IndexConfig {
    /// Index base URLs in priority order (`…/simple/`).
    pub indexes: Vec<String>,
    /// Directories or HTML pages listing wheels.
    pub find_links: Vec<String>,
    pub strategy: IndexStrategy,
}

type Shared<T, E = String> = Arc<OnceCell<Result<Arc<T>, E>>>;

/// Why the core metadata of a wheel could not be had. A resolution treats `Malformed` as
/// "this version is unusable" and carries on; `Fetch` (network, cache, hash) ends it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MetadataError {
    /// The METADATA file was read but cannot be parsed (invalid Requires-Dist, no Name…).
    #[error("{0}")]
    Malformed(String),
    /// The METADATA file could not be read.
    #[error("{0}")]
    Fetch(String),
}

/// One client per run, shared by every target's resolution.
pub struct IndexClient {
    http: reqwest::Client,
    cache: CacheDir,
    http_cache: HttpCache,
    config: IndexConfig,
    netrc: netrc::Netrc,
    offline: bool,
    projects: Mutex<HashMap<PackageName, Shared<Vec<DistFile>>>>,
    metadata: Mutex<HashMap<String, Shared<CoreMetadata, MetadataError>>>,
    find_links_files: OnceCell<Result<Arc<Vec<DistFile>>, String>>,
}

fn shared<K: std::hash::Hash + Eq + Clone, T, E>(
    map: &Mutex<HashMap<K, Shared<T, E>>>,
    k: &K,
) -> Shared<T, E> {
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    m.entry(k.clone()).or_default().clone()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl IndexClient {
    pub fn new(http: reqwest::Client, cache: CacheDir, config: IndexConfig, offline: bool) -> Self {
        let http_cache = HttpCache::new(cache.http_dir(), offline);
        let urls: Vec<String> = config
            .indexes
            .iter()
            .chain(&config.find_links)
            .cloned()
            .collect();
        let netrc = netrc::Netrc::load().with_url_credentials(&urls);
        IndexClient {
            http,
            cache,
            http_cache,
            config,
            netrc,
            offline,
            projects: Mutex::default(),
            metadata: Mutex::default(),
            find_links_files: OnceCell::new(),
        }
    }

    /// Basic-auth headers from netrc for hosts whose URL carries no credentials.
    fn auth_headers(&self, url: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(u) = url::Url::parse(url)
            && u.username().is_empty()
            && let Some((login, pass)) = u.host_str().and_then(|host| self.netrc.lookup(host))
        {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{login}:{pass}"));
            if let Ok(v) = HeaderValue::from_str(&format!("Basic {token}")) {
                h.insert(header::AUTHORIZATION, v);
            }
        }
        h
    }

    /// Every file of a project across the configured sources, honouring the index strategy.
    pub async fn project(&self, name: &PackageName) -> Result<Arc<Vec<DistFile>>, String> {
        let cell = shared(&self.projects, name);
        cell.get_or_init(|| async {
            let r = self.fetch_project(name).await;
            crate::progress::event(crate::progress::Event::Project(name.to_string()));
            r.map(Arc::new).map_err(|e| format!("{e:#}"))
        })
        .await
        .clone()
    }

    async fn fetch_project(&self, name: &PackageName) -> anyhow::Result<Vec<DistFile>> {
        let mut files = Vec::new();
        for (i, base) in self.config.indexes.iter().enumerate() {
            let base = if base.ends_with('/') {
                base.clone()
            } else {
                format!("{base}/")
            };
            let url = format!("{base}{name}/");
            let page = match self
                .http_cache
                .get(&self.http, &url, ACCEPT_SIMPLE, &self.auth_headers(&url))
                .await?
            {
                Fetched::Found(p) => p,
                Fetched::NotFound => continue,
            };
            let parsed = if page.content_type.contains("json") {
                simple::parse_json(&page.body, &page.final_url, i)?
            } else {
                simple::parse_html(&page.body, &page.final_url, i)?
            };
            let found = !parsed.is_empty();
            files.extend(parsed);
            if found && self.config.strategy == IndexStrategy::FirstIndex {
                break;
            }
        }
        let local = self.find_links().await.map_err(|e| anyhow::anyhow!(e))?;
        files.extend(
            local
                .iter()
                .filter(|f| {
                    crate::wheel_name::WheelName::parse(&f.filename).is_ok_and(|w| &w.name == name)
                        || sdist_name(&f.filename).is_some_and(|n| &n == name)
                })
                .cloned(),
        );
        Ok(files)
    }

    /// All files of the `--find-links` sources (directories are listed, pages parsed).
    async fn find_links(&self) -> Result<Arc<Vec<DistFile>>, String> {
        self.find_links_files
            .get_or_init(|| async {
                let mut out = Vec::new();
                for (i, link) in self.config.find_links.iter().enumerate() {
                    let source = self.config.indexes.len() + i;
                    let res = if link.starts_with("http://") || link.starts_with("https://") {
                        match self
                            .http_cache
                            .get(&self.http, link, "text/html", &self.auth_headers(link))
                            .await
                        {
                            Ok(Fetched::Found(p)) => {
                                simple::parse_html(&p.body, &p.final_url, source)
                            }
                            Ok(Fetched::NotFound) => Err(anyhow::anyhow!(
                                "--find-links {} answered 404",
                                redact(link)
                            )),
                            Err(e) => Err(e),
                        }
                    } else {
                        list_dir(
                            Path::new(link.strip_prefix("file://").unwrap_or(link)),
                            source,
                        )
                    };
                    match res {
                        Ok(files) => out.extend(files),
                        Err(e) => return Err(format!("{e:#}")),
                    }
                }
                Ok(Arc::new(out))
            })
            .await
            .clone()
    }

    /// Core metadata of one wheel, fetched once per run and cached on disk for good.
    pub async fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, MetadataError> {
        let cell = shared(&self.metadata, &file.url);
        cell.get_or_init(|| async {
            let raw = self
                .metadata_bytes(file)
                .await
                .map_err(|e| MetadataError::Fetch(format!("{e:#}")))?;
            crate::progress::event(crate::progress::Event::Metadata(file.filename.clone()));
            metadata::parse(&raw, &file.filename)
                .map(Arc::new)
                .map_err(|e| MetadataError::Malformed(format!("{e:#}")))
        })
        .await
        .clone()
    }

    async fn metadata_bytes(&self, file: &DistFile) -> anyhow::Result<Vec<u8>> {
        let key = format!(
            "metadata:{}:{}",
            file.url,
            file.sha256.as_deref().unwrap_or("")
        );
        if let Some(b) = self.http_cache.get_immutable(&key) {
            return Ok(b);
        }
        let bytes = self.metadata_uncached(file).await?;
        // Only content-addressed answers are safe to keep forever.
        if file.sha256.is_some() || is_local(&file.url) {
            self.http_cache.put_immutable(&key, &bytes);
        }
        Ok(bytes)
    }

    async fn metadata_uncached(&self, file: &DistFile) -> anyhow::Result<Vec<u8>> {
        if is_local(&file.url) {
            let bytes = std::fs::read(local_path(&file.url))
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.url))?;
            return metadata::from_wheel_bytes(&bytes, &file.filename);
        }
        if let Some(sha) = &file.sha256
            && let Ok(bytes) = std::fs::read(self.cache.wheel_path(sha))
            && let Ok(m) = metadata::from_wheel_bytes(&bytes, &file.filename)
        {
            return Ok(m);
        }
        if self.offline {
            anyhow::bail!(
                "metadata of {} is not in the cache and --offline forbids the network; run once without --offline",
                file.filename
            );
        }
        if let Some(expected) = &file.metadata {
            let url = format!("{}.metadata", file.url);
            let resp = send_with_retry(
                || self.http.get(&url).headers(self.auth_headers(&url)),
                &url,
            )
            .await?;
            if resp.status().is_success() {
                let body = resp.bytes().await.map_err(|e| {
                    anyhow::anyhow!("reading {}: {}", redact(&url), crate::http::describe(&e))
                })?;
                if let Some(h) = expected {
                    let got = sha256_hex(&body);
                    if &got != h {
                        anyhow::bail!(
                            "hash mismatch for the metadata of {}: the index says sha256 {h}, {} has {got}",
                            file.filename,
                            redact(&url)
                        );
                    }
                }
                return Ok(body.to_vec());
            }
        }
        if let Some(m) = self.metadata_by_range(file).await? {
            return Ok(m);
        }
        let (bytes, _) = self.whole_wheel(file).await?;
        metadata::from_wheel_bytes(&bytes, &file.filename)
    }

    async fn range(&self, url: &str, range: &str) -> anyhow::Result<(u16, Vec<u8>, Option<u64>)> {
        let mut headers = self.auth_headers(url);
        if let Ok(v) = HeaderValue::from_str(range) {
            headers.insert(header::RANGE, v);
        }
        // Wheels are already compressed; asking for identity keeps ranges meaningful.
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let resp = send_with_retry(|| self.http.get(url).headers(headers.clone()), url).await?;
        let status = resp.status().as_u16();
        let total = crate::http::content_range_total(resp.headers());
        let body = resp.bytes().await.map_err(|e| {
            anyhow::anyhow!("reading {}: {}", redact(url), crate::http::describe(&e))
        })?;
        Ok((status, body.to_vec(), total))
    }

    /// Reads METADATA out of a remote wheel with two or three range requests. `Ok(None)`
    /// when the server does not do ranges or the zip needs the slow path.
    async fn metadata_by_range(&self, file: &DistFile) -> anyhow::Result<Option<Vec<u8>>> {
        const TAIL: u64 = 64 * 1024;
        let (status, tail, total) = self.range(&file.url, &format!("bytes=-{TAIL}")).await?;
        if status == 200 {
            // The server ignored the range and sent everything: use it.
            self.check_and_keep(file, &tail)?;
            return metadata::from_wheel_bytes(&tail, &file.filename).map(Some);
        }
        if let (Some(t), Some(sha)) = (total, &file.sha256) {
            self.http_cache.put_immutable(
                &format!("size:{}:{sha}", file.url),
                t.to_string().as_bytes(),
            );
        }
        let Some(total) = total.filter(|_| status == 206) else {
            return Ok(None);
        };
        let tail_start = total.saturating_sub(tail.len() as u64);
        let Some((cd_offset, cd_size)) = crate::zipfmt::central_directory(&tail, tail_start) else {
            return Ok(None);
        };
        let cd = if cd_offset >= tail_start {
            let s = (cd_offset - tail_start) as usize;
            match tail.get(s..s + cd_size as usize) {
                Some(c) => c.to_vec(),
                None => return Ok(None),
            }
        } else {
            let (st, body, _) = self
                .range(
                    &file.url,
                    &format!("bytes={cd_offset}-{}", cd_offset + cd_size - 1),
                )
                .await?;
            if st != 206 {
                return Ok(None);
            }
            body
        };
        let Some(loc) = metadata::locate_metadata(&cd) else {
            anyhow::bail!("malformed wheel {}: no .dist-info/METADATA", file.filename);
        };
        let end = loc.local_header_offset + 30 + 1024 + loc.compressed_size;
        let (st, body, _) = self
            .range(
                &file.url,
                &format!("bytes={}-{}", loc.local_header_offset, end.min(total) - 1),
            )
            .await?;
        if st != 206 {
            return Ok(None);
        }
        Ok(metadata::decode_local_entry(&body, &loc))
    }

    /// Checks a downloaded wheel against the index's hash and keeps it in the wheel cache so
    /// a later build does not download it again.
    fn check_and_keep(&self, file: &DistFile, bytes: &[u8]) -> anyhow::Result<String> {
        let got = sha256_hex(bytes);
        if let Some(expected) = &file.sha256
            && &got != expected
        {
            anyhow::bail!(
                "hash mismatch for {} from {}: the index says sha256 {expected}, the file has {got}; \
                     the index or a proxy is serving a different file — do not use it",
                file.filename,
                redact(&file.url)
            );
        }
        let _ = write_cache_entry(&self.cache.wheel_path(&got), bytes);
        Ok(got)
    }

    /// Downloads a whole wheel (or reads a local one), verifying its hash. Returns the bytes
    /// and their sha256.
    pub async fn whole_wheel(&self, file: &DistFile) -> anyhow::Result<(Vec<u8>, String)> {
        if is_local(&file.url) {
            let bytes = std::fs::read(local_path(&file.url))
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.url))?;
            let sha = sha256_hex(&bytes);
            return Ok((bytes, sha));
        }
        if let Some(sha) = &file.sha256
            && let Ok(bytes) = std::fs::read(self.cache.wheel_path(sha))
            && &sha256_hex(&bytes) == sha
        {
            return Ok((bytes, sha.clone()));
        }
        if self.offline {
            anyhow::bail!(
                "{} is not in the cache and --offline forbids the network",
                file.filename
            );
        }
        let resp = send_with_retry(
            || {
                self.http
                    .get(&file.url)
                    .headers(self.auth_headers(&file.url))
            },
            &file.url,
        )
        .await?;
        if !resp.status().is_success() {
            anyhow::bail!("{} answered HTTP {}", redact(&file.url), resp.status());
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "reading {}: {}",
                    redact(&file.url),
                    crate::http::describe(&e)
                )
            })?
            .to_vec();
        let sha = self.check_and_keep(file, &bytes)?;
        Ok((bytes, sha))
    }

    /// The sha256 and size a lock records for a file, asking the server only for what the
    /// index page did not say.
    pub async fn hash_and_size(&self, file: &DistFile) -> anyhow::Result<(String, u64)> {
        if let (Some(sha), Some(size)) = (&file.sha256, file.size) {
            return Ok((sha.clone(), size));
        }
        if let (Some(sha), false) = (&file.sha256, is_local(&file.url)) {
            if let Ok(meta) = std::fs::metadata(self.cache.wheel_path(sha)) {
                return Ok((sha.clone(), meta.len()));
            }
            let key = format!("size:{}:{sha}", file.url);
            if let Some(b) = self.http_cache.get_immutable(&key)
                && let Some(n) = std::str::from_utf8(&b).ok().and_then(|s| s.parse().ok())
            {
                return Ok((sha.clone(), n));
            }
            if !self.offline {
                let resp = send_with_retry(
                    || {
                        self.http
                            .head(&file.url)
                            .headers(self.auth_headers(&file.url))
                    },
                    &file.url,
                )
                .await?;
                // reqwest reports no body length for HEAD; the header itself has it.
                let length = resp
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if let Some(n) = length
                    .filter(|_| resp.status().is_success())
                    .filter(|&n| n > 0)
                {
                    self.http_cache
                        .put_immutable(&key, n.to_string().as_bytes());
                    return Ok((sha.clone(), n));
                }
            }
        }
        let (bytes, sha) = self.whole_wheel(file).await?;
        Ok((sha, bytes.len() as u64))
    }
}

fn is_local(url: &str) -> bool {
    url.starts_with("file://")
}

fn local_path(url: &str) -> PathBuf {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.to_file_path().ok())
        .unwrap_or_else(|| PathBuf::from(url.trim_start_matches("file://")))
}

/// The project name of a source distribution filename, for explaining that a package has
/// only sdists.
pub fn sdist_name(filename: &str) -> Option<PackageName> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))
        .or_else(|| filename.strip_suffix(".tar.bz2"))
        .or_else(|| filename.strip_suffix(".tgz"))?;
    let (name, _) = stem.rsplit_once('-')?;
    name.parse().ok()
}

/// The wheels (and sdists, for messages) in a `--find-links` directory.
fn list_dir(dir: &Path, source: usize) -> anyhow::Result<Vec<DistFile>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!("cannot read --find-links directory {}: {e}", dir.display())
    })?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(filename) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !(filename.ends_with(".whl") || sdist_name(&filename).is_some()) {
            continue;
        }
        let abs = std::fs::canonicalize(&path).unwrap_or(path.clone());
        let Ok(url) = url::Url::from_file_path(&abs) else {
            continue;
        };
        let size = entry.metadata().ok().map(|m| m.len());
        out.push(DistFile {
            filename,
            url: url.to_string(),
            sha256: None,
            size,
            requires_python: None,
            yanked: None,
            metadata: None,
            source,
        });
    }
    out.sort_by(|a, b| a.filename.cmp(&b.filename));
    Ok(out)
}
