//! `pylayer diff A.zip B.zip`: distributions added, removed, upgraded or downgraded, and the
//! size change of each. With `--exit-code`, exit 1 when the layers differ.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Failure, output, shared};
use pylayer::diff::{Change, Diff};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older layer: a zip file, a directory laid out like one, or a venv (its
    /// site-packages compared as the layer it would make).
    pub old: PathBuf,
    /// The newer layer: a zip file, a directory laid out like one, or a venv.
    pub new: PathBuf,
    /// List unchanged distributions too.
    #[arg(long)]
    pub all: bool,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    /// Exit with 1 when the layers differ (as `git diff --exit-code`), 0 when they hold the
    /// same distributions at the same versions and sizes.
    #[arg(long)]
    pub exit_code: bool,
}

/// True when anything the comparison looks at changed.
fn differs(d: &Diff) -> bool {
    d.delta_bytes != 0
        || d.distributions
            .iter()
            .any(|c| c.change != Change::Unchanged)
}

/// A layer path as a zip: the zip itself, or a directory packed into a temporary one (a
/// venv's site-packages under `python/`).
fn as_zip(p: &Path) -> Result<(PathBuf, Option<tempfile::NamedTempFile>), Failure> {
    shared::require_layer(p)?;
    if p.join("pyvenv.cfg").is_file() {
        let sites =
            pylayer::venv::site_packages(p).map_err(|e| Failure::usage(format!("{e:#}")))?;
        let site = sites.first().ok_or_else(|| {
            Failure::usage(format!("{} has no site-packages directory", p.display()))
        })?;
        let t = pylayer::fsutil::zip_directory_under(site, "python/")?;
        return Ok((t.path().to_path_buf(), Some(t)));
    }
    if p.is_dir() {
        let t = pylayer::fsutil::zip_directory(p)?;
        Ok((t.path().to_path_buf(), Some(t)))
    } else {
        Ok((p.to_path_buf(), None))
    }
}

pub fn run(args: DiffArgs) -> Result<(), Failure> {
    let (old, _old_tmp) = as_zip(&args.old)?;
    let (new, _new_tmp) = as_zip(&args.new)?;
    let mut d = pylayer::diff::diff(&old, &new).map_err(|e| Failure::usage(format!("{e:#}")))?;
    d.old = args.old.display().to_string();
    d.new = args.new.display().to_string();
    let manifest_of = |p: &Path| {
        let m = pylayer::manifest::manifest_path(p);
        (p.is_file() && m.is_file())
            .then(|| pylayer::manifest::read(&m).ok())
            .flatten()
    };
    let (om, nm) = (manifest_of(&args.old), manifest_of(&args.new));
    pylayer::diff::explain(&mut d, om.as_ref(), nm.as_ref());
    if args.json {
        let json = serde_json::to_string_pretty(&d).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        output::print(&pylayer::diff::render(&d, args.all));
    }
    if args.exit_code && differs(&d) {
        // Like `git diff --exit-code`: the difference was printed; no error message.
        return Err(Failure::silent(1));
    }
    Ok(())
}
