//! pylayer: Python requirements in, a working AWS Lambda layer out.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
