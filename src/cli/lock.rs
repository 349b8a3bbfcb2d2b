//! `pylayer lock`: resolve the requirements for each target and write `pylayer.lock`.

use std::time::Instant;

use clap::Args;

use super::inputs::InputArgs;
use super::{Failure, output, runtime, shared};
use pylayer::lock::Lock;
use pylayer::pipeline::{self, Event, LockSettings};
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

pub fn run(args: LockArgs) -> Result<(), Failure> {
    pylayer::cleanup::install_interrupt_handler();
    let inputs = args.inputs.load()?;
    let rt = runtime()?;
    let started = Instant::now();
    if args.check {
        return check(&rt, &args.inputs, &inputs);
    }
    let outcome = pipeline::ensure_lock(
        &rt,
        &inputs,
        &lock_settings(&args.inputs, &inputs),
        !args.dry_run,
        &print_event,
    )?;
    if args.json {
        let json = serde_json::to_string_pretty(&outcome.lock)
            .map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", render_pins(&outcome.lock, &inputs.targets));
    }
    let count: usize = outcome.lock.targets.iter().map(|t| t.packages.len()).sum();
    let path = inputs.lock_path.display();
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
fn check(
    rt: &tokio::runtime::Runtime,
    args: &InputArgs,
    inputs: &pylayer::inputs::Inputs,
) -> Result<(), Failure> {
    let path = inputs.lock_path.display();
    if !inputs.lock_path.exists() {
        return Err(Failure::failed(format!(
            "{path} does not exist\n  run `pylayer lock` to write it, then commit it"
        )));
    }
    let existing = Lock::read(&inputs.lock_path).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let outcome = pipeline::ensure_lock(
        rt,
        inputs,
        &lock_settings(args, inputs),
        false,
        &print_event,
    )?;
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

/// The lock flags as the pipeline takes them.
pub fn lock_settings(args: &InputArgs, inputs: &pylayer::inputs::Inputs) -> LockSettings {
    LockSettings {
        lock_path: inputs.lock_path.clone(),
        sibling_locks: inputs.sibling_locks.clone(),
        upgrade: args.upgrade,
        upgrade_packages: args.upgrade_package.clone(),
        offline: args.offline,
        cache_dir: args.cache_dir.clone(),
        build_interpreter: None,
    }
}

/// Prints the pipeline's notes and warnings on stderr (progress is the caller's).
pub fn print_event(e: Event) {
    match e {
        Event::Warning(m) => output::warn(&m),
        Event::Note(m) => output::note(&m),
        Event::HeldBack(m) => output::status(&m),
        Event::Detail(m) => output::detail(&format!("note: {m}")),
        Event::Locked { path } => output::status(&format!("locked: wrote {}", path.display())),
        Event::FetchStarted { .. } | Event::FetchProgress { .. } | Event::FetchFinished => {}
    }
}

impl From<pipeline::Error> for Failure {
    fn from(e: pipeline::Error) -> Self {
        match e {
            pipeline::Error::Input(m) => Failure::usage(m),
            pipeline::Error::Failed(m) => Failure::failed(m),
        }
    }
}
