//! `pylayer layers list [NAME]` and `pylayer layers prune [NAME] --keep N`, over the
//! project's layers (one per target), in each region asked; `pylayer layers audit`, every
//! function of a region with the layers it uses.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::shared::{self, AwsArgs};
use super::{Failure, runtime};
use pylayer::aws::AwsTarget;
use pylayer::aws::layers::{
    VersionInfo, delete, kept_in_use, project_layers, to_prune, usage, versions,
};
use pylayer::published;

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
    /// The environment of pylayer.toml (`[env.NAME]`) whose layers to list or prune.
    #[arg(long, global = true, value_name = "NAME", env = "PYLAYER_ENV")]
    pub env: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LayersCommand {
    /// Versions of a project's layers (one per target), newest first, with their sizes.
    List {
        /// The project's layer name (`{name}`), or one layer's full name [default:
        /// pylayer.toml's name]
        name: Option<String>,
        /// Also list the functions that use each version.
        #[arg(long)]
        usage: bool,
        /// The per-target layer name template, as for `publish` [default: pylayer.toml's
        /// publish.layer-name, else `{name}-py{py}-{arch}`]
        #[arg(long, value_name = "TEMPLATE")]
        layer_name: Option<String>,
    },
    /// Delete old versions that no function uses, keeping the newest N of each target.
    Prune {
        /// The project's layer name (`{name}`), or one layer's full name [default:
        /// pylayer.toml's name]
        name: Option<String>,
        /// How many of the newest versions of each target (runtime × architecture) to keep,
        /// used or not (at least 1); older ones are deleted unless a function still uses them.
        #[arg(long, value_name = "N")]
        keep: usize,
        /// Say which versions would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// The per-target layer name template, as for `publish` [default: pylayer.toml's
        /// publish.layer-name, else `{name}-py{py}-{arch}`]
        #[arg(long, value_name = "TEMPLATE")]
        layer_name: Option<String>,
    },
    /// Every function in the region with the layers it uses: layers built for another Python
    /// or architecture than the function's, their check errors, deprecated runtimes. Exits
    /// 1 when something is found.
    Audit {
        /// Audit only this function (repeatable) [default: every function in the region]
        #[arg(long, value_name = "NAME")]
        function: Vec<String>,
        /// Compare runtime deprecation dates with this date instead of today (YYYY-MM-DD, UTC):
        /// what will be deprecated by then.
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
        /// Where vulnerability records come from [default: pylayer.toml's [audit] service, else pypi]
        #[arg(long, value_enum, value_name = "SERVICE")]
        vulnerability_service: Option<pylayer::audit::Service>,
        /// Base URL of the vulnerability service (a mirror) [default: pylayer.toml's [audit]
        /// url, else the service's public API]
        #[arg(long, value_name = "URL")]
        vulnerability_url: Option<String>,
        /// Answer vulnerability lookups from the cache only; distributions not cached are named.
        #[arg(long)]
        offline: bool,
        /// Do not look up known vulnerabilities of the layers' distributions.
        #[arg(long, conflicts_with_all = ["vulnerability_service", "vulnerability_url", "offline"])]
        no_vulnerabilities: bool,
    },
}

/// What `prune` did (or would do) to one layer in one region: `--json` prints `{"layer",
/// "dry_run", "results": [this, …]}`.
#[derive(Debug, Serialize)]
struct PruneOutcome {
    region: String,
    /// The Lambda layer name.
    layer: String,
    /// Versions kept as the newest N of their target.
    kept: Vec<i64>,
    /// Versions deleted (or, in a dry run, that would be).
    deleted: Vec<i64>,
    /// Versions older than the newest N of their target that stay because functions use them.
    kept_in_use: Vec<KeptVersion>,
}

#[derive(Debug, Serialize)]
struct KeptVersion {
    version: i64,
    used_by: Vec<String>,
}

/// A listed version and the layer it belongs to.
#[derive(Debug, Serialize)]
struct Listed {
    region: String,
    layer: String,
    #[serde(flatten)]
    version: VersionInfo,
}

