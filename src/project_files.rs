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

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::wheel_name::normalize_name;

use toml::{Table, Value};
use uv_normalize::ExtraName;
use uv_pep508::{MarkerTree, Requirement, VersionOrUrl};

use crate::requirements::{RequirementsInput, SourcedRequirement};
use crate::target::{Arch, Target};

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

/// Why a project file cannot be used. Messages start with `path:LINE:COL:` for syntax errors,
/// `path:LINE:` when the offending entry's line is known, else `path:`; each says what is
/// wrong and what to do.
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
    #[error("{}:{line}:{column}: invalid TOML: {message}; {hint}", path.display())]
    Toml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        hint: String,
    },
    /// JSON syntax error.
    #[error("{}:{line}:{column}: invalid JSON: {message}; {hint}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        hint: String,
    },
    /// Valid TOML/JSON, but not shaped as the tool writes it.
    #[error("{}: {message}; {hint}", at(path, *line))]
    Malformed {
        path: PathBuf,
        line: Option<usize>,
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
        at(path, *line)
    )]
    Dynamic {
        path: PathBuf,
        line: Option<usize>,
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
        at(path, *line)
    )]
    GroupCycle {
        path: PathBuf,
        line: Option<usize>,
        group: String,
        cycle: String,
    },
    /// A dependency string that is not PEP 508.
    #[error(
        "{}: invalid requirement `{requirement}` (expected e.g. `name[extra]>=1.0; \
         python_version < \"3.13\"`): {message}",
        at(path, *line)
    )]
    InvalidRequirement {
        path: PathBuf,
        line: Option<usize>,
        requirement: String,
        message: String,
    },
    /// A Poetry version constraint that cannot be converted to PEP 440.
    #[error(
        "{}: cannot use version constraint `{constraint}` of `{name}`: {message}",
        at(path, *line)
    )]
    PoetryConstraint {
        path: PathBuf,
        line: Option<usize>,
        name: String,
        constraint: String,
        message: String,
    },
    /// A dependency from git, a local path or a URL.
    #[error(
        "{}: `{name}` comes from {origin}, not from a package index; pylayer installs released \
         wheels from an index and never builds from source: publish the package to an index \
         and depend on it by version (or build a wheel and list it by path in a \
         requirements.txt)",
        at(path, *line)
    )]
    NotFromIndex {
        path: PathBuf,
        line: Option<usize>,
        name: String,
        origin: String,
    },
    /// A lock-file format version pylayer does not know.
    #[error(
        "{}: unsupported {what} `{found}`; pylayer reads {supported}: regenerate the lock with a \
         current tool, or export the requirements ({export}) and pass that file with -r",
        at(path, *line)
    )]
    UnsupportedVersion {
        path: PathBuf,
        line: Option<usize>,
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

/// `path:line` when the line is known, else `path`.
fn at(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    }
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
        ProjectFileKind::PyProject => read_pyproject(path, opts)?,
        ProjectFileKind::UvLock => read_uv_lock(path, opts)?,
        ProjectFileKind::PoetryLock => read_poetry_lock(path, opts)?,
        ProjectFileKind::PipfileLock => read_pipfile_lock(path, opts)?,
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

// ---------------------------------------------------------------------------------------------
// Shared helpers: reading, parsing, locating entries in the text.

fn read_text(path: &Path) -> Result<String, ProjectFileError> {
    let bytes = std::fs::read(path).map_err(|error| ProjectFileError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    String::from_utf8(bytes.to_vec()).map_err(|_| ProjectFileError::Encoding {
        path: path.to_path_buf(),
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn parse_toml(path: &Path, text: &str, hint: &str) -> Result<Table, ProjectFileError> {
    toml::from_str::<Table>(text).map_err(|error| {
        let (line, column) = error
            .span()
            .map_or((1, 1), |span| line_col(text, span.start));
        ProjectFileError::Toml {
            path: path.to_path_buf(),
            line,
            column,
            message: error.message().trim().to_string(),
            hint: hint.to_string(),
        }
    })
}

/// Whether `marker` can be true on any Lambda Python runtime and architecture (with no extras
/// active); dependencies that cannot are never installed there and need not be checked.
fn may_apply_on_lambda(marker: MarkerTree) -> bool {
    if marker.is_true() {
        return true;
    }
    crate::domain::RUNTIMES.iter().any(|runtime| {
        [Arch::X86_64, Arch::Arm64].into_iter().any(|arch| {
            Target::new(runtime.minor, arch)
                .is_ok_and(|target| marker.evaluate(&target.marker_environment(), &[]))
        })
    })
}

/// "known extras: a, b" or the given fallback when there are none.
fn known_list(what: &str, names: &[String], none: &str) -> String {
    if names.is_empty() {
        none.to_string()
    } else {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        format!("known {what}: {}", quoted.join(", "))
    }
}

/// Picks the requested names (compared normalised) among `known` (as written), returning them
/// as written; `all` selects every known name.
fn select<'k>(
    known: &'k [String],
    requested: &[String],
    all: bool,
    unknown: impl Fn(&str) -> ProjectFileError,
) -> Result<Vec<&'k String>, ProjectFileError> {
    if all {
        return Ok(known.iter().collect());
    }
    let mut out: Vec<&String> = Vec::new();
    for name in requested {
        let wanted = normalize_name(name);
        let found = known
            .iter()
            .find(|k| normalize_name(k) == wanted)
            .ok_or_else(|| unknown(name))?;
        if !out.contains(&found) {
            out.push(found);
        }
    }
    Ok(out)
}

/// A file's text, for turning positions into line numbers and finding where entries are.
struct Doc<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Doc<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Doc { path, text }
    }

    fn line_at(&self, offset: usize) -> usize {
        line_col(self.text, offset).0
    }

    /// Lines with their byte offsets, starting with the line that contains `from`.
    fn lines_from(&self, from: usize) -> impl Iterator<Item = (usize, &'a str)> {
        let start = self.text[..from.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let text = self.text;
        text[start..]
            .split_inclusive('\n')
            .scan(start, |offset, line| {
                let here = *offset;
                *offset += line.len();
                Some((here, line))
            })
    }

    /// The name of a table header line (`[a."b-c"]` → `a.b-c`), with `double` for `[[…]]`.
    fn header_name(line: &str, double: bool) -> Option<String> {
        let t = line.trim();
        let inner = if double {
            t.strip_prefix("[[")?
        } else {
            t.strip_prefix('[').filter(|r| !r.starts_with('['))?
        };
        let end = inner.find(']')?;
        Some(
            inner[..end]
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
                .collect(),
        )
    }

    /// Offset of the first `[name]` header at or after `from`.
    fn header(&self, from: usize, name: &str) -> Option<usize> {
        self.lines_from(from)
            .find(|(offset, line)| {
                *offset >= from && Self::header_name(line, false).as_deref() == Some(name)
            })
            .map(|(offset, _)| offset)
    }

    /// Offsets of every `[[name]]` header, in order.
    fn array_headers(&self, name: &str) -> Vec<usize> {
        self.lines_from(0)
            .filter(|(_, line)| Self::header_name(line, true).as_deref() == Some(name))
            .map(|(offset, _)| offset)
            .collect()
    }

    /// Offset of the line assigning `key` (bare or quoted) in the table that starts at `from`
    /// (a header line, whose own line is skipped, or the top of the file), stopping at the next
    /// table header.
    fn find_key(&self, from: usize, key: &str) -> Option<usize> {
        let mut first = true;
        for (offset, line) in self.lines_from(from) {
            let t = line.trim_start();
            if t.starts_with('[') {
                if first {
                    first = false;
                    continue;
                }
                return None;
            }
            first = false;
            for form in [key.to_string(), format!("\"{key}\""), format!("'{key}'")] {
                if let Some(rest) = t.strip_prefix(&form)
                    && rest.trim_start().starts_with('=')
                {
                    return Some(offset);
                }
            }
        }
        None
    }

    /// Start and end offsets of the first `"value"` or `'value'` at or after `from`.
    fn find_quoted(&self, from: usize, value: &str) -> Option<(usize, usize)> {
        let hay = self.text.get(from..)?;
        ['"', '\'']
            .iter()
            .filter_map(|q| {
                let needle = format!("{q}{value}{q}");
                hay.find(&needle)
                    .map(|i| (from + i, from + i + needle.len()))
            })
            .min()
    }

    /// Where a list assigned to `key` starts: the offset to search its entries from, and the
    /// line to blame when an entry cannot be found (the key's line, else the first header found
    /// among `headers`, else line 1).
    fn list_start(&self, headers: &[&str], key: &str) -> (usize, usize) {
        for header in headers {
            if let Some(h) = self.header(0, header) {
                return match self.find_key(h, key) {
                    Some(k) => (k, self.line_at(k)),
                    None => (h, self.line_at(h)),
                };
            }
        }
        match self.find_key(0, key) {
            Some(k) => (k, self.line_at(k)),
            None => (0, 1),
        }
    }

    fn malformed(&self, line: Option<usize>, message: String, hint: &str) -> ProjectFileError {
        ProjectFileError::Malformed {
            path: self.path.to_path_buf(),
            line,
            message,
            hint: hint.to_string(),
        }
    }

    fn parse_requirement(&self, text: &str, line: usize) -> Result<Requirement, ProjectFileError> {
        let base = self.path.parent().unwrap_or(Path::new(""));
        Requirement::parse(text, base).map_err(|error| ProjectFileError::InvalidRequirement {
            path: self.path.to_path_buf(),
            line: Some(line),
            requirement: text.to_string(),
            message: error.to_string(),
        })
    }

    fn parse_marker(&self, text: &str, line: usize) -> Result<MarkerTree, ProjectFileError> {
        MarkerTree::from_str(text).map_err(|error| {
            self.malformed(
                Some(line),
                format!("invalid marker `{text}`: {error}"),
                "fix the marker or regenerate the file with its tool",
            )
        })
    }

    fn sourced(&self, requirement: Requirement, line: usize) -> SourcedRequirement {
        SourcedRequirement {
            requirement,
            file: self.path.to_path_buf(),
            line,
            hashes: Vec::new(),
        }
    }
}

/// Rejects direct references that are not wheels (VCS URLs, source archives, directories).
fn check_direct_url(doc: &Doc<'_>, req: &Requirement, line: usize) -> Result<(), ProjectFileError> {
    let Some(VersionOrUrl::Url(url)) = &req.version_or_url else {
        return Ok(());
    };
    let shown = url.to_string();
    let parsed = url.to_url();
    let scheme = parsed.scheme().to_ascii_lowercase();
    let origin = if ["git", "hg", "svn", "bzr"]
        .iter()
        .any(|vcs| scheme == *vcs || scheme.starts_with(&format!("{vcs}+")))
    {
        format!("the version-control URL {shown}")
    } else if parsed.path().to_ascii_lowercase().ends_with(".whl") {
        return Ok(());
    } else if scheme == "file" {
        format!("the local source {shown} (not a .whl file)")
    } else {
        format!("{shown}, which is not a .whl file")
    };
    Err(ProjectFileError::NotFromIndex {
        path: doc.path.to_path_buf(),
        line: Some(line),
        name: req.name.to_string(),
        origin,
    })
}

fn string_list(
    doc: &Doc<'_>,
    value: Option<&Value>,
    what: &str,
    line: Option<usize>,
) -> Result<Vec<String>, ProjectFileError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            doc.malformed(
                line,
                format!("`{what}` must be a list of strings"),
                "fix the file",
            )
        })
}

