//! Building a pure-Python wheel from a source distribution or a local project directory
//! (PEP 517), so that releases published only as sdists, and a team's own packages, can go
//! into a layer. Only pure wheels are accepted: a layer's compiled code must be built for
//! Lambda's glibc, which a local build cannot promise.
//!
//! INTERFACE FIXED BY THE LEAD (issue 17): the resolver/lock/fetch side codes against these
//! types while the builder is written; change them only together with every caller.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cache::CacheDir;
use crate::index::IndexClient;

/// What to build.
#[derive(Debug, Clone)]
pub enum Source {
    /// A source distribution already downloaded and hash-checked (`.tar.gz` or `.zip`).
    Sdist {
        path: PathBuf,
        filename: String,
        sha256: String,
    },
    /// A local project directory (a `pyproject.toml` or `setup.py` at its root), with the
    /// hash of its sources (see `crate::local_project`), which keys the cache.
    Directory { path: PathBuf, source_hash: String },
}

/// Everything a build needs besides its source.
#[derive(Clone)]
pub struct BuildContext {
    /// Index client used to resolve and download the build requirements (PEP 518).
    pub client: Arc<IndexClient>,
    pub handle: tokio::runtime::Handle,
    pub cache: CacheDir,
    /// An interpreter the user named (`--python-interpreter`); otherwise one is discovered.
    pub interpreter: Option<PathBuf>,
    /// The target's minor version, tried first when discovering an interpreter (any 3.x
    /// builds a pure wheel).
    pub preferred_minor: u8,
}

/// A wheel built (or found in the cache) from a [`Source`].
#[derive(Debug, Clone)]
pub struct BuiltWheel {
    /// The wheel in the cache.
    pub path: PathBuf,
    pub filename: String,
    pub sha256: String,
    /// The build requirements installed, as `name==version`, sorted.
    pub backend: Vec<String>,
    /// True when the wheel came from the cache and no backend ran.
    pub reused: bool,
}

/// Why a wheel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The build compiles code (or failed for want of a compiler): such a package must be
    /// built for Lambda's glibc. `detail` says what showed it (a compiled file, a compiler
    /// error line). Callers add the nearest release with a wheel and the fix.
    #[error("{package} needs compiling: {detail}")]
    NeedsCompiling { package: String, detail: String },
    /// The backend failed for another reason; `log` is the tail of its output.
    #[error("building {package} failed: {log}")]
    Failed { package: String, log: String },
    /// No usable interpreter to run the backend with.
    #[error("{0}")]
    NoInterpreter(String),
    #[error("{0}")]
    Other(String),
}

/// Builds `source` into a pure wheel, or returns the one cached for the same source and build
/// requirements. Blocks the calling thread (it runs a subprocess and may resolve and download
/// build requirements on `ctx.handle`).
pub fn build_wheel(source: &Source, ctx: &BuildContext) -> Result<BuiltWheel, BuildError> {
    let _ = ctx;
    Err(BuildError::Other(format!(
        "building from source is not implemented yet ({source:?})"
    )))
}
