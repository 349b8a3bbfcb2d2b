//! `pylayer attach --function F`: add or replace the layer on functions.

use std::path::PathBuf;

use clap::Args;

use super::publish::Published;
use super::{Failure, runtime};
use pylayer::aws::AwsTarget;
use pylayer::aws::attach::attach_one;
use pylayer::config::Config;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Function name or ARN (repeatable) [default: pylayer.toml's publish.functions]
    #[arg(long)]
    pub function: Vec<String>,
    /// Layer version ARN [default: the version `pylayer publish` made for this project]
    #[arg(long)]
    pub layer: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub profile: Option<String>,
    /// Show the layer lists before and after, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn run(args: AttachArgs) -> Result<(), Failure> {
    let config = Config::discover(args.config.as_deref())
        .map_err(|e| Failure::usage(format!("{e:#}")))?
        .unwrap_or_default();
    let functions = if args.function.is_empty() {
        config.publish.functions.clone()
    } else {
        args.function.clone()
    };
    if functions.is_empty() {
        return Err(Failure::usage(
            "name the function(s) with --function, or list them in pylayer.toml under [publish] functions",
        ));
    }
    let target = AwsTarget {
        profile: args.profile.clone().or(config.publish.profile.clone()),
        region: args.region.clone(),
    };
    let rt = runtime()?;
    let region = args
        .region
        .clone()
        .or_else(|| config.publish.regions.first().cloned());
    let sdk = rt
        .block_on(pylayer::aws::sdk_config(&target, region.as_deref()))
        .map_err(Failure::failed)?;
    let region_name = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let published = Published::read();
    let (layer_arn, own_size) = match &args.layer {
        Some(arn) => (arn.clone(), None),
        None => {
            let found = config
                .name
                .as_ref()
                .and_then(|n| published.layers.get(n))
                .or_else(|| {
                    published
                        .last
                        .as_ref()
                        .and_then(|n| published.layers.get(n))
                });
            let Some(layer) = found else {
                return Err(Failure::usage(
                    "no published layer for this project: run `pylayer publish` first, or pass --layer ARN",
                ));
            };
            let Some(arn) = layer.arns.get(&region_name) else {
                return Err(Failure::usage(format!(
                    "this project's layer was not published in {region_name}: run `pylayer publish --region {region_name}` or pass --layer ARN"
                )));
            };
            (arn.clone(), layer.unzipped_bytes)
        }
    };
    let lambda = pylayer::aws::lambda(&sdk);
    let http = pylayer::http::client()?;
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    for f in &functions {
        match rt.block_on(attach_one(
            &lambda,
            &http,
            f,
            &layer_arn,
            own_size,
            args.dry_run,
        )) {
            Ok(o) => outcomes.push(o),
            Err(e) => failures.push(e),
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcomes).map_err(|e| Failure::failed(e.to_string()))?
        );
    } else {
        for o in &outcomes {
            println!("{}: {}", o.function, o.action);
            println!(
                "  before: {}",
                if o.before.is_empty() {
                    "(no layers)".to_string()
                } else {
                    o.before.join(", ")
                }
            );
            println!("  after:  {}", o.after.join(", "));
            if let Some(n) = o.unzipped_bytes {
                println!(
                    "  unzipped code + layers: {n} of {} bytes",
                    pylayer::domain::MAX_UNZIPPED_BYTES
                );
            }
            for n in &o.notes {
                println!("  note: {n}");
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(failures.join("\n")))
    }
}
