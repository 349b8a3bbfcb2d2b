//! Where pylayer keeps what it downloads: `--cache-dir`, else `PYLAYER_CACHE_DIR`, else the
//! platform's cache directory (`~/.cache/pylayer` on Linux). Everything in it is created
//! private to the user (directories 0700, files 0600): index pages of a private index are
//! nobody else's business.

use std::path::{Path, PathBuf};

/// The root of pylayer's cache, shared safely by concurrent runs (every write is atomic).
#[derive(Debug, Clone)]
pub struct CacheDir {
    root: PathBuf,
}

impl CacheDir {
    pub fn resolve(flag: Option<&Path>) -> CacheDir {
        let root = flag
            .map(Path::to_path_buf)
            .or_else(|| {
                std::env::var_os("PYLAYER_CACHE_DIR")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| dirs::cache_dir().map(|d| d.join("pylayer")))
            .unwrap_or_else(|| PathBuf::from(".pylayer/cache"));
        CacheDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Content-addressed wheels: `wheels/sha256/ab/abcdef….whl`.
    pub fn wheel_path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.root
            .join("wheels")
            .join("sha256")
            .join(prefix)
            .join(format!("{sha256}.whl"))
    }

    /// Published layer versions downloaded by ARN (`check`, `inspect`, `test`, `layers
    /// audit`), keyed by the sha256 of their bytes (Lambda's CodeSha256 in hex):
    /// `layers-v1/ab/abcdef….zip`. A version's bytes never change, so a hit is final.
    pub fn layer_path(&self, sha256_hex: &str) -> PathBuf {
        let prefix = sha256_hex.get(..2).unwrap_or("00");
        self.root
            .join("layers-v1")
            .join(prefix)
            .join(format!("{sha256_hex}.zip"))
    }

    /// HTTP responses (index pages, metadata files), keyed by a hash of the URL, one flat
    /// directory of one file per response (see `index::http_cache`).
    pub fn http_dir(&self) -> PathBuf {
        self.root.join("http-v2")
    }

    /// Compiled bytecode of one wheel, as a zip of `.pyc` entries (see `bytecode::store`):
    /// `bytecode-v1/cpython-3.12.1-cb0d0d0a/python/ab/abcdef….zip`. Keyed by what the bytes
    /// depend on: the wheel, the interpreter (version and magic number) and the layout the
    /// paths (and so `co_filename`) are under.
    pub fn bytecode_path(&self, interpreter: &str, layout: &str, wheel_sha256: &str) -> PathBuf {
        let prefix = wheel_sha256.get(..2).unwrap_or("00");
        self.root
            .join("bytecode-v1")
            .join(interpreter)
            .join(layout)
            .join(prefix)
            .join(format!("{wheel_sha256}.zip"))
    }

    /// A shared object with its debug sections stripped (`slim::strip`), deflated in a
    /// one-entry zip (`slim::stored`), keyed by the sha256 of the original bytes:
    /// `stripped-v1/ab/abcdef….zip`. The layer writer copies it from here, so a build never
    /// holds every stripped library in memory and a warm one never recompresses it.
    pub fn stripped_path(&self, original_sha256: &str) -> PathBuf {
        let prefix = original_sha256.get(..2).unwrap_or("00");
        self.root
            .join("stripped-v1")
            .join(prefix)
            .join(format!("{original_sha256}.zip"))
    }
}
