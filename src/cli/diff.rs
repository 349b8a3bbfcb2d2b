//! `pylayer diff A.zip B.zip`: distributions added, removed, upgraded or downgraded, and the
//! size change of each.

use std::path::PathBuf;

use clap::Args;

use super::Failure;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older layer zip.
    pub old: PathBuf,
    /// The newer layer zip.
    pub new: PathBuf,
    /// List unchanged distributions too.
    #[arg(long)]
    pub all: bool,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiffArgs) -> Result<(), Failure> {
    for p in [&args.old, &args.new] {
        if !p.is_file() {
            return Err(Failure::usage(format!(
                "{} is not a file: give the paths of two layer zips",
                p.display()
            )));
        }
    }
    let d =
        pylayer::diff::diff(&args.old, &args.new).map_err(|e| Failure::usage(format!("{e:#}")))?;
    if args.json {
        let json = serde_json::to_string_pretty(&d).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", pylayer::diff::render(&d, args.all));
    }
    Ok(())
}
