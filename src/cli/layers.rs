//! `pylayer layers list NAME` and `pylayer layers prune NAME --keep N`, in each region asked.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::shared::{self, AwsArgs};
use super::{Failure, runtime};
use pylayer::aws::AwsTarget;
use pylayer::aws::layers::{VersionInfo, delete, to_prune, usage, versions};

#[derive(Debug, Args)]
pub struct LayersArgs {
    #[command(subcommand)]
    pub command: LayersCommand,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long, global = true, help = shared::JSON_HELP)]
    pub json: bool,
    #[arg(long, global = true, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LayersCommand {
    /// Versions of a layer, newest first, with their sizes.
    List {
        /// The layer's name (not a version ARN).
        name: String,
        /// Also list the functions that use each version.
        #[arg(long)]
        usage: bool,
    },
    /// Delete old versions that no function uses, keeping the newest N.
    Prune {
        /// The layer's name (not a version ARN).
        name: String,
        /// How many of the newest versions to keep, used or not; older ones are deleted
        /// unless a function still uses them.
        #[arg(long, value_name = "N")]
        keep: usize,
        /// Say which versions would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// What `prune` did (or would do) in one region: `--json` prints `{"layer", "dry_run",
/// "regions": [this, …]}`.
#[derive(Debug, Serialize)]
struct PruneOutcome {
    region: String,
    /// Versions deleted (or, in a dry run, that would be).
    deleted: Vec<i64>,
    /// Versions older than the newest N that stay because functions use them.
    kept_in_use: Vec<KeptVersion>,
}

#[derive(Debug, Serialize)]
struct KeptVersion {
    version: i64,
    used_by: Vec<String>,
}

pub fn run(args: LayersArgs) -> Result<(), Failure> {
    let config = shared::load_config(args.config.as_deref())?;
    let target = AwsTarget {
        profile: args.aws.profile(config.as_ref()),
        region: None,
    };
    let mut regions = args.aws.regions(config.as_ref());
    if args.aws.region.is_empty() {
        regions.truncate(1);
    }
    let rt = runtime()?;
    let (name, with_usage) = match &args.command {
        LayersCommand::List { name, usage } => (name.clone(), *usage),
        LayersCommand::Prune { name, .. } => (name.clone(), true),
    };
    let mut listed: Vec<VersionInfo> = Vec::new();
    let mut pruned: Vec<PruneOutcome> = Vec::new();
    for region in &regions {
        let sdk = rt
            .block_on(pylayer::aws::sdk_config(&target, region.as_deref()))
            .map_err(Failure::failed)?;
        let region_name = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let lambda = pylayer::aws::lambda(&sdk);
        let mut list = rt
            .block_on(versions(&lambda, &name))
            .map_err(Failure::failed)?;
        if with_usage {
            let used = rt.block_on(usage(&lambda)).map_err(Failure::failed)?;
            for v in &mut list {
                v.used_by = used.get(&v.arn).cloned().unwrap_or_default();
            }
        }
        match &args.command {
            LayersCommand::List { .. } => listed.extend(list),
            LayersCommand::Prune { keep, dry_run, .. } => {
                let doomed: Vec<i64> = to_prune(&list, *keep).iter().map(|v| v.version).collect();
                let kept_in_use = list
                    .iter()
                    .skip(*keep)
                    .filter(|v| !v.used_by.is_empty())
                    .map(|v| KeptVersion {
                        version: v.version,
                        used_by: v.used_by.clone(),
                    })
                    .collect();
                if !dry_run {
                    for v in &doomed {
                        rt.block_on(delete(&lambda, &name, *v))
                            .map_err(Failure::failed)?;
                    }
                }
                pruned.push(PruneOutcome {
                    region: region_name,
                    deleted: doomed,
                    kept_in_use,
                });
            }
        }
    }
    let json = |v: serde_json::Value| -> Result<(), Failure> {
        let text = serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{text}");
        Ok(())
    };
    match args.command {
        LayersCommand::List { .. } if args.json => {
            json(serde_json::json!({ "layer": name, "versions": listed }))?
        }
        LayersCommand::List { .. } => print_list(&listed, with_usage),
        LayersCommand::Prune { dry_run, .. } if args.json => {
            json(serde_json::json!({ "layer": name, "dry_run": dry_run, "regions": pruned }))?
        }
        LayersCommand::Prune { dry_run, .. } => print_prune(&pruned, dry_run, regions.len() > 1),
    }
    Ok(())
}

fn print_list(list: &[VersionInfo], with_usage: bool) {
    println!(
        "{:>7}  {:>12}  {:<24}  {:<22}  used by",
        "version", "zip bytes", "created", "runtimes"
    );
    for v in list {
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

fn print_prune(outcomes: &[PruneOutcome], dry_run: bool, several: bool) {
    for o in outcomes {
        let at = if several {
            format!(" in {}", o.region)
        } else {
            String::new()
        };
        for k in &o.kept_in_use {
            println!(
                "keeping version {}{at} (used by {})",
                k.version,
                k.used_by.join(", ")
            );
        }
        for v in &o.deleted {
            if dry_run {
                println!("would delete version {v}{at}");
            } else {
                println!("deleted version {v}{at}");
            }
        }
        if o.deleted.is_empty() {
            println!("nothing to prune{at}");
        }
    }
}
