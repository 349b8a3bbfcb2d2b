//! The PubGrub dependency provider: candidates from the index, dependencies from core
//! metadata, markers evaluated for the Lambda target.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use pubgrub::{Dependencies, DependencyProvider, PackageResolutionStatistics, Ranges};
use uv_normalize::{ExtraName, PackageName};
use uv_pep440::Version;
use uv_pep508::{MarkerEnvironment, Requirement, VersionOrUrl};

use super::candidates::Candidates;
use super::read_ahead::{Guide, ReadAhead};
use super::{Pin, ResolveError, ResolveInput, Unusable};
use crate::index::{DistFile, IndexClient, MetadataError};
use crate::target::{TagRanking, Target};
use crate::wheel_name::WheelName;

/// A node in the resolution: the user's requirements, a distribution, or a distribution with
/// one extra (which depends on the distribution at the same version).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pkg {
    Root,
    Dist(PackageName),
    Extra(PackageName, ExtraName),
}

impl fmt::Display for Pkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => f.write_str("your requirements"),
            Pkg::Dist(n) => write!(f, "{n}"),
            Pkg::Extra(n, e) => write!(f, "{n}[{e}]"),
        }
    }
}

impl Pkg {
    pub fn name(&self) -> Option<&PackageName> {
        match self {
            Pkg::Root => None,
            Pkg::Dist(n) | Pkg::Extra(n, _) => Some(n),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

pub struct Provider {
    client: Arc<IndexClient>,
    handle: tokio::runtime::Handle,
    pub target: Target,
    env: MarkerEnvironment,
    pre: bool,
    preferences: HashMap<PackageName, Version>,
    /// Versions other targets took, preferred over `preferences`.
    across: HashMap<PackageName, Version>,
    root: Vec<(Pkg, Ranges<Version>)>,
    constraints: HashMap<PackageName, Ranges<Version>>,
    /// Direct references (`name @ url`) replace the index for that name.
    direct: HashMap<PackageName, DistFile>,
    explicit_pre: RefCell<HashSet<PackageName>>,
    /// Versions pinned with `==` anywhere; only these may be yanked releases.
    exact_pins: RefCell<HashSet<(PackageName, Version)>>,
    /// Where the `--hash` values of each package were given, for messages.
    pub hash_origins: HashMap<PackageName, String>,
    candidates: RefCell<HashMap<PackageName, Arc<Candidates>>>,
    /// Pages and metadata fetched ahead of the search (see [`ReadAhead`]).
    read_ahead: Arc<ReadAhead>,
    discovered: RefCell<HashMap<PackageName, usize>>,
    deps_of: RefCell<HashMap<(Pkg, Version), Vec<PackageName>>>,
    /// What each version tried asks of each dependency, for saying who held a package back.
    dep_ranges: RefCell<HashMap<(Pkg, Version), DepRanges>>,
    /// The versions of each package the search has tried, for batch prefetching and
    /// progress. Counted as distinct versions: the search asks again for a version it
    /// already tried (once per extra of the package, after a backtrack), and that is no
    /// walk down its releases.
    tried: RefCell<HashMap<PackageName, HashSet<Version>>>,
    /// Metadata files whose download has been started in the background.
    prefetched: RefCell<HashSet<String>>,
    /// Caps background metadata downloads, so a long backtrack cannot open hundreds at once.
    prefetch_slots: Arc<tokio::sync::Semaphore>,
    /// Versions left out because their metadata cannot be used, with the reason.
    pub unusable: RefCell<BTreeMap<(PackageName, Version), Unusable>>,
    /// Versions whose metadata rules out the target (its Requires-Python), with the reason.
    unavailable: RefCell<HashMap<(PackageName, Version), String>>,
    /// Which packages may be built from source.
    build: super::BuildPolicy,
    /// Builds source distributions (for the target's minor version first).
    builder: Option<crate::source_build::BuildContext>,
    /// Releases whose sdist could not be built into a pure wheel, with the error.
    pub build_failures: RefCell<BTreeMap<(PackageName, Version), crate::source_build::BuildError>>,
    /// Metadata read from wheels built here, by sdist URL.
    built_metadata: RefCell<HashMap<String, Arc<crate::index::CoreMetadata>>>,
}

/// The range a version asks of each of its dependencies.
type DepRanges = Vec<(PackageName, Ranges<Version>)>;

/// Background metadata downloads at once.
const PREFETCH_CONCURRENCY: usize = crate::index::MAX_METADATA_REQUESTS;

fn ranges_of(req: &Requirement) -> Ranges<Version> {
    match &req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => Ranges::from(s.clone()),
        _ => Ranges::full(),
    }
}

/// The version a requirement pins with `==` (not `==1.*`): PEP 592 lets such a pin select a
/// yanked release.
fn exact_pin(req: &Requirement) -> Option<Version> {
    match &req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => s.iter().find_map(|s| {
            matches!(
                s.operator(),
                uv_pep440::Operator::Equal | uv_pep440::Operator::ExactEqual
            )
            .then(|| s.version().clone())
        }),
        _ => None,
    }
}

fn names_prerelease(req: &Requirement) -> bool {
    match &req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => s.iter().any(|s| s.version().any_prerelease()),
        _ => false,
    }
}

