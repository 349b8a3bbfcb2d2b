//! The one layer reader shared by `check`, `inspect`, `diff` and `test`: a layer zip (read
//! in place, never extracted) or a directory laid out like one, read into entries and the
//! distributions installed in it.
//!
//! - [`read`] streams the zip (or walks the directory) into an [`inventory::Inventory`]:
//!   every entry with its sizes, parsed binaries ([`binfile`]) and the few metadata files,
//!   plus findings about the container itself (zip bombs, overlapping entries, lying sizes,
//!   paths that climb out, name clashes…);
//! - [`dists`] finds the installed distributions (`*.dist-info` directly in an import root)
//!   and which files each owns;
//! - [`Layer::open`] does both for the commands that look at a layer without judging it
//!   (`inspect`, `diff`, `test`): it refuses a hostile zip before anything is summed or
//!   unpacked, and gives files with their owners, import roots and what the names say
//!   about the Python version and architecture.

pub mod binfile;
pub mod dists;
pub mod inventory;
pub mod read;
pub mod target_hint;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::check::report::{Finding, Severity};
use crate::target::Arch;
use binfile::BinaryInfo;
pub use dists::{Dist, License};
use inventory::{Content, EntryKind};
pub use inventory::{Inventory, LayerSource};

/// One file of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// `/`-separated path inside the layer.
    pub path: String,
    pub size: u64,
    pub compressed: u64,
    /// Index into `Layer::dists`, or `None` when no distribution claims the file.
    pub dist: Option<usize>,
    /// Bytes stripping its debug sections saves ([`crate::slim::strip::saving`]; 0 for
    /// anything but an ELF file with debug sections that can be stripped safely).
    pub strippable: u64,
}

/// A layer as `inspect`, `diff` and `test` see it.
#[derive(Debug, Clone)]
pub struct Layer {
    pub path: PathBuf,
    /// Size of the zip file (0 for a directory).
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

impl Dist {
    /// PEP 503 normalized name, for matching across layers.
    pub fn key(&self) -> String {
        self.key.clone()
    }
}

/// Findings of the reader that make a zip unsafe to unpack or meaningless to sum: the
/// same hostile-zip checks `check` reports, turned into a refusal by the other commands.
const HOSTILE: &[&str] = &[
    "zip-corrupt",
    "zip-duplicate",
    "zip-bomb",
    "zip-slip",
    "zip-absolute-path",
    "zip-bad-name",
    "zip-size-mismatch",
    "zip-unsupported",
    "name-clash",
];

/// The refusal for a hostile or damaged layer: `None` when the reader found nothing that
/// makes it unsafe to unpack or sum.
pub fn hostile(path: &Path, findings: &[Finding]) -> Option<String> {
    let bad: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error && HOSTILE.contains(&f.code))
        .collect();
    let first = bad.first()?;
    let at = first
        .path
        .as_deref()
        .map(|p| format!(" (entry `{}`)", crate::format::shorten(p)))
        .unwrap_or_default();
    let more = match bad.len() {
        1 => String::new(),
        n => format!(" and {} more problem(s)", n - 1),
    };
    Some(format!(
        "refusing to read {}: {}{at}{more} [{}]; run `pylayer check {}` for every finding; {}",
        path.display(),
        first.message,
        first.code,
        path.display(),
        first.hint
    ))
}

impl Layer {
    /// Reads a layer zip or directory, refusing hostile or damaged zips (see [`hostile`]).
    pub fn open(source: &LayerSource) -> Result<Layer> {
        let path = source.path();
        let inv = read::read(source)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        if let Some(why) = hostile(path, &inv.findings) {
            anyhow::bail!(why);
        }
        Ok(Layer::from_inventory(path, &inv))
    }

    /// Reads a layer zip (or directory) at `path`.
    pub fn read(path: &Path) -> Result<Layer> {
        let source = LayerSource::from_path(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Layer::open(&source)
    }

    /// The view of an inventory already read (and already judged safe).
    pub fn from_inventory(path: &Path, inv: &Inventory) -> Layer {
        let mut files: Vec<LayerFile> = inv
            .entries
            .iter()
            .filter(|e| e.kind != EntryKind::Dir)
            .map(|e| LayerFile {
                path: e.path.trim_start_matches("./").to_string(),
                size: e.size,
                compressed: e.compressed,
                dist: None,
                strippable: match &e.content {
                    Content::Binary(BinaryInfo::Elf(elf)) => elf.strippable_bytes,
                    _ => 0,
                },
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);

        let mut roots = dists::roots_present(&inv.entries);
        let mut found = dists::collect(&inv.entries, &roots);
        found.sort_by(|a, b| (&a.key, &a.dist_info).cmp(&(&b.key, &b.dist_info)));

        let index: HashMap<&str, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect();
        let mut owner: Vec<Option<usize>> = vec![None; files.len()];
        for (di, d) in found.iter().enumerate() {
            for f in &d.files {
                if let Some(&i) = index.get(f.as_str()) {
                    owner[i].get_or_insert(di);
                }
            }
            // The dist-info directory itself always belongs to its distribution.
            let prefix = format!("{}/", d.dist_info);
            for (i, f) in files.iter().enumerate() {
                if f.path.starts_with(&prefix) {
                    owner[i].get_or_insert(di);
                }
            }
        }
        // Files no RECORD lists, claimed through top-level names.
        for (i, f) in files.iter().enumerate() {
            if owner[i].is_some() {
                continue;
            }
            for (di, d) in found.iter().enumerate() {
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
                    owner[i] = Some(di);
                    break;
                }
            }
        }
        for (f, o) in files.iter_mut().zip(owner) {
            f.dist = o;
        }
        // `python/` counts as a root only when something outside site-packages is in it.
        let site: Vec<String> = roots
            .iter()
            .filter(|r| r.as_str() != "python/")
            .cloned()
            .collect();
        let outside_site = files
            .iter()
            .any(|f| f.path.starts_with("python/") && !site.iter().any(|r| f.path.starts_with(r)));
        if !outside_site {
            roots.retain(|r| r != "python/");
        }

        // Python version and architecture from file names, then from ELF headers.
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
            // abi3 or plain `.so` names say nothing: the parsed ELF headers do.
            let elf_arch = inv.entries.iter().find_map(|e| match &e.content {
                Content::Binary(BinaryInfo::Elf(elf)) if is_shared_object(&e.path) => {
                    match elf.machine {
                        62 => Some(Arch::X86_64),
                        183 => Some(Arch::Arm64),
                        _ => None,
                    }
                }
                _ => None,
            });
            arches.extend(elf_arch);
        }
        Layer {
            path: path.to_path_buf(),
            zip_bytes: inv.zip_bytes.unwrap_or(0),
            files,
            dists: found,
            roots,
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
        }
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
    }
}
