//! `pylayer inspect LAYER.zip`: what takes the space, by distribution; what trimming would
//! save; `--json` for machines and `--html FILE` for a self-contained page with a treemap.

use std::path::PathBuf;

use clap::Args;

use super::Failure;
use pylayer::inspect;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The layer zip.
    pub layer: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML page (treemap and tables) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

pub fn run(args: InspectArgs) -> Result<(), Failure> {
    if !args.layer.is_file() {
        return Err(Failure::usage(format!(
            "{} is not a file: give the path of a layer zip (pylayer build writes them to dist/)",
            args.layer.display()
        )));
    }
    let (layer, report) =
        inspect::inspect(&args.layer).map_err(|e| Failure::usage(format!("{e:#}")))?;
    if let Some(html) = &args.html {
        let page = inspect::html::render(&layer, &report);
        pylayer::fsutil::write_atomic(html, page.as_bytes()).map_err(|e| {
            Failure::failed(format!(
                "cannot write the HTML report to {}: {e:#}",
                html.display()
            ))
        })?;
        eprintln!("wrote {}", html.display());
    }
    if args.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", inspect::render(&report));
    }
    Ok(())
}