impl Provider {
    pub fn new(
        client: Arc<IndexClient>,
        handle: tokio::runtime::Handle,
        target: Target,
        input: &ResolveInput,
    ) -> Result<Self, ResolveError> {
        let env = target.marker_environment();
        let mut root = Vec::new();
        let mut hashes: HashMap<PackageName, Vec<String>> = HashMap::new();
        let mut direct = HashMap::new();
        let mut explicit_pre = HashSet::new();
        let mut exact_pins = HashSet::new();
        let mut hash_origins = HashMap::new();
        for sr in &input.requirements {
            let req = &sr.requirement;
            if !req.evaluate_markers(&env, &[]) {
                continue;
            }
            let mut range = ranges_of(req);
            if let Some(VersionOrUrl::Url(url)) = &req.version_or_url {
                let url_str = url.to_string();
                let filename = url_str
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .split(['#', '?'])
                    .next()
                    .unwrap_or("")
                    .to_string();
                let wheel = WheelName::parse(&filename).map_err(|e| {
                    ResolveError::Other(format!(
                        "{}: {e}; a direct reference must point at a wheel",
                        sr.location()
                    ))
                })?;
                let sha256 = url
                    .fragment()
                    .and_then(|f| f.strip_prefix("sha256="))
                    .map(str::to_string);
                // The lock keeps the URL without user-info; the credentials are found again
                // (from the requirement or netrc) whenever the file is fetched.
                let mut clean = url.to_url().without_credentials().into_owned();
                clean.set_fragment(None);
                range = Ranges::singleton(wheel.version.clone());
                direct.insert(
                    req.name.clone(),
                    DistFile {
                        filename,
                        url: clean.to_string(),
                        sha256,
                        size: None,
                        requires_python: None,
                        yanked: None,
                        metadata: None,
                        source: 0,
                    },
                );
            }
            if let Some(v) = exact_pin(req) {
                exact_pins.insert((req.name.clone(), v));
            }
            if !sr.hashes.is_empty() {
                hash_origins.insert(req.name.clone(), sr.location());
                hashes
                    .entry(req.name.clone())
                    .or_default()
                    .extend(sr.hashes.iter().cloned());
            }
            if names_prerelease(req) {
                explicit_pre.insert(req.name.clone());
            }
            root.push((Pkg::Dist(req.name.clone()), range.clone()));
            for extra in req.extras.iter() {
                root.push((Pkg::Extra(req.name.clone(), extra.clone()), range.clone()));
            }
        }
        let mut constraints: HashMap<PackageName, Ranges<Version>> = HashMap::new();
        for sr in &input.constraints {
            let req = &sr.requirement;
            if !req.evaluate_markers(&env, &[]) {
                continue;
            }
            if names_prerelease(req) {
                explicit_pre.insert(req.name.clone());
            }
            let r = constraints
                .entry(req.name.clone())
                .or_insert_with(Ranges::full);
            *r = r.intersection(&ranges_of(req));
        }
        let ranking = TagRanking::new(&target);
        let mut preferred = input.preferences.clone();
        preferred.extend(input.across.clone());
        let read_ahead = Arc::new(ReadAhead::new(
            client.clone(),
            handle.clone(),
            Guide {
                target,
                ranking,
                env: env.clone(),
                pre: input.pre,
                preferred,
                constraints: constraints.clone(),
                hashes,
                direct: direct.keys().cloned().collect(),
                build: input.build.clone(),
                can_build: input.builder.is_some(),
            },
        ));
        let builder = input.builder.as_ref().map(|b| {
            let mut ctx = (*b.0).clone();
            ctx.preferred_minor = target.minor;
            ctx
        });
        Ok(Provider {
            client,
            handle,
            read_ahead,
            target,
            env,
            pre: input.pre,
            preferences: input.preferences.clone(),
            across: input.across.clone(),
            root,
            constraints,
            direct,
            explicit_pre: RefCell::new(explicit_pre),
            exact_pins: RefCell::new(exact_pins),
            hash_origins,
            candidates: RefCell::default(),
            discovered: RefCell::default(),
            deps_of: RefCell::default(),
            dep_ranges: RefCell::default(),
            tried: RefCell::default(),
            prefetched: RefCell::default(),
            prefetch_slots: Arc::new(tokio::sync::Semaphore::new(PREFETCH_CONCURRENCY)),
            unusable: RefCell::default(),
            unavailable: RefCell::default(),
            builder,
            build: input.build.clone(),
            build_failures: RefCell::default(),
            built_metadata: RefCell::default(),
        })
    }

