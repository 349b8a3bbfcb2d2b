//! Upgrade advice: the smallest release that fixes a finding on a target, i.e. the smallest
//! version at or above a fixed-in release that the index has a wheel of for the target (the
//! resolver's candidates and tag ranking decide that) and that the lock's requirements allow.

use std::collections::HashMap;
use std::str::FromStr;

use uv_normalize::PackageName;
use uv_pep440::{Version, VersionSpecifiers};

use super::report::TargetUpgrade;
use crate::index::{IndexClient, IndexConfig};
use crate::lock::Lock;
use crate::resolve::Candidates;
use crate::target::{TagRanking, Target};

/// What upgrade advice needs beyond the findings.
#[derive(Debug, Clone, Default)]
pub struct UpgradeSettings {
    /// Where releases are looked up (the project's indexes).
    pub index: IndexConfig,
    /// Per normalized name: what the project's requirements (and the locked dependents'
    /// `Requires-Dist`) allow, each with where it comes from for messages.
    pub allowed: HashMap<String, Vec<(VersionSpecifiers, String)>>,
    /// The lock audited: the `Requires-Dist` of each finding's locked dependents on the
    /// target bound its upgrade too (an upgrade another pin forbids is no advice).
    pub lock: Option<Lock>,
}

/// What the pins that depend on `name` on `target` require of it, read from their locked
/// wheels' metadata (cached by the lock that chose them). A dependent whose metadata cannot
/// be read bounds nothing.
pub async fn dependent_bounds(
    client: &IndexClient,
    lock: &Lock,
    target: &Target,
    name: &PackageName,
) -> Vec<(VersionSpecifiers, String)> {
    let key = crate::wheel_name::normalize_name(name.as_ref());
    let Some(lt) = lock.target(target) else {
        return Vec::new();
    };
    let env = target.marker_environment();
    let mut out = Vec::new();
    for p in lt.packages.iter().filter(|p| p.dependencies.contains(&key)) {
        let Ok(dep) = PackageName::from_str(&p.name) else {
            continue;
        };
        let Ok(files) = client.project(&dep).await else {
            continue;
        };
        let Some(file) = files.iter().find(|f| f.filename == p.filename) else {
            continue;
        };
        let Ok(meta) = client.metadata(file).await else {
            continue;
        };
        for req in &meta.requires_dist {
            if req.name == *name
                && req.evaluate_markers(&env, &[])
                && let Some(uv_pep508::VersionOrUrl::VersionSpecifier(s)) = &req.version_or_url
            {
                out.push((
                    s.clone(),
                    format!("{} {} (Requires-Dist)", p.name, p.version),
                ));
            }
        }
    }
    out
}

/// Whether `v` is fixed according to `fixed` (ascending): at or above the last fixed release,
/// or at or above an earlier one within that one's release series (a backport branch:
/// fixed in 1.26.18 and 2.0.7 means 1.26.19 is fixed and 2.0.3 is not).
pub fn is_fixed(v: &Version, fixed: &[Version]) -> bool {
    let series = |x: &Version| {
        let r = x.release();
        (
            r.first().copied().unwrap_or(0),
            r.get(1).copied().unwrap_or(0),
        )
    };
    match fixed.last() {
        None => false,
        Some(last) if v >= last => true,
        Some(_) => fixed.iter().any(|f| f <= v && series(f) == series(v)),
    }
}

/// The smallest fixing release of `name` above `installed` for `target`.
pub async fn smallest_fix(
    client: &IndexClient,
    name: &PackageName,
    installed: &Version,
    fixed_in: &[String],
    target: &Target,
    allowed: &[(VersionSpecifiers, String)],
) -> TargetUpgrade {
    let label = target.label();
    let answer = |version: Option<String>, reason: Option<String>| TargetUpgrade {
        target: label.clone(),
        version,
        reason,
    };
    let mut fixed: Vec<Version> = fixed_in.iter().filter_map(|f| f.parse().ok()).collect();
    fixed.sort();
    if fixed.is_empty() {
        return answer(None, Some("no fixed release is known".to_string()));
    }
    let files = match client.project(name).await {
        Ok(f) => f,
        Err(e) => {
            return answer(
                None,
                Some(format!(
                    "fixed in {}; the index could not be read: {e}",
                    fixed_in.join(", ")
                )),
            );
        }
    };
    // Releases with a wheel for the target (the upgrades that install without building).
    let cands = Candidates::build(
        name,
        &files,
        target,
        &TagRanking::new(target),
        None,
        crate::resolve::SdistUse::Never,
    );
    let pre_ok = installed.any_prerelease();
    let fixing: Vec<&Version> = cands
        .ascending
        .iter()
        .filter(|v| *v > installed && (pre_ok || !v.any_prerelease()) && is_fixed(v, &fixed))
        .filter(|v| {
            cands
                .versions
                .iter()
                .any(|c| &c.version == *v && c.file.is_some())
        })
        .collect();
    let fixed_text = fixed_in.join(", ");
    if let Some(v) = fixing
        .iter()
        .find(|v| allowed.iter().all(|(s, _)| s.contains(v)))
    {
        return answer(Some(v.to_string()), None);
    }
    match fixing.first() {
        Some(v) => {
            let blocking: Vec<String> = allowed
                .iter()
                .filter(|(s, _)| !s.contains(v))
                .map(|(s, from)| format!("{from} ({name}{s})"))
                .collect();
            answer(
                None,
                Some(format!(
                    "fixed in {fixed_text}; {v} has a wheel for {} but {} allow(s) no fixing release",
                    target.runtime_name(),
                    blocking.join(", ")
                )),
            )
        }
        None => answer(
            None,
            Some(format!(
                "fixed in {fixed_text}; no release with a wheel for {} ({}) fixes it",
                target.runtime_name(),
                target.arch.lambda_name()
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn backport_branches() {
        let fixed = [v("1.26.18"), v("2.0.7")];
        assert!(is_fixed(&v("1.26.18"), &fixed));
        assert!(is_fixed(&v("1.26.19"), &fixed));
        assert!(!is_fixed(&v("1.26.17"), &fixed));
        assert!(!is_fixed(&v("2.0.3"), &fixed));
        assert!(is_fixed(&v("2.0.7"), &fixed));
        assert!(is_fixed(&v("2.1.0"), &fixed));
        assert!(!is_fixed(&v("2.21.0"), &[]));
        assert!(is_fixed(&v("2.21.0"), &[v("2.20.0")]));
    }
}
