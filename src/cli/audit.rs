//! `pylayer audit [pylayer.lock | LAYER.zip | DIR]`: known vulnerabilities of a lock's pins or
//! a built layer's distributions, with the smallest upgrade that fixes each on each target.
//! Exit 0 when nothing counts, 1 when findings remain (or a distribution could not be
//! checked), 2 on bad input.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;
use uv_normalize::PackageName;
use uv_pep440::Version;

use super::shared::{self, env_var};
use super::{Failure, output, runtime, values};
use pylayer::audit::{self, AuditReport, AuditSettings, Dist, Service, UpgradeSettings};
use pylayer::cache::CacheDir;
use pylayer::index::{DEFAULT_INDEX_URL, IndexConfig};
use pylayer::layer::target_hint;
use pylayer::lock::Lock;
use pylayer::target::{Arch, Target};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to audit: a lock, a layer zip (its manifest beside it, else its dist-info), a
    /// layer directory, or a published version's ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N`,
    /// downloaded into the cache) [default: the project's lock: pylayer.toml's `lock`, else
    /// pylayer.lock; pylayer.ENV.lock with --env]
    #[arg(value_name = "LOCK|ZIP|DIR|ARN")]
    pub input: Option<PathBuf>,
    /// Where vulnerability records come from [default: pylayer.toml's [audit] service, else pypi]
    #[arg(long, value_enum, value_name = "SERVICE")]
    pub vulnerability_service: Option<Service>,
    /// Base URL of the vulnerability service (a mirror) [default: pylayer.toml's [audit]
    /// url, else the service's public API]
    #[arg(long, value_name = "URL")]
    pub vulnerability_url: Option<String>,
    /// Answer from the cache only; distributions not cached are named and fail the audit.
    #[arg(long)]
    pub offline: bool,
    /// Where answers are cached [env: PYLAYER_CACHE_DIR]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Package index whose releases upgrade advice considers [default: PYLAYER_INDEX_URL,
    /// else PIP_INDEX_URL, else pylayer.toml's index-url, else the public index]
    #[arg(short = 'i', long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Skip upgrade advice (no index requests).
    #[arg(long)]
    pub no_upgrade_advice: bool,
    /// Lambda Python runtime of a layer without a manifest (3.9 … 3.14), for upgrade advice
    #[arg(long = "python", value_name = "3.X", value_parser = values::python_minor)]
    pub python: Option<u8>,
    /// Lambda architecture of a layer without a manifest, for upgrade advice
    #[arg(long = "arch", value_name = "ARCH", value_parser = values::arch_parser())]
    pub arch: Option<Arch>,
    /// The environment of pylayer.toml whose lock is audited (`[env.NAME]`).
    #[arg(long, value_name = "NAME", env = "PYLAYER_ENV")]
    pub env: Option<String>,
    #[arg(long, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<PathBuf>,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    #[command(flatten)]
    pub aws: shared::LayerAwsArgs,
}

/// What the distributions came from.
enum Source {
    /// The lock, and whether it is the project's own (its requirements then bound upgrades).
    Lock {
        path: PathBuf,
        project: bool,
    },
    Layer(PathBuf),
}

pub fn run(args: AuditArgs) -> Result<(), Failure> {
    let config = shared::load_config_for(args.config.as_deref(), args.env.as_deref())?;
    // A published layer version: its bytes downloaded into the cache (hash-checked), read
    // as a layer zip; its compatible runtime and architecture are the target.
    let published = match &args.input {
        Some(p) => shared::published_input(p, &args.aws)?,
        None => None,
    };
    let (mut python, mut arch) = (args.python, args.arch);
    if let Some(p) = &published {
        python = python.or(p.python);
        arch = arch.or(p.arch);
    }
    let source = match (&published, &args.input) {
        (Some(p), _) => Source::Layer(p.path.clone()),
        (None, None) => Source::Lock {
            path: config
                .as_ref()
                .map_or_else(|| PathBuf::from("pylayer.lock"), |c| c.lock_path()),
            project: true,
        },
        (None, Some(p)) if p.is_dir() || p.extension().is_some_and(|x| x == "zip") => {
            Source::Layer(p.clone())
        }
        (None, Some(p)) => Source::Lock {
            path: p.clone(),
            project: config.as_ref().is_some_and(|c| c.lock_path() == *p),
        },
    };
    let (dists, lock) = match &source {
        Source::Lock { path, .. } => {
            if !path.exists() {
                return Err(shared::missing(
                    path,
                    "a lock",
                    "run `pylayer lock` first, or give a lock, layer zip or layer directory: `pylayer audit dist/NAME-py3.12-x86_64.zip`",
                ));
            }
            let lock = Lock::read(path).map_err(|e| Failure::usage(format!("{e:#}")))?;
            (lock_dists(&lock, path)?, Some(lock))
        }
        Source::Layer(path) => (layer_dists(path, python, arch)?, None),
    };
    let audit_config = config.as_ref().map(|c| c.audit.clone()).unwrap_or_default();
    let service = args
        .vulnerability_service
        .or(audit_config.service)
        .unwrap_or_default();
    let mut settings = AuditSettings::new(service, CacheDir::resolve(args.cache_dir.as_deref()));
    settings.url = args.vulnerability_url.clone().or(audit_config.url);
    settings.offline = args.offline;
    settings.ignore = audit_config.ignore;
    if !args.no_upgrade_advice {
        let mut up = UpgradeSettings {
            index: index_config(&args, config.as_ref()),
            allowed: HashMap::new(),
            lock: lock.clone(),
        };
        if let (Source::Lock { project: true, .. }, Some(c), Some(_)) = (&source, &config, &lock) {
            project_bounds(c, &mut up.allowed);
        }
        settings.upgrades = Some(up);
    }
    let rt = runtime()?;
    let report = audit::audit(&rt, &dists, &settings)?;
    if args.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        print_report(&report);
    }
    if report.clean() {
        Ok(())
    } else {
        Err(Failure::silent(1))
    }
}

