//! Where imports look, as on Lambda: the function's code directory (/var/task) first, then
//! the layer's import roots; and which module a `--entry` names.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// The layer's import roots under `base` (an unpacked layer), in Lambda's order:
/// `python/lib/python3.X/site-packages`, then `python`. Empty when it has neither.
pub fn layer_roots(base: &Path, minor: u8) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let sp = base.join(format!("python/lib/python3.{minor}/site-packages"));
    if sp.is_dir() {
        paths.push(sp);
    }
    if base.join("python").is_dir() {
        paths.push(base.join("python"));
    }
    paths
}

/// Whether `module` (dotted) is a module or package under `dir`.
fn exists_under(dir: &Path, module: &str) -> bool {
    let rel: PathBuf = module.split('.').collect();
    let pkg = dir.join(&rel);
    if pkg.join("__init__.py").is_file() {
        return true;
    }
    let Some(name) = rel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return false;
    };
    let parent = pkg.parent().unwrap_or(dir);
    if parent.join(format!("{name}.py")).is_file() {
        return true;
    }
    // An extension module: NAME.cpython-312-x86_64-linux-gnu.so, NAME.abi3.so, NAME.so.
    std::fs::read_dir(parent).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let f = e.file_name().to_string_lossy().into_owned();
            f.ends_with(".so") && f.split('.').next() == Some(name.as_str())
        })
    })
}

/// The module to import for `--entry`: a module of the function's code directory, or a
/// Lambda handler string (`app.lambda_handler` names module `app`).
pub fn resolve_entry(code_dir: &Path, entry: &str) -> Result<String> {
    let valid = !entry.is_empty()
        && entry.split('.').all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !p.starts_with(|c: char| c.is_ascii_digit())
        });
    if !valid {
        bail!(
            "--entry `{entry}` is not a module name: give the handler's module (`app` or `pkg.app`) or the function's handler setting (`app.lambda_handler`)"
        );
    }
    if exists_under(code_dir, entry) {
        return Ok(entry.to_string());
    }
    if let Some((module, _function)) = entry.rsplit_once('.')
        && exists_under(code_dir, module)
    {
        return Ok(module.to_string());
    }
    bail!(
        "--entry `{entry}`: no module `{entry}` (nor, as a handler, its module) in the function's code directory {}: give the directory that holds it with --code DIR",
        code_dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_a_module_or_a_handler_string() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("app.py"), "def lambda_handler(e, c): pass\n").unwrap();
        std::fs::create_dir_all(d.path().join("pkg/sub")).unwrap();
        std::fs::write(d.path().join("pkg/__init__.py"), "").unwrap();
        std::fs::write(d.path().join("pkg/sub/__init__.py"), "").unwrap();
        std::fs::write(d.path().join("pkg/sub/h.py"), "").unwrap();
        assert_eq!(resolve_entry(d.path(), "app").unwrap(), "app");
        assert_eq!(
            resolve_entry(d.path(), "app.lambda_handler").unwrap(),
            "app"
        );
        assert_eq!(resolve_entry(d.path(), "pkg.sub.h").unwrap(), "pkg.sub.h");
        assert_eq!(
            resolve_entry(d.path(), "pkg.sub.h.handle").unwrap(),
            "pkg.sub.h"
        );
        assert_eq!(resolve_entry(d.path(), "pkg").unwrap(), "pkg");
        let e = resolve_entry(d.path(), "missing.handler")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--code DIR"), "{e}");
        let e = resolve_entry(d.path(), "app-1").unwrap_err().to_string();
        assert!(e.contains("not a module name"), "{e}");
    }

    #[test]
    fn roots_follow_lambdas_order() {
        let d = tempfile::tempdir().unwrap();
        assert!(layer_roots(d.path(), 12).is_empty());
        std::fs::create_dir_all(d.path().join("python/lib/python3.12/site-packages")).unwrap();
        let roots = layer_roots(d.path(), 12);
        assert_eq!(roots.len(), 2);
        assert!(roots[0].ends_with("site-packages"));
        assert!(roots[1].ends_with("python"));
        assert_eq!(layer_roots(d.path(), 11).len(), 1);
    }
}
