//! Local projects: a team's own package as a directory (`./shared-lib`, `name @ file:///…`,
//! `local = [...]`, `--include-project`), built into a wheel before resolution.
//!
//! A lock records such a project by its path relative to the project root and a hash of its
//! sources, never by an absolute path: moving the project keeps the lock, and editing the
//! package's code changes it (`lock --check` then fails naming it).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Directories never part of a project's sources: version control, virtual environments,
/// caches and build outputs (a build must not change the hash of what it built).
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    "build",
    "dist",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    ".pylayer",
];

/// pylayer's own lock files (`pylayer.lock`, `pylayer.ENV.lock`): written by the run that
/// hashes the project when the project includes itself (`--include-project`).
fn is_lock_file(name: &str) -> bool {
    name.starts_with("pylayer.") && name.ends_with(".lock")
}

/// One local project as the inputs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalProject {
    /// Where it is on this machine (absolute).
    pub path: PathBuf,
    /// Its path relative to the project root, `/`-separated: what the lock records.
    pub recorded: String,
    /// `sha256:<hex>` of its sources ([`source_hash`]).
    pub source_hash: String,
    /// The distribution name the user wrote (`name @ file:///…`), if any.
    pub name: Option<String>,
    /// Extras and marker as written (`[cli]`, `python_version >= "3.10"`), possibly empty.
    pub extras: String,
    pub marker: String,
    /// Where it was named, for messages (`requirements.txt:3`, `pylayer.toml`).
    pub origin: String,
}

impl LocalProject {
    /// Checks `path` is a project directory and hashes its sources; `root` is the project
    /// root the lock records paths against.
    pub fn open(path: &Path, root: &Path, origin: &str) -> Result<LocalProject, String> {
        validate(path).map_err(|e| format!("{origin}: {e}"))?;
        let source_hash = source_hash(path).map_err(|e| {
            format!(
                "{origin}: cannot read the local project {}: {e}",
                path.display()
            )
        })?;
        let real = crate::fsutil::real_or_absolute(path);
        let recorded = crate::fsutil::relative_path(&real, root)
            .unwrap_or_else(|| real.to_string_lossy().replace('\\', "/"));
        Ok(LocalProject {
            path: real,
            recorded,
            source_hash,
            name: None,
            extras: String::new(),
            marker: String::new(),
            origin: origin.to_string(),
        })
    }

    /// The line the inputs digest gets: the relative path and the hash, not where it is.
    pub fn digest_line(&self) -> String {
        format!(
            "local {} {} name={} extras={} marker={}",
            self.recorded,
            self.source_hash,
            self.name.as_deref().unwrap_or(""),
            self.extras,
            self.marker
        )
    }
}

/// A directory with a `pyproject.toml` or a `setup.py` at its root; otherwise an error naming
/// the path and what is missing, with the fix.
pub fn validate(path: &Path) -> Result<(), String> {
    if !path.exists() {
        return Err(format!(
            "local project {} does not exist; fix the path (it is relative to the file that \
             names it, or to the working directory on the command line)",
            path.display()
        ));
    }
    if !path.is_dir() {
        return Err(format!(
            "local project {} is not a directory; name the project's directory (the one with \
             its pyproject.toml), or a .whl file",
            path.display()
        ));
    }
    if !path.join("pyproject.toml").is_file() && !path.join("setup.py").is_file() {
        return Err(format!(
            "local project {} has neither a pyproject.toml nor a setup.py at its root, so it \
             cannot be built; name the directory that has one, or add a pyproject.toml with a \
             [build-system] table",
            path.display()
        ));
    }
    Ok(())
}

/// `sha256:<hex>` of a project's sources: every file under `dir` except [`SKIPPED_DIRS`],
/// `*.egg-info` and pylayer's lock files, in sorted order, each as its relative path, its executable bit and its
/// contents. Where the directory is does not count; file times do not either.
pub fn source_hash(dir: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    walk(dir, "", &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    for rel in files {
        let path = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&path)?;
        h.update(rel.as_bytes());
        h.update([0]);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            h.update(b"link\0");
            h.update(target.to_string_lossy().as_bytes());
        } else {
            h.update(if executable(&meta) { b"x\0" } else { b"f\0" });
            h.update(meta.len().to_le_bytes());
            let mut f = std::fs::File::open(&path)?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
        h.update([0]);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn skipped(name: &str) -> bool {
    SKIPPED_DIRS.contains(&name) || name.ends_with(".egg-info")
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if !skipped(&name) {
                walk(&entry.path(), &rel, out)?;
            }
        } else if (ty.is_file() || ty.is_symlink()) && !is_lock_file(&name) {
            out.push(rel);
        }
    }
    Ok(())
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path) {
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        std::fs::write(dir.join("pyproject.toml"), "[project]\nname = \"pkg\"\n").unwrap();
        std::fs::write(dir.join("pkg/__init__.py"), "X = 1\n").unwrap();
    }

    #[test]
    fn the_hash_ignores_location_and_caches_but_not_code() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        project(a.path());
        project(&b.path().join("elsewhere"));
        let ha = source_hash(a.path()).unwrap();
        assert_eq!(ha, source_hash(&b.path().join("elsewhere")).unwrap());
        for skipped in [
            "pylayer.lock",
            "pylayer.prod.lock",
            ".pylayer/published.json",
            ".git/HEAD",
            "pkg/__pycache__/x.pyc",
            "build/lib/x.py",
            "pkg.egg-info/PKG-INFO",
            ".venv/pyvenv.cfg",
        ] {
            let p = a.path().join(skipped);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "noise").unwrap();
        }
        assert_eq!(ha, source_hash(a.path()).unwrap());
        std::fs::write(a.path().join("pkg/__init__.py"), "X = 2\n").unwrap();
        let edited = source_hash(a.path()).unwrap();
        assert_ne!(ha, edited);
        // A new file counts too, and so does the executable bit.
        std::fs::write(a.path().join("pkg/tool.py"), "").unwrap();
        let added = source_hash(a.path()).unwrap();
        assert_ne!(edited, added);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = a.path().join("pkg/tool.py");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_ne!(added, source_hash(a.path()).unwrap());
        }
    }

    #[test]
    fn validation_names_the_path_and_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = validate(&dir.path().join("nope")).unwrap_err();
        assert!(
            err.contains("nope") && err.contains("does not exist"),
            "{err}"
        );
        let err = validate(dir.path()).unwrap_err();
        assert!(
            err.contains("neither a pyproject.toml nor a setup.py"),
            "{err}"
        );
        std::fs::write(dir.path().join("setup.py"), "").unwrap();
        assert!(validate(dir.path()).is_ok());
    }

    #[test]
    fn open_records_the_path_relative_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("app");
        std::fs::create_dir_all(&root).unwrap();
        project(&dir.path().join("shared-lib"));
        let p = LocalProject::open(&root.join("../shared-lib"), &root, "pylayer.toml").unwrap();
        assert_eq!(p.recorded, "../shared-lib");
        assert!(p.digest_line().starts_with("local ../shared-lib sha256:"));
        let err = LocalProject::open(&root, &root, "requirements.txt:2").unwrap_err();
        assert!(
            err.starts_with("requirements.txt:2: local project"),
            "{err}"
        );
    }
}
