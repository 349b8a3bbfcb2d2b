//! What the audit keeps in the cache dir besides HTTP responses: OSV's batch answers (a POST,
//! which no HTTP cache revalidates) per service, package and version, so `--offline` can say
//! which records applied on the last online run. OSV records themselves are cached under
//! their id and modification time, which changes whenever a record does.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::osv::VulnRef;
use crate::cache::CacheDir;
use crate::fsutil::{read_capped, write_cache_entry};

/// A cached answer larger than this is ignored (a package has at most a few hundred records).
const ANSWER_MAX_BYTES: u64 = 4 << 20;

fn path(cache: &CacheDir, base: &str, name: &str, version: &str) -> PathBuf {
    let mut h = Sha256::new();
    for part in [crate::http::strip_userinfo(base).as_str(), name, version] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    let k = hex::encode(&h.finalize()[..16]);
    cache
        .root()
        .join("audit-v1")
        .join("osv-batch")
        .join(&k[..2])
        .join(format!("{k}.json"))
}

/// Remembers the ids OSV answered for `name==version` (best effort: the audit never fails
/// for a cache it cannot write).
pub fn store_batch(cache: &CacheDir, base: &str, name: &str, version: &str, refs: &[VulnRef]) {
    if let Ok(json) = serde_json::to_vec(refs) {
        let _ = write_cache_entry(&path(cache, base, name, version), &json);
    }
}

/// The ids OSV answered for `name==version` on the last online run, if any.
pub fn load_batch(cache: &CacheDir, base: &str, name: &str, version: &str) -> Option<Vec<VulnRef>> {
    let bytes = read_capped(&path(cache, base, name, version), ANSWER_MAX_BYTES).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The cache key of an OSV record at one modification time (an immutable entry).
pub fn record_key(base: &str, r: &VulnRef) -> String {
    format!(
        "audit-osv-record\n{}\n{}\n{}",
        crate::http::strip_userinfo(base),
        r.id,
        r.modified
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_per_package() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir::resolve(Some(dir.path()));
        let refs = vec![VulnRef {
            id: "PYSEC-2018-28".into(),
            modified: "2024-11-21T14:22:00Z".into(),
        }];
        store_batch(&cache, "http://h", "requests", "2.19.0", &refs);
        assert_eq!(
            load_batch(&cache, "http://h", "requests", "2.19.0"),
            Some(refs)
        );
        assert_eq!(load_batch(&cache, "http://h", "requests", "2.20.0"), None);
        assert_eq!(
            load_batch(&cache, "http://other", "requests", "2.19.0"),
            None
        );
    }
}
