//! Reading pip requirements files (`requirements.txt`) into resolver input.
//!
//! Python teams already keep their dependencies in `requirements.txt` (often written by
//! `pip freeze`), so pylayer reads pip's format instead of inventing its own. pip's grammar is
//! followed closely — comments, backslash continuations, `${VAR}` expansion, `-r`/`-c`
//! includes, index options and per-requirement `--hash` — so that a file that works with pip
//! works here.
//!
//! A layer is assembled from released wheels only, so everything that would need a build or a
//! checkout — editable installs, VCS URLs, local source trees, sdists, `--no-binary` — is
//! rejected here, up front, with an error that names `file:line` and says what to do instead,
//! rather than failing later and less clearly in the resolver.

use std::path::{Path, PathBuf};

use uv_pep508::{Requirement, VersionOrUrl};

use crate::wheel_name::WheelName;

mod error;
mod lines;
mod options;
mod parser;
mod reference;
#[cfg(test)]
mod tests;

pub use error::RequirementsError;
use lines::*;
use options::*;
use parser::*;
use reference::*;

/// The pseudo file name of requirements typed on the command line.
const COMMAND_LINE: &str = "<command line>";

/// Everything read from one or more requirements files (and command-line requirement strings).
///
/// One value collects all inputs so that the resolver sees the same merged view pip would
/// (options in any file apply globally), and so that `files` can be hashed to tell whether the
/// lock is stale.
#[derive(Debug, Clone, Default)]
pub struct RequirementsInput {
    /// Requirement lines, in reading order.
    pub requirements: Vec<SourcedRequirement>,
    /// Requirement lines from `-c` / `--constraint` files (and files they include).
    pub constraints: Vec<SourcedRequirement>,
    /// `--index-url` / `-i`; the last one read wins, as with pip.
    pub index_url: Option<String>,
    /// `--extra-index-url` values, in order, without duplicates.
    pub extra_index_urls: Vec<String>,
    /// `--find-links` / `-f` values; relative paths are made absolute against the directory of
    /// the file that names them, so the result does not depend on the working directory.
    pub find_links: Vec<String>,
    /// `--no-index`.
    pub no_index: bool,
    /// `--pre`.
    pub pre: bool,
    /// `--only-binary` values split on `,` (`:all:`, `:none:` or package names).
    pub only_binary: Vec<String>,
    /// `--no-binary` values split on `,`, in reading order (pip applies the two options in
    /// the order given: see `resolve::BuildPolicy::from_pip`).
    pub no_binary: Vec<String>,
    /// Local project directories (`./pkg`, `name @ file:///dir`, `-e ./pkg`), in reading
    /// order: built into wheels before resolution (`crate::local_project`).
    pub local: Vec<LocalRequirement>,
    /// Every file read (top-level files and includes), in reading order, each once; their
    /// digests decide whether a lock must be redone.
    pub files: Vec<PathBuf>,
}

/// A local project directory named as a requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRequirement {
    /// The directory, joined to the directory of the file that names it (or the working
    /// directory on the command line); not checked yet.
    pub path: PathBuf,
    /// The name written before `@`, if any: the built wheel must have it.
    pub name: Option<String>,
    /// `[extras]` as written, possibly empty.
    pub extras: String,
    /// The marker after `;`, possibly empty.
    pub marker: String,
    /// Written as `-e PATH`: a layer has no editable installs, so it is built like the others.
    pub editable: bool,
    pub file: PathBuf,
    pub line: usize,
}

