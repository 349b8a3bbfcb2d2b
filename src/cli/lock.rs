//! `pylayer lock`: resolve the requirements for each target and write `pylayer.lock`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use futures::StreamExt;
use uv_normalize::PackageName;

use super::inputs::{InputArgs, Inputs};
use super::{Failure, output, runtime, shared};
use pylayer::cache::CacheDir;
use pylayer::index::IndexClient;
use pylayer::lock::{LOCK_VERSION, Lock, LockedPackage, LockedTarget};
use pylayer::resolve::{self, ResolveError, ResolveInput};
use pylayer::target::Target;

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Print the pins without writing the lock.
    #[arg(long)]
    pub dry_run: bool,
    /// Write nothing; exit 1 and say what changed when the lock no longer matches its inputs
    /// (missing, other requirements or targets, other pins). For pre-commit hooks and CI.
    #[arg(long, conflicts_with_all = ["dry_run", "json", "upgrade", "upgrade_package"])]
    pub check: bool,
    // JSON shape: the lock itself (`{"version", "inputs_digest", "targets": [...]}`).
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
}

/// What `ensure_lock` did.
pub struct LockOutcome {
    pub lock: Lock,
    /// False when the existing lock already satisfied the inputs.
    pub changed: bool,
}

pub fn run(args: LockArgs) -> Result<(), Failure> {
    let inputs = args.inputs.load()?;
    let rt = runtime()?;
    let started = Instant::now();
    if args.check {
        return check(&rt, &args.inputs, &inputs);
    }
    let outcome = ensure_lock(&rt, &args.inputs, &inputs, !args.dry_run)?;
    if args.json {
        let json = serde_json::to_string_pretty(&outcome.lock)
            .map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", render_pins(&outcome.lock, &inputs.targets));
    }
    let count: usize = outcome.lock.targets.iter().map(|t| t.packages.len()).sum();
    let path = args.inputs.lock_path.display();
    let verb = match (args.dry_run, outcome.changed) {
        (true, _) => "resolved (dry run, nothing written)".to_string(),
        (false, true) => format!("wrote {path}"),
        (false, false) => format!("{path} is up to date"),
    };
    output::status(&format!(
        "{count} pins for {} target(s) in {:.2}s: {verb}",
        inputs.targets.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// `pylayer lock --check`: resolves as `pylayer lock` would, writes nothing, and fails with
/// the differences when the lock on disk is not what `pylayer lock` would leave there.
fn check(rt: &tokio::runtime::Runtime, args: &InputArgs, inputs: &Inputs) -> Result<(), Failure> {
    let path = args.lock_path.display();
    if !args.lock_path.exists() {
        return Err(Failure::failed(format!(
            "{path} does not exist\n  run `pylayer lock` to write it, then commit it"
        )));
    }
    let existing = Lock::read(&args.lock_path).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let outcome = ensure_lock(rt, args, inputs, false)?;
    if !outcome.changed {
        output::status(&format!("{path} is up to date"));
        return Ok(());
    }
    let changes: Vec<String> = pylayer::lock::diff::diff(&existing, &outcome.lock)
        .iter()
        .map(|c| format!("  {c}"))
        .collect();
    Err(Failure::failed(format!(
        "{path} no longer matches its inputs:\n{}\n  run `pylayer lock` to update it, then commit it",
        changes.join("\n")
    )))
}

/// `name==version  filename` per target, the human view of a lock.
pub fn render_pins(lock: &Lock, targets: &[Target]) -> String {
    let mut out = String::new();
    for t in targets {
        let Some(lt) = lock.target(t) else { continue };
        out.push_str(&format!("# {}\n", t.label()));
        let width = lt
            .packages
            .iter()
            .map(|p| p.name.len() + p.version.len() + 2)
            .max()
            .unwrap_or(0);
        for p in &lt.packages {
            let pin = format!("{}=={}", p.name, p.version);
            out.push_str(&format!("{pin:<width$}  {}\n", p.filename));
        }
    }
    out
}

/// Returns a lock for `inputs`: the existing one when it still fits, else a new
/// resolution (keeping the existing pins where they still fit, unless upgrading).
/// Writes it when `write` is set and it changed.
pub fn ensure_lock(
    rt: &tokio::runtime::Runtime,
    args: &InputArgs,
    inputs: &Inputs,
    write: bool,
) -> Result<LockOutcome, Failure> {
    let digest = inputs.digest();
    let existing = if args.lock_path.exists() {
        match Lock::read(&args.lock_path) {
            Ok(l) => Some(l),
            Err(e) if args.upgrade => {
                eprintln!("warning: ignoring the existing lock: {e:#}");
                None
            }
            Err(e) => return Err(Failure::usage(format!("{e:#}"))),
        }
    } else {
        None
    };
    let upgrading = args.upgrade || !args.upgrade_package.is_empty();
    if let Some(lock) = &existing
        && !upgrading
        && lock.inputs_digest == digest
        && inputs.targets.iter().all(|t| lock.target(t).is_some())
    {
        return Ok(LockOutcome {
            lock: lock.clone(),
            changed: false,
        });
    }
    let upgrade_names: Vec<PackageName> = args
        .upgrade_package
        .iter()
        .map(|n| {
            n.parse::<PackageName>()
                .map_err(|e| Failure::usage(format!("--upgrade-package {n}: {e}")))
        })
        .collect::<Result<_, _>>()?;

    let http = pylayer::http::client()?;
    let cache = CacheDir::resolve(args.cache_dir.as_deref());
    let client = Arc::new(IndexClient::new(
        http,
        cache,
        inputs.index.clone(),
        args.offline,
    ));
    let mut new_targets = Vec::new();
    let mut jobs = Vec::new();
    for target in &inputs.targets {
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
        let input = ResolveInput {
            requirements: inputs.reqs.requirements.clone(),
            constraints: inputs.reqs.constraints.clone(),
            pre: inputs.pre,
            preferences,
        };
        let client = client.clone();
        let handle = rt.handle().clone();
        let target = *target;
        jobs.push((
            target,
            rt.spawn_blocking(move || resolve::resolve(client, handle, target, &input)),
        ));
    }
    let mut failures = Vec::new();
    for (target, job) in jobs {
        let result = rt
            .block_on(job)
            .map_err(|e| Failure::failed(format!("resolution for {target} crashed: {e}")))?;
        match result {
            Ok(pins) => {
                let packages = rt.block_on(locked_packages(&client, pins))?;
                new_targets.push(LockedTarget {
                    python: target.python_version(),
                    arch: target.arch.lambda_name().to_string(),
                    packages,
                });
            }
            Err(ResolveError::NoSolution(msg)) | Err(ResolveError::Other(msg)) => {
                failures.push(msg)
            }
        }
    }
    if !failures.is_empty() {
        return Err(Failure::failed(failures.join("\n\n")));
    }
    let mut lock = Lock {
        version: LOCK_VERSION,
        inputs_digest: digest,
        targets: new_targets,
    };
    // Targets not asked for this time stay when the inputs are unchanged.
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
    Ok(LockOutcome { lock, changed })
}

/// Completes each pin with the sha256 and size the lock records, in parallel.
async fn locked_packages(
    client: &Arc<IndexClient>,
    pins: Vec<resolve::Pin>,
) -> Result<Vec<LockedPackage>, Failure> {
    let results: Vec<_> = futures::stream::iter(pins.into_iter().map(|pin| {
        let client = client.clone();
        async move {
            let (sha256, size) = client.hash_and_size(&pin.file).await?;
            Ok::<_, anyhow::Error>(LockedPackage {
                name: pin.name.to_string(),
                version: pin.version.to_string(),
                filename: pin.file.filename.clone(),
                url: pin.file.url.clone(),
                sha256,
                size,
                dependencies: pin.dependencies.iter().map(ToString::to_string).collect(),
            })
        }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    let mut out = Vec::new();
    for r in results {
        out.push(r.map_err(|e| Failure::failed(format!("{e:#}")))?);
    }
    Ok(out)
}
