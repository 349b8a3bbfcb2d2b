//! A copy of a local project directory to build from, so a backend's `build/` and
//! `*.egg-info` never land in the user's tree.

use std::path::Path;

/// Top-level directories never copied: version control, virtual environments, caches and
/// earlier build outputs.
const SKIPPED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".pylayer",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    "build",
    "dist",
];

/// Copies the project at `from` into `to` (regular files and directories; symbolic links to
/// files are copied as files, other links skipped).
pub fn copy_project(from: &Path, to: &Path) -> Result<(), String> {
    if !from.is_dir() {
        return Err(format!(
            "{} is not a directory: a local project is a directory with a pyproject.toml or setup.py",
            from.display()
        ));
    }
    copy_dir(from, to, true)
}

fn copy_dir(from: &Path, to: &Path, top: bool) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let rd = std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for e in rd.flatten() {
        let name = e.file_name();
        let n = name.to_string_lossy();
        if n == "__pycache__" || (top && SKIPPED.contains(&n.as_ref())) {
            continue;
        }
        let src = e.path();
        let dst = to.join(&name);
        let meta = std::fs::metadata(&src);
        match meta {
            Ok(m) if m.is_dir() => {
                if e.file_type().is_ok_and(|t| t.is_symlink()) {
                    continue;
                }
                copy_dir(&src, &dst, false)?;
            }
            Ok(m) if m.is_file() => {
                std::fs::copy(&src, &dst)
                    .map_err(|e| format!("cannot copy {}: {e}", src.display()))?;
            }
            _ => {}
        }
    }
    Ok(())
}
