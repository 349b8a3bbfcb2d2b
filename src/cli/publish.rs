//! `pylayer publish ZIP…`: publish each zip as its target's layer (`NAME-py312-arm64` by
//! default) in one or more regions, reusing any version that already holds the same bytes,
//! and refusing a layer whose check finds errors unless `--force`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::shared::{self, AwsArgs};
use super::{Failure, output, runtime, values};
use pylayer::aws::AwsTarget;
use pylayer::aws::publish::{PublishOutcome, PublishRequest, publish_region, validate};
use pylayer::check::{LayerSource, Report};
use pylayer::manifest;
use pylayer::published::{self, Published, Record};
use pylayer::target::{Arch, Target};

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The layer zip(s), e.g. `dist/*.zip`: each is published as the layer of its target
    /// (the manifest beside it supplies runtime and architecture).
    #[arg(required = true, value_name = "ZIP")]
    pub zip: Vec<PathBuf>,
    /// The project's layer name, `{name}` in --layer-name [default: the manifest's name,
    /// else pylayer.toml's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The Lambda layer name of each target, a template of `{name}`, `{py}` (312),
    /// `{python}` (3.12) and `{arch}`; `{name}` alone puts every target under one layer name
    /// [default: pylayer.toml's publish.layer-name, else `{name}-py{py}-{arch}`]
    #[arg(long, value_name = "TEMPLATE")]
    pub layer_name: Option<String>,
    /// Publish even when `pylayer check` finds errors in the layer (it will not work on
    /// Lambda as it is).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Bucket for zips over the 50 MB direct-upload limit [default: pylayer.toml's
    /// publish.s3-bucket]
    #[arg(long, value_name = "BUCKET")]
    pub s3_bucket: Option<String>,
    /// Description of the layer version, at most 256 characters [default: pylayer.toml's
    /// publish.description]
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// License of the layer's contents (an SPDX identifier or a URL), at most 512 characters
    /// [default: pylayer.toml's publish.license]
    #[arg(long, value_name = "LICENSE")]
    pub license: Option<String>,
    /// Let an account ID, an organization (o-…) or everyone (`public`) use the version
    /// (repeatable) [default: pylayer.toml's publish.grants]
    #[arg(long, value_name = "ACCOUNT|o-ORGID|public")]
    pub grant: Vec<String>,
    /// Compatible runtime(s) for a zip without a manifest (`3.12`; repeatable, or comma-separated).
    #[arg(long = "python", value_name = "3.X", value_parser = values::python_minor, value_delimiter = ',')]
    pub python: Vec<u8>,
    /// Compatible architecture(s) for a zip without a manifest (repeatable, or comma-separated).
    #[arg(long, value_name = "ARCH", value_parser = values::arch_parser(), value_delimiter = ',')]
    pub arch: Vec<Arch>,
    /// Show what would be published, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    #[arg(long, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// The environment of pylayer.toml (`[env.NAME]`): its layer name and publish settings,
    /// and its records in .pylayer/published.json.
    #[arg(long, value_name = "NAME", env = "PYLAYER_ENV")]
    pub env: Option<String>,
}

fn hashes(zip: &Path) -> Result<(String, String, u64), Failure> {
    let h = published::zip_hashes(zip)
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", zip.display())))?;
    Ok((h.sha256_hex, h.code_sha256, h.size))
}

/// One zip, ready to publish: the request and what the record needs.
struct Prepared {
    req: PublishRequest,
    /// The project's layer name (`{name}`).
    project: String,
    unzipped_bytes: Option<u64>,
    /// The check's errors, when `--force` publishes it anyway.
    forced_codes: Vec<String>,
}

/// Lambda's name of a runtime minor.
fn runtime_minor(runtime: &str) -> Option<u8> {
    runtime.strip_prefix("python3.")?.parse().ok()
}

/// A zip after its check.
enum Checked {
    Ready(Box<Prepared>),
    /// The check found errors and `--force` was not given: the reports, errors only.
    Refused(Vec<Report>),
}

