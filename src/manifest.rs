//! The manifest: a JSON file written beside every layer zip (`dist/x.zip` → `dist/x.json`)
//! saying what is in it, for which runtime, how big it is against Lambda's limits and what
//! its hashes are; and the short human table printed after a build.
//!
//! The manifest is deterministic (packages sorted by name, no timestamps or host paths), so
//! it can be committed and diffed, and two builds of the same inputs write the same bytes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::assemble::AssembleReport;
use crate::domain::{MAX_DIRECT_UPLOAD_BYTES, MAX_UNZIPPED_BYTES};
use crate::lock::{LockedPackage, NotTaken};
use crate::plan::Layout;
use crate::target::Target;

/// Everything worth knowing about a built layer, as written to `NAME.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub pylayer_version: String,
    /// Layer name.
    pub name: String,
    /// Lambda runtime, `python3.12`.
    pub runtime: String,
    /// `3.12`.
    pub python: String,
    /// Lambda's architecture name, `x86_64` or `arm64`.
    pub architecture: String,
    /// `python` or `site-packages`.
    pub layout: String,
    /// File name of the zip (no directory, so the manifest does not depend on where it was built).
    pub zip: String,
    pub zip_bytes: u64,
    /// Sum of uncompressed sizes: what counts against Lambda's unzipped limit.
    pub unzipped_bytes: u64,
    /// Hex sha256 of the zip.
    pub sha256: String,
    /// base64(sha256(zip)), as Lambda's `CodeSha256`: compare with a published version.
    pub code_sha256: String,
    pub limits: Limits,
    /// Sorted by name.
    pub packages: Vec<ManifestPackage>,
    /// The bytecode compiled into the layer; absent when none was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytecode: Option<ManifestBytecode>,
    /// What slimming removed; absent when the build did not slim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slim: Option<ManifestSlim>,
    /// Files copied from `--include` directories, sorted by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included: Vec<crate::include::ManifestIncluded>,
    pub notes: Vec<String>,
    /// Packages not at their newest release, and why (from the lock).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<NotTaken>,
    /// Packages at another version than the lock's other targets have, and why (from the lock).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differs: Vec<NotTaken>,
}

/// What `--slim` and `slim-patterns` removed from the layer, per category of the trim
/// policy (`crate::slim::policy`): the same numbers `pylayer inspect` predicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSlim {
    /// Whether the default categories applied (`--slim`), or only patterns.
    pub defaults: bool,
    pub patterns: Vec<String>,
    pub removed_files: usize,
    /// Unzipped bytes saved: files removed and debug sections stripped.
    pub removed_bytes: u64,
    /// Shared objects whose debug sections were stripped (they stay in the layer).
    #[serde(default)]
    pub stripped_files: usize,
    /// Shared objects with debug sections left unstripped, because removing them could
    /// have moved what the loader reads.
    #[serde(default)]
    pub left_unstripped: Vec<LeftUnstripped>,
    /// Every category, zeros included.
    pub categories: Vec<crate::slim::CategoryTotal>,
}

/// A shared object `--slim` did not strip, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftUnstripped {
    /// Its path in the zip.
    pub path: String,
    pub reason: String,
}

/// How the layer's bytecode was made: which modules, by which interpreter (the magic number
/// and patch release decide the bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestBytecode {
    /// `all` or `imported`.
    pub mode: String,
    /// `3.12.1`: the CPython that compiled it.
    pub interpreter: String,
    /// Its path on the machine that built the layer.
    pub interpreter_path: String,
    /// `importlib.util.MAGIC_NUMBER` in hex.
    pub magic: String,
    /// `.pyc` files in the layer.
    pub files: usize,
    /// Sources left without bytecode because they do not compile.
    pub skipped: usize,
    /// For `imported`: what the start-up imports kept and left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportedBytecode>,
}

/// `--compile-bytecode=imported`: which start-up imports decided, and how much bytecode that
/// left out of the layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedBytecode {
    /// The handler module given with `--entry`; absent when every top-level module was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The modules imported to find what runs at start-up.
    pub modules: Vec<String>,
    /// `.pyc` kept (their modules were loaded).
    pub kept_files: usize,
    /// `.pyc` left out, and their uncompressed bytes.
    pub left_out_files: usize,
    pub left_out_bytes: u64,
    /// Imports that failed (their unreached modules have no bytecode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// Lambda's size limits the layer was measured against, recorded so a reader of the
