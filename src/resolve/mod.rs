//! Resolution: which version of every distribution goes into the layer for one target,
//! decided by PubGrub over the wheels the target can install.

mod across;
mod build_policy;
mod candidates;
mod explain;
mod provider;
mod read_ahead;
mod solver;

use std::collections::HashMap;
use std::sync::Arc;

use uv_normalize::PackageName;
use uv_pep440::Version;

use crate::index::{DistFile, IndexClient};
use crate::requirements::SourcedRequirement;
use crate::target::Target;
pub use across::{TargetResolution, resolve_targets};
pub use build_policy::{BinaryOption, BuildPolicy, PackageSet};
pub use candidates::{Candidate, Candidates, SdistUse, is_sdist};
pub use provider::Pkg;

/// What one resolution starts from.
#[derive(Debug, Clone, Default)]
pub struct ResolveInput {
    pub requirements: Vec<SourcedRequirement>,
    pub constraints: Vec<SourcedRequirement>,
    /// `--pre`: pre-releases are acceptable for every package.
    pub pre: bool,
    /// Versions of an earlier lock to keep when they still fit (`--upgrade` clears them).
    pub preferences: HashMap<PackageName, Version>,
    /// Versions other targets of the same lock took: preferred over `preferences`, so every
    /// target gets the same version where it can, and when one is not taken the reason is
    /// recorded in [`Resolution::differs`].
    pub across: HashMap<PackageName, Version>,
    /// Which packages may (or must) be built from source distributions.
    pub build: BuildPolicy,
    /// Builds wheels from source distributions for their metadata; `None` resolves over
    /// wheels only.
    pub builder: Option<crate::source_build::Builder>,
}

/// One chosen distribution.
#[derive(Debug, Clone)]
pub struct Pin {
    pub name: PackageName,
    pub version: Version,
    pub file: DistFile,
    pub dependencies: Vec<PackageName>,
}

/// A release left out of a resolution because its metadata cannot be used (an unparseable
/// Requires-Dist, a METADATA that names another project…). One broken old release must not
/// end a resolution; it is reported instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub name: PackageName,
    pub version: Version,
    pub filename: String,
    pub reason: String,
}

/// A package not at a release it could have been at, and why (a glibc ceiling, the Python
/// version, no wheel for the architecture, a requirement or constraint): its newest release
/// ([`Resolution::held_back`]) or the version another target took ([`Resolution::differs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub name: PackageName,
    /// The version chosen.
    pub version: Version,
    /// The release not taken.
    pub not_taken: Version,
    pub reason: String,
}

/// A successful resolution for one target.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub pins: Vec<Pin>,
    /// Releases the search looked at and had to leave out.
    pub unusable: Vec<Unusable>,
    /// Packages not at their newest release.
    pub held_back: Vec<HeldBack>,
    /// Packages not at the version [`ResolveInput::across`] asked for.
    pub differs: Vec<HeldBack>,
}

/// Why no set of wheels satisfies the requirements, in words.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    NoSolution(String),
    #[error("{0}")]
    Other(String),
}

/// Stack for the resolution thread: PubGrub's derivation of a conflict that needed a long
/// backtrack (every boto3 release against a python-dateutil pin) is thousands of levels deep,
/// and reporting it recurses through every level.
const RESOLVER_STACK: usize = 256 << 20;

/// Resolves for one target. Blocks the calling thread (run it under `spawn_blocking`);
/// index requests run on the tokio runtime behind `handle`, many at once. The search itself
/// runs on a thread of its own with a large stack (see [`RESOLVER_STACK`]).
pub fn resolve(
    client: Arc<IndexClient>,
    handle: tokio::runtime::Handle,
    target: Target,
    input: &ResolveInput,
) -> Result<Resolution, ResolveError> {
    let input = input.clone();
    std::thread::Builder::new()
        .name(format!("resolve-{target}"))
        .stack_size(RESOLVER_STACK)
        .spawn(move || resolve_here(client, handle, target, &input))
        .map_err(|e| ResolveError::Other(format!("cannot start the resolver thread: {e}")))?
        .join()
        .map_err(|_| ResolveError::Other(format!("the resolver for {target} crashed")))?
}

fn resolve_here(
    client: Arc<IndexClient>,
    handle: tokio::runtime::Handle,
    target: Target,
    input: &ResolveInput,
) -> Result<Resolution, ResolveError> {
    let _task = crate::progress::begin(crate::progress::Task::Resolve(target.label()));
    let provider = provider::Provider::new(client, handle, target, input)?;
    match solver::solve(&provider) {
        Ok(selected) => Ok(Resolution {
            pins: provider.pins(&selected)?,
            unusable: provider.unusable.borrow().values().cloned().collect(),
            held_back: provider.held_back(&selected),
            differs: provider.differs(&selected),
        }),
        Err(solver::SolveError::NoSolution(tree)) => {
            Err(ResolveError::NoSolution(explain::explain(&tree, &provider)))
        }
        Err(solver::SolveError::Provider(e)) => Err(ResolveError::Other(e.0)),
    }
}
