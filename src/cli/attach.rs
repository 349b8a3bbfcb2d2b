//! `pylayer attach --function F`: add or replace the layer on functions; each function gets
//! the published version of its own runtime and architecture (from `.pylayer/published.json`).

use std::path::PathBuf;

use clap::Args;

use super::shared::{self, AwsArgs};
use super::{Failure, runtime};
use pylayer::aws::AwsTarget;
use pylayer::aws::attach::{attach_one, function_platform};
use pylayer::published::{self, Published};

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Function name or ARN (repeatable) [default: pylayer.toml's publish.functions]
    #[arg(long, value_name = "NAME|ARN")]
    pub function: Vec<String>,
    /// Layer version ARN [default: the version `pylayer publish` made for this project in
    /// each region for the function's runtime and architecture]
    #[arg(long, value_name = "ARN")]
    pub layer: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Show the layer lists before and after, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    #[arg(long, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<PathBuf>,
}

/// The region of a Lambda ARN (`arn:aws:lambda:REGION:…`).
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

pub fn run(args: AttachArgs) -> Result<(), Failure> {
    let config = shared::load_config(args.config.as_deref())?.unwrap_or_default();
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
        profile: args.aws.profile(Some(&config)),
        region: None,
    };
    // A layer version lives in one region, so an explicit ARN decides the region.
    let regions = match args.layer.as_deref().and_then(arn_region) {
        Some(r) if args.aws.region.iter().any(|x| x != r) => {
            return Err(Failure::usage(format!(
                "--layer {} is in {r}: a function can only use layers of its own region; drop --region or give a layer ARN of that region",
                args.layer.as_deref().unwrap_or_default()
            )));
        }
        Some(r) => vec![Some(r.to_string())],
        None => {
            // Several regions only when asked for on the command line; from the
            // environment or pylayer.toml, the first (where `publish` also starts).
            let mut r = args.aws.regions(Some(&config));
            if args.aws.region.is_empty() {
                r.truncate(1);
            }
            r
        }
    };
    let rt = runtime()?;
    let published =
        Published::read(std::path::Path::new(published::STATE_FILE)).map_err(Failure::usage)?;
    let project = published
        .project(config.name.as_deref())
        .map(str::to_string);
    let http = pylayer::http::client()?;
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    for region in &regions {
        let sdk = rt
            .block_on(pylayer::aws::sdk_config(&target, region.as_deref()))
            .map_err(Failure::failed)?;
        let region_name = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let lambda = pylayer::aws::lambda(&sdk);
        for f in &functions {
            let (layer_arn, own_size) = match &args.layer {
                Some(arn) => (arn.clone(), None),
                None => {
                    let Some(project) = project.as_deref() else {
                        return Err(Failure::usage(format!(
                            "no published layer for this project ({} has none): run `pylayer publish` first, or pass --layer ARN",
                            published::STATE_FILE
                        )));
                    };
                    let picked =
                        rt.block_on(function_platform(&lambda, f))
                            .and_then(|(runtime, arch)| {
                                published
                                    .select(
                                        published::DEFAULT_ENV,
                                        project,
                                        &region_name,
                                        &runtime,
                                        &arch,
                                    )
                                    .map(|r| (r.arn.clone(), r.unzipped_bytes))
                                    .map_err(|e| format!("function {f}: {e}"))
                            });
                    match picked {
                        Ok(p) => p,
                        Err(e) => {
                            failures.push(e);
                            continue;
                        }
                    }
                }
            };
            match rt.block_on(attach_one(
                &lambda,
                &http,
                f,
                &layer_arn,
                own_size,
                args.dry_run,
            )) {
                Ok(o) => outcomes.push((region_name.clone(), o)),
                Err(e) => failures.push(e),
            }
        }
    }
    if args.json {
        let mut items = Vec::new();
        for (region, o) in &outcomes {
            let mut v = serde_json::to_value(o).map_err(|e| Failure::failed(e.to_string()))?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("region".into(), region.clone().into());
            }
            items.push(v);
        }
        let v = serde_json::json!({ "functions": items });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?
        );
    } else {
        for (region, o) in &outcomes {
            if regions.len() > 1 {
                println!("{} ({region}): {}", o.function, o.action);
            } else {
                println!("{}: {}", o.function, o.action);
            }
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