fn sub_table<'t>(
    doc: &Doc<'_>,
    table: &'t Table,
    key: &str,
    what: &str,
) -> Result<Option<&'t Table>, ProjectFileError> {
    match table.get(key) {
        None => Ok(None),
        Some(Value::Table(t)) => Ok(Some(t)),
        Some(_) => Err(doc.malformed(None, format!("`{what}` must be a table"), "fix the file")),
    }
}

// ---------------------------------------------------------------------------------------------
// pyproject.toml

fn read_pyproject(path: &Path, opts: &ProjectOptions) -> Result<Read, ProjectFileError> {
    let text = read_text(path)?;
    let table = parse_toml(path, &text, "fix the syntax of pyproject.toml")?;
    let doc = Doc::new(path, &text);
    let requirements = pyproject_requirements(&doc, &table, opts)?;
    Ok(Read {
        requirements,
        constraints: Vec::new(),
        files: vec![path.to_path_buf()],
    })
}

/// The requirements a pyproject.toml declares for `opts`.
fn pyproject_requirements(
    doc: &Doc<'_>,
    table: &Table,
    opts: &ProjectOptions,
) -> Result<Vec<SourcedRequirement>, ProjectFileError> {
    let project = sub_table(doc, table, "project", "project")?;
    let tool = table.get("tool").and_then(Value::as_table);
    let poetry = tool.and_then(|t| t.get("poetry")).and_then(Value::as_table);
    let poetry_deps = poetry
        .and_then(|p| p.get("dependencies"))
        .and_then(Value::as_table);
    let project_line = doc.header(0, "project").map(|o| doc.line_at(o));
    let dynamic = match project {
        Some(p) => string_list(doc, p.get("dynamic"), "[project].dynamic", project_line)?,
        None => Vec::new(),
    };
    let is_dynamic = |field: &str| dynamic.iter().any(|d| d == field);
    let dynamic_line = || {
        doc.header(0, "project")
            .and_then(|h| doc.find_key(h, "dynamic"))
            .map(|o| doc.line_at(o))
            .or(project_line)
    };
    let self_name = project
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(normalize_name);
    let optional = match project {
        Some(p) => sub_table(
            doc,
            p,
            "optional-dependencies",
            "[project.optional-dependencies]",
        )?,
        None => None,
    };
    let mut collector = Collector {
        doc,
        self_name,
        optional,
        expanding: Vec::new(),
        out: Vec::new(),
    };

    let use_poetry = match project {
        Some(_) if !is_dynamic("dependencies") => false,
        Some(_) if poetry_deps.is_some() => true,
        Some(_) => {
            return Err(ProjectFileError::Dynamic {
                path: doc.path.to_path_buf(),
                line: dynamic_line(),
                field: "dependencies".to_string(),
            });
        }
        None if poetry_deps.is_some() => true,
        None => {
            return Err(ProjectFileError::NoProject {
                path: doc.path.to_path_buf(),
            });
        }
    };

    if let (true, Some(poetry), Some(deps)) = (use_poetry, poetry, poetry_deps) {
        let extras = sub_table(doc, poetry, "extras", "[tool.poetry.extras]")?;
        let known: Vec<String> = extras
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default();
        let chosen = select(&known, &opts.extras, opts.all_extras, |extra| {
            ProjectFileError::UnknownExtra {
                path: doc.path.to_path_buf(),
                extra: extra.to_string(),
                known: known_list(
                    "extras",
                    &known,
                    "the project defines no extras ([tool.poetry.extras] is empty or absent)",
                ),
            }
        })?;
        let mut selected = HashSet::new();
        for extra in chosen {
            let line = doc.header(0, "tool.poetry.extras").map(|o| doc.line_at(o));
            let names = string_list(
                doc,
                extras.and_then(|e| e.get(extra.as_str())),
                &format!("[tool.poetry.extras].{extra}"),
                line,
            )?;
            // Entries are package names, possibly followed by a constraint (`pkg (>=1)`).
            selected.extend(names.iter().map(|n| {
                let end = n
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                    .unwrap_or(n.len());
                normalize_name(&n[..end])
            }));
        }
        collector.push_poetry(deps, "tool.poetry.dependencies", Some(&selected))?;
    } else if let Some(project) = project {
        if let Some(deps) = project.get("dependencies") {
            let (from, line) = doc.list_start(&["project"], "dependencies");
            collector.push_list(deps, "[project].dependencies", from, line, MarkerTree::TRUE)?;
        }
        if opts.all_extras || !opts.extras.is_empty() {
            if is_dynamic("optional-dependencies") && optional.is_none() {
                return Err(ProjectFileError::Dynamic {
                    path: doc.path.to_path_buf(),
                    line: dynamic_line(),
                    field: "optional-dependencies".to_string(),
                });
            }
            let known: Vec<String> = optional
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            let chosen = select(&known, &opts.extras, opts.all_extras, |extra| {
                ProjectFileError::UnknownExtra {
                    path: doc.path.to_path_buf(),
                    extra: extra.to_string(),
                    known: known_list(
                        "extras",
                        &known,
                        "the project defines no extras ([project.optional-dependencies] is empty \
                         or absent)",
                    ),
                }
            })?;
            for extra in chosen {
                collector.push_extra(extra, MarkerTree::TRUE)?;
            }
        }
    }

    if !opts.groups.is_empty() {
        let groups = sub_table(doc, table, "dependency-groups", "[dependency-groups]")?;
        let poetry_groups = match poetry {
            Some(p) => sub_table(doc, p, "group", "[tool.poetry.group]")?,
            None => None,
        };
        let poetry_dev = poetry
            .and_then(|p| p.get("dev-dependencies"))
            .and_then(Value::as_table);
        let uv_dev = tool
            .and_then(|t| t.get("uv"))
            .and_then(Value::as_table)
            .and_then(|uv| uv.get("dev-dependencies"));
        let mut known: Vec<String> = Vec::new();
        let mut add_known = |name: &str| {
            if !known
                .iter()
                .any(|k| normalize_name(k) == normalize_name(name))
            {
                known.push(name.to_string());
            }
        };
        groups
            .iter()
            .flat_map(|g| g.keys())
            .for_each(|k| add_known(k));
        poetry_groups
            .iter()
            .flat_map(|g| g.keys())
            .for_each(|k| add_known(k));
        if poetry_dev.is_some() || uv_dev.is_some() {
            add_known("dev");
        }
        for group in &opts.groups {
            let wanted = normalize_name(group);
            let mut found = false;
            if let Some(groups) = groups
                && let Some(written) = groups.keys().find(|k| normalize_name(k) == wanted)
            {
                found = true;
                collector.push_group(groups, written, &mut Vec::new())?;
            }
            if let Some(poetry_groups) = poetry_groups
                && let Some((written, group_table)) = poetry_groups
                    .iter()
                    .find(|(k, _)| normalize_name(k) == wanted)
                && let Some(deps) = group_table.get("dependencies").and_then(Value::as_table)
            {
                found = true;
                collector.push_poetry(
                    deps,
                    &format!("tool.poetry.group.{written}.dependencies"),
                    None,
                )?;
            }
            if wanted == "dev" {
                if let Some(deps) = poetry_dev {
                    found = true;
                    collector.push_poetry(deps, "tool.poetry.dev-dependencies", None)?;
                }
                if let Some(deps) = uv_dev {
                    found = true;
                    let (from, line) = doc.list_start(&["tool.uv"], "dev-dependencies");
                    collector.push_list(
                        deps,
                        "[tool.uv].dev-dependencies",
                        from,
                        line,
                        MarkerTree::TRUE,
                    )?;
                }
            }
            if !found {
                return Err(ProjectFileError::UnknownGroup {
                    path: doc.path.to_path_buf(),
                    group: group.clone(),
                    known: known_list(
                        "groups",
                        &known,
                        "the project defines no groups ([dependency-groups] is empty or absent)",
                    ),
                });
            }
        }
    }
    Ok(collector.out)
}

