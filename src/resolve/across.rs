//! One version across targets: when the same inputs are locked for several targets (Python
//! versions, architectures), a package gets the same version on every target that can have
//! it, and a different one only where a target cannot, with the reason.
//!
//! Each target is resolved on its own first (in parallel). Where the targets disagree, the
//! newest version any of them took is what every target should have; the targets that did not
//! take it are resolved again preferring it (a preference, not a requirement: PubGrub still
//! finds a solution whenever one exists). A target that still cannot take it records why in
//! [`Resolution::differs`] (its wheels need a newer glibc, it requires a newer Python, another
//! requirement on that target rules it out).

use std::collections::HashMap;
use std::sync::Arc;

use uv_normalize::PackageName;
use uv_pep440::Version;

use super::{Resolution, ResolveError, ResolveInput, resolve};
use crate::index::IndexClient;
use crate::target::Target;

/// One target's outcome.
#[derive(Debug)]
pub struct TargetResolution {
    pub target: Target,
    pub result: Result<Resolution, ResolveError>,
}

/// How many times the targets are resolved again to agree. One round settles what a
/// preference can settle; more only help when aligning one package lets another move.
const MAX_ROUNDS: usize = 3;

/// Resolves every target, the same version of each package on every target that can have it.
/// Each job's [`ResolveInput::across`] is replaced.
pub fn resolve_targets(
    client: Arc<IndexClient>,
    handle: tokio::runtime::Handle,
    jobs: Vec<(Target, ResolveInput)>,
) -> Vec<TargetResolution> {
    let mut jobs = jobs;
    for (_, input) in &mut jobs {
        input.across.clear();
    }
    let all: Vec<usize> = (0..jobs.len()).collect();
    let mut results = run(&client, &handle, &jobs, &all);
    if jobs.len() > 1 {
        for _ in 0..MAX_ROUNDS {
            let wanted = newest_taken(&results);
            let stale: Vec<usize> = results
                .iter()
                .enumerate()
                .filter(|(i, r)| match r {
                    Ok(res) => res.pins.iter().any(|p| {
                        wanted.get(&p.name).is_some_and(|w| {
                            *w != p.version && jobs[*i].1.across.get(&p.name) != Some(w)
                        })
                    }),
                    Err(_) => false,
                })
                .map(|(i, _)| i)
                .collect();
            if stale.is_empty() {
                break;
            }
            for &i in &stale {
                jobs[i].1.across = wanted.clone();
            }
            for (i, again) in stale.iter().zip(run(&client, &handle, &jobs, &stale)) {
                // A preference cannot make a solvable target unsolvable; should the index
                // fail now, the first answer stands.
                if again.is_ok() {
                    results[*i] = again;
                }
            }
        }
    }
    // Keep only the differences some other target really has now.
    let taken: Vec<HashMap<PackageName, Version>> = results
        .iter()
        .map(|r| match r {
            Ok(res) => res
                .pins
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect(),
            Err(_) => HashMap::new(),
        })
        .collect();
    for (i, r) in results.iter_mut().enumerate() {
        if let Ok(res) = r {
            res.differs.retain(|d| {
                taken
                    .iter()
                    .enumerate()
                    .any(|(j, t)| j != i && t.get(&d.name) == Some(&d.not_taken))
            });
        }
    }
    jobs.into_iter()
        .zip(results)
        .map(|((target, _), result)| TargetResolution { target, result })
        .collect()
}

/// For every package, the newest version any successful target took.
fn newest_taken(results: &[Result<Resolution, ResolveError>]) -> HashMap<PackageName, Version> {
    let mut wanted: HashMap<PackageName, Version> = HashMap::new();
    for res in results.iter().flatten() {
        for p in &res.pins {
            let w = wanted
                .entry(p.name.clone())
                .or_insert_with(|| p.version.clone());
            if p.version > *w {
                *w = p.version.clone();
            }
        }
    }
    wanted
}

/// Resolves the jobs at `which`, in parallel.
fn run(
    client: &Arc<IndexClient>,
    handle: &tokio::runtime::Handle,
    jobs: &[(Target, ResolveInput)],
    which: &[usize],
) -> Vec<Result<Resolution, ResolveError>> {
    std::thread::scope(|s| {
        let threads: Vec<_> = which
            .iter()
            .map(|&i| {
                let (target, input) = &jobs[i];
                let (client, handle) = (client.clone(), handle.clone());
                s.spawn(move || resolve(client, handle, *target, input))
            })
            .collect();
        threads
            .into_iter()
            .zip(which)
            .map(|(t, &i)| {
                t.join().unwrap_or_else(|_| {
                    Err(ResolveError::Other(format!(
                        "the resolver for {} crashed",
                        jobs[i].0
                    )))
                })
            })
            .collect()
    })
}
