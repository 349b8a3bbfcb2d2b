//! What differs between two locks, target by target: what `pylayer lock --check` reports
//! when `pylayer.lock` no longer matches its inputs (pre-commit hooks and CI gate on it).

use std::collections::BTreeMap;
use std::fmt;

use super::{Lock, LockedPackage, LockedTarget};

/// One difference between the lock on disk (`old`) and the lock the inputs call for (`new`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockChange {
    /// The inputs ask for a target the lock has no pins for.
    TargetAdded { target: String },
    /// The lock has pins for a target the inputs no longer ask for.
    TargetRemoved { target: String },
    /// A distribution the lock lacks.
    Added {
        target: String,
        name: String,
        version: String,
    },
    /// A distribution the lock has but the inputs no longer need.
    Removed {
        target: String,
        name: String,
        version: String,
    },
    /// The same distribution with another version or another wheel.
    Changed {
        target: String,
        name: String,
        old_version: String,
        new_version: String,
        old_file: String,
        new_file: String,
    },
    /// A local project whose sources changed (another source hash).
    LocalSources {
        target: String,
        name: String,
        path: String,
    },
    /// The requirements, constraints or index options changed (the inputs digest differs),
    /// yet they resolve to the same pins: only the digest needs rewriting.
    InputsOnly,
}

impl fmt::Display for LockChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockChange::TargetAdded { target } => write!(f, "{target}: not in the lock"),
            LockChange::TargetRemoved { target } => {
                write!(f, "{target}: in the lock but no longer a target")
            }
            LockChange::Added {
                target,
                name,
                version,
            } => write!(f, "{target}: + {name}=={version}"),
            LockChange::Removed {
                target,
                name,
                version,
            } => write!(f, "{target}: - {name}=={version}"),
            LockChange::Changed {
                target,
                name,
                old_version,
                new_version,
                old_file,
                new_file,
            } => {
                if old_version == new_version {
                    write!(
                        f,
                        "{target}: ~ {name}=={old_version} wheel {old_file} -> {new_file}"
                    )
                } else {
                    write!(f, "{target}: ~ {name} {old_version} -> {new_version}")
                }
            }
            LockChange::LocalSources { target, name, path } => write!(
                f,
                "{target}: ~ {name}: the sources of the local project {path} changed"
            ),
            LockChange::InputsOnly => write!(
                f,
                "the requirements, constraints or index options changed (same pins; the inputs digest differs)"
            ),
        }
    }
}

/// The differences between `old` and `new`, targets in `new`'s order then removed targets,
/// packages by name. Empty when the two locks are equal.
pub fn diff(old: &Lock, new: &Lock) -> Vec<LockChange> {
    let mut out = Vec::new();
    let label = |t: &LockedTarget| format!("python{}/{}", t.python, t.arch);
    let find = |lock: &Lock, t: &LockedTarget| {
        lock.targets
            .iter()
            .find(|o| o.python == t.python && o.arch == t.arch)
            .cloned()
    };
    for nt in &new.targets {
        let target = label(nt);
        let Some(ot) = find(old, nt) else {
            out.push(LockChange::TargetAdded { target });
            continue;
        };
        out.extend(package_changes(&target, &ot.packages, &nt.packages));
    }
    for ot in &old.targets {
        if find(new, ot).is_none() {
            out.push(LockChange::TargetRemoved { target: label(ot) });
        }
    }
    if out.is_empty() && old.inputs_digest != new.inputs_digest {
        out.push(LockChange::InputsOnly);
    }
    out
}

/// The differences between two locks' pins for one target (`label` names it in each
/// change): what `promote` refuses over, as environments' locks of the same target must pin
/// the same wheels for their layers to be the same bytes.
pub fn target_changes(label: &str, old: &LockedTarget, new: &LockedTarget) -> Vec<LockChange> {
    package_changes(label, &old.packages, &new.packages)
}

