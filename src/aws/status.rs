//! `status`: per environment and target, the version published (confirmed with Lambda),
//! whether it is what the current lock builds, which functions use it, and which functions
//! are still on another version of the same layer (drift).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::layer_base;
use crate::lock::LockedTarget;
use crate::manifest;
use crate::published::{self, Record};

/// How the published version compares with what the current lock builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum BuildState {
    /// The dist/ zip is built from the lock's pins and has the published bytes.
    Matches { zip: String },
    /// The dist/ zip is built from the lock's pins but its bytes differ from the published
    /// version: the lock (or the build settings) moved since publishing.
    Differs {
        zip: String,
        built_code_sha256: String,
    },
    /// The dist/ zip was built from other pins than the lock's now: rebuild to compare.
    Stale { zip: String, changes: Vec<String> },
    /// Nothing published to compare with; the dist/ zip is built from the lock's pins.
    Built {
        zip: String,
        built_code_sha256: String,
    },
    /// No zip (or no manifest beside it) in dist/.
    NotBuilt { zip: String },
    /// The lock has no pins for this target.
    NotLocked,
}

impl BuildState {
    /// A few words for the table.
    pub fn short(&self) -> String {
        match self {
            BuildState::Matches { .. } => "matches lock".into(),
            BuildState::Differs { .. } => "differs from lock build".into(),
            BuildState::Stale { .. } => "dist zip stale".into(),
            BuildState::Built { .. } => "built".into(),
            BuildState::NotBuilt { .. } => "not built".into(),
            BuildState::NotLocked => "not in lock".into(),
        }
    }
}

/// Compares a published CodeSha256 with the zip at `zip` (and its manifest) and the lock's
/// pins for the target. Every distribution in the zip must be at the lock's version (the lock
/// may hold more: exclusions leave pins out of the layer).
pub fn build_state(
    published_sha: Option<&str>,
    lock: Option<&LockedTarget>,
    zip: &Path,
) -> BuildState {
    let shown = zip.display().to_string();
    let Some(lock) = lock else {
        return BuildState::NotLocked;
    };
    let manifest_path = manifest::manifest_path(zip);
    let (true, Ok(m)) = (zip.is_file(), manifest::read(&manifest_path)) else {
        return BuildState::NotBuilt { zip: shown };
    };
    let mut changes = Vec::new();
    for p in &m.packages {
        match lock.packages.iter().find(|l| l.name == p.name) {
            Some(l) if l.version == p.version => {}
            Some(l) => changes.push(format!(
                "{} {} in the zip, {} in the lock",
                p.name, p.version, l.version
            )),
            None => changes.push(format!(
                "{} {} in the zip, not in the lock",
                p.name, p.version
            )),
        }
    }
    if !changes.is_empty() {
        return BuildState::Stale {
            zip: shown,
            changes,
        };
    }
    let built = match published::zip_hashes(zip) {
        Ok(h) if h.code_sha256 == m.code_sha256 => h.code_sha256,
        // The zip changed after its manifest was written: not a build of anything known.
        _ => return BuildState::NotBuilt { zip: shown },
    };
    if published_sha.is_none() {
        BuildState::Built {
            zip: shown,
            built_code_sha256: built,
        }
    } else if published_sha == Some(built.as_str()) {
        BuildState::Matches { zip: shown }
    } else {
        BuildState::Differs {
            zip: shown,
            built_code_sha256: built,
        }
    }
}

/// A function on another version of the layer than the one recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub function: String,
    pub arn: String,
    pub version: Option<i64>,
    /// Older than the recorded version (the usual drift); else newer.
    pub older: bool,
}

/// The functions using `arn`, and those on another version of the same layer, from
/// ListFunctions' layer ARNs (`usage`: layer version ARN → functions).
pub fn users(usage: &BTreeMap<String, Vec<String>>, arn: &str) -> (Vec<String>, Vec<Drift>) {
    let base = layer_base(arn);
    let recorded = version_of(arn);
    let mut on = Vec::new();
    let mut drift = Vec::new();
    for (layer, functions) in usage {
        if layer == arn {
            on.extend(functions.iter().cloned());
        } else if layer_base(layer) == base {
            let version = version_of(layer);
            for f in functions {
                drift.push(Drift {
                    function: f.clone(),
                    arn: layer.clone(),
                    version,
                    older: matches!((version, recorded), (Some(v), Some(r)) if v < r),
                });
            }
        }
    }
    on.sort();
    drift.sort_by(|a, b| a.function.cmp(&b.function));
    (on, drift)
}

fn version_of(arn: &str) -> Option<i64> {
    arn.rsplit(':').next().and_then(|v| v.parse().ok())
}

/// What Lambda says of a recorded version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Live {
    /// It exists with the recorded CodeSha256.
    Confirmed,
    /// It exists with another CodeSha256 than recorded (or none was recorded).
    Other { code_sha256: String },
    /// It does not exist (deleted), or could not be read.
    Missing { reason: String },
}

