//! `pylayer build`: lock when the inputs changed, fetch the wheels, assemble one layer zip
//! per target, and report what went in.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::inputs::InputArgs;
use super::lock::ensure_lock;
use super::{Failure, runtime};
use crate::assemble::{self, AssembleOptions, Layout};
use crate::cache::CacheDir;
use crate::domain::INSTALLER_TOOLING;
use crate::fetch::{self, FetchEvent, FetchOptions};
use crate::manifest::{self, Manifest};

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Layer name, used in the zip's file name [default: the requirements file's directory]
    #[arg(long)]
    pub name: Option<String>,
    /// Where the zips and manifests go.
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub out_dir: PathBuf,
    /// `python` (python/…) or `site-packages` (python/lib/python3.X/site-packages/…).
    #[arg(long, default_value = "python")]
    pub layout: String,
    /// Print the manifests as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A valid layer name (`[A-Za-z0-9_-]{1,140}`) derived from a directory or project name.
fn sanitize_name(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    let s = s.trim_matches('-').to_string();
    s.chars().take(140).collect()
}

fn default_name(args: &BuildArgs) -> String {
    let from_dir = |p: &Path| {
        std::path::absolute(p)
            .ok()
            .and_then(|a| a.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned()))
    };
    let raw = args
        .inputs
        .requirement_files
        .first()
        .and_then(|f| from_dir(f))
        .or_else(|| {
            std::env::current_dir().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default();
    let name = sanitize_name(&raw);
    if name.is_empty() { "layer".to_string() } else { name }
}

pub fn run(args: BuildArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let layout: Layout = args.layout.parse().map_err(Failure::usage)?;
    let name = match &args.name {
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
    let inputs = args.inputs.load()?;
    let rt = runtime()?;
    let outcome = ensure_lock(&rt, &args.inputs, &inputs, true)?;
    if outcome.changed {
        eprintln!("locked: wrote {}", args.inputs.lock_path.display());
    }

    // Fetch every wheel of every target once, in parallel, into the shared cache.
    let cache = CacheDir::resolve(args.inputs.cache_dir.as_deref());
    let mut all = Vec::new();
    for t in &inputs.targets {
        if let Some(lt) = outcome.lock.target(t) {
            all.extend(lt.packages.iter().cloned());
        }
    }
    all.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    all.dedup_by(|a, b| a.sha256 == b.sha256);
    let http = crate::http::client()?;
    let bar = ProgressBar::with_draw_target(Some(all.iter().map(|p| p.size).sum()), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} fetching wheels {bytes}/{total_bytes} {wide_bar} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_event = |e: FetchEvent| match e {
        FetchEvent::Cached { name } => {
            if let Some(p) = all.iter().find(|p| p.name == name) {
                bar.inc(p.size);
            }
        }
        FetchEvent::Progress { bytes, .. } => bar.inc(bytes),
        FetchEvent::Corrupt { name, path } => {
            bar.suspend(|| eprintln!("warning: cached wheel of {name} at {} was damaged; fetching it again", path.display()))
        }
        _ => {}
    };
    let opts = FetchOptions { offline: args.inputs.offline, ..FetchOptions::default() };
    let paths = rt.block_on(fetch::fetch_wheels(&http, &cache, &all, &opts, &on_event));
    bar.finish_and_clear();
    let paths = paths?;
    let by_hash: std::collections::HashMap<&str, &PathBuf> =
        all.iter().map(|p| p.sha256.as_str()).zip(paths.iter()).collect();

    // Installer tooling is left out unless the user asked for it by name.
    let keep: Vec<String> = inputs
        .reqs
        .requirements
        .iter()
        .map(|r| r.requirement.name.to_string())
        .filter(|n| INSTALLER_TOOLING.contains(&n.as_str()))
        .collect();
    let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok());
    let mut manifests: Vec<Manifest> = Vec::new();
    for t in &inputs.targets {
        let Some(lt) = outcome.lock.target(t) else { continue };
        let mut wheels = Vec::new();
        for p in &lt.packages {
            let path = by_hash
                .get(p.sha256.as_str())
                .ok_or_else(|| Failure::failed(format!("internal: {} was not fetched", p.filename)))?;
            wheels.push((p.clone(), (*path).clone()));
        }
        let zip = args.out_dir.join(format!("{name}-py{}-{}.zip", t.python_version(), t.arch.lambda_name()));
        let opts = AssembleOptions { layout, keep: keep.clone(), source_date_epoch };
        let report = assemble::assemble(&wheels, t, &opts, &zip)
            .map_err(|e| Failure::failed(format!("building {}: {e:#}", zip.display())))?;
        let m = manifest::build_manifest(&name, t, layout, &zip, &lt.packages, &report);
        manifest::write(&m, &manifest::manifest_path(&zip))?;
        manifests.push(m);
    }
    if args.json {
        let json = if manifests.len() == 1 {
            serde_json::to_string_pretty(&manifests[0])
        } else {
            serde_json::to_string_pretty(&manifests)
        };
        println!("{}", json.map_err(|e| Failure::failed(e.to_string()))?);
    } else {
        for (i, m) in manifests.iter().enumerate() {
            if i > 0 {
                println!();
            }
            println!("{}", args.out_dir.join(&m.zip).display());
            print!("{}", manifest::render_table(m));
        }
    }
    eprintln!("built {} layer(s) in {:.2}s", manifests.len(), started.elapsed().as_secs_f64());
    Ok(())
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