impl LocalRequirement {
    /// `path:line`, for messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// One requirement together with where it was written, so that later errors (resolution
/// conflicts, hash mismatches) can point the user at the line to change.
#[derive(Debug, Clone)]
pub struct SourcedRequirement {
    /// Name, extras, version specifiers or URL, and marker.
    pub requirement: Requirement,
    /// File it came from (`<command line>` for requirement strings given as arguments).
    pub file: PathBuf,
    /// 1-based line where the (possibly continued) logical line starts; for command-line
    /// requirements, the 1-based position among them.
    pub line: usize,
    /// `sha256:<hex>` values from `--hash` options, lower-cased.
    pub hashes: Vec<String>,
}

impl SourcedRequirement {
    /// `path:line`, the form editors and terminals turn into a link to the line.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// Whether the requirement lines of a file are requirements or constraints: `-c` files (and
/// everything they include) only constrain versions, they do not add packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Lines are packages to install.
    Requirement,
    /// Lines only restrict versions of packages required elsewhere.
    Constraint,
}

/// A requirements file larger than this is refused (the largest real ones, with hashes for
/// every pin, are a few hundred KiB); devices and FIFOs are refused as not regular files.
pub const REQUIREMENTS_MAX_BYTES: u64 = 16 << 20;

/// Parses requirement files given with -r (several allowed) and constraint files given with -c.
///
/// Files are read in order, requirement files first; includes are resolved against the
/// directory of the including file.
pub fn read_files(
    requirement_files: &[PathBuf],
    constraint_files: &[PathBuf],
) -> Result<RequirementsInput, RequirementsError> {
    let mut input = RequirementsInput::default();
    let env = process_env;
    let mut parser = Parser {
        input: &mut input,
        stack: Vec::new(),
        env: &env,
    };
    for file in requirement_files {
        parser.read_file(file, LineKind::Requirement, None)?;
    }
    for file in constraint_files {
        parser.read_file(file, LineKind::Constraint, None)?;
    }
    Ok(input)
}

/// Adds requirement strings typed on the command line (`pylayer lock requests "numpy<2"`).
///
/// Each string is one requirement line without options; its location is `<command line>:N`
/// where N is its 1-based position. Relative wheel paths are resolved against the working
/// directory, as a shell user expects.
pub fn add_cli_requirements(
    input: &mut RequirementsInput,
    reqs: &[String],
) -> Result<(), RequirementsError> {
    let file = Path::new(COMMAND_LINE);
    for (index, text) in reqs.iter().enumerate() {
        let site = Site {
            file,
            line: index + 1,
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if let Some(target) = text
            .strip_prefix("--editable")
            .or_else(|| text.strip_prefix("-e"))
        {
            let target = target.trim_start_matches('=').trim();
            if let Some(local) = local_directory(target, Path::new(""), &site, true)? {
                input.local.push(local);
                continue;
            }
            return Err(RequirementsError::Editable {
                file: site.path(),
                line: site.line,
                target: target.trim_start_matches('=').trim().to_string(),
            });
        }
        if text.starts_with('-') {
            return Err(RequirementsError::NotARequirement {
                file: site.path(),
                line: site.line,
                text: text.to_string(),
            });
        }
        if let Some(local) = local_directory(text, Path::new(""), &site, false)? {
            input.local.push(local);
            continue;
        }
        let requirement = parse_requirement(text, Path::new(""), &site)?;
        input.requirements.push(SourcedRequirement {
            requirement,
            file: site.path(),
            line: site.line,
            hashes: Vec::new(),
        });
    }
    Ok(())
}

/// Parses file content as if read from `path` (the same parser `read_files` uses; handy for
/// tests and for content that is not in a file); `kind` says whether its requirement lines are
/// requirements or constraints.
///
/// `path` itself is not added to `input.files` (the caller has the content, not necessarily a
/// file); files it includes are read from disk relative to `path`'s directory and are added.
// Part of the module's API (tests, and callers holding content rather than a file) even
// while the binary itself only calls `read_files`.
#[allow(dead_code)]
pub fn parse_str(
    content: &str,
    path: &Path,
    kind: LineKind,
    input: &mut RequirementsInput,
) -> Result<(), RequirementsError> {
    let env = process_env;
    parse_str_with_env(content, path, kind, input, &env)
}

/// [`parse_str`] with a chosen environment, so tests need not change the process environment.
fn parse_str_with_env(
    content: &str,
    path: &Path,
    kind: LineKind,
    input: &mut RequirementsInput,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), RequirementsError> {
    let mut parser = Parser {
        input,
        stack: vec![identity(path)],
        env,
    };
    parser.parse_content(content, path, kind)
}

/// pip expands only set, non-empty variables.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
