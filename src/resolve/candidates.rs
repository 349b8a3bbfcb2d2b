//! Which files of a project can go into a layer for a target, grouped by version, with the
//! reason every other file was turned down (for explaining failures).

use std::collections::BTreeMap;

use uv_normalize::PackageName;
use uv_pep440::Version;

use crate::index::{DistFile, sdist_name};
use crate::target::{TagRanking, Target};
use crate::wheel_name::WheelName;

/// One version of a project and the best file for the target.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub version: Version,
    /// Best installable, non-yanked wheel.
    pub file: Option<DistFile>,
    /// Best installable wheel when every installable one is yanked.
    pub yanked: Option<DistFile>,
}

/// Why files of one version were turned down.
#[derive(Debug, Clone, Default)]
pub struct Rejections {
    pub sdists: Vec<String>,
    pub wrong_platform: Vec<String>,
    pub requires_python: Vec<String>,
    pub hash_mismatch: Vec<String>,
    pub yanked: Vec<String>,
}

/// A file with its tag rank and source index (lower is better for both).
type Ranked = (usize, usize, DistFile);

/// All versions of a project, newest first.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    pub versions: Vec<Candidate>,
    pub rejected: BTreeMap<Version, Rejections>,
    /// True when no source listed the project at all.
    pub not_found: bool,
    /// The versions in `versions`, oldest first: the releases that exist for this target,
    /// for widening and narrowing version ranges.
    pub ascending: Vec<Version>,
}

impl Candidates {
    pub fn build(
        name: &PackageName,
        files: &[DistFile],
        target: &Target,
        ranking: &TagRanking,
        allowed_hashes: Option<&[String]>,
    ) -> Candidates {
        let python = target.python_full_version().parse::<Version>().ok();
        let mut by_version: BTreeMap<Version, (Option<Ranked>, Option<Ranked>)> = BTreeMap::new();
        let mut rejected: BTreeMap<Version, Rejections> = BTreeMap::new();
        for f in files {
            let wheel = match WheelName::parse(&f.filename) {
                Ok(w) if &w.name == name => w,
                Ok(_) => continue,
                Err(_) => {
                    if sdist_name(&f.filename).as_ref() == Some(name)
                        && let Some(v) = sdist_version(&f.filename)
                    {
                        rejected
                            .entry(v)
                            .or_default()
                            .sdists
                            .push(f.filename.clone());
                    }
                    continue;
                }
            };
            let rej = || wheel.version.clone();
            if let (Some(rp), Some(py)) = (&f.requires_python, &python)
                && let Ok(spec) = crate::index::metadata::parse_requires_python(rp)
                && !spec.contains(py)
            {
                rejected
                    .entry(rej())
                    .or_default()
                    .requires_python
                    .push(rp.clone());
                continue;
            }
            let Some(rank) = ranking.rank(&wheel) else {
                rejected
                    .entry(rej())
                    .or_default()
                    .wrong_platform
                    .push(wheel.tag());
                continue;
            };
            if let Some(allowed) = allowed_hashes {
                let ok = f
                    .sha256
                    .as_ref()
                    .is_some_and(|h| allowed.iter().any(|a| a == &format!("sha256:{h}")));
                if !ok {
                    rejected
                        .entry(rej())
                        .or_default()
                        .hash_mismatch
                        .push(f.filename.clone());
                    continue;
                }
            }
            let slot = by_version.entry(wheel.version.clone()).or_default();
            let key = (rank, f.source);
            let target_slot = if f.yanked.is_some() {
                rejected
                    .entry(rej())
                    .or_default()
                    .yanked
                    .push(f.yanked.clone().unwrap_or_default());
                &mut slot.1
            } else {
                &mut slot.0
            };
            if target_slot.as_ref().is_none_or(|(r, s, _)| key < (*r, *s)) {
                *target_slot = Some((rank, f.source, f.clone()));
            }
        }
        let not_found = files.is_empty();
        let versions: Vec<Candidate> = by_version
            .into_iter()
            .rev()
            .map(|(version, (file, yanked))| Candidate {
                version,
                file: file.map(|(_, _, f)| f),
                yanked: yanked.map(|(_, _, f)| f),
            })
            .collect();
        let ascending = versions.iter().rev().map(|c| c.version.clone()).collect();
        Candidates {
            versions,
            rejected,
            not_found,
            ascending,
        }
    }
}

fn sdist_version(filename: &str) -> Option<Version> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))
        .or_else(|| filename.strip_suffix(".tar.bz2"))
        .or_else(|| filename.strip_suffix(".tgz"))?;
    stem.rsplit_once('-')?.1.parse().ok()
}
