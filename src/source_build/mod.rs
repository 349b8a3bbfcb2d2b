//! Building a pure-Python wheel from a source distribution or a local project directory
//! (PEP 517), so that releases published only as sdists, and a team's own packages, can go
//! into a layer. Only pure wheels are accepted: a layer's compiled code must be built for
//! Lambda's glibc, which a local build cannot promise.
//!
//! INTERFACE FIXED BY THE LEAD (issue 17): the resolver/lock/fetch side codes against these
//! types while the builder is written; change them only together with every caller.

mod build_env;
pub mod build_system;
mod hooks;
mod interp;
pub mod result;
mod store;
mod tree;
pub mod unpack;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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

/// A [`BuildContext`] handed to the resolver through its (printable, clonable) inputs.
#[derive(Clone)]
pub struct Builder(pub Arc<BuildContext>);

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Builder(cache {})", self.0.cache.root().display())
    }
}

/// Downloads a source distribution (hash-checked, into the content-addressed cache) and
/// builds it: what the resolver does for a release without a wheel, and `build` for a locked
/// sdist. Blocking.
pub fn build_dist_file(
    file: &crate::index::DistFile,
    ctx: &BuildContext,
) -> Result<BuiltWheel, BuildError> {
    let client = ctx.client.clone();
    let f = file.clone();
    let (path, sha256, _) = ctx
        .handle
        .block_on(async move { client.whole_wheel(&f).await })
        .map_err(|e| BuildError::Other(format!("cannot download {}: {e:#}", file.filename)))?;
    build_wheel(
        &Source::Sdist {
            path,
            filename: file.filename.clone(),
            sha256,
        },
        ctx,
    )
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
    let (source_sha, package) = match source {
        Source::Sdist {
            filename, sha256, ..
        } => (
            sha256.clone(),
            crate::index::sdist_name(filename)
                .map(|n| n.to_string())
                .unwrap_or_else(|| filename.clone()),
        ),
        Source::Directory { path, source_hash } => (
            source_hash.clone(),
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
        ),
    };
    let other = BuildError::Other;
    let work = tempfile::Builder::new()
        .prefix("pylayer-build-")
        .tempdir()
        .map_err(|e| other(format!("cannot create a temporary build directory: {e}")))?;
    // Ctrl-C mid-build removes the unpacked tree and the build environment too.
    let _registered = crate::cleanup::register(work.path());
    let tree = match source {
        Source::Sdist { path, filename, .. } => {
            let dest = work.path().join("src");
            std::fs::create_dir(&dest).map_err(|e| other(e.to_string()))?;
            unpack::unpack(path, filename, &dest).map_err(other)?
        }
        Source::Directory { path, .. } => {
            let dest = work.path().join("src").join(
                path.file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_else(|| "project".into()),
            );
            tree::copy_project(path, &dest).map_err(other)?;
            dest
        }
    };
    let system = build_system::read(&tree).map_err(other)?;
    let interpreter = interp::find(ctx)?;
    let minor = interpreter.version.1;
    let pins = match build_env::resolve(&system.requires, minor, ctx, &package) {
        Ok(p) => p,
        Err(e) => {
            // Offline (or the index is down): a wheel built earlier from the same source
            // still serves.
            if let Some((path, rec)) = store::lookup_any(&ctx.cache, &source_sha) {
                return Ok(built(path, rec, true));
            }
            return Err(other(e));
        }
    };
    let key = store::key(&pin_strings(&pins));
    let memo = format!("{source_sha} {key} {}", interpreter.python.display());
    // Targets resolved at once visit the same sdist together: one builds, the others wait
    // and take its wheel (from the cache) or its failure.
    let gate = gate(&memo);
    let _building = gate.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((path, rec)) = store::lookup(&ctx.cache, &source_sha, &key) {
        return Ok(built(path, rec, true));
    }
    if let Some(e) = recall(&memo) {
        return Err(e);
    }
    let env = work.path().join("env");
    std::fs::create_dir(&env).map_err(|e| other(e.to_string()))?;
    build_env::install(&pins, &env, ctx).map_err(other)?;
    let scratch = work.path().join("scratch");
    std::fs::create_dir(&scratch).map_err(|e| other(e.to_string()))?;
    let hook = hooks::Hook {
        interpreter: &interpreter,
        backend: &system.backend,
        backend_path: &system.backend_path,
        env: &env,
        tree: &tree,
        scratch: &scratch,
        source_date_epoch: source_date_epoch(),
    };
    let failed = |f: hooks::HookFailure| {
        let e = match hooks::compiler_line(&f.output) {
            Some(line) if !f.timed_out => BuildError::NeedsCompiling {
                package: package.clone(),
                detail: line,
            },
            _ => BuildError::Failed {
                package: package.clone(),
                log: hooks::tail(&f.output),
            },
        };
        remember(&memo, &e);
        e
    };
    let extra = hook.requires_for_build_wheel().map_err(failed)?;
    let mut all_pins = pins;
    if !extra.is_empty() {
        let mut wanted = system.requires.clone();
        wanted.extend(extra);
        all_pins = build_env::resolve(&wanted, minor, ctx, &package).map_err(other)?;
        std::fs::remove_dir_all(&env).map_err(|e| other(e.to_string()))?;
        std::fs::create_dir(&env).map_err(|e| other(e.to_string()))?;
        build_env::install(&all_pins, &env, ctx).map_err(other)?;
    }
    let out = work.path().join("out");
    std::fs::create_dir(&out).map_err(|e| other(e.to_string()))?;
    let reported = hook.build_wheel(&out).map_err(failed)?;
    let (wheel, _name) = result::check(&out, &reported).map_err(|r| {
        let e = match r {
            result::Refusal::Compiled(detail) => BuildError::NeedsCompiling {
                package: package.clone(),
                detail,
            },
            result::Refusal::Broken(log) => BuildError::Failed {
                package: package.clone(),
                log,
            },
        };
        remember(&memo, &e);
        e
    })?;
    let filename = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let record = store::Record {
        sha256: crate::fetch::sha256_file(&wheel).map_err(|e| other(e.to_string()))?,
        filename,
        backend: pin_strings(&all_pins),
        interpreter: interpreter.describe(),
    };
    let (path, rec) =
        store::store(&ctx.cache, &source_sha, &key, &wheel, &record).map_err(other)?;
    Ok(built(path, rec, false))
}

