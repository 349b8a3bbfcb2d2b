//! The bytecode stage of the build: adds a `.pyc` beside every `.py` of the plan, belonging
//! to the same distribution (so its RECORD lists it and its size counts there).
//!
//! Sources that come from a wheel are compiled per wheel and cached (see the module above):
//! their `.pyc` enter the plan as raw copies of the cached archive's entries. Sources a stage
//! made (rare) are compiled every time.

use std::collections::BTreeMap;

use crate::cache::CacheDir;
use crate::interpreter::Interpreter;
use crate::plan::{Entry, Layout, Mode as FileMode, Plan, Source, WheelEntry};

use super::{WheelSources, compile_files, compile_wheels, pyc, skipped_notes};

/// What the stage did to one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageReport {
    /// `.pyc` files added.
    pub pyc_files: usize,
    /// Sources left without bytecode because they do not compile.
    pub skipped: usize,
    /// Wheels whose bytecode came from the cache, and wheels compiled now.
    pub cached_wheels: usize,
    pub compiled_wheels: usize,
    /// One line per distribution with sources that did not compile.
    pub notes: Vec<String>,
    /// Each `.pyc` added, with its source: (`python/pkg/__pycache__/m.cpython-312.pyc`,
    /// `python/pkg/m.py`).
    pub added: Vec<(String, String)>,
}

/// Adds bytecode for every `.py` in `plan`, compiled by `interp` (whose minor must be the
/// target's) in up to `jobs` processes. `wheel_sha256` gives the hash of a wheel by file name.
pub fn add_to_plan(
    plan: &mut Plan,
    interp: &Interpreter,
    cache: &CacheDir,
    layout: Layout,
    wheel_sha256: &dyn Fn(&str) -> Option<String>,
    jobs: usize,
) -> anyhow::Result<StageReport> {
    let minor = interp.version.1;
    // Sources by the distribution whose wheel they come from; the rest apart.
    let mut by_dist: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut loose: Vec<(String, Option<usize>)> = Vec::new();
    for (path, entry) in plan.entries() {
        if !path.ends_with(".py") || pyc::pyc_path(path, minor).is_none() {
            continue;
        }
        match (&entry.source, entry.dist) {
            (Source::Wheel(_), Some(d)) => by_dist.entry(d).or_default().push(path.to_string()),
            _ => loose.push((path.to_string(), entry.dist)),
        }
    }
    let mut wheels: Vec<WheelSources> = Vec::new();
    let mut owners: Vec<usize> = Vec::new();
    for (d, py_paths) in by_dist {
        let dist = &plan.dists()[d];
        let label = format!("{} {}", dist.name, dist.version);
        match wheel_sha256(&dist.filename) {
            Some(sha) => {
                wheels.push(WheelSources {
                    wheel_sha256: sha.to_ascii_lowercase(),
                    label,
                    layout: layout.as_str().to_string(),
                    py_paths,
                });
                owners.push(d);
            }
            // Without its hash there is no cache key: compile without caching.
            None => loose.extend(py_paths.into_iter().map(|p| (p, Some(d)))),
        }
    }

    let compiled = compile_wheels(interp, cache, &wheels, jobs, |w| {
        w.py_paths.iter().map(|p| plan.read(p)).collect()
    })?;
    let mut report = StageReport {
        notes: skipped_notes(&wheels, &compiled),
        ..StageReport::default()
    };
    for (c, &d) in compiled.into_iter().zip(&owners) {
        if c.from_cache {
            report.cached_wheels += 1;
        } else {
            report.compiled_wheels += 1;
        }
        report.skipped += c.skipped.len();
        for e in c.pyc {
            if plan.get(&e.path).is_some() {
                continue;
            }
            let entry = Entry {
                source: Source::Archive {
                    archive: c.archive.clone(),
                    entry: WheelEntry {
                        name: e.path.clone(),
                        size: e.size,
                        record_hash: Some(e.record_hash),
                        index: e.index,
                        method: e.method,
                        crc32: e.crc32,
                        compressed_size: e.compressed_size,
                    },
                },
                mode: FileMode::File,
                dist: Some(d),
                shared_with: Vec::new(),
            };
            report.added.push((e.path.clone(), e.source.clone()));
            plan.add(e.path, entry)?;
            report.pyc_files += 1;
        }
    }

    if !loose.is_empty() {
        let sources: Vec<Vec<u8>> = loose
            .iter()
            .map(|(p, _)| plan.read(p))
            .collect::<anyhow::Result<_>>()?;
        let files: Vec<(String, &[u8])> = loose
            .iter()
            .zip(&sources)
            .map(|((p, _), s)| (p.clone(), s.as_slice()))
            .collect();
        let results = compile_files(interp, &files, jobs)?;
        for ((path, dist), result) in loose.iter().zip(results) {
            let Some(pyc_path) = pyc::pyc_path(path, minor) else {
                continue;
            };
            match result {
                Ok(bytes) if plan.get(&pyc_path).is_none() => {
                    report.added.push((pyc_path.clone(), path.clone()));
                    plan.add(pyc_path, Entry::generated(bytes, *dist))?;
                    report.pyc_files += 1;
                }
                Ok(_) => {}
                Err(error) => {
                    report.skipped += 1;
                    report.notes.push(format!(
                        "left {path} without bytecode (does not compile: {})",
                        error.lines().next().unwrap_or("")
                    ));
                }
            }
        }
    }
    Ok(report)
}
