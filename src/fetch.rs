//! Fetch: makes sure every locked wheel is in the content-addressed cache, downloading the
//! missing ones in parallel over one connection pool and checking every byte against the
//! sha256 in the lock.
//!
//! The cache is keyed by the wheel's sha256 (`CacheDir::wheel_path`), so an entry is either
//! absent or exactly the bytes the lock names: downloads are streamed into a temporary file in
//! the entry's own directory, hashed while written, and renamed into place only when the hash
//! matches. Two builds sharing a cache can therefore run at the same time, and an interrupted
//! build leaves at most an unnamed temporary file (never a wrong entry). Cached entries are
//! hashed again on every use, because disks and people corrupt files and a wrong wheel in a
//! layer is much more expensive than hashing a few hundred megabytes.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::cache::CacheDir;
use crate::http::{ATTEMPTS, redact};
use crate::index::netrc::Credentials;
use crate::lock::LockedPackage;

/// Prefix of the temporary files downloads are streamed into; anything with this prefix in
/// the cache is an unfinished download (ours, or a concurrent run's, or a killed run's).
const PARTIAL_PREFIX: &str = ".partial-";

/// Temporary files older than this are left over from killed runs and are removed.
const STALE_PARTIAL_AGE: Duration = Duration::from_secs(24 * 3600);

/// How the fetch stage runs.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Never touch the network: every wheel must already be in the cache.
    pub offline: bool,
    /// Wheels downloaded (or verified) at the same time.
    pub concurrency: usize,
    /// Index URLs whose embedded credentials apply to wheels on the same host.
    pub credential_urls: Vec<String>,
    /// What relative paths in the lock (wheels of `--find-links` directories) are relative
    /// to; the working directory when unset.
    pub project_root: Option<PathBuf>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            offline: false,
            concurrency: 8,
            credential_urls: Vec::new(),
            project_root: None,
        }
    }
}

/// What happens to each wheel, for progress bars and logs. Events come from the task that
/// awaits `fetch_wheels`, so the callback needs no synchronisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchEvent {
    /// The wheel was in the cache and its hash checked out.
    Cached { name: String },
    /// A cached entry had the wrong size or hash; it was deleted and is fetched again.
    Corrupt { name: String, path: PathBuf },
    /// `bytes` more bytes of the wheel arrived.
    Progress { name: String, bytes: u64 },
    /// The wheel is now in the cache, `bytes` long, hash verified.
    Downloaded { name: String, bytes: u64 },
}

