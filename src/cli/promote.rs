//! `pylayer promote --from test --to prod`: publish for one environment exactly the bytes
//! published for another (same CodeSha256), refusing when their locks pin different wheels.

use std::path::{Path, PathBuf};

use clap::Args;

use super::shared;
use super::{Failure, output, runtime};
use pylayer::aws::AwsTarget;
use pylayer::aws::promote::{self, Destination, PlanError, PlanInput};
use pylayer::config::Config;
use pylayer::lock::Lock;
use pylayer::published::{self, Published};

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose published versions are promoted (`[env.NAME]`, e.g. test).
    #[arg(long, value_name = "ENV")]
    pub from: String,
    /// The environment they are published for (e.g. prod): its layer names, regions and
    /// profile from pylayer.toml.
    #[arg(long, value_name = "ENV")]
    pub to: String,
    /// Only these targets, as in zip names (`py3.12-x86_64`; repeatable, or comma-separated)
    /// [default: every target published for --from]
    #[arg(long, value_name = "py3.X-ARCH", value_delimiter = ',')]
    pub target: Vec<String>,
    /// Regions to publish to (repeatable) [default: --to's publish.regions in pylayer.toml,
    /// else AWS_REGION, else the profile's region]
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub to_region: Vec<String>,
    /// AWS profile to read --from's versions with [default: --from's publish.profile, else
    /// AWS_PROFILE, else the default credential chain]
    #[arg(long, value_name = "NAME")]
    pub from_profile: Option<String>,
    /// AWS profile to publish with [default: --to's publish.profile, else AWS_PROFILE, else
    /// the default credential chain]
    #[arg(long, value_name = "NAME")]
    pub to_profile: Option<String>,
    /// Show what would be published, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    #[arg(long, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<PathBuf>,
}

/// An environment's settings, by `--from`/`--to`.
fn env_config(config: &Config, env: &str, flag: &str) -> Result<Config, Failure> {
    config
        .for_env(env)
        .map_err(|e| Failure::usage(format!("{e:#}").replacen("--env", &format!("--{flag}"), 1)))
}

fn read_lock(path: &Path, env: &str) -> Result<Lock, Failure> {
    if !path.is_file() {
        return Err(shared::missing(
            path,
            &format!("the lock of environment {env}, whose pins promote compares"),
            &format!("run `pylayer lock --env {env}` first"),
        ));
    }
    Lock::read(path).map_err(|e| Failure::usage(format!("{e:#}")))
}

/// A profile: the flag, else the environment's publish.profile, else AWS_PROFILE. The
/// environment's own profile beats AWS_PROFILE here, as promoting is about reaching two
/// accounts in one run.
fn profile(flag: &Option<String>, config: &Config) -> Option<String> {
    flag.clone()
        .or_else(|| config.publish.profile.clone())
        .or_else(|| shared::env_var("AWS_PROFILE"))
}