    /// Records when a package was first seen (the search's order) and starts reading its page
    /// and likely metadata ahead, and its dependencies' (see [`ReadAhead`]).
    fn prefetch(&self, name: &PackageName, range: &Ranges<Version>, extras: &[ExtraName]) {
        {
            let mut d = self.discovered.borrow_mut();
            let n = d.len();
            d.entry(name.clone()).or_insert(n);
        }
        self.read_ahead.start(name, range.clone(), extras);
    }

    pub fn candidates(&self, name: &PackageName) -> Result<Arc<Candidates>, ProviderError> {
        if let Some(c) = self.candidates.borrow().get(name) {
            return Ok(c.clone());
        }
        let files: Arc<Vec<DistFile>> = match self.direct.get(name) {
            Some(f) => Arc::new(vec![f.clone()]),
            None => {
                let client = self.client.clone();
                let n = name.clone();
                self.handle
                    .block_on(async move { client.project(&n).await })
                    .map_err(ProviderError)?
            }
        };
        let c = self.read_ahead.candidates(name, &files);
        self.candidates.borrow_mut().insert(name.clone(), c.clone());
        Ok(c)
    }

    /// The file chosen for a version (yanked files only when the range pins that version).
    fn file_for(&self, name: &PackageName, version: &Version) -> Option<DistFile> {
        let c = self.candidates.borrow().get(name)?.clone();
        // Newest first: binary search (a long backtrack asks for thousands of releases).
        let i = c
            .versions
            .binary_search_by(|v| version.cmp(&v.version))
            .ok()?;
        let cand = &c.versions[i];
        cand.file.clone().or_else(|| cand.yanked.clone())
    }

    /// Core metadata of one version; `Ok(Err(reason))` when the file was read but cannot be
    /// used, which makes that version unusable rather than ending the resolution.
    fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Result<Arc<crate::index::CoreMetadata>, String>, ProviderError> {
        let file = self.file_for(name, version).ok_or_else(|| {
            ProviderError(format!("internal: no file chosen for {name} {version}"))
        })?;
        if super::candidates::is_sdist(&file) {
            return self.sdist_metadata(name, version, &file);
        }
        let client = self.client.clone();
        let f = file.clone();
        match self
            .handle
            .block_on(async move { client.metadata(&f).await })
        {
            Ok(meta) => Ok(Ok(meta)),
            Err(MetadataError::Malformed(why)) => Ok(Err(why)),
            Err(MetadataError::Fetch(why)) => Err(ProviderError(why)),
        }
    }

