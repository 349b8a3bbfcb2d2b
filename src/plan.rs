//! Plan: the list of entries the layer zip will hold, decided before a byte is written.
//!
//! [`plan`] opens the fetched wheels and lists every file they install, under its path in
//! the layer (`python/…` or `python/lib/python3.X/site-packages/…`), plus the `INSTALLER`
//! pylayer writes for each distribution. Each [`Entry`] says where its bytes come from
//! ([`Source`]: an entry of a wheel copied raw, bytes a stage made, or a file on disk), its
//! [`Mode`] and the distribution it belongs to. Nothing is extracted: a wheel entry is only
//! its position in the wheel and its compressed size.
//!
//! # Extending the plan (where a new stage goes)
//!
//! Stages run between [`plan`] and [`crate::assemble::write`] and change the [`Plan`]:
//!
//! - add files (bytecode): read a source with [`Plan::read`], then
//!   [`Plan::add`]`(path, Entry::generated(bytes, Some(dist)))` — or [`Source::File`] for a
//!   file already on disk;
//! - filter (slimming): [`Plan::retain`] or [`Plan::remove`];
//! - rewrite (stripping): [`Plan::read`] the entry, then set [`Plan::get_mut`]`(path).source`
//!   to [`Source::Bytes`] of the new content.
//!
//! Nothing else needs to follow: `write` derives each distribution's `RECORD` from the final
//! plan (hash and size of every entry that belongs to it, whatever its source), copies
//! unchanged wheel entries raw and compresses only generated ones, and its report — which
//! the manifest is built from — counts the entries actually written.

mod wheel;

#[cfg(test)]
pub(crate) mod test_wheels;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;

use crate::domain::INSTALLER_TOOLING;
use crate::lock::LockedPackage;
use crate::target::Target;
use crate::wheel_name::normalize_name;
use wheel::OpenWheel;

/// What pylayer writes into every `*.dist-info/INSTALLER`, as pip writes `pip`.
pub const INSTALLER_CONTENT: &[u8] = b"pylayer\n";

/// Where the packages go inside the layer zip. Lambda puts both on `sys.path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `python/…`: the shortest paths, what AWS's guide shows.
    Python,
    /// `python/lib/python3.X/site-packages/…`: version-specific, like a venv.
    SitePackages,
}

impl Layout {
    /// The name used in flags, `pylayer.toml` and the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Python => "python",
            Layout::SitePackages => "site-packages",
        }
    }

    /// The directory in the zip that plays the role of site-packages, with a trailing `/`.
    pub fn prefix(self, target: &Target) -> String {
        match self {
            Layout::Python => "python/".to_string(),
            Layout::SitePackages => {
                format!(
                    "python/lib/python{}/site-packages/",
                    target.python_version()
                )
            }
        }
    }
}

impl FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "python" => Ok(Layout::Python),
            "site-packages" | "site_packages" => Ok(Layout::SitePackages),
            other => Err(format!(
                "unknown layout `{other}`: use `python` (python/…) or `site-packages` (python/lib/python3.X/site-packages/…)"
            )),
        }
    }
}

/// How to plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub layout: Layout,
    /// Normalized names the user asked for explicitly: installer tooling (pip, setuptools,
    /// wheel) is left out unless listed here.
    pub keep: Vec<String>,
    /// Paths two distributions both install, accepted with the distribution whose copy
    /// goes into the layer (pip and uv let the last one installed win, silently).
    pub overwrite: Vec<Overwrite>,
}

/// `PATH=DIST`: two distributions install `PATH` (relative to site-packages, as RECORD lists
/// it) with different contents, and `DIST`'s copy is the one the layer keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overwrite {
    pub path: String,
    /// Normalized distribution name.
    pub winner: String,
}

