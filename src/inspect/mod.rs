//! `pylayer inspect`: where a layer's megabytes go. Sizes per distribution against Lambda's
//! 250 MB unzipped limit, the largest files, and what trimming would save (test packages,
//! type stubs, debug sections of shared objects, docs and examples), as a table, JSON or a
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
    /// Files `build --slim` removes, and the unzipped bytes it saves (the categories with
    /// `slim: true`, debug sections it strips included): the same trim policy and the same
    /// stripping function decide both.
    pub slim_files: usize,
    pub slim_bytes: u64,
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
    /// The slim policy's categories (`tests`, `stubs`, `sources`, `static-libs`,
    /// `foreign-binaries`, `patterns`, `debug-symbols`), then `docs`.
    pub category: String,
    pub description: String,
    /// Whether `build --slim` removes this category.
    pub slim: bool,
    pub files: usize,
    /// Unzipped bytes removing them would save.
    pub bytes: u64,
    /// The largest contributors (directories for tests/docs, files otherwise), largest first.
    pub examples: Vec<(String, u64)>,
}

fn pct(n: u64) -> f64 {
    (n as f64 * 10_000.0 / MAX_UNZIPPED_BYTES as f64).round() / 100.0
}

/// Which of the categories `--slim` does not remove a file falls in: docs and examples.
/// Files the slim policy removes are counted there instead. Returns the category and the
/// path of the directory (or file) to name as the contributor.
pub fn trim_category(rel: &str) -> Option<(&'static str, String)> {
    let parts: Vec<&str> = rel.split('/').collect();
    let (dirs, name) = parts.split_at(parts.len() - 1);
    let name = name[0];
    if crate::slim::policy::protected(rel) {
        return None;
    }
    if let Some(i) = dirs
        .iter()
        .position(|d| matches!(*d, "docs" | "doc" | "examples" | "example" | "samples"))
    {
        return Some(("docs", dirs[..=i].join("/") + "/"));
    }
    if !dirs.is_empty() && (name.ends_with(".md") || name.ends_with(".rst")) {
        return Some(("docs", rel.to_string()));
    }
    None
}

fn describe(_category: &str) -> &'static str {
    "docs and examples (docs/, examples/, *.md, *.rst); not removed by --slim"
}

/// Where a policy removal is shown as coming from: the test directory for tests, the
/// file otherwise.
fn contributor(path: &str, rel: &str, category: crate::slim::Category) -> String {
    if category == crate::slim::Category::Tests {
        let prefix = &path[..path.len() - rel.len()];
        let parts: Vec<&str> = rel.split('/').collect();
        if let Some(i) = parts[..parts.len() - 1]
            .iter()
            .position(|d| matches!(*d, "tests" | "test" | "testing"))
        {
            return format!("{prefix}{}/", parts[..=i].join("/"));
        }
    }
    path.to_string()
}

/// The layer's files as the trim policy sees them (paths relative to their import root,
/// `../…` for a file outside it, as the build's plan gives them).
fn policy_files(layer: &Layer) -> Vec<crate::slim::policy::File> {
    layer
        .files
        .iter()
        .map(|f| {
            let rel = layer.relative(f);
            let rel = if rel.len() == f.path.len() {
                match layer.roots.iter().max_by_key(|r| r.len()) {
                    Some(root) => crate::plan::relative_to(root, &f.path),
                    None => rel.to_string(),
                }
            } else {
                rel.to_string()
            };
            crate::slim::policy::File {
                rel,
                dist: f.dist,
                size: f.size,
            }
        })
        .collect()
}

/// What the trim policy removes from the layer at `zip` (read again for the sources whose
/// imports decide about test directories).
fn slim_removals(
    zip: &Path,
    layer: &Layer,
    files: &[crate::slim::policy::File],
    policy: &crate::slim::Policy,
) -> Result<Vec<crate::slim::policy::Removal>> {
    let mut archive: Option<zip::ZipArchive<std::io::BufReader<std::fs::File>>> = None;
    let mut read = |i: usize| -> Result<Vec<u8>> {
        if archive.is_none() {
            let file = std::fs::File::open(zip)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", zip.display()))?;
            archive = Some(
                zip::ZipArchive::new(std::io::BufReader::new(file))
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", zip.display()))?,
            );
        }
        let Some(a) = archive.as_mut() else {
            anyhow::bail!("cannot read {}", zip.display());
        };
        let path = &layer.files[i].path;
        // The reader drops a leading `./` from names; the zip may still have it.
        let index = a
            .index_for_name(path)
            .or_else(|| a.index_for_name(&format!("./{path}")))
            .ok_or_else(|| anyhow::anyhow!("{}: cannot find {path}", zip.display()))?;
        let entry = a
            .by_index(index)
            .map_err(|e| anyhow::anyhow!("{}: cannot read {path}: {e}", zip.display()))?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(entry, layer.files[i].size),
            &mut out,
        )
        .map_err(|e| anyhow::anyhow!("{}: cannot decompress {path}: {e}", zip.display()))?;
        Ok(out)
    };
    crate::slim::policy::decide(files, policy, &mut read)
}