/// Collects the requirements of a pyproject.toml, expanding references to the project itself
/// (`myproject[extra]`) into that extra's dependencies.
struct Collector<'d, 't> {
    doc: &'d Doc<'d>,
    /// The project's normalised name, for recognising self-references.
    self_name: Option<String>,
    optional: Option<&'t Table>,
    /// Extras being expanded, to stop self-reference loops.
    expanding: Vec<String>,
    out: Vec<SourcedRequirement>,
}

impl Collector<'_, '_> {
    fn push_list(
        &mut self,
        value: &Value,
        what: &str,
        mut from: usize,
        line: usize,
        marker: MarkerTree,
    ) -> Result<(), ProjectFileError> {
        let items = value.as_array().ok_or_else(|| {
            self.doc.malformed(
                Some(line),
                format!("`{what}` must be a list of requirement strings"),
                "write it as [\"name>=1.0\", …]",
            )
        })?;
        for item in items {
            let text = item.as_str().ok_or_else(|| {
                self.doc.malformed(
                    Some(line),
                    format!("`{what}` must be a list of requirement strings, found {item}"),
                    "write each requirement as a string",
                )
            })?;
            self.push_one(text, &mut from, line, marker)?;
        }
        Ok(())
    }

    /// One PEP 508 string; `from` advances past it so repeated strings get their own lines.
    fn push_one(
        &mut self,
        text: &str,
        from: &mut usize,
        fallback_line: usize,
        marker: MarkerTree,
    ) -> Result<(), ProjectFileError> {
        let line = match self.doc.find_quoted(*from, text) {
            Some((start, end)) => {
                *from = end;
                self.doc.line_at(start)
            }
            None => fallback_line,
        };
        let mut req = self.doc.parse_requirement(text.trim(), line)?;
        req.marker = req.marker.and(marker);
        if self.self_name.as_deref() == Some(normalize_name(req.name.as_ref()).as_str()) {
            // `myproject[extra]`: the project's own extra, not a package from the index.
            let extras: Vec<String> = req.extras.iter().map(ToString::to_string).collect();
            for extra in extras {
                self.push_extra(&extra, req.marker)?;
            }
            return Ok(());
        }
        check_direct_url(self.doc, &req, line)?;
        self.out.push(self.doc.sourced(req, line));
        Ok(())
    }

    fn push_extra(&mut self, extra: &str, marker: MarkerTree) -> Result<(), ProjectFileError> {
        let wanted = normalize_name(extra);
        let Some(optional) = self.optional else {
            return Ok(());
        };
        if self.expanding.contains(&wanted) {
            return Ok(());
        }
        let Some((written, list)) = optional.iter().find(|(k, _)| normalize_name(k) == wanted)
        else {
            return Ok(());
        };
        let (from, line) = self
            .doc
            .list_start(&["project.optional-dependencies", "project"], written);
        self.expanding.push(wanted);
        let what = format!("[project.optional-dependencies].{written}");
        let result = self.push_list(list, &what, from, line, marker);
        self.expanding.pop();
        result
    }

