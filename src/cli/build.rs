//! `pylayer build`: lock when the inputs changed, fetch the wheels, assemble one layer zip
//! per target, and report what went in.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::inputs::InputArgs;
use super::lock::ensure_lock;
use super::{Failure, output, runtime, shared, values};
use pylayer::assemble::{self, AssembleOptions, Layout};
use pylayer::cache::CacheDir;
use pylayer::domain::INSTALLER_TOOLING;
use pylayer::fetch::{self, FetchEvent, FetchOptions};
use pylayer::manifest::{self, Manifest};

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Layer name, used in the zip's file name [default: pylayer.toml's name, else the
    /// requirements file's directory]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Where the zips and manifests go [default: pylayer.toml's out-dir, else dist]
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Where packages go in the zip [default: pylayer.toml's layout, else python]
    #[arg(long, value_name = "LAYOUT", value_parser = values::layout_parser())]
    pub layout: Option<Layout>,
    /// Leave this distribution out, with whatever only it needed (repeatable).
    #[arg(long, value_name = "NAME")]
    pub exclude: Vec<String>,
    /// Leave out boto3, botocore, s3transfer and jmespath, which the runtime already ships.
    #[arg(long)]
    pub no_runtime_provided: bool,
    // JSON shape: `{"layers": [manifest, …]}`, one manifest per target.
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
}

/// A valid layer name (`[A-Za-z0-9_-]{1,140}`) derived from a directory or project name.
pub fn sanitize_name(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    s.chars().take(140).collect()
}

