//! Dependencies: every installed distribution's `Requires-Dist`, with markers evaluated for
//! the Lambda runtime (and the extras other distributions ask for), must be satisfied by a
//! distribution in the layer at a matching version — or, with a warning, by the copy of the
//! boto3 family the runtime ships. Also: two versions of one distribution, files claimed
//! by two distributions, and installer tooling nobody needs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use uv_normalize::ExtraName;
use uv_pep440::Version;
use uv_pep508::{Requirement, VersionOrUrl};

use super::report::Finding;
use crate::domain::{INSTALLER_TOOLING, runtime_provides_distribution};
use crate::layer::dists::Dist;
use crate::target::Target;
use crate::wheel_name::normalize_name;

/// Most extras-propagation rounds; each round can only add extras, so this bounds a
/// pathological metadata graph.
const MAX_ROUNDS: usize = 16;

pub fn check(dists: &[Dist], target: &Target) -> Vec<Finding> {
    let mut out = Vec::new();
    let env = target.marker_environment();
    let mut by_key: BTreeMap<&str, Vec<&Dist>> = BTreeMap::new();
    for d in dists {
        by_key.entry(d.key.as_str()).or_default().push(d);
    }

    // Two versions of one distribution.
    for (key, group) in &by_key {
        if group.len() > 1 {
            let list: Vec<String> = group
                .iter()
                .map(|d| format!("{} ({})", d.version, d.dist_info))
                .collect();
            out.push(
                Finding::error(
                    "duplicate-distribution",
                    format!(
                        "{key} is installed {} times: {}; their files overwrite each other and which version imports is an accident",
                        group.len(),
                        list.join(", ")
                    ),
                    "rebuild the layer from one set of pinned requirements (`pylayer build`), or delete the older .dist-info and its files",
                )
                .at(group[0].dist_info.clone())
                .in_dist(Some(group[0].label())),
            );
        }
    }

    // Parse every Requires-Dist once; unparseable ones are reported.
    let mut reqs: Vec<Vec<Requirement>> = Vec::with_capacity(dists.len());
    for d in dists {
        let mut parsed = Vec::new();
        for raw in &d.requires {
            match Requirement::from_str(raw) {
                Ok(r) => parsed.push(r),
                Err(e) => out.push(
                    Finding::warning(
                        "bad-metadata",
                        format!("cannot parse `Requires-Dist: {raw}`: {e}"),
                        "this dependency was not checked; reinstall the distribution from its wheel",
                    )
                    .at(format!("{}/METADATA", d.dist_info))
                    .in_dist(Some(d.label())),
                ),
            }
        }
        reqs.push(parsed);
    }

    // Extras each distribution is asked for, propagated to a fixpoint.
    let mut extras: HashMap<String, BTreeSet<ExtraName>> = HashMap::new();
    for _ in 0..MAX_ROUNDS {
        let mut changed = false;
        for (i, d) in dists.iter().enumerate() {
            let mine: Vec<ExtraName> = extras
                .get(&d.key)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            for r in &reqs[i] {
                if !r.evaluate_markers(&env, &mine) {
                    continue;
                }
                let set = extras.entry(normalize_name(r.name.as_ref())).or_default();
                for x in r.extras.iter() {
                    changed |= set.insert(x.clone());
                }
            }
        }
        if !changed {
            break;
        }
    }

    // Each requirement against what is installed.
    let mut required: BTreeSet<String> = BTreeSet::new();
    for (i, d) in dists.iter().enumerate() {
        let mine: Vec<ExtraName> = extras
            .get(&d.key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let metadata = format!("{}/METADATA", d.dist_info);
        for r in &reqs[i] {
            if !r.evaluate_markers(&env, &mine) {
                continue;
            }
            let key = normalize_name(r.name.as_ref());
            if key == d.key {
                continue; // `foo[all]` requiring `foo[bar]`
            }
            required.insert(key.clone());
            let shown = requirement_text(r);
            let Some(found) = by_key.get(key.as_str()) else {
                if runtime_provides_distribution(&key) {
                    out.push(
                        Finding::warning(
                            "runtime-provided",
                            format!(
                                "{} requires `{shown}`, which is not in the layer: it will use the copy {} ships, whose version changes with runtime updates",
                                d.name,
                                target.runtime_name()
                            ),
                            format!("add {} to the layer's requirements to pin the version you tested with", r.name),
                        )
                        .at(metadata.clone())
                        .in_dist(Some(d.label())),
                    );
                } else {
                    out.push(
                        Finding::error(
                            "missing-dependency",
                            format!(
                                "{} requires `{shown}`, which is not in the layer: importing {} fails with `ModuleNotFoundError`",
                                d.name, d.name
                            ),
                            format!(
                                "add {} to the layer (`pylayer build` installs dependencies), or rebuild from complete requirements",
                                r.name
                            ),
                        )
                        .at(metadata.clone())
                        .in_dist(Some(d.label())),
                    );
                }
                continue;
            };
            if let Some(VersionOrUrl::VersionSpecifier(spec)) = &r.version_or_url {
                for dep in found {
                    let ok = Version::from_str(&dep.version).is_ok_and(|v| spec.contains(&v));
                    if !ok {
                        out.push(
                            Finding::error(
                                "dependency-version",
                                format!(
                                    "{} requires `{shown}`, but the layer has {} {}",
                                    d.name, dep.name, dep.version
                                ),
                                format!(
                                    "install a version of {} that matches `{spec}` (rebuild the layer from one resolution: `pylayer build`)",
                                    dep.name
                                ),
                            )
                            .at(metadata.clone())
                            .in_dist(Some(d.label())),
                        );
                    }
                }
            }
        }
    }

    // Installer tooling nothing needs.
    for d in dists {
        if INSTALLER_TOOLING.contains(&d.key.as_str()) && !required.contains(&d.key) {
            out.push(
                Finding::warning(
                    "installer-tooling",
                    format!("{} is installer tooling; nothing in the layer requires it, so it only takes space (a venv's site-packages copied as is?)", d.label()),
                    format!("remove {} and its .dist-info from the layer (`pylayer build` leaves it out)", d.name),
                )
                .at(d.dist_info.clone())
                .in_dist(Some(d.label())),
            );
        }
    }

    // Files claimed by two distributions.
    let mut claims: HashMap<&str, Vec<&Dist>> = HashMap::new();
    for d in dists {
        for f in &d.files {
            claims.entry(f.as_str()).or_default().push(d);
        }
    }
    let mut shared: Vec<(&str, Vec<&Dist>)> = claims
        .into_iter()
        .filter(|(_, v)| v.len() > 1 && v.iter().any(|d| d.key != v[0].key))
        .collect();
    shared.sort_by(|a, b| a.0.cmp(b.0));
    for (path, owners) in shared {
        let names: Vec<String> = owners.iter().map(|d| d.label()).collect();
        out.push(
            Finding::warning(
                "file-conflict",
                format!("claimed by {} distributions ({}); the one installed last overwrote the other's copy", names.len(), names.join(", ")),
                "check that the distributions are meant to coexist (one may be a renamed fork of the other) and keep one",
            )
            .at(path.to_string())
            .in_dist(Some(names[0].clone())),
        );
    }
    out
}

/// `pydantic-core==2.33.2` (without the marker, which has already been evaluated).
fn requirement_text(r: &Requirement) -> String {
    let mut s = r.name.to_string();
    if !r.extras.is_empty() {
        let xs: Vec<String> = r.extras.iter().map(|x| x.to_string()).collect();
        s.push_str(&format!("[{}]", xs.join(",")));
    }
    match &r.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(v)) => s.push_str(&v.to_string()),
        Some(VersionOrUrl::Url(u)) => s.push_str(&format!(" @ {u}")),
        None => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Arch;

    fn dist(name: &str, version: &str, requires: &[&str]) -> Dist {
        Dist {
            name: name.into(),
            key: normalize_name(name),
            version: version.into(),
            dist_info: format!("python/{}-{version}.dist-info", name.replace('-', "_")),
            root: "python/".into(),
            requires: requires.iter().map(|s| s.to_string()).collect(),
            files: vec![format!("python/{}/__init__.py", name.replace('-', "_"))],
            top_level: Vec::new(),
            tags: Vec::new(),
        }
    }

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code).collect()
    }

    #[test]
    fn markers_extras_and_versions() {
        let t = Target::new(12, Arch::X86_64).unwrap();
        let dists = vec![
            dist(
                "pydantic",
                "2.11.7",
                &[
                    "pydantic-core==2.33.2",
                    "typing-extensions>=4.12.2",
                    "email-validator>=2; extra == 'email'",
                    "tzdata; sys_platform == 'win32'",
                    "exceptiongroup; python_version < '3.11'",
                ],
            ),
            dist("typing-extensions", "4.14.0", &[]),
            dist(
                "requests",
                "2.32.4",
                &[
                    "urllib3<3,>=1.21.1",
                    "idna",
                    "PySocks>=1.5.6,!=1.5.7; extra == 'socks'",
                ],
            ),
            dist("idna", "3.10", &[]),
            dist("app", "1", &["requests[socks]"]),
        ];
        let f = check(&dists, &t);
        let missing: Vec<_> = f
            .iter()
            .filter(|f| f.code == "missing-dependency")
            .collect();
        assert_eq!(missing.len(), 2, "{f:#?}");
        assert!(missing.iter().any(|m| {
            m.message
                .starts_with("pydantic requires `pydantic-core==2.33.2`")
        }));
        // requests[socks] is asked for by app, so PySocks is required.
        assert!(
            missing.iter().any(|m| m.message.contains("pysocks>=1.5.6")),
            "{missing:#?}"
        );
        assert_eq!(missing[0].distribution.as_deref(), Some("pydantic 2.11.7"));
        assert_eq!(
            codes(&f)
                .iter()
                .filter(|c| **c == "runtime-provided")
                .count(),
            1,
            "{f:#?}"
        );
    }

    #[test]
    fn version_mismatch_duplicates_and_conflicts() {
        let t = Target::new(11, Arch::X86_64).unwrap();
        let mut a = dist("a", "1.0", &["b>=2"]);
        let b1 = dist("b", "1.5", &[]);
        let mut b2 = dist("B", "2.0", &[]);
        b2.dist_info = "python/B-2.0.dist-info".into();
        a.files.push("python/b/__init__.py".into());
        let pip = dist("pip", "25.0", &[]);
        let f = check(&[a, b1, b2, pip], &t);
        let c = codes(&f);
        assert!(c.contains(&"duplicate-distribution"), "{f:#?}");
        assert_eq!(
            c.iter().filter(|c| **c == "dependency-version").count(),
            1,
            "{f:#?}"
        );
        assert!(c.contains(&"file-conflict"), "{f:#?}");
        assert!(c.contains(&"installer-tooling"), "{f:#?}");
    }
}