impl FromStr for Overwrite {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.rsplit_once('=') {
            Some((path, dist)) if !path.trim().is_empty() && !dist.trim().is_empty() => {
                Ok(Overwrite {
                    path: path.trim().trim_start_matches('/').to_string(),
                    winner: normalize_name(dist.trim()),
                })
            }
            _ => Err(format!(
                "`{s}` is not PATH=DISTRIBUTION: write the path as the clash names it, relative to site-packages, and the distribution whose copy the layer keeps, e.g. `build_backend.py=flashinfer-python`"
            )),
        }
    }
}

/// One distribution of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    pub name: String,
    pub version: String,
    /// The wheel it came from.
    pub filename: String,
    /// Wheel tag triple, `cp312-cp312-manylinux_2_17_x86_64`.
    pub tag: String,
    /// Its `.dist-info` directory, relative to the layout's prefix.
    pub dist_info: String,
}

/// File permissions in the zip: only two, so the layer does not depend on the host's umask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0644.
    File,
    /// 0755.
    Executable,
}

impl Mode {
    /// The full unix mode written in the zip's external attributes.
    pub fn unix_mode(self) -> u32 {
        match self {
            Mode::File => 0o100644,
            Mode::Executable => 0o100755,
        }
    }
}

/// An entry of a wheel, copied into the layer with its compressed bytes untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelEntry {
    /// Its path inside the wheel.
    pub name: String,
    /// Uncompressed size.
    pub size: u64,
    /// `sha256=…` as the wheel's RECORD lists it; `None` when it lists no hash.
    pub record_hash: Option<String>,
    pub(crate) index: usize,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) compressed_size: u64,
}

/// Where an entry's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An entry of the wheel of the entry's distribution (raw copy).
    Wheel(WheelEntry),
    /// Bytes a stage made (INSTALLER, a stripped library), compressed on write.
    Bytes(Vec<u8>),
    /// An entry of another zip made by a stage and kept in the cache (bytecode), copied raw
    /// like a wheel entry: a warm build neither recompiles nor recompresses it.
    Archive { archive: PathBuf, entry: WheelEntry },
    /// A file on disk, read and compressed on write.
    File(PathBuf),
}

/// One file of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub source: Source,
    pub mode: Mode,
    /// Index into [`Plan::dists`] of the distribution that installs it, whose RECORD lists
    /// it and whose sizes count it; `None` for a file that belongs to no distribution.
    pub dist: Option<usize>,
    /// Other distributions that install the very same file (a namespace package's shared
    /// `__init__.py`): their RECORD lists it too, their sizes do not count it.
    pub shared_with: Vec<usize>,
}

impl Entry {
    /// A regular file made of `bytes`, belonging to `dist`.
    pub fn generated(bytes: Vec<u8>, dist: Option<usize>) -> Entry {
        Entry {
            source: Source::Bytes(bytes),
            mode: Mode::File,
            dist,
            shared_with: Vec::new(),
        }
    }
}

/// The layer to write: its distributions and entries, sorted by path in the zip.
pub struct Plan {
    prefix: String,
    dists: Vec<Dist>,
    /// Parallel to `dists`: the wheel each one came from.
    wheels: Vec<OpenWheel>,
    entries: BTreeMap<String, Entry>,
    /// Human notes about what was left out, e.g. "left out 3 script(s) of black (*.data/scripts)".
    pub notes: Vec<String>,
}

impl Plan {
    /// The directory in the zip that plays the role of site-packages (`python/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The distributions, sorted by name.
    pub fn dists(&self) -> &[Dist] {
        &self.dists
    }

    /// Every entry with its path in the zip, in the order they will be written.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(p, e)| (p.as_str(), e))
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// For a stage that rewrites an entry in place (new source or mode).
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Entry> {
        self.entries.get_mut(path)
    }

