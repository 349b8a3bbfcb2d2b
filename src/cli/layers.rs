//! `pylayer layers list NAME` and `pylayer layers prune NAME --keep N`.

use clap::{Args, Subcommand};

use super::{Failure, runtime};
use pylayer::aws::AwsTarget;
use pylayer::aws::layers::{delete, to_prune, usage, versions};

#[derive(Debug, Args)]
pub struct LayersArgs {
    #[command(subcommand)]
    pub command: LayersCommand,
    #[arg(long, global = true)]
    pub region: Option<String>,
    #[arg(long, global = true)]
    pub profile: Option<String>,
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum LayersCommand {
    /// Versions of a layer, newest first, with their sizes.
    List {
        name: String,
        /// Also list the functions that use each version.
        #[arg(long)]
        usage: bool,
    },
    /// Delete old versions that no function uses, keeping the newest N.
    Prune {
        name: String,
        #[arg(long, value_name = "N")]
        keep: usize,
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(args: LayersArgs) -> Result<(), Failure> {
    let target = AwsTarget {
        profile: args.profile.clone(),
        region: args.region.clone(),
    };
    let rt = runtime()?;
    let sdk = rt
        .block_on(pylayer::aws::sdk_config(&target, None))
        .map_err(Failure::failed)?;
    let lambda = pylayer::aws::lambda(&sdk);
    let (name, with_usage) = match &args.command {
        LayersCommand::List { name, usage } => (name.clone(), *usage),
        LayersCommand::Prune { name, .. } => (name.clone(), true),
    };
    let mut list = rt
        .block_on(versions(&lambda, &name))
        .map_err(Failure::failed)?;
    if with_usage {
        let used = rt.block_on(usage(&lambda)).map_err(Failure::failed)?;
        for v in &mut list {
            v.used_by = used.get(&v.arn).cloned().unwrap_or_default();
        }
    }
    match args.command {
        LayersCommand::List { .. } => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list)
                        .map_err(|e| Failure::failed(e.to_string()))?
                );
            } else {
                println!(
                    "{:>7}  {:>12}  {:<24}  {:<22}  used by",
                    "version", "zip bytes", "created", "runtimes"
                );
                for v in &list {
                    println!(
                        "{:>7}  {:>12}  {:<24}  {:<22}  {}",
                        v.version,
                        v.code_size,
                        v.created.chars().take(24).collect::<String>(),
                        format!("{} {}", v.runtimes.join(","), v.architectures.join(",")),
                        if with_usage {
                            v.used_by.join(", ")
                        } else {
                            "-".into()
                        }
                    );
                }
            }
        }
        LayersCommand::Prune { keep, dry_run, .. } => {
            let doomed: Vec<i64> = to_prune(&list, keep).iter().map(|v| v.version).collect();
            for v in list.iter().skip(keep).filter(|v| !v.used_by.is_empty()) {
                println!(
                    "keeping version {} (used by {})",
                    v.version,
                    v.used_by.join(", ")
                );
            }
            for v in &doomed {
                if dry_run {
                    println!("would delete version {v}");
                } else {
                    rt.block_on(delete(&lambda, &name, *v))
                        .map_err(Failure::failed)?;
                    println!("deleted version {v}");
                }
            }
            if doomed.is_empty() {
                println!("nothing to prune");
            }
        }
    }
    Ok(())
}
