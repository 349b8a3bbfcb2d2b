//! `--compile-bytecode=imported`: bytecode only for the modules a function imports at start-up,
//! for layers close to Lambda's 250 MB limit.
//!
//! What is imported at start-up is found by doing it, as `pylayer test` does: the planned
//! layer (with its full bytecode, so the imports are quick) is written to a read-only
//! temporary directory, and a fresh interpreter of the target's minor imports each public
//! top-level module of the layer — or only the function's handler module, from its code
//! directory first on `sys.path` (`--entry`). importlib itself tells which of the layer's
//! files were loaded; every other `.pyc` leaves the plan. A module imported later, inside a
//! handler call, then compiles from source when it is first imported: correct, only slower.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::interpreter::Interpreter;
use crate::layer_test::{self, ModuleToTest, RunOptions, Status};
use crate::plan::{Mode as FileMode, Plan, Source};

/// Where the start-up imports begin: every public top-level module of the layer, or a
/// function's handler module.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// The function's code directory and the handler's module (`--entry`, `--code`).
    pub entry: Option<(PathBuf, String)>,
    /// How long one import may take.
    pub timeout: Duration,
    /// Imports run at once.
    pub jobs: usize,
}

/// What the start-up imports loaded.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// The modules imported (the roots of the search).
    pub modules: Vec<String>,
    /// Paths in the layer of the sources whose code was loaded (`python/pkg/m.py`).
    pub loaded: BTreeSet<String>,
    /// One line per module that failed to import: its own modules stay without bytecode.
    pub failures: Vec<String>,
    /// Whether an import ran out of time (then the answer depends on the machine's load).
    pub timed_out: bool,
}

/// What leaving out the bytecode of modules not imported at start-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// `.pyc` files kept and left out.
    pub kept: usize,
    pub left_out: usize,
    /// Uncompressed bytes of the `.pyc` left out.
    pub left_out_bytes: u64,
}

/// Imports what a function imports at start-up from the planned layer with `interp`, whose
/// machine must be able to load the layer's compiled modules.
pub fn discover(plan: &mut Plan, interp: &Interpreter, startup: &Startup) -> Result<Imported> {
    let dir = tempfile::Builder::new()
        .prefix("pylayer-imported-")
        .tempdir()
        .context("cannot create a temporary directory to import the layer from")?;
    let registered = crate::cleanup::register(dir.path());
    let unpacked = layer_test::Unpacked::from_dir(dir, registered);
    materialize(plan, unpacked.path())?;
    layer_test::set_tree_readonly(unpacked.path());

    let base = unpacked.path().to_path_buf();
    let roots = layer_test::entry::layer_roots(&base, interp.version.1);
    let modules: Vec<ModuleToTest> = match &startup.entry {
        Some((_, module)) => vec![ModuleToTest {
            module: module.clone(),
            distribution: None,
        }],
        None => top_level_modules(plan)
            .into_iter()
            .map(|module| ModuleToTest {
                module,
                distribution: None,
            })
            .collect(),
    };
    let code_dir = startup.entry.as_ref().map(|(d, _)| d.clone());
    let lib = base.join("lib");
    let opts = RunOptions {
        interpreter: interp,
        paths: code_dir.iter().cloned().chain(roots).collect(),
        code_dir,
        lib_dir: lib.is_dir().then_some(lib),
        timeout: startup.timeout,
        jobs: startup.jobs.max(1),
        layer_dir: base,
    };
    let results = layer_test::run_imports(&modules, &opts);
    let mut out = Imported {
        modules: modules.into_iter().map(|m| m.module).collect(),
        ..Imported::default()
    };
    for r in results {
        // A failed import still loaded what it reached; what it did not reach stays
        // without bytecode.
        out.loaded.extend(r.loaded.into_iter().map(|l| l.path));
        out.timed_out |= r.status == Status::TimedOut;
        if r.status.is_failure() || r.status == Status::NeedsRuntime {
            let why = r
                .error
                .as_deref()
                .unwrap_or("")
                .lines()
                .last()
                .unwrap_or("");
            out.failures.push(format!("{}: {why}", r.module));
        }
    }
    drop(unpacked);
    Ok(out)
}

