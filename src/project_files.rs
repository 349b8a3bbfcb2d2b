//! Reading other tools' project files — `pyproject.toml`, `uv.lock`, `poetry.lock` and
//! `Pipfile.lock` — into the same [`RequirementsInput`] a requirements.txt produces, so that
//! `pylayer build -r uv.lock` works for teams that already manage their dependencies with
//! uv, Poetry or pipenv.
//!
//! What each file contributes:
//! - `pyproject.toml`: the project's declared dependencies (PEP 621 `[project]`, PEP 735
//!   `[dependency-groups]`, or Poetry's `[tool.poetry.dependencies]`) as requirements.
//! - `uv.lock` and `poetry.lock`: the project's direct dependencies as requirements, and every
//!   locked version from the package index as an `==` constraint, so the layer gets the
//!   versions the team tested with.
//! - `Pipfile.lock`: every locked package as an `==` requirement carrying its hashes.
//!
//! Markers are kept exactly as written (they are evaluated later, per Lambda target), and
//! anything that is not a released package from an index — git checkouts, local paths, URLs
//! of source archives — is rejected up front with an error naming the dependency, because a
//! layer is assembled from index wheels only.

use std::path::{Path, PathBuf};

mod error;
mod pipfile_lock;
mod poetry_constraint;
mod poetry_lock;
mod pyproject;
mod source;
pub(crate) mod toml_access;
mod uv_lock;

pub use error::ProjectFileError;

/// `[tool.pylayer] local` of a pyproject.toml: local project directories to build into the
/// layer, joined to the file's directory.
pub fn tool_pylayer_local(path: &Path) -> Result<Vec<std::path::PathBuf>, ProjectFileError> {
    pyproject::tool_pylayer_local(path)
}

use crate::requirements::{RequirementsInput, SourcedRequirement};

/// A project-file format pylayer can read instead of a requirements.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectFileKind {
    /// `pyproject.toml` (PEP 621 / PEP 735, or Poetry's `[tool.poetry]`).
    PyProject,
    /// `uv.lock` (uv's lock file, `version = 1`).
    UvLock,
    /// `poetry.lock` (Poetry 1.x or 2.x).
    PoetryLock,
    /// `Pipfile.lock` (pipenv).
    PipfileLock,
    /// A `Pipfile`: not readable as such (it has no pinned versions); [`read_into`] explains
    /// that it must be locked first.
    Pipfile,
}

/// Which project-file format `path` is, by its file name (compared without regard to case):
/// `pyproject.toml`, `uv.lock`, `poetry.lock`, `Pipfile.lock`, `Pipfile`; `None` for anything
/// else, which is read as a requirements.txt.
pub fn kind_of(path: &Path) -> Option<ProjectFileKind> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    Some(match name.as_str() {
        "pyproject.toml" => ProjectFileKind::PyProject,
        "uv.lock" => ProjectFileKind::UvLock,
        "poetry.lock" => ProjectFileKind::PoetryLock,
        "pipfile.lock" => ProjectFileKind::PipfileLock,
        "pipfile" => ProjectFileKind::Pipfile,
        _ => return None,
    })
}

/// Which optional parts of a project to include.
#[derive(Debug, Clone, Default)]
pub struct ProjectOptions {
    /// `--extra NAME`: optional dependencies (`[project.optional-dependencies]`, Poetry extras,
    /// uv.lock `optional-dependencies`).
    pub extras: Vec<String>,
    /// `--group NAME`: PEP 735 dependency groups, Poetry groups, uv.lock dev groups; for
    /// Pipfile.lock, `dev` means the `develop` section.
    pub groups: Vec<String>,
    /// `--all-extras`: every extra the project defines.
    pub all_extras: bool,
}

/// Reads `path` as a `kind` file and appends its requirements (and, for lock files, the locked
/// versions as constraints or pinned requirements) to `input`, recording every file read in
/// `input.files`. On error, `input` is left unchanged.
pub fn read_into(
    path: &Path,
    kind: ProjectFileKind,
    opts: &ProjectOptions,
    input: &mut RequirementsInput,
) -> Result<(), ProjectFileError> {
    let read = match kind {
        ProjectFileKind::PyProject => pyproject::read(path, opts)?,
        ProjectFileKind::UvLock => uv_lock::read(path, opts)?,
        ProjectFileKind::PoetryLock => poetry_lock::read(path, opts)?,
        ProjectFileKind::PipfileLock => pipfile_lock::read(path, opts)?,
        ProjectFileKind::Pipfile => {
            return Err(ProjectFileError::UnlockedPipfile {
                path: path.to_path_buf(),
            });
        }
    };
    for file in read.files {
        if !input.files.contains(&file) {
            input.files.push(file);
        }
    }
    input.requirements.extend(read.requirements);
    input.constraints.extend(read.constraints);
    Ok(())
}

/// What one project file yields, collected before anything is added to the caller's input.
#[derive(Default)]
struct Read {
    requirements: Vec<SourcedRequirement>,
    constraints: Vec<SourcedRequirement>,
    files: Vec<PathBuf>,
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_positions;