/// Reads a zip and its manifest, names its layer, and checks it for each of its targets.
fn prepare(
    args: &PublishArgs,
    config: &pylayer::config::Config,
    zip: &Path,
) -> Result<Checked, Failure> {
    if !zip.is_file() {
        return Err(shared::missing(
            zip,
            "a layer zip",
            "pylayer build writes layer zips to dist/",
        ));
    }
    let manifest_path = manifest::manifest_path(zip);
    let manifest = if manifest_path.is_file() {
        Some(manifest::read(&manifest_path)?)
    } else {
        None
    };
    let (sha256_hex, code_sha256, size) = hashes(zip)?;
    if let Some(m) = &manifest
        && m.sha256 != sha256_hex
    {
        return Err(Failure::usage(format!(
            "{} does not match its manifest {} (the zip changed after it was built); rebuild it",
            zip.display(),
            manifest_path.display()
        )));
    }
    let runtimes: Vec<String> = if !args.python.is_empty() {
        args.python.iter().map(|m| format!("python3.{m}")).collect()
    } else if let Some(m) = &manifest {
        vec![m.runtime.clone()]
    } else {
        return Err(Failure::usage(format!(
            "{} has no pylayer manifest beside it: give its runtime with --python 3.X and --arch",
            zip.display()
        )));
    };
    let architectures: Vec<String> = if !args.arch.is_empty() {
        args.arch
            .iter()
            .map(|a| a.lambda_name().to_string())
            .collect()
    } else if let Some(m) = &manifest {
        vec![m.architecture.clone()]
    } else {
        return Err(Failure::usage(format!(
            "{} has no pylayer manifest beside it: give its architecture with --arch x86_64|arm64",
            zip.display()
        )));
    };
    let project = args
        .name
        .clone()
        .or_else(|| manifest.as_ref().map(|m| m.name.clone()))
        .or(config.name.clone())
        .ok_or_else(|| Failure::usage("give the layer's name with --name"))?;
    let template = args
        .layer_name
        .clone()
        .or(config.publish.layer_name.clone())
        .unwrap_or_else(|| published::DEFAULT_LAYER_NAME.to_string());
    let per_runtime = template.contains("{py}") || template.contains("{python}");
    if (per_runtime && runtimes.len() > 1)
        || (template.contains("{arch}") && architectures.len() > 1)
    {
        return Err(Failure::usage(format!(
            "{} is for {} on {}, but the layer name `{template}` names one target: publish one zip per target, or give a layer name without {{py}}/{{python}}/{{arch}} (--layer-name \"{{name}}\")",
            zip.display(),
            runtimes.join(", "),
            architectures.join(", ")
        )));
    }
    let name = published::layer_name(&template, &project, &runtimes[0], &architectures[0])
        .map_err(Failure::usage)?;
    let req = PublishRequest {
        zip: zip.to_path_buf(),
        name,
        runtimes,
        architectures,
        description: args
            .description
            .clone()
            .or(config.publish.description.clone()),
        license: args.license.clone().or(config.publish.license.clone()),
        s3_bucket: args.s3_bucket.clone().or(config.publish.s3_bucket.clone()),
        grants: if args.grant.is_empty() {
            config.publish.grants.clone()
        } else {
            args.grant.clone()
        },
        dry_run: args.dry_run,
        code_sha256,
        sha256_hex,
        size,
    };
    validate(&req).map_err(Failure::usage)?;
    // The same check `pylayer check` runs, for every target the version will claim.
    let mut targets = Vec::new();
    for runtime in &req.runtimes {
        for arch in &req.architectures {
            let minor = runtime_minor(runtime).ok_or_else(|| {
                Failure::usage(format!("{}: unknown runtime `{runtime}`", zip.display()))
            })?;
            let arch: Arch = arch.parse().map_err(Failure::usage)?;
            targets.push(Target::new(minor, arch).map_err(Failure::usage)?);
        }
    }
    let source = LayerSource::from_path(zip)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", zip.display())))?;
    let failing = pylayer::check::blocking_errors(&source, &targets)
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", zip.display())))?;
    if !failing.is_empty() && !args.force {
        return Ok(Checked::Refused(failing));
    }
    Ok(Checked::Ready(Box::new(Prepared {
        req,
        project,
        unzipped_bytes: manifest.as_ref().map(|m| m.unzipped_bytes),
        forced_codes: pylayer::check::codes(&failing)
            .into_iter()
            .map(str::to_string)
            .collect(),
    })))
}