/// Makes sure every locked wheel is in the cache; returns the cached path of each, in the
/// same order as `packages`.
///
/// Fails (after letting the other downloads finish, so they are cached for the next run)
/// with every wheel that could not be fetched or whose bytes do not match the lock.
pub async fn fetch_wheels(
    client: &reqwest::Client,
    cache: &CacheDir,
    packages: &[LockedPackage],
    opts: &FetchOptions,
    progress: &dyn Fn(FetchEvent),
) -> anyhow::Result<Vec<PathBuf>> {
    for p in packages {
        check_sha256_field(p)?;
    }
    let concurrency = opts.concurrency.max(1);

    // The same wheel may be listed more than once (a pure wheel pinned for several targets):
    // handle each sha256 once, through the first package that names it.
    let mut first_with: HashMap<String, usize> = HashMap::new();
    let representative: Vec<usize> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| *first_with.entry(p.sha256.to_ascii_lowercase()).or_insert(i))
        .collect();
    let unique: Vec<usize> = (0..packages.len())
        .filter(|&i| representative[i] == i)
        .collect();

    // Pass 1: which wheels are already cached (hashing them in parallel on blocking threads).
    let checks = futures::stream::iter(unique.iter().map(|&i| async move {
        let p = &packages[i];
        let path = cache.wheel_path(&p.sha256.to_ascii_lowercase());
        (i, path.clone(), check_cached(path, p).await)
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;

    let mut paths: Vec<Option<PathBuf>> = vec![None; packages.len()];
    let mut missing: Vec<usize> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for (i, path, state) in checks {
        let name = packages[i].name.clone();
        match state {
            Ok(CacheState::Valid) => {
                progress(FetchEvent::Cached { name });
                paths[i] = Some(path);
            }
            Ok(CacheState::Missing) => missing.push(i),
            Ok(CacheState::Corrupt) => {
                progress(FetchEvent::Corrupt { name, path });
                missing.push(i);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    missing.sort_unstable();

    if opts.offline && !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|&i| format!("  {} is not in the cache", packages[i].filename))
            .collect();
        errors.push(format!(
            "{} wheel(s) needed offline are missing from the cache at {}; run once without --offline:\n{}",
            missing.len(),
            cache.root().display(),
            list.join("\n")
        ));
        missing.clear();
    }

    if !missing.is_empty() {
        let mut dirs: Vec<PathBuf> = missing
            .iter()
            .filter_map(|&i| {
                cache
                    .wheel_path(&packages[i].sha256.to_ascii_lowercase())
                    .parent()
                    .map(Path::to_path_buf)
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        for d in &dirs {
            remove_stale_partials(d);
        }
    }

    // Pass 2: download (or copy, for local wheels) what is missing.
    let _task = (!missing.is_empty()).then(|| {
        crate::progress::begin(crate::progress::Task::Download {
            files: missing.len(),
            bytes: missing.iter().map(|&i| packages[i].size).sum(),
        })
    });
    let progress = &|e: FetchEvent| {
        match &e {
            FetchEvent::Progress { name, bytes } => {
                crate::progress::event(crate::progress::Event::Bytes {
                    name: name.clone(),
                    bytes: *bytes,
                })
            }
            FetchEvent::Downloaded { name, .. } => {
                crate::progress::event(crate::progress::Event::Downloaded(name.clone()))
            }
            _ => {}
        }
        progress(e)
    };
    let creds = if missing.is_empty() {
        Credentials::default()
    } else {
        Credentials::load(&opts.credential_urls)
    };
    let creds = &creds;
    let results = futures::stream::iter(missing.iter().map(|&i| async move {
        let p = &packages[i];
        let dest = cache.wheel_path(&p.sha256.to_ascii_lowercase());
        (
            i,
            fetch_one(
                client,
                creds,
                cache,
                p,
                &dest,
                opts.project_root.as_deref(),
                progress,
            )
            .await
            .map(|_| dest),
        )
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    for (i, r) in results {
        match r {
            Ok(path) => paths[i] = Some(path),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }

    // The lock was resolved from metadata that may have come from a PEP 658 file or a range
    // read: the wheel's own METADATA must agree with it.
    for (i, p) in packages.iter().enumerate() {
        if representative[i] != i {
            continue;
        }
        if let Some(path) = &paths[i]
            && let Err(e) = verify_metadata(cache, p, path)
        {
            paths[i] = None;
            errors.push(e);
        }
    }

    if !errors.is_empty() {
        errors.sort();
        if errors.len() == 1 {
            anyhow::bail!("{}", errors.remove(0));
        }
        anyhow::bail!(
            "{} wheels could not be fetched:\n{}",
            errors.len(),
            errors
                .iter()
                .map(|e| format!("- {}", e.replace('\n', "\n  ")))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    (0..packages.len())
        .map(|i| {
            paths[representative[i]]
                .clone()
                .ok_or_else(|| anyhow::anyhow!("internal: {} was not fetched", packages[i].name))
        })
        .collect()
}

/// Checks that a wheel's own METADATA is the one its pin was resolved from: the same bytes,
/// or (when the lock-time copy is in the cache) the same dependencies and Requires-Python.
fn verify_metadata(cache: &CacheDir, p: &LockedPackage, wheel: &Path) -> Result<(), String> {
    use crate::index::metadata;
    let Some(expected) = &p.metadata_sha256 else {
        return Ok(());
    };
    let own = metadata::from_wheel_file(wheel, &p.filename).map_err(|e| format!("{e:#}"))?;
    let got = hex::encode(Sha256::digest(&own));
    if got.eq_ignore_ascii_case(expected) {
        return Ok(());
    }
    let index = url::Url::parse(&p.url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|| redact(&p.url));
    let what = format!(
        "{} {} ({}): the wheel's own METADATA does not match the metadata served by {index} that the lock was resolved from",
        p.name, p.version, p.filename
    );
    let fix = format!(
        "the index serves metadata that disagrees with its wheels — do not trust it; once it is fixed, \
         run `pylayer lock --upgrade-package {}`",
        p.name
    );
    let kept = crate::index::metadata_store::path(cache, &p.url, &p.sha256);
    let locked = crate::index::metadata_store::load(&kept)
        .filter(|(_, sha)| sha.eq_ignore_ascii_case(expected))
        .map(|(bytes, _)| bytes);
    let Some(locked) = locked else {
        return Err(format!(
            "{what} (sha256 {got}, the lock records {expected}); {fix}"
        ));
    };
    let summary = |bytes: &[u8]| {
        metadata::parse(bytes, &p.filename).map(|m| {
            let mut deps: Vec<String> = m.requires_dist.iter().map(ToString::to_string).collect();
            deps.sort();
            (deps, m.requires_python.map(|r| r.to_string()))
        })
    };
    let (own, locked) = match (summary(&own), summary(&locked)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Err(format!("{what}: {e:#}; {fix}")),
    };
    if own == locked {
        return Ok(());
    }
    let mut diff = Vec::new();
    if own.0 != locked.0 {
        diff.push(format!(
            "  dependencies: the lock used [{}], the wheel declares [{}]",
            locked.0.join(", "),
            own.0.join(", ")
        ));
    }
    if own.1 != locked.1 {
        diff.push(format!(
            "  Requires-Python: the lock used {:?}, the wheel declares {:?}",
            locked.1.unwrap_or_default(),
            own.1.unwrap_or_default()
        ));
    }
    Err(crate::text::shown(&format!(
        "{what}:\n{}\n  {fix}",
        diff.join("\n")
    )))
}

/// Refuses a lock entry whose sha256 is not 64 hex digits: it names a cache file, so
/// anything else could point outside the cache.
fn check_sha256_field(p: &LockedPackage) -> anyhow::Result<()> {
    if p.sha256.len() != 64 || !p.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!(
            "{} {} ({}): the lock's sha256 `{}` is not a 64-digit hex digest; run `pylayer lock` again",
            p.name,
            p.version,
            p.filename,
            p.sha256
        );
    }
    Ok(())
}

/// What the cache holds for one wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheState {
    Valid,
    Missing,
    /// Wrong size or hash; the entry has been deleted.
    Corrupt,
}

/// Checks a cache entry: present, the locked size (when known) and the locked sha256.
/// A corrupt entry is deleted so it is downloaded again.
async fn check_cached(path: PathBuf, p: &LockedPackage) -> anyhow::Result<CacheState> {
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CacheState::Missing),
        Err(e) => anyhow::bail!("cannot read cache entry {}: {e}", path.display()),
    };
    let size_ok = meta.is_file() && (p.size == 0 || meta.len() == p.size);
    let hash_ok = size_ok && {
        let path = path.clone();
        let digest = tokio::task::spawn_blocking(move || sha256_file(&path))
            .await
            .context("hashing task failed")??;
        digest.eq_ignore_ascii_case(&p.sha256)
    };
    if hash_ok {
        return Ok(CacheState::Valid);
    }
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(CacheState::Corrupt),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CacheState::Corrupt),
        Err(e) => anyhow::bail!(
            "cache entry {} for {} is corrupt and cannot be removed: {e}",
            path.display(),
            p.filename
        ),
    }
}

/// Hex sha256 of a file, read in large blocks.
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Where a wheel comes from: the network, or a file on this machine.
enum Source {
    Remote(String),
    Local(PathBuf),
}

/// Classifies a lock URL: `file://` URLs and paths are local files, relative ones relative
/// to the project root.
fn source_of(url: &str, root: Option<&Path>) -> anyhow::Result<Source> {
    if url.starts_with("file:") {
        let parsed = url::Url::parse(url).with_context(|| format!("invalid file URL `{url}`"))?;
        let path = parsed
            .to_file_path()
            .map_err(|_| anyhow::anyhow!("file URL `{url}` does not name a local path"))?;
        return Ok(Source::Local(path));
    }
    let p = Path::new(url);
    if p.is_absolute() {
        return Ok(Source::Local(p.to_path_buf()));
    }
    if !url.contains("://") {
        return Ok(Source::Local(root.unwrap_or(Path::new(".")).join(p)));
    }
    Ok(Source::Remote(url.to_string()))
}

/// Puts one wheel into the cache at `dest`, verifying its hash.
async fn fetch_one(
    client: &reqwest::Client,
    creds: &Credentials,
    cache: &CacheDir,
    p: &LockedPackage,
    dest: &Path,
    root: Option<&Path>,
    progress: &dyn Fn(FetchEvent),
) -> anyhow::Result<()> {
    let dir = dest
        .parent()
        .ok_or_else(|| anyhow::anyhow!("cache path {} has no directory", dest.display()))?;
    crate::fsutil::create_private_dir_all(dir)
        .with_context(|| format!("cannot create cache directory {}", dir.display()))?;
    match source_of(&p.url, root)? {
        Source::Local(src) => {
            let p2 = p.clone();
            let dest2 = dest.to_path_buf();
            let bytes = tokio::task::spawn_blocking(move || copy_local(&p2, &src, &dest2))
                .await
                .context("copy task failed")??;
            progress(FetchEvent::Downloaded {
                name: p.name.clone(),
                bytes,
            });
            Ok(())
        }
        Source::Remote(url) => {
            let expect = Expected {
                sha256: Some(p.sha256.to_ascii_lowercase()),
                size: (p.size != 0).then_some(p.size),
                what: format!("{} {} ({})", p.name, p.version, p.filename),
            };
            let name = p.name.clone();
            let on_bytes = |bytes| {
                progress(FetchEvent::Progress {
                    name: name.clone(),
                    bytes,
                })
            };
            let (_, _, bytes) = download_to_cache(client, creds, cache, &url, &expect, &on_bytes)
                .await
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
            progress(FetchEvent::Downloaded {
                name: p.name.clone(),
                bytes,
            });
            Ok(())
        }
    }
}

/// What a download must turn out to be.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The sha256 the lock or the index gives, when known.
    pub sha256: Option<String>,
    /// The size in bytes, when known.
    pub size: Option<u64>,
    /// The file in words, for messages (`name version (filename)`).
    pub what: String,
}

/// A download on its way into the cache: a temporary file the cache ignores, removed when
/// dropped unless persisted, and registered with [`crate::cleanup`] so that Ctrl-C or
/// SIGTERM mid-download removes it too (the process exits without running destructors).
struct Partial {
    tmp: tempfile::NamedTempFile,
    _registered: crate::cleanup::Registered,
}

/// A [`Partial`] in `dir`.
fn partial_file(dir: &Path) -> std::io::Result<Partial> {
    crate::fsutil::create_private_dir_all(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let registered = crate::cleanup::register(tmp.path());
    Ok(Partial {
        tmp,
        _registered: registered,
    })
}

/// Streams the wheel at `url` into the content-addressed cache, hashing as it goes, and
/// renames it into place when its sha256 (and size) match what is expected. The request
/// follows the one retry policy (`crate::http`): a body that breaks off is fetched again,
/// all within one deadline. Never holds the wheel in memory. Returns the cache path, the
/// sha256 and the size.
pub async fn download_to_cache<F: Fn(u64)>(
    client: &reqwest::Client,
    creds: &Credentials,
    cache: &CacheDir,
    url: &str,
    expect: &Expected,
    on_bytes: &F,
) -> anyhow::Result<(PathBuf, String, u64)> {
    let what = format!("{} from {}", expect.what, redact(url));
    let auth = creds.authorization(url);
    let make = || match &auth {
        Some(v) => client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, v.clone()),
        None => client.get(url),
    };
    let deadline = crate::http::Deadline::start(&crate::http::policy()?);
    // Where the bytes go before their hash is known: beside the entry when it is known.
    let dir = match &expect.sha256 {
        Some(sha) => cache.wheel_path(sha).parent().map(Path::to_path_buf),
        None => cache
            .wheel_path(&"0".repeat(64))
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf),
    }
    .ok_or_else(|| anyhow::anyhow!("cache directory {} has no parent", cache.root().display()))?;
    let mut attempt = 1;
    loop {
        let resp = crate::http::send_within(&make, url, &deadline)
            .await
            .map_err(|e| anyhow::anyhow!("cannot download {what}: {e:#}"))?;
        let status = resp.status();
        if !status.is_success() {
            anyhow::bail!(
                "cannot download {what}: HTTP {status}{}",
                crate::http::unfollowed_redirect(status, resp.headers())
            );
        }
        let tmp = partial_file(&dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        match deadline
            .run(url, stream_into(resp, tmp, expect, &what, on_bytes))
            .await?
        {
            Ok((tmp, sha, size)) => {
                let dest = cache.wheel_path(&sha);
                finish_entry(expect, tmp, &sha, size, &dest, &what)
                    .map_err(|e| anyhow::anyhow!(e))?;
                return Ok((dest, sha, size));
            }
            Err(StreamError::Fatal(msg)) => anyhow::bail!("{msg}"),
            Err(StreamError::Broken(_)) if attempt < ATTEMPTS => {
                let wait = crate::http::backoff(attempt, None, &deadline);
                deadline.run(url, tokio::time::sleep(wait)).await?;
                attempt += 1;
            }
            Err(StreamError::Broken(msg)) => anyhow::bail!("{msg} (after {ATTEMPTS} attempts)"),
        }
    }
}

/// Why streaming a body failed: the connection broke (worth another attempt) or not.
enum StreamError {
    Broken(String),
    Fatal(String),
}

/// Copies a response body into `tmp`, hashing it; refuses more bytes than expected.
async fn stream_into<F: Fn(u64)>(
    resp: reqwest::Response,
    mut partial: Partial,
    expect: &Expected,
    what: &str,
    on_bytes: &F,
) -> Result<(Partial, String, u64), StreamError> {
    let tmp = &mut partial.tmp;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            StreamError::Broken(format!(
                "download of {what} broke off after {received} bytes: {}",
                crate::http::describe(&e)
            ))
        })?;
        received += chunk.len() as u64;
        if let Some(size) = expect.size
            && received > size
        {
            return Err(StreamError::Fatal(format!(
                "{what} is larger than the {size} bytes expected; the index serves different bytes \
                 than when the lock was written (run `pylayer lock` again if that is expected)"
            )));
        }
        hasher.update(&chunk);
        tmp.write_all(&chunk).map_err(|e| {
            StreamError::Fatal(format!(
                "cannot write {} (disk full?): {e}",
                tmp.path().display()
            ))
        })?;
        on_bytes(chunk.len() as u64);
    }
    Ok((partial, hex::encode(hasher.finalize()), received))
}

/// Copies a local wheel into the cache, hashing it on the way.
fn copy_local(p: &LockedPackage, src: &Path, dest: &Path) -> anyhow::Result<u64> {
    let what = format!(
        "{} {} ({}) at {}",
        p.name,
        p.version,
        p.filename,
        src.display()
    );
    let mut input = std::fs::File::open(src).with_context(|| format!("cannot open {what}"))?;
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut partial = partial_file(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let tmp = &mut partial.tmp;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total: u64 = 0;
    loop {
        let n = input
            .read(&mut buf)
            .with_context(|| format!("cannot read {what}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .with_context(|| format!("cannot write {}", tmp.path().display()))?;
        total += n as u64;
    }
    let actual = hex::encode(hasher.finalize());
    let expect = Expected {
        sha256: Some(p.sha256.to_ascii_lowercase()),
        size: (p.size != 0).then_some(p.size),
        what: what.clone(),
    };
    finish_entry(&expect, partial, &actual, total, dest, &what).map_err(|e| anyhow::anyhow!(e))?;
    Ok(total)
}

/// Checks a finished temporary file against what was expected and renames it into the
/// cache; on a mismatch the temporary file is dropped (deleted) and the error names both
/// hashes.
fn finish_entry(
    expect: &Expected,
    partial: Partial,
    actual: &str,
    size: u64,
    dest: &Path,
    what: &str,
) -> Result<(), String> {
    if let Some(sha) = &expect.sha256
        && !actual.eq_ignore_ascii_case(sha)
    {
        drop(partial);
        return Err(format!(
            "sha256 mismatch for {what}:\n  expected {}\n  actual   {actual} ({size} bytes)\n  the file was not cached; \
             the index or a proxy is serving different bytes; if the index really changed this file, run `pylayer lock` again",
            sha.to_ascii_lowercase()
        ));
    }
    if let Some(expected) = expect.size
        && size != expected
    {
        drop(partial);
        return Err(format!(
            "size mismatch for {what}: {expected} bytes expected, got {size}"
        ));
    }
    let Partial {
        mut tmp,
        _registered,
    } = partial;
    tmp.flush()
        .map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    if let Some(dir) = dest.parent() {
        crate::fsutil::create_private_dir_all(dir)
            .map_err(|e| format!("cannot create cache directory {}: {e}", dir.display()))?;
    }
    tmp.persist(dest).map_err(|e| {
        format!(
            "cannot move a download into {}: {}",
            dest.display(),
            e.error
        )
    })?;
    Ok(())
}

/// Best-effort removal of temporary files that killed runs left behind. Young ones are kept:
/// they may belong to a build running right now.
fn remove_stale_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(PARTIAL_PREFIX) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_PARTIAL_AGE);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A minimal HTTP/1.1 server on 127.0.0.1 serving fixed bodies by path, counting requests.
    struct TestServer {
        base: String,
        hits: Arc<AtomicUsize>,
        bodies: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    }

    impl TestServer {
        fn start() -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let hits = Arc::new(AtomicUsize::new(0));
            let bodies: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
            let (h, b) = (hits.clone(), bodies.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let h = h.clone();
                    let b = b.clone();
                    std::thread::spawn(move || {
                        let mut reader = BufReader::new(stream.try_clone().unwrap());
                        let mut request_line = String::new();
                        if reader.read_line(&mut request_line).is_err() {
                            return;
                        }
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                                break;
                            }
                        }
                        h.fetch_add(1, Ordering::SeqCst);
                        let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
                        let body = b.lock().unwrap().get(&path).cloned();
                        let resp = match body {
                            Some(body) => {
                                let mut r = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                    body.len()
                                )
                                .into_bytes();
                                r.extend_from_slice(&body);
                                r
                            }
                            None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                        };
                        let _ = stream.write_all(&resp);
                    });
                }
            });
            TestServer { base, hits, bodies }
        }

        fn serve(&self, path: &str, body: &[u8]) -> String {
            self.bodies
                .lock()
                .unwrap()
                .insert(path.to_string(), body.to_vec());
            format!("{}{path}", self.base)
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    fn pkg(name: &str, body: &[u8], url: String) -> LockedPackage {
        LockedPackage {
            name: name.to_string(),
            version: "1.0".to_string(),
            filename: format!("{name}-1.0-py3-none-any.whl"),
            url,
            sha256: hex::encode(Sha256::digest(body)),
            size: body.len() as u64,
            dependencies: vec![],
            metadata_sha256: None,
            source_hash: None,
            built_from_source: false,
        }
    }

    fn events() -> RefCell<Vec<FetchEvent>> {
        RefCell::new(Vec::new())
    }

    #[tokio::test]
    async fn miss_then_hit() {
        let server = TestServer::start();
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let a = pkg(
            "alpha",
            b"alpha wheel bytes",
            server.serve("/a.whl", b"alpha wheel bytes"),
        );
        let b = pkg("beta", b"beta bytes", server.serve("/b.whl", b"beta bytes"));
        let packages = vec![a.clone(), b.clone()];
        let ev = events();
        let paths = fetch_wheels(
            &client(),
            &cache,
            &packages,
            &FetchOptions::default(),
            &|e| ev.borrow_mut().push(e),
        )
        .await
        .unwrap();
        assert_eq!(paths[0], cache.wheel_path(&a.sha256));
        assert_eq!(paths[1], cache.wheel_path(&b.sha256));
        assert_eq!(std::fs::read(&paths[0]).unwrap(), b"alpha wheel bytes");
        assert_eq!(server.hits(), 2);
        assert!(ev.borrow().contains(&FetchEvent::Downloaded {
            name: "beta".into(),
            bytes: 10
        }));

        ev.borrow_mut().clear();
        let again = fetch_wheels(
            &client(),
            &cache,
            &packages,
            &FetchOptions {
                offline: true,
                concurrency: 2,
                ..FetchOptions::default()
            },
            &|e| ev.borrow_mut().push(e),
        )
        .await
        .unwrap();
        assert_eq!(again, paths);
        assert_eq!(server.hits(), 2, "a cache hit must not touch the network");
        let evs = ev.borrow();
        assert_eq!(evs.len(), 2);
        assert!(evs.iter().all(|e| matches!(e, FetchEvent::Cached { .. })));
        // No temporary files left beside the entries.
        let parent = paths[0].parent().unwrap();
        for e in std::fs::read_dir(parent).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().to_string();
            assert!(n.ends_with(".whl"), "stray file {n}");
        }
    }

    #[tokio::test]
    async fn same_wheel_listed_twice_is_fetched_once() {
        let server = TestServer::start();
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let a = pkg(
            "alpha",
            b"pure wheel",
            server.serve("/a.whl", b"pure wheel"),
        );
        let paths = fetch_wheels(
            &client(),
            &cache,
            &[a.clone(), a.clone()],
            &FetchOptions::default(),
            &|_| {},
        )
        .await
        .unwrap();
        assert_eq!(paths.len(), 2);
        assert_eq!(paths[0], paths[1]);
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn corrupted_entry_is_replaced() {
        let server = TestServer::start();
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let body = b"the real wheel";
        let a = pkg("alpha", body, server.serve("/a.whl", body));
        let dest = cache.wheel_path(&a.sha256);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        // Same size, different bytes: only the hash can tell.
        std::fs::write(&dest, b"the fake wheel").unwrap();
        let ev = events();
        let paths = fetch_wheels(
            &client(),
            &cache,
            std::slice::from_ref(&a),
            &FetchOptions::default(),
            &|e| ev.borrow_mut().push(e),
        )
        .await
        .unwrap();
        assert_eq!(std::fs::read(&paths[0]).unwrap(), body);
        assert_eq!(server.hits(), 1);
        assert!(
            ev.borrow()
                .iter()
                .any(|e| matches!(e, FetchEvent::Corrupt { name, .. } if name == "alpha"))
        );
    }

    #[tokio::test]
    async fn hash_mismatch_leaves_no_entry() {
        let server = TestServer::start();
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let mut a = pkg(
            "alpha",
            b"expected bytes",
            server.serve("/simple/a.whl", b"tampered bytes"),
        );
        a.url = a.url.replace("http://", "http://user:s3cret@");
        let err = fetch_wheels(
            &client(),
            &cache,
            std::slice::from_ref(&a),
            &FetchOptions::default(),
            &|_| {},
        )
        .await
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("sha256 mismatch"), "{msg}");
        assert!(msg.contains("alpha-1.0-py3-none-any.whl"), "{msg}");
        assert!(msg.contains(&a.sha256), "{msg}");
        assert!(
            msg.contains(&hex::encode(Sha256::digest(b"tampered bytes"))),
            "{msg}"
        );
        assert!(!msg.contains("s3cret"), "password leaked: {msg}");
        let dest = cache.wheel_path(&a.sha256);
        assert!(!dest.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[tokio::test]
    async fn http_error_names_package() {
        let server = TestServer::start();
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let a = pkg("alpha", b"x", format!("{}/missing.whl", server.base));
        let err = fetch_wheels(
            &client(),
            &cache,
            std::slice::from_ref(&a),
            &FetchOptions::default(),
            &|_| {},
        )
        .await
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("404") && msg.contains("alpha"), "{msg}");
    }

    #[tokio::test]
    async fn offline_lists_every_missing_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let a = pkg("alpha", b"a", "https://example.invalid/a.whl".into());
        let b = pkg("beta", b"b", "https://example.invalid/b.whl".into());
        let err = fetch_wheels(
            &client(),
            &cache,
            &[a, b],
            &FetchOptions {
                offline: true,
                concurrency: 8,
                ..FetchOptions::default()
            },
            &|_| {},
        )
        .await
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("alpha-1.0-py3-none-any.whl is not in the cache"),
            "{msg}"
        );
        assert!(
            msg.contains("beta-1.0-py3-none-any.whl is not in the cache"),
            "{msg}"
        );
        assert!(msg.contains("without --offline"), "{msg}");
    }

    #[tokio::test]
    async fn local_wheels_by_file_url_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let fa = src.join("alpha-1.0-py3-none-any.whl");
        let fb = src.join("beta-1.0-py3-none-any.whl");
        std::fs::write(&fa, b"local alpha").unwrap();
        std::fs::write(&fb, b"local beta").unwrap();
        let cache = CacheDir::resolve(Some(&dir.path().join("cache")));
        let a = pkg(
            "alpha",
            b"local alpha",
            url::Url::from_file_path(&fa).unwrap().to_string(),
        );
        let b = pkg("beta", b"local beta", fb.display().to_string());
        let paths = fetch_wheels(
            &client(),
            &cache,
            &[a, b],
            &FetchOptions::default(),
            &|_| {},
        )
        .await
        .unwrap();
        assert_eq!(std::fs::read(&paths[0]).unwrap(), b"local alpha");
        assert_eq!(std::fs::read(&paths[1]).unwrap(), b"local beta");

        // A local file that does not match the lock is refused.
        let c = pkg("gamma", b"expected", fb.display().to_string());
        let err = fetch_wheels(&client(), &cache, &[c], &FetchOptions::default(), &|_| {})
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("sha256 mismatch"));
    }

    #[tokio::test]
    async fn rejects_malformed_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let mut a = pkg("alpha", b"a", "https://example.invalid/a.whl".into());
        a.sha256 = "../../etc/passwd".into();
        let err = fetch_wheels(&client(), &cache, &[a], &FetchOptions::default(), &|_| {})
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("not a 64-digit hex digest"));
    }

    #[test]
    fn stale_partials_are_removed_young_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let young = dir.path().join(format!("{PARTIAL_PREFIX}young.tmp"));
        let old = dir.path().join(format!("{PARTIAL_PREFIX}old.tmp"));
        std::fs::write(&young, b"x").unwrap();
        std::fs::write(&old, b"x").unwrap();
        let f = std::fs::File::options().write(true).open(&old).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3 * 24 * 3600))
            .unwrap();
        drop(f);
        remove_stale_partials(dir.path());
        assert!(young.exists());
        assert!(!old.exists());
    }
}
