//! The lock stage: a lock that fits the inputs, reused when it still does, else resolved
//! again (keeping the existing pins where they still fit, unless upgrading).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use uv_normalize::PackageName;

use super::{Error, Event};
use crate::cache::CacheDir;
use crate::index::IndexClient;
use crate::inputs::Inputs;
use crate::lock::{LOCK_VERSION, Lock, LockedPackage, LockedTarget, NotTaken};
use crate::resolve::{self, ResolveError, ResolveInput};

/// How to lock: where the lock lives and whether to upgrade.
#[derive(Debug, Clone, Default)]
pub struct LockSettings {
    /// Where the lock is kept (`pylayer.lock`).
    pub lock_path: PathBuf,
    /// Re-resolve everything, ignoring the pins of the existing lock.
    pub upgrade: bool,
    /// Re-resolve these packages, keeping the other pins.
    pub upgrade_packages: Vec<String>,
    /// Use only cached index pages and metadata.
    pub offline: bool,
    /// Where downloads are cached; `None` for the default.
    pub cache_dir: Option<PathBuf>,
    /// Other environments' locks, by environment name: their pins are preferred where this
    /// lock has none, and where this environment ends up at another version, it is said.
    pub sibling_locks: Vec<(String, PathBuf)>,
    /// The interpreter that runs build backends (`--python-interpreter`); `None` discovers one.
    pub build_interpreter: Option<PathBuf>,
}

/// What `ensure_lock` did.
pub struct LockOutcome {
    pub lock: Lock,
    /// False when the existing lock already satisfied the inputs.
    pub changed: bool,
}