fn package_changes(target: &str, old: &[LockedPackage], new: &[LockedPackage]) -> Vec<LockChange> {
    let by_name = |ps: &[LockedPackage]| -> BTreeMap<String, LockedPackage> {
        ps.iter().map(|p| (p.name.clone(), p.clone())).collect()
    };
    let (old, new) = (by_name(old), by_name(new));
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        let target = target.to_string();
        match (old.get(name), new.get(name)) {
            (None, Some(n)) => out.push(LockChange::Added {
                target,
                name: name.clone(),
                version: n.version.clone(),
            }),
            (Some(o), None) => out.push(LockChange::Removed {
                target,
                name: name.clone(),
                version: o.version.clone(),
            }),
            (Some(o), Some(n))
                if o.version == n.version
                    && o.source_hash.is_some()
                    && n.source_hash.is_some()
                    && o.source_hash != n.source_hash =>
            {
                out.push(LockChange::LocalSources {
                    target,
                    name: name.clone(),
                    path: n.url.clone(),
                })
            }
            (Some(o), Some(n))
                if o.version != n.version || o.filename != n.filename || o.sha256 != n.sha256 =>
            {
                out.push(LockChange::Changed {
                    target,
                    name: name.clone(),
                    old_version: o.version.clone(),
                    new_version: n.version.clone(),
                    old_file: o.filename.clone(),
                    new_file: n.filename.clone(),
                })
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::LOCK_VERSION;

    fn pkg(name: &str, version: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
            filename: format!("{name}-{version}-py3-none-any.whl"),
            url: format!("https://example.invalid/{name}-{version}-py3-none-any.whl"),
            sha256: format!("{name}{version}"),
            size: 1,
            metadata_sha256: None,
            source_hash: None,
            built_from_source: false,
            dependencies: vec![],
        }
    }

    fn lock(digest: &str, targets: &[(&str, &str, Vec<LockedPackage>)]) -> Lock {
        Lock {
            version: LOCK_VERSION,
            inputs_digest: digest.into(),
            targets: targets
                .iter()
                .map(|(py, arch, ps)| LockedTarget {
                    python: (*py).into(),
                    arch: (*arch).into(),
                    packages: ps.clone(),
                    held_back: Vec::new(),
                    differs: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn equal_locks_have_no_changes() {
        let a = lock("d", &[("3.12", "x86_64", vec![pkg("a", "1")])]);
        assert!(diff(&a, &a.clone()).is_empty());
    }

    #[test]
    fn added_removed_and_upgraded_packages_are_named_per_target() {
        let old = lock(
            "d1",
            &[("3.12", "x86_64", vec![pkg("a", "1"), pkg("gone", "2")])],
        );
        let new = lock(
            "d2",
            &[("3.12", "x86_64", vec![pkg("a", "1.1"), pkg("fresh", "3")])],
        );
        let lines: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "python3.12/x86_64: ~ a 1 -> 1.1",
                "python3.12/x86_64: + fresh==3",
                "python3.12/x86_64: - gone==2",
            ]
        );
    }

    #[test]
    fn same_version_with_another_wheel_names_both_files() {
        let old = lock("d", &[("3.11", "arm64", vec![pkg("a", "1")])]);
        let mut other = pkg("a", "1");
        other.filename = "a-1-cp311-cp311-manylinux_2_17_aarch64.whl".into();
        other.sha256 = "x".into();
        let new = lock("d", &[("3.11", "arm64", vec![other])]);
        let lines: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "python3.11/arm64: ~ a==1 wheel a-1-py3-none-any.whl -> a-1-cp311-cp311-manylinux_2_17_aarch64.whl"
            ]
        );
    }

    #[test]
    fn targets_added_and_removed() {
        let old = lock("d", &[("3.11", "x86_64", vec![pkg("a", "1")])]);
        let new = lock("d", &[("3.12", "x86_64", vec![pkg("a", "1")])]);
        assert_eq!(
            diff(&old, &new),
            [
                LockChange::TargetAdded {
                    target: "python3.12/x86_64".into()
                },
                LockChange::TargetRemoved {
                    target: "python3.11/x86_64".into()
                },
            ]
        );
    }

    #[test]
    fn a_new_digest_with_the_same_pins_is_still_a_change() {
        let old = lock("d1", &[("3.12", "x86_64", vec![pkg("a", "1")])]);
        let mut new = old.clone();
        new.inputs_digest = "d2".into();
        assert_eq!(diff(&old, &new), [LockChange::InputsOnly]);
    }
}
