//! Flags shared by every command that reads requirements and targets (`lock`, `build`).

use std::path::{Path, PathBuf};

use clap::Args;
use sha2::{Digest, Sha256};

use super::Failure;
use pylayer::config::Config;
use pylayer::http::{strip_userinfo, strip_userinfo_in_text};
use pylayer::index::{DEFAULT_INDEX_URL, IndexConfig, IndexStrategy};
use pylayer::project_files;
use pylayer::requirements::{self, RequirementsInput};
use pylayer::target::{Arch, Target, parse_python};
use pylayer::venv;

#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Requirements to install, as on pip's command line (`requests`, `numpy<2`).
    pub requirements: Vec<String>,
    /// Read requirements from a requirements.txt file (repeatable).
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub requirement_files: Vec<PathBuf>,
    /// Constrain versions with a constraints file (repeatable).
    #[arg(short = 'c', long = "constraint", value_name = "FILE")]
    pub constraint_files: Vec<PathBuf>,
    /// Lambda Python runtime: 3.9 … 3.14 (repeatable) [default: 3.12, or the venv's]
    #[arg(long = "python", value_name = "3.X")]
    pub python: Vec<String>,
    /// Lambda architecture: x86_64 or arm64 (repeatable) [default: x86_64]
    #[arg(long = "arch", value_name = "ARCH")]
    pub arch: Vec<String>,
    /// Use the exact versions installed in this virtual environment.
    #[arg(long, value_name = "DIR")]
    pub from_venv: Option<PathBuf>,
    /// Optional dependencies of a pyproject.toml to include (repeatable).
    #[arg(long, value_name = "NAME")]
    pub extra: Vec<String>,
    /// Include every optional dependency of a pyproject.toml.
    #[arg(long)]
    pub all_extras: bool,
    /// Dependency group of a pyproject.toml (or `dev` of a Pipfile.lock) to include (repeatable).
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,
    /// Settings file [default: ./pylayer.toml when present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Base URL of the package index (PEP 503/691), instead of the public index.
    #[arg(short = 'i', long, value_name = "URL")]
    pub index_url: Option<String>,
    /// More indexes to consult after the first (repeatable).
    #[arg(long, value_name = "URL")]
    pub extra_index_url: Vec<String>,
    /// A directory or HTML page of wheels to consider too (repeatable).
    #[arg(short = 'f', long, value_name = "DIR|URL")]
    pub find_links: Vec<String>,
    /// Use no index at all: only --find-links.
    #[arg(long)]
    pub no_index: bool,
    /// Accept pre-releases for every package.
    #[arg(long)]
    pub pre: bool,
    /// How a package present on several indexes is chosen.
    #[arg(long, value_enum, default_value_t = IndexStrategy::FirstIndex)]
    pub index_strategy: IndexStrategy,
    /// Where the lock is kept.
    #[arg(long = "lock", value_name = "PATH", default_value = "pylayer.lock")]
    pub lock_path: PathBuf,
    /// Re-resolve everything, ignoring the versions in the existing lock.
    #[arg(short = 'U', long)]
    pub upgrade: bool,
    /// Re-resolve this package, keeping the other pins (repeatable).
    #[arg(short = 'P', long, value_name = "NAME")]
    pub upgrade_package: Vec<String>,
    /// Use only cached index pages, metadata and wheels.
    #[arg(long)]
    pub offline: bool,
    /// Where downloads are cached [env: PYLAYER_CACHE_DIR]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Requirements, targets and index settings merged from flags, files and environment.
pub struct Inputs {
    pub reqs: RequirementsInput,
    pub targets: Vec<Target>,
    pub index: IndexConfig,
    pub pre: bool,
    /// The project's pylayer.toml, when there is one.
    pub config: Option<Config>,
    /// True when the requirements are every distribution of a venv (all pinned, top-level
    /// and transitive alike), which changes what "only needed by" means for exclusions.
    pub from_venv: bool,
}

