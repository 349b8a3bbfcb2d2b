//! Stripped shared objects kept in the cache, already deflated: a zip with one entry (the
//! stripped bytes) whose comment is their RECORD hash. The layer writer copies the
//! compressed bytes raw, as it copies wheel entries, so a warm `--slim` build neither strips
//! nor recompresses a library again.

use std::io::{Cursor, Write};
use std::path::Path;

use anyhow::Context;
use zip::ZipArchive;
use zip::write::SimpleFileOptions;

use crate::plan::WheelEntry;

/// The one entry's name.
const NAME: &str = "stripped.so";

/// Reads a stored copy; `Ok(None)` when there is none or it is not one this version wrote
/// (it is then written again).
pub fn load(path: &Path) -> anyhow::Result<Option<WheelEntry>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    let Ok(mut archive) = ZipArchive::new(std::io::BufReader::new(file)) else {
        return Ok(None);
    };
    let hash = String::from_utf8_lossy(archive.comment()).into_owned();
    if archive.len() != 1 || !hash.starts_with("sha256=") {
        return Ok(None);
    }
    let Ok(e) = archive.by_index_raw(0) else {
        return Ok(None);
    };
    if e.name().ok().as_deref() != Some(NAME) || e.compression() != zip::CompressionMethod::Deflated
    {
        return Ok(None);
    }
    Ok(Some(WheelEntry {
        name: NAME.to_string(),
        size: e.size(),
        record_hash: Some(hash),
        index: 0,
        method: 8,
        crc32: e.crc32(),
        compressed_size: e.compressed_size(),
    }))
}

/// Writes the stored copy of `bytes` (atomically) and returns its entry.
pub fn save(path: &Path, bytes: &[u8]) -> anyhow::Result<WheelEntry> {
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.set_comment(crate::record::record_hash(bytes))?;
    w.start_file(NAME, options)?;
    w.write_all(bytes)?;
    let zip = w.finish()?.into_inner();
    crate::fsutil::write_cache_entry(path, &zip)?;
    load(path)?.with_context(|| format!("{} vanished after writing it", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn saved_copies_load_back_and_strangers_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ab/abc.zip");
        assert_eq!(load(&path).unwrap(), None);
        let bytes = b"\x7fELF stripped".repeat(100);
        let saved = save(&path, &bytes).unwrap();
        assert_eq!(load(&path).unwrap(), Some(saved.clone()));
        assert_eq!(saved.size, bytes.len() as u64);
        assert_eq!(
            saved.record_hash.as_deref(),
            Some(crate::record::record_hash(&bytes).as_str())
        );
        let mut a = ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut back = Vec::new();
        a.by_index(0).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, bytes);
        std::fs::write(&path, b"not a zip").unwrap();
        assert_eq!(load(&path).unwrap(), None);
    }
}
