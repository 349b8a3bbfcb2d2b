//! Bytecode for the layer: PEP 552 `unchecked-hash` `.pyc` files beside every `.py`, compiled
//! once per wheel and cached.
//!
//! Why: Lambda mounts layers read-only under /opt, so CPython cannot write `__pycache__`
//! there and compiles every imported module from source at each cold start (1.82 s instead
//! of 0.43 s for pandas + numpy on python3.12, measured for issue 12). pip's timestamp
//! `.pyc` do not help: they record the source's mtime, and every file of a reproducible zip
//! is dated 1980-01-01, so they never validate. `unchecked-hash` `.pyc` are never compared
//! with their source at import, which is right for an immutable layer.
//!
//! How: a CPython of the target's minor (the magic number differs per minor; the bytecode
//! does not depend on the CPU, so one compile serves x86_64 and arm64) compiles the sources
//! in a few batch processes fed over stdin (`driver`), with the path Lambda will see as
//! `co_filename` (`/opt/python/…`), so the bytes do not depend on where the build ran. The
//! `.pyc` of each wheel are stored in the cache keyed by (wheel sha256, interpreter version
//! and magic number, layout), so a warm build only copies them. A file that does not compile
//! (Python 2 syntax in a test or a template) is left without bytecode with a note, as pip
//! does; it never fails the build.

pub mod driver;
pub mod imported;
pub mod pyc;
pub mod stage;
pub mod startup_cache;
pub mod store;

use std::path::PathBuf;

use anyhow::Context;

use crate::cache::CacheDir;
use crate::interpreter::Interpreter;
pub use driver::Compiled;
pub use store::{PycEntry, Skipped};

/// Which modules get bytecode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// None: every imported module compiles at each cold start.
    #[default]
    None,
    /// Every `.py` in the layer.
    All,
    /// Only the modules imported at start-up (for layers near the size limit).
    Imported,
}

impl Mode {
    /// The name used in flags, `pylayer.toml` and the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::All => "all",
            Mode::Imported => "imported",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" | "true" => Ok(Mode::All),
            "none" | "false" => Ok(Mode::None),
            "imported" => Ok(Mode::Imported),
            other => Err(format!(
                "unknown bytecode mode `{other}`: use `all` (every module), `imported` (only those imported at start-up) or `none`"
            )),
        }
    }
}

/// Fewest files worth a process of their own: below this, starting another interpreter
/// costs more than it saves.
const MIN_FILES_PER_BATCH: usize = 64;

/// The `.py` files one wheel puts into the layer.
#[derive(Debug, Clone)]
pub struct WheelSources {
    /// Hex sha256 of the wheel: with the interpreter and the layout, the cache key.
    pub wheel_sha256: String,
    /// `requests 2.32.3`, for notes.
    pub label: String,
    /// The layout the paths are under (`python`, `site-packages`): part of the cache key,
    /// since the paths become `co_filename`.
    pub layout: String,
    /// Paths of the `.py` files in the layer (`python/requests/api.py`).
    pub py_paths: Vec<String>,
}

/// The bytecode of one wheel.
#[derive(Debug, Clone)]
pub struct WheelBytecode {
    /// The cached zip holding the `.pyc` entries (deflated, ready to copy raw).
    pub archive: PathBuf,
    /// One entry per compiled source that the caller asked for.
    pub pyc: Vec<PycEntry>,
    /// Sources asked for that did not compile.
    pub skipped: Vec<Skipped>,
    /// Whether nothing had to be compiled.
    pub from_cache: bool,
}

/// The cache directory name for an interpreter: `cpython-3.12.1-cb0d0d0a`.
pub fn interpreter_key(interp: &Interpreter) -> String {
    format!("cpython-{}-{}", interp.full_version(), interp.magic)
}

/// The file name `co_filename` gets for a layer path: where Lambda mounts it.
pub fn lambda_path(layer_path: &str) -> String {
    format!("/opt/{layer_path}")
}

/// Compiles `files` (path in the layer, source) with `interp` in up to `jobs` processes;
/// one result per file, in order. Nothing is cached: for files that do not come from a wheel.
pub fn compile_files(
    interp: &Interpreter,
    files: &[(String, &[u8])],
    jobs: usize,
) -> anyhow::Result<Vec<Compiled>> {
    let named: Vec<(String, &[u8])> = files.iter().map(|(p, s)| (lambda_path(p), *s)).collect();
    compile_parallel(interp, &named, jobs)
}

