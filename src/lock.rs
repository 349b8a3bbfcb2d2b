//! `pylayer.lock`: the exact wheels chosen for each target, as TOML that diffs well in git.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::target::Target;

pub mod diff;

/// Format version written into every lock; bumped when the schema changes incompatibly.
pub const LOCK_VERSION: u32 = 1;

/// The whole lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    /// sha256 over everything that decided the resolution (requirements, constraints,
    /// index options, targets); a lock whose digest matches needs no re-resolution.
    pub inputs_digest: String,
    #[serde(rename = "target", default)]
    pub targets: Vec<LockedTarget>,
}

/// The pins for one runtime and architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedTarget {
    /// `3.12`
    pub python: String,
    /// `x86_64` or `arm64`
    pub arch: String,
    #[serde(rename = "package", default)]
    pub packages: Vec<LockedPackage>,
}

/// One pinned wheel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    /// Normalized distribution name.
    pub name: String,
    pub version: String,
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    /// Normalized names of the distributions this one needs on the target, sorted.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// sha256 of the METADATA file this pin was resolved from (a PEP 658 file, a range read
    /// or the wheel): at fetch, the wheel's own METADATA must agree with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_sha256: Option<String>,
}

impl LockedTarget {
    pub fn matches(&self, target: &Target) -> bool {
        self.python == target.python_version() && self.arch == target.arch.lambda_name()
    }
}

impl Lock {
    pub fn target(&self, target: &Target) -> Option<&LockedTarget> {
        self.targets.iter().find(|t| t.matches(target))
    }

    /// Sorts targets and packages so the same resolution always serializes the same way.
    pub fn normalize(&mut self) {
        self.targets.sort_by(|a, b| {
            let key = |t: &LockedTarget| {
                (
                    t.python
                        .split('.')
                        .nth(1)
                        .and_then(|m| m.parse::<u32>().ok()),
                    t.arch.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        for t in &mut self.targets {
            t.packages.sort_by(|a, b| a.name.cmp(&b.name));
            for p in &mut t.packages {
                // Credentials never reach disk, whatever URL the resolver was given.
                p.url = crate::http::strip_userinfo(&p.url);
                p.dependencies.sort();
                p.dependencies.dedup();
            }
        }
    }

    pub fn to_toml(&self) -> String {
        let mut lock = self.clone();
        lock.normalize();
        let body = toml::to_string(&lock).unwrap_or_default();
        format!("# This file is written by `pylayer lock`; do not edit it by hand.\n{body}")
    }

    /// Reads a lock, naming the file, line and column of anything malformed.
    pub fn read(path: &Path) -> anyhow::Result<Lock> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Lock> {
        let lock: Lock = toml::from_str(text).map_err(|e| {
            let pos = crate::textpos::TextPos::at(text, e.span().map_or(0, |s| s.start));
            anyhow::anyhow!(
                "{}:{pos}: malformed lock file: {}\n  delete it and run `pylayer lock` to write a new one",
                path.display(),
                e.message()
            )
        })?;
        if lock.version != LOCK_VERSION {
            anyhow::bail!(
                "{}: lock format version {} is not supported by this pylayer (expects {LOCK_VERSION}); run `pylayer lock --upgrade`",
                path.display(),
                lock.version
            );
        }
        Ok(lock)
    }

    /// Writes the lock through a temporary file and a rename, so readers never see half of it.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        crate::fsutil::write_atomic(path, self.to_toml().as_bytes())
    }
}
