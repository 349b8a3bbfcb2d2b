//! Leaving distributions out of a layer: `--exclude NAME` drops a distribution and whatever
//! only it needed; `--no-runtime-provided` does that for what the Lambda runtime ships.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::lock::LockedPackage;

/// What remains after excluding `exclude` (normalized names) and everything reachable only
/// through them. `roots` are the names the user asked for. When `all_pinned` (the inputs
/// list every distribution, as a venv or `pip freeze` does), the roots are those no other
/// requested distribution depends on.
pub fn prune(
    packages: &[LockedPackage],
    roots: &[String],
    exclude: &[String],
    all_pinned: bool,
) -> Vec<LockedPackage> {
    let by_name: HashMap<&str, &LockedPackage> =
        packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let excluded: BTreeSet<&str> = exclude.iter().map(String::as_str).collect();
    let mut start: Vec<&str> = roots
        .iter()
        .map(String::as_str)
        .filter(|r| by_name.contains_key(r))
        .collect();
    if all_pinned {
        let mut depended: BTreeSet<&str> = BTreeSet::new();
        for r in &start {
            if let Some(p) = by_name.get(r) {
                depended.extend(p.dependencies.iter().map(String::as_str).filter(|d| d != r));
            }
        }
        start.retain(|r| !depended.contains(r));
    }
    let mut keep: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = start
        .into_iter()
        .filter(|r| !excluded.contains(r))
        .collect();
    while let Some(n) = queue.pop_front() {
        if excluded.contains(n) || !keep.insert(n) {
            continue;
        }
        if let Some(p) = by_name.get(n) {
            queue.extend(p.dependencies.iter().map(String::as_str));
        }
    }
    packages
        .iter()
        .filter(|p| keep.contains(p.name.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, deps: &[&str]) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "1".into(),
            filename: format!("{name}-1-py3-none-any.whl"),
            url: String::new(),
            sha256: String::new(),
            size: 0,
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            metadata_sha256: None,
            source_hash: None,
            built_from_source: false,
        }
    }

    fn names(p: &[LockedPackage]) -> Vec<&str> {
        p.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn drops_what_only_the_excluded_needed() {
        let lock = vec![
            pkg("boto3", &["botocore", "jmespath", "s3transfer"]),
            pkg("botocore", &["jmespath", "python-dateutil", "urllib3"]),
            pkg("jmespath", &[]),
            pkg("python-dateutil", &["six"]),
            pkg("requests", &["urllib3"]),
            pkg("s3transfer", &["botocore"]),
            pkg("six", &[]),
            pkg("urllib3", &[]),
        ];
        let roots = vec!["boto3".to_string(), "requests".to_string()];
        let kept = prune(
            &lock,
            &roots,
            &[
                "boto3".into(),
                "botocore".into(),
                "s3transfer".into(),
                "jmespath".into(),
            ],
            false,
        );
        assert_eq!(names(&kept), ["requests", "urllib3"]);
        let kept = prune(&lock, &roots, &[], false);
        assert_eq!(kept.len(), lock.len());
    }

    #[test]
    fn all_pinned_inputs_use_top_level_roots() {
        let lock = vec![
            pkg("a", &["b"]),
            pkg("b", &["c"]),
            pkg("c", &[]),
            pkg("d", &[]),
        ];
        let roots: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(names(&prune(&lock, &roots, &["a".into()], true)), ["d"]);
        // Without that knowledge, everything asked for by name stays.
        assert_eq!(
            names(&prune(&lock, &roots, &["a".into()], false)),
            ["b", "c", "d"]
        );
    }
}
