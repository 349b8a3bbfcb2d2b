//! Flags shared by every command that reads requirements and targets (`lock`, `build`).

use std::path::PathBuf;

use clap::Args;
use sha2::{Digest, Sha256};

use super::Failure;
use crate::index::{DEFAULT_INDEX_URL, IndexConfig, IndexStrategy};
use crate::requirements::{self, RequirementsInput};
use crate::target::{Arch, Target, parse_python};

#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Requirements to install, as on pip's command line (`requests`, `numpy<2`).
    pub requirements: Vec<String>,
    /// Read requirements from a requirements.txt file (repeatable).
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub requirement_files: Vec<PathBuf>,
    /// Constrain versions with a constraints file (repeatable).
    #[arg(short = 'c', long = "constraint", value_name = "FILE")]
    pub constraint_files: Vec<PathBuf>,
    /// Lambda Python runtime: 3.9 … 3.14 (repeatable).
    #[arg(long = "python", value_name = "3.X", default_value = "3.12")]
    pub python: Vec<String>,
    /// Lambda architecture: x86_64 or arm64 (repeatable).
    #[arg(long = "arch", value_name = "ARCH", default_value = "x86_64")]
    pub arch: Vec<String>,
    /// Base URL of the package index (PEP 503/691), instead of the public index.
    #[arg(short = 'i', long, value_name = "URL")]
    pub index_url: Option<String>,
    /// More indexes to consult after the first (repeatable).
    #[arg(long, value_name = "URL")]
    pub extra_index_url: Vec<String>,
    /// A directory or HTML page of wheels to consider too (repeatable).
    #[arg(short = 'f', long, value_name = "DIR|URL")]
    pub find_links: Vec<String>,
    /// Use no index at all: only --find-links.
    #[arg(long)]
    pub no_index: bool,
    /// Accept pre-releases for every package.
    #[arg(long)]
    pub pre: bool,
    /// How a package present on several indexes is chosen.
    #[arg(long, value_enum, default_value_t = IndexStrategy::FirstIndex)]
    pub index_strategy: IndexStrategy,
    /// Where the lock is kept.
    #[arg(long = "lock", value_name = "PATH", default_value = "pylayer.lock")]
    pub lock_path: PathBuf,
    /// Re-resolve everything, ignoring the versions in the existing lock.
    #[arg(short = 'U', long)]
    pub upgrade: bool,
    /// Re-resolve this package, keeping the other pins (repeatable).
    #[arg(short = 'P', long, value_name = "NAME")]
    pub upgrade_package: Vec<String>,
    /// Use only cached index pages, metadata and wheels.
    #[arg(long)]
    pub offline: bool,
    /// Where downloads are cached [env: PYLAYER_CACHE_DIR]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Requirements, targets and index settings merged from flags, files and environment.
pub struct Inputs {
    pub reqs: RequirementsInput,
    pub targets: Vec<Target>,
    pub index: IndexConfig,
    pub pre: bool,
}

impl InputArgs {
    pub fn targets(&self) -> Result<Vec<Target>, Failure> {
        let mut out = Vec::new();
        for p in &self.python {
            let minor = parse_python(p).map_err(Failure::usage)?;
            for a in &self.arch {
                let arch: Arch = a.parse().map_err(Failure::usage)?;
                let t = Target::new(minor, arch).map_err(Failure::usage)?;
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn load(&self) -> Result<Inputs, Failure> {
        let mut reqs = requirements::read_files(&self.requirement_files, &self.constraint_files)
            .map_err(|e| Failure::usage(e.to_string()))?;
        requirements::add_cli_requirements(&mut reqs, &self.requirements)
            .map_err(|e| Failure::usage(e.to_string()))?;
        if reqs.requirements.is_empty() {
            return Err(Failure::usage(
                "nothing to install: give requirements with -r requirements.txt or as arguments (`pylayer lock requests`)",
            ));
        }
        if reqs.only_binary.iter().any(|v| v == ":none:") {
            eprintln!("warning: --only-binary :none: is ignored: pylayer installs wheels only");
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut indexes = Vec::new();
        if !(self.no_index || reqs.no_index) {
            let primary = self
                .index_url
                .clone()
                .or_else(|| reqs.index_url.clone())
                .or_else(|| env("PYLAYER_INDEX_URL"))
                .or_else(|| env("PIP_INDEX_URL"))
                .unwrap_or_else(|| DEFAULT_INDEX_URL.to_string());
            indexes.push(primary);
            indexes.extend(self.extra_index_url.iter().cloned());
            indexes.extend(reqs.extra_index_urls.iter().cloned());
            if let Some(extra) = env("PIP_EXTRA_INDEX_URL") {
                indexes.extend(extra.split_whitespace().map(str::to_string));
            }
            let mut seen = std::collections::HashSet::new();
            indexes.retain(|u| seen.insert(u.clone()));
        }
        let mut find_links: Vec<String> = self
            .find_links
            .iter()
            .map(|f| {
                if f.contains("://") {
                    f.clone()
                } else {
                    std::path::absolute(f).map_or(f.clone(), |p| p.display().to_string())
                }
            })
            .collect();
        find_links.extend(reqs.find_links.iter().cloned());
        if indexes.is_empty() && find_links.is_empty() {
            return Err(Failure::usage(
                "--no-index needs at least one --find-links source",
            ));
        }
        let pre = self.pre || reqs.pre;
        Ok(Inputs {
            targets: self.targets()?,
            index: IndexConfig {
                indexes,
                find_links,
                strategy: self.index_strategy,
            },
            reqs,
            pre,
        })
    }
}

impl Inputs {
    /// A digest of everything that decides a resolution. Requirement order, file names and
    /// line numbers do not count; what is asked for does.
    pub fn digest(&self) -> String {
        let mut lines = Vec::new();
        let mut reqs: Vec<String> = self
            .reqs
            .requirements
            .iter()
            .map(|r| format!("req {} {}", r.requirement, r.hashes.join(",")))
            .collect();
        reqs.sort();
        lines.extend(reqs);
        let mut cons: Vec<String> = self
            .reqs
            .constraints
            .iter()
            .map(|r| format!("con {}", r.requirement))
            .collect();
        cons.sort();
        lines.extend(cons);
        for i in &self.index.indexes {
            lines.push(format!("index {i}"));
        }
        for f in &self.index.find_links {
            lines.push(format!("find-links {f}"));
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
        let mut h = Sha256::new();
        for l in lines {
            h.update(l.as_bytes());
            h.update(b"\n");
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}