/// Backend failures of this process, by source, build requirements and interpreter: every
/// target of a lock visits the same sdist, and a compiler run that failed for one would fail
/// the same way for the next. (`true`, package, detail) is NeedsCompiling, `false` Failed.
static FAILED: Mutex<Option<HashMap<String, Remembered>>> = Mutex::new(None);

/// A failure kept in [`FAILED`]: (needs compiling?, package, detail or log).
type Remembered = (bool, String, String);

/// One lock per build (same key as [`FAILED`]) in this process.
static GATES: Mutex<Option<HashMap<String, Arc<Mutex<()>>>>> = Mutex::new(None);

fn gate(memo: &str) -> Arc<Mutex<()>> {
    let mut m = GATES.lock().unwrap_or_else(|e| e.into_inner());
    m.get_or_insert_with(HashMap::new)
        .entry(memo.to_string())
        .or_default()
        .clone()
}

fn remember(memo: &str, e: &BuildError) {
    let entry = match e {
        BuildError::NeedsCompiling { package, detail } => (true, package.clone(), detail.clone()),
        BuildError::Failed { package, log } => (false, package.clone(), log.clone()),
        _ => return,
    };
    if let Ok(mut m) = FAILED.lock() {
        m.get_or_insert_with(HashMap::new)
            .insert(memo.to_string(), entry);
    }
}

fn recall(memo: &str) -> Option<BuildError> {
    let m = FAILED.lock().ok()?;
    let (compiled, package, text) = m.as_ref()?.get(memo)?.clone();
    Some(if compiled {
        BuildError::NeedsCompiling {
            package,
            detail: text,
        }
    } else {
        BuildError::Failed { package, log: text }
    })
}

fn built(path: PathBuf, rec: store::Record, reused: bool) -> BuiltWheel {
    BuiltWheel {
        path,
        filename: rec.filename,
        sha256: rec.sha256,
        backend: rec.backend,
        reused,
    }
}

/// `name==version` of each pin, sorted.
fn pin_strings(pins: &[crate::resolve::Pin]) -> Vec<String> {
    let mut v: Vec<String> = pins
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    v.sort();
    v
}

/// `SOURCE_DATE_EPOCH` from the environment, else 1980-01-01 (the earliest a zip can say),
/// so backends that honour it date the wheel's entries the same on every build.
fn source_date_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(315_532_800)
}
