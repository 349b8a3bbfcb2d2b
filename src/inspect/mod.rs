//! `pylayer inspect`: where a layer's megabytes go. Sizes per distribution against Lambda's
//! 250 MB unzipped limit, the largest files, and what trimming would save (test packages,
//! type stubs, docs and examples, debug symbols in shared objects), as a table, JSON or a
//! self-contained HTML page with a treemap.

pub mod html;

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::domain::MAX_UNZIPPED_BYTES;
use crate::format::human_bytes;
use crate::layer::{Layer, LayerFile};

/// How many of the largest files the report lists.
pub const LARGEST_FILES: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub zip: String,
    pub zip_bytes: u64,
    pub unzipped_bytes: u64,
    pub files: usize,
    /// Lambda's limit for function plus layers, unzipped: 262,144,000 bytes.
    pub unzipped_limit: u64,
    /// `unzipped_bytes` as a percentage of the limit.
    pub share_of_limit: f64,
    /// Sorted by unzipped size, largest first.
    pub distributions: Vec<DistSize>,
    pub unattributed: Unattributed,
    pub largest_files: Vec<FileSize>,
    pub trim: Vec<TrimCategory>,
    pub trim_total_bytes: u64,
    pub bytecode: Bytecode,
}

/// The layer's bytecode (`__pycache__/*.pyc`): what Lambda loads instead of compiling the
/// sources at each cold start. Counted apart so its cost in size is visible next to what it
/// saves in start-up time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Bytecode {
    /// `.pyc` files.
    pub files: usize,
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
    /// `.py` files in the layer.
    pub sources: usize,
    /// `.py` files with no `.pyc` of their own: compiled from source at each cold start
    /// (when imported).
    pub sources_without_bytecode: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DistSize {
    pub name: String,
    pub version: String,
    pub files: usize,
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
    pub share_of_limit: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unattributed {
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
    /// Paths of the files no distribution's RECORD or top_level.txt claims.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileSize {
    pub path: String,
    /// Owning distribution, `None` when unattributed.
    pub distribution: Option<String>,
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrimCategory {
    /// `tests`, `stubs`, `docs`, `debug-symbols`.
    pub category: String,
    pub description: String,
    pub files: usize,
    /// Unzipped bytes removing them would save.
    pub bytes: u64,
    /// The largest contributors (directories for tests/docs, files otherwise), largest first.
    pub examples: Vec<(String, u64)>,
}

fn pct(n: u64) -> f64 {
    (n as f64 * 10_000.0 / MAX_UNZIPPED_BYTES as f64).round() / 100.0
}

/// Which trimming category a file falls in, from its path relative to the import root.
/// `*.dist-info` contents are never trimmed. Returns the category and the path of the
/// directory (or file) to name as the contributor.
pub fn trim_category(rel: &str) -> Option<(&'static str, String)> {
    let parts: Vec<&str> = rel.split('/').collect();
    let (dirs, name) = parts.split_at(parts.len() - 1);
    let name = name[0];
    if dirs
        .iter()
        .any(|d| d.ends_with(".dist-info") || d.ends_with(".data"))
    {
        return None;
    }
    if let Some(i) = dirs.iter().position(|d| *d == "tests" || *d == "test") {
        return Some(("tests", dirs[..=i].join("/") + "/"));
    }
    if name == "conftest.py" {
        return Some(("tests", rel.to_string()));
    }
    if name.ends_with(".pyi") {
        return Some(("stubs", rel.to_string()));
    }
    if let Some(i) = dirs
        .iter()
        .position(|d| matches!(*d, "docs" | "doc" | "examples" | "example" | "samples"))
    {
        return Some(("docs", dirs[..=i].join("/") + "/"));
    }
    let legal = ["LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS"]
        .iter()
        .any(|l| name.to_ascii_uppercase().starts_with(l));
    if !dirs.is_empty() && !legal && (name.ends_with(".md") || name.ends_with(".rst")) {
        return Some(("docs", rel.to_string()));
    }
    None
}

fn describe(category: &str) -> &'static str {
    match category {
        "tests" => "test packages (tests/, test/, conftest.py)",
        "stubs" => "type stubs (*.pyi)",
        "docs" => "docs and examples (docs/, examples/, *.md, *.rst)",
        _ => "debug symbols in shared objects (.debug_*, .symtab, .strtab)",
    }
}

/// A trimming category being counted: name, files, bytes, contributors.
type Tally = (&'static str, usize, u64, Vec<(String, u64)>);

/// Measures a layer zip.
pub fn inspect(path: &Path) -> Result<(Layer, Inspection)> {
    let layer = Layer::read(path)?;
    let unzipped = layer.unzipped_bytes();

    let mut distributions: Vec<DistSize> = layer
        .dists
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let (u, z, n) = layer.dist_totals(Some(i));
            DistSize {
                name: d.name.clone(),
                version: d.version.clone(),
                files: n,
                unzipped_bytes: u,
                zipped_bytes: z,
                share_of_limit: pct(u),
            }
        })
        .collect();
    distributions.sort_by(|a, b| {
        b.unzipped_bytes
            .cmp(&a.unzipped_bytes)
            .then(a.name.cmp(&b.name))
    });
    let (uu, uz, _) = layer.dist_totals(None);
    let unattributed = Unattributed {
        unzipped_bytes: uu,
        zipped_bytes: uz,
        files: layer
            .files
            .iter()
            .filter(|f| f.dist.is_none())
            .map(|f| f.path.clone())
            .collect(),
    };

    let mut by_size: Vec<&LayerFile> = layer.files.iter().collect();
    by_size.sort_by(|a, b| b.size.cmp(&a.size).then(a.path.cmp(&b.path)));
    let largest_files = by_size
        .iter()
        .take(LARGEST_FILES)
        .map(|f| FileSize {
            path: f.path.clone(),
            distribution: f.dist.map(|d| layer.dists[d].name.clone()),
            unzipped_bytes: f.size,
            zipped_bytes: f.compressed,
        })
        .collect();

    // Path-based categories.
    let mut cats: Vec<Tally> = ["tests", "stubs", "docs"]
        .iter()
        .map(|c| (*c, 0, 0, Vec::new()))
        .collect();
    for f in &layer.files {
        let rel = layer.relative(f);
        if let Some((cat, contributor)) = trim_category(rel) {
            let c = cats
                .iter_mut()
                .find(|c| c.0 == cat)
                .expect("known category");
            c.1 += 1;
            c.2 += f.size;
            let prefix = &f.path[..f.path.len() - rel.len()];
            let who = format!("{prefix}{contributor}");
            match c.3.iter_mut().find(|e| e.0 == who) {
                Some(e) => e.1 += f.size,
                None => c.3.push((who, f.size)),
            }
        }
    }

    // Debug symbols: what the reader found in each ELF file's section headers.
    let mut debug = ("debug-symbols", 0usize, 0u64, Vec::new());
    for f in layer.files.iter().filter(|f| f.strippable > 0) {
        debug.1 += 1;
        debug.2 += f.strippable;
        debug.3.push((f.path.clone(), f.strippable));
    }
    cats.push(debug);
    let trim: Vec<TrimCategory> = cats
        .into_iter()
        .map(|(cat, files, bytes, mut ex)| {
            ex.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ex.truncate(5);
            TrimCategory {
                category: cat.to_string(),
                description: describe(cat).to_string(),
                files,
                bytes,
                examples: ex,
            }
        })
        .collect();
    let trim_total_bytes = trim.iter().map(|t| t.bytes).sum();
    let bytecode = bytecode_of(&layer);

    let inspection = Inspection {
        zip: path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        zip_bytes: layer.zip_bytes,
        unzipped_bytes: unzipped,
        files: layer.files.len(),
        unzipped_limit: MAX_UNZIPPED_BYTES,
        share_of_limit: pct(unzipped),
        distributions,
        unattributed,
        largest_files,
        trim,
        trim_total_bytes,
        bytecode,
    };
    Ok((layer, inspection))
}

