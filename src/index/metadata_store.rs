//! METADATA files kept for good, one file per wheel: `metadata-v3/<key>`, where the key
//! hashes the wheel's URL (without user-info) and sha256. The file holds the METADATA's own
//! sha256 on its first line, then the METADATA; a read checks one against the other, so a
//! damaged or edited entry is dropped and fetched again.
//!
//! One file, not a METADATA file named by its hash plus a pointer to it from the wheel:
//! on a cold resolution creating files is most of the system time (docs/benchmarks.md,
//! "Fewer cache files"), and a wheel's metadata is always looked up from the wheel.

use std::path::{Path, PathBuf};

use crate::cache::CacheDir;
use crate::http::strip_userinfo;

/// Where the METADATA of the wheel at `url` with sha256 `wheel_sha256` is kept.
pub fn path(cache: &CacheDir, url: &str, wheel_sha256: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(strip_userinfo(url).as_bytes());
    h.update(b"\n");
    h.update(wheel_sha256.to_ascii_lowercase().as_bytes());
    cache
        .root()
        .join("metadata-v3")
        .join(hex::encode(&h.finalize()[..16]))
}

/// The kept METADATA and its sha256, when present and intact (a damaged entry is removed).
pub fn load(path: &Path) -> Option<(Vec<u8>, String)> {
    let max = super::metadata::METADATA_MAX_BYTES + 65;
    let mut bytes = crate::fsutil::read_capped(path, max).ok()?;
    let intact =
        bytes.get(64) == Some(&b'\n') && super::sha256_hex(&bytes[65..]).as_bytes() == &bytes[..64];
    if !intact {
        let _ = std::fs::remove_file(path);
        return None;
    }
    let sha = String::from_utf8(bytes[..64].to_vec()).ok()?;
    bytes.drain(..65);
    Some((bytes, sha))
}

/// Keeps `metadata` (whose sha256 is `sha`) at `path`, written whole and renamed into place.
pub fn store(path: &Path, metadata: &[u8], sha: &str) {
    let mut entry = Vec::with_capacity(65 + metadata.len());
    entry.extend_from_slice(sha.as_bytes());
    entry.push(b'\n');
    entry.extend_from_slice(metadata);
    let _ = crate::fsutil::write_cache_entry(path, &entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_metadata_reads_back_and_a_damaged_entry_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let url = "https://user:secret@files.example/a-1.0-py3-none-any.whl";
        let p = path(&cache, url, "AB12");
        // Credentials and the hash's case do not change the entry.
        assert_eq!(
            p,
            path(
                &cache,
                "https://files.example/a-1.0-py3-none-any.whl",
                "ab12"
            )
        );
        let meta = b"Metadata-Version: 2.1\nName: a\nVersion: 1.0\n";
        let sha = super::super::sha256_hex(meta);
        store(&p, meta, &sha);
        assert_eq!(load(&p), Some((meta.to_vec(), sha)));

        let mut damaged = std::fs::read(&p).unwrap();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        std::fs::write(&p, &damaged).unwrap();
        assert_eq!(load(&p), None);
        assert!(!p.exists(), "a damaged entry is removed");
    }
}
