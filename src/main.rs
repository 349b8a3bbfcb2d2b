//! pylayer: Python requirements in, a working AWS Lambda layer out.

mod assemble;
mod cache;
mod cli;
mod domain;
mod fetch;
mod fsutil;
mod http;
mod index;
mod lock;
mod manifest;
mod requirements;
mod resolve;
mod target;
mod wheel_name;

fn main() -> std::process::ExitCode {
    cli::main()
}
