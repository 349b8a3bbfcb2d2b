//! `--include DIR` / `include = ["vendor"]`: files that are not in any wheel (a system
//! library such as `libodbc.so.2`, a helper executable) copied into the layer.
//!
//! Where a file lands: Lambda extracts a layer under `/opt`, puts `/opt/lib` on
//! `LD_LIBRARY_PATH`, `/opt/bin` on `PATH` and `/opt/python` on `sys.path`. So an included
//! directory is laid over the layer's root and may only hold those three directories:
//! - `--include vendor` with `vendor/lib/libodbc.so.2` and `vendor/bin/tool` gives
//!   `lib/libodbc.so.2` (`/opt/lib/libodbc.so.2`) and `bin/tool` (`/opt/bin/tool`);
//! - a directory that is itself named `lib`, `bin` or `python` lands as that directory:
//!   `--include vendor/lib` with `vendor/lib/libodbc.so.2` gives `lib/libodbc.so.2`.
//!
//! A file anywhere else is an error naming it (a stray README would otherwise ship at /opt).
//! Symbolic links are followed only when they point at a regular file inside the included
//! directory (`libodbc.so.2 -> libodbc.so.2.0.0`), and the file is copied under the link's
//! name; any other link is an error. Files are copied as they are (no slimming, stripping or
//! bytecode), with mode 0755 when executable (anything under `bin/`, or a file with an
//! execute bit) and 0644 otherwise, and belong to no distribution. The check treats them like
//! wheel contents: ELF files are checked against the runtime, and a library in `lib/`
//! satisfies what other binaries need.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::{Entry, Mode, Plan, Source};

/// The layer directories an included directory may hold.
pub const LAYER_DIRS: &[&str] = &["lib", "bin", "python"];

/// One file to copy into the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Included {
    /// Its path in the zip (`lib/libodbc.so.2`).
    pub path: String,
    /// The file on disk (the link's path for a followed link).
    pub source: PathBuf,
    pub size: u64,
    pub executable: bool,
}

/// An included file, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestIncluded {
    /// Path in the layer (`lib/libodbc.so.2`, `/opt/lib/libodbc.so.2` on Lambda).
    pub path: String,
    /// The file it was copied from, as given (relative to the working directory).
    pub from: String,
    pub bytes: u64,
}