/// Every target's pins, each version once with the targets that have it.
fn lock_dists(lock: &Lock, path: &Path) -> Result<Vec<Dist>, Failure> {
    let mut out: Vec<Dist> = Vec::new();
    for lt in &lock.targets {
        let target = format!("{}/{}", lt.python, lt.arch);
        let t = pylayer::target::parse_python(&lt.python)
            .ok()
            .zip(lt.arch.parse::<Arch>().ok())
            .and_then(|(m, a)| Target::new(m, a).ok())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "{}: target {target} is not a Lambda runtime and architecture; run `pylayer lock` to rewrite the lock",
                    path.display()
                ))
            })?;
        for p in &lt.packages {
            let d = parse_dist(&p.name, &p.version, path)?;
            match out
                .iter_mut()
                .find(|o| o.name == d.name && o.version == d.version)
            {
                Some(o) => o.targets.push(t),
                None => out.push(Dist {
                    targets: vec![t],
                    ..d
                }),
            }
        }
    }
    Ok(out)
}

fn parse_dist(name: &str, version: &str, from: &Path) -> Result<Dist, Failure> {
    let bad = |what: &str| {
        Failure::usage(format!(
            "{}: {what} of {name} {version} is not valid; rebuild it with `pylayer lock` or `pylayer build`",
            from.display()
        ))
    };
    Ok(Dist::new(
        PackageName::from_owned(name.to_string()).map_err(|_| bad("the name"))?,
        version.parse::<Version>().map_err(|_| bad("the version"))?,
    ))
}

/// A layer's distributions: from the manifest beside the zip when there is one, else from
/// the dist-info directories inside.
fn layer_dists(path: &Path, python: Option<u8>, arch: Option<Arch>) -> Result<Vec<Dist>, Failure> {
    shared::require_layer(path)?;
    let hint = target_hint::resolve(path, python, arch).map_err(Failure::usage)?;
    let target = match (hint.minor, hint.arch) {
        (Some(m), Some(a)) => Some(Target::new(m, a).map_err(Failure::usage)?),
        _ => None,
    };
    let manifest = target_hint::manifest_beside(path);
    let pairs: Vec<(String, String, PathBuf)> = if path.extension().is_some_and(|x| x == "zip")
        && manifest.is_file()
    {
        let m = pylayer::manifest::read(&manifest).map_err(|e| Failure::usage(format!("{e:#}")))?;
        m.packages
            .into_iter()
            .map(|p| (p.name, p.version, manifest.clone()))
            .collect()
    } else {
        let layer = pylayer::layer::Layer::read(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e:#}", path.display())))?;
        layer
            .dists
            .into_iter()
            .map(|d| (d.name, d.version, path.join(&d.dist_info)))
            .collect()
    };
    let mut out = Vec::new();
    for (name, version, from) in pairs {
        let mut d = parse_dist(&name, &version, &from)?;
        d.targets.extend(target);
        out.push(d);
    }
    if out.is_empty() {
        output::warn(&format!(
            "{} holds no distributions (no *.dist-info directories): nothing to audit",
            path.display()
        ));
    }
    Ok(out)
}

/// The indexes upgrade advice reads: flag > PYLAYER_INDEX_URL > PIP_INDEX_URL > pylayer.toml
/// > the public index (extra indexes from pylayer.toml follow).
fn index_config(args: &AuditArgs, config: Option<&pylayer::config::Config>) -> IndexConfig {
    let primary = args
        .index_url
        .clone()
        .or_else(|| env_var("PYLAYER_INDEX_URL"))
        .or_else(|| env_var("PIP_INDEX_URL"))
        .or_else(|| config.and_then(|c| c.index_url.clone()))
        .unwrap_or_else(|| DEFAULT_INDEX_URL.to_string());
    let mut indexes = vec![primary];
    if args.index_url.is_none()
        && let Some(c) = config
    {
        indexes.extend(c.extra_index_urls.iter().cloned());
    }
    IndexConfig {
        indexes,
        ..IndexConfig::default()
    }
}

/// What the project's requirement and constraint files allow, per package: an upgrade the
/// project's own files forbid is no advice. Unreadable files only lose this bound (with a
/// note), never the audit.
fn project_bounds(
    c: &pylayer::config::Config,
    allowed: &mut HashMap<String, Vec<(uv_pep440::VersionSpecifiers, String)>>,
) {
    let files: Vec<PathBuf> = c.requirements.iter().map(|p| c.path(p)).collect();
    let (plain, _project): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|p| pylayer::project_files::kind_of(p).is_none());
    let cons: Vec<PathBuf> = c.constraints.iter().map(|p| c.path(p)).collect();
    let reqs = match pylayer::requirements::read_files(&plain, &cons) {
        Ok(r) => r,
        Err(e) => {
            output::note(&format!(
                "upgrade advice ignores the requirement files: {}",
                pylayer::text::shown(&e.to_string())
            ));
            return;
        }
    };
    for r in reqs.requirements.iter().chain(&reqs.constraints) {
        if let Some(uv_pep508::VersionOrUrl::VersionSpecifier(specs)) =
            &r.requirement.version_or_url
        {
            allowed
                .entry(pylayer::wheel_name::normalize_name(
                    r.requirement.name.as_ref(),
                ))
                .or_default()
                .push((specs.clone(), r.location()));
        }
    }
}