fn default_name(args: &BuildArgs) -> String {
    let from_dir = |p: &Path| {
        std::path::absolute(p).ok().and_then(|a| {
            a.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
    };
    let raw = args
        .inputs
        .requirement_files
        .first()
        .and_then(|f| from_dir(f))
        .or_else(|| {
            std::env::current_dir()
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default();
    let name = sanitize_name(&raw);
    if name.is_empty() {
        "layer".to_string()
    } else {
        name
    }
}

pub fn run(args: BuildArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let inputs = args.inputs.load()?;
    let config = inputs.config.clone().unwrap_or_default();
    let layout: Layout = match args.layout {
        Some(l) => l,
        None => config
            .layout
            .as_deref()
            .unwrap_or("python")
            .parse()
            .map_err(Failure::usage)?,
    };
    let out_dir = args
        .out_dir
        .clone()
        .or_else(|| config.out_dir.as_ref().map(|d| config.path(d)))
        .unwrap_or_else(|| PathBuf::from("dist"));
    let name = match args.name.as_ref().or(config.name.as_ref()) {
        Some(n) => {
            let clean = sanitize_name(n);
            if clean != *n || clean.is_empty() {
                return Err(Failure::usage(format!(
                    "--name `{n}` is not a valid layer name: use 1 to 140 letters, digits, `-` or `_`"
                )));
            }
            clean
        }
        None => default_name(&args),
    };
    let exclude = exclusions(&args, &config)?;
    if let Some(dir) = &args.inputs.from_venv {
        let dists = pylayer::venv::installed(&pylayer::venv::site_packages(dir)?)?;
        for t in &inputs.targets {
            for note in pylayer::venv::foreign_binaries(&dists, t) {
                eprintln!(
                    "note: {note}; using the {} wheel of the same version instead",
                    t.label()
                );
            }
        }
    }
    let rt = runtime()?;
    let outcome = ensure_lock(&rt, &args.inputs, &inputs, true)?;
    if outcome.changed {
        eprintln!("locked: wrote {}", args.inputs.lock_path.display());
    }

    // Fetch every wheel of every target once, in parallel, into the shared cache.
    let cache = CacheDir::resolve(args.inputs.cache_dir.as_deref());
    let mut all = Vec::new();
    let roots: Vec<String> = inputs
        .reqs
        .requirements
        .iter()
        .map(|r| r.requirement.name.to_string())
        .collect();
    let mut selected = Vec::new();
    for t in &inputs.targets {
        if let Some(lt) = outcome.lock.target(t) {
            let kept = pylayer::exclude::prune(&lt.packages, &roots, &exclude, inputs.from_venv);
            for p in &lt.packages {
                if !kept.iter().any(|k| k.name == p.name) {
                    eprintln!("{}: leaving out {} {}", t.label(), p.name, p.version);
                }
            }
            all.extend(kept.iter().cloned());
            selected.push((*t, kept));
        }
    }
    all.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    all.dedup_by(|a, b| a.sha256 == b.sha256);
    let http = pylayer::http::client()?;
    let bar = ProgressBar::with_draw_target(
        Some(all.iter().map(|p| p.size).sum()),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} fetching wheels {bytes}/{total_bytes} {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_event = |e: FetchEvent| match e {
        FetchEvent::Cached { name } => {
            if let Some(p) = all.iter().find(|p| p.name == name) {
                bar.inc(p.size);
            }
        }
        FetchEvent::Progress { bytes, .. } => bar.inc(bytes),
        FetchEvent::Corrupt { name, path } => bar.suspend(|| {
            eprintln!(
                "warning: cached wheel of {name} at {} was damaged; fetching it again",
                path.display()
            )
        }),
        _ => {}
    };
    let opts = FetchOptions {
        offline: args.inputs.offline,
        credential_urls: inputs.index.all_credential_urls(),
        ..FetchOptions::default()
    };
    let paths = rt.block_on(fetch::fetch_wheels(&http, &cache, &all, &opts, &on_event));
    bar.finish_and_clear();
    let paths = paths?;
    let by_hash: std::collections::HashMap<&str, &PathBuf> = all
        .iter()
        .map(|p| p.sha256.as_str())
        .zip(paths.iter())
        .collect();

    // Installer tooling is left out unless the user asked for it by name, or a distribution
    // in the layer needs it at run time (old packages import pkg_resources).
    let asked: Vec<String> = inputs
        .reqs
        .requirements
        .iter()
        .map(|r| r.requirement.name.to_string())
        .filter(|n| INSTALLER_TOOLING.contains(&n.as_str()))
        .collect();
    let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok());
    let mut manifests: Vec<Manifest> = Vec::new();
    let mut checks = Vec::new();
    for (t, packages) in &selected {
        let mut wheels = Vec::new();
        for p in packages {
            let path = by_hash.get(p.sha256.as_str()).ok_or_else(|| {
                Failure::failed(format!("internal: {} was not fetched", p.filename))
            })?;
            wheels.push((p.clone(), (*path).clone()));
        }
        let zip = out_dir.join(format!(
            "{name}-py{}-{}.zip",
            t.python_version(),
            t.arch.lambda_name()
        ));
        let opts = AssembleOptions {
            layout,
            keep: keep_tooling(&asked, packages),
            source_date_epoch,
        };
        let report = assemble::assemble(&wheels, t, &opts, &zip)
            .map_err(|e| Failure::failed(format!("building {}: {e:#}", zip.display())))?;
        let m = manifest::build_manifest(&name, t, layout, &zip, packages, &report);
        manifest::write(&m, &manifest::manifest_path(&zip))?;
        manifests.push(m);
        checks.push(super::check::check_layer(&zip, t, &Default::default())?);
    }
    print_result(&args, &out_dir, &manifests)?;
    output::status(&format!(
        "built {} layer(s) in {:.2}s",
        manifests.len(),
        started.elapsed().as_secs_f64()
    ));
    super::check::after_build(&checks)
}

/// Prints the manifests: `{"layers": [...]}` with `--json` (the same shape for one target
/// or several), else each zip's path and table.
fn print_result(args: &BuildArgs, out_dir: &Path, manifests: &[Manifest]) -> Result<(), Failure> {
    if args.json {
        let v = serde_json::json!({ "layers": manifests });
        let json = serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        for (i, m) in manifests.iter().enumerate() {
            if i > 0 {
                println!();
            }
            println!("{}", out_dir.join(&m.zip).display());
            output::print(&manifest::render_table(m));
        }
    }
    Ok(())
}

/// The installer tooling that stays in a layer: what the user named, plus what another
/// distribution of the layer requires.
fn keep_tooling(asked: &[String], packages: &[pylayer::lock::LockedPackage]) -> Vec<String> {
    let mut keep: Vec<String> = asked.to_vec();
    for p in packages {
        for d in &p.dependencies {
            if INSTALLER_TOOLING.contains(&d.as_str()) && !keep.contains(d) {
                eprintln!("note: keeping {d}: {} needs it at run time", p.name);
                keep.push(d.clone());
            }
        }
    }
    keep
}

/// Normalized names to leave out: `--exclude` (else pylayer.toml's `exclude`), plus the
/// runtime-provided family with `--no-runtime-provided` (or `runtime-provided = false`).
fn exclusions(args: &BuildArgs, config: &pylayer::config::Config) -> Result<Vec<String>, Failure> {
    let raw = if args.exclude.is_empty() {
        config.exclude.clone()
    } else {
        args.exclude.clone()
    };
    let mut out = Vec::new();
    for n in raw {
        let name: uv_normalize::PackageName = n
            .parse()
            .map_err(|e| Failure::usage(format!("--exclude {n}: {e}")))?;
        out.push(name.to_string());
    }
    if args.no_runtime_provided || config.runtime_provided == Some(false) {
        eprintln!(
            "warning: leaving out boto3, botocore, s3transfer and jmespath: the function will use the \
             runtime's copies, whose versions may differ from the ones you tested with"
        );
        out.extend(pylayer::domain::RUNTIME_SDK.iter().map(|s| s.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_layer_names() {
        assert_eq!(sanitize_name("ldap3"), "ldap3");
        assert_eq!(sanitize_name("my project.v2"), "my-project-v2");
        assert_eq!(sanitize_name("..."), "");
    }
}