/// manifest does not need to know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Function plus all its layers, unzipped: 262,144,000 bytes.
    pub unzipped_limit: u64,
    /// Largest zip accepted without going through S3: 52,428,800 bytes.
    pub direct_upload_limit: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            unzipped_limit: MAX_UNZIPPED_BYTES,
            direct_upload_limit: MAX_DIRECT_UPLOAD_BYTES,
        }
    }
}

/// One distribution in the layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPackage {
    pub name: String,
    pub version: String,
    /// The wheel it came from.
    pub filename: String,
    /// Wheel tag triple, `cp312-cp312-manylinux_2_17_x86_64`.
    pub tag: String,
    /// sha256 of the wheel.
    pub sha256: String,
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
    /// Built here from its source distribution (the release has no wheel for the target);
    /// `filename` and `sha256` are those of the wheel built.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub built_from_source: bool,
}

/// Where the manifest of a zip lives: beside it, same stem, `.json`.
pub fn manifest_path(zip: &Path) -> PathBuf {
    zip.with_extension("json")
}

/// Builds the manifest of a freshly assembled layer. `locked` supplies each package's
/// wheel file name and hash (matched by name).
pub fn build_manifest(
    name: &str,
    target: &Target,
    layout: Layout,
    zip: &Path,
    locked: &[LockedPackage],
    report: &AssembleReport,
) -> Manifest {
    let mut packages: Vec<ManifestPackage> = report
        .packages
        .iter()
        .map(|p| {
            let lp = locked.iter().find(|l| l.name == p.name);
            ManifestPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                filename: lp.map(|l| l.filename.clone()).unwrap_or_default(),
                tag: p.tag.clone(),
                sha256: lp
                    .map(|l| l.sha256.to_ascii_lowercase())
                    .unwrap_or_default(),
                unzipped_bytes: p.unzipped_bytes,
                zipped_bytes: p.zipped_bytes,
                built_from_source: lp.is_some_and(|l| l.built_from_source),
            }
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Manifest {
        pylayer_version: env!("CARGO_PKG_VERSION").to_string(),
        name: name.to_string(),
        runtime: target.runtime_name(),
        python: target.python_version(),
        architecture: target.arch.lambda_name().to_string(),
        layout: layout.as_str().to_string(),
        zip: zip
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        zip_bytes: report.zip_bytes,
        unzipped_bytes: report.unzipped_bytes,
        sha256: report.sha256_hex.clone(),
        code_sha256: report.code_sha256.clone(),
        limits: Limits::default(),
        packages,
        bytecode: None,
        slim: None,
        included: Vec::new(),
        notes: report.notes.clone(),
        held_back: Vec::new(),
        differs: Vec::new(),
    }
}

/// Writes the manifest as pretty JSON with a final newline, atomically (temporary file and
/// rename). Packages are sorted by name, so the bytes depend only on the content.
pub fn write(m: &Manifest, path: &Path) -> anyhow::Result<()> {
    let mut m = m.clone();
    m.packages.sort_by(|a, b| a.name.cmp(&b.name));
    let mut s = serde_json::to_string_pretty(&m)?;
    s.push('\n');
    crate::fsutil::write_atomic(path, s.as_bytes())
}

/// Reads a manifest, naming the file and the position of anything malformed.
pub fn read(path: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not a pylayer manifest: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

use crate::format::human_bytes;
use crate::format::thousands;

/// The table printed after a build: one line per package (name, version, wheel tag,
/// unzipped size), then totals against Lambda's limits, the hashes and the notes.
pub fn render_table(m: &Manifest) -> String {
    let mut packages: Vec<&ManifestPackage> = m.packages.iter().collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let header = ["package", "version", "wheel tag", "unzipped"];
    let rows: Vec<[String; 4]> = packages
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.version.clone(),
                p.tag.clone(),
                human_bytes(p.unzipped_bytes),
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    let mut out = String::new();
    out.push_str(&format!(
        "{} ({}, {}, layout {})\n",
        m.zip, m.runtime, m.architecture, m.layout
    ));
    out.push_str(&format!(
        "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}\n",
        header[0], header[1], header[2], header[3]
    ));
    for r in &rows {
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}\n",
            r[0], r[1], r[2], r[3]
        ));
    }
    if rows.is_empty() {
        out.push_str("(no packages)\n");
    }
    if !m.included.is_empty() {
        let bytes: u64 = m.included.iter().map(|i| i.bytes).sum();
        let mut shown: Vec<&str> = m.included.iter().take(5).map(|i| i.path.as_str()).collect();
        let more = format!("{} more", m.included.len().saturating_sub(5));
        if m.included.len() > 5 {
            shown.push(&more);
        }
        out.push_str(&format!(
            "included: {} file(s), {} ({})\n",
            m.included.len(),
            human_bytes(bytes),
            shown.join(", ")
        ));
    }

    let unzipped_limit = m.limits.unzipped_limit;
    let pct = |n: u64, of: u64| {
        if of == 0 {
            0.0
        } else {
            n as f64 * 100.0 / of as f64
        }
    };
    let unzipped_verdict = if m.unzipped_bytes > unzipped_limit {
        format!(
            "OVER the limit by {}",
            human_bytes(m.unzipped_bytes - unzipped_limit)
        )
    } else {
        format!(
            "{} left for the function and other layers",
            human_bytes(unzipped_limit - m.unzipped_bytes)
        )
    };
    out.push_str(&format!(
        "\nunzipped    {} of {} ({} bytes): {:.1}%, {}\n",
        human_bytes(m.unzipped_bytes),
        human_bytes(unzipped_limit),
        thousands(unzipped_limit),
        pct(m.unzipped_bytes, unzipped_limit),
        unzipped_verdict
    ));
    let upload_limit = m.limits.direct_upload_limit;
    let upload_verdict = if m.zip_bytes > upload_limit {
        "needs S3 upload (`pylayer publish ZIP --s3-bucket BUCKET`)"
    } else {
        "direct upload ok"
    };
    out.push_str(&format!(
        "zip         {} ({} bytes) vs {} direct-upload limit: {}\n",
        human_bytes(m.zip_bytes),
        thousands(m.zip_bytes),
        human_bytes(upload_limit),
        upload_verdict
    ));
    match &m.bytecode {
        Some(b) => out.push_str(
            &(format!(
                "bytecode    {} .pyc ({}), compiled by Python {}{}\n",
                b.files,
                b.mode,
                b.interpreter,
                if b.skipped > 0 {
                    format!("; {} source(s) do not compile", b.skipped)
                } else {
                    String::new()
                }
            ) + &match &b.imported {
                Some(i) => format!(
                    "            left out {} .pyc ({} bytes) of modules not imported at start-up\n",
                    i.left_out_files,
                    crate::format::thousands(i.left_out_bytes)
                ),
                None => String::new(),
            }),
        ),
        None => out.push_str("bytecode    none (--compile-bytecode makes cold starts faster)\n"),
    }
    if let Some(s) = &m.slim {
        let parts: Vec<String> = s
            .categories
            .iter()
            .filter(|c| c.files > 0)
            .map(|c| format!("{} {}", c.category, human_bytes(c.bytes)))
            .collect();
        out.push_str(&format!(
            "slim        removed {} files, {} ({} bytes){}\n",
            s.removed_files,
            human_bytes(s.removed_bytes),
            thousands(s.removed_bytes),
            if parts.is_empty() {
                String::new()
            } else {
                format!(": {}", parts.join(", "))
            }
        ));
        if s.stripped_files > 0 || !s.left_unstripped.is_empty() {
            out.push_str(&format!(
                "            stripped debug sections of {} shared object(s); {} left unstripped\n",
                s.stripped_files,
                s.left_unstripped.len()
            ));
        }
    }
    out.push_str(&format!("sha256      {}\n", m.sha256));
    out.push_str(&format!("CodeSha256  {}\n", m.code_sha256));
    for n in &m.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::AssembledPackage;
    use crate::target::Arch;

    fn report() -> AssembleReport {
        AssembleReport {
            packages: vec![
                AssembledPackage {
                    name: "numpy".into(),
                    version: "2.1.0".into(),
                    tag: "cp312-cp312-manylinux_2_17_x86_64".into(),
                    files: 900,
                    unzipped_bytes: 40_000_000,
                    zipped_bytes: 15_000_000,
                },
                AssembledPackage {
                    name: "idna".into(),
                    version: "3.7".into(),
                    tag: "py3-none-any".into(),
                    files: 20,
                    unzipped_bytes: 1500,
                    zipped_bytes: 700,
                },
            ],
            unzipped_bytes: 40_001_500,
            zip_bytes: 15_100_000,
            sha256_hex: "ab".repeat(32),
            code_sha256: "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=".into(),
            notes: vec![
                "left out pip 24.0 (installer tooling; list it explicitly to keep it)".into(),
            ],
        }
    }

    fn locked() -> Vec<LockedPackage> {
        ["numpy", "idna"]
            .iter()
            .map(|n| LockedPackage {
                name: n.to_string(),
                version: "x".into(),
                filename: format!("{n}-x-py3-none-any.whl"),
                url: String::new(),
                sha256: "CD".repeat(32),
                size: 1,
                dependencies: vec![],
                metadata_sha256: None,
                source_hash: None,
                built_from_source: false,
            })
            .collect()
    }

    fn manifest() -> Manifest {
        let t = Target::new(12, Arch::Arm64).unwrap();
        build_manifest(
            "deps",
            &t,
            Layout::Python,
            Path::new("dist/deps-py3.12-arm64.zip"),
            &locked(),
            &report(),
        )
    }

    #[test]
    fn builds_sorted_manifest() {
        let m = manifest();
        assert_eq!(m.runtime, "python3.12");
        assert_eq!(m.python, "3.12");
        assert_eq!(m.architecture, "arm64");
        assert_eq!(m.layout, "python");
        assert_eq!(m.zip, "deps-py3.12-arm64.zip");
        assert_eq!(m.limits.unzipped_limit, 262_144_000);
        assert_eq!(m.limits.direct_upload_limit, 52_428_800);
        assert_eq!(m.packages[0].name, "idna");
        assert_eq!(m.packages[0].filename, "idna-x-py3-none-any.whl");
        assert_eq!(m.packages[0].sha256, "cd".repeat(32));
        assert_eq!(m.packages[1].tag, "cp312-cp312-manylinux_2_17_x86_64");
    }

    #[test]
    fn round_trips_through_disk_deterministically() {
        let dir = tempfile::tempdir().unwrap();
        let path = manifest_path(&dir.path().join("dist/deps.zip"));
        assert_eq!(path, dir.path().join("dist/deps.json"));
        let m = manifest();
        write(&m, &path).unwrap();
        let first = std::fs::read(&path).unwrap();
        assert_eq!(read(&path).unwrap(), m);
        write(&read(&path).unwrap(), &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first);
        let text = String::from_utf8(first).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\"code_sha256\""));
    }

    #[test]
    fn read_names_the_file_on_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "{\"name\": 3}").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("x.json:1:"), "{err}");
    }

    #[test]
    fn table_lists_packages_limits_and_hashes() {
        let m = manifest();
        let t = render_table(&m);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("deps-py3.12-arm64.zip (python3.12, arm64"));
        assert!(lines[1].starts_with("package"));
        assert!(lines[2].starts_with("idna "));
        assert!(lines[2].ends_with("1.5 KB"));
        assert!(lines[3].starts_with("numpy"));
        assert!(lines[3].ends_with("38.1 MB"));
        // Columns line up.
        assert_eq!(lines[2].find("3.7"), lines[3].find("2.1.0"));
        assert_eq!(lines[2].len(), lines[3].len());
        assert!(t.contains("of 250.0 MB (262,144,000 bytes): 15.3%"), "{t}");
        assert!(
            t.contains("vs 50.0 MB direct-upload limit: direct upload ok"),
            "{t}"
        );
        assert!(t.contains(&format!("sha256      {}", "ab".repeat(32))));
        assert!(t.contains("CodeSha256  q6ur"));
        assert!(t.contains("note: left out pip 24.0"));
    }

    #[test]
    fn table_flags_limits() {
        let mut m = manifest();
        m.zip_bytes = 60 * 1024 * 1024;
        m.unzipped_bytes = 300 * 1024 * 1024;
        let t = render_table(&m);
        assert!(t.contains("needs S3 upload"), "{t}");
        assert!(t.contains("OVER the limit by 50.0 MB"), "{t}");
    }
}