impl InputArgs {
    fn targets(&self, python: &[String], arch: &[String]) -> Result<Vec<Target>, Failure> {
        let mut out = Vec::new();
        for p in python {
            let minor = parse_python(p).map_err(Failure::usage)?;
            for a in arch {
                let arch: Arch = a.parse().map_err(Failure::usage)?;
                let t = Target::new(minor, arch).map_err(Failure::usage)?;
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Merges flags (which win), pylayer.toml, the venv and the environment.
    pub fn load(&self) -> Result<Inputs, Failure> {
        let config = Config::discover(self.config.as_deref())
            .map_err(|e| Failure::usage(format!("{e:#}")))?;
        let given = !self.requirement_files.is_empty()
            || !self.requirements.is_empty()
            || self.from_venv.is_some();
        let mut req_files = self.requirement_files.clone();
        let mut con_files = self.constraint_files.clone();
        if let (Some(c), false) = (&config, given) {
            req_files = c.requirements.iter().map(|p| c.path(p)).collect();
            if con_files.is_empty() {
                con_files = c.constraints.iter().map(|p| c.path(p)).collect();
            }
        }
        if req_files.is_empty() && !given && Path::new("requirements.txt").is_file() {
            req_files.push(PathBuf::from("requirements.txt"));
        }
        // pyproject.toml, uv.lock, poetry.lock and Pipfile.lock given with -r are read by
        // their own module; everything else is a requirements.txt.
        let (project, plain): (Vec<PathBuf>, Vec<PathBuf>) = req_files
            .into_iter()
            .partition(|p| project_files::kind_of(p).is_some());
        let mut reqs = requirements::read_files(&plain, &con_files)
            .map_err(|e| Failure::usage(pylayer::text::shown(&e.to_string())))?;
        let opts = project_files::ProjectOptions {
            extras: self.extra.clone(),
            groups: self.group.clone(),
            all_extras: self.all_extras,
        };
        for p in &project {
            if let Some(kind) = project_files::kind_of(p) {
                project_files::read_into(p, kind, &opts, &mut reqs)
                    .map_err(|e| Failure::usage(pylayer::text::shown(&e.to_string())))?;
            }
        }
        if project.is_empty()
            && (!self.extra.is_empty() || !self.group.is_empty() || self.all_extras)
        {
            return Err(Failure::usage(
                "--extra, --group and --all-extras apply to pyproject.toml and lock files given with -r",
            ));
        }
        requirements::add_cli_requirements(&mut reqs, &self.requirements)
            .map_err(|e| Failure::usage(pylayer::text::shown(&e.to_string())))?;
        let mut venv_python = None;
        if let Some(dir) = &self.from_venv {
            venv_python = venv::python_version(dir);
            let pins = venv_requirements(dir)?;
            requirements::add_cli_requirements(&mut reqs, &pins)
                .map_err(|e| Failure::usage(pylayer::text::shown(&e.to_string())))?;
        }
        if reqs.requirements.is_empty() {
            return Err(Failure::usage(
                "nothing to install: give requirements with -r requirements.txt, as arguments \
                 (`pylayer lock requests`), with --from-venv DIR, or in pylayer.toml",
            ));
        }
        if reqs.only_binary.iter().any(|v| v == ":none:") {
            eprintln!("warning: --only-binary :none: is ignored: pylayer installs wheels only");
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut indexes = Vec::new();
        if !(self.no_index || reqs.no_index) {
            let primary = self
                .index_url
                .clone()
                .or_else(|| reqs.index_url.clone())
                .or_else(|| config.as_ref().and_then(|c| c.index_url.clone()))
                .or_else(|| env("PYLAYER_INDEX_URL"))
                .or_else(|| env("PIP_INDEX_URL"))
                .unwrap_or_else(|| DEFAULT_INDEX_URL.to_string());
            indexes.push(primary);
            indexes.extend(self.extra_index_url.iter().cloned());
            indexes.extend(reqs.extra_index_urls.iter().cloned());
            if self.extra_index_url.is_empty() {
                indexes.extend(
                    config
                        .iter()
                        .flat_map(|c| c.extra_index_urls.iter().cloned()),
                );
            }
            if let Some(extra) = env("PIP_EXTRA_INDEX_URL") {
                indexes.extend(extra.split_whitespace().map(str::to_string));
            }
            let mut seen = std::collections::HashSet::new();
            indexes.retain(|u| seen.insert(u.clone()));
        }
        let absolute = |f: &str| {
            if f.contains("://") {
                f.to_string()
            } else {
                std::path::absolute(f).map_or(f.to_string(), |p| p.display().to_string())
            }
        };
        let mut find_links: Vec<String> = self.find_links.iter().map(|f| absolute(f)).collect();
        find_links.extend(reqs.find_links.iter().cloned());
        if let (Some(c), true) = (&config, self.find_links.is_empty()) {
            find_links.extend(c.find_links.iter().map(|f| {
                if f.contains("://") {
                    f.clone()
                } else {
                    absolute(&c.path(Path::new(f)).display().to_string())
                }
            }));
        }
        if indexes.is_empty() && find_links.is_empty() {
            return Err(Failure::usage(
                "--no-index needs at least one --find-links source",
            ));
        }
        let pre = self.pre || reqs.pre;
        let pick = |flag: &[String],
                    conf: Option<&Vec<String>>,
                    fallback: Option<String>,
                    default: &str| {
            if !flag.is_empty() {
                flag.to_vec()
            } else if let Some(c) = conf.filter(|c| !c.is_empty()) {
                c.clone()
            } else {
                vec![fallback.unwrap_or_else(|| default.to_string())]
            }
        };
        let venv_python = venv_python.filter(|v| parse_python(v).is_ok());
        let python = pick(
            &self.python,
            config.as_ref().map(|c| &c.python),
            venv_python,
            "3.12",
        );
        let arch = pick(&self.arch, config.as_ref().map(|c| &c.arch), None, "x86_64");
        Ok(Inputs {
            targets: self.targets(&python, &arch)?,
            index: IndexConfig {
                indexes,
                find_links,
                strategy: self.index_strategy,
                credential_urls: direct_reference_credentials(&reqs),
            },
            reqs,
            pre,
            config,
            from_venv: self.from_venv.is_some(),
        })
    }
}

/// `name==version` for every distribution a venv holds, except installer tooling; editable
/// and local installs cannot be packaged and are named in a warning.
fn venv_requirements(dir: &Path) -> Result<Vec<String>, Failure> {
    let sites = venv::site_packages(dir).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let dists = venv::installed(&sites)?;
    let mut pins = Vec::new();
    for d in &dists {
        if venv::is_tooling(&d.name) {
            continue;
        }
        if let Some(path) = &d.editable {
            eprintln!(
                "warning: {} {} is an editable install of {path}: it cannot go into a layer; \
                 build it as a wheel (pip wheel {path}) and add it with --find-links",
                d.name, d.version
            );
            continue;
        }
        if let Some(url) = d.direct_url.as_deref().filter(|u| u.starts_with("file:")) {
            eprintln!(
                "warning: {} {} was installed from a local path ({url}); using {}=={} from the index instead",
                d.name, d.version, d.name, d.version
            );
        }
        pins.push(format!("{}=={}", d.name, d.version));
    }
    if pins.is_empty() {
        return Err(Failure::usage(format!(
            "{} has nothing installed besides pip and setuptools",
            dir.display()
        )));
    }
    Ok(pins)
}

/// Direct-reference URLs that carry credentials (`name @ https://user:token@host/x.whl`): their
/// user-info authenticates requests to that origin, and is never written anywhere.
fn direct_reference_credentials(reqs: &RequirementsInput) -> Vec<String> {
    reqs.requirements
        .iter()
        .chain(&reqs.constraints)
        .filter_map(|r| match &r.requirement.version_or_url {
            Some(uv_pep508::VersionOrUrl::Url(u)) if !u.username().is_empty() => {
                Some(u.to_url().displayable_with_credentials().to_string())
            }
            _ => None,
        })
        .collect()
}

impl Inputs {
    /// A digest of everything that decides a resolution. Credentials are not part of it (all
    /// URLs are taken without user-info): a committed lock must not let anyone test password
    /// guesses offline, and rotating a password must not force a new resolution. Requirement order, file names and
    /// line numbers do not count; what is asked for does.
    pub fn digest(&self) -> String {
        let mut lines = Vec::new();
        let mut reqs: Vec<String> = self
            .reqs
            .requirements
            .iter()
            .map(|r| {
                strip_userinfo_in_text(&format!("req {} {}", r.requirement, r.hashes.join(",")))
            })
            .collect();
        reqs.sort();
        lines.extend(reqs);
        let mut cons: Vec<String> = self
            .reqs
            .constraints
            .iter()
            .map(|r| strip_userinfo_in_text(&format!("con {}", r.requirement)))
            .collect();
        cons.sort();
        lines.extend(cons);
        for i in &self.index.indexes {
            lines.push(format!("index {}", strip_userinfo(i)));
        }
        for f in &self.index.find_links {
            lines.push(format!("find-links {}", strip_userinfo(f)));
            if let Ok(rd) = std::fs::read_dir(f) {
                let mut names: Vec<String> = rd
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                lines.push(names.join(","));
            }
        }
        lines.push(format!("pre {}", self.pre));
        lines.push(format!("strategy {:?}", self.index.strategy));
        let mut h = Sha256::new();
        for l in lines {
            h.update(l.as_bytes());
            h.update(b"\n");
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}
