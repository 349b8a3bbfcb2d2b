//! Command-line surface: parses flags, wires the stages together and owns all printing.
//! One file per subcommand.

#[cfg(feature = "aws")]
mod attach;
mod audit;
mod build;
mod check;
mod diff;
mod export;
mod freeze;
mod init;
mod inputs;
mod inspect;
#[cfg(feature = "aws")]
mod layers;
mod lock;
pub mod output;
#[cfg(feature = "aws")]
mod promote;
#[cfg(feature = "aws")]
mod publish;
mod shared;
#[cfg(feature = "aws")]
mod status;
mod test;
mod values;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Python requirements in, a working AWS Lambda layer out.
#[derive(Debug, Parser)]
#[command(name = "pylayer", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print only errors, warnings and the result (no progress, notes or timings).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Also say where each setting came from (flag, environment, pylayer.toml).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// When to colour output [env: NO_COLOR=1 means never; CLICOLOR_FORCE=1 means always]
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = output::ColorWhen::Auto)]
    color: output::ColorWhen,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write pylayer.toml and requirements.txt if absent; keep venv/ and dist/ out of git.
    Init(init::InitArgs),
    /// Print what `pip freeze` would for a venv, without running Python.
    Freeze(freeze::FreezeArgs),
    /// Resolve the requirements for each target and write pylayer.lock.
    Lock(Box<lock::LockArgs>),
    /// Lock (when the inputs changed), fetch and assemble a layer zip per target.
    Build(Box<build::BuildArgs>),
    /// Check a layer zip or directory for what would fail on Lambda.
    Check(check::CheckArgs),
    /// Import every top-level module of a layer with a matching Python, with import times.
    Test(test::TestArgs),
    /// Show what takes the space in a layer, by distribution; --html for a treemap.
    Inspect(inspect::InspectArgs),
    /// Compare two layers: distributions added, removed, upgraded or downgraded, and sizes.
    Diff(diff::DiffArgs),
    /// Known vulnerabilities of a lock's pins or a layer's distributions, with upgrade advice.
    Audit(Box<audit::AuditArgs>),
    /// Write the lock's pins as requirements.txt with hashes (`pip install --require-hashes`).
    Export(Box<export::ExportArgs>),
    /// Publish a layer zip as a new layer version, unless the latest has the same bytes.
    #[cfg(feature = "aws")]
    Publish(publish::PublishArgs),
    /// Add or replace the layer on functions, within Lambda's limits.
    #[cfg(feature = "aws")]
    Attach(attach::AttachArgs),
    /// List a layer's versions, or prune old unused ones.
    #[cfg(feature = "aws")]
    Layers(layers::LayersArgs),
    /// Publish for one environment exactly the bytes published for another (test → prod).
    #[cfg(feature = "aws")]
    Promote(promote::PromoteArgs),
    /// Per environment and target: published version, build match, functions and drift.
    #[cfg(feature = "aws")]
    Status(status::StatusArgs),
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
    /// An exit code that is an answer, not an error (`diff --exit-code`): nothing is printed.
    pub fn silent(code: u8) -> Self {
        Failure {
            code,
            message: String::new(),
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
    output::init(
        cli.color,
        output::Verbosity {
            quiet: cli.quiet,
            verbose: cli.verbose,
        },
    );
    output::install_progress();
    let result = match cli.command {
        Command::Init(args) => init::run(args),
        Command::Freeze(args) => freeze::run(args),
        Command::Lock(args) => lock::run(*args),
        #[cfg(feature = "aws")]
        Command::Publish(args) => publish::run(args),
        #[cfg(feature = "aws")]
        Command::Attach(args) => attach::run(args),
        #[cfg(feature = "aws")]
        Command::Layers(args) => layers::run(args),
        #[cfg(feature = "aws")]
        Command::Promote(args) => promote::run(args),
        #[cfg(feature = "aws")]
        Command::Status(args) => status::run(args),
        Command::Build(args) => build::run(*args),
        Command::Check(args) => check::run(args),
        Command::Test(args) => test::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Export(args) => export::run(*args),
        Command::Audit(args) => audit::run(*args),
    };
    // Cache writes still under way finish before the process ends.
    pylayer::write_behind::wait();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                output::error(&f.message);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every (sub)command, with the command path it belongs to.
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        for a in cmd.get_arguments() {
            out.push((path.to_string(), a.clone()));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_argument_has_help() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut args = Vec::new();
        walk(&cmd, "pylayer", &mut args);
        assert!(
            args.len() > 50,
            "the walk found only {} arguments",
            args.len()
        );
        let missing: Vec<String> = args
            .iter()
            .filter(|(_, a)| {
                !matches!(a.get_id().as_str(), "help" | "version")
                    && a.get_help().is_none()
                    && a.get_long_help().is_none()
            })
            .map(|(p, a)| format!("{p} {}", a.get_id()))
            .collect();
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn shared_flags_read_the_same_everywhere() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut args = Vec::new();
        walk(&cmd, "pylayer", &mut args);
        for flag in ["json", "config", "profile", "region", "python", "arch"] {
            let helps: std::collections::BTreeSet<String> = args
                .iter()
                .filter(|(_, a)| a.get_id() == flag)
                .filter_map(|(_, a)| a.get_help().map(|h| h.to_string()))
                .collect();
            // Without the `aws` feature no command talks to AWS.
            if cfg!(not(feature = "aws")) && matches!(flag, "profile" | "region") {
                assert!(helps.is_empty(), "--{flag} without the aws feature");
                continue;
            }
            assert!(!helps.is_empty(), "no command has --{flag}");
            if matches!(flag, "json" | "config" | "profile" | "region") {
                assert_eq!(
                    helps.len(),
                    1,
                    "--{flag} is described differently: {helps:?}"
                );
            }
        }
        // --region is repeatable wherever it is accepted.
        for (p, a) in args.iter().filter(|(_, a)| a.get_id() == "region") {
            assert!(
                matches!(a.get_action(), clap::ArgAction::Append),
                "{p} --region is not repeatable"
            );
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
