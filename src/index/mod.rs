//! The package index client: project pages from one or more indexes and `--find-links`
//! sources, and core metadata for each wheel by the cheapest route available (PEP 658
//! file, HTTP range requests into the wheel, then the whole wheel).

pub mod http_cache;
pub mod metadata;
pub mod metadata_store;
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
use crate::http::{get_body, redact, send_with_retry, strip_userinfo};
use http_cache::{Fetched, HttpCache};
pub use metadata::CoreMetadata;
pub use simple::DistFile;

/// The public package index, used when the user configures none.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple/";

/// An index page larger than this is refused: the largest real project pages are a few
/// tens of MiB, and a page is held in memory while it is parsed.
pub const PAGE_MAX_BYTES: u64 = 64 << 20;

/// A range answer larger than this is refused (a wheel's central directory or METADATA).
const RANGE_MAX_BYTES: u64 = 32 << 20;

/// At most this many project pages are requested at once (metadata reads:
/// [`MAX_METADATA_REQUESTS`]). Callers may ask for thousands at a time (a resolution
/// prefetches every requirement it sees); each page in flight holds a connection and its
/// buffers (pages are up to several MiB), so without a bound 10,000 unknown requirements
/// took 1.5 GB (docs/benchmarks.md).
pub const MAX_CONCURRENT_REQUESTS: usize = 32;

/// At most this many metadata reads are in flight at once. A long backtrack reads thousands
/// of small metadata files, each one round trip: with 32 in flight the boto3 conflict of
/// issue 14 was bound by the round-trip time (docs/benchmarks.md); uv uses 50.
pub const MAX_METADATA_REQUESTS: usize = 64;

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
    /// More URLs whose user-info applies to requests to their origin (direct references
    /// such as `name @ https://user:token@host/x.whl`); never stored.
    pub credential_urls: Vec<String>,
}