    /// A PEP 735 group, following `{include-group = "…"}` entries.
    fn push_group(
        &mut self,
        groups: &Table,
        written: &str,
        stack: &mut Vec<String>,
    ) -> Result<(), ProjectFileError> {
        let (mut from, line) = self.doc.list_start(&["dependency-groups"], written);
        let items = groups
            .get(written)
            .and_then(Value::as_array)
            .ok_or_else(|| {
                self.doc.malformed(
                    Some(line),
                    format!("dependency group `{written}` must be a list"),
                    "write it as [\"name>=1.0\", {include-group = \"other\"}, …]",
                )
            })?;
        stack.push(written.to_string());
        for item in items {
            match item {
                Value::String(text) => self.push_one(text, &mut from, line, MarkerTree::TRUE)?,
                Value::Table(entry) => {
                    let Some(target) = entry.get("include-group").and_then(Value::as_str) else {
                        return Err(self.doc.malformed(
                            Some(line),
                            format!(
                                "dependency group `{written}` has an entry that is neither a \
                                 requirement string nor {{include-group = \"NAME\"}}"
                            ),
                            "see PEP 735 for the format",
                        ));
                    };
                    let wanted = normalize_name(target);
                    let Some(target_written) = groups.keys().find(|k| normalize_name(k) == wanted)
                    else {
                        let known: Vec<String> = groups.keys().cloned().collect();
                        return Err(self.doc.malformed(
                            Some(line),
                            format!(
                                "dependency group `{written}` includes unknown group `{target}`"
                            ),
                            &known_list("groups", &known, "no groups are defined"),
                        ));
                    };
                    if let Some(pos) = stack.iter().position(|g| normalize_name(g) == wanted) {
                        let mut cycle = stack[pos..].to_vec();
                        cycle.push(target_written.clone());
                        return Err(ProjectFileError::GroupCycle {
                            path: self.doc.path.to_path_buf(),
                            line: Some(line),
                            group: target_written.clone(),
                            cycle: cycle.join(" → "),
                        });
                    }
                    self.push_group(groups, target_written, stack)?;
                }
                other => {
                    return Err(self.doc.malformed(
                        Some(line),
                        format!("dependency group `{written}` has an invalid entry {other}"),
                        "entries are requirement strings or {include-group = \"NAME\"}",
                    ));
                }
            }
        }
        stack.pop();
        Ok(())
    }

    /// A Poetry dependency table; optional dependencies are taken only when their name is in
    /// `selected` (the packages of the chosen extras); `None` takes every entry (groups).
    fn push_poetry(
        &mut self,
        table: &Table,
        header: &str,
        selected: Option<&HashSet<String>>,
    ) -> Result<(), ProjectFileError> {
        let doc = self.doc;
        let header_offset = doc.header(0, header);
        for (name, spec) in table {
            if name.eq_ignore_ascii_case("python") {
                continue;
            }
            let line = doc
                .header(0, &format!("{header}.{name}"))
                .or_else(|| header_offset.and_then(|h| doc.find_key(h, name)))
                .or(header_offset)
                .map_or(1, |offset| doc.line_at(offset));
            let specs: Vec<&Value> = match spec {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for spec in specs {
                if let Some(req) = poetry_requirement(doc, name, spec, line, selected)? {
                    self.out.push(doc.sourced(req, line));
                }
            }
        }
        Ok(())
    }
}

/// Converts one Poetry dependency (`name = "^1.2"` or `name = {version = …, …}`).
fn poetry_requirement(
    doc: &Doc<'_>,
    name: &str,
    spec: &Value,
    line: usize,
    selected: Option<&HashSet<String>>,
) -> Result<Option<Requirement>, ProjectFileError> {
    let constraint_error = |constraint: &str, message: String| ProjectFileError::PoetryConstraint {
        path: doc.path.to_path_buf(),
        line: Some(line),
        name: name.to_string(),
        constraint: constraint.to_string(),
        message,
    };
    let mut markers: Vec<String> = Vec::new();
    let mut extras: Vec<String> = Vec::new();
    let version = match spec {
        Value::String(version) => version.clone(),
        Value::Table(t) => {
            let optional = t.get("optional").and_then(Value::as_bool).unwrap_or(false);
            if optional && selected.is_some_and(|s| !s.contains(&normalize_name(name))) {
                return Ok(None);
            }
            for (key, what) in [
                ("git", "the git repository"),
                ("path", "the local path"),
                ("url", "the URL"),
            ] {
                if let Some(value) = t.get(key) {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_string);
                    return Err(ProjectFileError::NotFromIndex {
                        path: doc.path.to_path_buf(),
                        line: Some(line),
                        name: name.to_string(),
                        origin: format!("{what} {value}"),
                    });
                }
            }
            extras = string_list(doc, t.get("extras"), &format!("{name}.extras"), Some(line))?;
            if let Some(marker) = t.get("markers").and_then(Value::as_str) {
                markers.push(marker.to_string());
            }
            if let Some(python) = t.get("python").and_then(Value::as_str) {
                let marker = python_marker(python).map_err(|m| constraint_error(python, m))?;
                markers.extend(marker);
            }
            if let Some(platform) = t.get("platform").and_then(Value::as_str) {
                markers.push(format!("sys_platform == '{platform}'"));
            }
            t.get("version")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_string()
        }
        other => {
            return Err(doc.malformed(
                Some(line),
                format!("dependency `{name}` must be a version string or a table, found {other}"),
                "write it as `name = \"^1.2\"` or `name = {version = \"^1.2\", extras = […]}`",
            ));
        }
    };
    let specifiers = poetry_specifiers(&version).map_err(|m| constraint_error(&version, m))?;
    let mut text = name.to_string();
    if !extras.is_empty() {
        text.push_str(&format!("[{}]", extras.join(",")));
    }
    text.push_str(&specifiers);
    if !markers.is_empty() {
        let joined: Vec<String> = if markers.len() == 1 {
            markers
        } else {
            markers.iter().map(|m| format!("({m})")).collect()
        };
        text.push_str(" ; ");
        text.push_str(&joined.join(" and "));
    }
    doc.parse_requirement(&text, line).map(Some)
}

/// A Poetry version constraint as a PEP 440 specifier list (`""` for any version).
fn poetry_specifiers(constraint: &str) -> Result<String, String> {
    let alternatives = poetry_alternatives(constraint)?;
    if alternatives.len() > 1 {
        return Err(
            "either-or constraints (`||`) cannot be written as one PEP 440 specifier; narrow it \
             to one range"
                .to_string(),
        );
    }
    let clauses = alternatives.into_iter().next().unwrap_or_default();
    let joined = clauses.join(",");
    if !joined.is_empty() {
        uv_pep440::VersionSpecifiers::from_str(&joined).map_err(|e| e.to_string())?;
    }
    Ok(joined)
}

/// A Poetry `python` constraint as a marker (`None` for any version).
fn python_marker(constraint: &str) -> Result<Option<String>, String> {
    let alternatives = poetry_alternatives(constraint)?;
    if alternatives.iter().any(Vec::is_empty) {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for clauses in &alternatives {
        let mut terms = Vec::new();
        for clause in clauses {
            let split = clause
                .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~'))
                .unwrap_or(clause.len());
            let (op, version) = clause.split_at(split);
            let segments = version.trim_end_matches(".*").split('.').count();
            let variable = if segments > 2 || op == "===" {
                "python_full_version"
            } else {
                "python_version"
            };
            terms.push(format!("{variable} {op} '{version}'"));
        }
        parts.push(terms.join(" and "));
    }
    Ok(Some(if parts.len() == 1 {
        parts.remove(0)
    } else {
        parts
            .iter()
            .map(|p| format!("({p})"))
            .collect::<Vec<_>>()
            .join(" or ")
    }))
}

/// Splits a Poetry constraint into alternatives (`||`), each a list of PEP 440 clauses.
fn poetry_alternatives(constraint: &str) -> Result<Vec<Vec<String>>, String> {
    let mut alternatives = Vec::new();
    for alternative in constraint.split("||").flat_map(|a| a.split('|')) {
        let mut clauses = Vec::new();
        let mut pending_operator = String::new();
        for token in alternative
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            if token.chars().all(|c| "<>=!~^".contains(c)) {
                pending_operator.push_str(token);
                continue;
            }
            let atom = std::mem::take(&mut pending_operator) + token;
            clauses.extend(poetry_atom(&atom)?);
        }
        if !pending_operator.is_empty() {
            return Err(format!(
                "operator `{pending_operator}` has no version after it"
            ));
        }
        alternatives.push(clauses);
    }
    Ok(alternatives)
}