/// Returns a lock for `inputs`: the existing one when it still fits, else a new
/// resolution (keeping the existing pins where they still fit, unless upgrading).
/// Writes it when `write` is set and it changed.
pub fn ensure_lock(
    rt: &tokio::runtime::Runtime,
    inputs: &Inputs,
    settings: &LockSettings,
    write: bool,
    on_event: &dyn Fn(Event),
) -> Result<LockOutcome, Error> {
    let args = settings;
    let digest = inputs.digest();
    let existing = if args.lock_path.exists() {
        match Lock::read(&args.lock_path) {
            Ok(l) => Some(l),
            Err(e) if args.upgrade => {
                on_event(Event::Warning(format!("ignoring the existing lock: {e:#}")));
                None
            }
            Err(e) => return Err(Error::Input(format!("{e:#}"))),
        }
    } else {
        None
    };
    let upgrading = args.upgrade || !args.upgrade_packages.is_empty();
    let siblings = super::environments::read_siblings(&args.sibling_locks, on_event);
    let env_name = inputs
        .config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_else(|| "default".to_string());
    if let Some(lock) = &existing
        && !upgrading
        && lock.inputs_digest == digest
        && inputs.targets.iter().all(|t| lock.target(t).is_some())
    {
        report_not_taken(lock, inputs, on_event);
        super::environments::report_differences(
            &env_name,
            lock,
            &siblings,
            &inputs.targets,
            on_event,
        );
        return Ok(LockOutcome {
            lock: lock.clone(),
            changed: false,
        });
    }
    let upgrade_names: Vec<PackageName> = args
        .upgrade_packages
        .iter()
        .map(|n| {
            n.parse::<PackageName>()
                .map_err(|e| Error::Input(format!("--upgrade-package {n}: {e}")))
        })
        .collect::<Result<_, _>>()?;

    let http = crate::http::client()?;
    let cache = CacheDir::resolve(args.cache_dir.as_deref());
    let client = Arc::new(IndexClient::new(
        http,
        cache.clone(),
        inputs.index.clone(),
        args.offline,
    ));
    let local = if inputs.local.is_empty() {
        super::local::LocalBuilt::default()
    } else {
        let ctx = super::local::context(
            rt,
            inputs,
            client.clone(),
            cache.clone(),
            args.build_interpreter.clone(),
        );
        super::local::build_for_resolution(inputs, &ctx, on_event)?
    };
    let builder = crate::source_build::Builder(Arc::new(super::local::context(
        rt,
        inputs,
        client.clone(),
        cache.clone(),
        args.build_interpreter.clone(),
    )));
    // Targets of the existing lock not asked for this time stay in it when the inputs are
    // unchanged; they are resolved again with the others (keeping their pins where they
    // fit), so every target of the lock is aligned, not only those asked for.
    let kept: Vec<crate::target::Target> = existing
        .iter()
        .filter(|old| old.inputs_digest == digest)
        .flat_map(|old| &old.targets)
        .filter_map(|t| {
            let minor = crate::target::parse_python(&t.python).ok()?;
            let arch = t.arch.parse().ok()?;
            crate::target::Target::new(minor, arch).ok()
        })
        .filter(|t| !inputs.targets.contains(t))
        .collect();
    let mut jobs = Vec::new();
    for target in inputs.targets.iter().chain(&kept) {
        let mut preferences = HashMap::new();
        if !args.upgrade
            && let Some(lt) = existing.as_ref().and_then(|l| l.target(target))
        {
            for p in &lt.packages {
                if let (Ok(n), Ok(v)) = (p.name.parse::<PackageName>(), p.version.parse())
                    && !upgrade_names.contains(&n)
                {
                    preferences.insert(n, v);
                }
            }
        }
        if !args.upgrade {
            super::environments::preferences(&siblings, target, &mut preferences, &upgrade_names);
        }
        let input = ResolveInput {
            requirements: inputs
                .reqs
                .requirements
                .iter()
                .chain(&local.requirements)
                .cloned()
                .collect(),
            constraints: inputs.reqs.constraints.clone(),
            pre: inputs.pre,
            preferences,
            across: HashMap::new(),
            build: inputs.build.clone(),
            builder: Some(builder.clone()),
        };
        jobs.push((*target, input));
    }
    let resolved = resolve::resolve_targets(client.clone(), rt.handle().clone(), jobs);
    let labels: Vec<(String, HashMap<PackageName, String>)> = resolved
        .iter()
        .map(|r| {
            let versions = match &r.result {
                Ok(res) => res
                    .pins
                    .iter()
                    .map(|p| (p.name.clone(), p.version.to_string()))
                    .collect(),
                Err(_) => HashMap::new(),
            };
            (short_label(&r.target), versions)
        })
        .collect();
    // What the resolution kept is read back from the cache by path from here on: pinning
    // reads the sizes of wheels read by ranges, fetching reads the METADATA.
    crate::write_behind::wait();
    let mut new_targets = Vec::new();
    let mut failures = Vec::new();
    for (i, r) in resolved.into_iter().enumerate() {
        let target = r.target;
        match r.result {
            Ok(resolution) => {
                for u in &resolution.unusable {
                    on_event(Event::Detail(format!(
                        "{} {} left out for {}: {} ({})",
                        u.name,
                        u.version,
                        target.label(),
                        u.reason,
                        u.filename
                    )));
                }
                let note = |h: &resolve::HeldBack, elsewhere: Vec<String>| NotTaken {
                    name: h.name.to_string(),
                    version: h.version.to_string(),
                    not_taken: h.not_taken.to_string(),
                    reason: h.reason.clone(),
                    elsewhere,
                };
                let held_back = resolution
                    .held_back
                    .iter()
                    .map(|h| note(h, vec![]))
                    .collect();
                let differs = resolution
                    .differs
                    .iter()
                    .map(|h| {
                        let wanted = h.not_taken.to_string();
                        let elsewhere = labels
                            .iter()
                            .enumerate()
                            .filter(|(j, (_, v))| *j != i && v.get(&h.name) == Some(&wanted))
                            .map(|(_, (l, _))| l.clone())
                            .collect();
                        note(h, elsewhere)
                    })
                    .collect();
                let mut packages = rt.block_on(locked_packages(&client, resolution.pins))?;
                for p in &mut packages {
                    // A local project: by its directory from the project root and the hash
                    // of its sources, never where its wheel was built.
                    if local.record(p) {
                        continue;
                    }
                    // A wheel of a --find-links directory: by its path from the project root,
                    // so the lock does not change when the project moves.
                    if p.url.starts_with("file:") {
                        p.url = inputs.recorded_location(&p.url);
                    }
                }
                new_targets.push(LockedTarget {
                    python: target.python_version(),
                    arch: target.arch.lambda_name().to_string(),
                    packages,
                    held_back,
                    differs,
                });
            }
            // A kept target that cannot be resolved now stays as it was (below).
            Err(_) if kept.contains(&target) => {}
            Err(ResolveError::NoSolution(msg)) | Err(ResolveError::Other(msg)) => {
                failures.push(msg)
            }
        }
    }
    if !failures.is_empty() {
        return Err(Error::Failed(failures.join("\n\n")));
    }
    let mut lock = Lock {
        version: LOCK_VERSION,
        inputs_digest: digest,
        targets: new_targets,
    };
    // Targets not asked for this time stay when the inputs are unchanged (as they were, if
    // they could not be resolved again above).
    if let Some(old) = &existing
        && old.inputs_digest == lock.inputs_digest
    {
        for t in &old.targets {
            if !lock
                .targets
                .iter()
                .any(|n| n.python == t.python && n.arch == t.arch)
            {
                lock.targets.push(t.clone());
            }
        }
    }
    lock.normalize();
    let changed = existing.as_ref() != Some(&lock);
    if write && changed {
        lock.write(&args.lock_path)?;
    }
    report_not_taken(&lock, inputs, on_event);
    super::environments::report_differences(&env_name, &lock, &siblings, &inputs.targets, on_event);
    Ok(LockOutcome { lock, changed })
}