/// Counts the `.pyc` files and the `.py` files none of them belongs to.
fn bytecode_of(layer: &Layer) -> Bytecode {
    let mut b = Bytecode::default();
    let mut compiled = std::collections::HashSet::new();
    for f in &layer.files {
        if f.path.ends_with(".pyc") {
            b.files += 1;
            b.unzipped_bytes += f.size;
            b.zipped_bytes += f.compressed;
            if let Some((source, _)) = crate::bytecode::pyc::source_of(&f.path) {
                compiled.insert(source);
            }
        }
    }
    for f in &layer.files {
        if f.path.ends_with(".py") {
            b.sources += 1;
            if !compiled.contains(&f.path) {
                b.sources_without_bytecode += 1;
            }
        }
    }
    b
}

/// One line about the layer's bytecode.
pub fn render_bytecode(i: &Inspection) -> String {
    let b = &i.bytecode;
    if b.files == 0 {
        return format!(
            "bytecode: none — {} .py files compile from source at each cold start when imported (/opt is read-only); build with --compile-bytecode\n",
            b.sources
        );
    }
    let mut s = format!(
        "bytecode: {} .pyc files, {} unzipped ({:.1}% of the layer), {} zipped",
        b.files,
        human_bytes(b.unzipped_bytes),
        if i.unzipped_bytes == 0 {
            0.0
        } else {
            b.unzipped_bytes as f64 * 100.0 / i.unzipped_bytes as f64
        },
        human_bytes(b.zipped_bytes)
    );
    if b.sources_without_bytecode > 0 {
        s.push_str(&format!(
            "; {} of {} .py files have none",
            b.sources_without_bytecode, b.sources
        ));
    }
    s.push('\n');
    s
}

