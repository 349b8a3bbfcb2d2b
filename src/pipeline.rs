//! The build pipeline: the one place that knows the order of the stages.
//!
//! ```text
//! inputs → lock (ensure/refresh) → fetch → plan → [stages on the plan] → write → check → manifest
//! ```
//!
//! The CLI merges flags, pylayer.toml and the environment into [`Inputs`] and
//! [`BuildSettings`], calls [`build`] (or [`ensure_lock`] for `pylayer lock`) and prints; every
//! decision about what goes into a layer and where it is written is made here or in the
//! stage modules. What happens along the way reaches the caller as [`Event`]s, so the
//! library never prints.
//!
//! A new stage that changes the layer's content (bytecode, slimming, stripping) goes
//! between [`plan::plan`] and [`assemble::write`] in `build_target`: it takes the
//! [`plan::Plan`] and adds, filters or rewrites entries (see the `plan` module); RECORD files
//! and the manifest follow from the final plan without further work.

pub mod environments;
mod local;
mod locking;
pub mod naming;
mod selection;

pub use locking::{LockOutcome, LockSettings, ensure_lock};
pub use selection::{exclusions, keep_tooling};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::assemble;
use crate::bytecode;
use crate::cache::CacheDir;
use crate::check::{self, CheckOptions, LayerSource};
use crate::fetch::{self, FetchEvent, FetchOptions};
use crate::inputs::Inputs;
use crate::interpreter::{self, Interpreter, Purpose};
use crate::lock::LockedPackage;
use crate::manifest::{self, Manifest};
use crate::plan::{self, Layout, PlanOptions};
use crate::target::Target;

/// Why the pipeline stopped, by whose fault: the input (exit 2) or the build (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or input files; the message names what and how to fix it.
    #[error("{0}")]
    Input(String),
    /// Resolution, download or writing failed.
    #[error("{0}")]
    Failed(String),
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Failed(format!("{e:#}"))
    }
}

/// What the pipeline tells its caller along the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Something the user should know that does not stop the build.
    Warning(String),
    /// A decision taken for the user (a distribution left out or kept).
    Note(String),
    /// A release not taken although it is newer, and why (glibc, Python, a constraint…).
    HeldBack(String),
    /// Only worth printing with `--verbose` (a release left out for unusable metadata).
    Detail(String),
    /// The lock changed and was written.
    Locked { path: PathBuf },
    /// Wheels are being fetched: `total_bytes` to verify or download.
    FetchStarted { total_bytes: u64 },
    /// `bytes` more of them are verified or downloaded.
    FetchProgress { bytes: u64 },
    /// Every wheel is in the cache (or the fetch failed).
    FetchFinished,
}

/// Everything `build` needs besides the inputs. `None` fields fall back to pylayer.toml,
/// then to the defaults.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    pub lock: LockSettings,
    /// Layer name [default: pylayer.toml's, else the requirements file's directory].
    pub name: Option<String>,
    /// Where the zips and manifests go [default: pylayer.toml's, else `dist`].
    pub out_dir: Option<PathBuf>,
    /// [default: pylayer.toml's, else `python`]
    pub layout: Option<Layout>,
    /// Distributions to leave out, with what only they needed [default: pylayer.toml's].
    pub exclude: Vec<String>,
    /// Leave out the SDK the runtime already ships.
    pub no_runtime_provided: bool,
    /// Requirements files named on the command line (the first names the layer by default).
    pub requirement_files: Vec<PathBuf>,
    /// The venv the inputs came from, whose compiled distributions are reported.
    pub from_venv: Option<PathBuf>,
    /// Timestamp of every zip entry (`SOURCE_DATE_EPOCH`); `None` is 1980-01-01.
    pub source_date_epoch: Option<u64>,
    /// Which modules get hash-based bytecode [default: pylayer.toml's, else none].
    pub compile_bytecode: Option<bytecode::Mode>,
    /// The CPython that compiles it [default: pylayer.toml's, else found on this machine].
    pub python_interpreter: Option<PathBuf>,
    /// For `imported` bytecode: the function's handler module (or handler setting
    /// `app.lambda_handler`) whose start-up imports decide [default: every public top-level
    /// module of the layer].
    pub entry: Option<String>,
    /// The function's code directory holding `entry` [default: the current directory].
    pub code_dir: Option<PathBuf>,
    /// `PATH=DIST`: a path two distributions install, and whose copy the layer keeps
    /// (added to pylayer.toml's `overwrite`).
    pub overwrite: Vec<String>,
    /// Remove what the trim policy says a layer never needs [default: pylayer.toml's `slim`,
    /// else no].
    pub slim: Option<bool>,
    /// More files to remove (gitignore-style, `!` keeps), after pylayer.toml's `slim-patterns`.
    pub slim_patterns: Vec<String>,
    /// Directories whose `lib/`, `bin/` and `python/` are copied into the layer (after
    /// pylayer.toml's `include`); see `crate::include`.
    pub include: Vec<PathBuf>,
    /// Findings the check accepts, `CODE[:GLOB]` (after pylayer.toml's `[check] allow`).
    pub allow: Vec<String>,
    /// A CycloneDX SBOM beside each zip; `None` takes pylayer.toml's `sbom`.
    pub sbom: Option<bool>,
}