pub fn run(args: LayersArgs) -> Result<(), Failure> {
    let config = shared::load_config_for(args.config.as_deref(), args.env.as_deref())?;
    if let LayersCommand::Audit { .. } = &args.command {
        return audit(&args, config.as_ref());
    }
    let target = AwsTarget {
        profile: args.aws.profile(config.as_ref()),
        region: None,
    };
    let mut regions = args.aws.regions(config.as_ref());
    if args.aws.region.is_empty() {
        regions.truncate(1);
    }
    let (given, with_usage, template) = match &args.command {
        LayersCommand::List {
            name,
            usage,
            layer_name,
        } => (name.clone(), *usage, layer_name.clone()),
        LayersCommand::Prune {
            name, layer_name, ..
        } => (name.clone(), true, layer_name.clone()),
        LayersCommand::Audit { .. } => unreachable!("handled above"),
    };
    if let LayersCommand::Prune { keep: 0, .. } = args.command {
        return Err(Failure::usage(
            "--keep 0 would delete every version of each target; pylayer always keeps the newest of each target: use --keep 1 or more",
        ));
    }
    let name = given
        .or_else(|| config.as_ref().and_then(|c| c.name.clone()))
        .ok_or_else(|| {
            Failure::usage(
                "name the layer (`pylayer layers list NAME`), or set `name` in pylayer.toml",
            )
        })?;
    let template = template
        .or_else(|| config.as_ref().and_then(|c| c.publish.layer_name.clone()))
        .unwrap_or_else(|| published::DEFAULT_LAYER_NAME.to_string());
    published::check_template(&template).map_err(Failure::usage)?;
    let rt = runtime()?;
    let mut listed: Vec<Listed> = Vec::new();
    let mut pruned: Vec<PruneOutcome> = Vec::new();
    let mut found_any = false;
    for region in &regions {
        let sdk = rt
            .block_on(pylayer::aws::sdk_config(&target, region.as_deref()))
            .map_err(Failure::failed)?;
        let region_name = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let lambda = pylayer::aws::lambda(&sdk);
        let layers = rt
            .block_on(project_layers(&lambda, &name, &template))
            .map_err(Failure::failed)?;
        found_any |= !layers.is_empty();
        let used = if with_usage && !layers.is_empty() {
            rt.block_on(usage(&lambda)).map_err(Failure::failed)?
        } else {
            Default::default()
        };
        for layer in layers {
            let mut list = rt
                .block_on(versions(&lambda, &layer))
                .map_err(Failure::failed)?;
            for v in &mut list {
                v.used_by = used.get(&v.arn).cloned().unwrap_or_default();
            }
            match &args.command {
                LayersCommand::List { .. } => listed.extend(list.into_iter().map(|v| Listed {
                    region: region_name.clone(),
                    layer: layer.clone(),
                    version: v,
                })),
                LayersCommand::Audit { .. } => {}
                LayersCommand::Prune { keep, dry_run, .. } => {
                    let doomed: Vec<i64> =
                        to_prune(&list, *keep).iter().map(|v| v.version).collect();
                    let in_use: Vec<KeptVersion> = kept_in_use(&list, *keep)
                        .iter()
                        .map(|v| KeptVersion {
                            version: v.version,
                            used_by: v.used_by.clone(),
                        })
                        .collect();
                    let kept = list
                        .iter()
                        .map(|v| v.version)
                        .filter(|v| !doomed.contains(v) && !in_use.iter().any(|k| k.version == *v))
                        .collect();
                    if !dry_run {
                        for v in &doomed {
                            rt.block_on(delete(&lambda, &layer, *v))
                                .map_err(Failure::failed)?;
                        }
                    }
                    pruned.push(PruneOutcome {
                        region: region_name.clone(),
                        layer: layer.clone(),
                        kept,
                        deleted: doomed,
                        kept_in_use: in_use,
                    });
                }
            }
        }
    }
    if !found_any {
        return Err(Failure::failed(format!(
            "no layer named {name} or {} in {}: check the name, the region and the account (`pylayer publish` creates them)",
            published::layer_name(&template, &name, "python3.X", "ARCH").unwrap_or_default(),
            regions
                .iter()
                .map(|r| r.clone().unwrap_or_else(|| "the default region".into()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
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
            json(serde_json::json!({ "layer": name, "dry_run": dry_run, "results": pruned }))?
        }
        LayersCommand::Prune { dry_run, .. } => print_prune(&pruned, dry_run, regions.len() > 1),
        LayersCommand::Audit { .. } => {}
    }
    Ok(())
}

fn print_list(list: &[Listed], with_usage: bool) {
    println!(
        "{:<28}  {:>7}  {:>12}  {:<24}  {:<22}  used by",
        "layer", "version", "zip bytes", "created", "runtimes"
    );
    for l in list {
        let v = &l.version;
        println!(
            "{:<28}  {:>7}  {:>12}  {:<24}  {:<22}  {}",
            l.layer,
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
        let layer = &o.layer;
        for k in &o.kept_in_use {
            println!(
                "{layer}: keeping version {}{at} (used by {})",
                k.version,
                k.used_by.join(", ")
            );
        }
        for v in &o.deleted {
            if dry_run {
                println!("{layer}: would delete version {v}{at}");
            } else {
                println!("{layer}: deleted version {v}{at}");
            }
        }
        if o.deleted.is_empty() {
            println!("{layer}: nothing to prune{at}");
        }
    }
}

/// `layers audit`: each region asked (else the default one), every function in it.
fn audit(args: &LayersArgs, config: Option<&pylayer::config::Config>) -> Result<(), Failure> {
    use pylayer::aws::audit::{audit_region, today_utc, valid_date};
    let LayersCommand::Audit {
        function: only,
        as_of,
        vulnerability_service,
        vulnerability_url,
        offline,
        no_vulnerabilities,
    } = &args.command
    else {
        return Ok(());
    };
    let today = match as_of.as_deref() {
        Some(d) if valid_date(d) => d.to_string(),
        Some(d) => {
            return Err(Failure::usage(format!(
                "--as-of {}: not a date; give it as YYYY-MM-DD (e.g. --as-of 2027-06-30)",
                pylayer::text::shown(d)
            )));
        }
        None => today_utc(),
    };
    let target = AwsTarget {
        profile: args.aws.profile(config),
        region: None,
    };
    let mut regions = args.aws.regions(config);
    if args.aws.region.is_empty() {
        regions.truncate(1);
    }
    let cache = pylayer::cache::CacheDir::resolve(None);
    // Known vulnerabilities as `pylayer audit` looks them up ([audit] of pylayer.toml).
    let vulnerabilities = (!no_vulnerabilities).then(|| {
        let audit_config = config.map(|c| c.audit.clone()).unwrap_or_default();
        let service = vulnerability_service
            .or(audit_config.service)
            .unwrap_or_default();
        let mut settings = pylayer::audit::AuditSettings::new(service, cache.clone());
        settings.url = vulnerability_url.clone().or(audit_config.url);
        settings.offline = *offline;
        settings.ignore = audit_config.ignore;
        settings
    });
    let http = pylayer::http::client()?;
    let rt = runtime()?;
    let mut results = Vec::new();
    for region in &regions {
        let r = rt
            .block_on(audit_region(
                &target,
                region.as_deref(),
                &cache,
                &http,
                &today,
                only,
                vulnerabilities.as_ref(),
            ))
            .map_err(Failure::failed)?;
        results.push(r);
    }
    let errors: usize = results.iter().map(|r| r.errors()).sum();
    if args.json {
        let v = serde_json::json!({ "as_of": today, "results": results });
        let text = serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{text}");
    } else {
        print_audit(&results);
    }
    for r in &results {
        for u in &r.vulnerabilities_unchecked {
            super::output::warn(&format!(
                "{}: not checked for known vulnerabilities ({u})",
                r.region
            ));
        }
    }
    if errors > 0 {
        let functions: usize = results
            .iter()
            .flat_map(|r| &r.functions)
            .filter(|f| f.findings.iter().any(|x| x.severity == "error"))
            .count();
        return Err(Failure::failed(format!(
            "{errors} finding(s) in {functions} function(s): rebuild the layers named for each function's runtime and architecture (`pylayer build --python 3.X --arch ARCH`, `pylayer publish`, `pylayer attach --function NAME`)"
        )));
    }
    Ok(())
}

fn print_audit(results: &[pylayer::aws::audit::RegionAudit]) {
    for r in results {
        println!(
            "{}: {} function(s) audited, {} skipped (deprecations as of {})",
            r.region,
            r.functions.len(),
            r.skipped.len(),
            r.as_of
        );
        for f in &r.functions {
            let arch = f.function.architectures.join(",");
            let runtime = f.function.runtime.as_deref().unwrap_or("-");
            if f.findings.is_empty() {
                println!(
                    "  {:<28} {runtime:<11} {arch:<7} ok ({} layer(s))",
                    f.function.name,
                    f.function.layers.len()
                );
                continue;
            }
            println!("  {:<28} {runtime:<11} {arch}", f.function.name);
            for x in &f.findings {
                let layer = x
                    .layer
                    .as_deref()
                    .map(|l| format!(" [{}]", l.splitn(7, ':').nth(6).unwrap_or(l)))
                    .unwrap_or_default();
                println!("    {}[{}]{layer} {}", x.severity, x.code, x.message);
                println!("      fix: {}", x.fix);
            }
        }
        for s in &r.skipped {
            println!(
                "  {:<28} {:<11} skipped: {}",
                s.name,
                s.runtime.as_deref().unwrap_or("-"),
                s.reason
            );
        }
    }
}