/// The human report.
pub fn render(i: &Inspection) -> String {
    let mut out = format!(
        "{}: {} unzipped in {} files ({:.1}% of the {} limit), {} zipped\n\n",
        i.zip,
        human_bytes(i.unzipped_bytes),
        i.files,
        i.share_of_limit,
        human_bytes(i.unzipped_limit),
        human_bytes(i.zip_bytes)
    );
    let mut rows: Vec<Vec<String>> = i
        .distributions
        .iter()
        .map(|d| {
            vec![
                d.name.clone(),
                d.version.clone(),
                d.files.to_string(),
                human_bytes(d.unzipped_bytes),
                human_bytes(d.zipped_bytes),
                format!("{:.1}%", d.share_of_limit),
            ]
        })
        .collect();
    if !i.unattributed.files.is_empty() {
        rows.push(vec![
            "(unattributed)".into(),
            String::new(),
            i.unattributed.files.len().to_string(),
            human_bytes(i.unattributed.unzipped_bytes),
            human_bytes(i.unattributed.zipped_bytes),
            format!("{:.1}%", pct(i.unattributed.unzipped_bytes)),
        ]);
    }
    out.push_str(&crate::format::table(
        &[
            "distribution",
            "version",
            "files",
            "unzipped",
            "zipped",
            "of 250 MB",
        ],
        &rows,
        &[2, 3, 4, 5],
    ));
    if !i.unattributed.files.is_empty() {
        out.push_str("\nunattributed files (no RECORD or top_level.txt claims them):\n");
        for p in i.unattributed.files.iter().take(10) {
            out.push_str(&format!("  {p}\n"));
        }
        if i.unattributed.files.len() > 10 {
            out.push_str(&format!(
                "  … and {} more\n",
                i.unattributed.files.len() - 10
            ));
        }
    }
    out.push('\n');
    out.push_str(&render_bytecode(i));
    out.push_str("\nlargest files\n");
    let rows: Vec<Vec<String>> = i
        .largest_files
        .iter()
        .take(10)
        .map(|f| {
            vec![
                human_bytes(f.unzipped_bytes),
                f.distribution
                    .clone()
                    .unwrap_or_else(|| "(unattributed)".into()),
                f.path.clone(),
            ]
        })
        .collect();
    out.push_str(&crate::format::table(
        &["unzipped", "distribution", "path"],
        &rows,
        &[0],
    ));
    out.push_str("\nwhat trimming would save\n");
    let rows: Vec<Vec<String>> = i
        .trim
        .iter()
        .map(|t| {
            vec![
                t.category.clone(),
                t.files.to_string(),
                human_bytes(t.bytes),
                t.examples
                    .iter()
                    .take(3)
                    .map(|(p, b)| format!("{p} ({})", human_bytes(*b)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    out.push_str(&crate::format::table(
        &["category", "files", "saves", "largest"],
        &rows,
        &[1, 2],
    ));
    out.push_str(&format!(
        "total       {} ({:.1}% of the layer)\n",
        human_bytes(i.trim_total_bytes),
        if i.unzipped_bytes == 0 {
            0.0
        } else {
            i.trim_total_bytes as f64 * 100.0 / i.unzipped_bytes as f64
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        assert_eq!(
            trim_category("pandas/tests/frame/test_api.py"),
            Some(("tests", "pandas/tests/".into()))
        );
        assert_eq!(trim_category("numpy/testing/__init__.py"), None);
        assert_eq!(
            trim_category("pydantic/main.pyi").map(|c| c.0),
            Some("stubs")
        );
        assert_eq!(
            trim_category("pkg/examples/x.py"),
            Some(("docs", "pkg/examples/".into()))
        );
        assert_eq!(trim_category("pkg-1.0.dist-info/README.md"), None);
        assert_eq!(trim_category("README.md"), None);
        assert_eq!(trim_category("pkg/README.md").map(|c| c.0), Some("docs"));
        assert_eq!(trim_category("numpy/random/LICENSE.md"), None);
    }

    #[test]
    fn bytecode_is_counted_apart_with_the_sources_it_misses() {
        let file = |path: &str, size: u64| LayerFile {
            path: path.into(),
            size,
            compressed: size / 2,
            dist: None,
            strippable: 0,
        };
        let mut l = Layer {
            path: "x.zip".into(),
            zip_bytes: 0,
            files: vec![
                file("python/p/__init__.py", 10),
                file("python/p/__pycache__/__init__.cpython-312.pyc", 100),
                file("python/p/m.py", 10),
                file("python/p/data.txt", 5),
            ],
            dists: Vec::new(),
            roots: vec!["python/".into()],
            python_hint: None,
            arch_hint: None,
            has_native: false,
        };
        let b = bytecode_of(&l);
        assert_eq!((b.files, b.unzipped_bytes, b.zipped_bytes), (1, 100, 50));
        assert_eq!((b.sources, b.sources_without_bytecode), (2, 1));
        l.files.remove(1);
        let b = bytecode_of(&l);
        assert_eq!((b.files, b.sources_without_bytecode), (0, 2));
    }
}
