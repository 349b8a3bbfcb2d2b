//! `pylayer freeze --venv DIR`: what `pip freeze` prints for a venv, without Python.

use std::path::PathBuf;

use clap::Args;

use super::Failure;
use pylayer::venv;

#[derive(Debug, Args)]
pub struct FreezeArgs {
    /// The virtual environment (the folder holding pyvenv.cfg).
    #[arg(long, value_name = "DIR", default_value = "venv")]
    pub venv: PathBuf,
    /// Also list pip, setuptools and wheel.
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: FreezeArgs) -> Result<(), Failure> {
    let sites = venv::site_packages(&args.venv).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let dists = venv::installed(&sites)?;
    for line in venv::freeze_lines(&dists, args.all) {
        println!("{line}");
    }
    Ok(())
}