impl IndexConfig {
    /// Every URL whose user-info may authenticate requests to its origin.
    pub fn all_credential_urls(&self) -> Vec<String> {
        self.indexes
            .iter()
            .chain(&self.find_links)
            .chain(&self.credential_urls)
            .cloned()
            .collect()
    }
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
    credentials: netrc::Credentials,
    offline: bool,
    metadata_hashes: Mutex<HashMap<String, String>>,
    projects: Mutex<HashMap<PackageName, Shared<Vec<DistFile>>>>,
    metadata: Mutex<HashMap<String, Shared<CoreMetadata, MetadataError>>>,
    find_links_files: OnceCell<Result<Arc<Vec<DistFile>>, String>>,
    /// Permits for project-page requests ([`MAX_CONCURRENT_REQUESTS`]).
    page_slots: tokio::sync::Semaphore,
    /// Permits for metadata requests, apart from pages so neither starves the other.
    metadata_slots: tokio::sync::Semaphore,
    /// Per origin: whether it serves `.metadata` files its index pages do not advertise
    /// (see [`IndexClient::unadvertised_metadata_file`]); absent until the first answer.
    metadata_hosts: Mutex<HashMap<String, bool>>,
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
        let credentials = netrc::Credentials::load(&config.all_credential_urls());
        IndexClient {
            http,
            cache,
            http_cache,
            config,
            credentials,
            offline,
            metadata_hashes: Mutex::default(),
            projects: Mutex::default(),
            metadata: Mutex::default(),
            find_links_files: OnceCell::new(),
            page_slots: tokio::sync::Semaphore::new(MAX_CONCURRENT_REQUESTS),
            metadata_slots: tokio::sync::Semaphore::new(MAX_METADATA_REQUESTS),
            metadata_hosts: Mutex::default(),
        }
    }

    /// The `Authorization` header for `url`: credentials given for its exact origin, else
    /// netrc's for its host; none when the URL carries its own.
    fn auth_headers(&self, url: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = self.credentials.authorization(url) {
            h.insert(header::AUTHORIZATION, v);
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
            // The semaphore is never closed, so acquiring cannot fail.
            let _slot = self.page_slots.acquire().await.ok();
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

    /// The sha256 of the METADATA a file's metadata was read from in this run (recorded in
    /// the lock, checked against the wheel at fetch).
    pub fn metadata_sha256(&self, file: &DistFile) -> Option<String> {
        self.metadata_hashes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&file.url)
            .cloned()
    }

    async fn metadata_bytes(&self, file: &DistFile) -> anyhow::Result<Vec<u8>> {
        // Kept for good only when the file is content-addressed (the page gave its sha256,
        // or it is a local file, hashed when listed): then the METADATA never changes.
        let kept = (file.sha256.is_some() || is_local(&file.url)).then(|| {
            metadata_store::path(&self.cache, &file.url, file.sha256.as_deref().unwrap_or(""))
        });
        let (bytes, sha) = match kept.as_deref().and_then(metadata_store::load) {
            Some(found) => found,
            None => {
                let bytes = self.metadata_uncached(file).await?;
                let sha = sha256_hex(&bytes);
                if let Some(path) = kept {
                    let (body, sha) = (bytes.clone(), sha.clone());
                    crate::write_behind::spawn(move || metadata_store::store(&path, &body, &sha));
                }
                (bytes, sha)
            }
        };
        self.metadata_hashes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file.url.clone(), sha);
        Ok(bytes)
    }

    async fn metadata_uncached(&self, file: &DistFile) -> anyhow::Result<Vec<u8>> {
        if is_local(&file.url) {
            return metadata::from_wheel_file(&local_path(&file.url), &file.filename);
        }
        if let Some(sha) = &file.sha256
            && let Ok(m) = metadata::from_wheel_file(&self.cache.wheel_path(sha), &file.filename)
        {
            return Ok(m);
        }
        if self.offline {
            anyhow::bail!(
                "metadata of {} is not in the cache and --offline forbids the network; run once without --offline",
                file.filename
            );
        }
        let _slot = self.metadata_slots.acquire().await.ok();
        if let Some(expected) = &file.metadata {
            let url = format!("{}.metadata", file.url);
            let resp = get_body(
                || self.http.get(&url).headers(self.auth_headers(&url)),
                &url,
                metadata::METADATA_MAX_BYTES,
            )
            .await?;
            if resp.status.is_success() {
                if let Some(h) = expected {
                    let got = sha256_hex(&resp.bytes);
                    if &got != h {
                        anyhow::bail!(
                            "hash mismatch for the metadata of {}: the index says sha256 {h}, {} has {got}",
                            file.filename,
                            redact(&url)
                        );
                    }
                }
                return Ok(resp.bytes);
            }
        } else if let Some(m) = self.unadvertised_metadata_file(file).await {
            return Ok(m);
        }
        if let Some(m) = self.metadata_by_range(file).await? {
            return Ok(m);
        }
        let (path, _, _) = self.whole_wheel(file).await?;
        metadata::from_wheel_file(&path, &file.filename)
    }

    /// The PEP 658 `.metadata` file of a wheel whose index page did not advertise one. Some
    /// mirrors pass pages through without the metadata attributes while the file host
    /// serves the files anyway; one small request then replaces two or three range
    /// requests of up to 64 KiB each. Tried on a host until it answers without one (then
    /// the range route is used there for the rest of the run); a body is used only if it is
    /// the METADATA of that very wheel (its Name and Version match the filename).
    async fn unadvertised_metadata_file(&self, file: &DistFile) -> Option<Vec<u8>> {
        let origin = url::Url::parse(&file.url)
            .ok()?
            .origin()
            .ascii_serialization();
        let known = self.lock_metadata_hosts().get(&origin).copied();
        if known == Some(false) {
            return None;
        }
        let url = format!("{}.metadata", file.url);
        let answer = self
            .http
            .get(&url)
            .headers(self.auth_headers(&url))
            .send()
            .await
            .ok()?;
        let good = if answer.status().is_success() {
            crate::http::read_body(answer, metadata::METADATA_MAX_BYTES, &url)
                .await
                .ok()
                .filter(|b| metadata::is_metadata_of(b, &file.filename))
        } else {
            None
        };
        if known.is_none() {
            self.lock_metadata_hosts()
                .entry(origin)
                .or_insert(good.is_some());
        }
        good
    }

    fn lock_metadata_hosts(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        self.metadata_hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A range of a remote file: `Some((bytes, total size))` for a 206 answer, `None` when
    /// the server does not do ranges (the body is then not read).
    async fn range(
        &self,
        url: &str,
        range: &str,
    ) -> anyhow::Result<Option<(Vec<u8>, Option<u64>)>> {
        let mut headers = self.auth_headers(url);
        if let Ok(v) = HeaderValue::from_str(range) {
            headers.insert(header::RANGE, v);
        }
        // Wheels are already compressed; asking for identity keeps ranges meaningful.
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let deadline = crate::http::Deadline::start(&crate::http::policy()?);
        let mut attempt = 1;
        loop {
            let make = || self.http.get(url).headers(headers.clone());
            let resp = crate::http::send_within(&make, url, &deadline).await?;
            if resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
                return Ok(None);
            }
            let total = crate::http::content_range_total(resp.headers());
            match deadline
                .run(url, crate::http::read_body(resp, RANGE_MAX_BYTES, url))
                .await?
            {
                Ok(body) => return Ok(Some((body, total))),
                Err(crate::http::ReadError::Broken(_)) if attempt < crate::http::ATTEMPTS => {
                    let wait = crate::http::backoff(attempt, None, &deadline);
                    deadline.run(url, tokio::time::sleep(wait)).await?;
                    attempt += 1;
                }
                Err(crate::http::ReadError::Broken(e) | crate::http::ReadError::TooLarge(e)) => {
                    return Err(e);
                }
            }
        }
    }

    /// Reads METADATA out of a remote wheel with two or three range requests. `Ok(None)`
    /// when the server does not do ranges or the zip needs the slow path.
    async fn metadata_by_range(&self, file: &DistFile) -> anyhow::Result<Option<Vec<u8>>> {
        const TAIL: u64 = 64 * 1024;
        let Some((tail, total)) = self.range(&file.url, &format!("bytes=-{TAIL}")).await? else {
            return Ok(None);
        };
        // Kept for the lock's size field, which the page usually gives already.
        if let (Some(t), Some(sha), None) = (total, &file.sha256, file.size) {
            self.http_cache.put_immutable(
                &format!("size:{}:{sha}", strip_userinfo(&file.url)),
                t.to_string().as_bytes(),
            );
        }
        let Some(total) = total else {
            return Ok(None);
        };
        let tail_start = total.saturating_sub(tail.len() as u64);
        let Some((cd_offset, cd_size)) = crate::zipfmt::central_directory(&tail, tail_start) else {
            return Ok(None);
        };
        if cd_size > RANGE_MAX_BYTES {
            return Ok(None);
        }
        let cd = if cd_offset >= tail_start {
            let s = (cd_offset - tail_start) as usize;
            match tail.get(s..s + cd_size as usize) {
                Some(c) => c.to_vec(),
                None => return Ok(None),
            }
        } else {
            match self
                .range(
                    &file.url,
                    &format!("bytes={cd_offset}-{}", cd_offset + cd_size.max(1) - 1),
                )
                .await?
            {
                Some((body, _)) => body,
                None => return Ok(None),
            }
        };
        let Some(loc) = metadata::locate_metadata(&cd) else {
            anyhow::bail!("malformed wheel {}: no .dist-info/METADATA", file.filename);
        };
        if loc.compressed_size > metadata::METADATA_MAX_BYTES {
            anyhow::bail!(
                "{}: its METADATA claims {} bytes compressed, more than {} MiB; refusing it",
                file.filename,
                loc.compressed_size,
                metadata::METADATA_MAX_BYTES >> 20
            );
        }
        let end = loc.local_header_offset + 30 + 1024 + loc.compressed_size;
        let Some((body, _)) = self
            .range(
                &file.url,
                &format!(
                    "bytes={}-{}",
                    loc.local_header_offset,
                    end.min(total).max(1) - 1
                ),
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(metadata::decode_local_entry(&body, &loc))
    }

    /// Puts a whole wheel into the wheel cache (or finds a local one), verifying its hash,
    /// without holding it in memory. Returns its path, sha256 and size.
    pub async fn whole_wheel(&self, file: &DistFile) -> anyhow::Result<(PathBuf, String, u64)> {
        if is_local(&file.url) {
            let path = local_path(&file.url);
            let p2 = path.clone();
            let sha = tokio::task::spawn_blocking(move || crate::fetch::sha256_file(&p2))
                .await
                .map_err(|e| anyhow::anyhow!("hashing task failed: {e}"))??;
            let size = std::fs::metadata(&path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
                .len();
            return Ok((path, sha, size));
        }
        if let Some(sha) = &file.sha256 {
            let path = self.cache.wheel_path(sha);
            if path.is_file() {
                let p2 = path.clone();
                let got = tokio::task::spawn_blocking(move || crate::fetch::sha256_file(&p2))
                    .await
                    .map_err(|e| anyhow::anyhow!("hashing task failed: {e}"))?;
                if got.as_ref().is_ok_and(|g| g == sha) {
                    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    return Ok((path, sha.clone(), size));
                }
            }
        }
        if self.offline {
            anyhow::bail!(
                "{} is not in the cache and --offline forbids the network",
                file.filename
            );
        }
        let expect = crate::fetch::Expected {
            sha256: file.sha256.clone(),
            size: file.size,
            what: file.filename.clone(),
        };
        crate::fetch::download_to_cache(
            &self.http,
            &self.credentials,
            &self.cache,
            &file.url,
            &expect,
            &|_| {},
        )
        .await
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
            let key = format!("size:{}:{sha}", strip_userinfo(&file.url));
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
        let (_, sha, size) = self.whole_wheel(file).await?;
        Ok((sha, size))
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
