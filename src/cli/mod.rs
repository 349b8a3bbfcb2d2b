//! Command-line surface: parses flags, wires the stages together and owns all printing.

use std::process::ExitCode;

pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