/// The public top-level modules of a plan: packages (`pkg/__init__.py`), modules (`m.py`) and
/// extension modules directly under its import root; private (`_x`) and test names left
/// out, as `pylayer test` does. A namespace package (a top-level directory without
/// `__init__.py`, such as `opentelemetry` or `google`) has nothing of its own to import, so
/// its public subpackages and modules are imported instead (`opentelemetry.trace`).
pub fn top_level_modules(plan: &Plan) -> Vec<String> {
    let prefix = plan.prefix().to_string();
    let rels: Vec<&str> = plan
        .entries()
        .filter_map(|(path, _)| path.strip_prefix(prefix.as_str()))
        .collect();
    let mut found = BTreeSet::new();
    let mut regular = BTreeSet::new();
    for rel in &rels {
        if let Some(m) = crate::layer_test::top_level_module(rel)
            && is_public_name(m)
        {
            found.insert(m.to_string());
            regular.insert(m.to_string());
        }
    }
    for rel in &rels {
        let parts: Vec<&str> = rel.split('/').collect();
        let (ns, sub) = match parts.as_slice() {
            [ns, sub, "__init__.py"] => (*ns, *sub),
            [ns, file] if file.ends_with(".py") => (*ns, file.trim_end_matches(".py")),
            _ => continue,
        };
        if !regular.contains(ns) && is_public_name(ns) && is_public_name(sub) {
            found.insert(format!("{ns}.{sub}"));
        }
    }
    found.into_iter().collect()
}

/// A module name a start-up search imports: an identifier, not private, not a test.
fn is_public_name(m: &str) -> bool {
    !m.is_empty()
        && !m.starts_with('_')
        && !matches!(m, "test" | "tests" | "testing" | "conftest")
        && !m.starts_with("test_")
        && m.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !m.starts_with(|c: char| c.is_ascii_digit())
}

/// Removes from `plan` each `.pyc` of `added` (`.pyc` path, source path) whose source was not
/// loaded.
pub fn keep_loaded(
    plan: &mut Plan,
    added: &[(String, String)],
    loaded: &BTreeSet<String>,
) -> Trimmed {
    let mut t = Trimmed::default();
    for (pyc, source) in added {
        if loaded.contains(source) {
            t.kept += 1;
        } else if let Some(e) = plan.remove(pyc) {
            t.left_out += 1;
            t.left_out_bytes += match &e.source {
                Source::Wheel(w) | Source::Archive { entry: w, .. } => w.size,
                Source::Bytes(b) => b.len() as u64,
                Source::File(f) => std::fs::metadata(f).map_or(0, |m| m.len()),
            };
        }
    }
    t
}

/// Writes every entry of the plan under `dir` (paths were checked when planned). Entries of
/// cached bytecode archives are read with one open archive each.
fn materialize(plan: &mut Plan, dir: &Path) -> Result<()> {
    let mut archived: HashMap<PathBuf, Vec<(String, usize, u64)>> = HashMap::new();
    let mut direct: Vec<(String, FileMode)> = Vec::new();
    for (path, entry) in plan.entries() {
        match &entry.source {
            Source::Archive { archive, entry: e } => archived
                .entry(archive.clone())
                .or_default()
                .push((path.to_string(), e.index, e.size)),
            _ => direct.push((path.to_string(), entry.mode)),
        }
    }
    for (path, mode) in direct {
        let bytes = plan.read(&path)?;
        write_file(dir, &path, &bytes, mode)?;
    }
    for (archive, entries) in archived {
        let file = std::fs::File::open(&archive)
            .with_context(|| format!("cannot open {}", archive.display()))?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
            .with_context(|| format!("{} is not a valid zip", archive.display()))?;
        for (path, index, size) in entries {
            let f = zip
                .by_index(index)
                .with_context(|| format!("cannot read {}: {path}", archive.display()))?;
            let mut bytes = Vec::with_capacity(size as usize);
            f.take(size)
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot decompress {}: {path}", archive.display()))?;
            write_file(dir, &path, &bytes, FileMode::File)?;
        }
    }
    Ok(())
}

fn write_file(dir: &Path, path: &str, bytes: &[u8], mode: FileMode) -> Result<()> {
    let dest = dir.join(path);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut f = std::fs::File::create(&dest)
        .with_context(|| format!("cannot create {}", dest.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", dest.display()))?;
    #[cfg(unix)]
    if mode == FileMode::Executable {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755));
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}