    /// Metadata of a release the search visits that has only a source distribution: the
    /// sdist is downloaded and built (once per machine: the builder caches), and METADATA is
    /// read from the wheel built. A build that fails makes the release unusable; why is kept
    /// in [`Provider::build_failures`] for the explanation.
    fn sdist_metadata(
        &self,
        name: &PackageName,
        version: &Version,
        file: &DistFile,
    ) -> Result<Result<Arc<crate::index::CoreMetadata>, String>, ProviderError> {
        if let Some(m) = self.built_metadata.borrow().get(&file.url) {
            return Ok(Ok(m.clone()));
        }
        let Some(ctx) = &self.builder else {
            return Ok(Err(format!(
                "{} is a source distribution and building is off",
                file.filename
            )));
        };
        let _task = crate::progress::begin(crate::progress::Task::Resolve(format!(
            "building {name} {version} from source"
        )));
        match crate::source_build::build_dist_file(file, ctx) {
            Ok(built) => {
                let bytes = crate::index::metadata::from_wheel_file(&built.path, &built.filename)
                    .map_err(|e| ProviderError(format!("{e:#}")))?;
                match crate::index::metadata::parse(&bytes, &built.filename) {
                    Ok(m) => {
                        let m = Arc::new(m);
                        self.built_metadata
                            .borrow_mut()
                            .insert(file.url.clone(), m.clone());
                        Ok(Ok(m))
                    }
                    Err(e) => Ok(Err(format!("{e:#}"))),
                }
            }
            Err(e @ crate::source_build::BuildError::NoInterpreter(_)) => Err(ProviderError(
                format!("cannot build {} from source: {e}", file.filename),
            )),
            Err(e) => {
                let why = match &e {
                    crate::source_build::BuildError::NeedsCompiling { detail, .. } => {
                        format!("its source distribution needs compiling ({detail})")
                    }
                    _ => "its source distribution did not build (why: below)".to_string(),
                };
                self.build_failures
                    .borrow_mut()
                    .insert((name.clone(), version.clone()), e);
                Ok(Err(why))
            }
        }
    }

    /// Whether `name`'s source distributions may be built in this resolution.
    pub fn may_build(&self, name: &PackageName) -> bool {
        self.builder.is_some() && self.build.may_build(name)
    }

    /// Records that a version is unusable and returns the reason PubGrub keeps.
    fn unusable(&self, name: &PackageName, version: &Version, reason: String) -> String {
        let filename = self
            .file_for(name, version)
            .map(|f| f.filename)
            .unwrap_or_default();
        let short = format!("its metadata ({filename}) cannot be used: {reason}");
        self.unusable.borrow_mut().insert(
            (name.clone(), version.clone()),
            Unusable {
                name: name.clone(),
                version: version.clone(),
                filename,
                reason,
            },
        );
        short
    }

