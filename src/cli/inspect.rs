//! `pylayer inspect LAYER.zip`: what takes the space, by distribution; what trimming would
//! save; `--json` for machines and `--html FILE` for a self-contained page with a treemap.

use std::path::PathBuf;

use clap::Args;

use super::{Failure, output, shared};
use pylayer::inspect;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The layer: a zip file, a directory laid out like one (`python/…`), or a published
    /// version's ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N`, downloaded into the cache).
    pub layer: PathBuf,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    /// Also write a self-contained HTML page (treemap and tables) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Predict `build --slim` with this slim pattern too (gitignore-style, relative to
    /// site-packages; `!` keeps) (repeatable)
    #[arg(long, value_name = "GLOB", allow_hyphen_values = true)]
    pub slim_pattern: Vec<String>,
    #[command(flatten)]
    pub aws: shared::LayerAwsArgs,
}

pub fn run(args: InspectArgs) -> Result<(), Failure> {
    let published = shared::published_input(&args.layer, &args.aws)?;
    if published.is_none() {
        shared::require_layer(&args.layer)?;
    }
    // A directory is packed into a temporary zip, so one reader serves both; its zipped
    // sizes are then what a fast deflate would give.
    let packed = if args.layer.is_dir() {
        Some(pylayer::fsutil::zip_directory(&args.layer)?)
    } else {
        None
    };
    let zip_path = match (&packed, &published) {
        (Some(t), _) => t.path(),
        (None, Some(p)) => p.path.as_path(),
        (None, None) => args.layer.as_path(),
    };
    let (mut layer, mut report) = inspect::inspect_with(zip_path, &args.slim_pattern)
        .map_err(|e| Failure::usage(format!("{e:#}")))?;
    if packed.is_some() || published.is_some() {
        layer.path = args.layer.clone();
        report.zip = args.layer.display().to_string();
    }
    if let Some(html) = &args.html {
        let page = inspect::html::render(&layer, &report);
        pylayer::fsutil::write_atomic(html, page.as_bytes()).map_err(|e| {
            Failure::failed(format!(
                "cannot write the HTML report to {}: {e:#}",
                html.display()
            ))
        })?;
        output::status(&format!("wrote {}", html.display()));
    }
    if args.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        output::print(&inspect::render(&report));
    }
    Ok(())
}
