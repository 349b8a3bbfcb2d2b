//! `pylayer check LAYER.zip|DIR`: will this layer work on Lambda? Prints the findings as a
//! table grouped by severity (or JSON) and exits 1 on any error (on any warning with
//! `--strict`), 0 otherwise.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Failure, output, shared, values};
use pylayer::check::{self, CheckOptions, LayerSource, Report};
use pylayer::layer::target_hint;
use pylayer::target::{Arch, Target};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The layer: a zip file, a directory laid out like one (`python/…`), or a published
    /// version's ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N`, downloaded into the cache).
    pub layer: PathBuf,
    /// Lambda Python runtime the layer is for (3.9 … 3.14) [default: from the manifest beside the zip]
    #[arg(long = "python", value_name = "3.X", value_parser = values::python_minor)]
    pub python: Option<u8>,
    /// Lambda architecture [default: from the manifest beside the zip]
    #[arg(long = "arch", value_name = "ARCH", value_parser = values::arch_parser())]
    pub arch: Option<Arch>,
    /// Unzipped size of the function's own code, counted against the 250 MB limit too
    /// (bytes, or with a unit: 240MB, 240MiB).
    #[arg(long, value_name = "SIZE", default_value = "0", value_parser = values::byte_size)]
    pub function_size: u64,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// Accept the findings with this code, optionally only under GLOB (relative to
    /// site-packages, e.g. `windows-binary:debugpy/**`): they no longer fail the check and
    /// are still counted (repeatable) [added to pylayer.toml's [check] allow]
    #[arg(long, value_name = "CODE[:GLOB]")]
    pub allow: Vec<String>,
    // Its `[check] allow` applies.
    #[arg(long, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub aws: shared::LayerAwsArgs,
}

/// The target from the flags, completed from a pylayer manifest (`X.json` beside `X.zip`),
/// or from a published version's compatible runtime and architecture.
fn target(args: &CheckArgs, published: Option<&shared::PublishedInput>) -> Result<Target, Failure> {
    let hint = target_hint::resolve(&args.layer, args.python, args.arch).map_err(Failure::usage)?;
    let minor = hint.minor.or(published.and_then(|p| p.python));
    let arch = hint.arch.or(published.and_then(|p| p.arch));
    let (Some(minor), Some(arch)) = (minor, arch) else {
        if let Some(p) = published {
            return Err(Failure::usage(format!(
                "which runtime is {} for? Its compatible runtimes ({}) and architectures ({}) do not name one of each: give --python 3.X and --arch x86_64|arm64",
                args.layer.display(),
                none_if_empty(&p.runtimes),
                none_if_empty(&p.architectures)
            )));
        }
        return Err(Failure::usage(format!(
            "which runtime is {} for? Give --python 3.X and --arch x86_64|arm64 (pylayer reads them from a manifest {} beside the zip when there is one)",
            args.layer.display(),
            target_hint::manifest_beside(&args.layer).display()
        )));
    };
    Target::new(minor, arch).map_err(Failure::usage)
}

fn none_if_empty(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Runs the check on one layer for one target, as `build` does on each zip it makes.
pub fn check_layer(path: &Path, target: &Target, opts: &CheckOptions) -> Result<Report, Failure> {
    let source = LayerSource::from_path(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    check::check(&source, target, opts)
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", path.display())))
}

pub fn run(args: CheckArgs) -> Result<(), Failure> {
    let published = shared::published_input(&args.layer, &args.aws)?;
    if published.is_none() {
        shared::require_layer(&args.layer)?;
    }
    let target = target(&args, published.as_ref())?;
    let config = shared::load_config(args.config.as_deref())?.unwrap_or_default();
    let opts = CheckOptions {
        function_size: args.function_size,
        allow: pylayer::pipeline::check_allow(&config, &args.allow)?,
    };
    let path = published
        .as_ref()
        .map_or(args.layer.as_path(), |p| p.path.as_path());
    let mut report = check_layer(path, &target, &opts)?;
    // A published version is named by its ARN, not by its place in the cache.
    report.layer = args.layer.display().to_string();
    if args.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        output::print(&check::report::render(&report));
    }
    if report.failed(args.strict) {
        let why = if report.errors() > 0 {
            format!("{} error(s)", report.errors())
        } else {
            format!("{} warning(s) (--strict)", report.warnings())
        };
        return Err(Failure::failed(format!(
            "{} will not work as it is on {}: {why}",
            args.layer.display(),
            target.label()
        )));
    }
    Ok(())
}

/// What `build` does with the check of each zip it made: findings on stderr (stdout keeps
/// the build's table or JSON), and a failure when any layer has errors.
pub fn after_build(reports: &[Report]) -> Result<(), Failure> {
    let mut failed = Vec::new();
    for r in reports {
        if r.findings.is_empty() {
            let allowed = r
                .allowed_line()
                .map(|l| format!("; {l}"))
                .unwrap_or_default();
            output::status(&format!(
                "check: {} ok for {}/{}{allowed}",
                r.layer, r.runtime, r.architecture
            ));
            continue;
        }
        // Notes alone (no bytecode, say) are advice, which `--quiet` leaves out.
        if r.errors() == 0 && r.warnings() == 0 && output::quiet() {
            continue;
        }
        output::eprint(&check::report::render(r));
        if r.errors() > 0 {
            failed.push(format!("{} ({} error(s))", r.layer, r.errors()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "the check found errors in {}: the layer was written but will not work on Lambda as it is",
            failed.join(", ")
        )))
    }
}