    /// Starts downloading, in the background, the metadata of the next `count` versions of
    /// `name` the search would try after `after` within `range`: when a package is being
    /// backtracked through, its older releases are read many at a time instead of one by one.
    fn prefetch_versions(
        &self,
        name: &PackageName,
        range: &Ranges<Version>,
        after: &Version,
        count: usize,
        beyond_range: bool,
    ) {
        let Some(cands) = self.candidates.borrow().get(name).cloned() else {
            return;
        };
        let mut prefetched = self.prefetched.borrow_mut();
        // Older releases inside the range first; when the search has already walked through
        // many releases of this package, the next older ones are likely wanted too (the range
        // often shrinks to a few releases at a time, as with boto3 → botocore).
        let below = cands.versions.partition_point(|c| &c.version >= after);
        // Releases under the range's lower bound are never in it: the scan for those in the
        // range stops there (without this bound, a search walking down thousands of
        // releases would rescan all the older ones at every step).
        let floor = match range.bounding_range().map(|(lo, _)| lo) {
            Some(std::ops::Bound::Included(lo)) => {
                cands.versions.partition_point(|c| &c.version >= lo)
            }
            Some(std::ops::Bound::Excluded(lo)) => {
                cands.versions.partition_point(|c| &c.version > lo)
            }
            _ => cands.versions.len(),
        };
        let older = cands.versions[below..].iter();
        let in_range = cands.versions[below..floor.max(below)]
            .iter()
            .filter(|c| range.contains(&c.version));
        let beyond: Box<dyn Iterator<Item = &super::candidates::Candidate>> = if beyond_range {
            Box::new(older.filter(|c| !range.contains(&c.version)))
        } else {
            Box::new(std::iter::empty())
        };
        for c in in_range.chain(beyond).take(count) {
            let Some(file) = &c.file else { continue };
            if super::candidates::is_sdist(file) {
                continue;
            }
            if prefetched.contains(&file.url) {
                continue;
            }
            prefetched.insert(file.url.clone());
            let file = file.clone();
            let client = self.client.clone();
            let slots = self.prefetch_slots.clone();
            self.handle.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let _ = client.metadata(&file).await;
            });
        }
    }

    /// The versions that share the dependencies of `version`: the gap between its nearest
    /// existing neighbours (no other existing version lies inside it).
    pub fn gap_around(&self, package: &Pkg, version: &Version) -> Ranges<Version> {
        let single = Ranges::singleton(version.clone());
        match package
            .name()
            .and_then(|n| self.candidates.borrow().get(n).cloned())
        {
            Some(c) => single.widen_versions(&c.ascending),
            None => single,
        }
    }

    fn constrain(&self, name: &PackageName, range: Ranges<Version>) -> Ranges<Version> {
        match self.constraints.get(name) {
            Some(c) => range.intersection(c),
            None => range,
        }
    }

    /// Turns a Requires-Dist entry of `parent` into resolver edges.
    fn edges(
        &self,
        req: &Requirement,
        out: &mut Vec<(Pkg, Ranges<Version>)>,
    ) -> Result<(), ProviderError> {
        if let Some(VersionOrUrl::Url(url)) = &req.version_or_url {
            return Err(ProviderError(format!(
                "a dependency on {} points at a direct URL ({}), which an index-based layer cannot lock",
                req.name,
                crate::http::redact(url.as_ref())
            )));
        }
        if names_prerelease(req) {
            self.explicit_pre.borrow_mut().insert(req.name.clone());
        }
        if let Some(v) = exact_pin(req) {
            self.exact_pins.borrow_mut().insert((req.name.clone(), v));
        }
        let range = self.constrain(&req.name, ranges_of(req));
        self.prefetch(&req.name, &range, &req.extras);
        out.push((Pkg::Dist(req.name.clone()), range.clone()));
        for extra in req.extras.iter() {
            out.push((Pkg::Extra(req.name.clone(), extra.clone()), range.clone()));
        }
        Ok(())
    }

    /// Builds the final pins from PubGrub's selection.
    pub fn pins(&self, selected: &BTreeMap<Pkg, Version>) -> Result<Vec<super::Pin>, ResolveError> {
        let deps_of = self.deps_of.borrow();
        let mut pins = Vec::new();
        for (pkg, version) in selected {
            let Pkg::Dist(name) = pkg else { continue };
            let file = self.file_for(name, version).ok_or_else(|| {
                ResolveError::Other(format!("internal: no file chosen for {name} {version}"))
            })?;
            let mut deps: Vec<PackageName> = deps_of
                .get(&(pkg.clone(), version.clone()))
                .cloned()
                .unwrap_or_default();
            for (p2, v2) in selected {
                if let Pkg::Extra(n2, _) = p2
                    && n2 == name
                {
                    deps.extend(
                        deps_of
                            .get(&(p2.clone(), v2.clone()))
                            .cloned()
                            .unwrap_or_default(),
                    );
                }
            }
            deps.retain(|d| d != name);
            deps.sort();
            deps.dedup();
            pins.push(Pin {
                name: name.clone(),
                version: version.clone(),
                file,
                dependencies: deps,
            });
        }
        Ok(pins)
    }

    /// For every chosen package whose newest release was not taken: that release and why.
    pub fn held_back(&self, selected: &BTreeMap<Pkg, Version>) -> Vec<super::HeldBack> {
        let mut out = Vec::new();
        for (pkg, chosen) in selected {
            let Pkg::Dist(name) = pkg else { continue };
            let Some(cands) = self.rejections(name) else {
                continue;
            };
            let newest = cands
                .versions
                .iter()
                .map(|c| &c.version)
                .chain(cands.rejected.keys())
                .filter(|v| chosen.any_prerelease() || !v.any_prerelease())
                .max();
            let Some(newest) = newest.filter(|n| *n > chosen).cloned() else {
                continue;
            };
            out.push(super::HeldBack {
                name: name.clone(),
                version: chosen.clone(),
                reason: self.why_not(name, &newest, selected),
                not_taken: newest,
            });
        }
        out
    }

    /// For every chosen package not at the version other targets took
    /// ([`ResolveInput::across`]): that version and why this target cannot have it.
    pub fn differs(&self, selected: &BTreeMap<Pkg, Version>) -> Vec<super::HeldBack> {
        let mut out = Vec::new();
        for (pkg, chosen) in selected {
            let Pkg::Dist(name) = pkg else { continue };
            let Some(wanted) = self.across.get(name).filter(|w| *w != chosen) else {
                continue;
            };
            out.push(super::HeldBack {
                name: name.clone(),
                version: chosen.clone(),
                not_taken: wanted.clone(),
                reason: self.why_not(name, wanted, selected),
            });
        }
        out
    }

    /// Why `version` of `name` is not in `selected`: its files do not fit the target, its
    /// metadata cannot be used, or a requirement rules it out.
    fn why_not(
        &self,
        name: &PackageName,
        version: &Version,
        selected: &BTreeMap<Pkg, Version>,
    ) -> String {
        let Some(cands) = self.rejections(name) else {
            return "the other requirements rule it out".to_string();
        };
        let usable = cands
            .versions
            .iter()
            .any(|c| &c.version == version && c.file.is_some());
        let rejected = (!usable)
            .then(|| cands.rejected.get(version))
            .flatten()
            .and_then(|r| {
                super::explain::reason(
                    r,
                    false,
                    &self.target,
                    self.hash_origins.get(name).map(String::as_str),
                    !self.may_build(name),
                )
            });
        if let Some(r) = rejected {
            return r;
        }
        if !usable && !cands.versions.iter().any(|c| &c.version == version) {
            return format!("{name} {version} is not on the index for this target");
        }
        if let Some(u) = self.unusable.borrow().get(&(name.clone(), version.clone())) {
            return format!("its metadata ({}) cannot be used", u.filename);
        }
        if let Some(why) = self
            .unavailable
            .borrow()
            .get(&(name.clone(), version.clone()))
        {
            return why.clone();
        }
        self.who_excludes(name, version, selected)
    }

    /// Which requirement keeps `version` of `name` out of a selection.
    fn who_excludes(
        &self,
        name: &PackageName,
        version: &Version,
        selected: &BTreeMap<Pkg, Version>,
    ) -> String {
        let tidy = super::explain::tidy;
        if !self.across.contains_key(name)
            && self.preferences.get(name) == selected.get(&Pkg::Dist(name.clone()))
            && self.preferences.contains_key(name)
        {
            return "kept at the version of the existing lock (--upgrade-package to move it)"
                .to_string();
        }
        for (p, r) in &self.root {
            if p == &Pkg::Dist(name.clone()) && !r.contains(version) {
                return tidy(&format!("your requirements ask for {name} {r}"));
            }
        }
        if let Some(c) = self.constraints.get(name)
            && !c.contains(version)
        {
            return tidy(&format!("a constraint limits {name} to {c}"));
        }
        let ranges = self.dep_ranges.borrow();
        for (p, v) in selected {
            if let Some(deps) = ranges.get(&(p.clone(), v.clone()))
                && let Some((_, r)) = deps.iter().find(|(n, r)| n == name && !r.contains(version))
            {
                return tidy(&format!("{p} {v} needs {name} {r}"));
            }
        }
        // The version itself was tried: one of its own dependencies does not fit the rest.
        let own = ranges
            .iter()
            .filter(|((p, v), _)| p == &Pkg::Dist(name.clone()) && v == version)
            .flat_map(|(_, deps)| deps);
        for (dep, r) in own {
            if let Some(chosen) = selected.get(&Pkg::Dist(dep.clone()))
                && !r.contains(chosen)
            {
                return tidy(&format!(
                    "{name} {version} needs {dep} {r}, and {dep} {chosen} is chosen here"
                ));
            }
        }
        "the other requirements rule it out".to_string()
    }

    /// The candidates read for a package: its releases for this target (`ascending`, for
    /// narrowing ranges in messages) and why other files were turned down.
    pub fn rejections(&self, name: &PackageName) -> Option<Arc<Candidates>> {
        self.candidates.borrow().get(name).cloned()
    }

    /// The names the user asked for, in order.
    pub fn root_names(&self) -> impl Iterator<Item = &PackageName> {
        self.root.iter().filter_map(|(p, _)| p.name())
    }
}

