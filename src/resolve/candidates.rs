//! Which files of a project can go into a layer for a target, grouped by version, with the
//! reason every other file was turned down (for explaining failures).

use std::collections::{BTreeMap, HashMap};

use uv_normalize::PackageName;
use uv_pep440::Version;

use crate::index::{DistFile, sdist_name};
use crate::target::{TagRanking, Target};
use crate::wheel_name::WheelFields;

/// One version of a project and the best file for the target.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub version: Version,
    /// Best installable, non-yanked wheel; or the source distribution to build when the
    /// release has no wheel for the target (or `--no-binary` names the package) and building
    /// is allowed (see [`is_sdist`]).
    pub file: Option<DistFile>,
    /// Whether the release has a wheel for the target (`file` may be its sdist under
    /// `--no-binary`).
    pub has_wheel: bool,
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

/// When source distributions are candidates (from the user's [`super::BuildPolicy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdistUse {
    /// Wheels only (`--no-build`, `--only-binary`, or no builder).
    Never,
    /// A release without a wheel for the target is built from its sdist.
    WhenNoWheel,
    /// `--no-binary`: the sdist is built even when a wheel exists.
    Prefer,
}

/// Whether a candidate file is a source distribution (to be built) rather than a wheel.
pub fn is_sdist(file: &DistFile) -> bool {
    !file.filename.ends_with(".whl")
}