pub fn run(args: PromoteArgs) -> Result<(), Failure> {
    if args.from == args.to {
        return Err(Failure::usage(format!(
            "--from and --to are both {}: promote from one environment to another (e.g. --from test --to prod)",
            args.from
        )));
    }
    let Some(config) = shared::load_config(args.config.as_deref())? else {
        return Err(Failure::usage(
            "promote needs pylayer.toml with the two environments (`[env.test]`, `[env.prod]`); run `pylayer init` and add them",
        ));
    };
    let from = env_config(&config, &args.from, "from")?;
    let to = env_config(&config, &args.to, "to")?;
    let name = |c: &Config, env: &str| {
        c.name.clone().ok_or_else(|| {
            Failure::usage(format!(
                "environment {env} has no layer name: set `name` in pylayer.toml"
            ))
        })
    };
    let (from_project, to_project) = (name(&from, &args.from)?, name(&to, &args.to)?);
    let (from_lock_path, to_lock_path) = (from.lock_path(), to.lock_path());
    let from_lock = read_lock(&from_lock_path, &args.from)?;
    let to_lock = read_lock(&to_lock_path, &args.to)?;
    let state_path = Path::new(published::STATE_FILE);
    let mut state = Published::read(state_path).map_err(Failure::usage)?;
    let template = to
        .publish
        .layer_name
        .clone()
        .unwrap_or_else(|| published::DEFAULT_LAYER_NAME.to_string());
    let out_dir = from.out_dir_path();
    let plan = promote::plan(&PlanInput {
        published: &state,
        from_env: &args.from,
        from_project: &from_project,
        from_lock: (&from_lock_path, &from_lock),
        to_env: &args.to,
        to_project: &to_project,
        to_lock: (&to_lock_path, &to_lock),
        to_template: &template,
        targets: &args.target,
        out_dir: &out_dir,
    })
    .map_err(|e| match e {
        PlanError::Usage(m) => Failure::usage(m),
        PlanError::Refused(m) => Failure::failed(m),
    })?;
    let from_aws = AwsTarget {
        profile: profile(&args.from_profile, &from),
        region: None,
    };
    let to_aws = AwsTarget {
        profile: profile(&args.to_profile, &to),
        region: None,
    };
    let regions: Vec<Option<String>> = if !args.to_region.is_empty() {
        args.to_region.iter().cloned().map(Some).collect()
    } else if !to.publish.regions.is_empty() {
        to.publish.regions.iter().cloned().map(Some).collect()
    } else {
        vec![shared::env_var("AWS_REGION").or_else(|| shared::env_var("AWS_DEFAULT_REGION"))]
    };
    let dest = Destination {
        description: to.publish.description.clone(),
        license: to.publish.license.clone(),
        s3_bucket: to.publish.s3_bucket.clone(),
        grants: to.publish.grants.clone(),
        dry_run: args.dry_run,
    };
    let rt = runtime()?;
    let http = pylayer::http::client()?;
    let temp_dir = Path::new(published::STATE_FILE)
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for t in &plan {
        let bytes = match rt.block_on(promote::obtain(&from_aws, t, &http, &temp_dir)) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{}: {e}", t.source.target));
                continue;
            }
        };
        match promote::contents_differ(&bytes.path, &t.pins) {
            Ok(differ) if differ.is_empty() => {}
            Ok(differ) => {
                failures.push(format!(
                    "not promoting {}: the version published for {} ({}) holds {}, so {}'s lock changed after it was published; publish {} again from its lock (`pylayer build --env {}`, `pylayer publish --env {}`), test it, then promote",
                    t.source.target,
                    args.from,
                    t.source.arn,
                    differ.join(", "),
                    args.from,
                    args.from,
                    args.from,
                    args.from
                ));
                continue;
            }
            Err(e) => {
                failures.push(format!("{}: {e}", t.source.target));
                continue;
            }
        }
        let req = match promote::request(t, &bytes, &dest) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: {e}", t.source.target));
                continue;
            }
        };
        let results = rt.block_on(promote::publish_regions(&to_aws, &regions, &req));
        for (region, result) in regions.iter().zip(results) {
            match result {
                Ok(o) => {
                    if !args.dry_run
                        && let Some(r) = promote::record(t, &args.to, &to_project, &o)
                    {
                        state.record(r);
                    }
                    rows.push(serde_json::json!({
                        "target": t.source.target,
                        "from_arn": t.source.arn,
                        "bytes_from": bytes.from,
                        "code_sha256": bytes.hashes.code_sha256,
                        "region": o.region,
                        "layer": o.layer,
                        "arn": o.arn,
                        "version": o.version,
                        "action": o.action,
                    }));
                }
                Err(e) => failures.push(format!(
                    "{} in {}: {e}",
                    t.source.target,
                    region.as_deref().unwrap_or("default region")
                )),
            }
        }
    }
    if !args.dry_run && !rows.is_empty() {
        pylayer::fsutil::write_atomic(state_path, &state.to_json())?;
    }
    if args.json {
        let v = serde_json::json!({
            "from": args.from,
            "to": args.to,
            "dry_run": args.dry_run,
            "promoted": rows,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?
        );
    } else {
        for r in &rows {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            let what = match s("action").as_str() {
                "unchanged" => "unchanged (a version has these bytes already)".to_string(),
                "would-publish" => "would publish (dry run)".to_string(),
                a => a.to_string(),
            };
            println!(
                "{:<14} {:<14} {}  {what}  CodeSha256 {}",
                s("target"),
                s("region"),
                r["arn"].as_str().unwrap_or(&s("layer")),
                s("code_sha256")
            );
        }
        if args.dry_run {
            output::status("dry run: nothing was published or recorded");
        } else if failures.is_empty() && !rows.is_empty() {
            output::status(&format!(
                "promoted {} → {}: {} target(s), the bytes published for {}",
                args.from,
                args.to,
                plan.len(),
                args.from
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(failures.join("\n")))
    }
}
