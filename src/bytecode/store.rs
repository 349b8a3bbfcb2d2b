//! The cached bytecode of one wheel: a zip whose entries are the `.pyc` files under their
//! paths in the layer, already deflated (so the layer writer copies their compressed bytes as
//! it copies wheel entries), plus `pylayer-bytecode.json`: the sources compiled and the ones
//! that did not compile, with why.

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

/// One `.pyc` in a stored archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PycEntry {
    /// Path of the `.py` in the layer.
    pub source: String,
    /// Path of the `.pyc` in the layer.
    pub path: String,
    /// Index of the entry in the archive.
    pub index: usize,
}

/// What the index records.
#[derive(Debug, Serialize, Deserialize)]
struct Index {
    /// `3.12.1`.
    interpreter: String,
    /// Every source given to the compiler, compiled or not.
    sources: Vec<String>,
    skipped: Vec<Skipped>,
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
        let Some(name) = archive.name_for_index(i).and_then(Result::ok) else {
            continue;
        };
        if name == INDEX {
            continue;
        }
        let (source, _) = pyc::source_of(&name)
            .with_context(|| format!("{} holds {name}, which is not a .pyc", path.display()))?;
        pyc.push(PycEntry {
            source,
            path: name.into_owned(),
            index: i,
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
/// (source path, `.pyc` path, bytes).
pub fn save(
    path: &Path,
    interpreter: &str,
    sources: Vec<String>,
    mut compiled: Vec<(String, String, Vec<u8>)>,
    skipped: Vec<Skipped>,
) -> anyhow::Result<Stored> {
    compiled.sort_by(|a, b| a.1.cmp(&b.1));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6));
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut pyc = Vec::with_capacity(compiled.len());
    for (i, (source, name, bytes)) in compiled.into_iter().enumerate() {
        w.start_file(name.as_str(), options)?;
        w.write_all(&bytes)?;
        pyc.push(PycEntry {
            source,
            path: name,
            index: i,
        });
    }
    let index = Index {
        interpreter: interpreter.to_string(),
        sources,
        skipped,
    };
    w.start_file(INDEX, options)?;
    w.write_all(&serde_json::to_vec_pretty(&index)?)?;
    let bytes = w.finish()?.into_inner();
    crate::fsutil::write_cache_entry(path, &bytes)?;
    Ok(Stored {
        archive: path.to_path_buf(),
        sources: index.sources,
        pyc,
        skipped: index.skipped,
    })
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
                "python/p/a.py".into(),
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

        std::fs::write(&path, b"not a zip").unwrap();
        assert!(load(&path).is_err());
    }
}
