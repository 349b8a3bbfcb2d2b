//! Remembers what a layer imports at start-up, so `--compile-bytecode=imported` imports the
//! layer once per (layer contents, interpreter, handler code) instead of on every build.
//!
//! Finding the start-up imports means writing the whole planned layer to a temporary
//! directory and importing it in a fresh interpreter: 15–25 s for pandas + numpy on a busy
//! machine, against about one second for the rest of a warm build. What it finds depends only
//! on the files of the layer, the interpreter and the function's code directory, so the
//! answer is kept in the cache under a hash of exactly those. An answer in which an import
//! timed out is not kept: a timeout on a loaded machine must not become the answer for good.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::imported::{Imported, Startup};
use crate::cache::CacheDir;
use crate::interpreter::Interpreter;
use crate::plan::{Plan, Source};

/// Directories of a function's code directory that never hold what its handler imports.
const SKIPPED_CODE_DIRS: &[&str] = &[
    "__pycache__",
    ".git",
    ".hg",
    ".pylayer",
    ".venv",
    "node_modules",
];

/// The cached answer: [`Imported`] without the timeout flag (never set in a kept answer).
#[derive(Serialize, Deserialize)]
struct Stored {
    modules: Vec<String>,
    loaded: BTreeSet<String>,
    failures: Vec<String>,
}

/// The cache key of one start-up search: a hash of every file of the planned layer (path,
/// mode and content identity), the interpreter and the handler's code.
pub fn key(plan: &Plan, interp: &Interpreter, startup: &Startup) -> Result<String> {
    let mut h = Sha256::new();
    field(&mut h, b"pylayer-startup-imports-v1");
    field(&mut h, interp.full_version().as_bytes());
    field(&mut h, interp.magic.as_bytes());
    field(&mut h, interp.machine.as_bytes());
    field(&mut h, interp.python.to_string_lossy().as_bytes());
    for (path, entry) in plan.entries() {
        field(&mut h, path.as_bytes());
        field(&mut h, &entry.mode.unix_mode().to_le_bytes());
        match &entry.source {
            Source::Wheel(w) | Source::Archive { entry: w, .. } => {
                field(&mut h, w.record_hash.as_deref().unwrap_or("").as_bytes());
                field(&mut h, &w.size.to_le_bytes());
                field(&mut h, &w.crc32.to_le_bytes());
            }
            Source::Bytes(b) => field(&mut h, &Sha256::digest(b)),
            Source::File(f) => {
                let bytes =
                    std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
                field(&mut h, &Sha256::digest(&bytes));
            }
        }
    }
    match &startup.entry {
        None => field(&mut h, b"every public top-level module"),
        Some((dir, module)) => {
            field(&mut h, module.as_bytes());
            hash_code_dir(&mut h, dir)?;
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// The answer kept for `key`, if any (an unreadable or foreign file counts as none).
pub fn load(cache: &CacheDir, key: &str) -> Option<Imported> {
    let bytes = std::fs::read(path(cache, key)).ok()?;
    let stored: Stored = serde_json::from_slice(&bytes).ok()?;
    Some(Imported {
        modules: stored.modules,
        loaded: stored.loaded,
        failures: stored.failures,
        timed_out: false,
    })
}

/// Keeps `found` for `key` unless an import timed out. Returns whether it was kept.
pub fn store(cache: &CacheDir, key: &str, found: &Imported) -> Result<bool> {
    if found.timed_out {
        return Ok(false);
    }
    let stored = Stored {
        modules: found.modules.clone(),
        loaded: found.loaded.clone(),
        failures: found.failures.clone(),
    };
    let bytes = serde_json::to_vec(&stored).context("cannot encode the start-up imports")?;
    crate::fsutil::write_cache_entry(&path(cache, key), &bytes)?;
    Ok(true)
}

fn path(cache: &CacheDir, key: &str) -> PathBuf {
    cache
        .root()
        .join("startup-imports-v1")
        .join(key.get(..2).unwrap_or("00"))
        .join(format!("{key}.json"))
}

/// Length-prefixed, so that no two different field lists hash alike.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Every file under the code directory (relative path and content), in sorted order.
fn hash_code_dir(h: &mut Sha256, dir: &Path) -> Result<()> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    for (rel, path) in files {
        field(h, rel.as_bytes());
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        field(h, &Sha256::digest(&bytes));
    }
    Ok(())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = e.path();
        let kind = e
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if kind.is_dir() {
            if !SKIPPED_CODE_DIRS.contains(&name.as_str()) {
                collect(root, &path, out)?;
            }
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, path));
        }
    }
    Ok(())
}
