//! `pylayer.lock`: the exact wheels chosen for each target, as TOML that diffs well in git.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::target::Target;

pub mod diff;

/// Format version written into every lock; bumped when the schema changes incompatibly.
pub const LOCK_VERSION: u32 = 1;

/// A `pylayer.lock` larger than this is refused (a lock of a few hundred pins for several
/// targets is well under 1 MiB); devices and FIFOs are refused as not regular files.
pub const LOCK_MAX_BYTES: u64 = 32 << 20;

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
    /// Packages not at their newest release on the index when this target was resolved,
    /// and why (glibc ceiling, Python version, no wheel for the architecture, a requirement).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<NotTaken>,
    /// Packages at another version than other targets of this lock have, and why this
    /// target cannot have theirs. Every other package has one version on every target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differs: Vec<NotTaken>,
}

/// A release a target did not take although it exists, and why: recorded in the lock so
/// `build` and `--json` output can say it without resolving again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotTaken {
    /// Normalized distribution name.
    pub name: String,
    /// The version locked for this target.
    pub version: String,
    /// The release not taken: the newest one (`held_back`) or the other targets' (`differs`).
    pub not_taken: String,
    pub reason: String,
    /// For `differs`: the targets that have `not_taken` (`3.12/x86_64`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elsewhere: Vec<String>,
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
    /// A local project built into this wheel (`crate::local_project`): the hash of its
    /// sources; `url` is then its directory relative to the project root, and a build
    /// rebuilds it from there (the wheel of an unchanged source comes from the cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_hash: Option<String>,
    /// The file is a source distribution (its URL and sha256 above), built into a pure
    /// wheel at fetch time (cached per machine). Absent in older locks: wheels.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub built_from_source: bool,
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
            t.held_back.sort_by(|a, b| a.name.cmp(&b.name));
            t.differs.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }

    pub fn to_toml(&self) -> String {
        let mut lock = self.clone();
        lock.normalize();
        let body = toml::to_string(&lock).unwrap_or_default();
        format!("# This file is written by `pylayer lock`; do not edit it by hand.\n{body}")
    }

    /// Reads a lock (a regular file of at most [`LOCK_MAX_BYTES`]), naming the file, line
    /// and column of anything malformed.
    pub fn read(path: &Path) -> anyhow::Result<Lock> {
        let text = crate::fsutil::read_capped_text(path, LOCK_MAX_BYTES)?;
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