/// Preference among sdists of one release: `.tar.gz` (the standard format) first.
fn sdist_rank(filename: &str) -> usize {
    if filename.ends_with(".tar.gz") {
        0
    } else if filename.ends_with(".zip") {
        1
    } else {
        2
    }
}

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
    pub fn build<'f>(
        name: &PackageName,
        files: &'f [DistFile],
        target: &Target,
        ranking: &TagRanking,
        allowed_hashes: Option<&[String]>,
        sdist_use: SdistUse,
    ) -> Candidates {
        let python = target.python_full_version().parse::<Version>().ok();
        let mut by_version: BTreeMap<Version, (Option<Ranked>, Option<Ranked>)> = BTreeMap::new();
        let mut rejected: BTreeMap<Version, Rejections> = BTreeMap::new();
        let mut sdists: BTreeMap<Version, (usize, usize, DistFile)> = BTreeMap::new();
        // Releases that publish compiled wheels (for any platform): their sdists need a
        // compiler, so they are never built (the wheels' own rejection explains them better).
        let mut compiled: std::collections::BTreeSet<Version> = std::collections::BTreeSet::new();
        let hash_ok = |f: &DistFile| {
            allowed_hashes.is_none_or(|allowed| {
                f.sha256
                    .as_ref()
                    .is_some_and(|h| allowed.iter().any(|a| a == &format!("sha256:{h}")))
            })
        };
        // A page lists thousands of files but few distinct names, versions, tag sets and
        // Requires-Python strings: each is parsed once per page (see `WheelFields`).
        let mut name_is_ours: HashMap<&str, bool> = HashMap::new();
        let mut versions: HashMap<&str, Option<Version>> = HashMap::new();
        let mut ranks: HashMap<&str, Option<usize>> = HashMap::new();
        let mut python_fits: HashMap<&'f str, bool> = HashMap::new();
        let mut fits_python = |rp: &'f str| fits(&mut python_fits, python.as_ref(), rp);
        for f in files {
            let wheel = WheelFields::split(&f.filename).ok().and_then(|w| {
                let ours = *name_is_ours
                    .entry(w.name)
                    .or_insert_with(|| w.name.parse::<PackageName>().is_ok_and(|n| &n == name));
                let version = versions
                    .entry(w.version)
                    .or_insert_with(|| w.version.parse::<Version>().ok())
                    .clone()?;
                Some((w, ours, version))
            });
            let (wheel, version) = match wheel {
                Some((w, true, v)) => (w, v),
                Some((_, false, _)) => continue,
                None => {
                    if sdist_name(&f.filename).as_ref() == Some(name)
                        && let Some(v) = sdist_version(&f.filename)
                    {
                        rejected
                            .entry(v.clone())
                            .or_default()
                            .sdists
                            .push(f.filename.clone());
                        let python_ok = f.requires_python.as_deref().is_none_or(&mut fits_python);
                        let key = (sdist_rank(&f.filename), f.source);
                        if sdist_use != SdistUse::Never
                            && python_ok
                            && f.yanked.is_none()
                            && hash_ok(f)
                            && sdists.get(&v).is_none_or(|(r, s, _)| key < (*r, *s))
                        {
                            sdists.insert(v, (key.0, key.1, f.clone()));
                        }
                    }
                    continue;
                }
            };
            if wheel.is_compiled() && !compiled.contains(&version) {
                compiled.insert(version.clone());
            }
            if let Some(rp) = &f.requires_python
                && !fits_python(rp)
            {
                rejected
                    .entry(version)
                    .or_default()
                    .requires_python
                    .push(rp.clone());
                continue;
            }
            let rank = *ranks
                .entry(wheel.tags)
                .or_insert_with(|| ranking.rank_tags(wheel.python, wheel.abi, wheel.platform));
            let Some(rank) = rank else {
                rejected
                    .entry(version)
                    .or_default()
                    .wrong_platform
                    .push(wheel.tags.to_string());
                continue;
            };
            if let Some(allowed) = allowed_hashes {
                let ok = f
                    .sha256
                    .as_ref()
                    .is_some_and(|h| allowed.iter().any(|a| a == &format!("sha256:{h}")));
                if !ok {
                    rejected
                        .entry(version)
                        .or_default()
                        .hash_mismatch
                        .push(f.filename.clone());
                    continue;
                }
            }
            if f.yanked.is_some() {
                rejected
                    .entry(version.clone())
                    .or_default()
                    .yanked
                    .push(f.yanked.clone().unwrap_or_default());
            }
            let slot = by_version.entry(version).or_default();
            let key = (rank, f.source);
            let target_slot = if f.yanked.is_some() {
                &mut slot.1
            } else {
                &mut slot.0
            };
            if target_slot.as_ref().is_none_or(|(r, s, _)| key < (*r, *s)) {
                *target_slot = Some((rank, f.source, f.clone()));
            }
        }
        let not_found = files.is_empty();
        if sdist_use == SdistUse::WhenNoWheel {
            // The oldest release with a wheel for the target: sdist-only releases before it
            // date from before the project published wheels. Building them only ever serves
            // a long backtrack (every boto3 against a python-dateutil pin would build botocore
            // 0.x releases from 2014 and "solve" with them), so they are left out.
            let oldest_wheel = by_version
                .iter()
                .find(|(_, (file, _))| file.is_some())
                .map(|(v, _)| v.clone());
            sdists.retain(|v, _| {
                !compiled.contains(v) && oldest_wheel.as_ref().is_none_or(|oldest| v > oldest)
            });
        }
        for v in sdists.keys() {
            by_version.entry(v.clone()).or_default();
        }
        let versions: Vec<Candidate> = by_version
            .into_iter()
            .rev()
            .filter_map(|(version, (file, yanked))| {
                let wheel = file.map(|(_, _, f)| f);
                let sdist = sdists.remove(&version).map(|(_, _, f)| f);
                let has_wheel = wheel.is_some();
                let file = match sdist_use {
                    SdistUse::Prefer => sdist.or(wheel),
                    _ => wheel.or(sdist),
                };
                let yanked = yanked.map(|(_, _, f)| f);
                (file.is_some() || yanked.is_some()).then_some(Candidate {
                    version,
                    file,
                    has_wheel,
                    yanked,
                })
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

/// Whether a Requires-Python string admits the target's Python (an unreadable one does),
/// each distinct string parsed once per page.
fn fits<'f>(cache: &mut HashMap<&'f str, bool>, python: Option<&Version>, rp: &'f str) -> bool {
    let Some(py) = python else { return true };
    *cache.entry(rp).or_insert_with(|| {
        crate::index::metadata::parse_requires_python(rp).map_or(true, |spec| spec.contains(py))
    })
}

fn sdist_version(filename: &str) -> Option<Version> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))
        .or_else(|| filename.strip_suffix(".tar.bz2"))
        .or_else(|| filename.strip_suffix(".tgz"))?;
    stem.rsplit_once('-')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Arch;

    fn file(name: &str) -> DistFile {
        DistFile {
            filename: name.into(),
            url: format!("https://example.invalid/{name}"),
            sha256: Some("00".repeat(32)),
            size: None,
            requires_python: None,
            yanked: None,
            metadata: None,
            source: 0,
        }
    }

    fn build(files: &[DistFile], sdist_use: SdistUse) -> Candidates {
        let target = Target::new(12, Arch::X86_64).unwrap();
        let ranking = TagRanking::new(&target);
        let name: PackageName = "pkg".parse().unwrap();
        Candidates::build(&name, files, &target, &ranking, None, sdist_use)
    }

    #[test]
    fn sdists_are_candidates_only_when_building_is_allowed() {
        let files = [
            file("pkg-2.0.zip"),
            file("pkg-2.0.tar.gz"),
            file("pkg-1.0.tar.gz"),
            file("pkg-1.0-py3-none-any.whl"),
        ];
        let never = build(&files, SdistUse::Never);
        let versions: Vec<String> = never
            .versions
            .iter()
            .map(|c| c.version.to_string())
            .collect();
        assert_eq!(versions, ["1.0"]);
        assert_eq!(never.rejected[&"2.0".parse().unwrap()].sdists.len(), 2);

        let when = build(&files, SdistUse::WhenNoWheel);
        let v2 = &when.versions[0];
        assert_eq!(v2.version.to_string(), "2.0");
        // .tar.gz is preferred over .zip.
        assert_eq!(v2.file.as_ref().unwrap().filename, "pkg-2.0.tar.gz");
        assert!(!v2.has_wheel);
        let v1 = &when.versions[1];
        assert_eq!(
            v1.file.as_ref().unwrap().filename,
            "pkg-1.0-py3-none-any.whl"
        );
        assert!(v1.has_wheel);

        let prefer = build(&files, SdistUse::Prefer);
        let v1 = &prefer.versions[1];
        assert_eq!(v1.file.as_ref().unwrap().filename, "pkg-1.0.tar.gz");
        assert!(v1.has_wheel);
        assert!(is_sdist(v1.file.as_ref().unwrap()));
    }

    #[test]
    fn sdists_before_the_first_wheel_and_of_compiled_releases_are_not_built() {
        let files = [
            file("pkg-0.5.tar.gz"),
            file("pkg-1.0.tar.gz"),
            file("pkg-1.0-py3-none-any.whl"),
            file("pkg-1.5.tar.gz"),
            file("pkg-1.5-cp312-cp312-manylinux_2_99_x86_64.whl"),
            file("pkg-2.0.tar.gz"),
        ];
        let when = build(&files, SdistUse::WhenNoWheel);
        let versions: Vec<String> = when
            .versions
            .iter()
            .map(|c| c.version.to_string())
            .collect();
        // 2.0: newer than the first wheel, no wheels at all: built. 1.5: its wheels are
        // compiled (for a glibc the target lacks): not built. 0.5: before the first wheel.
        assert_eq!(versions, ["2.0", "1.0"]);
        // A project that never published wheels builds every release.
        let sdists_only = build(
            &[file("pkg-0.5.tar.gz"), file("pkg-1.0.tar.gz")],
            SdistUse::WhenNoWheel,
        );
        assert_eq!(sdists_only.versions.len(), 2);
        // --no-binary still builds what it names.
        let prefer = build(&files, SdistUse::Prefer);
        assert_eq!(prefer.versions.len(), 4);
    }

    #[test]
    fn sdists_for_another_python_are_not_candidates() {
        let mut f = file("pkg-3.0.tar.gz");
        f.requires_python = Some(">=3.13".into());
        let c = build(&[f], SdistUse::WhenNoWheel);
        assert!(c.versions.is_empty());
    }
}
