//! Installed distributions: the `*.dist-info` directories DIRECTLY in one of the layer's
//! import roots (a `setuptools/_vendor/x.dist-info` is vendored code, not an installed
//! distribution), read from their METADATA (name, version, Requires-Dist), RECORD (the
//! files they own) and top_level.txt (the modules they provide).

use std::collections::{BTreeSet, HashMap};

use super::inventory::{Content, Entry, EntryKind};
use crate::metadata::Headers;
use crate::target::Target;
use crate::wheel_name::normalize_name;

/// One installed distribution found in the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    /// The name as METADATA spells it.
    pub name: String,
    /// PEP 503-normalized name.
    pub key: String,
    pub version: String,
    /// `python/numpy-2.3.1.dist-info`.
    pub dist_info: String,
    /// The import root it is installed in (`python/` or `python/lib/python3.X/site-packages/`).
    pub root: String,
    /// Raw `Requires-Dist` values.
    pub requires: Vec<String>,
    /// Layer paths listed in RECORD (normalized; directories excluded).
    pub files: Vec<String>,
    /// Top-level importable names, from `top_level.txt` or else from `RECORD`.
    pub top_level: Vec<String>,
    /// The wheel tags its `WHEEL` file lists (`cp312-cp312-manylinux_2_17_x86_64`); empty
    /// when it has none (installed from an sdist, or by hand).
    pub tags: Vec<String>,
}

impl Dist {
    /// Whether it was installed from a wheel that works on Linux: every tag's platform is
    /// `any` or a Linux one. Such a wheel was chosen for a Linux target, so another OS's
    /// binaries inside it (debugpy ships every platform's) are never loaded.
    pub fn linux_wheel(&self) -> bool {
        !self.tags.is_empty()
            && self.tags.iter().all(|t| {
                let platform = t.rsplit('-').next().unwrap_or_default();
                platform == "any"
                    || platform.starts_with("manylinux")
                    || platform.starts_with("linux")
            })
    }

    /// `numpy 2.3.1`, as findings name a distribution.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }
}

/// The directories Lambda puts on `sys.path` for this target, with a trailing `/`.
pub fn import_roots(target: &Target) -> [String; 2] {
    [
        "python/".to_string(),
        format!(
            "python/lib/python{}/site-packages/",
            target.python_version()
        ),
    ]
}

/// The import roots a layer holds, whatever Python it is for: `python/` when anything is
/// under it, and each `python/lib/python3.X/site-packages/` present.
pub fn roots_present(entries: &[Entry]) -> Vec<String> {
    let mut roots = BTreeSet::new();
    for e in entries {
        let Some(rest) = e.path.strip_prefix("python/") else {
            continue;
        };
        roots.insert("python/".to_string());
        if let Some(rest) = rest.strip_prefix("lib/")
            && let Some((dir, tail)) = rest.split_once('/')
            && dir
                .strip_prefix("python3.")
                .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
            && (tail == "site-packages" || tail.starts_with("site-packages/"))
        {
            roots.insert(format!("python/lib/{dir}/site-packages/"));
        }
    }
    roots.into_iter().collect()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Top-level importable names a RECORD lists: first path components of code files
/// (`pkg/…`, `mod.py`, `ext.cpython-312-….so`), not `..` paths or `__pycache__`.
fn record_tops(paths: &[String]) -> Vec<String> {
    let mut tops = BTreeSet::new();
    for rel in paths {
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
            tops.insert(top.to_string());
        }
    }
    tops.into_iter().collect()
}

