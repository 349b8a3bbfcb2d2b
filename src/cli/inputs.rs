//! Flags shared by every command that reads requirements and targets (`lock`, `build`).

use std::path::{Path, PathBuf};

use clap::Args;

use super::shared::{self, env_var};
use super::{Failure, output, values};
use pylayer::config::Config;
use pylayer::http::redact;
use pylayer::index::{DEFAULT_INDEX_URL, IndexConfig, IndexStrategy};
pub use pylayer::inputs::Inputs;
use pylayer::local_project::LocalProject;
use pylayer::project_files;
use pylayer::requirements::{self, RequirementsInput};
use pylayer::resolve::{BinaryOption, BuildPolicy};
use pylayer::target::{Arch, Target, parse_python};
use pylayer::text;
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
    /// Lambda Python runtime: 3.9 … 3.14 (repeatable, or comma-separated) [default:
    /// pylayer.toml's python, else the venv's, else 3.12]
    #[arg(long = "python", value_name = "3.X", env = "PYLAYER_PYTHON",
          value_parser = values::python_minor, value_delimiter = ',')]
    pub python: Vec<u8>,
    /// Lambda architecture (repeatable, or comma-separated) [default: pylayer.toml's arch,
    /// else x86_64]
    #[arg(long = "arch", value_name = "ARCH", env = "PYLAYER_ARCH",
          value_parser = values::arch_parser(), value_delimiter = ',')]
    pub arch: Vec<Arch>,
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
    #[arg(long, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Base URL of the package index (PEP 503/691) [default: a requirements file's
    /// --index-url, else PYLAYER_INDEX_URL, else PIP_INDEX_URL, else pylayer.toml's
    /// index-url, else the public index]
    #[arg(short = 'i', long, value_name = "URL")]
    pub index_url: Option<String>,
    /// More indexes to consult after the first (repeatable) [default:
    /// PYLAYER_EXTRA_INDEX_URL, else PIP_EXTRA_INDEX_URL, else pylayer.toml's
    /// extra-index-urls; a requirements file's are added]
    #[arg(long, value_name = "URL")]
    pub extra_index_url: Vec<String>,
    /// A directory or HTML page of wheels to consider too (repeatable).
    #[arg(short = 'f', long, value_name = "DIR|URL")]
    pub find_links: Vec<String>,
    /// Use no index at all: only --find-links.
    #[arg(long)]
    pub no_index: bool,
    /// Never build from source: wheels only [default: pylayer.toml's no-build]
    #[arg(long)]
    pub no_build: bool,
    /// Never build these packages from source, as pip spells it: `:all:`, `:none:` or
    /// comma-separated names (repeatable) [pylayer.toml's only-binary and a requirements
    /// file's apply first]
    #[arg(long, value_name = "NAMES")]
    pub only_binary: Vec<String>,
    /// Build these packages from their source distribution even when a wheel exists:
    /// `:all:`, `:none:` or comma-separated names (repeatable) [pylayer.toml's no-binary and
    /// a requirements file's apply first]
    #[arg(long, value_name = "NAMES")]
    pub no_binary: Vec<String>,
    /// Build the project itself (the directory of its pyproject.toml: the one given with -r,
    /// else pylayer.toml's, else the working directory's) into the layer as a package.
    #[arg(long)]
    pub include_project: bool,
    /// Accept pre-releases for every package.
    #[arg(long)]
    pub pre: bool,
    /// How a package present on several indexes is chosen.
    #[arg(long, value_enum, default_value_t = IndexStrategy::FirstIndex)]
    pub index_strategy: IndexStrategy,
    /// Where the lock is kept [default: pylayer.toml's `lock`, else pylayer.lock;
    /// pylayer.ENV.lock with --env]
    #[arg(long = "lock", value_name = "PATH")]
    pub lock_path: Option<PathBuf>,
    /// The environment of pylayer.toml to use (`[env.NAME]`): its requirement adjustments,
    /// its own lock, layer name and publishing settings.
    #[arg(long, value_name = "NAME", env = "PYLAYER_ENV")]
    pub env: Option<String>,
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

