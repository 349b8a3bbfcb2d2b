//! Command-line surface: parses flags, wires the stages together and owns all printing.
//! One file per subcommand.

#[cfg(feature = "aws")]
mod attach;
mod build;
mod check;
mod diff;
mod freeze;
mod init;
mod inputs;
mod inspect;
#[cfg(feature = "aws")]
mod layers;
mod lock;
#[cfg(feature = "aws")]
mod publish;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Python requirements in, a working AWS Lambda layer out.
#[derive(Debug, Parser)]
#[command(name = "pylayer", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write pylayer.toml and requirements.txt if absent; keep venv/ and dist/ out of git.
    Init(init::InitArgs),
    /// Print what `pip freeze` would for a venv, without running Python.
    Freeze(freeze::FreezeArgs),
    /// Resolve the requirements for each target and write pylayer.lock.
    Lock(lock::LockArgs),
    /// Lock (when the inputs changed), fetch and assemble a layer zip per target.
    Build(build::BuildArgs),
    /// Check a layer zip or directory for what would fail on Lambda.
    Check(check::CheckArgs),
    /// Import every top-level module of a layer with a matching Python, with import times.
    Test(test::TestArgs),
    /// Show what takes the space in a layer, by distribution; --html for a treemap.
    Inspect(inspect::InspectArgs),
    /// Compare two layers: distributions added, removed, upgraded or downgraded, and sizes.
    Diff(diff::DiffArgs),
    /// Publish a layer zip as a new layer version, unless the latest has the same bytes.
    #[cfg(feature = "aws")]
    Publish(publish::PublishArgs),
    /// Add or replace the layer on functions, within Lambda's limits.
    #[cfg(feature = "aws")]
    Attach(attach::AttachArgs),
    /// List a layer's versions, or prune old unused ones.
    #[cfg(feature = "aws")]
    Layers(layers::LayersArgs),
}

/// A failure with the exit code it deserves: 1 for a failed resolution, check or build,
/// 2 for bad usage or bad input files.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::failed(format!("{e:#}"))
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => init::run(args),
        Command::Freeze(args) => freeze::run(args),
        Command::Lock(args) => lock::run(args),
        #[cfg(feature = "aws")]
        Command::Publish(args) => publish::run(args),
        #[cfg(feature = "aws")]
        Command::Attach(args) => attach::run(args),
        #[cfg(feature = "aws")]
        Command::Layers(args) => layers::run(args),
        Command::Build(args) => build::run(args),
        Command::Check(args) => check::run(args),
        Command::Test(args) => test::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Diff(args) => diff::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// The async runtime that runs every network stage.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))
}
