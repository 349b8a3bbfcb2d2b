//! A project's `[build-system]` table (PEP 518 / PEP 517): what to install before building,
//! and which backend to call. Without the table (or without `pyproject.toml`), PEP 517's
//! defaults: setuptools through its legacy backend.

use std::path::{Component, Path, PathBuf};

use crate::textpos::TextPos;

/// PEP 517's default requirements when `[build-system]` does not say.
pub const DEFAULT_REQUIRES: &[&str] = &["setuptools>=40.8.0"];
/// PEP 517's default backend: setuptools running `setup.py` as `pip` did.
pub const DEFAULT_BACKEND: &str = "setuptools.build_meta:__legacy__";

/// What the build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSystem {
    /// PEP 508 requirement strings.
    pub requires: Vec<String>,
    /// `module` or `module:object`.
    pub backend: String,
    /// Directories (absolute, inside the tree) put first on `sys.path` for an in-tree backend.
    pub backend_path: Vec<PathBuf>,
}

/// Reads `[build-system]` of the project at `root`.
pub fn read(root: &Path) -> Result<BuildSystem, String> {
    let file = root.join("pyproject.toml");
    let default = || BuildSystem {
        requires: DEFAULT_REQUIRES.iter().map(|s| s.to_string()).collect(),
        backend: DEFAULT_BACKEND.into(),
        backend_path: Vec::new(),
    };
    if !file.is_file() {
        if root.join("setup.py").is_file() || root.join("setup.cfg").is_file() {
            return Ok(default());
        }
        return Err(format!(
            "{} has neither pyproject.toml nor setup.py: it is not a Python project",
            root.display()
        ));
    }
    let text = crate::fsutil::read_capped_text(&file, 4 << 20).map_err(|e| e.to_string())?;
    let name = display_name(root, &file);
    let doc: toml::Table = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(":{}", TextPos::at(&text, s.start)))
            .unwrap_or_default();
        format!(
            "{name}{at}: not valid TOML: {}; fix the file (the project's maintainers publish it)",
            e.message()
        )
    })?;
    let Some(bs) = doc.get("build-system") else {
        return Ok(default());
    };
    let bs = bs
        .as_table()
        .ok_or_else(|| format!("{name}: [build-system] is not a table"))?;
    let strings = |key: &str| -> Result<Option<Vec<String>>, String> {
        match bs.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        format!("{name}: [build-system] {key} must be a list of strings")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!(
                "{name}: [build-system] {key} must be a list of strings"
            )),
        }
    };
    let backend = match bs.get("build-backend") {
        None => None,
        Some(toml::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(format!(
                "{name}: [build-system] build-backend must be a string"
            ));
        }
    };
    let requires = strings("requires")?;
    let backend_path = strings("backend-path")?.unwrap_or_default();
    let (requires, backend) = match (requires, backend) {
        (Some(r), Some(b)) => (r, b),
        // PEP 517: without build-backend, the legacy setuptools path, with the given
        // requirements (or setuptools when none).
        (Some(r), None) => (r, DEFAULT_BACKEND.to_string()),
        (None, b) => (
            DEFAULT_REQUIRES.iter().map(|s| s.to_string()).collect(),
            b.unwrap_or_else(|| DEFAULT_BACKEND.to_string()),
        ),
    };
    let mut paths = Vec::new();
    for p in backend_path {
        paths.push(inside(root, &p).ok_or_else(|| {
            format!(
                "{name}: [build-system] backend-path {p:?} leaves the project directory (PEP 517 forbids it)"
            )
        })?);
    }
    Ok(BuildSystem {
        requires,
        backend,
        backend_path: paths,
    })
}

/// `NAME-VERSION/pyproject.toml` for messages: the tree's own name, not the temp dir.
fn display_name(root: &Path, file: &Path) -> String {
    match root.file_name() {
        Some(n) => format!("{}/pyproject.toml", n.to_string_lossy()),
        None => file.display().to_string(),
    }
}

/// `root/rel` when `rel` is relative and stays under `root`.
fn inside(root: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    let mut out = root.to_path_buf();
    let mut depth = 0i32;
    for c in p.components() {
        match c {
            Component::Normal(s) => {
                out.push(s);
                depth += 1;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
                out.pop();
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(pyproject: Option<&str>, setup_py: bool) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        if let Some(t) = pyproject {
            std::fs::write(d.path().join("pyproject.toml"), t).unwrap();
        }
        if setup_py {
            std::fs::write(d.path().join("setup.py"), "").unwrap();
        }
        d
    }

    #[test]
    fn defaults_without_table() {
        let d = project(None, true);
        let bs = read(d.path()).unwrap();
        assert_eq!(bs.requires, vec!["setuptools>=40.8.0"]);
        assert_eq!(bs.backend, DEFAULT_BACKEND);
        let d = project(Some("[project]\nname='x'\n"), false);
        assert_eq!(read(d.path()).unwrap().backend, DEFAULT_BACKEND);
    }

    #[test]
    fn reads_table_and_backend_path() {
        let d = project(
            Some(
                "[build-system]\nrequires = []\nbuild-backend = \"be\"\nbackend-path = [\"_b\"]\n",
            ),
            false,
        );
        let bs = read(d.path()).unwrap();
        assert!(bs.requires.is_empty());
        assert_eq!(bs.backend, "be");
        assert_eq!(bs.backend_path, vec![d.path().join("_b")]);
        let d = project(
            Some(
                "[build-system]\nrequires = []\nbuild-backend = \"be\"\nbackend-path = [\"../x\"]\n",
            ),
            false,
        );
        assert!(read(d.path()).unwrap_err().contains("leaves the project"));
    }

    #[test]
    fn malformed_names_file_and_line() {
        let d = project(Some("[build-system]\nrequires = [\n"), false);
        let e = read(d.path()).unwrap_err();
        assert!(e.contains("pyproject.toml:"), "{e}");
        assert!(e.contains(":3:") || e.contains(":2:"), "{e}");
    }
}
