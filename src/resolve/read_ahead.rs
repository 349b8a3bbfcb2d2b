//! Reading ahead of the search: the project page and the metadata of the version a package
//! will most likely get are fetched in the background as soon as the package is known, and
//! when that metadata arrives the same is done for its dependencies, without waiting for the
//! search to reach them.
//!
//! Without this, a cold resolution pays one round trip per level of the dependency tree
//! twice (the page, then the metadata) because a package's dependencies are only known once
//! the search decides it. With it, the whole tree of newest versions is fetched as one wave,
//! as many requests at a time as the index client allows. What the search finally decides is
//! not affected: read-ahead only fills the client's caches, and builds the candidate list of
//! each package once for both itself and the search.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use pubgrub::Ranges;
use uv_normalize::{ExtraName, PackageName};
use uv_pep440::Version;
use uv_pep508::{MarkerEnvironment, VersionOrUrl};

use super::candidates::Candidates;
use crate::index::IndexClient;
use crate::target::{TagRanking, Target};

/// At most this many (package, extras) pairs are read ahead per resolution: read-ahead
/// follows only the newest fitting version of each package, so a real tree stays far below
/// this; the bound keeps a pathological index from making it fetch without end.
const MAX_READ_AHEAD: usize = 2000;

/// What read-ahead needs to guess the version the search will try first, as the search does.
pub struct Guide {
    pub target: Target,
    pub ranking: TagRanking,
    pub env: MarkerEnvironment,
    /// `--pre`: pre-releases as good as releases.
    pub pre: bool,
    /// Versions the search tries first when they fit (other targets', the existing lock's).
    pub preferred: HashMap<PackageName, Version>,
    pub constraints: HashMap<PackageName, Ranges<Version>>,
    /// `--hash` values: only files with these hashes are candidates.
    pub hashes: HashMap<PackageName, Vec<String>>,
    /// Names that come from a direct reference, not from the index.
    pub direct: HashSet<PackageName>,
    /// Which packages may be built from source distributions.
    pub build: super::BuildPolicy,
    /// Whether a builder was given: without one, wheels only.
    pub can_build: bool,
}

impl Guide {
    /// When `name`'s source distributions are candidates.
    pub fn sdist_use(&self, name: &PackageName) -> super::candidates::SdistUse {
        use super::candidates::SdistUse;
        if !self.can_build || !self.build.may_build(name) {
            SdistUse::Never
        } else if self.build.must_build(name) {
            SdistUse::Prefer
        } else {
            SdistUse::WhenNoWheel
        }
    }
}

/// The read-ahead state of one resolution, shared by the search thread and the background
/// tasks.
pub struct ReadAhead {
    client: Arc<IndexClient>,
    handle: tokio::runtime::Handle,
    guide: Guide,
    started: Mutex<HashSet<(PackageName, Vec<ExtraName>)>>,
    built: Mutex<HashMap<PackageName, Arc<Candidates>>>,
}

impl ReadAhead {
    pub fn new(client: Arc<IndexClient>, handle: tokio::runtime::Handle, guide: Guide) -> Self {
        ReadAhead {
            client,
            handle,
            guide,
            started: Mutex::default(),
            built: Mutex::default(),
        }
    }

    /// The candidates of a project, built from its files once per resolution.
    pub fn candidates(
        &self,
        name: &PackageName,
        files: &[crate::index::DistFile],
    ) -> Arc<Candidates> {
        if let Some(c) = self.lock_built().get(name) {
            return c.clone();
        }
        let c = Arc::new(Candidates::build(
            name,
            files,
            &self.guide.target,
            &self.guide.ranking,
            self.guide.hashes.get(name).map(Vec::as_slice),
            self.guide.sdist_use(name),
        ));
        self.lock_built().entry(name.clone()).or_insert(c).clone()
    }

    fn lock_built(&self) -> std::sync::MutexGuard<'_, HashMap<PackageName, Arc<Candidates>>> {
        self.built.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts reading ahead for `name` with `extras`, within `range` (once per pair).
    pub fn start(
        self: &Arc<Self>,
        name: &PackageName,
        range: Ranges<Version>,
        extras: &[ExtraName],
    ) {
        if self.guide.direct.contains(name) {
            return;
        }
        let mut extras = extras.to_vec();
        extras.sort();
        {
            let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
            if started.len() >= MAX_READ_AHEAD || !started.insert((name.clone(), extras.clone())) {
                return;
            }
        }
        let me = self.clone();
        let name = name.clone();
        self.handle
            .spawn(async move { me.run(name, range, extras).await });
    }

    async fn run(
        self: Arc<Self>,
        name: PackageName,
        range: Ranges<Version>,
        extras: Vec<ExtraName>,
    ) {
        let Ok(files) = self.client.project(&name).await else {
            return;
        };
        let cands = self.candidates(&name, &files);
        let range = match self.guide.constraints.get(&name) {
            Some(c) => range.intersection(c),
            None => range,
        };
        let Some(file) = self.likely(&name, &cands, &range) else {
            return;
        };
        let Ok(meta) = self.client.metadata(&file).await else {
            return;
        };
        for req in &meta.requires_dist {
            if req.name == name || !req.evaluate_markers(&self.guide.env, &extras) {
                continue;
            }
            let range = match &req.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(s)) => Ranges::from(s.clone()),
                Some(VersionOrUrl::Url(_)) => continue,
                None => Ranges::full(),
            };
            self.start(&req.name, range, &req.extras);
        }
    }

    /// The file of the version the search will most likely try first: the preferred version
    /// when it fits, else the newest in range (releases before pre-releases).
    fn likely(
        &self,
        name: &PackageName,
        cands: &Candidates,
        range: &Ranges<Version>,
    ) -> Option<crate::index::DistFile> {
        let fits =
            |c: &&super::candidates::Candidate| c.file.is_some() && range.contains(&c.version);
        if let Some(pref) = self.guide.preferred.get(name)
            && let Some(c) = cands
                .versions
                .iter()
                .filter(fits)
                .find(|c| &c.version == pref)
        {
            return c.file.clone().filter(|f| !super::candidates::is_sdist(f));
        }
        let mut usable = cands.versions.iter().filter(fits);
        let first = if self.guide.pre {
            usable.next()
        } else {
            cands
                .versions
                .iter()
                .filter(fits)
                .find(|c| !c.version.any_prerelease())
                .or_else(|| usable.next())
        };
        // A source distribution is built only when the search visits it, never ahead.
        first
            .and_then(|c| c.file.clone())
            .filter(|f| !super::candidates::is_sdist(f))
    }
}