/// Confirms a record with GetLayerVersion.
pub async fn confirm(lambda: &aws_sdk_lambda::Client, r: &Record) -> Live {
    match super::layer_by_arn(lambda, &r.arn).await {
        Ok(v) => {
            let live = v
                .content()
                .and_then(|c| c.code_sha256())
                .unwrap_or_default()
                .to_string();
            if r.code_sha256.as_deref() == Some(live.as_str()) {
                Live::Confirmed
            } else {
                Live::Other { code_sha256: live }
            }
        }
        Err(reason) => Live::Missing { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_is_another_version_of_the_same_layer() {
        let base = "arn:aws:lambda:us-east-1:1:layer:proj-prod-py312-x86_64";
        let mut usage = BTreeMap::new();
        usage.insert(format!("{base}:2"), vec!["b".to_string(), "a".to_string()]);
        usage.insert(format!("{base}:1"), vec!["old".to_string()]);
        usage.insert(format!("{base}:3"), vec!["new".to_string()]);
        usage.insert(
            "arn:aws:lambda:us-east-1:1:layer:other:1".to_string(),
            vec!["x".to_string()],
        );
        let (on, drift) = users(&usage, &format!("{base}:2"));
        assert_eq!(on, ["a", "b"]);
        assert_eq!(drift.len(), 2);
        assert_eq!(drift[0].function, "new");
        assert!(!drift[0].older);
        assert_eq!(
            (drift[1].function.as_str(), drift[1].version, drift[1].older),
            ("old", Some(1), true)
        );
    }

    /// A zip and its manifest (one package, `shared` at `version`) in `dir`.
    fn built(dir: &Path, version: &str) -> (std::path::PathBuf, String) {
        let zip = dir.join("p-py3.12-x86_64.zip");
        std::fs::write(&zip, format!("zip of shared {version}")).unwrap();
        let h = published::zip_hashes(&zip).unwrap();
        let m = serde_json::json!({
            "pylayer_version": "0", "name": "p", "runtime": "python3.12", "python": "3.12",
            "architecture": "x86_64", "layout": "python", "zip": "p-py3.12-x86_64.zip",
            "zip_bytes": h.size, "unzipped_bytes": 1, "sha256": h.sha256_hex,
            "code_sha256": h.code_sha256,
            "limits": {"unzipped_limit": 1, "direct_upload_limit": 1},
            "packages": [{"name": "shared", "version": version, "filename": "", "tag": "",
                          "sha256": "", "unzipped_bytes": 1, "zipped_bytes": 1}],
            "notes": [],
        });
        std::fs::write(manifest::manifest_path(&zip), m.to_string()).unwrap();
        (zip, h.code_sha256)
    }

    fn pins(version: &str) -> LockedTarget {
        LockedTarget {
            python: "3.12".into(),
            arch: "x86_64".into(),
            packages: vec![crate::lock::LockedPackage {
                name: "shared".into(),
                version: version.into(),
                filename: String::new(),
                url: String::new(),
                sha256: String::new(),
                size: 1,
                dependencies: vec![],
                metadata_sha256: None,
                source_hash: None,
                built_from_source: false,
            }],
            held_back: vec![],
            differs: vec![],
        }
    }

    #[test]
    fn build_state_compares_the_zip_with_the_lock_and_the_published_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (zip, sha) = built(dir.path(), "2.0");
        assert!(matches!(
            build_state(Some(&sha), Some(&pins("2.0")), &zip),
            BuildState::Matches { .. }
        ));
        let BuildState::Differs {
            built_code_sha256, ..
        } = build_state(Some("other"), Some(&pins("2.0")), &zip)
        else {
            panic!("not Differs")
        };
        assert_eq!(built_code_sha256, sha);
        assert!(matches!(
            build_state(None, Some(&pins("2.0")), &zip),
            BuildState::Built { .. }
        ));
        let BuildState::Stale { changes, .. } = build_state(Some(&sha), Some(&pins("2.1")), &zip)
        else {
            panic!("not Stale")
        };
        assert_eq!(changes, ["shared 2.0 in the zip, 2.1 in the lock"]);
        // A zip changed after its manifest was written is no build of anything known.
        std::fs::write(&zip, b"edited").unwrap();
        assert!(matches!(
            build_state(Some(&sha), Some(&pins("2.0")), &zip),
            BuildState::NotBuilt { .. }
        ));
    }

    #[test]
    fn build_state_without_a_zip_or_lock() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("p-py3.12-x86_64.zip");
        assert_eq!(build_state(Some("x"), None, &zip), BuildState::NotLocked);
        let t = LockedTarget {
            python: "3.12".into(),
            arch: "x86_64".into(),
            packages: vec![],
            held_back: vec![],
            differs: vec![],
        };
        assert!(matches!(
            build_state(Some("x"), Some(&t), &zip),
            BuildState::NotBuilt { .. }
        ));
    }
}
