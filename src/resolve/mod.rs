//! Resolution: which version of every distribution goes into the layer for one target,
//! decided by PubGrub over the wheels the target can install.

mod candidates;
mod explain;
mod provider;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use uv_normalize::PackageName;
use uv_pep440::Version;

use crate::index::{DistFile, IndexClient};
use crate::requirements::SourcedRequirement;
use crate::target::Target;
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
}

/// One chosen distribution.
#[derive(Debug, Clone)]
pub struct Pin {
    pub name: PackageName,
    pub version: Version,
    pub file: DistFile,
    pub dependencies: Vec<PackageName>,
}

/// Why no set of wheels satisfies the requirements, in words.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    NoSolution(String),
    #[error("{0}")]
    Other(String),
}

/// Resolves for one target. Blocks the calling thread (run it under `spawn_blocking`);
/// index requests run on the tokio runtime behind `handle`, many at once.
pub fn resolve(
    client: Arc<IndexClient>,
    handle: tokio::runtime::Handle,
    target: Target,
    input: &ResolveInput,
) -> Result<Vec<Pin>, ResolveError> {
    let _task = crate::progress::begin(crate::progress::Task::Resolve(target.label()));
    let provider = provider::Provider::new(client, handle, target, input)?;
    let result = pubgrub::resolve(&provider, Pkg::Root, Version::new([0]));
    match result {
        Ok(selected) => {
            let selected: BTreeMap<Pkg, Version> = selected
                .iter()
                .map(|(p, v)| (p.clone(), v.clone()))
                .collect();
            provider.pins(&selected)
        }
        Err(pubgrub::PubGrubError::NoSolution(tree)) => {
            Err(ResolveError::NoSolution(explain::explain(&tree, &provider)))
        }
        Err(pubgrub::PubGrubError::ErrorChoosingVersion { source, .. })
        | Err(pubgrub::PubGrubError::ErrorRetrievingDependencies { source, .. }) => {
            Err(ResolveError::Other(source.to_string()))
        }
        Err(e) => Err(ResolveError::Other(e.to_string())),
    }
}