    /// Adds an entry at `path` (the full path in the zip). Refuses a path already planned,
    /// one that could escape the layer when extracted, a distribution's RECORD (write
    /// derives it) and a distribution index that does not exist.
    pub fn add(&mut self, path: String, entry: Entry) -> anyhow::Result<()> {
        wheel::check_entry_name(&path).map_err(|why| anyhow::anyhow!("{path}: {why}"))?;
        if let Some(d) = entry
            .dist
            .iter()
            .chain(&entry.shared_with)
            .find(|d| **d >= self.dists.len())
        {
            anyhow::bail!("{path}: no distribution {d} in the plan");
        }
        if (0..self.dists.len()).any(|d| self.record_path(d) == path) {
            anyhow::bail!("{path}: a RECORD is derived from the plan when it is written");
        }
        if self.entries.contains_key(&path) {
            anyhow::bail!("{path} is already in the layer");
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// Removes the entry at `path`, returning it.
    pub fn remove(&mut self, path: &str) -> Option<Entry> {
        self.entries.remove(path)
    }

    /// Keeps only the entries for which `keep(path, entry)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Entry) -> bool) {
        self.entries.retain(|p, e| keep(p, e));
    }

    /// The uncompressed content of the entry at `path`.
    pub fn read(&mut self, path: &str) -> anyhow::Result<Vec<u8>> {
        let entry = self
            .entries
            .get(path)
            .with_context(|| format!("{path} is not in the layer"))?;
        match (&entry.source, entry.dist) {
            (Source::Bytes(b), _) => Ok(b.clone()),
            (Source::File(f), _) => {
                std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))
            }
            (Source::Wheel(w), Some(d)) => {
                let wheel = &mut self.wheels[d];
                let what = wheel.at(&w.name);
                let f = wheel
                    .archive
                    .by_index(w.index)
                    .with_context(|| format!("cannot read {what}"))?;
                let mut out = Vec::with_capacity(w.size as usize);
                f.take(w.size)
                    .read_to_end(&mut out)
                    .with_context(|| format!("cannot decompress {what}"))?;
                Ok(out)
            }
            (Source::Wheel(w), None) => {
                anyhow::bail!("{path}: wheel entry {} belongs to no distribution", w.name)
            }
            (Source::Archive { archive, entry }, _) => {
                let what = format!("{}: {}", archive.display(), entry.name);
                let file = std::fs::File::open(archive)
                    .with_context(|| format!("cannot open {}", archive.display()))?;
                let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
                    .with_context(|| format!("{} is not a valid zip", archive.display()))?;
                let f = zip
                    .by_index(entry.index)
                    .with_context(|| format!("cannot read {what}"))?;
                let mut out = Vec::with_capacity(entry.size as usize);
                f.take(entry.size)
                    .read_to_end(&mut out)
                    .with_context(|| format!("cannot decompress {what}"))?;
                Ok(out)
            }
        }
    }

    /// Path in the zip of the RECORD of distribution `dist`.
    pub fn record_path(&self, dist: usize) -> String {
        format!("{}{}/RECORD", self.prefix, self.dists[dist].dist_info)
    }

    /// The pieces `write` consumes.
    pub(crate) fn into_parts(self) -> PlanParts {
        PlanParts {
            dists: self.dists,
            wheels: self.wheels,
            entries: self.entries,
            notes: self.notes,
        }
    }
}

/// A plan taken apart for writing.
pub(crate) struct PlanParts {
    pub dists: Vec<Dist>,
    pub wheels: Vec<OpenWheel>,
    pub entries: BTreeMap<String, Entry>,
    pub notes: Vec<String>,
}

