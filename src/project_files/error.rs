//! Why a project file cannot be used: one error type for every format, each message naming
//! the file (and the line and column when known), what is wrong and what to do.

use std::path::{Path, PathBuf};

use crate::textpos::TextPos;

/// Why a project file cannot be used. Messages start with `path:LINE:COLUMN:` when the
/// offending value's position is known, else `path:`; each says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProjectFileError {
    /// The file cannot be read.
    #[error("{}: cannot read the file: {error}; check the path given with -r", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{}: not UTF-8 text; save it as UTF-8", path.display())]
    Encoding { path: PathBuf },
    /// TOML syntax error.
    #[error("{}:{pos}: invalid TOML: {message}; {hint}", path.display())]
    Toml {
        path: PathBuf,
        pos: TextPos,
        message: String,
        hint: String,
    },
    /// JSON syntax error.
    #[error("{}:{pos}: invalid JSON: {message}; {hint}", path.display())]
    Json {
        path: PathBuf,
        pos: TextPos,
        message: String,
        hint: String,
    },
    /// A value of the wrong type (`version = 5` where a string is expected).
    #[error("{}:{pos}: `{what}` must be {expected}; found {found}; {hint}", path.display())]
    WrongType {
        path: PathBuf,
        pos: TextPos,
        /// The key, as a TOML path (`[tool.poetry.dependencies].requests.version`).
        what: String,
        expected: &'static str,
        found: String,
        hint: &'static str,
    },
    /// Valid TOML/JSON, but not shaped as the tool writes it.
    #[error("{}: {message}; {hint}", at(path, *pos))]
    Malformed {
        path: PathBuf,
        pos: Option<TextPos>,
        message: String,
        hint: String,
    },
    /// A `Pipfile` was given instead of its lock.
    #[error(
        "{}: a Pipfile lists loose requirements, not locked versions; lock it first with \
         `pipenv lock` and pass the Pipfile.lock it writes (`-r Pipfile.lock`)",
        path.display()
    )]
    UnlockedPipfile { path: PathBuf },
    /// A pyproject.toml without `[project]` or `[tool.poetry.dependencies]`.
    #[error(
        "{}: no [project] table (and no [tool.poetry.dependencies]), so there are no \
         dependencies to read; declare them in `[project] dependencies = [...]` (PEP 621), or \
         pass a requirements.txt with -r",
        path.display()
    )]
    NoProject { path: PathBuf },
    /// `dynamic = ["dependencies"]`: the build backend computes them.
    #[error(
        "{}: `[project].{field}` is dynamic: the build backend computes it, and pylayer does not \
         run build backends; write the requirements out with `pip-compile pyproject.toml -o \
         requirements.txt` (or `uv pip compile pyproject.toml -o requirements.txt`) and pass \
         that file with -r",
        at(path, *pos)
    )]
    Dynamic {
        path: PathBuf,
        pos: Option<TextPos>,
        field: String,
    },
    /// `--extra NAME` that the project does not define.
    #[error("{}: unknown extra `{extra}`; {known}", path.display())]
    UnknownExtra {
        path: PathBuf,
        extra: String,
        known: String,
    },
    /// `--group NAME` that the project does not define.
    #[error("{}: unknown group `{group}`; {known}", path.display())]
    UnknownGroup {
        path: PathBuf,
        group: String,
        known: String,
    },
    /// PEP 735 `include-group` entries that form a cycle.
    #[error(
        "{}: dependency group `{group}` includes itself ({cycle}); remove one of the \
         `include-group` entries",
        at(path, *pos)
    )]
    GroupCycle {
        path: PathBuf,
        pos: Option<TextPos>,
        group: String,
        cycle: String,
    },
    /// A dependency string that is not PEP 508.
    #[error(
        "{}: invalid requirement `{requirement}` (expected e.g. `name[extra]>=1.0; \
         python_version < \"3.13\"`): {message}",
        at(path, *pos)
    )]
    InvalidRequirement {
        path: PathBuf,
        pos: Option<TextPos>,
        requirement: String,
        message: String,
    },
    /// A Poetry version constraint that cannot be converted to PEP 440.
    #[error(
        "{}: cannot use version constraint `{constraint}` of `{name}`: {message}",
        at(path, *pos)
    )]
    PoetryConstraint {
        path: PathBuf,
        pos: Option<TextPos>,
        name: String,
        constraint: String,
        message: String,
    },
    /// A dependency from git, a local path or a URL.
    #[error(
        "{}: `{name}` comes from {origin}, not from a package index: list a local \
         directory in pylayer.toml's `local = [...]` (pylayer builds it), publish the package \
         to an index and depend on it by version, or build a wheel and list it by path in a \
         requirements.txt",
        at(path, *pos)
    )]
    NotFromIndex {
        path: PathBuf,
        pos: Option<TextPos>,
        name: String,
        origin: String,
    },
    /// A lock-file format version pylayer does not know.
    #[error(
        "{}: unsupported {what} `{found}`; pylayer reads {supported}: regenerate the lock with a \
         current tool, or export the requirements ({export}) and pass that file with -r",
        at(path, *pos)
    )]
    UnsupportedVersion {
        path: PathBuf,
        pos: Option<TextPos>,
        what: &'static str,
        found: String,
        supported: &'static str,
        export: &'static str,
    },
    /// A uv.lock without the project itself.
    #[error(
        "{}: uv.lock has no project package (one with source `editable`, `virtual` or \
         `directory` at \".\"), so pylayer cannot tell what the project requires; run `uv lock` \
         in the project directory, or export the requirements with `uv export --no-dev \
         --no-emit-project -o requirements.txt` and pass that file with -r",
        path.display()
    )]
    NoRoot { path: PathBuf },
    /// A Poetry 1.5–1.8 lock without its pyproject.toml.
    #[error(
        "{}: this poetry.lock (Poetry 1.5–1.8) does not record which group each package belongs \
         to, and there is no pyproject.toml beside it to tell runtime from development \
         dependencies; keep the project's pyproject.toml next to poetry.lock, or export the \
         requirements with `poetry export -o requirements.txt` and pass that file with -r",
        path.display()
    )]
    PoetryLockWithoutGroups { path: PathBuf },
}

/// `path:line:column` when the position is known, else `path`.
fn at(path: &Path, pos: Option<TextPos>) -> String {
    match pos {
        Some(pos) => format!("{}:{pos}", path.display()),
        None => path.display().to_string(),
    }
}
