//! The cache of built wheels: `source-builds-v1/ab/<source sha256>/<key>/` holding the wheel
//! and `record.json`, where `key` hashes the build requirement pins. A hit never runs the
//! backend. Entries are made in a temporary directory and renamed into place, so two builds
//! of the same sdist at once (two targets, two runs) both end with one complete entry.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::CacheDir;

/// What is kept beside a built wheel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub filename: String,
    pub sha256: String,
    /// Build requirements installed, `name==version`, sorted.
    pub backend: Vec<String>,
    /// The interpreter the backend ran on (`Python 3.12.1 (x86_64) /usr/bin/python3.12`).
    pub interpreter: String,
}

/// The directory of every build of one source.
fn source_dir(cache: &CacheDir, source_sha256: &str) -> PathBuf {
    let prefix = source_sha256.get(..2).unwrap_or("00");
    cache
        .root()
        .join("source-builds-v1")
        .join(prefix)
        .join(source_sha256)
}

/// The cache key of a build: its source and its build requirement pins.
pub fn key(pins: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"pylayer-source-build-v1\n");
    for p in pins {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())[..32].to_string()
}

fn read_entry(dir: &Path) -> Option<(PathBuf, Record)> {
    let text = std::fs::read_to_string(dir.join("record.json")).ok()?;
    let rec: Record = serde_json::from_str(&text).ok()?;
    if rec.filename.contains('/') || rec.filename.contains('\\') {
        return None;
    }
    let wheel = dir.join(&rec.filename);
    let sha = crate::fetch::sha256_file(&wheel).ok()?;
    (sha == rec.sha256).then_some((wheel, rec))
}

/// The wheel built from `source_sha256` with `key`'s build requirements, when cached intact.
pub fn lookup(cache: &CacheDir, source_sha256: &str, key: &str) -> Option<(PathBuf, Record)> {
    read_entry(&source_dir(cache, source_sha256).join(key))
}

/// Any wheel built from `source_sha256` (the newest): for building offline, when the build
/// requirements cannot be resolved without the network.
pub fn lookup_any(cache: &CacheDir, source_sha256: &str) -> Option<(PathBuf, Record)> {
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> =
        std::fs::read_dir(source_dir(cache, source_sha256))
            .ok()?
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
    dirs.sort();
    dirs.into_iter().rev().find_map(|(_, d)| read_entry(&d))
}

/// Moves `wheel` into the cache under (`source_sha256`, `key`) with its record, atomically.
/// When another build put the same entry there first, that one is kept and returned.
pub fn store(
    cache: &CacheDir,
    source_sha256: &str,
    key: &str,
    wheel: &Path,
    record: &Record,
) -> Result<(PathBuf, Record), String> {
    let parent = source_dir(cache, source_sha256);
    crate::fsutil::create_private_dir_all(&parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&parent)
        .map_err(|e| format!("cannot write to {}: {e}", parent.display()))?;
    let _registered = crate::cleanup::register(tmp.path());
    std::fs::copy(wheel, tmp.path().join(&record.filename))
        .map_err(|e| format!("cannot copy the built wheel into the cache: {e}"))?;
    let json = serde_json::to_vec_pretty(record).map_err(|e| e.to_string())?;
    std::fs::write(tmp.path().join("record.json"), json)
        .map_err(|e| format!("cannot write the build record: {e}"))?;
    let fin = parent.join(key);
    let tmp_path = tmp.keep();
    if std::fs::rename(&tmp_path, &fin).is_err() {
        // Another build of the same source finished first: use its entry.
        let _ = std::fs::remove_dir_all(&tmp_path);
    }
    read_entry(&fin).ok_or_else(|| {
        format!(
            "the cache entry {} is incomplete after writing it; remove it and build again",
            fin.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_then_lookup_and_second_store_keeps_first() {
        let d = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(d.path()));
        let w = d.path().join("a-1-py3-none-any.whl");
        std::fs::write(&w, b"wheel").unwrap();
        let rec = Record {
            filename: "a-1-py3-none-any.whl".into(),
            sha256: crate::fetch::sha256_file(&w).unwrap(),
            backend: vec!["setuptools==80.0".into()],
            interpreter: "Python 3.11".into(),
        };
        let k = key(&rec.backend);
        assert!(lookup(&cache, "ff00", &k).is_none());
        let (p, _) = store(&cache, "ff00", &k, &w, &rec).unwrap();
        assert!(p.is_file());
        assert_eq!(lookup(&cache, "ff00", &k).unwrap().1, rec);
        let (p2, _) = store(&cache, "ff00", &k, &w, &rec).unwrap();
        assert_eq!(p, p2);
        assert!(lookup_any(&cache, "ff00").is_some());
        assert_ne!(key(&["x==1".into()]), k);
    }
}
