//! pylayer: Python requirements in, a working AWS Lambda layer out.

mod assemble;
#[cfg(feature = "aws")]
mod aws;
mod cache;
mod check;
mod cli;
mod config;
mod diff;
mod domain;
mod exclude;
mod fetch;
mod fsutil;
mod http;
mod index;
mod inspect;
mod layer_test;
mod lock;
mod manifest;
mod project_files;
mod record;
#[cfg(feature = "aws")]
mod remote_zip;
mod requirements;
mod resolve;
mod target;
mod venv;
mod wheel_name;
mod zipfmt;

fn main() -> std::process::ExitCode {
    cli::main()
}
