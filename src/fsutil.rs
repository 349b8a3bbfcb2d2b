//! File-system helpers shared by every stage that writes outputs.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so an interrupted run never leaves a half-written file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, bytes, true)
}

/// Like [`write_atomic`] without forcing the data to disk: for cache entries, which are
/// checked when read (hashes, parse errors) and can always be fetched again. The rename
/// still guarantees readers never see half a file; skipping fsync keeps a cold lock from
/// waiting on hundreds of disk flushes.
pub fn write_cache_entry(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, bytes, false)
}

fn write_atomic_with(path: &Path, bytes: &[u8], durable: bool) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create directory {}: {e}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".pylayer-tmp-")
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("cannot create a temporary file in {}: {e}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| {
            if durable {
                tmp.as_file().sync_all()
            } else {
                Ok(())
            }
        })
        .and_then(|_| set_readable(tmp.as_file()))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Temporary files are created private (0600); outputs are meant to be shared (0644).
#[cfg(unix)]
pub fn set_readable(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
pub fn set_readable(_f: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}