/// One Poetry constraint atom (`^1.2`, `~1.2`, `>=1.0`, `1.2.*`, `1.2`, `*`).
fn poetry_atom(atom: &str) -> Result<Vec<String>, String> {
    if atom == "*" {
        return Ok(Vec::new());
    }
    if let Some(version) = atom.strip_prefix('^') {
        let release = release_segments(version)?;
        let upper = if release[0] > 0 || release.len() == 1 {
            bump(&release, 0)
        } else if release[1] > 0 || release.len() == 2 {
            bump(&release, 1)
        } else {
            bump(&release, 2)
        };
        return Ok(vec![format!(">={version}"), format!("<{upper}")]);
    }
    if atom.starts_with("~=") {
        return Ok(vec![atom.to_string()]);
    }
    if let Some(version) = atom.strip_prefix('~') {
        let release = release_segments(version)?;
        let upper = bump(&release, if release.len() == 1 { 0 } else { 1 });
        return Ok(vec![format!(">={version}"), format!("<{upper}")]);
    }
    for op in ["===", "==", "!=", ">=", "<=", ">", "<"] {
        if atom.starts_with(op) {
            return Ok(vec![atom.to_string()]);
        }
    }
    let version = atom.strip_prefix('=').unwrap_or(atom);
    Ok(vec![format!("=={version}")])
}

/// The release numbers of a version (`1.2.3rc1` → [1, 2, 3]).
fn release_segments(version: &str) -> Result<Vec<u64>, String> {
    let parsed = uv_pep440::Version::from_str(version)
        .map_err(|e| format!("`{version}` is not a version: {e}"))?;
    let release: Vec<u64> = parsed.release().iter().copied().collect();
    if release.is_empty() {
        return Err(format!("`{version}` has no release number"));
    }
    Ok(release)
}

/// The release with segment `index` incremented and later segments zeroed, keeping at least
/// as many segments as written (`[1, 2]`, 0 → `2.0`).
fn bump(release: &[u64], index: usize) -> String {
    let len = release.len().max(index + 1);
    (0..len)
        .map(|i| match i.cmp(&index) {
            std::cmp::Ordering::Less => release.get(i).copied().unwrap_or(0),
            std::cmp::Ordering::Equal => release.get(i).copied().unwrap_or(0) + 1,
            std::cmp::Ordering::Greater => 0,
        })
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

// ---------------------------------------------------------------------------------------------
// uv.lock

const UV_HINT: &str = "uv.lock is written by uv: regenerate it with `uv lock`";

/// Where a locked package comes from.
#[derive(Debug, Clone, PartialEq)]
enum Origin {
    /// A package index (or find-links directory): installable by name and version.
    Registry,
    /// The project or a workspace member (`editable`, `virtual`, `directory`), with its path.
    Local(String),
    /// Anything else, described for messages.
    Other(String),
}

struct UvPackage<'t> {
    name: String,
    written: String,
    version: Option<String>,
    origin: Origin,
    table: &'t Table,
    /// Offset of its `[[package]]` header, when the file is laid out as uv writes it.
    header: Option<usize>,
}

fn uv_origin(source: Option<&Value>) -> Origin {
    let Some(source) = source.and_then(Value::as_table) else {
        return Origin::Registry;
    };
    let get = |key: &str| source.get(key).and_then(Value::as_str).map(str::to_string);
    if source.contains_key("registry") {
        Origin::Registry
    } else if let Some(path) = get("editable")
        .or_else(|| get("virtual"))
        .or_else(|| get("directory"))
    {
        Origin::Local(path)
    } else if let Some(url) = get("git") {
        Origin::Other(format!("the git repository {url}"))
    } else if let Some(url) = get("url") {
        Origin::Other(format!("the URL {url}"))
    } else if let Some(path) = get("path") {
        Origin::Other(format!("the local file {path}"))
    } else {
        Origin::Other(format!("the source {source}"))
    }
}

/// The list under `[package.SECTION].NAME` (NAME compared normalised), with its key as written.
fn named_list<'t>(pkg: &UvPackage<'t>, section: &str, wanted: &str) -> Option<(String, &'t Value)> {
    pkg.table
        .get(section)
        .and_then(Value::as_table)
        .and_then(|t| t.iter().find(|(k, _)| normalize_name(k) == wanted))
        .map(|(k, v)| (k.clone(), v))
}

