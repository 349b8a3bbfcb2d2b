//! `pylayer status [--env NAME]`: per environment and target, the published version and its
//! CodeSha256 (confirmed with Lambda), whether it is what the current lock builds, the
//! functions using it, and functions left on another version of the layer (drift).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::shared::{self, AwsArgs};
use super::{Failure, runtime};
use pylayer::aws::AwsTarget;
use pylayer::aws::status::{BuildState, Drift, Live, build_state, confirm, users};
use pylayer::config::Config;
use pylayer::lock::Lock;
use pylayer::published::{self, Published};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this environment of pylayer.toml [default: every `[env.NAME]`, else the project]
    #[arg(long, value_name = "NAME", env = "PYLAYER_ENV")]
    pub env: Option<String>,
    /// `--region` only shows those regions' records; `--profile` as everywhere (each
    /// environment's publish.profile when neither it nor AWS_PROFILE is given).
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    #[arg(long, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<PathBuf>,
}

/// One row: an environment's target in one region.
#[derive(Debug, Serialize)]
struct Row {
    env: String,
    project: String,
    target: String,
    region: Option<String>,
    layer: Option<String>,
    arn: Option<String>,
    version: Option<i64>,
    code_sha256: Option<String>,
    /// What Lambda says of the recorded version; absent when nothing is published.
    lambda: Option<Live>,
    build: BuildState,
    functions: Vec<String>,
    drift: Vec<Drift>,
    promoted_from: Option<String>,
}

/// The environments to report: the one asked, else every one of pylayer.toml, else the
/// project itself (`default`).
fn environments(config: &Config, env: Option<&str>) -> Result<Vec<(String, Config)>, Failure> {
    if let Some(e) = env {
        let c = config
            .for_env(e)
            .map_err(|err| Failure::usage(format!("{err:#}")))?;
        return Ok(vec![(e.to_string(), c)]);
    }
    if config.envs.is_empty() {
        return Ok(vec![(published::DEFAULT_ENV.to_string(), config.clone())]);
    }
    config
        .envs
        .keys()
        .map(|e| {
            config
                .for_env(e)
                .map(|c| (e.clone(), c))
                .map_err(|err| Failure::usage(format!("{err:#}")))
        })
        .collect()
}

