//! `pylayer export`: the lock's pins as requirements.txt with hashes. Locks first when the
//! inputs changed (as `build` does), so the file always matches `pylayer.lock`.

use std::path::PathBuf;

use clap::Args;

use super::inputs::InputArgs;
use super::lock::{lock_settings, print_event};
use super::{Failure, output, runtime};
use pylayer::export::{ExportOptions, requirements_txt};
use pylayer::pipeline;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Write to FILE (replaced atomically) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave out the hashes: for a venv on another OS or CPU than Lambda's, where pip picks
    /// other wheels than the layer's.
    #[arg(long)]
    pub no_hashes: bool,
}

pub fn run(args: ExportArgs) -> Result<(), Failure> {
    pylayer::cleanup::install_interrupt_handler();
    let inputs = args.inputs.load()?;
    let rt = runtime()?;
    let outcome = pipeline::ensure_lock(
        &rt,
        &inputs,
        &lock_settings(&args.inputs, &inputs),
        true,
        &print_event,
    )?;
    let opts = ExportOptions {
        no_hashes: args.no_hashes,
        lock_name: inputs.lock_path.display().to_string(),
    };
    let text = requirements_txt(&outcome.lock, &inputs.targets, &inputs.index, &opts)
        .map_err(|e| Failure::failed(e.to_string()))?;
    match &args.output {
        None => print!("{text}"),
        Some(path) => {
            pylayer::fsutil::write_atomic(path, text.as_bytes())
                .map_err(|e| Failure::failed(format!("cannot write {}: {e:#}", path.display())))?;
            output::status(&format!(
                "wrote {} ({} target(s))",
                path.display(),
                inputs.targets.len()
            ));
        }
    }
    Ok(())
}
