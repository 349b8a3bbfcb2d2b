//! Installed distributions: the `*.dist-info` directories on the layer's import roots, read
//! from their METADATA (name, version, Requires-Dist) and RECORD (the files they own).

use crate::wheel_name::normalize_name;
use std::collections::HashMap;

use super::source::{Content, Entry, EntryKind};
use crate::target::Target;

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
}

impl Dist {
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

/// Parses METADATA's header block: (Name, Version, Requires-Dist values).
pub fn parse_metadata(text: &str) -> (Option<String>, Option<String>, Vec<String>) {
    let (mut name, mut version, mut requires) = (None, None, Vec::new());
    let mut last: Option<(String, String)> = None;
    let mut flush = |field: Option<(String, String)>| {
        if let Some((k, v)) = field {
            match k.to_ascii_lowercase().as_str() {
                "name" => name = Some(v.trim().to_string()),
                "version" => version = Some(v.trim().to_string()),
                "requires-dist" => requires.push(v.trim().to_string()),
                _ => {}
            }
        }
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            break; // the body (description) starts
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = last.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        flush(last.take());
        if let Some((k, v)) = line.split_once(':') {
            last = Some((k.trim().to_string(), v.to_string()));
        }
    }
    flush(last.take());
    (name, version, requires)
}

/// Every distribution installed on one of the target's import roots.
pub fn collect(entries: &[Entry], target: &Target) -> Vec<Dist> {
    let roots = import_roots(target);
    let mut metadata: HashMap<&str, &[u8]> = HashMap::new();
    let mut records: HashMap<&str, &[u8]> = HashMap::new();
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
        let text = metadata
            .get(dir.as_str())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let (name, version, requires) = parse_metadata(&text);
        // Fall back on the directory name (`name-version.dist-info`).
        let stem = dir
            .rsplit('/')
            .next()
            .unwrap_or(&dir)
            .trim_end_matches(".dist-info");
        let (dname, dver) = stem.split_once('-').unwrap_or((stem, ""));
        let name = name.unwrap_or_else(|| dname.to_string());
        let version = version.unwrap_or_else(|| dver.to_string());
        let files = records
            .get(dir.as_str())
            .map(|r| {
                record_paths(&String::from_utf8_lossy(r))
                    .iter()
                    .filter_map(|p| crate::record::join(&root, p))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Dist {
            key: normalize_name(&name),
            name,
            version,
            dist_info: dir,
            root,
            requires,
            files,
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
        if let Some(&i) = self.by_path.get(path) {
            return Some(self.labels[i].clone());
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
                return Some(self.labels[i].clone());
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
    fn metadata_headers_only() {
        let text = "Metadata-Version: 2.1\nName: pydantic\nVersion: 2.11.7\nRequires-Dist: pydantic-core==2.33.2\nRequires-Dist: typing-extensions>=4.12.2\nRequires-Dist: email-validator>=2.0.0;\n  extra == 'email'\n\nRequires-Dist: not-a-header\n";
        let (n, v, r) = parse_metadata(text);
        assert_eq!(n.as_deref(), Some("pydantic"));
        assert_eq!(v.as_deref(), Some("2.11.7"));
        assert_eq!(r.len(), 3);
        assert_eq!(r[2], "email-validator>=2.0.0; extra == 'email'");
    }

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
