//! One version across environments: the pins of the project's other environments are
//! preferred when locking one (so dev, test and prod share versions wherever their
//! adjustments allow), and where an environment ends up at another version than another
//! environment's lock, the lock output says so with the reason when the lock recorded one.

use std::collections::HashMap;
use std::path::PathBuf;

use uv_normalize::PackageName;

use super::Event;
use crate::lock::{Lock, LockedTarget};
use crate::target::Target;

/// The other environments' locks that exist and read cleanly; one that does not read is
/// said and skipped (it is that environment's problem, found when it is built).
pub fn read_siblings(
    siblings: &[(String, PathBuf)],
    on_event: &dyn Fn(Event),
) -> Vec<(String, Lock)> {
    let mut out = Vec::new();
    for (name, path) in siblings {
        if !path.is_file() {
            continue;
        }
        match Lock::read(path) {
            Ok(l) => out.push((name.clone(), l)),
            Err(e) => on_event(Event::Warning(format!(
                "environment {name}: its lock is not read, so its versions are not preferred: {e:#}"
            ))),
        }
    }
    out
}

/// Pins of the other environments for `target`, to prefer where this lock has none.
pub fn preferences(
    siblings: &[(String, Lock)],
    target: &Target,
    into: &mut HashMap<PackageName, uv_pep440::Version>,
    skip: &[PackageName],
) {
    for (_, lock) in siblings {
        let Some(lt) = lock.target(target) else {
            continue;
        };
        for p in &lt.packages {
            if let (Ok(n), Ok(v)) = (p.name.parse::<PackageName>(), p.version.parse())
                && !skip.contains(&n)
            {
                into.entry(n).or_insert(v);
            }
        }
    }
}

/// Says, per target, each package this environment locks at another version than another
/// environment's lock, and why when this lock recorded a reason.
pub fn report_differences(
    env: &str,
    lock: &Lock,
    siblings: &[(String, Lock)],
    targets: &[Target],
    on_event: &dyn Fn(Event),
) {
    for target in targets {
        let Some(own) = lock.target(target) else {
            continue;
        };
        for (name, other) in siblings {
            let Some(theirs) = other.target(target) else {
                continue;
            };
            for line in differences(env, own, name, theirs) {
                on_event(Event::HeldBack(format!("{line} on {}", target.label())));
            }
        }
    }
}

fn differences(env: &str, own: &LockedTarget, other: &str, theirs: &LockedTarget) -> Vec<String> {
    let mut out = Vec::new();
    for p in &own.packages {
        let Some(q) = theirs.packages.iter().find(|q| q.name == p.name) else {
            continue;
        };
        if q.version == p.version {
            continue;
        }
        let why = own
            .held_back
            .iter()
            .find(|h| h.name == p.name && h.not_taken == q.version)
            .map(|h| format!("{env}: {}", h.reason))
            .or_else(|| {
                theirs
                    .held_back
                    .iter()
                    .find(|h| h.name == p.name && h.not_taken == p.version)
                    .map(|h| format!("{other}: {}", h.reason))
            })
            .unwrap_or_else(|| {
                "one environment's requirements or constraints rule the other's version out"
                    .to_string()
            });
        out.push(format!(
            "not the same in every environment: {} {} in {env}, {} in {other} ({why})",
            p.name, p.version, q.version
        ));
    }
    out
}