/// A trimming category being counted: name, files, bytes, contributors.
type Tally = (&'static str, usize, u64, Vec<(String, u64)>);

/// Measures a layer zip, predicting what `build --slim` removes (no patterns).
pub fn inspect(path: &Path) -> Result<(Layer, Inspection)> {
    inspect_with(path, &[])
}

/// Measures a layer zip, predicting what `build --slim` with these `slim-patterns` removes.
pub fn inspect_with(path: &Path, slim_patterns: &[String]) -> Result<(Layer, Inspection)> {
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

    // What `--slim` removes: the trim policy's categories, exactly.
    let policy = crate::slim::Policy {
        defaults: true,
        patterns: crate::slim::pattern::Patterns::parse(slim_patterns)
            .map_err(|e| anyhow::anyhow!(e))?,
    };
    let files = policy_files(&layer);
    let removals = slim_removals(path, &layer, &files, &policy)?;
    let mut removed = vec![false; files.len()];
    let mut slim: Vec<(crate::slim::Category, Tally)> = crate::slim::Category::ALL
        .iter()
        .map(|c| (*c, (c.as_str(), 0, 0, Vec::new())))
        .collect();
    for r in &removals {
        removed[r.index] = true;
        let f = &layer.files[r.index];
        let Some((_, c)) = slim.iter_mut().find(|(c, _)| *c == r.category) else {
            continue;
        };
        c.1 += 1;
        c.2 += f.size;
        let who = contributor(&f.path, &files[r.index].rel, r.category);
        match c.3.iter_mut().find(|e| e.0 == who) {
            Some(e) => e.1 += f.size,
            None => c.3.push((who, f.size)),
        }
    }
    // Debug sections `--slim` strips from the shared objects distributions install (not
    // files added with `--include`): the very function the slim stage strips with, on the
    // same files.
    if let Some((_, c)) = slim
        .iter_mut()
        .find(|(c, _)| *c == crate::slim::Category::DebugSymbols)
    {
        for (i, f) in layer.files.iter().enumerate() {
            if f.strippable > 0
                && !removed[i]
                && f.dist.is_some()
                && crate::slim::strip::is_shared_object_name(&f.path)
            {
                c.1 += 1;
                c.2 += f.strippable;
                c.3.push((f.path.clone(), f.strippable));
            }
        }
    }
    let slim_files = removals.len();
    let slim_bytes: u64 = slim.iter().map(|(_, t)| t.2).sum();

    // What it does not remove: docs.
    let mut docs: Tally = ("docs", 0, 0, Vec::new());
    for (i, f) in layer.files.iter().enumerate() {
        if removed[i] {
            continue;
        }
        let rel = layer.relative(f);
        if let Some((_, contributor)) = trim_category(rel) {
            docs.1 += 1;
            docs.2 += f.size;
            let prefix = &f.path[..f.path.len() - rel.len()];
            let who = format!("{prefix}{contributor}");
            match docs.3.iter_mut().find(|e| e.0 == who) {
                Some(e) => e.1 += f.size,
                None => docs.3.push((who, f.size)),
            }
        }
    }
    let with_policy = slim
        .into_iter()
        .filter(|(c, t)| *c != crate::slim::Category::Patterns || t.1 > 0)
        .map(|(c, t)| (t, Some(c.description())));
    let others = [docs].into_iter().map(|t| (t, None));
    let trim: Vec<TrimCategory> = with_policy
        .chain(others)
        .map(|((cat, files, bytes, mut ex), policy_description)| {
            ex.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ex.truncate(5);
            TrimCategory {
                category: cat.to_string(),
                description: policy_description
                    .unwrap_or_else(|| describe(cat))
                    .to_string(),
                slim: policy_description.is_some(),
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
        slim_files,
        slim_bytes,
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
    let share = |n: u64| {
        if i.unzipped_bytes == 0 {
            0.0
        } else {
            n as f64 * 100.0 / i.unzipped_bytes as f64
        }
    };
    out.push_str(&format!(
        "total       {} ({:.1}% of the layer)\n",
        human_bytes(i.trim_total_bytes),
        share(i.trim_total_bytes)
    ));
    out.push_str(&format!(
        "build --slim removes {} files and strips debug sections, saving {} ({} bytes, {:.1}% of the layer): every category but docs\n",
        i.slim_files,
        human_bytes(i.slim_bytes),
        crate::format::thousands(i.slim_bytes),
        share(i.slim_bytes)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_slim_does_not_remove() {
        assert_eq!(
            trim_category("pkg/examples/x.py"),
            Some(("docs", "pkg/examples/".into()))
        );
        assert_eq!(trim_category("pkg-1.0.dist-info/README.md"), None);
        assert_eq!(trim_category("README.md"), None);
        assert_eq!(trim_category("pkg/README.md").map(|c| c.0), Some("docs"));
        assert_eq!(trim_category("numpy/random/LICENSE.md"), None);
        assert_eq!(
            contributor(
                "python/pandas/tests/frame/t.py",
                "pandas/tests/frame/t.py",
                crate::slim::Category::Tests
            ),
            "python/pandas/tests/"
        );
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