/// One layer `build` wrote.
pub struct BuiltLayer {
    pub zip: PathBuf,
    pub manifest: Manifest,
    /// The static check of the written zip.
    pub check: check::Report,
}

/// What `build` did.
pub struct BuildOutcome {
    pub out_dir: PathBuf,
    /// One per target, in the inputs' target order.
    pub layers: Vec<BuiltLayer>,
}

/// Locks (when the inputs changed), fetches, and writes and checks one layer per target.
pub fn build(
    rt: &tokio::runtime::Runtime,
    inputs: &Inputs,
    settings: &BuildSettings,
    on_event: &dyn Fn(Event),
) -> Result<BuildOutcome, Error> {
    let config = inputs.config.clone().unwrap_or_default();
    let layout = match (settings.layout, config.layout.as_deref()) {
        (Some(l), _) => l,
        (None, Some(l)) => l.parse().map_err(Error::Input)?,
        (None, None) => Layout::Python,
    };
    let out_dir = settings
        .out_dir
        .clone()
        .unwrap_or_else(|| config.out_dir_path());
    let name = naming::layer_name(
        settings.name.as_deref().or(config.name.as_deref()),
        settings.requirement_files.first().map(PathBuf::as_path),
    )?;
    let exclude = exclusions(
        &settings.exclude,
        settings.no_runtime_provided,
        &config,
        on_event,
    )?;
    let (bytecode_mode, compilers) = bytecode_interpreters(inputs, settings, &config)?;
    let slim = slim_policy(settings, &config)?;
    let included = crate::include::collect(
        &config
            .include
            .iter()
            .map(|d| config.path(d))
            .chain(settings.include.iter().cloned())
            .collect::<Vec<_>>(),
    )
    .map_err(Error::Input)?;
    let allow = check_allow(&config, &settings.allow)?;
    let startup = startup(settings, bytecode_mode)?;
    let overwrite = settings
        .overwrite
        .iter()
        .chain(&config.overwrite)
        .map(|o| {
            o.parse::<plan::Overwrite>()
                .map_err(|e| Error::Input(format!("overwrite: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(dir) = &settings.from_venv {
        let dists = crate::venv::installed(&crate::venv::site_packages(dir)?)?;
        for t in &inputs.targets {
            for note in crate::venv::foreign_binaries(&dists, t) {
                on_event(Event::Note(format!(
                    "{note}; using the {} wheel of the same version instead",
                    t.label()
                )));
            }
        }
    }

    let outcome = ensure_lock(rt, inputs, &settings.lock, true, on_event)?;
    if outcome.changed {
        on_event(Event::Locked {
            path: settings.lock.lock_path.clone(),
        });
    }

    // What goes into each target's layer.
    let roots: Vec<String> = inputs
        .reqs
        .requirements
        .iter()
        .map(|r| r.requirement.name.to_string())
        .collect();
    let mut selected: Vec<(Target, Vec<LockedPackage>)> = Vec::new();
    let mut not_taken = Vec::new();
    for t in &inputs.targets {
        if let Some(lt) = outcome.lock.target(t) {
            not_taken.push((lt.held_back.clone(), lt.differs.clone()));
            // Local projects are asked for too (the lock knows their names, the inputs
            // only their directories).
            let mut roots = roots.clone();
            roots.extend(
                lt.packages
                    .iter()
                    .filter(|p| p.source_hash.is_some())
                    .map(|p| p.name.clone()),
            );
            let kept = crate::exclude::prune(&lt.packages, &roots, &exclude, inputs.from_venv);
            for p in &lt.packages {
                if !kept.iter().any(|k| k.name == p.name) {
                    on_event(Event::Note(format!(
                        "{}: leaving out {} {}",
                        t.label(),
                        p.name,
                        p.version
                    )));
                }
            }
            selected.push((*t, kept));
        }
    }

    let fetched = fetch_all(rt, inputs, settings, &selected, on_event)?;
    let mut layers = Vec::new();
    for ((t, packages), (held_back, differs)) in selected.iter().zip(not_taken) {
        let wheels = packages
            .iter()
            .map(|p| {
                fetched
                    .get(p.sha256.as_str())
                    .map(|f| (f.pkg.clone().unwrap_or_else(|| p.clone()), f.path.clone()))
                    .ok_or_else(|| {
                        Error::Failed(format!("internal: {} was not fetched", p.filename))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let target = TargetBuild {
            name: &name,
            target: t,
            layout,
            zip: naming::zip_path(&out_dir, &name, t),
            keep: keep_tooling(&roots, packages, on_event),
            overwrite: overwrite.clone(),
            slim: &slim,
            included: &included,
            allow: &allow,
            source_date_epoch: settings.source_date_epoch,
            bytecode: compilers
                .iter()
                .find(|(m, _)| *m == t.minor)
                .map(|(_, i)| i),
            bytecode_mode,
            startup: startup.as_ref(),
            cache: CacheDir::resolve(settings.lock.cache_dir.as_deref()),
            held_back,
            differs,
            import_interpreter: settings
                .python_interpreter
                .clone()
                .or_else(|| config.python_interpreter.as_ref().map(|p| config.path(p))),
            sbom: settings.sbom.or(config.sbom).unwrap_or(false),
        };
        layers.push(build_target(&target, packages, &wheels, on_event)?);
    }
    Ok(BuildOutcome { out_dir, layers })
}

/// Fetches every wheel of every target once, in parallel, into the shared cache; returns
/// the cached path of each by sha256.
fn fetch_all(
    rt: &tokio::runtime::Runtime,
    inputs: &Inputs,
    settings: &BuildSettings,
    selected: &[(Target, Vec<LockedPackage>)],
    on_event: &dyn Fn(Event),
) -> Result<HashMap<String, Fetched>, Error> {
    let mut all: Vec<LockedPackage> = selected.iter().flat_map(|(_, p)| p.clone()).collect();
    all.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    all.dedup_by(|a, b| a.sha256 == b.sha256);
    let local = local::take_from_fetch(rt, inputs, &settings.lock, &mut all, on_event)?;
    let cache = CacheDir::resolve(settings.lock.cache_dir.as_deref());
    let http = crate::http::client()?;
    on_event(Event::FetchStarted {
        total_bytes: all.iter().map(|p| p.size).sum(),
    });
    let forward = |e: FetchEvent| match e {
        FetchEvent::Cached { name } => {
            if let Some(p) = all.iter().find(|p| p.name == name) {
                on_event(Event::FetchProgress { bytes: p.size });
            }
        }
        FetchEvent::Progress { bytes, .. } => on_event(Event::FetchProgress { bytes }),
        FetchEvent::Corrupt { name, path } => on_event(Event::Warning(format!(
            "cached wheel of {name} at {} was damaged; fetching it again",
            path.display()
        ))),
        FetchEvent::Downloaded { .. } => {}
    };
    let opts = FetchOptions {
        offline: settings.lock.offline,
        credential_urls: inputs.index.all_credential_urls(),
        project_root: Some(inputs.project_root.clone()),
        ..FetchOptions::default()
    };
    let paths = rt.block_on(fetch::fetch_wheels(&http, &cache, &all, &opts, &forward));
    on_event(Event::FetchFinished);
    let paths = paths?;
    let mut fetched: HashMap<String, Fetched> = HashMap::new();
    let mut context: Option<crate::source_build::BuildContext> = None;
    for (p, path) in all.into_iter().zip(paths) {
        if !p.built_from_source {
            fetched.insert(p.sha256.clone(), Fetched { pkg: None, path });
            continue;
        }
        let ctx = context.get_or_insert_with(|| {
            let client = std::sync::Arc::new(crate::index::IndexClient::new(
                http.clone(),
                cache.clone(),
                inputs.index.clone(),
                settings.lock.offline,
            ));
            local::context(
                rt,
                inputs,
                client,
                cache.clone(),
                settings.lock.build_interpreter.clone(),
            )
        });
        let source = crate::source_build::Source::Sdist {
            path,
            filename: p.filename.clone(),
            sha256: p.sha256.clone(),
        };
        let built = crate::source_build::build_wheel(&source, ctx).map_err(|e| {
            Error::Failed(format!(
                "{} {} (locked as the source distribution {}): {e}; `pylayer lock --upgrade-package {}` may pick a release with a wheel",
                p.name, p.version, p.filename, p.name
            ))
        })?;
        on_event(Event::Note(format!(
            "building {} {} from source{}",
            p.name,
            p.version,
            if built.reused {
                " (reused the wheel built before)"
            } else {
                ""
            }
        )));
        let size = std::fs::metadata(&built.path).map_or(0, |m| m.len());
        let pkg = LockedPackage {
            filename: built.filename.clone(),
            sha256: built.sha256.clone(),
            size,
            ..p.clone()
        };
        fetched.insert(
            p.sha256.clone(),
            Fetched {
                pkg: Some(pkg),
                path: built.path,
            },
        );
    }
    for (sha256, path) in local {
        fetched.insert(sha256, Fetched { pkg: None, path });
    }
    Ok(fetched)
}

/// A fetched distribution: its wheel in the cache, and for a source distribution the pin
/// rewritten to the wheel built from it (filename, sha256 and size of the built wheel).
struct Fetched {
    pkg: Option<LockedPackage>,
    path: PathBuf,
}

/// One target's layer, as decided by `build`.
struct TargetBuild<'a> {
    name: &'a str,
    target: &'a Target,
    layout: Layout,
    zip: PathBuf,
    keep: Vec<String>,
    overwrite: Vec<plan::Overwrite>,
    /// What the slim stage removes; inactive when the build does not slim.
    slim: &'a crate::slim::Policy,
    /// Files from `--include` directories, added after every other stage.
    included: &'a [crate::include::Included],
    /// Findings the check accepts.
    allow: &'a [check::allow::Allow],
    source_date_epoch: Option<u64>,
    /// The interpreter compiling this target's bytecode; `None` for none.
    bytecode: Option<&'a Interpreter>,
    bytecode_mode: bytecode::Mode,
    /// Where the start-up imports begin, for `imported` bytecode.
    startup: Option<&'a bytecode::imported::Startup>,
    cache: CacheDir,
    /// The lock's notes on releases not taken, for the manifest.
    held_back: Vec<crate::lock::NotTaken>,
    differs: Vec<crate::lock::NotTaken>,
    /// The interpreter named for the build (`--python-interpreter`), which also imports a
    /// slimmed layer; `None` finds one.
    import_interpreter: Option<PathBuf>,
    /// Write a CycloneDX SBOM beside the zip.
    sbom: bool,
}

/// The interpreters that compile bytecode, one per Python minor of the targets; empty when
/// the layers get none. Found before anything is locked or fetched, so a missing Python
/// stops the build at once (exit 2) with what to install.
fn bytecode_interpreters(
    inputs: &Inputs,
    settings: &BuildSettings,
    config: &crate::config::Config,
) -> Result<(bytecode::Mode, Vec<(u8, Interpreter)>), Error> {
    let mode = match (
        settings.compile_bytecode,
        config.compile_bytecode.as_deref(),
    ) {
        (Some(m), _) => m,
        (None, Some(m)) => m.parse().map_err(|e| {
            Error::Input(format!("{}: compile-bytecode: {e}", config.file.display()))
        })?,
        (None, None) => bytecode::Mode::None,
    };
    if mode == bytecode::Mode::None {
        return Ok((mode, Vec::new()));
    }
    let explicit = settings
        .python_interpreter
        .clone()
        .or_else(|| config.python_interpreter.as_ref().map(|p| config.path(p)));
    // Warm builds reuse each interpreter's answer instead of starting it again.
    let memo = CacheDir::resolve(settings.lock.cache_dir.as_deref())
        .root()
        .join("interpreters-v1.json");
    let mut minors: Vec<u8> = inputs.targets.iter().map(|t| t.minor).collect();
    minors.sort_unstable();
    minors.dedup();
    minors
        .into_iter()
        .map(|minor| {
            // Bytecode does not depend on the CPU: any architecture's interpreter serves.
            let found = match &explicit {
                Some(p) => interpreter::explicit(p, None, minor, None, Purpose::BYTECODE),
                None => interpreter::discover_in(
                    minor,
                    None,
                    Purpose::BYTECODE,
                    &interpreter::SearchPaths {
                        memo: Some(memo.clone()),
                        ..interpreter::SearchPaths::from_env()
                    },
                ),
            };
            found.map(|i| (minor, i)).map_err(|e| Error::Input(e.0))
        })
        .collect::<Result<_, _>>()
        .map(|found| (mode, found))
}

/// The trim policy of this build: `--slim` or pylayer.toml's `slim`, and pylayer.toml's
/// `slim-patterns` followed by `--slim-pattern` (so a flag's `!` can keep what the file
/// removes).
fn slim_policy(
    settings: &BuildSettings,
    config: &crate::config::Config,
) -> Result<crate::slim::Policy, Error> {
    let texts: Vec<&String> = config
        .slim_patterns
        .iter()
        .chain(&settings.slim_patterns)
        .collect();
    let patterns = crate::slim::pattern::Patterns::parse(&texts).map_err(Error::Input)?;
    Ok(crate::slim::Policy {
        defaults: settings.slim.or(config.slim).unwrap_or(false),
        patterns,
    })
}

/// The findings the check accepts: pylayer.toml's `[check] allow`, then `--allow`. An
/// unknown code is a usage error naming the valid ones (and the file it came from).
pub fn check_allow(
    config: &crate::config::Config,
    flags: &[String],
) -> Result<Vec<check::allow::Allow>, Error> {
    let mut out = check::allow::Allow::parse_all(&config.check_allow)
        .map_err(|e| Error::Input(format!("{}: [check] {e}", config.file.display())))?;
    out.extend(check::allow::Allow::parse_all(flags).map_err(|e| Error::Input(format!("--{e}")))?);
    Ok(out)
}

/// Where `imported` bytecode's start-up imports begin: `--entry` in its code directory, or
/// every public top-level module. `--entry` without `imported` is a usage error.
fn startup(
    settings: &BuildSettings,
    mode: bytecode::Mode,
) -> Result<Option<bytecode::imported::Startup>, Error> {
    if mode != bytecode::Mode::Imported {
        return match &settings.entry {
            Some(e) => Err(Error::Input(format!(
                "--entry {e} only chooses what `--compile-bytecode=imported` compiles: add --compile-bytecode=imported, or leave --entry out"
            ))),
            None => Ok(None),
        };
    }
    let entry = match &settings.entry {
        Some(e) => {
            let dir = settings
                .code_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("."));
            let dir = std::path::absolute(&dir)
                .map_err(|err| Error::Input(format!("--code {}: {err}", dir.display())))?;
            let module = crate::layer_test::entry::resolve_entry(&dir, e)
                .map_err(|err| Error::Input(format!("{err:#}")))?;
            Some((dir, module))
        }
        None => None,
    };
    Ok(Some(bytecode::imported::Startup {
        entry,
        timeout: std::time::Duration::from_secs(300),
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }))
}

/// plan → (stages) → write → check → manifest, for one target.
/// The pins as they went into the layer: a source distribution's pin carries the wheel
/// built from it.
fn as_built(packages: &[LockedPackage], wheels: &[(LockedPackage, PathBuf)]) -> Vec<LockedPackage> {
    packages
        .iter()
        .map(|p| {
            wheels
                .iter()
                .find(|(w, _)| w.name == p.name && w.built_from_source)
                .map_or_else(|| p.clone(), |(w, _)| w.clone())
        })
        .collect()
}

fn build_target(
    b: &TargetBuild,
    packages: &[LockedPackage],
    wheels: &[(LockedPackage, PathBuf)],
    on_event: &dyn Fn(Event),
) -> Result<BuiltLayer, Error> {
    let failed = |e: anyhow::Error| Error::Failed(format!("building {}: {e:#}", b.zip.display()));
    let mut plan = plan::plan(
        wheels,
        b.target,
        &PlanOptions {
            layout: b.layout,
            keep: b.keep.clone(),
            overwrite: b.overwrite.clone(),
        },
    )
    .map_err(failed)?;
    // Stages that add, filter or rewrite entries go here (see the `plan` module).
    // Slimming first: nothing is compiled for a file it removes.
    let mut slim_summary = None;
    // What slimming removed, by layer path: an import that fails after slimming and names
    // one of these was broken by it.
    let mut slim_removed = None;
    if b.slim.is_active() {
        let before: std::collections::BTreeSet<String> =
            plan.entries().map(|(p, _)| p.to_string()).collect();
        let r = crate::slim::slim_plan(&mut plan, b.slim, &b.cache)
            .map_err(|e| failed(e.context("slimming")))?;
        slim_summary = Some(manifest::ManifestSlim {
            defaults: b.slim.defaults,
            patterns: b.slim.patterns.0.iter().map(|p| p.text.clone()).collect(),
            removed_files: r.files,
            removed_bytes: r.bytes,
            stripped_files: r.stripped,
            left_unstripped: r
                .left_unstripped
                .into_iter()
                .map(|(path, reason)| manifest::LeftUnstripped { path, reason })
                .collect(),
            categories: r.categories,
        });
        let after: std::collections::BTreeSet<&str> = plan.entries().map(|(p, _)| p).collect();
        slim_removed = Some(
            before
                .into_iter()
                .filter(|p| !after.contains(p.as_str()))
                .collect::<std::collections::BTreeSet<String>>(),
        );
    }
    let mut bytecode_summary = None;
    if let Some(interp) = b.bytecode {
        let sha_of = |filename: &str| {
            wheels
                .iter()
                .find(|(p, _)| p.filename == filename)
                .map(|(p, _)| p.sha256.clone())
        };
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let r = bytecode::stage::add_to_plan(&mut plan, interp, &b.cache, b.layout, &sha_of, jobs)
            .map_err(|e| failed(e.context("compiling bytecode")))?;
        plan.notes.extend(r.notes.iter().cloned());
        let mut files = r.pyc_files;
        let mut imported = None;
        if let Some(startup) = b.startup {
            let t = only_imported(&mut plan, interp, startup, &r.added, b.target, &b.cache)
                .map_err(failed)?;
            files = t.kept_files;
            imported = Some(t);
        }
        bytecode_summary = Some(manifest::ManifestBytecode {
            mode: b.bytecode_mode.as_str().to_string(),
            interpreter: interp.full_version(),
            interpreter_path: interp.python.display().to_string(),
            magic: interp.magic.clone(),
            files,
            skipped: r.skipped,
            imported,
        });
    }
    // Included files last: copied as they are, never slimmed, stripped or compiled.
    let included = crate::include::add_to_plan(&mut plan, b.included)
        .map_err(|e| Error::Input(format!("{e:#}")))?;
    // The zip and its manifest are written as a pair: another build into the same path
    // waits here until both are in place.
    let _out_lock = crate::outlock::OutputLock::acquire(&b.zip).map_err(failed)?;
    let prefix = plan.prefix().to_string();
    let report = assemble::write(plan, b.source_date_epoch, &b.zip).map_err(failed)?;
    let mut check = check_zip(&b.zip, b.target, b.allow)?;
    if let Some(removed) = &slim_removed {
        import_after_slim(b, removed, &prefix, &mut check, on_event)?;
    }
    let mut manifest = manifest::build_manifest(
        b.name,
        b.target,
        b.layout,
        &b.zip,
        &as_built(packages, wheels),
        &report,
    );
    manifest.bytecode = bytecode_summary;
    manifest.slim = slim_summary;
    manifest.included = included;
    manifest.held_back = b.held_back.clone();
    manifest.differs = b.differs.clone();
    manifest::write(&manifest, &manifest::manifest_path(&b.zip))?;
    if b.sbom {
        crate::sbom::write(&manifest, &b.zip).map_err(|e| failed(e.context("writing the SBOM")))?;
    }
    Ok(BuiltLayer {
        zip: b.zip.clone(),
        manifest,
        check,
    })
}

/// After slimming: imports every top-level module of the written layer and adds a finding
/// to the check for each that fails (an error when the failure names something slimming
/// removed); a note when no interpreter can run the layer.
fn import_after_slim(
    b: &TargetBuild,
    removed: &std::collections::BTreeSet<String>,
    prefix: &str,
    check: &mut check::Report,
    on_event: &dyn Fn(Event),
) -> Result<(), Error> {
    use crate::layer_test::slimmed::{self, Outcome};
    let memo = b.cache.root().join("interpreters-v1.json");
    let outcome = slimmed::check(
        &b.zip,
        b.target,
        b.import_interpreter.as_deref(),
        Some(memo),
        removed,
        prefix,
    )
    .map_err(|e| {
        Error::Failed(format!(
            "importing the slimmed layer {}: {e:#}",
            b.zip.display()
        ))
    })?;
    match outcome {
        Outcome::Skipped(why) => on_event(Event::Note(format!("{}: {why}", b.target.label()))),
        Outcome::Checked {
            modules,
            interpreter,
            findings,
        } => {
            on_event(Event::Detail(format!(
                "{}: imported {modules} top-level module(s) of the slimmed layer with {interpreter}",
                b.target.label()
            )));
            if !findings.is_empty() {
                check.findings.extend(findings);
                check.sort();
                check.apply_allow(b.allow);
            }
        }
    }
    Ok(())
}

/// `imported` bytecode: imports what runs at start-up from the planned layer and leaves out
/// the `.pyc` of every module it did not load.
fn only_imported(
    plan: &mut plan::Plan,
    interp: &Interpreter,
    startup: &bytecode::imported::Startup,
    added: &[(String, String)],
    target: &Target,
    cache: &CacheDir,
) -> anyhow::Result<manifest::ImportedBytecode> {
    let native = plan
        .entries()
        .any(|(p, _)| p.ends_with(".so") || p.contains(".so."));
    if native && !interpreter::machine_matches(&interp.machine, target.arch) {
        anyhow::bail!(
            "--compile-bytecode=imported imports the layer to find what it imports at start-up, and its compiled modules are for {}, which {} cannot load: give a python3.{} for {} with --python-interpreter (on this machine, under qemu-user: see docs/test-inspect.md), or use --compile-bytecode (every module)",
            target.arch.machine(),
            interp.describe(),
            target.minor,
            target.arch.machine()
        );
    }
    let key = bytecode::startup_cache::key(plan, interp, startup)?;
    let found = match bytecode::startup_cache::load(cache, &key) {
        Some(found) => {
            plan.notes.push(
                "imported bytecode: what start-up imports was taken from the cache (same layer files, interpreter and handler code as a build before)".to_string(),
            );
            found
        }
        None => {
            let found = bytecode::imported::discover(plan, interp, startup)?;
            if let Err(e) = bytecode::startup_cache::store(cache, &key, &found) {
                plan.notes.push(format!(
                    "imported bytecode: could not remember the start-up imports in the cache ({e:#}); the next build imports the layer again"
                ));
            }
            found
        }
    };
    let trimmed = bytecode::imported::keep_loaded(plan, added, &found.loaded);
    for f in &found.failures {
        plan.notes.push(format!(
            "imported bytecode: {f} (while importing it to find what runs at start-up; the modules it did not reach have no bytecode)"
        ));
    }
    plan.notes.push(format!(
        "imported bytecode: .pyc for the {} module(s) imported at start-up by {}; left out {} .pyc ({} bytes) of modules not imported then, which compile from source if imported later",
        trimmed.kept,
        found.modules.join(", "),
        trimmed.left_out,
        crate::format::thousands(trimmed.left_out_bytes)
    ));
    Ok(manifest::ImportedBytecode {
        entry: startup.entry.as_ref().map(|(_, m)| m.clone()),
        modules: found.modules,
        kept_files: trimmed.kept,
        left_out_files: trimmed.left_out,
        left_out_bytes: trimmed.left_out_bytes,
        failures: found.failures,
    })
}

/// The static check of a zip this build just wrote.
fn check_zip(
    zip: &Path,
    target: &Target,
    allow: &[check::allow::Allow],
) -> Result<check::Report, Error> {
    let source = LayerSource::from_path(zip)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", zip.display())))?;
    let opts = CheckOptions {
        allow: allow.to_vec(),
        ..CheckOptions::default()
    };
    check::check(&source, target, &opts)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", zip.display())))
}