/// Every distribution installed directly in one of `roots` (each with a trailing `/`;
/// [`import_roots`] for a target, [`roots_present`] for any).
pub fn collect(entries: &[Entry], roots: &[String]) -> Vec<Dist> {
    let mut metadata: HashMap<&str, &[u8]> = HashMap::new();
    let mut records: HashMap<&str, &[u8]> = HashMap::new();
    let mut top_levels: HashMap<&str, &[u8]> = HashMap::new();
    let mut wheels: HashMap<&str, &[u8]> = HashMap::new();
    let mut dirs: Vec<(String, String)> = Vec::new(); // (root, dist-info dir)
    for e in entries {
        if let Some((dir, file)) = e.path.rsplit_once('/')
            && dir.ends_with(".dist-info")
        {
            if let Content::Text(t) = &e.content {
                match file {
                    "METADATA" => {
                        metadata.insert(dir, t);
                    }
                    "RECORD" => {
                        records.insert(dir, t);
                    }
                    "top_level.txt" => {
                        top_levels.insert(dir, t);
                    }
                    "WHEEL" => {
                        wheels.insert(dir, t);
                    }
                    _ => {}
                }
            }
            if file == "METADATA" && e.kind == EntryKind::File {
                let parent = dir.rsplit_once('/').map_or("", |(p, _)| p);
                let parent = format!("{parent}/");
                if let Some(root) = roots.iter().find(|r| **r == parent) {
                    dirs.push((root.clone(), dir.to_string()));
                }
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    let mut out = Vec::new();
    for (root, dir) in dirs {
        let headers = Headers::parse(metadata.get(dir.as_str()).copied().unwrap_or_default());
        let name = headers.get("Name").map(str::to_string);
        let version = headers.get("Version").map(str::to_string);
        let requires: Vec<String> = headers
            .get_all("Requires-Dist")
            .map(str::to_string)
            .collect();
        // Fall back on the directory name (`name-version.dist-info`).
        let stem = dir
            .rsplit('/')
            .next()
            .unwrap_or(&dir)
            .trim_end_matches(".dist-info");
        let (dname, dver) = stem.split_once('-').unwrap_or((stem, ""));
        let name = name.unwrap_or_else(|| dname.to_string());
        let version = version.unwrap_or_else(|| dver.to_string());
        let recorded = records
            .get(dir.as_str())
            .map(|r| record_paths(&String::from_utf8_lossy(r)))
            .unwrap_or_default();
        let files = recorded
            .iter()
            .filter_map(|p| crate::record::join(&root, p))
            .collect();
        let mut top_level: Vec<String> = top_levels
            .get(dir.as_str())
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().replace('/', "."))
            .filter(|l| !l.is_empty())
            .collect();
        if top_level.is_empty() {
            top_level = record_tops(&recorded);
        }
        top_level.sort();
        top_level.dedup();
        let tags = Headers::parse(wheels.get(dir.as_str()).copied().unwrap_or_default())
            .get_all("Tag")
            .map(|t| t.trim().to_string())
            .collect();
        out.push(Dist {
            key: normalize_name(&name),
            name,
            version,
            dist_info: dir,
            root,
            requires,
            files,
            top_level,
            tags,
        });
    }
    out
}

/// Which distribution each layer path belongs to: RECORD first, then the top-level
/// directory (`python/numpy/…` belongs to whoever's RECORD lists something under
/// `python/numpy/`), so files a RECORD forgot are still attributed.
pub struct Owners {
    by_path: HashMap<String, usize>,
    by_top: HashMap<String, usize>,
    labels: Vec<String>,
}

impl Owners {
    pub fn new(dists: &[Dist]) -> Owners {
        let mut by_path = HashMap::new();
        let mut by_top = HashMap::new();
        for (i, d) in dists.iter().enumerate() {
            by_path.entry(d.dist_info.clone()).or_insert(i);
            for f in &d.files {
                by_path.entry(f.clone()).or_insert(i);
                if let Some(rest) = f.strip_prefix(&d.root)
                    && let Some((top, _)) = rest.split_once('/')
                {
                    by_top.entry(format!("{}{top}", d.root)).or_insert(i);
                }
            }
        }
        Owners {
            by_path,
            by_top,
            labels: dists.iter().map(Dist::label).collect(),
        }
    }

    pub fn owner(&self, path: &str) -> Option<String> {
        self.index(path).map(|i| self.labels[i].clone())
    }

    /// The index (into the distributions `new` was given) of the one owning `path`.
    pub fn index(&self, path: &str) -> Option<usize> {
        if let Some(&i) = self.by_path.get(path) {
            return Some(i);
        }
        // `python/numpy-2.3.1.dist-info/...` and `python/numpy/...`
        let mut prefix = String::new();
        for (n, comp) in path.split('/').enumerate() {
            if n > 0 {
                prefix.push('/');
            }
            prefix.push_str(comp);
            if let Some(&i) = self
                .by_top
                .get(&prefix)
                .or_else(|| self.by_path.get(&prefix))
            {
                return Some(i);
            }
        }
        None
    }
}

/// The first field of each RECORD row: the paths a distribution installed.
pub fn record_paths(text: &str) -> Vec<String> {
    crate::record::parse(text)
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_rows_and_paths() {
        let rec = "numpy/__init__.py,sha256=x,10\n\"odd,name.py\",,\n../../bin/f2py,sha256=y,5\nnumpy-2.dist-info/RECORD,,\n";
        let p = record_paths(rec);
        assert_eq!(
            p,
            [
                "numpy/__init__.py",
                "odd,name.py",
                "../../bin/f2py",
                "numpy-2.dist-info/RECORD"
            ]
        );
        assert_eq!(
            crate::record::join("python/lib/python3.12/site-packages/", "../../../bin/f2py")
                .as_deref(),
            Some("python/bin/f2py")
        );
        assert_eq!(crate::record::join("python/", "../../x"), None);
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize_name("Pydantic_Core"), "pydantic-core");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
    }
}
