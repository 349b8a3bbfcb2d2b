//! After `build --slim`: import every top-level module of the written layer, as `pylayer
//! test` does, to catch a slimming rule (or a `slim-patterns` entry) that removed something
//! the code needs at run time. A failure whose error names a file or module slimming
//! removed is an error finding naming the module; any other import failure is a warning
//! (slimming does not explain it; `pylayer test` gives the details).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::{ModuleToTest, RunOptions, Status};
use crate::check::report::Finding;
use crate::interpreter::{self, Interpreter, Purpose, SearchPaths};
use crate::layer::Layer;
use crate::target::Target;

/// Names the build's flag in messages about the interpreter.
const PURPOSE: Purpose = Purpose {
    flag: "--python-interpreter",
    what: "to import the slimmed layer with",
};

/// What the import check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No interpreter could run the layer: why, and how to enable the check.
    Skipped(String),
    /// Every module imported, or the findings about those that did not.
    Checked {
        modules: usize,
        interpreter: String,
        findings: Vec<Finding>,
    },
}

/// The interpreter that imports a layer for `target`: `explicit` when given, else one
/// found on this machine (of the target's machine when the layer has compiled modules).
pub fn interpreter_for(
    layer_has_native: bool,
    target: &Target,
    explicit: Option<&Path>,
    memo: Option<PathBuf>,
) -> Result<Interpreter, interpreter::NotFound> {
    let arch = layer_has_native.then_some(target.arch);
    match explicit {
        Some(p) => interpreter::explicit(p, None, target.minor, arch, PURPOSE),
        None => interpreter::discover_in(
            target.minor,
            arch,
            PURPOSE,
            &SearchPaths {
                memo,
                ..SearchPaths::from_env()
            },
        ),
    }
}

/// Imports every public top-level module of the layer at `zip`. `removed` holds the layer
/// paths slimming removed (`python/pkg/testing/__init__.py`), `prefix` the import root they
/// are under (`python/`).
pub fn check(
    zip: &Path,
    target: &Target,
    explicit: Option<&Path>,
    memo: Option<PathBuf>,
    removed: &BTreeSet<String>,
    prefix: &str,
) -> Result<Outcome> {
    let layer = Layer::read(zip)?;
    let interp = match interpreter_for(layer.has_native, target, explicit, memo) {
        Ok(i) => i,
        Err(why) => {
            return Ok(Outcome::Skipped(format!(
                "the import check after slimming was skipped: {why}. To enable it, install a python3.{minor} for {arch} (pyenv, `uv python install 3.{minor}`) or name one with --python-interpreter (python-interpreter in pylayer.toml); `pylayer test ZIP` runs the same check later",
                minor = target.minor,
                arch = target.arch.machine(),
            )));
        }
    };
    let modules: Vec<ModuleToTest> = super::top_level_modules(&layer, false);
    // A layer over the size limit is not unpacked (the check reports its size).
    let (unpacked, _notes) = match super::unpack(zip) {
        Ok(u) => u,
        Err(e) => {
            return Ok(Outcome::Skipped(format!(
                "the import check after slimming was skipped: {e:#}"
            )));
        }
    };
    let base = unpacked.path().to_path_buf();
    let lib = base.join("lib");
    let opts = RunOptions {
        interpreter: &interp,
        paths: super::entry::layer_roots(&base, target.minor),
        code_dir: None,
        lib_dir: lib.is_dir().then_some(lib),
        timeout: Duration::from_secs(300),
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        layer_dir: base.clone(),
    };
    let mut results = super::run_imports(&modules, &opts);
    drop(unpacked);
    super::triage::soften_optional_failures(&layer, target, &mut results, &[], false);

    let removed_names = removed_names(removed, prefix);
    let mut findings = Vec::new();
    for r in results.iter().filter(|r| r.status.is_failure()) {
        // The exception line of the traceback (its frames name the temporary directory).
        let error = r
            .error
            .as_deref()
            .and_then(|e| e.lines().rev().find(|l| !l.trim().is_empty()))
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| match r.status {
                Status::TimedOut => "timed out".to_string(),
                _ => "failed".to_string(),
            });
        let culprit = removed_names.iter().find(|n| {
            error.contains(&format!("'{n}'")) || (n.contains('/') && error.contains(n.as_str()))
        });
        let f = match culprit {
            Some(name) => Finding::error(
                "import-after-slim",
                format!(
                    "`import {}` fails in the slimmed layer: {error} — slimming removed {name}",
                    r.module
                ),
                format!(
                    "keep it with a `!` slim pattern (`--slim-pattern '!{}'` or in slim-patterns), or build without --slim",
                    keep_pattern(name)
                ),
            ),
            None => Finding::warning(
                "import-after-slim",
                format!(
                    "`import {}` fails in the slimmed layer: {error} (nothing slimming removed is named in the error)",
                    r.module
                ),
                "`pylayer test ZIP` shows whether it fails without --slim too; if it does not, keep what it needs with a `!` slim pattern",
            ),
        };
        findings.push(f.at(r.module.clone()).in_dist(r.distribution.clone()));
    }
    Ok(Outcome::Checked {
        modules: modules.len(),
        interpreter: interp.describe(),
        findings,
    })
}

/// What the error of an import may name for each removed path: its module
/// (`pkg.testing`, `pkg.testing.utils`) and its path relative to the import root.
fn removed_names(removed: &BTreeSet<String>, prefix: &str) -> Vec<String> {
    let mut names = BTreeSet::new();
    for p in removed {
        let rel = p.strip_prefix(prefix).unwrap_or(p);
        names.insert(rel.to_string());
        if let Some(stem) = rel.strip_suffix(".py") {
            let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
            if !stem.is_empty() {
                names.insert(stem.replace('/', "."));
            }
        }
    }
    // Longest first, so the most specific name is reported.
    let mut v: Vec<String> = names.into_iter().collect();
    v.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    v
}

/// The `!` pattern that keeps a removed module or file: `pkg/testing/` for `pkg.testing`.
fn keep_pattern(name: &str) -> String {
    if name.contains('/') {
        name.to_string()
    } else {
        format!("{}/", name.replace('.', "/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_paths_become_module_names() {
        let removed: BTreeSet<String> = [
            "python/pkg/testing/__init__.py",
            "python/pkg/testing/utils.py",
            "python/pkg/data/x.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let n = removed_names(&removed, "python/");
        assert!(n.contains(&"pkg.testing".to_string()), "{n:?}");
        assert!(n.contains(&"pkg.testing.utils".to_string()), "{n:?}");
        assert!(n.contains(&"pkg/data/x.json".to_string()), "{n:?}");
        assert_eq!(keep_pattern("pkg.testing"), "pkg/testing/");
        assert_eq!(keep_pattern("pkg/data/x.json"), "pkg/data/x.json");
    }
}