fn read_uv_lock(path: &Path, opts: &ProjectOptions) -> Result<Read, ProjectFileError> {
    let text = read_text(path)?;
    let table = parse_toml(path, &text, UV_HINT)?;
    let doc = Doc::new(path, &text);
    let version_line = doc.find_key(0, "version").map(|o| doc.line_at(o));
    match table.get("version") {
        Some(Value::Integer(1)) => {}
        Some(other) => {
            return Err(ProjectFileError::UnsupportedVersion {
                path: path.to_path_buf(),
                line: version_line,
                what: "uv.lock version",
                found: other.to_string(),
                supported: "version 1",
                export: "`uv export --no-dev --no-emit-project -o requirements.txt`",
            });
        }
        None => {
            return Err(doc.malformed(
                None,
                "no top-level `version`: this is not a uv.lock".to_string(),
                UV_HINT,
            ));
        }
    }
    let headers = doc.array_headers("package");
    let items: &[Value] = match table.get("package") {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(doc.malformed(
                None,
                "`package` must be an array of tables".to_string(),
                UV_HINT,
            ));
        }
    };
    let mut packages = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let header = (headers.len() == items.len()).then(|| headers[index]);
        let line = header.map(|h| doc.line_at(h));
        let entry = item.as_table().ok_or_else(|| {
            doc.malformed(
                line,
                "a `[[package]]` entry is not a table".to_string(),
                UV_HINT,
            )
        })?;
        let written = entry
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                doc.malformed(line, "a `[[package]]` has no `name`".to_string(), UV_HINT)
            })?
            .to_string();
        packages.push(UvPackage {
            name: normalize_name(&written),
            written,
            version: entry
                .get("version")
                .and_then(Value::as_str)
                .map(str::to_string),
            origin: uv_origin(entry.get("source")),
            table: entry,
            header,
        });
    }

    let members: Option<HashSet<String>> = table
        .get("manifest")
        .and_then(Value::as_table)
        .and_then(|m| m.get("members"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(normalize_name)
                .collect()
        });
    let roots: Vec<&UvPackage<'_>> = packages
        .iter()
        .filter(|p| match (&p.origin, &members) {
            (Origin::Local(_), Some(members)) => members.contains(&p.name),
            (Origin::Local(local), None) => local == "." || local.is_empty(),
            _ => false,
        })
        .collect();
    if roots.is_empty() {
        return Err(ProjectFileError::NoRoot {
            path: path.to_path_buf(),
        });
    }
    let root_names: HashSet<&str> = roots.iter().map(|p| p.name.as_str()).collect();

    // Extras and groups the roots define.
    let mut known_extras: Vec<String> = Vec::new();
    let mut known_groups: Vec<String> = Vec::new();
    let push_known = |known: &mut Vec<String>, name: &str| {
        if !known
            .iter()
            .any(|k| normalize_name(k) == normalize_name(name))
        {
            known.push(name.to_string());
        }
    };
    for root in &roots {
        let metadata = root.table.get("metadata").and_then(Value::as_table);
        for key in root
            .table
            .get("optional-dependencies")
            .and_then(Value::as_table)
            .iter()
            .flat_map(|t| t.keys())
        {
            push_known(&mut known_extras, key);
        }
        for extra in metadata
            .and_then(|m| m.get("provides-extras"))
            .and_then(Value::as_array)
            .iter()
            .flat_map(|a| a.iter().filter_map(Value::as_str))
        {
            push_known(&mut known_extras, extra);
        }
        for table in [
            root.table.get("dev-dependencies"),
            metadata.and_then(|m| m.get("requires-dev")),
        ] {
            for key in table
                .and_then(Value::as_table)
                .iter()
                .flat_map(|t| t.keys())
            {
                push_known(&mut known_groups, key);
            }
        }
    }
    let extras: Vec<String> = select(&known_extras, &opts.extras, opts.all_extras, |extra| {
        ProjectFileError::UnknownExtra {
            path: path.to_path_buf(),
            extra: extra.to_string(),
            known: known_list("extras", &known_extras, "the project defines no extras"),
        }
    })?
    .into_iter()
    .map(|e| normalize_name(e))
    .collect();
    let groups: Vec<String> = select(&known_groups, &opts.groups, false, |group| {
        ProjectFileError::UnknownGroup {
            path: path.to_path_buf(),
            group: group.to_string(),
            known: known_list("groups", &known_groups, "the project defines no groups"),
        }
    })?
    .into_iter()
    .map(|g| normalize_name(g))
    .collect();

    // Lists of dependency entries to take: (list, search offset, fallback line, marker).
    struct Pending<'v> {
        list: &'v Value,
        from: usize,
        line: usize,
        marker: MarkerTree,
        owner: String,
    }
    let start_of = |pkg: &UvPackage<'_>, section: Option<&str>, key: &str| -> (usize, usize) {
        let Some(header) = pkg.header else {
            return (0, 1);
        };
        let table_start = match section {
            None => Some(header),
            Some(section) => doc.header(header, section),
        };
        match table_start.and_then(|t| doc.find_key(t, key)) {
            Some(offset) => (offset, doc.line_at(offset)),
            None => (header, doc.line_at(header)),
        }
    };
    let mut pending: Vec<Pending<'_>> = Vec::new();
    for root in &roots {
        if let Some(list) = root.table.get("dependencies") {
            let (from, line) = start_of(root, None, "dependencies");
            pending.push(Pending {
                list,
                from,
                line,
                marker: MarkerTree::TRUE,
                owner: root.written.clone(),
            });
        }
        for (section, header, names) in [
            (
                "optional-dependencies",
                "package.optional-dependencies",
                &extras,
            ),
            ("dev-dependencies", "package.dev-dependencies", &groups),
        ] {
            for wanted in names {
                if let Some((key, list)) = named_list(root, section, wanted) {
                    let (from, line) = start_of(root, Some(header), &key);
                    pending.push(Pending {
                        list,
                        from,
                        line,
                        marker: MarkerTree::TRUE,
                        owner: root.written.clone(),
                    });
                }
            }
        }
    }
    // Process in order, expanding extras of workspace members as they are met.
    pending.reverse();
    let mut expanded: HashSet<(String, String)> = HashSet::new();
    let mut requirements = Vec::new();
    while let Some(Pending {
        list,
        mut from,
        line,
        marker,
        owner,
    }) = pending.pop()
    {
        let entries = list.as_array().ok_or_else(|| {
            doc.malformed(
                Some(line),
                format!("the dependencies of `{owner}` must be an array"),
                UV_HINT,
            )
        })?;
        let mut nested: Vec<Pending<'_>> = Vec::new();
        for entry in entries {
            let dep = entry.as_table().ok_or_else(|| {
                doc.malformed(
                    Some(line),
                    format!("a dependency of `{owner}` is not a table"),
                    UV_HINT,
                )
            })?;
            let name = dep.get("name").and_then(Value::as_str).ok_or_else(|| {
                doc.malformed(
                    Some(line),
                    format!("a dependency of `{owner}` has no name"),
                    UV_HINT,
                )
            })?;
            let dep_line = match doc.find_quoted(from, name) {
                Some((start, end)) => {
                    from = end;
                    doc.line_at(start)
                }
                None => line,
            };
            let dep_extras = string_list(
                &doc,
                dep.get("extra"),
                &format!("{name}.extra"),
                Some(dep_line),
            )?;
            let version = dep.get("version").and_then(Value::as_str);
            let dep_marker = match dep.get("marker").and_then(Value::as_str) {
                Some(m) => doc.parse_marker(m, dep_line)?,
                None => MarkerTree::TRUE,
            }
            .and(marker);
            let normalized = normalize_name(name);
            if root_names.contains(normalized.as_str()) {
                // A workspace member: local code, already a root; only its extras add anything.
                let member = roots.iter().find(|r| r.name == normalized);
                for extra in &dep_extras {
                    let wanted = normalize_name(extra);
                    if let Some(member) = member
                        && expanded.insert((normalized.clone(), wanted.clone()))
                        && let Some((key, list)) =
                            named_list(member, "optional-dependencies", &wanted)
                    {
                        let (from, line) =
                            start_of(member, Some("package.optional-dependencies"), &key);
                        nested.push(Pending {
                            list,
                            from,
                            line,
                            marker: dep_marker,
                            owner: member.written.clone(),
                        });
                    }
                }
                continue;
            }
            let locked = packages.iter().find(|p| {
                p.name == normalized && version.is_none_or(|v| p.version.as_deref() == Some(v))
            });
            match locked.map(|p| &p.origin) {
                None => {
                    return Err(doc.malformed(
                        Some(dep_line),
                        format!(
                            "`{owner}` depends on `{name}`, which has no [[package]] entry \
                             (the lock is inconsistent)"
                        ),
                        UV_HINT,
                    ));
                }
                Some(Origin::Registry) => {}
                Some(Origin::Local(local)) => {
                    if may_apply_on_lambda(dep_marker) {
                        return Err(ProjectFileError::NotFromIndex {
                            path: path.to_path_buf(),
                            line: Some(dep_line),
                            name: name.to_string(),
                            origin: format!("the local project {local}"),
                        });
                    }
                    continue;
                }
                Some(Origin::Other(origin)) => {
                    if may_apply_on_lambda(dep_marker) {
                        return Err(ProjectFileError::NotFromIndex {
                            path: path.to_path_buf(),
                            line: Some(dep_line),
                            name: name.to_string(),
                            origin: origin.clone(),
                        });
                    }
                    continue;
                }
            }
            let mut spec = name.to_string();
            if !dep_extras.is_empty() {
                spec.push_str(&format!("[{}]", dep_extras.join(",")));
            }
            if let Some(version) = version {
                spec.push_str(&format!("=={version}"));
            }
            let mut req = doc.parse_requirement(&spec, dep_line)?;
            req.marker = dep_marker;
            requirements.push(doc.sourced(req, dep_line));
        }
        nested.reverse();
        pending.extend(nested);
    }

    // Every package from an index locked at a single version pins that version.
    let mut by_name: BTreeMap<&str, Vec<&UvPackage<'_>>> = BTreeMap::new();
    for package in &packages {
        by_name.entry(&package.name).or_default().push(package);
    }
    let mut constraints = Vec::new();
    for (_, versions) in by_name {
        let [package] = versions.as_slice() else {
            continue;
        };
        let (Origin::Registry, Some(version)) = (&package.origin, &package.version) else {
            continue;
        };
        let line = package.header.map_or(1, |h| {
            doc.find_key(h, "name")
                .map_or_else(|| doc.line_at(h), |o| doc.line_at(o))
        });
        let req = doc.parse_requirement(&format!("{}=={version}", package.written), line)?;
        constraints.push(doc.sourced(req, line));
    }
    Ok(Read {
        requirements,
        constraints,
        files: vec![path.to_path_buf()],
    })
}

