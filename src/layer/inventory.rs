//! What the layer reader produces: the layer's entries with what later stages need to
//! know about each (kind, sizes, parsed binary facts, the few text files kept), and the
//! problems found in the container itself. Plain data shared by the reader
//! ([`super::read`]) and by the stages that consume it (`check`, `inspect`, `diff`, `test`).

use std::io;
use std::path::{Path, PathBuf};

use super::binfile::BinaryInfo;
use crate::check::report::Finding;

/// A layer to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSource {
    /// A layer zip, read in place.
    Zip(PathBuf),
    /// A directory laid out like the inside of a layer zip (`python/…`).
    Dir(PathBuf),
}

impl LayerSource {
    /// A zip for a file, a directory for a directory.
    pub fn from_path(path: &Path) -> io::Result<LayerSource> {
        let meta = std::fs::metadata(path)?;
        Ok(if meta.is_dir() {
            LayerSource::Dir(path.to_path_buf())
        } else {
            LayerSource::Zip(path.to_path_buf())
        })
    }

    pub fn path(&self) -> &Path {
        match self {
            LayerSource::Zip(p) | LayerSource::Dir(p) => p,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

/// One entry of the layer, with what the later stages need to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/`-separated path inside the layer, as written in the zip (directories without
    /// their trailing `/`).
    pub path: String,
    pub kind: EntryKind,
    /// Uncompressed size (declared in the zip, verified when the entry was read).
    pub size: u64,
    /// Compressed size in the zip (the size on disk for a directory's files).
    pub compressed: u64,
    pub content: Content,
}

/// What was kept of an entry's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    None,
    /// A parsed ELF, Mach-O or PE file.
    Binary(BinaryInfo),
    /// A text file a later stage reads (METADATA, RECORD) or a symbolic link's target.
    Text(Vec<u8>),
    /// The first [`HEAD_BYTES`] bytes of a file whose header a check reads (`.pyc`).
    Head(Vec<u8>),
}

/// How much of a file's start [`Content::Head`] keeps: a `.pyc` header (magic, flags and
/// the source hash or timestamp) is 16 bytes.
pub const HEAD_BYTES: usize = 16;

/// Whether a later stage reads this file's first bytes.
pub fn wants_head(path: &str) -> bool {
    path.ends_with(".pyc")
}

/// Everything read from the layer.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub entries: Vec<Entry>,
    /// Size of the zip file; `None` for a directory.
    pub zip_bytes: Option<u64>,
    /// Problems with the container itself (hostile or damaged zip entries).
    pub findings: Vec<Finding>,
}