fn print_report(report: &AuditReport) {
    let active: Vec<&audit::Finding> = report.active().collect();
    let ignored: Vec<&audit::Finding> = report.findings.iter().filter(|f| !f.counts()).collect();
    // Which targets a finding affects matters only when the lock has several.
    let mut all_targets: Vec<&String> = report.findings.iter().flat_map(|f| &f.targets).collect();
    all_targets.sort();
    all_targets.dedup();
    let several = all_targets.len() > 1;
    if !active.is_empty() {
        let rows: Vec<Vec<String>> = active
            .iter()
            .map(|f| {
                let mut row = vec![
                    f.package.clone(),
                    f.version.clone(),
                    f.id.clone(),
                    f.aliases.join(", "),
                    if f.fixed_in.is_empty() {
                        "-".to_string()
                    } else {
                        f.fixed_in.join(", ")
                    },
                    upgrade_text(f),
                ];
                if several {
                    row.insert(2, f.targets.join(", "));
                }
                row
            })
            .collect();
        let mut header = vec![
            "package",
            "installed",
            "id",
            "aliases",
            "fixed in",
            "upgrade",
        ];
        if several {
            header.insert(2, "targets");
        }
        output::print(&pylayer::format::table(&header, &rows, &[]));
        for f in &active {
            if let Some(i) = f.ignore.as_ref().filter(|i| i.expired) {
                output::warn(&format!(
                    "the ignore of {} ({}) expired on {}: it counts again; fix it, or extend `until` in pylayer.toml's [audit] ignore",
                    f.id,
                    i.reason,
                    i.until.map(|d| d.to_string()).unwrap_or_default()
                ));
            }
        }
    }
    for f in &ignored {
        if let Some(i) = &f.ignore {
            output::note(&format!(
                "ignored {} in {} {}: {}{}",
                f.id,
                f.package,
                f.version,
                i.reason,
                i.until.map(|d| format!(" (until {d})")).unwrap_or_default()
            ));
        }
    }
    for u in &report.unchecked {
        output::warn(&format!(
            "{} {} was not checked: {}",
            u.name, u.version, u.reason
        ));
    }
    for u in &report.unknown {
        output::warn(&format!(
            "{} {} is unknown to the {} service (a private package?): not checked",
            u.name, u.version, report.service
        ));
    }
    let summary = format!(
        "{} distribution(s) checked with {}: {} finding(s), {} ignored{}{}",
        report.checked,
        report.service,
        active.len(),
        ignored.len(),
        if report.unchecked.is_empty() {
            String::new()
        } else {
            format!(", {} not checked", report.unchecked.len())
        },
        if report.unknown.is_empty() {
            String::new()
        } else {
            format!(", {} unknown to the service", report.unknown.len())
        }
    );
    output::status(&summary);
    if !active.is_empty() {
        output::status(
            "upgrade the packages (`pylayer lock -P NAME` after raising its requirement), or accept a finding in pylayer.toml: [audit] ignore = [{ id = \"…\", reason = \"…\", until = \"YYYY-MM-DD\" }]",
        );
    }
}

/// The upgrade column: per target when the targets disagree.
fn upgrade_text(f: &audit::Finding) -> String {
    let texts: Vec<String> = f
        .upgrades
        .iter()
        .map(|u| match (&u.version, &u.reason) {
            (Some(v), _) => v.clone(),
            (None, Some(r)) => r.clone(),
            (None, None) => "-".to_string(),
        })
        .collect();
    let mut distinct = texts.clone();
    distinct.dedup();
    match distinct.len() {
        0 => "-".to_string(),
        1 => distinct.remove(0),
        _ => f
            .upgrades
            .iter()
            .zip(texts)
            .map(|(u, t)| format!("{}: {t}", u.target))
            .collect::<Vec<_>>()
            .join("; "),
    }
}
