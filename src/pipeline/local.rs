//! Local projects in the pipeline: built into wheels before resolution and handed to the
//! resolver as direct references; at build time, rebuilt (or taken from the build cache)
//! from the directory the lock records relative to the project root.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use super::{Error, Event};
use crate::cache::CacheDir;
use crate::index::IndexClient;
use crate::inputs::Inputs;
use crate::local_project::LocalProject;
use crate::lock::LockedPackage;
use crate::requirements::SourcedRequirement;
use crate::source_build::{self, BuildContext, BuiltWheel, Source};
use crate::wheel_name::{WheelName, normalize_name};

/// The local projects built for a resolution.
#[derive(Default)]
pub(super) struct LocalBuilt {
    /// `name[extras] @ file:///…/built.whl ; marker` for each project.
    pub requirements: Vec<SourcedRequirement>,
    /// Normalized name → (path relative to the project root, source hash): what the lock
    /// records in place of the built wheel's location.
    pub recorded: HashMap<String, (String, String)>,
}

impl LocalBuilt {
    /// Rewrites a locked package built from a local project to point at the project.
    pub fn record(&self, p: &mut LockedPackage) -> bool {
        match self.recorded.get(&normalize_name(&p.name)) {
            Some((path, hash)) => {
                p.url = path.clone();
                p.source_hash = Some(hash.clone());
                true
            }
            None => false,
        }
    }
}

/// The one context every source build runs in (sdists in resolution and at build time, local
/// projects): the given client and cache; the interpreter named by
/// `--python-interpreter` or pylayer.toml, else one discovered (the targets' minor first).
pub(super) fn context(
    rt: &tokio::runtime::Runtime,
    inputs: &Inputs,
    client: Arc<IndexClient>,
    cache: CacheDir,
    interpreter: Option<PathBuf>,
) -> BuildContext {
    BuildContext {
        client,
        handle: rt.handle().clone(),
        cache,
        interpreter: interpreter.or_else(|| {
            inputs
                .config
                .as_ref()
                .and_then(|c| c.python_interpreter.as_ref().map(|p| c.path(p)))
        }),
        preferred_minor: inputs.targets.first().map_or(12, |t| t.minor),
    }
}

/// Builds one local project, saying so.
fn build_one(
    project: &LocalProject,
    ctx: &BuildContext,
    on_event: &dyn Fn(Event),
) -> Result<BuiltWheel, Error> {
    let source = Source::Directory {
        path: project.path.clone(),
        source_hash: project.source_hash.clone(),
    };
    // Called outside the runtime (the builder blocks on its handle).
    let built = source_build::build_wheel(&source, ctx).map_err(|e| {
        Error::Failed(format!(
            "{}: the local project {} could not be built into a wheel: {e}\n  fix its build \
             (a pyproject.toml [build-system] whose backend builds a pure-Python wheel), then run \
             `pylayer lock` again",
            project.origin, project.recorded
        ))
    })?;
    on_event(Event::Note(format!(
        "local project {} built into {}{}",
        project.recorded,
        built.filename,
        if built.reused {
            " (reused the wheel built before from the same sources)"
        } else {
            ""
        }
    )));
    Ok(built)
}

/// Builds every local project of `inputs` (once: the wheels are pure, so every target takes
/// the same one) and returns the direct references for the resolver.
pub(super) fn build_for_resolution(
    inputs: &Inputs,
    ctx: &BuildContext,
    on_event: &dyn Fn(Event),
) -> Result<LocalBuilt, Error> {
    let mut out = LocalBuilt::default();
    for project in &inputs.local {
        if inputs.build.no_build {
            return Err(Error::Input(format!(
                "{}: the local project {} must be built into a wheel, but --no-build (or \
                 no-build = true) forbids building\n  drop --no-build, or build the wheel \
                 yourself and add its directory with --find-links",
                project.origin, project.recorded
            )));
        }
        let built = build_one(project, ctx, on_event)?;
        let wheel = WheelName::parse(&built.filename).map_err(|e| {
            Error::Failed(format!(
                "{}: the wheel built from {} has an invalid name {}: {e}",
                project.origin, project.recorded, built.filename
            ))
        })?;
        let name = wheel.name.to_string();
        if let Some(asked) = &project.name
            && normalize_name(asked) != name
        {
            return Err(Error::Input(format!(
                "{}: `{asked} @ …` names {asked}, but the project at {} builds {name}\n  write \
                 `{name} @ …`, or point to the project that builds {asked}",
                project.origin, project.recorded
            )));
        }
        let url = url::Url::from_file_path(&built.path).map_err(|()| {
            Error::Failed(format!(
                "the wheel built from {} is not at an absolute path ({})",
                project.recorded,
                built.path.display()
            ))
        })?;
        let mut text = format!("{name}{} @ {url}", project.extras);
        if !project.marker.is_empty() {
            text.push_str(" ; ");
            text.push_str(&project.marker);
        }
        let requirement = uv_pep508::Requirement::from_str(&text).map_err(|e| {
            Error::Input(format!(
                "{}: the local project {}: {e}",
                project.origin, project.recorded
            ))
        })?;
        out.requirements.push(SourcedRequirement {
            requirement,
            file: PathBuf::from(&project.origin),
            line: 0,
            hashes: Vec::new(),
        });
        out.recorded.insert(
            name,
            (project.recorded.clone(), project.source_hash.clone()),
        );
    }
    Ok(out)
}

/// At build time: the wheel of each locked local project, by the sha256 the lock records.
/// The directory must still hold the sources the lock was made from.
pub(super) fn wheels_for_build(
    inputs: &Inputs,
    packages: &[LockedPackage],
    ctx: &BuildContext,
    on_event: &dyn Fn(Event),
) -> Result<HashMap<String, PathBuf>, Error> {
    let mut out = HashMap::new();
    for p in packages {
        let Some(hash) = &p.source_hash else {
            continue;
        };
        let dir = inputs.project_root.join(&p.url);
        let project = LocalProject::open(
            &dir,
            &inputs.project_root,
            &format!("{} in the lock", p.name),
        )
        .map_err(Error::Input)?;
        if &project.source_hash != hash {
            return Err(Error::Input(format!(
                "the local project {} ({}) changed since the lock was written\n  run `pylayer lock` to lock its new sources",
                p.url, p.name
            )));
        }
        let built = build_one(&project, ctx, on_event)?;
        out.insert(p.sha256.clone(), built.path);
    }
    Ok(out)
}

/// Takes the local projects out of `all` (they are built, not fetched) and returns their
/// wheels by the sha256 the lock records.
pub(super) fn take_from_fetch(
    rt: &tokio::runtime::Runtime,
    inputs: &Inputs,
    settings: &super::LockSettings,
    all: &mut Vec<LockedPackage>,
    on_event: &dyn Fn(Event),
) -> Result<HashMap<String, PathBuf>, Error> {
    let local: Vec<LockedPackage> = all
        .iter()
        .filter(|p| p.source_hash.is_some())
        .cloned()
        .collect();
    if local.is_empty() {
        return Ok(HashMap::new());
    }
    all.retain(|p| p.source_hash.is_none());
    let cache = CacheDir::resolve(settings.cache_dir.as_deref());
    let client = Arc::new(IndexClient::new(
        crate::http::client()?,
        cache.clone(),
        inputs.index.clone(),
        settings.offline,
    ));
    let ctx = context(
        rt,
        inputs,
        client,
        cache,
        settings.build_interpreter.clone(),
    );
    wheels_for_build(inputs, &local, &ctx, on_event)
}