/// `3.12/x86_64`: how a lock names a target.
fn short_label(t: &crate::target::Target) -> String {
    format!("{}/{}", t.python_version(), t.arch.lambda_name())
}

/// Tells, for every target asked for, which packages differ from the other targets and which
/// are not at their newest release, and why (from the lock, so a lock that is reused says it
/// too). A held-back release that is also what another target has is said once.
fn report_not_taken(lock: &Lock, inputs: &Inputs, on_event: &dyn Fn(Event)) {
    for target in &inputs.targets {
        let Some(lt) = lock.target(target) else {
            continue;
        };
        for d in &lt.differs {
            on_event(Event::HeldBack(format!(
                "not the same on every target: {} {} on {} ({} on {}): {}",
                d.name,
                d.version,
                target.label(),
                d.not_taken,
                d.elsewhere.join(", "),
                d.reason
            )));
        }
        for h in &lt.held_back {
            if lt
                .differs
                .iter()
                .any(|d| d.name == h.name && d.not_taken == h.not_taken)
            {
                continue;
            }
            on_event(Event::HeldBack(format!(
                "held back on {}: {} {} (not {}: {})",
                target.label(),
                h.name,
                h.version,
                h.not_taken,
                h.reason
            )));
        }
    }
}

/// Completes each pin with the sha256 and size the lock records, in parallel.
async fn locked_packages(
    client: &Arc<IndexClient>,
    pins: Vec<resolve::Pin>,
) -> Result<Vec<LockedPackage>, Error> {
    let results: Vec<_> = futures::stream::iter(pins.into_iter().map(|pin| {
        let client = client.clone();
        async move {
            let (sha256, size) = client.hash_and_size(&pin.file).await?;
            let metadata_sha256 = client.metadata_sha256(&pin.file);
            let built_from_source = resolve::is_sdist(&pin.file);
            Ok::<_, anyhow::Error>(LockedPackage {
                name: pin.name.to_string(),
                version: pin.version.to_string(),
                filename: pin.file.filename.clone(),
                url: pin.file.url.clone(),
                sha256,
                size,
                dependencies: pin.dependencies.iter().map(ToString::to_string).collect(),
                metadata_sha256,
                source_hash: None,
                built_from_source,
            })
        }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    let mut out = Vec::new();
    for r in results {
        out.push(r.map_err(|e| Error::Failed(format!("{e:#}")))?);
    }
    Ok(out)
}