/// Splits the files into batches of about equal source size (largest first onto the
/// lightest batch) and compiles the batches concurrently.
fn compile_parallel(
    interp: &Interpreter,
    files: &[(String, &[u8])],
    jobs: usize,
) -> anyhow::Result<Vec<Compiled>> {
    let batches = jobs
        .max(1)
        .min(files.len().div_ceil(MIN_FILES_PER_BATCH))
        .max(1);
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(files[i].1.len()));
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); batches];
    let mut load = vec![0usize; batches];
    for i in order {
        let b = (0..batches).min_by_key(|&b| load[b]).unwrap_or(0);
        load[b] += files[i].1.len() + 1;
        members[b].push(i);
    }
    let results: Vec<anyhow::Result<Vec<Compiled>>> = std::thread::scope(|s| {
        let handles: Vec<_> = members
            .iter()
            .map(|m| {
                let batch: Vec<(String, &[u8])> = m
                    .iter()
                    .map(|&i| (files[i].0.clone(), files[i].1))
                    .collect();
                s.spawn(move || driver::compile_batch(interp, &batch))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a compile thread panicked")))
            })
            .collect()
    });
    let mut out: Vec<Option<Compiled>> = vec![None; files.len()];
    for (m, r) in members.iter().zip(results) {
        for (&i, c) in m.iter().zip(r?) {
            out[i] = Some(c);
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, c)| c.with_context(|| format!("no result for {}", files[i].0)))
        .collect()
}

/// The bytecode for each wheel, from the cache or compiled now (all missing wheels together,
/// in up to `jobs` processes) and stored. `load` gives a wheel's sources, in the order of its
/// `py_paths`; it is called only for wheels not in the cache.
pub fn compile_wheels(
    interp: &Interpreter,
    cache: &CacheDir,
    wheels: &[WheelSources],
    jobs: usize,
    mut load: impl FnMut(&WheelSources) -> anyhow::Result<Vec<Vec<u8>>>,
) -> anyhow::Result<Vec<WheelBytecode>> {
    let key = interpreter_key(interp);
    let minor = interp.version.1;
    let mut out: Vec<Option<WheelBytecode>> = vec![None; wheels.len()];
    let mut missing: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
    for (wi, w) in wheels.iter().enumerate() {
        let path = cache.bytecode_path(&key, &w.layout, &w.wheel_sha256);
        // A damaged entry is compiled again and replaced.
        if let Ok(Some(stored)) = store::load(&path)
            && w.py_paths.iter().all(|p| stored.sources.contains(p))
        {
            out[wi] = Some(select(stored, &w.py_paths, true));
            continue;
        }
        let sources = load(w).with_context(|| format!("reading the sources of {}", w.label))?;
        anyhow::ensure!(
            sources.len() == w.py_paths.len(),
            "{}: {} sources for {} paths",
            w.label,
            sources.len(),
            w.py_paths.len()
        );
        missing.push((wi, sources));
    }

    let mut files: Vec<(String, &[u8])> = Vec::new();
    for (wi, sources) in &missing {
        for (p, s) in wheels[*wi].py_paths.iter().zip(sources) {
            files.push((lambda_path(p), s.as_slice()));
        }
    }
    let mut results = compile_parallel(interp, &files, jobs)?.into_iter();

    for (wi, _) in &missing {
        let w = &wheels[*wi];
        let mut compiled = Vec::new();
        let mut skipped = Vec::new();
        for p in &w.py_paths {
            let r = results.next().context("fewer results than sources")?;
            match (r, pyc::pyc_path(p, minor)) {
                (Ok(bytes), Some(pyc_path)) => compiled.push((pyc_path, bytes)),
                (Ok(_), None) => skipped.push(Skipped {
                    source: p.clone(),
                    error: "not a .py path".into(),
                }),
                (Err(error), _) => skipped.push(Skipped {
                    source: p.clone(),
                    error,
                }),
            }
        }
        let path = cache.bytecode_path(&key, &w.layout, &w.wheel_sha256);
        let stored = store::save(
            &path,
            &interp.full_version(),
            w.py_paths.clone(),
            compiled,
            skipped,
        )
        .with_context(|| format!("storing the bytecode of {}", w.label))?;
        out[*wi] = Some(select(stored, &w.py_paths, false));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, o)| o.with_context(|| format!("no bytecode for {}", wheels[i].label)))
        .collect()
}

/// Keeps what the caller asked for of a stored archive (a cached compile may cover more
/// sources than this build installs).
fn select(stored: store::Stored, wanted: &[String], from_cache: bool) -> WheelBytecode {
    let wanted: std::collections::HashSet<&str> = wanted.iter().map(String::as_str).collect();
    WheelBytecode {
        archive: stored.archive,
        pyc: stored
            .pyc
            .into_iter()
            .filter(|e| wanted.contains(e.source.as_str()))
            .collect(),
        skipped: stored
            .skipped
            .into_iter()
            .filter(|s| wanted.contains(s.source.as_str()))
            .collect(),
        from_cache,
    }
}

/// One line per wheel with sources left without bytecode, as pip reports them.
pub fn skipped_notes(wheels: &[WheelSources], compiled: &[WheelBytecode]) -> Vec<String> {
    let mut notes = Vec::new();
    for (w, c) in wheels.iter().zip(compiled) {
        if c.skipped.is_empty() {
            continue;
        }
        let first = &c.skipped[0];
        let error = first.error.lines().next().unwrap_or("");
        let more = match c.skipped.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        notes.push(format!(
            "{}: left {} without bytecode (does not compile: {error}){more}; Python compiles it only if it is imported, which then fails the same way",
            w.label, first.source
        ));
    }
    notes
}

#[cfg(test)]
mod tests;