pub fn run(args: StatusArgs) -> Result<(), Failure> {
    let config = shared::load_config_for(args.config.as_deref(), None)?.unwrap_or_default();
    let state = Published::read(Path::new(published::STATE_FILE)).map_err(Failure::usage)?;
    let rt = runtime()?;
    let mut rows = Vec::new();
    // ListFunctions once per (profile, region).
    let mut usage_cache: BTreeMap<(Option<String>, String), BTreeMap<String, Vec<String>>> =
        BTreeMap::new();
    for (env, c) in environments(&config, args.env.as_deref())? {
        // Without a name in pylayer.toml, the project published last (as `attach` does).
        let project = c
            .name
            .clone()
            .or_else(|| state.project(None).map(str::to_string))
            .unwrap_or_default();
        let lock_path = c.lock_path();
        let lock = if lock_path.is_file() {
            Some(Lock::read(&lock_path).map_err(|e| Failure::usage(format!("{e:#}")))?)
        } else {
            None
        };
        let out_dir = c.out_dir_path();
        let zip_of =
            |python: &str, arch: &str| out_dir.join(format!("{project}-py{python}-{arch}.zip"));
        let lock_target = |python: &str, arch: &str| {
            lock.as_ref().and_then(|l| {
                l.targets
                    .iter()
                    .find(|t| t.python == python && t.arch == arch)
            })
        };
        let aws = AwsTarget {
            profile: args.aws.profile(Some(&c)),
            region: None,
        };
        let records = state.of(&env, &project);
        let shown = |r: &&&published::Record| {
            !r.runtime.is_empty()
                && (args.aws.region.is_empty() || args.aws.region.contains(&r.region))
        };
        for r in records.iter().filter(shown) {
            let python = r.runtime.strip_prefix("python").unwrap_or(&r.runtime);
            let sdk = rt
                .block_on(pylayer::aws::sdk_config(&aws, Some(&r.region)))
                .map_err(Failure::failed)?;
            let lambda = pylayer::aws::lambda(&sdk);
            let live = rt.block_on(confirm(&lambda, r));
            let key = (aws.profile.clone(), r.region.clone());
            if !usage_cache.contains_key(&key) {
                let u = rt
                    .block_on(pylayer::aws::layers::usage(&lambda))
                    .map_err(Failure::failed)?;
                usage_cache.insert(key.clone(), u);
            }
            let (functions, drift) = users(&usage_cache[&key], &r.arn);
            rows.push(Row {
                env: env.clone(),
                project: project.clone(),
                target: r.target.clone(),
                region: Some(r.region.clone()),
                layer: Some(r.layer.clone()),
                arn: Some(r.arn.clone()),
                version: r.version,
                code_sha256: r.code_sha256.clone(),
                lambda: Some(live),
                build: build_state(
                    r.code_sha256.as_deref(),
                    lock_target(python, &r.architecture),
                    &zip_of(python, &r.architecture),
                ),
                functions,
                drift,
                promoted_from: r.promoted_from.clone(),
            });
        }
        // Targets the lock has that were never published.
        for t in lock.iter().flat_map(|l| l.targets.iter()) {
            let label = format!("py{}-{}", t.python, t.arch);
            if records.iter().any(|r| r.target == label) {
                continue;
            }
            rows.push(Row {
                env: env.clone(),
                project: project.clone(),
                target: label,
                region: None,
                layer: None,
                arn: None,
                version: None,
                code_sha256: None,
                lambda: None,
                build: build_state(None, Some(t), &zip_of(&t.python, &t.arch)),
                functions: Vec::new(),
                drift: Vec::new(),
                promoted_from: None,
            });
        }
    }
    if args.json {
        let v = serde_json::json!({ "targets": rows });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "nothing locked or published yet: `pylayer build`, then `pylayer publish dist/*.zip`"
        );
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let lambda = match &r.lambda {
                None => "not published".to_string(),
                Some(Live::Confirmed) => "confirmed".to_string(),
                Some(Live::Other { code_sha256 }) => format!("Lambda has {code_sha256}"),
                Some(Live::Missing { .. }) => "MISSING".to_string(),
            };
            let mut functions = r.functions.join(",");
            if functions.is_empty() {
                functions = "-".into();
            }
            vec![
                r.env.clone(),
                r.target.clone(),
                r.region.clone().unwrap_or_else(|| "-".into()),
                r.version.map_or("-".into(), |v| v.to_string()),
                r.code_sha256.clone().unwrap_or_else(|| "-".into()),
                lambda,
                r.build.short(),
                functions,
            ]
        })
        .collect();
    let header = [
        "ENV",
        "TARGET",
        "REGION",
        "VERSION",
        "CODESHA256",
        "LAMBDA",
        "BUILD",
        "FUNCTIONS",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in table {
        line(row);
    }
    let drifted: Vec<(&Row, &Drift)> = rows
        .iter()
        .flat_map(|r| r.drift.iter().map(move |d| (r, d)))
        .collect();
    if !drifted.is_empty() {
        println!();
        println!("drift (functions on another version of the layer):");
        for (r, d) in drifted {
            let env_flag = if r.env == published::DEFAULT_ENV {
                String::new()
            } else {
                format!(" --env {}", r.env)
            };
            println!(
                "  {} ({}) uses {} version {}, {} than the recorded {}: `pylayer attach{env_flag} --function {} --region {}`",
                d.function,
                r.env,
                r.layer.as_deref().unwrap_or(""),
                d.version.map_or("?".into(), |v| v.to_string()),
                if d.older { "older" } else { "newer" },
                r.version.map_or("?".into(), |v| v.to_string()),
                d.function,
                r.region.as_deref().unwrap_or("")
            );
        }
    }
    for r in &rows {
        if let Some(Live::Missing { reason }) = &r.lambda {
            println!(
                "{} {} in {}: {reason}",
                r.env,
                r.target,
                r.region.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}
