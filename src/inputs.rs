//! Inputs: what a resolution is asked for — requirements, constraints, targets, indexes —
//! once flags, pylayer.toml, requirement files and a venv have been merged (the CLI's job),
//! and the digest the lock records to tell whether it still fits them.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::http::{strip_userinfo, strip_userinfo_in_text};
use crate::index::IndexConfig;
use crate::requirements::RequirementsInput;
use crate::resolve::BuildPolicy;
use crate::target::Target;

/// Requirements, targets and index settings merged from flags, files and environment.
pub struct Inputs {
    pub reqs: RequirementsInput,
    pub targets: Vec<Target>,
    pub index: IndexConfig,
    pub pre: bool,
    /// Which packages may (or must) be built from source (`--no-build`, `--only-binary`,
    /// `--no-binary`, merged from pylayer.toml, requirements files and flags).
    pub build: BuildPolicy,
    /// The project root (absolute): the directory of pylayer.toml, else of the pyproject.toml
    /// given with `--include-project`, else the working directory. Local files (find-links
    /// directories, local projects) are recorded relative to it, so moving the project
    /// keeps the lock.
    pub project_root: PathBuf,
    /// Local project directories to build into the layer (requirements, pylayer.toml's
    /// `local`, `[tool.pylayer] local`, `--include-project`, a venv's editable installs).
    pub local: Vec<crate::local_project::LocalProject>,
    /// The project's pylayer.toml, when there is one.
    pub config: Option<Config>,
    /// True when the requirements are every distribution of a venv (all pinned, top-level
    /// and transitive alike), which changes what "only needed by" means for exclusions.
    pub from_venv: bool,
    /// Where the lock is kept.
    pub lock_path: PathBuf,
    /// The locks of the project's other environments, by environment name: their pins are
    /// preferred, so shared packages get one version across environments where possible.
    pub sibling_locks: Vec<(String, PathBuf)>,
}

impl Inputs {
    /// How a lock records a location: a local file or directory (a path or `file://` URL)
    /// by its path relative to the project root, anything else as given without user-info.
    pub fn recorded_location(&self, location: &str) -> String {
        let local = if location.starts_with("file:") {
            url::Url::parse(location)
                .ok()
                .and_then(|u| u.to_file_path().ok())
        } else if location.contains("://") {
            None
        } else {
            Some(PathBuf::from(location))
        };
        local
            .and_then(|p| crate::fsutil::relative_path(&p, &self.project_root))
            .unwrap_or_else(|| strip_userinfo(location))
    }

    /// A digest of everything that decides a resolution. Requirement order, file names and
    /// line numbers do not count; what is asked for does.
    /// Credentials are not part of it (all URLs are taken without user-info): a committed
    /// lock must not let anyone test password guesses offline, and rotating a password must
    /// not force a new resolution.
    pub fn digest(&self) -> String {
        let mut lines = Vec::new();
        let mut reqs: Vec<String> = self
            .reqs
            .requirements
            .iter()
            .map(|r| {
                strip_userinfo_in_text(&format!("req {} {}", r.requirement, r.hashes.join(",")))
            })
            .collect();
        reqs.sort();
        lines.extend(reqs);
        let mut cons: Vec<String> = self
            .reqs
            .constraints
            .iter()
            .map(|r| strip_userinfo_in_text(&format!("con {}", r.requirement)))
            .collect();
        cons.sort();
        lines.extend(cons);
        for i in &self.index.indexes {
            lines.push(format!("index {}", strip_userinfo(i)));
        }
        for f in &self.index.find_links {
            lines.push(format!("find-links {}", self.recorded_location(f)));
            if let Ok(rd) = std::fs::read_dir(f) {
                let mut names: Vec<String> = rd
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                lines.push(names.join(","));
            }
        }
        lines.push(format!("pre {}", self.pre));
        lines.push(format!("strategy {:?}", self.index.strategy));
        lines.extend(self.build.digest_line());
        let mut local: Vec<String> = self.local.iter().map(|l| l.digest_line()).collect();
        local.sort();
        lines.extend(local);
        let mut h = Sha256::new();
        for l in lines {
            h.update(l.as_bytes());
            h.update(b"\n");
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}
