//! A layer zip read as an inventory: every file with its unzipped and zipped size, the
//! distributions found through their `*.dist-info` (name, version, `RECORD`, `top_level.txt`),
//! which distribution each file belongs to, and what the file names say about the Python
//! version and architecture the layer was built for.
//!
//! Only the zip's central directory and the small metadata files are read here; nothing is
//! extracted. Shared by `inspect`, `diff` and `test`.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use zip::ZipArchive;

use crate::target::Arch;

/// One file of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// `/`-separated path inside the zip.
    pub path: String,
    pub size: u64,
    pub compressed: u64,
    /// Index into `Layer::dists`, or `None` when no distribution claims the file.
    pub dist: Option<usize>,
}

/// One installed distribution (`NAME-VERSION.dist-info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    /// As written in METADATA's `Name:` (falls back to the dist-info directory name).
    pub name: String,
    pub version: String,
    /// Path of the `*.dist-info` directory inside the zip, without trailing `/`.
    pub dist_info: String,
    /// The import root the dist-info sits in (`python/` or `python/lib/python3.X/site-packages/`).
    pub root: String,
    /// Top-level importable names, from `top_level.txt` or else from `RECORD`.
    pub top_level: Vec<String>,
}

impl Dist {
    /// PEP 503 normalized name, for matching across layers.
    pub fn key(&self) -> String {
        crate::wheel_name::normalize_name(&self.name)
    }
}