impl Provider {
    /// PubGrub's order: packages that conflicted most first, then pinned ones, then in the
    /// order they were discovered.
    pub fn priority(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
        conflicts: u32,
    ) -> (u32, u8, Reverse<usize>) {
        let pinned = u8::from(range.as_singleton().is_some() || matches!(package, Pkg::Extra(..)));
        let order = package
            .name()
            .and_then(|n| self.discovered.borrow().get(n).copied())
            .unwrap_or(usize::MAX);
        (conflicts, pinned, Reverse(order))
    }

    /// The version to try next: the preferred (locked) one when it fits, else the newest.
    pub fn choose(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ProviderError> {
        let (name, extras) = match package {
            Pkg::Root => return Ok(Some(Version::new([0]))),
            Pkg::Dist(n) => (n, Vec::new()),
            Pkg::Extra(n, e) => (n, vec![e.clone()]),
        };
        self.prefetch(name, range, &extras);
        let cands = self.candidates(name)?;
        // A package whose newer sdist did not build (it needs compiling, or its backend
        // cannot be installed) is not built again release by release: python-ldap has dozens
        // of source-only releases, each a compiler run. One attempt per package and target.
        let compiled = self.build_failures.borrow().keys().any(|(n, _)| n == name);
        let usable = |c: &super::candidates::Candidate| {
            range.contains(&c.version)
                && !(compiled && c.file.as_ref().is_some_and(super::candidates::is_sdist))
                && (c.file.is_some()
                    || (c.yanked.is_some()
                        && self
                            .exact_pins
                            .borrow()
                            .contains(&(name.clone(), c.version.clone()))))
        };
        // The version other targets took, then the one of the existing lock.
        for pref in [self.across.get(name), self.preferences.get(name)]
            .into_iter()
            .flatten()
        {
            if let Some(c) = cands.versions.iter().find(|c| &c.version == pref)
                && usable(c)
            {
                return Ok(Some(c.version.clone()));
            }
        }
        let pre_ok = self.pre || self.explicit_pre.borrow().contains(name);
        // Skip the releases above the range at once: while the search walks down thousands
        // of releases, scanning them from the newest each time would be quadratic.
        let start = match range.bounding_range().map(|(_, hi)| hi) {
            Some(std::ops::Bound::Included(hi)) => {
                cands.versions.partition_point(|c| &c.version > hi)
            }
            Some(std::ops::Bound::Excluded(hi)) => {
                cands.versions.partition_point(|c| &c.version >= hi)
            }
            _ => 0,
        };
        let in_scope = &cands.versions[start..];
        let first = in_scope
            .iter()
            .find(|c| usable(c) && (pre_ok || !c.version.any_prerelease()));
        // PEP 440: pre-releases are acceptable when nothing else satisfies the specifier.
        let chosen = first
            .or_else(|| in_scope.iter().find(|c| usable(c)))
            .map(|c| c.version.clone());
        if let Some(v) = &chosen {
            let n = {
                let mut tried = self.tried.borrow_mut();
                let seen = tried.entry(name.clone()).or_default();
                seen.insert(v.clone());
                seen.len()
            };
            crate::progress::event(crate::progress::Event::Tried {
                package: name.to_string(),
                versions: n,
            });
            // From the second version of a package on, the search may be walking down its
            // releases: read the next ones' metadata ahead, doubling with each version tried
            // (4, 8, 16 … 64). A package held back by one release is common and costs three
            // spare downloads; a walk through hundreds reaches 64 at a time within a few steps.
            if n >= 2 {
                let ahead = 1usize << n.min(6);
                self.prefetch_versions(name, range, v, ahead, n >= 4);
            }
        }
        Ok(chosen)
    }

    /// The dependencies of one version, or why that version cannot be used.
    pub fn dependencies(
        &self,
        package: &Pkg,
        version: &Version,
    ) -> Result<Dependencies<Pkg, Ranges<Version>, String>, ProviderError> {
        let mut out: Vec<(Pkg, Ranges<Version>)> = Vec::new();
        match package {
            Pkg::Root => {
                for (p, r) in &self.root {
                    if let Some(n) = p.name() {
                        let r = self.constrain(n, r.clone());
                        let extras = match p {
                            Pkg::Extra(_, e) => vec![e.clone()],
                            _ => Vec::new(),
                        };
                        self.prefetch(n, &r, &extras);
                        out.push((p.clone(), r));
                    }
                }
                return Ok(Dependencies::Available(out.into_iter().collect()));
            }
            Pkg::Dist(name) | Pkg::Extra(name, _) => {
                let meta = match self.metadata(name, version)? {
                    Ok(m) => m,
                    Err(why)
                        if self
                            .build_failures
                            .borrow()
                            .contains_key(&(name.clone(), version.clone())) =>
                    {
                        self.unavailable
                            .borrow_mut()
                            .insert((name.clone(), version.clone()), why.clone());
                        return Ok(Dependencies::Unavailable(why));
                    }
                    Err(why) => {
                        return Ok(Dependencies::Unavailable(self.unusable(name, version, why)));
                    }
                };
                if &meta.name != name || &meta.version != version {
                    let why = format!(
                        "it says it is {} {}, not {name} {version}",
                        meta.name, meta.version
                    );
                    return Ok(Dependencies::Unavailable(self.unusable(name, version, why)));
                }
                if let Some(rp) = &meta.requires_python
                    && let Ok(py) = self.target.python_full_version().parse::<Version>()
                    && !rp.contains(&py)
                {
                    let why = format!(
                        "requires Python {rp}, and the runtime is {}",
                        self.target.runtime_name()
                    );
                    self.unavailable
                        .borrow_mut()
                        .insert((name.clone(), version.clone()), why.clone());
                    return Ok(Dependencies::Unavailable(why));
                }
                let extras: Vec<ExtraName> = match package {
                    Pkg::Extra(_, e) => vec![e.clone()],
                    _ => vec![],
                };
                if let Pkg::Extra(..) = package {
                    out.push((Pkg::Dist(name.clone()), Ranges::singleton(version.clone())));
                }
                for req in &meta.requires_dist {
                    if !req.evaluate_markers(&self.env, &extras) {
                        continue;
                    }
                    if &req.name == name {
                        // `foo[all]` depending on `foo[bar]`: the same version with more extras.
                        for extra in req.extras.iter() {
                            if !extras.contains(extra) {
                                out.push((
                                    Pkg::Extra(name.clone(), extra.clone()),
                                    Ranges::singleton(version.clone()),
                                ));
                            }
                        }
                        continue;
                    }
                    self.edges(req, &mut out)?;
                }
            }
        }
        let names: Vec<PackageName> = out
            .iter()
            .filter_map(|(p, _)| match p {
                Pkg::Dist(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        self.deps_of
            .borrow_mut()
            .insert((package.clone(), version.clone()), names);
        let ranges = out
            .iter()
            .filter_map(|(p, r)| match p {
                Pkg::Dist(n) => Some((n.clone(), r.clone())),
                _ => None,
            })
            .collect();
        self.dep_ranges
            .borrow_mut()
            .insert((package.clone(), version.clone()), ranges);
        Ok(Dependencies::Available(out.into_iter().collect()))
    }
}

/// PubGrub's state API needs the provider's types; the loop in `solver` calls the inherent
/// methods above directly.
impl DependencyProvider for Provider {
    type P = Pkg;
    type V = Version;
    type VS = Ranges<Version>;
    type Priority = (u32, u8, Reverse<usize>);
    type M = String;
    type Err = ProviderError;

    fn prioritize(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        self.priority(package, range, stats.conflict_count())
    }

    fn choose_version(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ProviderError> {
        self.choose(package, range)
    }

    fn get_dependencies(
        &self,
        package: &Pkg,
        version: &Version,
    ) -> Result<Dependencies<Pkg, Ranges<Version>, String>, ProviderError> {
        self.dependencies(package, version)
    }
}