/// Plans the layer from already fetched (hash-checked) wheels: every file they install, the
/// INSTALLER of each, installer tooling left out unless kept. The result is independent of
/// the order of `wheels`.
pub fn plan(
    wheels: &[(LockedPackage, PathBuf)],
    target: &Target,
    opts: &PlanOptions,
) -> anyhow::Result<Plan> {
    let prefix = opts.layout.prefix(target);
    let keep: Vec<String> = opts.keep.iter().map(|k| normalize_name(k)).collect();
    let mut notes = Vec::new();

    // Order by name first, so everything after (which copy of a shared file wins, notes,
    // the report) is independent of the order the caller passed.
    let mut order: Vec<&(LockedPackage, PathBuf)> = wheels.iter().collect();
    order.sort_by(|a, b| {
        (&a.0.name, &a.0.version, &a.0.filename).cmp(&(&b.0.name, &b.0.version, &b.0.filename))
    });
    for pair in order.windows(2) {
        if normalize_name(&pair[0].0.name) == normalize_name(&pair[1].0.name) {
            anyhow::bail!(
                "two wheels for distribution {}: {} and {}; a layer can hold only one version",
                pair[0].0.name,
                pair[0].0.filename,
                pair[1].0.filename
            );
        }
    }

    let mut opened: Vec<OpenWheel> = Vec::new();
    for (pkg, path) in order {
        let name = normalize_name(&pkg.name);
        if INSTALLER_TOOLING.contains(&name.as_str()) && !keep.contains(&name) {
            notes.push(format!(
                "left out {} {} (installer tooling; list it explicitly to keep it)",
                pkg.name, pkg.version
            ));
            continue;
        }
        opened.push(OpenWheel::open(pkg, path)?);
    }

    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut dists: Vec<Dist> = Vec::with_capacity(opened.len());
    for wi in 0..opened.len() {
        let planned = wheel::plan_wheel(&mut opened[wi], wi, &keep, &mut notes)?;
        let w = &opened[wi];
        dists.push(Dist {
            name: w.pkg.name.clone(),
            version: w.pkg.version.clone(),
            filename: w.pkg.filename.clone(),
            tag: w.tag.clone(),
            dist_info: planned.dist_info,
        });
        for (rel, entry) in planned.entries {
            let path = format!("{prefix}{rel}");
            let rel = relative_to(&prefix, &path);
            if let Some(existing) = entries.get_mut(&path) {
                if wheel::same_content(&mut opened, existing, &entry)? {
                    existing.shared_with.push(wi);
                    continue;
                }
                let owner = existing.dist.unwrap_or(wi);
                let (a, b) = (&opened[owner].pkg, &opened[wi].pkg);
                if owner == wi {
                    anyhow::bail!(
                        "{} ({}) installs two different files to {path}",
                        a.name,
                        a.filename
                    );
                }
                let winner = opts
                    .overwrite
                    .iter()
                    .find(|o| o.path == rel || o.path == path)
                    .map(|o| o.winner.as_str());
                let (an, bn) = (normalize_name(&a.name), normalize_name(&b.name));
                match winner {
                    Some(w) if w == an || w == bn => {
                        let (kept, dropped) = if w == an { (a, b) } else { (b, a) };
                        notes.push(format!(
                            "{rel}: kept {} {}'s copy over {} {}'s (overwrite setting)",
                            kept.name, kept.version, dropped.name, dropped.version
                        ));
                        if w == bn {
                            *existing = entry;
                        }
                        continue;
                    }
                    _ => {}
                }
                anyhow::bail!(
                    "{} {} and {} {} both install {rel} (in the layer: {path}) with different contents; pip and uv would let the one installed last overwrite the other. If that is fine, say which copy the layer keeps: `--overwrite {rel}={}` (or overwrite = [\"{rel}={}\"] in pylayer.toml); otherwise leave one of them out",
                    a.name,
                    a.version,
                    b.name,
                    b.version,
                    a.name,
                    a.name
                );
            }
            entries.insert(path, entry);
        }
    }
    Ok(Plan {
        prefix,
        dists,
        wheels: opened,
        entries,
        notes,
    })
}

/// A path in the zip relative to `prefix` (site-packages), as RECORD lists it: `../…` for a
/// file outside it (`python/lib/…` from `python/lib/python3.X/site-packages/`).
pub(crate) fn relative_to(prefix: &str, path: &str) -> String {
    if let Some(rel) = path.strip_prefix(prefix) {
        return rel.to_string();
    }
    let base: Vec<&str> = prefix.split('/').filter(|c| !c.is_empty()).collect();
    let target: Vec<&str> = path.split('/').collect();
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; base.len() - common];
    parts.extend(&target[common..]);
    parts.join("/")
}