/// The inventory of a layer zip.
#[derive(Debug, Clone)]
pub struct Layer {
    pub path: PathBuf,
    pub zip_bytes: u64,
    /// Files only (no directory entries), sorted by path.
    pub files: Vec<LayerFile>,
    /// Sorted by normalized name.
    pub dists: Vec<Dist>,
    /// Import roots present in the layer (`python/`, `python/lib/python3.X/site-packages/`).
    pub roots: Vec<String>,
    /// Python minor version named by file paths (`python3.11/`) or extension suffixes
    /// (`.cpython-311-…`), when they agree.
    pub python_hint: Option<u8>,
    /// Architecture named by extension-module suffixes (`-x86_64-linux-gnu.so`) or read from
    /// the ELF header of shared objects.
    pub arch_hint: Option<Arch>,
    /// Whether the layer contains any compiled extension or shared library.
    pub has_native: bool,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// `python3.11/` in a path → 11.
fn python_dir_minor(path: &str) -> Option<u8> {
    path.split('/')
        .find_map(|p| p.strip_prefix("python3.").and_then(|m| m.parse().ok()))
}

/// `.cpython-311-x86_64-linux-gnu.so` → (11, Some(x86_64)).
fn extension_suffix(path: &str) -> Option<(u8, Option<Arch>)> {
    let name = path.rsplit('/').next()?;
    let rest = name.split(".cpython-3").nth(1)?;
    let (digits, tail) = rest.split_once('-')?;
    let minor = digits
        .trim_end_matches(|c: char| c.is_alphabetic())
        .parse()
        .ok()?;
    let arch = if tail.starts_with("x86_64-linux") {
        Some(Arch::X86_64)
    } else if tail.starts_with("aarch64-linux") {
        Some(Arch::Arm64)
    } else {
        None
    };
    Some((minor, arch))
}

/// Whether a file name looks like a shared object (`x.so`, `libfoo.so.1.2`).
pub fn is_shared_object(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.contains(".so.")
}

/// ELF `e_machine` of the first bytes of a file.
fn elf_arch(head: &[u8]) -> Option<Arch> {
    if head.len() < 20 || &head[..4] != b"\x7fELF" {
        return None;
    }
    let machine = if head[5] == 2 {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    match machine {
        62 => Some(Arch::X86_64),
        183 => Some(Arch::Arm64),
        _ => None,
    }
}

const METADATA_LIMIT: u64 = 64 * 1024 * 1024;

fn read_entry_text(zip: &mut ZipArchive<BufReader<File>>, name: &str) -> Result<Option<String>> {
    let Ok(entry) = zip.by_name(name) else {
        return Ok(None);
    };
    if entry.size() > METADATA_LIMIT {
        bail!(
            "{name} declares {} bytes; refusing to read it",
            entry.size()
        );
    }
    let mut buf = Vec::new();
    entry
        .take(METADATA_LIMIT)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot decompress {name}"))?;
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

impl Layer {
    /// Reads a layer zip's inventory and metadata.
    pub fn read(path: &Path) -> Result<Layer> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let zip_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut zip = ZipArchive::new(BufReader::new(file)).with_context(|| {
            format!(
                "{} is not a readable zip file (is it a layer zip?)",
                path.display()
            )
        })?;
        let mut files = Vec::new();
        for i in 0..zip.len() {
            let e = zip
                .by_index_raw(i)
                .with_context(|| format!("{}: cannot read zip entry {i}", path.display()))?;
            if e.is_dir() {
                continue;
            }
            let name = e
                .name()
                .unwrap_or_default()
                .trim_start_matches("./")
                .to_string();
            if name.is_empty() || name.ends_with('/') {
                continue;
            }
            files.push(LayerFile {
                path: name,
                size: e.size(),
                compressed: e.compressed_size(),
                dist: None,
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);

        // Import roots and dist-info directories.
        let mut dist_infos: BTreeSet<String> = BTreeSet::new();
        for f in &files {
            let parts: Vec<&str> = f.path.split('/').collect();
            if let Some(pos) = parts.iter().position(|p| p.ends_with(".dist-info"))
                && pos + 1 < parts.len()
            {
                dist_infos.insert(parts[..=pos].join("/"));
            }
        }
        let mut dists = Vec::new();
        for di in &dist_infos {
            let root = match di.rfind('/') {
                Some(i) => format!("{}/", &di[..i]),
                None => String::new(),
            };
            let dir_name = di.rsplit('/').next().unwrap_or(di);
            let stem = dir_name.trim_end_matches(".dist-info");
            let (dir_n, dir_v) = stem.split_once('-').unwrap_or((stem, ""));
            let meta = read_entry_text(&mut zip, &format!("{di}/METADATA"))?.unwrap_or_default();
            let field = |key: &str| {
                meta.lines()
                    .take_while(|l| !l.is_empty())
                    .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
            };
            let name = field("Name:").unwrap_or_else(|| dir_n.to_string());
            let version = field("Version:").unwrap_or_else(|| dir_v.to_string());
            dists.push((
                Dist {
                    name,
                    version,
                    dist_info: di.clone(),
                    root,
                    top_level: Vec::new(),
                },
                read_entry_text(&mut zip, &format!("{di}/RECORD"))?,
                read_entry_text(&mut zip, &format!("{di}/top_level.txt"))?,
            ));
        }
        dists.sort_by_key(|d| (d.0.key(), d.0.dist_info.clone()));

        let index: HashMap<String, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        let mut out_dists = Vec::new();
        for (di_idx, (mut dist, record, top_level)) in dists.into_iter().enumerate() {
            let mut recorded_tops: BTreeSet<String> = BTreeSet::new();
            if let Some(record) = &record {
                for row in crate::record::parse(record) {
                    let Some(rel) = row.first() else { continue };
                    if let Some(full) = crate::record::join(&dist.root, rel)
                        && let Some(&i) = index.get(&full)
                        && files[i].dist.is_none()
                    {
                        files[i].dist = Some(di_idx);
                    }
                    if rel.starts_with("..") {
                        continue;
                    }
                    let first = rel.split('/').next().unwrap_or_default();
                    let top = if rel.contains('/') {
                        first
                    } else {
                        first.split('.').next().unwrap_or_default()
                    };
                    let is_code = rel.contains('/')
                        || rel.ends_with(".py")
                        || rel.ends_with(".so")
                        || rel.ends_with(".pyd");
                    if is_code && is_identifier(top) && top != "__pycache__" {
                        recorded_tops.insert(top.to_string());
                    }
                }
            }
            // The dist-info directory itself always belongs to its distribution.
            let prefix = format!("{}/", dist.dist_info);
            for f in files.iter_mut().filter(|f| f.path.starts_with(&prefix)) {
                f.dist.get_or_insert(di_idx);
            }
            let listed: Vec<String> = top_level
                .as_deref()
                .unwrap_or("")
                .lines()
                .map(|l| l.trim().replace('/', "."))
                .filter(|l| !l.is_empty())
                .collect();
            dist.top_level = if listed.is_empty() {
                recorded_tops.into_iter().collect()
            } else {
                let mut v = listed;
                v.sort();
                v.dedup();
                v
            };
            out_dists.push(dist);
        }

        // Files no RECORD lists, claimed through top_level.txt names.
        for f in files.iter_mut().filter(|f| f.dist.is_none()) {
            for (i, d) in out_dists.iter().enumerate() {
                let Some(rel) = f.path.strip_prefix(&d.root) else {
                    continue;
                };
                let first = rel.split('/').next().unwrap_or_default();
                let module = if rel.contains('/') {
                    first
                } else {
                    first.split('.').next().unwrap_or_default()
                };
                if d.top_level
                    .iter()
                    .any(|t| t.split('.').next() == Some(module))
                {
                    f.dist = Some(i);
                    break;
                }
            }
        }

        let mut roots: BTreeSet<String> = out_dists.iter().map(|d| d.root.clone()).collect();
        for f in &files {
            if f.path.starts_with("python/") {
                match python_dir_minor(&f.path) {
                    Some(m)
                        if f.path
                            .starts_with(&format!("python/lib/python3.{m}/site-packages/")) =>
                    {
                        roots.insert(format!("python/lib/python3.{m}/site-packages/"));
                    }
                    _ => {
                        roots.insert("python/".to_string());
                    }
                }
            }
        }

        // Python version and architecture from file names.
        let mut minors: BTreeSet<u8> = BTreeSet::new();
        let mut arches: BTreeSet<Arch> = BTreeSet::new();
        let mut has_native = false;
        for f in &files {
            if let Some(m) = python_dir_minor(&f.path)
                && f.path.starts_with("python/lib/")
            {
                minors.insert(m);
            }
            if let Some((m, a)) = extension_suffix(&f.path) {
                minors.insert(m);
                if let Some(a) = a {
                    arches.insert(a);
                }
            }
            if is_shared_object(&f.path) {
                has_native = true;
            }
        }
        if arches.is_empty() && has_native {
            // abi3 or plain `.so` names say nothing: read ELF headers until one answers.
            let names: Vec<String> = files
                .iter()
                .filter(|f| is_shared_object(&f.path))
                .map(|f| f.path.clone())
                .collect();
            for n in names {
                if let Ok(e) = zip.by_name(&n) {
                    let mut head = [0u8; 20];
                    if e.take(20).read_exact(&mut head).is_ok()
                        && let Some(a) = elf_arch(&head)
                    {
                        arches.insert(a);
                        break;
                    }
                }
            }
        }
        Ok(Layer {
            path: path.to_path_buf(),
            zip_bytes,
            files,
            dists: out_dists,
            roots: roots.into_iter().collect(),
            python_hint: if minors.len() == 1 {
                minors.into_iter().next()
            } else {
                None
            },
            arch_hint: if arches.len() == 1 {
                arches.into_iter().next()
            } else {
                None
            },
            has_native,
        })
    }

    pub fn unzipped_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Unzipped and zipped bytes and file count of one distribution (`None`: unattributed).
    pub fn dist_totals(&self, dist: Option<usize>) -> (u64, u64, usize) {
        self.files
            .iter()
            .filter(|f| f.dist == dist)
            .fold((0, 0, 0), |(u, z, n), f| {
                (u + f.size, z + f.compressed, n + 1)
            })
    }

    /// The path of a file relative to its distribution's import root (or the layer's).
    pub fn relative<'a>(&self, f: &'a LayerFile) -> &'a str {
        let root = f
            .dist
            .map(|d| self.dists[d].root.as_str())
            .or_else(|| {
                self.roots
                    .iter()
                    .filter(|r| f.path.starts_with(r.as_str()))
                    .max_by_key(|r| r.len())
                    .map(|r| r.as_str())
            })
            .unwrap_or("");
        f.path.strip_prefix(root).unwrap_or(&f.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_extension_suffixes() {
        assert_eq!(
            extension_suffix("python/pandas/_libs/lib.cpython-311-x86_64-linux-gnu.so"),
            Some((11, Some(Arch::X86_64)))
        );
        assert_eq!(
            extension_suffix("x/_core.cpython-312-aarch64-linux-gnu.so"),
            Some((12, Some(Arch::Arm64)))
        );
        assert_eq!(extension_suffix("x/_core.abi3.so"), None);
        assert_eq!(
            python_dir_minor("python/lib/python3.10/site-packages/a.py"),
            Some(10)
        );
    }

    #[test]
    fn joins_record_paths() {
        assert_eq!(
            crate::record::join("python/", "a/b.py").unwrap(),
            "python/a/b.py"
        );
        assert_eq!(crate::record::join("python/", "../bin/x").unwrap(), "bin/x");
        assert_eq!(crate::record::join("", "../x"), None);
    }

    #[test]
    fn csv_and_names() {
        let rows = crate::record::parse("a.py,sha256=x,3\n\"b,c.py\",,\n\n");
        assert_eq!(rows[1][0], "b,c.py");
        assert_eq!(
            crate::wheel_name::normalize_name("Typing_Extensions"),
            "typing-extensions"
        );
        assert!(is_identifier("_ldap3"));
        assert!(!is_identifier("numpy.libs"));
    }
}
