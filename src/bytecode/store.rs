//! The cached bytecode of one wheel: a zip whose entries are the `.pyc` files under their
//! paths in the layer, already deflated (so the layer writer copies their compressed bytes as
//! it copies wheel entries), plus `pylayer-bytecode.json`: the sources compiled and the ones
//! that did not compile, with why.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use zip::ZipArchive;
use zip::write::SimpleFileOptions;

use super::pyc;

/// The index entry's name; `.pyc` entries all start with `python/`.
const INDEX: &str = "pylayer-bytecode.json";

/// A source that was left without bytecode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Path of the `.py` in the layer.
    pub source: String,
    /// The compiler's message (`SyntaxError: Missing parentheses in call to 'print' …`).
    pub error: String,
}

/// One `.pyc` in a stored archive, with what the layer writer needs to copy its compressed
/// bytes raw and list it in RECORD without decompressing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PycEntry {
    /// Path of the `.py` in the layer.
    pub source: String,
    /// Path of the `.pyc` in the layer.
    pub path: String,
    /// Index of the entry in the archive.
    pub index: usize,
    /// `sha256=…` (urlsafe base64, as RECORD lists it).
    pub record_hash: String,
    /// Uncompressed size.
    pub size: u64,
    /// Zip compression method (8, deflate).
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
}

/// What the index records.
#[derive(Debug, Serialize, Deserialize)]
struct Index {
    /// `3.12.1`.
    interpreter: String,
    /// Every source given to the compiler, compiled or not.
    sources: Vec<String>,
    skipped: Vec<Skipped>,
    /// `.pyc` path → its RECORD hash.
    hashes: BTreeMap<String, String>,
}

/// A wheel's bytecode as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub archive: PathBuf,
    pub sources: Vec<String>,
    pub pyc: Vec<PycEntry>,
    pub skipped: Vec<Skipped>,
}

/// Reads a stored archive; `Ok(None)` when there is none.
pub fn load(path: &Path) -> anyhow::Result<Option<Stored>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    let mut archive = ZipArchive::new(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a valid zip", path.display()))?;
    let mut index_text = String::new();
    archive
        .by_name(INDEX)
        .with_context(|| format!("{} has no {INDEX}", path.display()))?
        .take(64 << 20)
        .read_to_string(&mut index_text)
        .with_context(|| format!("cannot read {INDEX} in {}", path.display()))?;
    let index: Index = serde_json::from_str(&index_text)
        .with_context(|| format!("{INDEX} in {} is not valid", path.display()))?;
    let mut pyc = Vec::new();
    for i in 0..archive.len() {
        let e = archive
            .by_index_raw(i)
            .with_context(|| format!("cannot read entry {i} of {}", path.display()))?;
        let name = e
            .name()
            .with_context(|| format!("entry {i} of {} has no readable name", path.display()))?
            .into_owned();
        if name == INDEX {
            continue;
        }
        let (source, _) = pyc::source_of(&name)
            .with_context(|| format!("{} holds {name}, which is not a .pyc", path.display()))?;
        let method = match e.compression() {
            zip::CompressionMethod::Stored => 0,
            zip::CompressionMethod::Deflated => 8,
            other => anyhow::bail!("{}: {name} uses {other:?}", path.display()),
        };
        let record_hash = index
            .hashes
            .get(&name)
            .with_context(|| format!("{}: no hash for {name}", path.display()))?
            .clone();
        pyc.push(PycEntry {
            source,
            index: i,
            record_hash,
            size: e.size(),
            method,
            crc32: e.crc32(),
            compressed_size: e.compressed_size(),
            path: name,
        });
    }
    Ok(Some(Stored {
        archive: path.to_path_buf(),
        sources: index.sources,
        pyc,
        skipped: index.skipped,
    }))
}

/// Writes the archive for one wheel (atomically) and returns what it holds. `compiled` is
/// (`.pyc` path, bytes).
pub fn save(
    path: &Path,
    interpreter: &str,
    sources: Vec<String>,
    mut compiled: Vec<(String, Vec<u8>)>,
    skipped: Vec<Skipped>,
) -> anyhow::Result<Stored> {
    compiled.sort_by(|a, b| a.0.cmp(&b.0));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6));
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut hashes = BTreeMap::new();
    for (name, bytes) in &compiled {
        w.start_file(name.as_str(), options)?;
        w.write_all(bytes)?;
        hashes.insert(name.clone(), crate::record::record_hash(bytes));
    }
    let index = Index {
        interpreter: interpreter.to_string(),
        sources,
        skipped,
        hashes,
    };
    w.start_file(INDEX, options)?;
    w.write_all(&serde_json::to_vec_pretty(&index)?)?;
    let bytes = w.finish()?.into_inner();
    crate::fsutil::write_cache_entry(path, &bytes)?;
    // Read back what was written: the entries' offsets and compressed sizes come from the
    // archive itself, as on a warm build.
    load(path)?.with_context(|| format!("{} vanished after writing it", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_archives_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ab/abc.zip");
        assert!(load(&path).unwrap().is_none());
        let saved = save(
            &path,
            "3.12.1",
            vec!["python/p/a.py".into(), "python/p/b.py".into()],
            vec![(
                "python/p/__pycache__/a.cpython-312.pyc".into(),
                b"\xcb\x0d\r\n\x01\0\0\0abcdefgh".to_vec(),
            )],
            vec![Skipped {
                source: "python/p/b.py".into(),
                error: "SyntaxError: bad".into(),
            }],
        )
        .unwrap();
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded.pyc, saved.pyc);
        assert_eq!(loaded.sources, saved.sources);
        assert_eq!(loaded.skipped, saved.skipped);
        let mut a = ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut bytes = Vec::new();
        a.by_index(loaded.pyc[0].index)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(&bytes[..4], b"\xcb\x0d\r\n");
        assert_eq!(
            loaded.pyc[0].record_hash,
            crate::record::record_hash(&bytes)
        );
        assert_eq!(loaded.pyc[0].size, bytes.len() as u64);
        assert_eq!(loaded.pyc[0].crc32, a.by_index(0).unwrap().crc32());

        std::fs::write(&path, b"not a zip").unwrap();
        assert!(load(&path).is_err());
    }
}