// ---------------------------------------------------------------------------------------------
// poetry.lock

const POETRY_HINT: &str = "poetry.lock is written by Poetry: regenerate it with `poetry lock`";

struct PoetryPackage<'t> {
    name: String,
    written: String,
    version: String,
    optional: bool,
    /// Poetry 2 `groups`, or Poetry ≤1.4 `category`; empty for Poetry 1.5–1.8.
    groups: Vec<String>,
    markers: Option<&'t Value>,
    origin: Origin,
    hashes: Vec<String>,
    line: usize,
}

fn read_poetry_lock(path: &Path, opts: &ProjectOptions) -> Result<Read, ProjectFileError> {
    let text = read_text(path)?;
    let table = parse_toml(path, &text, POETRY_HINT)?;
    let doc = Doc::new(path, &text);
    let headers = doc.array_headers("package");
    let items: &[Value] = match table.get("package") {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(doc.malformed(
                None,
                "`package` must be an array of tables".to_string(),
                POETRY_HINT,
            ));
        }
    };
    let legacy_files = table
        .get("metadata")
        .and_then(Value::as_table)
        .and_then(|m| m.get("files"))
        .and_then(Value::as_table);
    let mut packages = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let header = (headers.len() == items.len()).then(|| headers[index]);
        let line = header.map_or(1, |h| {
            doc.find_key(h, "name")
                .map_or_else(|| doc.line_at(h), |o| doc.line_at(o))
        });
        let entry = item.as_table().ok_or_else(|| {
            doc.malformed(
                Some(line),
                "a `[[package]]` entry is not a table".to_string(),
                POETRY_HINT,
            )
        })?;
        let field = |key: &str| entry.get(key).and_then(Value::as_str);
        let (Some(written), Some(version)) = (field("name"), field("version")) else {
            return Err(doc.malformed(
                Some(line),
                "a `[[package]]` has no `name` or `version`".to_string(),
                POETRY_HINT,
            ));
        };
        let mut groups = string_list(&doc, entry.get("groups"), "groups", Some(line))?;
        if let Some(category) = field("category") {
            groups.push(category.to_string());
        }
        let origin = match entry.get("source").and_then(Value::as_table) {
            None => Origin::Registry,
            Some(source) => {
                let kind = source.get("type").and_then(Value::as_str).unwrap_or("");
                let url = source.get("url").and_then(Value::as_str).unwrap_or("");
                match kind {
                    "legacy" | "pypi" | "" => Origin::Registry,
                    "git" => Origin::Other(format!("the git repository {url}")),
                    "directory" => Origin::Other(format!("the local directory {url}")),
                    "file" => Origin::Other(format!("the local file {url}")),
                    "url" => Origin::Other(format!("the URL {url}")),
                    other => Origin::Other(format!("a `{other}` source {url}")),
                }
            }
        };
        let files = entry
            .get("files")
            .or_else(|| legacy_files.and_then(|f| f.get(written)));
        let mut hashes = Vec::new();
        for file in files.and_then(Value::as_array).into_iter().flatten() {
            if let Some(hash) = file.get("hash").and_then(Value::as_str) {
                let hash = hash.to_ascii_lowercase();
                if hash.starts_with("sha256:") && !hashes.contains(&hash) {
                    hashes.push(hash);
                }
            }
        }
        packages.push(PoetryPackage {
            name: normalize_name(written),
            written: written.to_string(),
            version: version.to_string(),
            optional: entry
                .get("optional")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            groups,
            markers: entry.get("markers"),
            origin,
            hashes,
            line,
        });
    }

    let mut read = Read {
        files: vec![path.to_path_buf()],
        ..Read::default()
    };
    let pyproject = path.with_file_name("pyproject.toml");
    if pyproject.is_file() {
        let pyproject_text = read_text(&pyproject)?;
        let pyproject_table = parse_toml(
            &pyproject,
            &pyproject_text,
            "fix the syntax of pyproject.toml",
        )?;
        let pyproject_doc = Doc::new(&pyproject, &pyproject_text);
        let requirements = pyproject_requirements(&pyproject_doc, &pyproject_table, opts)?;
        for req in &requirements {
            let name = normalize_name(req.requirement.name.as_ref());
            let locked: Vec<&PoetryPackage<'_>> =
                packages.iter().filter(|p| p.name == name).collect();
            if let Some(Origin::Other(origin)) = locked.first().map(|p| &p.origin)
                && locked.iter().all(|p| p.origin != Origin::Registry)
                && may_apply_on_lambda(req.requirement.marker)
            {
                return Err(ProjectFileError::NotFromIndex {
                    path: path.to_path_buf(),
                    line: Some(locked[0].line),
                    name: locked[0].written.clone(),
                    origin: origin.clone(),
                });
            }
        }
        read.requirements = requirements;
        read.files.push(pyproject);
    } else {
        read.requirements = poetry_lock_pins(&doc, &table, &packages, opts)?;
    }

    let mut by_name: BTreeMap<&str, Vec<&PoetryPackage<'_>>> = BTreeMap::new();
    for package in &packages {
        by_name.entry(&package.name).or_default().push(package);
    }
    for (_, versions) in by_name {
        if let [package] = versions.as_slice()
            && package.origin == Origin::Registry
        {
            let req = doc.parse_requirement(
                &format!("{}=={}", package.written, package.version),
                package.line,
            )?;
            read.constraints.push(doc.sourced(req, package.line));
        }
    }
    Ok(read)
}