impl InputArgs {
    fn targets(python: &[u8], arch: &[Arch]) -> Result<Vec<Target>, Failure> {
        let mut out = Vec::new();
        for &minor in python {
            for &arch in arch {
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
        let config = shared::load_config_for(self.config.as_deref(), self.env.as_deref())?;
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
        if let (Some(c), false) = (&config, given) {
            apply_env_adjustments(c, &mut reqs)?;
        }
        let mut venv_python = None;
        let mut venv_local = Vec::new();
        if let Some(dir) = &self.from_venv {
            venv_python = venv::python_version(dir);
            let (pins, local) = venv_requirements(dir)?;
            venv_local = local;
            requirements::add_cli_requirements(&mut reqs, &pins)
                .map_err(|e| Failure::usage(pylayer::text::shown(&e.to_string())))?;
        }
        let project_root = self.project_root(config.as_ref(), &project);
        let local =
            self.local_projects(config.as_ref(), &project, &reqs, &venv_local, &project_root)?;
        if reqs.requirements.is_empty() && local.is_empty() {
            return Err(Failure::usage(
                "nothing to install: give requirements with -r requirements.txt, as arguments \
                 (`pylayer lock requests`), with --from-venv DIR, or in pylayer.toml",
            ));
        }
        let build = self.build_policy(config.as_ref(), &reqs)?;
        let indexes = if self.no_index || reqs.no_index {
            Vec::new()
        } else {
            self.indexes(&reqs, config.as_ref())
        };
        let absolute = |f: &str| {
            if f.contains("://") {
                f.to_string()
            } else {
                std::path::absolute(f).map_or(f.to_string(), |p| p.display().to_string())
            }
        };
        // The flags, else pylayer.toml's, then the requirements files': the same directories
        // named either way are the same inputs (order counts for `first-index`).
        let mut find_links: Vec<String> = self.find_links.iter().map(|f| absolute(f)).collect();
        if let (Some(c), true) = (&config, self.find_links.is_empty()) {
            find_links.extend(c.find_links.iter().map(|f| {
                if f.contains("://") {
                    f.clone()
                } else {
                    absolute(&c.path(Path::new(f)).display().to_string())
                }
            }));
        }
        for f in &reqs.find_links {
            if !find_links.contains(f) {
                find_links.push(f.clone());
            }
        }
        if indexes.is_empty() && find_links.is_empty() {
            return Err(Failure::usage(
                "--no-index needs at least one --find-links source",
            ));
        }
        let pre = self.pre || reqs.pre;
        let (python, arch) = self.python_and_arch(config.as_ref(), venv_python.as_deref())?;
        Ok(Inputs {
            targets: Self::targets(&python, &arch)?,
            index: IndexConfig {
                indexes,
                find_links,
                strategy: self.index_strategy,
                credential_urls: direct_reference_credentials(&reqs),
            },
            reqs,
            pre,
            build,
            lock_path: self
                .lock_path
                .clone()
                .or_else(|| config.as_ref().map(Config::lock_path))
                .unwrap_or_else(|| PathBuf::from("pylayer.lock")),
            sibling_locks: match (&self.lock_path, &config) {
                (None, Some(c)) => c.sibling_locks(),
                _ => Vec::new(),
            },
            project_root,
            local,
            config,
            from_venv: self.from_venv.is_some(),
        })
    }
}

impl InputArgs {
    /// The directory local paths are recorded against: pylayer.toml's, else that of the
    /// pyproject.toml given with -r when the project itself is included, else the working
    /// directory.
    fn project_root(&self, config: Option<&Config>, project_files: &[PathBuf]) -> PathBuf {
        let dir = |p: &Path| {
            let d = p.parent().unwrap_or(Path::new(""));
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d.to_path_buf()
            }
        };
        let pyproject = project_files
            .iter()
            .find(|p| project_files::kind_of(p) == Some(project_files::ProjectFileKind::PyProject));
        let root = match (config, pyproject) {
            (Some(c), _) => dir(&c.file),
            (None, Some(p)) => dir(p),
            (None, None) => PathBuf::from("."),
        };
        pylayer::fsutil::real_or_absolute(&root)
    }

    /// Every local project, checked and hashed: from requirements, pylayer.toml's `local`,
    /// a pyproject.toml's `[tool.pylayer] local`, `--include-project` and the venv.
    fn local_projects(
        &self,
        config: Option<&Config>,
        project_files: &[PathBuf],
        reqs: &RequirementsInput,
        venv_local: &[(String, PathBuf)],
        root: &Path,
    ) -> Result<Vec<LocalProject>, Failure> {
        let mut out: Vec<LocalProject> = Vec::new();
        let mut add = |p: LocalProject| {
            if !out.iter().any(|o| o.path == p.path) {
                out.push(p);
            }
        };
        let open = |path: &Path, origin: &str| {
            LocalProject::open(path, root, origin).map_err(|e| Failure::usage(text::shown(&e)))
        };
        for l in &reqs.local {
            if l.editable {
                output::note(&format!(
                    "{}: `-e {}`: a layer has no editable installs; the project is built \
                     into a wheel like any other package",
                    l.location(),
                    l.path.display()
                ));
            }
            let mut p = open(&l.path, &l.location())?;
            p.name = l.name.clone();
            p.extras = l.extras.clone();
            p.marker = l.marker.clone();
            add(p);
        }
        if let Some(c) = config {
            for dir in &c.local {
                add(open(
                    &c.path(dir),
                    &format!("{} (local)", c.file.display()),
                )?);
            }
        }
        for file in project_files.iter().filter(|p| {
            project_files::kind_of(p) == Some(project_files::ProjectFileKind::PyProject)
        }) {
            let dirs = project_files::tool_pylayer_local(file)
                .map_err(|e| Failure::usage(text::shown(&e.to_string())))?;
            for dir in dirs {
                add(open(
                    &dir,
                    &format!("{} [tool.pylayer] local", file.display()),
                )?);
            }
        }
        if self.include_project {
            let dir = project_files
                .iter()
                .find(|p| {
                    project_files::kind_of(p) == Some(project_files::ProjectFileKind::PyProject)
                })
                .map(|p| p.parent().unwrap_or(Path::new("")).to_path_buf())
                .or_else(|| config.map(|c| c.dir.clone()))
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or_else(|| PathBuf::from("."));
            add(open(&dir, "--include-project")?);
        }
        for (name, dir) in venv_local {
            let mut p = open(dir, &format!("--from-venv: editable install of {name}"))?;
            p.name = Some(name.clone());
            add(p);
        }
        Ok(out)
    }

    /// `--no-build`, `--only-binary` and `--no-binary`: pylayer.toml's first, then the
    /// requirements files', then the flags, applied in that order with pip's rules, so a
    /// flag wins for the packages it names (and `:all:`/`:none:` for every package).
    fn build_policy(
        &self,
        config: Option<&Config>,
        reqs: &RequirementsInput,
    ) -> Result<BuildPolicy, Failure> {
        use BinaryOption::{NoBinary, OnlyBinary};
        let mut options = Vec::new();
        let mut no_build = false;
        if let Some(c) = config {
            no_build = c.no_build.unwrap_or(false);
            options.extend(c.only_binary.iter().cloned().map(OnlyBinary));
            options.extend(c.no_binary.iter().cloned().map(NoBinary));
            BuildPolicy::from_pip(no_build, &options).map_err(|e| {
                Failure::usage(format!(
                    "{}: {e}\n  fix only-binary / no-binary in {}",
                    c.file.display(),
                    c.file.display()
                ))
            })?;
        }
        options.extend(reqs.only_binary.iter().cloned().map(OnlyBinary));
        options.extend(reqs.no_binary.iter().cloned().map(NoBinary));
        let mut flags: Vec<BinaryOption> = Vec::new();
        flags.extend(self.only_binary.iter().cloned().map(OnlyBinary));
        flags.extend(self.no_binary.iter().cloned().map(NoBinary));
        BuildPolicy::from_pip(false, &flags).map_err(Failure::usage)?;
        options.extend(flags);
        BuildPolicy::from_pip(no_build || self.no_build, &options).map_err(Failure::usage)
    }

    /// The indexes, in order. Primary: `--index-url` > a requirements file's `--index-url`
    /// (pip reads a requirements file's options as command-line options) >
    /// `PYLAYER_INDEX_URL` > `PIP_INDEX_URL` > pylayer.toml > the public index. Extra indexes:
    /// `--extra-index-url` > `PYLAYER_EXTRA_INDEX_URL` > `PIP_EXTRA_INDEX_URL` > pylayer.toml,
    /// plus a requirements file's.
    fn indexes(&self, reqs: &RequirementsInput, config: Option<&Config>) -> Vec<String> {
        let from_config = config.and_then(|c| c.index_url.clone());
        let (primary, source) = if let Some(u) = &self.index_url {
            (u.clone(), "--index-url")
        } else if let Some(u) = &reqs.index_url {
            (u.clone(), "a requirements file")
        } else if let Some(u) = env_var("PYLAYER_INDEX_URL") {
            (u, "PYLAYER_INDEX_URL")
        } else if let Some(u) = env_var("PIP_INDEX_URL") {
            (u, "PIP_INDEX_URL")
        } else if let Some(u) = from_config {
            (u, "pylayer.toml")
        } else {
            (DEFAULT_INDEX_URL.to_string(), "default")
        };
        output::detail(&format!("index: {} (from {source})", redact(&primary)));
        let mut indexes = vec![primary];
        let (extra, source): (Vec<String>, &str) = if !self.extra_index_url.is_empty() {
            (self.extra_index_url.clone(), "--extra-index-url")
        } else if let Some(v) = env_var("PYLAYER_EXTRA_INDEX_URL") {
            (split_urls(&v), "PYLAYER_EXTRA_INDEX_URL")
        } else if let Some(v) = env_var("PIP_EXTRA_INDEX_URL") {
            (split_urls(&v), "PIP_EXTRA_INDEX_URL")
        } else {
            (
                config
                    .map(|c| c.extra_index_urls.clone())
                    .unwrap_or_default(),
                "pylayer.toml",
            )
        };
        for u in &extra {
            output::detail(&format!("extra index: {} (from {source})", redact(u)));
        }
        indexes.extend(extra);
        indexes.extend(reqs.extra_index_urls.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        indexes.retain(|u| seen.insert(u.clone()));
        indexes
    }

    /// Runtimes and architectures: flag (or `PYLAYER_PYTHON`/`PYLAYER_ARCH`, which clap reads
    /// as the flag) > the venv's Python (which pylayer.toml must then list) > pylayer.toml >
    /// 3.12 / x86_64.
    fn python_and_arch(
        &self,
        config: Option<&Config>,
        venv_python: Option<&str>,
    ) -> Result<(Vec<u8>, Vec<Arch>), Failure> {
        let in_file = |what: &str, v: &str, e: String| {
            Failure::usage(format!("pylayer.toml: {what} = \"{v}\": {e}"))
        };
        let from_file: Option<Vec<u8>> = match config.filter(|c| !c.python.is_empty()) {
            Some(c) => Some(
                c.python
                    .iter()
                    .map(|p| values::python_minor(p).map_err(|e| in_file("python", p, e)))
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        let venv_minor = venv_python.and_then(|v| parse_python(v).ok());
        let python: Vec<u8> = if !self.python.is_empty() {
            self.python.clone()
        } else if let Some(m) = venv_minor {
            // The venv's pins were chosen by its own Python: building them for another one
            // is a different layer, so pylayer.toml may not silently decide that.
            match (&from_file, config) {
                (Some(listed), Some(c)) if !listed.contains(&m) => {
                    let file = &c.file;
                    let listed: Vec<String> = listed.iter().map(|m| format!("3.{m}")).collect();
                    return Err(Failure::usage(format!(
                        "{}: python = {:?}, but the venv {} is python3.{m}\n  pass --python 3.{m} to build for the venv's Python, or --python {} to build its pins for pylayer.toml's (they may not all exist there), or set python = \"3.{m}\" in {}",
                        file.display(),
                        listed,
                        self.from_venv
                            .as_deref()
                            .map_or(String::new(), |d| d.display().to_string()),
                        listed.join(" --python "),
                        file.display(),
                    )));
                }
                (Some(listed), _) => listed.clone(),
                (None, _) => vec![m],
            }
        } else if let Some(listed) = from_file {
            listed
        } else {
            vec![12]
        };
        let arch: Vec<Arch> = if !self.arch.is_empty() {
            self.arch.clone()
        } else if let Some(c) = config.filter(|c| !c.arch.is_empty()) {
            c.arch
                .iter()
                .map(|a| a.parse::<Arch>().map_err(|e| in_file("arch", a, e)))
                .collect::<Result<_, _>>()?
        } else {
            vec![Arch::X86_64]
        };
        Ok((python, arch))
    }
}

/// Index URLs from an environment variable: whitespace-separated, as pip reads them.
fn split_urls(v: &str) -> Vec<String> {
    v.split_whitespace().map(str::to_string).collect()
}

/// A venv's editable installs of local directories: (distribution name, directory).
type EditableDirs = Vec<(String, PathBuf)>;

/// `name==version` for every distribution a venv holds, except installer tooling, and the
/// editable installs of local directories (built as local projects, by name).
fn venv_requirements(dir: &Path) -> Result<(Vec<String>, EditableDirs), Failure> {
    let sites = venv::site_packages(dir).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let dists = venv::installed(&sites)?;
    let mut pins = Vec::new();
    let mut local = Vec::new();
    for d in &dists {
        if venv::is_tooling(&d.name) {
            continue;
        }
        if let Some(path) = &d.editable {
            let project = Path::new(path);
            if project.is_dir() {
                output::note(&format!(
                    "{} {} is an editable install of {path}: a layer has no editable installs; \
                     the project is built into a wheel like any other package",
                    d.name, d.version
                ));
                local.push((d.name.clone(), project.to_path_buf()));
            } else {
                output::warn(&format!(
                    "{} {} is an editable install of {path}, which is not a directory here: it \
                     is left out; name the project's directory in requirements.txt (`./path`)",
                    d.name, d.version
                ));
            }
            continue;
        }
        if let Some(url) = d.direct_url.as_deref().filter(|u| u.starts_with("file:")) {
            output::warn(&format!(
                "{} {} was installed from a local path ({url}); using {}=={} from the index instead",
                d.name, d.version, d.name, d.version
            ));
        }
        pins.push(format!("{}=={}", d.name, d.version));
    }
    if pins.is_empty() && local.is_empty() {
        return Err(Failure::usage(format!(
            "{} has nothing installed besides pip and setuptools",
            dir.display()
        )));
    }
    Ok((pins, local))
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

/// An environment's `packages` added to the requirements and its `remove` taken out (a name
/// it removes that nothing asks for is an error: a typo must not pass silently).
fn apply_env_adjustments(c: &Config, reqs: &mut RequirementsInput) -> Result<(), Failure> {
    let env = c.env.as_deref().unwrap_or("default");
    let file = &c.file;
    requirements::add_cli_requirements(reqs, &c.packages).map_err(|e| {
        Failure::usage(format!(
            "{}: [env.{env}] packages: {}",
            file.display(),
            pylayer::text::shown(&e.to_string())
        ))
    })?;
    for name in &c.remove {
        let key = pylayer::wheel_name::normalize_name(name);
        let before = reqs.requirements.len();
        reqs.requirements
            .retain(|r| pylayer::wheel_name::normalize_name(r.requirement.name.as_ref()) != key);
        if reqs.requirements.len() == before {
            return Err(Failure::usage(format!(
                "{}: [env.{env}] remove = [\"{name}\"]: no requirement names {name}\n  remove it from the list, or check the spelling against requirements.txt",
                file.display()
            )));
        }
    }
    Ok(())
}