pub fn run(args: PublishArgs) -> Result<(), Failure> {
    let config =
        shared::load_config_for(args.config.as_deref(), args.env.as_deref())?.unwrap_or_default();
    // Every zip is read, named and checked before anything is published.
    let mut prepared = Vec::new();
    let mut refused: Vec<Report> = Vec::new();
    for zip in &args.zip {
        match prepare(&args, &config, zip)? {
            Checked::Ready(p) => prepared.push(*p),
            Checked::Refused(reports) => refused.extend(reports),
        }
    }
    if !refused.is_empty() {
        for r in &refused {
            output::eprint(&pylayer::check::report::render(r));
        }
        let codes = pylayer::check::codes(&refused);
        let layers: Vec<String> = refused
            .iter()
            .map(|r| format!("{} for {}/{}", r.layer, r.runtime, r.architecture))
            .collect();
        return Err(Failure::failed(format!(
            "not publishing: the check found errors ({}) in {}, so it will not work on Lambda as it is; nothing was published. Fix them (`pylayer check ZIP` shows them again), or publish anyway with `pylayer publish --force`",
            codes.join(", "),
            layers.join(", ")
        )));
    }
    for p in &prepared {
        if !p.forced_codes.is_empty() {
            output::warn(&format!(
                "{}: publishing despite check errors ({}) because of --force; it will not work on Lambda as it is",
                p.req.zip.display(),
                p.forced_codes.join(", ")
            ));
        }
    }
    let target = AwsTarget {
        profile: args.aws.profile(Some(&config)),
        region: None,
    };
    let regions = args.aws.regions(Some(&config));
    let rt = runtime()?;
    let state_path = Path::new(published::STATE_FILE);
    let mut state = Published::read(state_path).map_err(Failure::usage)?;
    let mut failures = Vec::new();
    let mut results: Vec<(&Prepared, Vec<PublishOutcome>)> = Vec::new();
    for p in &prepared {
        // Regions are published concurrently; one region's failure does not hide the others.
        let outcomes = rt.block_on(futures::future::join_all(
            regions
                .iter()
                .map(|r| publish_region(&target, r.as_deref(), &p.req)),
        ));
        let mut done = Vec::new();
        for (region, result) in regions.iter().zip(outcomes) {
            match result {
                Ok(o) => {
                    if let (Some(arn), false) = (&o.arn, args.dry_run) {
                        for runtime in &p.req.runtimes {
                            for arch in &p.req.architectures {
                                state.record(Record {
                                    env: config
                                        .env
                                        .clone()
                                        .unwrap_or_else(|| published::DEFAULT_ENV.into()),
                                    project: p.project.clone(),
                                    target: published::target_label(runtime, arch),
                                    runtime: runtime.clone(),
                                    architecture: arch.clone(),
                                    region: o.region.clone(),
                                    layer: p.req.name.clone(),
                                    arn: arn.clone(),
                                    version: o.version,
                                    code_sha256: Some(p.req.code_sha256.clone()),
                                    unzipped_bytes: p.unzipped_bytes,
                                    promoted_from: None,
                                });
                            }
                        }
                    }
                    done.push(o);
                }
                Err(e) => failures.push(format!(
                    "{}: {e}",
                    region.as_deref().unwrap_or("default region")
                )),
            }
        }
        results.push((p, done));
    }
    if !args.dry_run && results.iter().any(|(_, o)| !o.is_empty()) {
        pylayer::fsutil::write_atomic(state_path, &state.to_json())?;
    }
    let count = |action: &str| {
        results
            .iter()
            .flat_map(|(_, o)| o.iter())
            .filter(|o| o.action == action)
            .count()
    };
    if args.json {
        let layers: Vec<serde_json::Value> = results
            .iter()
            .map(|(p, outcomes)| {
                serde_json::json!({
                    "zip": p.req.zip.display().to_string(),
                    "project": p.project,
                    "layer": p.req.name,
                    "runtimes": p.req.runtimes,
                    "architectures": p.req.architectures,
                    "code_sha256": p.req.code_sha256,
                    "forced_check_errors": p.forced_codes,
                    "regions": outcomes,
                })
            })
            .collect();
        let v = serde_json::json!({
            "layers": layers,
            "published": count("published"),
            "unchanged": count("unchanged"),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?
        );
    } else {
        for (p, outcomes) in &results {
            let target = format!(
                "{} {}",
                p.req.runtimes.join(","),
                p.req.architectures.join(",")
            );
            for o in outcomes {
                let what = match o.action.as_str() {
                    "unchanged" => format!(
                        "unchanged (version {} has the same bytes)",
                        o.version.unwrap_or_default()
                    ),
                    "would-publish" => "would publish a new version (dry run)".to_string(),
                    _ if o.via_s3 => "published (through S3)".to_string(),
                    _ => "published".to_string(),
                };
                println!(
                    "{:<14} {:<22} {}  {what}",
                    o.region,
                    target,
                    o.arn.as_deref().unwrap_or(&p.req.name)
                );
            }
        }
        let (new, same) = (count("published"), count("unchanged"));
        if failures.is_empty() && !args.dry_run {
            if new == 0 {
                output::status(&format!(
                    "nothing published: every layer version already exists with the same bytes ({same} reused)"
                ));
            } else {
                output::status(&format!("{new} published, {same} unchanged"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(failures.join("\n")))
    }
}