/// Every file of the included directories, sorted by layer path. The error names the
/// directory or file, why, and what to do.
pub fn collect(dirs: &[PathBuf]) -> Result<Vec<Included>, String> {
    let mut out: Vec<Included> = Vec::new();
    for dir in dirs {
        let meta = std::fs::metadata(dir).map_err(|e| {
            format!(
                "--include {}: {e}; give a directory holding lib/, bin/ or python/",
                dir.display()
            )
        })?;
        if !meta.is_dir() {
            return Err(format!(
                "--include {}: not a directory; put the file in a directory's lib/ (libraries), bin/ (executables) or python/ (modules) and include that directory",
                dir.display()
            ));
        }
        let root = dir
            .canonicalize()
            .map_err(|e| format!("--include {}: {e}", dir.display()))?;
        // `vendor/lib` lands as `lib/`; `vendor` must hold lib/, bin/ or python/.
        let landing = dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| LAYER_DIRS.contains(n))
            .map(str::to_string);
        let mut files = Vec::new();
        walk(dir, &root, "", &mut files)?;
        if files.is_empty() {
            return Err(format!(
                "--include {}: the directory holds no files; put libraries in its lib/, executables in its bin/, or leave it out",
                dir.display()
            ));
        }
        for (rel, source, size, exec_bit) in files {
            let path = match &landing {
                Some(top) => format!("{top}/{rel}"),
                None => {
                    let top = rel.split('/').next().unwrap_or_default();
                    if !rel.contains('/') || !LAYER_DIRS.contains(&top) {
                        return Err(format!(
                            "--include {}: {} is outside lib/, bin/ and python/; an included directory is laid over the layer's root (/opt on Lambda), where only lib/ (on LD_LIBRARY_PATH), bin/ (on PATH) and python/ (on sys.path) are used: move the file into one of them, or out of {}",
                            dir.display(),
                            source.display(),
                            dir.display()
                        ));
                    }
                    rel.clone()
                }
            };
            if let Some(other) = out.iter().find(|i| i.path == path) {
                return Err(format!(
                    "--include: {} and {} both land at {path} in the layer; keep one of them",
                    other.source.display(),
                    source.display()
                ));
            }
            let executable = exec_bit || path.starts_with("bin/");
            out.push(Included {
                path,
                source,
                size,
                executable,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Files under `dir` (relative path, path on disk, size, execute bit), links followed only
/// to regular files inside `root`.
fn walk(
    dir: &Path,
    root: &Path,
    rel: &str,
    out: &mut Vec<(String, PathBuf, u64, bool)>,
) -> Result<(), String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("--include: cannot read {}: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--include: cannot read {}: {e}", dir.display()))?;
    names.sort();
    for path in names {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                format!(
                    "--include: {} is not a UTF-8 file name, which a zip entry needs: rename it",
                    path.display()
                )
            })?
            .to_string();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| format!("--include: {}: {e}", path.display()))?;
        let meta = if meta.file_type().is_symlink() {
            let target = path.canonicalize().map_err(|e| {
                format!(
                    "--include: {} is a symbolic link that does not resolve ({e}): remove it or copy the file it meant",
                    path.display()
                )
            })?;
            let target_meta = std::fs::metadata(&target)
                .map_err(|e| format!("--include: {}: {e}", target.display()))?;
            if !target.starts_with(root) || !target_meta.is_file() {
                return Err(format!(
                    "--include: {} is a symbolic link to {}, {}; only links to files inside the included directory are followed: copy the file in place of the link",
                    path.display(),
                    target.display(),
                    if target_meta.is_file() {
                        "outside the included directory"
                    } else {
                        "which is not a regular file"
                    }
                ));
            }
            target_meta
        } else {
            meta
        };
        if meta.is_dir() {
            walk(&path, root, &child, out)?;
        } else if meta.is_file() {
            out.push((child, path, meta.len(), exec_bit(&meta)));
        } else {
            return Err(format!(
                "--include: {} is neither a file nor a directory (a device, socket or pipe): remove it from the included directory",
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn exec_bit(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn exec_bit(_: &std::fs::Metadata) -> bool {
    false
}

/// Adds the files to the plan; a path a wheel already installs is an error naming both.
pub fn add_to_plan(plan: &mut Plan, files: &[Included]) -> anyhow::Result<Vec<ManifestIncluded>> {
    let mut listed = Vec::with_capacity(files.len());
    for f in files {
        if plan.get(&f.path).is_some() {
            anyhow::bail!(
                "--include: {} would land at {}, which a wheel already installs: rename or remove the file (or leave that distribution out with --exclude)",
                f.source.display(),
                f.path
            );
        }
        plan.add(
            f.path.clone(),
            Entry {
                source: Source::File(f.source.clone()),
                mode: if f.executable {
                    Mode::Executable
                } else {
                    Mode::File
                },
                dist: None,
                shared_with: Vec::new(),
            },
        )
        .map_err(|e| anyhow::anyhow!("--include {}: {e:#}", f.source.display()))?;
        listed.push(ManifestIncluded {
            path: f.path.clone(),
            from: f.source.display().to_string(),
            bytes: f.size,
        });
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in files {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f.as_bytes()).unwrap();
        }
        d
    }

    fn paths(v: &[Included]) -> Vec<&str> {
        v.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn a_directory_is_laid_over_the_layer_root() {
        let d = tree(&[
            "vendor/lib/libodbc.so.2",
            "vendor/bin/tool",
            "vendor/python/x.py",
        ]);
        let got = collect(&[d.path().join("vendor")]).unwrap();
        assert_eq!(paths(&got), ["bin/tool", "lib/libodbc.so.2", "python/x.py"]);
        assert!(got[0].executable, "bin/ is executable");
        assert!(!got[1].executable);
    }

    #[test]
    fn a_lib_directory_lands_as_lib() {
        let d = tree(&["vendor/lib/libodbc.so.2", "vendor/lib/sub/libx.so"]);
        let got = collect(&[d.path().join("vendor/lib")]).unwrap();
        assert_eq!(paths(&got), ["lib/libodbc.so.2", "lib/sub/libx.so"]);
    }

    #[test]
    fn files_outside_the_layer_dirs_are_named() {
        let d = tree(&["vendor/lib/libodbc.so.2", "vendor/README.md"]);
        let e = collect(&[d.path().join("vendor")]).unwrap_err();
        assert!(
            e.contains("README.md is outside lib/, bin/ and python/"),
            "{e}"
        );
        let e = collect(&[d.path().join("missing")]).unwrap_err();
        assert!(e.starts_with("--include "), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn links_inside_are_followed_and_outside_refused() {
        let d = tree(&["vendor/lib/libodbc.so.2.0.0", "secret.txt"]);
        let lib = d.path().join("vendor/lib");
        std::os::unix::fs::symlink("libodbc.so.2.0.0", lib.join("libodbc.so.2")).unwrap();
        let got = collect(std::slice::from_ref(&lib)).unwrap();
        assert_eq!(paths(&got), ["lib/libodbc.so.2", "lib/libodbc.so.2.0.0"]);
        assert_eq!(got[0].size, got[1].size);
        std::os::unix::fs::symlink(d.path().join("secret.txt"), lib.join("leak")).unwrap();
        let e = collect(&[lib]).unwrap_err();
        assert!(e.contains("outside the included directory"), "{e}");
    }

    #[test]
    fn two_includes_landing_on_one_path_are_refused() {
        let d = tree(&["a/lib/libx.so", "b/lib/libx.so"]);
        let e = collect(&[d.path().join("a"), d.path().join("b")]).unwrap_err();
        assert!(e.contains("both land at lib/libx.so"), "{e}");
    }
}
