//! The PubGrub loop, driven through pubgrub's state API rather than `pubgrub::resolve`, for
//! one reason: a version's dependencies (or its unavailability) are recorded for the whole gap
//! between its neighbouring releases, not for the single version. When a long run of releases
//! fails for the same reason (every botocore needs python-dateutil<3), the incompatibilities of
//! neighbours then merge into one contiguous range instead of a set with one hole per release,
//! which keeps every later range operation cheap and lets the explanation say "every release".

use std::collections::{BTreeMap, HashMap, HashSet};

use pubgrub::{Dependencies, DerivationTree, Id, Ranges, State};
use uv_pep440::Version;

use super::provider::{Pkg, Provider, ProviderError};

pub type Tree = DerivationTree<Pkg, Ranges<Version>, String>;

/// Why the loop stopped without a selection.
pub enum SolveError {
    NoSolution(Box<Tree>),
    Provider(ProviderError),
}

impl From<ProviderError> for SolveError {
    fn from(e: ProviderError) -> Self {
        SolveError::Provider(e)
    }
}

/// Runs PubGrub from the root of `provider` to a selection of one version per package.
pub fn solve(provider: &Provider) -> Result<BTreeMap<Pkg, Version>, SolveError> {
    let mut state: State<Provider> = State::init(Pkg::Root, Version::new([0]));
    let mut conflicts: HashMap<Id<Pkg>, u32> = HashMap::new();
    let mut added: HashSet<(Id<Pkg>, Version)> = HashSet::new();
    let mut next = state.root_package;
    loop {
        let causes = state
            .unit_propagation(next)
            .map_err(|tree| SolveError::NoSolution(Box::new(tree)))?;
        for (affected, conflict) in causes {
            *conflicts.entry(affected).or_default() += 1;
            for p in state.conflict_packages(&conflict) {
                if p != affected {
                    *conflicts.entry(p).or_default() += 1;
                }
            }
        }
        let picked = {
            let store = &state.package_store;
            state.partial_solution.pick_highest_priority_pkg(|p, r| {
                provider.priority(&store[p], r, conflicts.get(&p).copied().unwrap_or(0))
            })
        };
        let Some((package, range)) = picked else {
            return Ok(state
                .partial_solution
                .extract_solution()
                .map(|(p, v)| (state.package_store[p].clone(), v))
                .collect());
        };
        let range = range.clone();
        next = package;
        let pkg = state.package_store[next].clone();
        let Some(version) = provider.choose(&pkg, &range)? else {
            state.add_no_versions(next, range);
            continue;
        };
        if !added.insert((next, version.clone())) {
            // Its dependencies are already incompatibilities: decide it directly.
            state.partial_solution.add_decision(next, version);
            continue;
        }
        let shared = provider.gap_around(&pkg, &version);
        match provider.dependencies(&pkg, &version)? {
            Dependencies::Unavailable(reason) => state.add_unavailable(next, shared, reason),
            Dependencies::Available(deps) => {
                if let Some(conflict) =
                    state.add_package_version_dependencies(next, version, shared, deps)
                {
                    *conflicts.entry(next).or_default() += 1;
                    for p in state.conflict_packages(&conflict) {
                        if p != next {
                            *conflicts.entry(p).or_default() += 1;
                        }
                    }
                }
            }
        }
    }
}