/// Without a pyproject.toml: every package of the main group (and chosen groups and extras)
/// as `name==version ; markers` with its hashes.
fn poetry_lock_pins(
    doc: &Doc<'_>,
    table: &Table,
    packages: &[PoetryPackage<'_>],
    opts: &ProjectOptions,
) -> Result<Vec<SourcedRequirement>, ProjectFileError> {
    if !packages.is_empty() && packages.iter().all(|p| p.groups.is_empty()) {
        return Err(ProjectFileError::PoetryLockWithoutGroups {
            path: doc.path.to_path_buf(),
        });
    }
    let mut known_groups: Vec<String> = Vec::new();
    for group in packages.iter().flat_map(|p| &p.groups) {
        if !known_groups
            .iter()
            .any(|k| normalize_name(k) == normalize_name(group))
        {
            known_groups.push(group.clone());
        }
    }
    let mut wanted_groups = vec!["main".to_string()];
    for group in select(&known_groups, &opts.groups, false, |group| {
        ProjectFileError::UnknownGroup {
            path: doc.path.to_path_buf(),
            group: group.to_string(),
            known: known_list("groups", &known_groups, "the lock records no groups"),
        }
    })? {
        wanted_groups.push(normalize_name(group));
    }
    let extras_table = table.get("extras").and_then(Value::as_table);
    let known_extras: Vec<String> = extras_table
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let chosen = select(&known_extras, &opts.extras, opts.all_extras, |extra| {
        ProjectFileError::UnknownExtra {
            path: doc.path.to_path_buf(),
            extra: extra.to_string(),
            known: known_list("extras", &known_extras, "the lock records no extras"),
        }
    })?;
    let mut extra_packages = HashSet::new();
    let mut extra_names = Vec::new();
    for extra in chosen {
        if let Ok(name) = ExtraName::from_str(extra) {
            extra_names.push(name);
        }
        for package in extras_table
            .and_then(|t| t.get(extra.as_str()))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let end = package
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                .unwrap_or(package.len());
            extra_packages.insert(normalize_name(&package[..end]));
        }
    }

    let mut out = Vec::new();
    for package in packages {
        let in_groups: Vec<&String> = package
            .groups
            .iter()
            .filter(|g| wanted_groups.contains(&normalize_name(g)))
            .collect();
        if in_groups.is_empty() || (package.optional && !extra_packages.contains(&package.name)) {
            continue;
        }
        let marker = match package.markers {
            None => MarkerTree::TRUE,
            Some(Value::String(m)) => doc.parse_marker(m, package.line)?,
            Some(Value::Table(per_group)) => {
                let mut marker = MarkerTree::FALSE;
                for group in &in_groups {
                    marker = marker.or(
                        match per_group.get(group.as_str()).and_then(Value::as_str) {
                            Some(m) => doc.parse_marker(m, package.line)?,
                            None => MarkerTree::TRUE,
                        },
                    );
                }
                marker
            }
            Some(other) => {
                return Err(doc.malformed(
                    Some(package.line),
                    format!(
                        "`markers` of `{}` must be a string or a table, found {other}",
                        package.written
                    ),
                    POETRY_HINT,
                ));
            }
        }
        .simplify_extras(&extra_names);
        if let Origin::Other(origin) | Origin::Local(origin) = &package.origin {
            if may_apply_on_lambda(marker) {
                return Err(ProjectFileError::NotFromIndex {
                    path: doc.path.to_path_buf(),
                    line: Some(package.line),
                    name: package.written.clone(),
                    origin: origin.clone(),
                });
            }
            continue;
        }
        let mut req = doc.parse_requirement(
            &format!("{}=={}", package.written, package.version),
            package.line,
        )?;
        req.marker = marker;
        let mut sourced = doc.sourced(req, package.line);
        sourced.hashes = package.hashes.clone();
        out.push(sourced);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Pipfile.lock

const PIPENV_HINT: &str = "Pipfile.lock is written by pipenv: regenerate it with `pipenv lock`";

fn read_pipfile_lock(path: &Path, opts: &ProjectOptions) -> Result<Read, ProjectFileError> {
    let text = read_text(path)?;
    let root: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        ProjectFileError::Json {
            path: path.to_path_buf(),
            line: error.line().max(1),
            column: error.column().max(1),
            message,
            hint: PIPENV_HINT.to_string(),
        }
    })?;
    let doc = Doc::new(path, &text);
    let Some(root) = root.as_object() else {
        return Err(doc.malformed(
            Some(1),
            "the file is not a JSON object: not a Pipfile.lock".to_string(),
            PIPENV_HINT,
        ));
    };
    if let Some(extra) = opts.extras.first() {
        return Err(ProjectFileError::UnknownExtra {
            path: path.to_path_buf(),
            extra: extra.clone(),
            known: "Pipfile.lock records no extras (pipenv locks the packages of requested \
                    extras into `default`); remove --extra"
                .to_string(),
        });
    }
    let categories: Vec<String> = root
        .keys()
        .filter(|k| !matches!(k.as_str(), "_meta" | "default" | "develop"))
        .cloned()
        .collect();
    let mut sections = vec!["default".to_string()];
    for group in &opts.groups {
        let wanted = normalize_name(group);
        let section = if wanted == "dev" || wanted == "develop" {
            "develop".to_string()
        } else if let Some(category) = categories.iter().find(|c| normalize_name(c) == wanted) {
            category.clone()
        } else {
            let mut known = vec!["dev".to_string()];
            known.extend(categories.iter().cloned());
            return Err(ProjectFileError::UnknownGroup {
                path: path.to_path_buf(),
                group: group.clone(),
                known: format!(
                    "{} (`dev` is the `develop` section)",
                    known_list("groups", &known, "")
                ),
            });
        };
        if !sections.contains(&section) {
            sections.push(section);
        }
    }

    let mut requirements = Vec::new();
    for section in &sections {
        let section_offset = find_json_key(&text, 0, section);
        let section_line = section_offset.map(|o| doc.line_at(o));
        let Some(entries) = root.get(section.as_str()) else {
            continue;
        };
        let entries = entries.as_object().ok_or_else(|| {
            doc.malformed(
                section_line,
                format!("`{section}` must be an object of packages"),
                PIPENV_HINT,
            )
        })?;
        for (name, entry) in entries {
            let line = section_offset
                .and_then(|o| find_json_key(&text, o, name))
                .map(|o| doc.line_at(o))
                .or(section_line)
                .unwrap_or(1);
            let entry = entry.as_object().ok_or_else(|| {
                doc.malformed(
                    Some(line),
                    format!("entry `{name}` must be an object"),
                    PIPENV_HINT,
                )
            })?;
            let field = |key: &str| entry.get(key).and_then(serde_json::Value::as_str);
            let marker = match field("markers") {
                Some(m) => doc.parse_marker(m, line)?,
                None => MarkerTree::TRUE,
            };
            let origin = if let Some(url) = field("git") {
                Some(format!("the git repository {url}"))
            } else if let Some(p) = field("path") {
                Some(format!("the local path {p}"))
            } else if let Some(f) = field("file") {
                Some(format!("the file {f}"))
            } else if entry.get("editable").and_then(serde_json::Value::as_bool) == Some(true) {
                Some("an editable install".to_string())
            } else {
                ["hg", "svn", "bzr"]
                    .iter()
                    .find_map(|vcs| field(vcs).map(|url| format!("the {vcs} repository {url}")))
            };
            if let Some(origin) = origin {
                if may_apply_on_lambda(marker) {
                    return Err(ProjectFileError::NotFromIndex {
                        path: path.to_path_buf(),
                        line: Some(line),
                        name: name.clone(),
                        origin,
                    });
                }
                continue;
            }
            let Some(version) = field("version").filter(|v| v.starts_with("==")) else {
                return Err(doc.malformed(
                    Some(line),
                    format!("entry `{name}` has no pinned `version` (\"==X.Y\")"),
                    PIPENV_HINT,
                ));
            };
            let extras: Vec<&str> = entry
                .get("extras")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
                .collect();
            let mut spec = name.clone();
            if !extras.is_empty() {
                spec.push_str(&format!("[{}]", extras.join(",")));
            }
            spec.push_str(version);
            let mut req = doc.parse_requirement(&spec, line)?;
            req.marker = marker;
            let mut hashes: Vec<String> = Vec::new();
            for hash in entry
                .get("hashes")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
            {
                let hash = hash.to_ascii_lowercase();
                if hash.starts_with("sha256:") && !hashes.contains(&hash) {
                    hashes.push(hash);
                }
            }
            let mut sourced = doc.sourced(req, line);
            sourced.hashes = hashes;
            requirements.push(sourced);
        }
    }
    Ok(Read {
        requirements,
        constraints: Vec::new(),
        files: vec![path.to_path_buf()],
    })
}

/// Offset of the first `"key":` (a JSON object key) at or after `from`.
fn find_json_key(text: &str, from: usize, key: &str) -> Option<usize> {
    let needle = serde_json::to_string(key).ok()?;
    let mut start = from;
    while let Some(i) = text.get(start..)?.find(&needle) {
        let at = start + i;
        let rest = &text[at + needle.len()..];
        if rest.trim_start().starts_with(':') {
            return Some(at);
        }
        start = at + needle.len();
    }
    None
}

#[cfg(test)]
mod tests;
