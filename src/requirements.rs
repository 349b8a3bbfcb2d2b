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
    /// Every file read (top-level files and includes), in reading order, each once; their
    /// digests decide whether a lock must be redone.
    pub files: Vec<PathBuf>,
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

/// Why a requirements file cannot be used. Every message starts with `path:LINE:` (or `path:`
/// when a file given on the command line cannot be read), says what is wrong and what to do,
/// because these errors are read by people fixing their requirements file.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    /// A top-level requirements or constraints file cannot be read.
    #[error("{path}: cannot read requirements file: {error}; check the path given with -r/-c")]
    ReadFile {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is neither UTF-8 nor UTF-16 with a byte-order mark.
    #[error(
        "{path}: not a text file in UTF-8 (or UTF-16 with a byte-order mark); save it as UTF-8"
    )]
    Encoding { path: PathBuf },
    /// A file named by `-r`/`-c` cannot be read.
    #[error(
        "{file}:{line}: cannot read included file {included}: {error}; paths after -r/-c are \
         relative to the directory of the file that contains them"
    )]
    IncludeRead {
        file: PathBuf,
        line: usize,
        included: PathBuf,
        error: std::io::Error,
    },
    /// `-r https://…`: pylayer reads local files only.
    #[error(
        "{file}:{line}: remote requirements files are not supported ({url}); download the file \
         and include it by path"
    )]
    RemoteInclude {
        file: PathBuf,
        line: usize,
        url: String,
    },
    /// A file includes itself, directly or through other files.
    #[error(
        "{file}:{line}: including {included} creates a cycle (that file is already being read); \
         remove one of the -r/-c lines"
    )]
    IncludeCycle {
        file: PathBuf,
        line: usize,
        included: PathBuf,
    },
    /// `-e` / `--editable`.
    #[error(
        "{file}:{line}: editable install `{target}`: pylayer packages released wheels; editable \
         installs cannot go into a layer — install the project as a wheel or list its \
         dependencies"
    )]
    Editable {
        file: PathBuf,
        line: usize,
        target: String,
    },
    /// `git+https://…`, `name @ git+…` and other version-control URLs.
    #[error(
        "{file}:{line}: version-control requirement `{url}`: pylayer installs released wheels and \
         never builds from a checkout; build a wheel (`pip wheel URL -w dist`) and reference the \
         .whl file, or require a released version by name"
    )]
    Vcs {
        file: PathBuf,
        line: usize,
        url: String,
    },
    /// A local directory, source archive or other non-wheel path.
    #[error(
        "{file}:{line}: `{path}` is a local source tree or archive, not a wheel: pylayer installs \
         wheels and never builds from source; build a wheel (`pip wheel PATH -w dist`) and \
         reference the .whl file"
    )]
    LocalSource {
        file: PathBuf,
        line: usize,
        path: String,
    },
    /// A local `.whl` path that does not exist.
    #[error(
        "{file}:{line}: wheel file {path} does not exist; build it first or fix the path \
         (relative paths are resolved against the directory of the requirements file)"
    )]
    MissingWheel {
        file: PathBuf,
        line: usize,
        path: PathBuf,
    },
    /// A URL that does not point to a `.whl` file (an sdist, a project page, …).
    #[error(
        "{file}:{line}: `{url}` is not a wheel (.whl): pylayer installs only wheels and never \
         builds source distributions; point to a .whl file, or require the package by name and \
         version so that pylayer picks a Linux wheel from the index"
    )]
    NotAWheel {
        file: PathBuf,
        line: usize,
        url: String,
    },
    /// A `.whl` path or URL whose filename is not a valid wheel filename.
    #[error(
        "{file}:{line}: {reason}; a wheel filename is NAME-VERSION[-BUILD]-PYTHON-ABI-PLATFORM.whl \
         — use the file as published, without renaming it"
    )]
    InvalidWheelFilename {
        file: PathBuf,
        line: usize,
        reason: String,
    },
    /// `name @ URL` where the wheel at URL is a different package.
    #[error(
        "{file}:{line}: requirement `{name}` points to wheel `{filename}`, which is a different \
         package; fix the name or the URL"
    )]
    WheelNameMismatch {
        file: PathBuf,
        line: usize,
        name: String,
        filename: String,
    },
    /// A URL scheme other than http, https, ftp or file.
    #[error(
        "{file}:{line}: unsupported URL `{url}`; use an https:// URL of a .whl file or a path to \
         a local .whl file"
    )]
    UnsupportedUrl {
        file: PathBuf,
        line: usize,
        url: String,
    },
    /// The requirement is not valid PEP 508; `message` is the parser's explanation.
    #[error(
        "{file}:{line}: invalid requirement (expected e.g. `name[extra]>=1.0; python_version < \
         \"3.13\"` or `name @ https://…/file.whl`): {message}"
    )]
    InvalidRequirement {
        file: PathBuf,
        line: usize,
        message: String,
    },
    /// An option pip does not have, or one pylayer does not know.
    #[error(
        "{file}:{line}: unknown option `{option}`; requirements files may use -r, -c, \
         -i/--index-url, --extra-index-url, -f/--find-links, --no-index, --pre, --only-binary, \
         --prefer-binary, --trusted-host, --require-hashes, and --hash after a requirement"
    )]
    UnknownOption {
        file: PathBuf,
        line: usize,
        option: String,
    },
    /// An option that needs a value was given none.
    #[error("{file}:{line}: option `{option}` needs a value, as in `{option} VALUE`")]
    MissingOptionValue {
        file: PathBuf,
        line: usize,
        option: String,
    },
    /// A flag such as `--pre` was given `=value`.
    #[error("{file}:{line}: option `{option}` takes no value; write just `{option}`")]
    UnexpectedOptionValue {
        file: PathBuf,
        line: usize,
        option: String,
    },
    /// Text after the options of an option line (`--pre requests`).
    #[error(
        "{file}:{line}: unexpected `{text}` after an option; put each requirement on its own \
         line, before its --hash options"
    )]
    UnexpectedArgument {
        file: PathBuf,
        line: usize,
        text: String,
    },
    /// A quote in the options part of a line is not closed.
    #[error("{file}:{line}: unterminated quote in options; close the quote")]
    UnterminatedQuote { file: PathBuf, line: usize },
    /// `--no-binary`: pylayer never builds from source.
    #[error(
        "{file}:{line}: `--no-binary` asks for builds from source, but pylayer only installs \
         wheels; remove the option"
    )]
    NoBinary { file: PathBuf, line: usize },
    /// `--global-option`, `--config-settings` and friends configure sdist builds.
    #[error(
        "{file}:{line}: `{option}` configures building source distributions, which pylayer never \
         does (it installs only wheels); remove the option"
    )]
    BuildOption {
        file: PathBuf,
        line: usize,
        option: String,
    },
    /// A file-wide option written after a requirement on the same line.
    #[error(
        "{file}:{line}: option `{option}` must be on a line of its own; only --hash may follow a \
         requirement"
    )]
    MisplacedOption {
        file: PathBuf,
        line: usize,
        option: String,
    },
    /// `--hash` on a line without a requirement.
    #[error(
        "{file}:{line}: `--hash` must follow a requirement on the same line (use a trailing \
         backslash to continue the line)"
    )]
    HashWithoutRequirement { file: PathBuf, line: usize },
    /// A `--hash` value that is not `sha256:<64 hex digits>`.
    #[error("{file}:{line}: invalid hash `{hash}`: {reason}")]
    InvalidHash {
        file: PathBuf,
        line: usize,
        hash: String,
        reason: String,
    },
    /// A constraint with extras, which pip rejects too.
    #[error(
        "{file}:{line}: constraint `{requirement}` has extras, which constraints cannot have; \
         keep the extras on the requirement and only the name and version here"
    )]
    ConstraintExtras {
        file: PathBuf,
        line: usize,
        requirement: String,
    },
    /// A command-line requirement string that is an option.
    #[error(
        "{file}:{line}: `{text}` is an option, not a requirement; use pylayer's own flags (-r, -c, \
         --index-url, …) or put it in a requirements file"
    )]
    NotARequirement {
        file: PathBuf,
        line: usize,
        text: String,
    },
}

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

/// A file and line, for building errors.
struct Site<'a> {
    file: &'a Path,
    line: usize,
}

impl Site<'_> {
    fn path(&self) -> PathBuf {
        self.file.to_path_buf()
    }
}

/// A requirements file larger than this is refused (the largest real ones, with hashes for
/// every pin, are a few hundred KiB); devices and FIFOs are refused as not regular files.
pub const REQUIREMENTS_MAX_BYTES: u64 = 16 << 20;

struct Parser<'a> {
    input: &'a mut RequirementsInput,
    /// Identities of the files being read, outermost first, to detect include cycles.
    stack: Vec<PathBuf>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Parser<'_> {
    /// Reads one file from disk; `site` is the `-r`/`-c` line that includes it, if any.
    fn read_file(
        &mut self,
        path: &Path,
        kind: LineKind,
        site: Option<&Site<'_>>,
    ) -> Result<(), RequirementsError> {
        let bytes =
            crate::fsutil::read_capped(path, REQUIREMENTS_MAX_BYTES).map_err(
                |error| match site {
                    Some(site) => RequirementsError::IncludeRead {
                        file: site.path(),
                        line: site.line,
                        included: path.to_path_buf(),
                        error,
                    },
                    None => RequirementsError::ReadFile {
                        path: path.to_path_buf(),
                        error,
                    },
                },
            )?;
        let content = decode(&bytes).ok_or_else(|| RequirementsError::Encoding {
            path: path.to_path_buf(),
        })?;
        if !self.input.files.iter().any(|file| file == path) {
            self.input.files.push(path.to_path_buf());
        }
        self.stack.push(identity(path));
        let result = self.parse_content(&content, path, kind);
        self.stack.pop();
        result
    }

    fn parse_content(
        &mut self,
        content: &str,
        path: &Path,
        kind: LineKind,
    ) -> Result<(), RequirementsError> {
        let content = content.strip_prefix('\u{feff}').unwrap_or(content);
        for (line, text) in logical_lines(content) {
            let text = expand_env_vars(&text, self.env);
            let site = Site { file: path, line };
            self.parse_line(&text, &site, kind)?;
        }
        Ok(())
    }

    fn parse_line(
        &mut self,
        text: &str,
        site: &Site<'_>,
        kind: LineKind,
    ) -> Result<(), RequirementsError> {
        let (args, options) = split_args_options(text);
        let options = parse_options(options, site)?;
        if let Some(editable) = options.iter().find(|o| o.opt == Opt::Editable) {
            return Err(RequirementsError::Editable {
                file: site.path(),
                line: site.line,
                target: editable.value.clone(),
            });
        }
        if args.is_empty() {
            for option in &options {
                self.apply_option(option, site, kind)?;
            }
            return Ok(());
        }

        let mut hashes: Vec<String> = Vec::new();
        for option in &options {
            match option.opt {
                Opt::Hash => {
                    let hash = parse_hash(&option.value, site)?;
                    if !hashes.contains(&hash) {
                        hashes.push(hash);
                    }
                }
                opt if opt.is_build_option() => {
                    return Err(RequirementsError::BuildOption {
                        file: site.path(),
                        line: site.line,
                        option: option.spelled.clone(),
                    });
                }
                _ => {
                    return Err(RequirementsError::MisplacedOption {
                        file: site.path(),
                        line: site.line,
                        option: option.spelled.clone(),
                    });
                }
            }
        }
        let base_dir = site.file.parent().unwrap_or(Path::new(""));
        let requirement = parse_requirement(args, base_dir, site)?;
        if kind == LineKind::Constraint && !requirement.extras.is_empty() {
            return Err(RequirementsError::ConstraintExtras {
                file: site.path(),
                line: site.line,
                requirement: args.to_string(),
            });
        }
        let sourced = SourcedRequirement {
            requirement,
            file: site.path(),
            line: site.line,
            hashes,
        };
        match kind {
            LineKind::Requirement => self.input.requirements.push(sourced),
            LineKind::Constraint => self.input.constraints.push(sourced),
        }
        Ok(())
    }

    fn apply_option(
        &mut self,
        option: &OptionUse,
        site: &Site<'_>,
        kind: LineKind,
    ) -> Result<(), RequirementsError> {
        let value = option.value.as_str();
        match option.opt {
            Opt::IndexUrl => self.input.index_url = Some(value.to_string()),
            Opt::ExtraIndexUrl => {
                if !self.input.extra_index_urls.iter().any(|url| url == value) {
                    self.input.extra_index_urls.push(value.to_string());
                }
            }
            Opt::FindLinks => {
                let base_dir = site.file.parent().unwrap_or(Path::new(""));
                let location = resolve_find_links(value, base_dir);
                if !self.input.find_links.contains(&location) {
                    self.input.find_links.push(location);
                }
            }
            Opt::NoIndex => self.input.no_index = true,
            Opt::Pre => self.input.pre = true,
            Opt::OnlyBinary => {
                self.input.only_binary.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_string),
                );
            }
            Opt::NoBinary => {
                // `--no-binary :none:` excludes nothing, so it is harmless.
                let excludes_something = value
                    .split(',')
                    .map(str::trim)
                    .any(|v| !v.is_empty() && v != ":none:");
                if excludes_something {
                    return Err(RequirementsError::NoBinary {
                        file: site.path(),
                        line: site.line,
                    });
                }
            }
            // Accepted for compatibility; they change nothing for pylayer (it always prefers
            // wheels, uses its own TLS settings and always checks hashes in the lock).
            Opt::PreferBinary | Opt::TrustedHost | Opt::RequireHashes | Opt::UseFeature => {}
            Opt::Requirement | Opt::Constraint => {
                let child_kind = if option.opt == Opt::Constraint {
                    LineKind::Constraint
                } else {
                    kind
                };
                let included = resolve_include(value, site)?;
                if self.stack.contains(&identity(&included)) {
                    return Err(RequirementsError::IncludeCycle {
                        file: site.path(),
                        line: site.line,
                        included,
                    });
                }
                self.read_file(&included, child_kind, Some(site))?;
            }
            Opt::Hash => {
                return Err(RequirementsError::HashWithoutRequirement {
                    file: site.path(),
                    line: site.line,
                });
            }
            Opt::Editable => {
                return Err(RequirementsError::Editable {
                    file: site.path(),
                    line: site.line,
                    target: value.to_string(),
                });
            }
            Opt::GlobalOption | Opt::InstallOption | Opt::BuildOption | Opt::ConfigSettings => {
                return Err(RequirementsError::BuildOption {
                    file: site.path(),
                    line: site.line,
                    option: option.spelled.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The identity of a file for cycle detection: canonical when it exists.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Decodes file bytes: UTF-8 (with or without BOM), or UTF-16 with a BOM, which is what
/// `pip freeze > requirements.txt` writes in Windows PowerShell.
fn decode(bytes: &[u8]) -> Option<String> {
    fn utf16(rest: &[u8], from: fn([u8; 2]) -> u16) -> Option<String> {
        if !rest.len().is_multiple_of(2) {
            return None;
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| from([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&units).ok()
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        String::from_utf8(rest.to_vec()).ok()
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        utf16(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        utf16(rest, u16::from_be_bytes)
    } else {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// Splits content into logical lines the way pip does: lines ending in a backslash are joined
/// with the next (a comment line ends a continuation), then comments are stripped and blank
/// lines dropped. Each line carries the 1-based number of its first physical line.
fn logical_lines(content: &str) -> Vec<(usize, String)> {
    fn push(out: &mut Vec<(usize, String)>, number: usize, line: &str) {
        let stripped = strip_comment(line).trim();
        if !stripped.is_empty() {
            out.push((number, stripped.to_string()));
        }
    }
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in content.lines().enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let is_comment = raw.trim_start().starts_with('#');
        if !raw.ends_with('\\') || is_comment {
            match pending.take() {
                Some((start, mut joined)) => {
                    if is_comment {
                        // Like pip: make sure the comment is still recognised after joining.
                        joined.push(' ');
                    }
                    joined.push_str(raw);
                    push(&mut out, start, &joined);
                }
                None => push(&mut out, number, raw),
            }
        } else {
            let piece = raw.trim_matches('\\');
            match &mut pending {
                Some((_, joined)) => joined.push_str(piece),
                None => pending = Some((number, piece.to_string())),
            }
        }
    }
    if let Some((start, joined)) = pending {
        push(&mut out, start, &joined);
    }
    out
}

/// Removes a comment: `#` at the start of the line or after whitespace (so `#sha256=` URL
/// fragments survive).
fn strip_comment(line: &str) -> &str {
    let mut after_space = true;
    for (index, c) in line.char_indices() {
        if c == '#' && after_space {
            return &line[..index];
        }
        after_space = c.is_whitespace();
    }
    line
}

/// Expands `${NAME}` (NAME of uppercase letters, digits and `_`) like pip; variables that are
/// unset or empty are left as written.
fn expand_env_vars(line: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        if name_len > 0 && after.as_bytes().get(name_len) == Some(&b'}') {
            match env(&after[..name_len]).filter(|value| !value.is_empty()) {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[start..=start + 2 + name_len]),
            }
            rest = &after[name_len + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Splits a logical line into the requirement part and the options part, which starts at the
/// first whitespace-separated word beginning with `-` (pip's rule).
fn split_args_options(line: &str) -> (&str, &str) {
    let mut after_space = true;
    for (index, c) in line.char_indices() {
        if c == '-' && after_space {
            return (line[..index].trim(), &line[index..]);
        }
        after_space = c.is_whitespace();
    }
    (line.trim(), "")
}

/// The options pip accepts in requirements files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    IndexUrl,
    ExtraIndexUrl,
    FindLinks,
    NoIndex,
    Pre,
    OnlyBinary,
    NoBinary,
    PreferBinary,
    TrustedHost,
    RequireHashes,
    UseFeature,
    Requirement,
    Constraint,
    Editable,
    Hash,
    GlobalOption,
    InstallOption,
    BuildOption,
    ConfigSettings,
}

impl Opt {
    fn long(name: &str) -> Option<Self> {
        Some(match name {
            "index-url" => Self::IndexUrl,
            "extra-index-url" => Self::ExtraIndexUrl,
            "find-links" => Self::FindLinks,
            "no-index" => Self::NoIndex,
            "pre" => Self::Pre,
            "only-binary" => Self::OnlyBinary,
            "no-binary" => Self::NoBinary,
            "prefer-binary" => Self::PreferBinary,
            "trusted-host" => Self::TrustedHost,
            "require-hashes" => Self::RequireHashes,
            "use-feature" => Self::UseFeature,
            "requirement" => Self::Requirement,
            "constraint" => Self::Constraint,
            "editable" => Self::Editable,
            "hash" => Self::Hash,
            "global-option" => Self::GlobalOption,
            "install-option" => Self::InstallOption,
            "build-option" => Self::BuildOption,
            "config-settings" => Self::ConfigSettings,
            _ => return None,
        })
    }

    fn short(c: char) -> Option<Self> {
        Some(match c {
            'i' => Self::IndexUrl,
            'f' => Self::FindLinks,
            'r' => Self::Requirement,
            'c' => Self::Constraint,
            'e' => Self::Editable,
            'C' => Self::ConfigSettings,
            _ => return None,
        })
    }

    fn takes_value(self) -> bool {
        !matches!(
            self,
            Self::NoIndex | Self::Pre | Self::PreferBinary | Self::RequireHashes
        )
    }

    fn is_build_option(self) -> bool {
        matches!(
            self,
            Self::GlobalOption | Self::InstallOption | Self::BuildOption | Self::ConfigSettings
        )
    }
}

/// One option as written: which option, how it was spelled (for messages), and its value
/// (empty for flags).
struct OptionUse {
    opt: Opt,
    spelled: String,
    value: String,
}

/// Parses the options part of a line with optparse's rules: `--opt value`, `--opt=value`,
/// `-o value` and `-ovalue`.
fn parse_options(text: &str, site: &Site<'_>) -> Result<Vec<OptionUse>, RequirementsError> {
    let tokens = shell_words(text).ok_or_else(|| RequirementsError::UnterminatedQuote {
        file: site.path(),
        line: site.line,
    })?;
    let mut tokens = tokens.into_iter();
    let mut options = Vec::new();
    while let Some(token) = tokens.next() {
        let unknown = |option: &str| RequirementsError::UnknownOption {
            file: site.path(),
            line: site.line,
            option: option.to_string(),
        };
        let (opt, spelled, inline) = if let Some(long) = token.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let opt = Opt::long(name).ok_or_else(|| unknown(&format!("--{name}")))?;
            (opt, format!("--{name}"), inline)
        } else if let Some(short) = token.strip_prefix('-')
            && let Some(c) = short.chars().next()
        {
            let opt = Opt::short(c).ok_or_else(|| unknown(&format!("-{c}")))?;
            let rest = &short[c.len_utf8()..];
            if !rest.is_empty() && !opt.takes_value() {
                return Err(unknown(&token));
            }
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            let inline = (!rest.is_empty()).then(|| rest.to_string());
            (opt, format!("-{c}"), inline)
        } else {
            return Err(RequirementsError::UnexpectedArgument {
                file: site.path(),
                line: site.line,
                text: token,
            });
        };
        let value = if opt.takes_value() {
            match inline {
                Some(value) => value,
                None => tokens
                    .next()
                    .ok_or_else(|| RequirementsError::MissingOptionValue {
                        file: site.path(),
                        line: site.line,
                        option: spelled.clone(),
                    })?,
            }
        } else if inline.is_some() {
            return Err(RequirementsError::UnexpectedOptionValue {
                file: site.path(),
                line: site.line,
                option: spelled,
            });
        } else {
            String::new()
        };
        if opt.takes_value() && value.is_empty() {
            return Err(RequirementsError::MissingOptionValue {
                file: site.path(),
                line: site.line,
                option: spelled,
            });
        }
        options.push(OptionUse {
            opt,
            spelled,
            value,
        });
    }
    Ok(options)
}

/// Splits an options string as pip does (`shlex.split`, POSIX rules): quotes group words and
/// a backslash escapes the next character. `None` when a quote is not closed.
fn shell_words(text: &str) -> Option<Vec<String>> {
    shlex::split(text)
}

/// Validates a `--hash` value and normalises it to `sha256:<lower-case hex>`.
fn parse_hash(value: &str, site: &Site<'_>) -> Result<String, RequirementsError> {
    let invalid = |reason: &str| RequirementsError::InvalidHash {
        file: site.path(),
        line: site.line,
        hash: value.to_string(),
        reason: reason.to_string(),
    };
    let Some((algorithm, digest)) = value.split_once(':') else {
        return Err(invalid(
            "expected `sha256:<64 hex digits>`, as written by `pip hash` or `pip-compile \
             --generate-hashes`",
        ));
    };
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(invalid(
            "pylayer checks sha256 hashes only; regenerate the hashes with `pip hash` or \
             `pip-compile --generate-hashes`, which write sha256",
        ));
    }
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            "a sha256 digest is 64 hexadecimal digits; copy it again from `pip hash` or the index",
        ));
    }
    Ok(format!("sha256:{}", digest.to_ascii_lowercase()))
}

/// Resolves a `-r`/`-c` value: a path relative to the including file's directory, or a
/// `file:` URL; remote URLs are refused.
fn resolve_include(value: &str, site: &Site<'_>) -> Result<PathBuf, RequirementsError> {
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("file:") {
        return url::Url::parse(value)
            .ok()
            .and_then(|url| url.to_file_path().ok())
            .ok_or_else(|| RequirementsError::UnsupportedUrl {
                file: site.path(),
                line: site.line,
                url: value.to_string(),
            });
    }
    if url_scheme(value).is_some() {
        return Err(RequirementsError::RemoteInclude {
            file: site.path(),
            line: site.line,
            url: value.to_string(),
        });
    }
    let path = Path::new(value);
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(site.file.parent().unwrap_or(Path::new("")).join(path))
    }
}

/// Makes a `--find-links` path absolute against the directory of the file naming it; URLs are
/// kept as written.
fn resolve_find_links(value: &str, base_dir: &Path) -> String {
    if url_scheme(value).is_some() || value.to_ascii_lowercase().starts_with("file:") {
        return value.to_string();
    }
    let path = Path::new(value);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    };
    let absolute = std::path::absolute(&joined).unwrap_or(joined);
    let normalized: PathBuf = absolute.components().collect();
    normalized.to_string_lossy().into_owned()
}

/// The scheme of `scheme://…`, lower-cased, when `text` starts like a URL.
fn url_scheme(text: &str) -> Option<String> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then(|| scheme.to_ascii_lowercase())
}

/// The scheme before the first `:` when it is one pip treats as a URL, lower-cased.
fn bare_url_scheme(text: &str) -> Option<String> {
    if let Some(scheme) = url_scheme(text) {
        return Some(scheme);
    }
    let (scheme, _) = text.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    (scheme == "file" || is_vcs_scheme(&scheme)).then_some(scheme)
}

/// pip's version-control schemes: `git`, `svn`, and `git+`, `hg+`, `svn+`, `bzr+` prefixes.
fn is_vcs_scheme(scheme: &str) -> bool {
    let scheme = scheme.to_ascii_lowercase();
    scheme == "git"
        || scheme == "svn"
        || ["git+", "hg+", "svn+", "bzr+"]
            .iter()
            .any(|prefix| scheme.starts_with(prefix))
}

/// pip's test for "this is a path, not a name".
fn looks_like_path(text: &str) -> bool {
    text.contains('/') || text.contains('\\') || text.starts_with('.')
}

fn is_wheel_filename(text: &str) -> bool {
    text.to_ascii_lowercase().ends_with(".whl")
}

/// Archive extensions pip recognises as installable files.
fn is_archive(text: &str) -> bool {
    const EXTENSIONS: [&str; 12] = [
        ".whl",
        ".zip",
        ".tar.gz",
        ".tgz",
        ".tar.bz2",
        ".tbz",
        ".tar.xz",
        ".txz",
        ".tar",
        ".tar.lz",
        ".tlz",
        ".tar.lzma",
    ];
    let lower = text.to_ascii_lowercase();
    EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

/// Splits trailing `[extras]` off a path, as pip does for `./dist/x.whl[extra]`.
fn strip_extras(text: &str) -> (&str, &str) {
    if text.ends_with(']')
        && let Some(open) = text.rfind('[')
    {
        return (text[..open].trim_end(), &text[open..]);
    }
    (text, "")
}

/// Splits `URL ; marker` for bare URLs: pip needs whitespace around the `;` because `;` may
/// occur inside URLs.
fn split_url_marker(text: &str) -> (&str, &str) {
    let bytes = text.as_bytes();
    for (index, b) in bytes.iter().enumerate() {
        if *b == b';' {
            let before_space = index > 0 && bytes[index - 1].is_ascii_whitespace();
            let after_space = bytes.get(index + 1).is_some_and(u8::is_ascii_whitespace);
            if before_space || after_space {
                return (text[..index].trim(), text[index + 1..].trim());
            }
        }
    }
    (text.trim(), "")
}

/// Decodes `%XX` escapes in a URL path segment.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The last path segment of a URL, percent-decoded.
fn url_filename(url: &url::Url) -> String {
    url.path_segments()
        .and_then(|mut segments| segments.next_back())
        .map(percent_decode)
        .unwrap_or_default()
}

/// Parses a wheel filename, for messages and for the name of unnamed wheel requirements.
fn wheel_name(filename: &str, site: &Site<'_>) -> Result<WheelName, RequirementsError> {
    WheelName::parse(filename).map_err(|error| RequirementsError::InvalidWheelFilename {
        file: site.path(),
        line: site.line,
        reason: error.to_string(),
    })
}

/// Parses PEP 508 text, turning the parser's error into one naming the file and line.
fn parse_pep508(
    text: &str,
    base_dir: &Path,
    site: &Site<'_>,
) -> Result<Requirement, RequirementsError> {
    Requirement::parse(text, base_dir).map_err(|error| RequirementsError::InvalidRequirement {
        file: site.path(),
        line: site.line,
        message: error.to_string(),
    })
}

/// Parses `name_and_extras @ url ; marker`, for wheels given by path or without a name.
fn direct_reference(
    name_and_extras: &str,
    url: &str,
    marker: &str,
    base_dir: &Path,
    site: &Site<'_>,
) -> Result<Requirement, RequirementsError> {
    let mut text = format!("{} @ {url}", name_and_extras.trim());
    if !marker.is_empty() {
        text.push_str(" ; ");
        text.push_str(marker);
    }
    parse_pep508(&text, base_dir, site)
}

/// Parses the requirement part of a line: PEP 508 (`name[extras] spec ; marker`,
/// `name @ URL`), a bare wheel URL or a local wheel path; anything that would need building
/// from source is an error.
fn parse_requirement(
    text: &str,
    base_dir: &Path,
    site: &Site<'_>,
) -> Result<Requirement, RequirementsError> {
    if let Some(scheme) = bare_url_scheme(text) {
        if is_vcs_scheme(&scheme) {
            return Err(RequirementsError::Vcs {
                file: site.path(),
                line: site.line,
                url: text.to_string(),
            });
        }
        return parse_bare_url(text, &scheme, base_dir, site);
    }

    let named = text
        .split_once('@')
        .filter(|(before, _)| !looks_like_path(before));
    if let Some((name_and_extras, target)) = named {
        // `name @ ./dist/x.whl` (uv accepts it; pip wants a file: URL): a local wheel path.
        let (target, marker) = split_url_marker(target);
        if bare_url_scheme(target).is_none() && looks_like_path(target) {
            let (_, url) = local_wheel(target, &base_dir.join(target), site)?;
            let requirement =
                direct_reference(name_and_extras, url.as_str(), marker, base_dir, site)?;
            if let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url {
                check_direct_url(&requirement, url, site)?;
            }
            return Ok(requirement);
        }
    } else {
        let (head, marker) = match text.split_once(';') {
            Some((head, marker)) => (head.trim(), marker.trim()),
            None => (text.trim(), ""),
        };
        let (path_text, extras) = strip_extras(head);
        // Like pip, a bare `something.zip` is a file name, not a project name.
        if looks_like_path(path_text) || is_archive(path_text) {
            let (wheel, url) = local_wheel(path_text, &base_dir.join(path_text), site)?;
            let name_and_extras = format!("{}{extras}", wheel.name);
            return direct_reference(&name_and_extras, url.as_str(), marker, base_dir, site);
        }
    }

    let requirement = parse_pep508(text, base_dir, site)?;
    if let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url {
        check_direct_url(&requirement, url, site)?;
    }
    Ok(requirement)
}

/// A URL without a name: only wheel URLs, named after the wheel file.
fn parse_bare_url(
    text: &str,
    scheme: &str,
    base_dir: &Path,
    site: &Site<'_>,
) -> Result<Requirement, RequirementsError> {
    let (url_text, marker) = split_url_marker(text);
    let url = url::Url::parse(url_text).map_err(|error| RequirementsError::InvalidRequirement {
        file: site.path(),
        line: site.line,
        message: format!("`{url_text}` is not a valid URL: {error}"),
    })?;
    match scheme {
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| RequirementsError::UnsupportedUrl {
                    file: site.path(),
                    line: site.line,
                    url: url_text.to_string(),
                })?;
            let (wheel, url) = local_wheel(url_text, &path, site)?;
            direct_reference(wheel.name.as_ref(), url.as_str(), marker, base_dir, site)
        }
        "http" | "https" | "ftp" => {
            let filename = url_filename(&url);
            if !is_wheel_filename(&filename) {
                return Err(RequirementsError::NotAWheel {
                    file: site.path(),
                    line: site.line,
                    url: url_text.to_string(),
                });
            }
            let wheel = wheel_name(&filename, site)?;
            direct_reference(wheel.name.as_ref(), url_text, marker, base_dir, site)
        }
        _ => Err(RequirementsError::UnsupportedUrl {
            file: site.path(),
            line: site.line,
            url: url_text.to_string(),
        }),
    }
}

/// A local path: allowed only when it is an existing `.whl` file; returns the parsed wheel
/// filename and the file's URL.
fn local_wheel(
    written: &str,
    path: &Path,
    site: &Site<'_>,
) -> Result<(WheelName, url::Url), RequirementsError> {
    let filename = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.is_dir() || !is_wheel_filename(&filename) {
        return Err(RequirementsError::LocalSource {
            file: site.path(),
            line: site.line,
            path: written.to_string(),
        });
    }
    if !path.is_file() {
        return Err(RequirementsError::MissingWheel {
            file: site.path(),
            line: site.line,
            path: path.to_path_buf(),
        });
    }
    let wheel = wheel_name(&filename, site)?;
    let absolute = std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let url =
        url::Url::from_file_path(&absolute).map_err(|()| RequirementsError::UnsupportedUrl {
            file: site.path(),
            line: site.line,
            url: written.to_string(),
        })?;
    Ok((wheel, url))
}

/// Checks the URL of `name @ URL`: a wheel over http(s)/ftp or an existing local wheel, of the
/// package the requirement names.
fn check_direct_url(
    requirement: &Requirement,
    url: &uv_pep508::VerbatimUrl,
    site: &Site<'_>,
) -> Result<(), RequirementsError> {
    let scheme = url.scheme();
    if is_vcs_scheme(scheme) {
        return Err(RequirementsError::Vcs {
            file: site.path(),
            line: site.line,
            url: url.to_string(),
        });
    }
    let filename = match scheme {
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| RequirementsError::UnsupportedUrl {
                    file: site.path(),
                    line: site.line,
                    url: url.to_string(),
                })?;
            let filename = url_filename(url);
            if path.is_dir() || !is_wheel_filename(&filename) {
                return Err(RequirementsError::LocalSource {
                    file: site.path(),
                    line: site.line,
                    path: url.to_string(),
                });
            }
            if !path.is_file() {
                return Err(RequirementsError::MissingWheel {
                    file: site.path(),
                    line: site.line,
                    path,
                });
            }
            filename
        }
        "http" | "https" | "ftp" => {
            let filename = url_filename(url);
            if !is_wheel_filename(&filename) {
                return Err(RequirementsError::NotAWheel {
                    file: site.path(),
                    line: site.line,
                    url: url.to_string(),
                });
            }
            filename
        }
        _ => {
            return Err(RequirementsError::UnsupportedUrl {
                file: site.path(),
                line: site.line,
                url: url.to_string(),
            });
        }
    };
    let wheel = wheel_name(&filename, site)?;
    if wheel.name != requirement.name {
        return Err(RequirementsError::WheelNameMismatch {
            file: site.path(),
            line: site.line,
            name: requirement.name.to_string(),
            filename,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const SHA_LOWER: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const SHA_UPPER: &str = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
    const SHA_OTHER: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    const FILE: &str = "/proj/requirements.txt";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse_as(content: &str, kind: LineKind) -> Result<RequirementsInput, RequirementsError> {
        let mut input = RequirementsInput::default();
        parse_str_with_env(content, Path::new(FILE), kind, &mut input, &no_env)?;
        Ok(input)
    }

    fn parse(content: &str) -> RequirementsInput {
        match parse_as(content, LineKind::Requirement) {
            Ok(input) => input,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }

    fn parse_err(content: &str) -> RequirementsError {
        match parse_as(content, LineKind::Requirement) {
            Ok(input) => panic!("expected an error, got {input:?}"),
            Err(error) => error,
        }
    }

    /// Asserts the message starts with `location: ` and contains every fragment.
    fn assert_message(error: &RequirementsError, location: &str, fragments: &[&str]) {
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{location}: ")),
            "message does not start with {location}: {message}"
        );
        for fragment in fragments {
            assert!(
                message.contains(fragment),
                "message lacks {fragment:?}: {message}"
            );
        }
    }

    fn names(reqs: &[SourcedRequirement]) -> Vec<String> {
        reqs.iter()
            .map(|r| r.requirement.name.to_string())
            .collect()
    }

    fn write(dir: &Path, relative: &str, content: &str) -> PathBuf {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create dir");
        }
        fs::write(&path, content).expect("write file");
        path
    }

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    fn read(requirements: &[PathBuf], constraints: &[PathBuf]) -> RequirementsInput {
        match read_files(requirements, constraints) {
            Ok(input) => input,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }

    fn read_err(requirements: &[PathBuf]) -> RequirementsError {
        match read_files(requirements, &[]) {
            Ok(input) => panic!("expected an error, got {input:?}"),
            Err(error) => error,
        }
    }

    fn url_of(req: &SourcedRequirement) -> String {
        match &req.requirement.version_or_url {
            Some(VersionOrUrl::Url(url)) => url.to_string(),
            other => panic!("expected a URL, got {other:?}"),
        }
    }

    // ---- requirement lines -------------------------------------------------------------

    #[test]
    fn pep508_lines_with_extras_specifiers_and_markers() {
        let input = parse(
            "requests==2.32.3\n\
             foo[bar,baz]>=1.0,<2; python_version < \"3.12\"\n\
             Django ~= 5.0\n\
             zope.interface\n",
        );
        assert_eq!(
            names(&input.requirements),
            ["requests", "foo", "django", "zope-interface"]
        );
        let foo = &input.requirements[1].requirement;
        assert_eq!(foo.extras.len(), 2);
        assert!(foo.marker.contents().is_some());
        match &foo.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(spec)) => assert_eq!(spec.len(), 2),
            other => panic!("expected specifiers, got {other:?}"),
        }
        assert_eq!(input.requirements[1].line, 2);
        assert_eq!(input.requirements[1].location(), format!("{FILE}:2"));
        assert!(input.constraints.is_empty());
        assert!(input.files.is_empty());
    }

    #[test]
    fn direct_reference_to_wheel_url() {
        let input = parse(&format!(
            "numpy @ https://example.com/wheels/numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl#sha256={SHA_LOWER} ; python_version >= \"3.12\"\n"
        ));
        let req = &input.requirements[0];
        assert_eq!(req.requirement.name.to_string(), "numpy");
        assert!(url_of(req).contains(&format!("#sha256={SHA_LOWER}")));
        assert!(req.requirement.marker.contents().is_some());
    }

    #[test]
    fn bare_wheel_url_gets_name_from_filename() {
        let input = parse(
            "https://example.com/a/Typing_Extensions-4.12.2-py3-none-any.whl ; python_version < \"3.13\"\n\
             https://example.com/b/my%5Fpkg-1.0-1-py3-none-any.whl\n",
        );
        assert_eq!(names(&input.requirements), ["typing-extensions", "my-pkg"]);
        assert!(
            input.requirements[0]
                .requirement
                .marker
                .contents()
                .is_some()
        );
        assert!(url_of(&input.requirements[0]).starts_with("https://example.com/a/"));
    }

    #[test]
    fn local_wheel_paths_and_file_urls_are_allowed() {
        let dir = tempdir();
        let wheel = write(
            dir.path(),
            "dist/demo_pkg-0.1.0-py3-none-any.whl",
            "not really a zip",
        );
        let file = write(
            dir.path(),
            "requirements.txt",
            &format!(
                "./dist/demo_pkg-0.1.0-py3-none-any.whl[cli] ; python_version >= \"3.9\"\n\
                 demo-pkg @ {}\n\
                 {}\n\
                 Demo.Pkg[cli] @ ./dist/demo_pkg-0.1.0-py3-none-any.whl ; os_name == \"posix\"\n",
                url::Url::from_file_path(&wheel).expect("file url"),
                url::Url::from_file_path(&wheel).expect("file url"),
            ),
        );
        let input = read(&[file], &[]);
        assert_eq!(
            names(&input.requirements),
            ["demo-pkg", "demo-pkg", "demo-pkg", "demo-pkg"]
        );
        assert_eq!(
            url_of(&input.requirements[3]),
            url_of(&input.requirements[0])
        );
        assert!(
            input.requirements[3]
                .requirement
                .marker
                .contents()
                .is_some()
        );
        assert_eq!(input.requirements[3].requirement.extras.len(), 1);
        let first = &input.requirements[0];
        assert_eq!(first.requirement.extras.len(), 1);
        assert!(first.requirement.marker.contents().is_some());
        assert!(url_of(first).starts_with("file:///"));
        assert!(url_of(first).ends_with("/dist/demo_pkg-0.1.0-py3-none-any.whl"));

        let mut input = RequirementsInput::default();
        let error = parse_str_with_env(
            "other @ ./dist/demo_pkg-0.1.0-py3-none-any.whl\n",
            &dir.path().join("requirements.txt"),
            LineKind::Requirement,
            &mut input,
            &no_env,
        )
        .expect_err("name mismatch");
        assert!(
            matches!(error, RequirementsError::WheelNameMismatch { .. }),
            "{error}"
        );
    }

    #[test]
    fn bare_wheel_filename_without_directory_is_a_path() {
        let error = parse_err("demo-1.0-py3-none-any.whl\n");
        assert_message(
            &error,
            &format!("{FILE}:1"),
            &["/proj/demo-1.0-py3-none-any.whl", "does not exist"],
        );
    }

    #[test]
    fn bare_archive_name_is_a_local_file_like_in_pip() {
        let error = parse_err("jaraco.zip\n");
        assert!(
            matches!(error, RequirementsError::LocalSource { .. }),
            "{error}"
        );
        assert_message(&error, &format!("{FILE}:1"), &["`jaraco.zip`"]);
    }

    // ---- comments, continuations, encodings ---------------------------------------------

    #[test]
    fn comments_and_blank_lines() {
        let input = parse(
            "# a comment\n\
             \n\
             requests  # trailing comment\n   \n\
             \t# indented comment\n\
             flask\t# tab before the comment\n",
        );
        assert_eq!(names(&input.requirements), ["requests", "flask"]);
        assert_eq!(input.requirements[0].line, 3);
        assert_eq!(input.requirements[1].line, 6);
        // A `#` not preceded by whitespace does not start a comment (pip's rule), so this
        // stays part of the requirement and is invalid.
        let error = parse_err("flask>=3#not-a-comment\n");
        assert_message(&error, &format!("{FILE}:1"), &["invalid requirement"]);
    }

    #[test]
    fn hash_fragment_in_url_is_not_a_comment() {
        let input = parse(&format!(
            "https://example.com/x/six-1.16.0-py2.py3-none-any.whl#sha256={SHA_LOWER} # real comment\n"
        ));
        assert!(url_of(&input.requirements[0]).ends_with(&format!("#sha256={SHA_LOWER}")));
    }

    #[test]
    fn continuations_join_lines_and_keep_the_first_line_number() {
        let input = parse(&format!(
            "# header\n\
             requests==2.32.3 \\\n    --hash=sha256:{SHA_LOWER} \\\n    --hash=sha256:{SHA_OTHER}\n\
             flask\\\n>=3.0\n\
             six \\\n# a comment ends the continuation\n\
             attrs\n\
             idna \\"
        ));
        assert_eq!(
            names(&input.requirements),
            ["requests", "flask", "six", "attrs", "idna"]
        );
        let lines: Vec<usize> = input.requirements.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 5, 7, 9, 10]);
        assert_eq!(input.requirements[0].hashes.len(), 2);
        assert_eq!(input.requirements[1].requirement.to_string(), "flask>=3.0");
    }

    #[test]
    fn comment_line_ending_in_backslash_is_not_a_continuation() {
        let input = parse("# comment \\\nrequests\n");
        assert_eq!(names(&input.requirements), ["requests"]);
        assert_eq!(input.requirements[0].line, 2);
    }

    #[test]
    fn crlf_line_endings_and_bom() {
        let input = parse("\u{feff}requests \\\r\n  >=2\r\n# c\r\nflask\r\n");
        assert_eq!(names(&input.requirements), ["requests", "flask"]);
        assert_eq!(input.requirements[1].line, 4);
    }

    #[test]
    fn files_in_utf8_with_bom_and_utf16_are_decoded() {
        let dir = tempdir();
        let utf8 = dir.path().join("utf8.txt");
        fs::write(&utf8, b"\xEF\xBB\xBFrequests\r\n").expect("write");
        let utf16 = dir.path().join("utf16.txt");
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "flask==3.0.0\r\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        fs::write(&utf16, bytes).expect("write");
        let input = read(&[utf8.clone(), utf16.clone()], &[]);
        assert_eq!(names(&input.requirements), ["requests", "flask"]);
        assert_eq!(input.files, [utf8, utf16]);

        let binary = dir.path().join("binary.txt");
        fs::write(&binary, b"\xC3\x28\xFF").expect("write");
        let error = read_err(std::slice::from_ref(&binary));
        assert!(matches!(error, RequirementsError::Encoding { .. }));
        assert!(error.to_string().starts_with(&binary.display().to_string()));
    }

    // ---- environment variables -----------------------------------------------------------

    #[test]
    fn env_vars_expand_like_pip() {
        let env = |name: &str| match name {
            "INDEX_HOST" => Some("pypi.example.com".to_string()),
            "EMPTY" => Some(String::new()),
            "PKG_1" => Some("requests".to_string()),
            _ => None,
        };
        let mut input = RequirementsInput::default();
        parse_str_with_env(
            "--index-url https://${INDEX_HOST}/simple\n\
             --extra-index-url https://${UNSET_VAR}/x/${EMPTY}/${lower}/$HOME/${INDEX_HOST\n\
             ${PKG_1}>=2\n",
            Path::new(FILE),
            LineKind::Requirement,
            &mut input,
            &env,
        )
        .expect("parses");
        assert_eq!(
            input.index_url.as_deref(),
            Some("https://pypi.example.com/simple")
        );
        assert_eq!(
            input.extra_index_urls,
            ["https://${UNSET_VAR}/x/${EMPTY}/${lower}/$HOME/${INDEX_HOST"]
        );
        assert_eq!(names(&input.requirements), ["requests"]);
    }

    #[test]
    fn env_vars_expand_after_comment_stripping() {
        let env = |name: &str| (name == "C").then(|| "#not-a-comment".to_string());
        assert_eq!(expand_env_vars("a ${C} b", &env), "a #not-a-comment b");
        let mut input = RequirementsInput::default();
        parse_str_with_env(
            "--extra-index-url https://h/${C}\n",
            Path::new(FILE),
            LineKind::Requirement,
            &mut input,
            &env,
        )
        .expect("parses");
        assert_eq!(input.extra_index_urls, ["https://h/#not-a-comment"]);
    }

    #[test]
    fn process_environment_is_used_by_parse_str() {
        let mut input = RequirementsInput::default();
        parse_str(
            "--index-url https://${PYLAYER_TEST_SURELY_UNSET_4711}/simple\n",
            Path::new(FILE),
            LineKind::Requirement,
            &mut input,
        )
        .expect("parses");
        assert_eq!(
            input.index_url.as_deref(),
            Some("https://${PYLAYER_TEST_SURELY_UNSET_4711}/simple")
        );
    }

    // ---- hashes --------------------------------------------------------------------------

    #[test]
    fn hashes_are_collected_lower_cased_and_deduplicated() {
        let input = parse(&format!(
            "requests==2.32.3 --hash=sha256:{SHA_UPPER} --hash sha256:{SHA_OTHER} --hash=SHA256:{SHA_LOWER}\n\
             flask==3.0.0\n"
        ));
        assert_eq!(
            input.requirements[0].hashes,
            [format!("sha256:{SHA_LOWER}"), format!("sha256:{SHA_OTHER}")]
        );
        assert!(input.requirements[1].hashes.is_empty());
    }

    #[test]
    fn invalid_hashes_are_errors() {
        let error = parse_err(&format!("\nrequests --hash=md5:{SHA_LOWER}\n"));
        assert_message(&error, &format!("{FILE}:2"), &["md5:", "sha256"]);
        let error = parse_err("requests --hash=sha256:abc\n");
        assert_message(&error, &format!("{FILE}:1"), &["64 hexadecimal digits"]);
        let error = parse_err(&format!("requests --hash={SHA_LOWER}\n"));
        assert_message(&error, &format!("{FILE}:1"), &["expected `sha256:"]);
        let error = parse_err(&format!("--hash=sha256:{SHA_LOWER}\n"));
        assert!(matches!(
            error,
            RequirementsError::HashWithoutRequirement { .. }
        ));
        assert_message(&error, &format!("{FILE}:1"), &["must follow a requirement"]);
        let error = parse_err("requests --hash\n");
        assert_message(&error, &format!("{FILE}:1"), &["`--hash` needs a value"]);
    }

    // ---- options -------------------------------------------------------------------------

    #[test]
    fn index_options() {
        let input = parse(
            "-i https://first.example/simple\n\
             --index-url=https://second.example/simple\n\
             --extra-index-url https://extra.example/simple\n\
             --extra-index-url=https://extra2.example/simple\n\
             --extra-index-url https://extra.example/simple\n\
             -ihttps://third.example/simple\n\
             --no-index --pre\n\
             --prefer-binary\n\
             --trusted-host example.com\n\
             --require-hashes\n\
             --use-feature=truststore\n\
             --only-binary=:all:\n\
             --only-binary numpy,pandas,,scipy\n\
             --no-binary :none:\n",
        );
        assert_eq!(
            input.index_url.as_deref(),
            Some("https://third.example/simple")
        );
        assert_eq!(
            input.extra_index_urls,
            [
                "https://extra.example/simple",
                "https://extra2.example/simple"
            ]
        );
        assert!(input.no_index);
        assert!(input.pre);
        assert_eq!(input.only_binary, [":all:", "numpy", "pandas", "scipy"]);
        assert!(input.requirements.is_empty());
    }

    #[test]
    fn defaults_when_no_options() {
        let input = parse("requests\n");
        assert_eq!(input.index_url, None);
        assert!(!input.no_index && !input.pre);
        assert!(input.extra_index_urls.is_empty() && input.find_links.is_empty());
        assert!(input.only_binary.is_empty());
    }

    #[test]
    fn find_links_relative_to_the_file_directory() {
        let dir = tempdir();
        let file = write(
            dir.path(),
            "sub/requirements.txt",
            "-f ./wheels\n\
             --find-links=https://example.com/links/\n\
             --find-links /abs/wheels\n\
             --find-links \"my wheels\"\n\
             -f wheels\n",
        );
        let input = read(&[file], &[]);
        let sub = std::path::absolute(dir.path().join("sub")).expect("absolute");
        assert_eq!(
            input.find_links,
            [
                sub.join("wheels").to_string_lossy().into_owned(),
                "https://example.com/links/".to_string(),
                "/abs/wheels".to_string(),
                sub.join("my wheels").to_string_lossy().into_owned(),
            ]
        );
    }

    #[test]
    fn no_binary_is_an_error() {
        let error = parse_err("requests\n--no-binary :all:\n");
        assert!(matches!(error, RequirementsError::NoBinary { .. }));
        assert_message(&error, &format!("{FILE}:2"), &["only installs wheels"]);
        let error = parse_err("--no-binary=numpy\n");
        assert_message(&error, &format!("{FILE}:1"), &["--no-binary"]);
    }

    #[test]
    fn unknown_and_malformed_options_are_errors() {
        let error = parse_err("requests\n\n--frobnicate\n");
        assert_message(
            &error,
            &format!("{FILE}:3"),
            &["unknown option `--frobnicate`"],
        );
        let error = parse_err("--index-url=https://x --bogus=1\n");
        assert_message(&error, &format!("{FILE}:1"), &["`--bogus`"]);
        let error = parse_err("-x foo\n");
        assert_message(&error, &format!("{FILE}:1"), &["`-x`"]);
        let error = parse_err("--index-url\n");
        assert_message(
            &error,
            &format!("{FILE}:1"),
            &["`--index-url` needs a value"],
        );
        let error = parse_err("-r\n");
        assert_message(&error, &format!("{FILE}:1"), &["`-r` needs a value"]);
        let error = parse_err("--pre=yes\n");
        assert_message(&error, &format!("{FILE}:1"), &["`--pre` takes no value"]);
        let error = parse_err("--pre requests\n");
        assert_message(&error, &format!("{FILE}:1"), &["unexpected `requests`"]);
        let error = parse_err("-f 'unclosed\n");
        assert_message(&error, &format!("{FILE}:1"), &["unterminated quote"]);
    }

    #[test]
    fn file_options_after_a_requirement_are_errors() {
        let error = parse_err("requests --index-url https://x/simple\n");
        assert!(matches!(error, RequirementsError::MisplacedOption { .. }));
        assert_message(
            &error,
            &format!("{FILE}:1"),
            &["`--index-url`", "line of its own"],
        );
    }

    #[test]
    fn build_options_are_errors() {
        for line in [
            "requests --global-option=--no-user-cfg",
            "requests --config-settings key=value",
            "requests -C key=value",
            "--global-option foo",
            "requests --install-option=--prefix=/x",
        ] {
            let error = parse_err(line);
            assert!(
                matches!(error, RequirementsError::BuildOption { .. }),
                "{line}: {error}"
            );
            assert_message(
                &error,
                &format!("{FILE}:1"),
                &["building source distributions"],
            );
        }
    }

    // ---- includes ------------------------------------------------------------------------

    #[test]
    fn includes_are_relative_to_the_including_file() {
        let dir = tempdir();
        let top = write(
            dir.path(),
            "requirements.txt",
            "requests\n-r sub/base.txt\n--requirement=sub/other.txt\nflask\n",
        );
        write(
            dir.path(),
            "sub/base.txt",
            "attrs\n-r ../common/shared.txt\n",
        );
        write(dir.path(), "common/shared.txt", "idna\n");
        write(dir.path(), "sub/other.txt", "six\n");
        let input = read(std::slice::from_ref(&top), &[]);
        assert_eq!(
            names(&input.requirements),
            ["requests", "attrs", "idna", "six", "flask"]
        );
        assert_eq!(
            input.requirements[2].file,
            dir.path().join("sub/../common/shared.txt")
        );
        assert_eq!(input.requirements[2].line, 1);
        assert_eq!(input.files.len(), 4);
        assert_eq!(input.files[0], top);
        assert_eq!(input.files[1], dir.path().join("sub/base.txt"));
    }

    #[test]
    fn constraints_and_nested_includes() {
        let dir = tempdir();
        let top = write(
            dir.path(),
            "requirements.txt",
            "requests\n-c constraints.txt\n--constraint other-constraints.txt\n",
        );
        write(dir.path(), "constraints.txt", "urllib3<2\n-r more.txt\n");
        write(dir.path(), "more.txt", "idna==3.7\n");
        write(dir.path(), "other-constraints.txt", "certifi>=2024\n");
        let extra = write(
            dir.path(),
            "extra-constraints.txt",
            "charset-normalizer<4\n",
        );
        let input = read(std::slice::from_ref(&top), std::slice::from_ref(&extra));
        assert_eq!(names(&input.requirements), ["requests"]);
        assert_eq!(
            names(&input.constraints),
            ["urllib3", "idna", "certifi", "charset-normalizer"]
        );
        assert_eq!(input.files.len(), 5);
        assert_eq!(input.files[4], extra);
    }

    #[test]
    fn constraints_cannot_have_extras() {
        let error = match parse_as("\nrequests[socks]<3\n", LineKind::Constraint) {
            Ok(input) => panic!("expected an error, got {input:?}"),
            Err(error) => error,
        };
        assert_message(&error, &format!("{FILE}:2"), &["has extras"]);
    }

    #[test]
    fn a_file_included_twice_without_a_cycle_is_fine() {
        let dir = tempdir();
        let top = write(dir.path(), "requirements.txt", "-r a.txt\n-r b.txt\n");
        write(dir.path(), "a.txt", "-r common.txt\n");
        write(dir.path(), "b.txt", "-r common.txt\n");
        write(dir.path(), "common.txt", "requests\n");
        let input = read(&[top], &[]);
        assert_eq!(names(&input.requirements), ["requests", "requests"]);
        assert_eq!(input.files.len(), 4);
    }

    #[test]
    fn include_cycles_are_errors() {
        let dir = tempdir();
        let a = write(dir.path(), "a.txt", "requests\n-r b.txt\n");
        let b = write(dir.path(), "b.txt", "flask\n\n-r ./a.txt\n");
        let error = read_err(&[a]);
        assert!(matches!(error, RequirementsError::IncludeCycle { .. }));
        assert_message(&error, &format!("{}:3", b.display()), &["a.txt", "cycle"]);

        let selfish = write(dir.path(), "self.txt", "-c self.txt\n");
        let error = read_err(std::slice::from_ref(&selfish));
        assert_message(&error, &format!("{}:1", selfish.display()), &["cycle"]);
    }

    #[test]
    fn parse_str_detects_a_cycle_back_to_its_own_path() {
        let dir = tempdir();
        let path = dir.path().join("requirements.txt");
        write(dir.path(), "inner.txt", "-r requirements.txt\n");
        let mut input = RequirementsInput::default();
        let error = parse_str("-r inner.txt\n", &path, LineKind::Requirement, &mut input)
            .expect_err("cycle");
        assert_message(
            &error,
            &format!("{}:1", dir.path().join("inner.txt").display()),
            &["cycle"],
        );
    }

    #[test]
    fn missing_include_names_the_including_file_and_line() {
        let dir = tempdir();
        let top = write(
            dir.path(),
            "requirements.txt",
            "requests\n\n-r nope/missing.txt\n",
        );
        let error = read_err(std::slice::from_ref(&top));
        assert!(matches!(error, RequirementsError::IncludeRead { .. }));
        assert_message(
            &error,
            &format!("{}:3", top.display()),
            &[&dir.path().join("nope/missing.txt").display().to_string()],
        );
    }

    #[test]
    fn missing_top_level_file_is_an_error() {
        let dir = tempdir();
        let missing = dir.path().join("missing.txt");
        let error = read_err(std::slice::from_ref(&missing));
        assert!(matches!(error, RequirementsError::ReadFile { .. }));
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}: cannot read", missing.display()))
        );
        let error = read_files(&[], std::slice::from_ref(&missing)).expect_err("missing");
        assert!(matches!(error, RequirementsError::ReadFile { .. }));
    }

    #[test]
    fn remote_includes_are_errors() {
        for line in [
            "-r https://example.com/req.txt",
            "-c http://example.com/c.txt",
        ] {
            let error = parse_err(line);
            assert!(matches!(error, RequirementsError::RemoteInclude { .. }));
            assert_message(&error, &format!("{FILE}:1"), &["download the file"]);
        }
    }

    #[test]
    fn file_url_includes_are_read() {
        let dir = tempdir();
        let inner = write(dir.path(), "inner.txt", "requests\n");
        let top = write(
            dir.path(),
            "requirements.txt",
            &format!("-r {}\n", url::Url::from_file_path(&inner).expect("url")),
        );
        let input = read(&[top], &[]);
        assert_eq!(names(&input.requirements), ["requests"]);
    }

    #[test]
    fn multiple_requirement_files_are_read_in_order() {
        let dir = tempdir();
        let a = write(
            dir.path(),
            "a.txt",
            "requests\n--index-url https://a/simple\n",
        );
        let b = write(dir.path(), "b.txt", "flask\n--index-url https://b/simple\n");
        let input = read(&[a.clone(), b.clone()], &[]);
        assert_eq!(names(&input.requirements), ["requests", "flask"]);
        assert_eq!(input.requirements[1].file, b);
        assert_eq!(input.index_url.as_deref(), Some("https://b/simple"));
        assert_eq!(input.files, [a, b]);
    }

    // ---- rejected requirement forms ------------------------------------------------------

    #[test]
    fn editable_installs_are_errors() {
        for line in [
            "-e .",
            "--editable ./mypkg",
            "--editable=git+https://x/y.git",
            "-e.",
        ] {
            let error = parse_err(&format!("requests\n{line}\n"));
            assert!(
                matches!(error, RequirementsError::Editable { .. }),
                "{line}"
            );
            assert_message(
                &error,
                &format!("{FILE}:2"),
                &[
                    "editable installs cannot go into a layer",
                    "install the project as a wheel",
                ],
            );
        }
    }

    #[test]
    fn vcs_urls_are_errors() {
        for line in [
            "git+https://github.com/psf/requests.git@v2.32.3#egg=requests",
            "hg+https://hg.example.com/repo",
            "svn+ssh://svn.example.com/repo",
            "bzr+lp:project",
            "git://github.com/psf/requests.git",
            "requests @ git+https://github.com/psf/requests.git@main",
        ] {
            let error = parse_err(line);
            assert!(
                matches!(error, RequirementsError::Vcs { .. }),
                "{line}: {error}"
            );
            assert_message(&error, &format!("{FILE}:1"), &["version-control", "wheel"]);
        }
    }

    #[test]
    fn local_sources_are_errors() {
        let dir = tempdir();
        fs::create_dir_all(dir.path().join("mypkg")).expect("mkdir");
        write(dir.path(), "dist/mypkg-1.0.tar.gz", "sdist");
        let dir_url = url::Url::from_directory_path(dir.path().join("mypkg")).expect("url");
        let file = write(
            dir.path(),
            "requirements.txt",
            &format!(
                "./mypkg\n/abs/path/to/project\ndist/mypkg-1.0.tar.gz\n{dir_url}\nmypkg @ {dir_url}\nmypkg-1.0.zip\n.\n"
            ),
        );
        let content = fs::read_to_string(&file).expect("read");
        for (index, line) in content.lines().enumerate() {
            let mut input = RequirementsInput::default();
            let error = parse_str_with_env(line, &file, LineKind::Requirement, &mut input, &no_env)
                .expect_err(line);
            assert!(
                matches!(error, RequirementsError::LocalSource { .. }),
                "{line}: {error}"
            );
            assert_message(&error, &format!("{}:1", file.display()), &["pip wheel"]);
            let _ = index;
        }
        // Through read_files the line numbers are those of the file.
        let error = read_err(std::slice::from_ref(&file));
        assert_message(&error, &format!("{}:1", file.display()), &["`./mypkg`"]);
    }

    #[test]
    fn missing_local_wheels_are_errors() {
        let error = parse_err("requests\n./dist/gone-1.0-py3-none-any.whl\n");
        assert!(matches!(error, RequirementsError::MissingWheel { .. }));
        assert_message(
            &error,
            &format!("{FILE}:2"),
            &["/proj/./dist/gone-1.0-py3-none-any.whl"],
        );
        let error = parse_err("gone @ file:///nowhere/gone-1.0-py3-none-any.whl\n");
        assert!(matches!(error, RequirementsError::MissingWheel { .. }));
        assert_message(
            &error,
            &format!("{FILE}:1"),
            &["/nowhere/gone-1.0-py3-none-any.whl"],
        );
    }

    #[test]
    fn sdist_and_other_non_wheel_urls_are_errors() {
        for line in [
            "https://files.example.com/requests-2.32.3.tar.gz",
            "https://files.example.com/requests-2.32.3.zip",
            "requests @ https://files.example.com/requests-2.32.3.tar.gz",
            "https://github.com/psf/requests/archive/main",
        ] {
            let error = parse_err(line);
            assert!(
                matches!(error, RequirementsError::NotAWheel { .. }),
                "{line}: {error}"
            );
            assert_message(
                &error,
                &format!("{FILE}:1"),
                &["not a wheel", "only wheels"],
            );
        }
    }

    #[test]
    fn wheel_url_problems_are_errors() {
        let error = parse_err("flask @ https://example.com/requests-2.32.3-py3-none-any.whl\n");
        assert!(matches!(error, RequirementsError::WheelNameMismatch { .. }));
        assert_message(
            &error,
            &format!("{FILE}:1"),
            &["`flask`", "requests-2.32.3-py3-none-any.whl"],
        );
        let error = parse_err("https://example.com/not-a-valid-wheel.whl\n");
        assert!(matches!(
            error,
            RequirementsError::InvalidWheelFilename { .. }
        ));
        assert_message(&error, &format!("{FILE}:1"), &["not-a-valid-wheel.whl"]);
        let error = parse_err("s3://bucket/requests-2.32.3-py3-none-any.whl\n");
        assert!(matches!(error, RequirementsError::UnsupportedUrl { .. }));
        assert_message(&error, &format!("{FILE}:1"), &["s3://bucket"]);
    }

    #[test]
    fn malformed_requirements_include_the_parser_message() {
        let error = parse_err("requests\n\nflask >>= 3\n");
        assert!(matches!(
            error,
            RequirementsError::InvalidRequirement { .. }
        ));
        assert_message(
            &error,
            &format!("{FILE}:3"),
            &["invalid requirement", "flask >>= 3"],
        );
        let error = parse_err("foo[bar\n");
        assert_message(&error, &format!("{FILE}:1"), &["invalid requirement"]);
        let error = parse_err("flask; python_version <<< '3'\n");
        assert_message(&error, &format!("{FILE}:1"), &["invalid requirement"]);
    }

    // ---- command line --------------------------------------------------------------------

    #[test]
    fn cli_requirements_are_added_with_positions() {
        let mut input = parse("attrs\n");
        add_cli_requirements(
            &mut input,
            &[
                "requests".to_string(),
                " ".to_string(),
                "numpy<2; python_version >= '3.9'".to_string(),
            ],
        )
        .expect("parses");
        assert_eq!(names(&input.requirements), ["attrs", "requests", "numpy"]);
        assert_eq!(input.requirements[1].location(), "<command line>:1");
        assert_eq!(input.requirements[2].location(), "<command line>:3");
        assert!(input.requirements[2].hashes.is_empty());
    }

    #[test]
    fn cli_requirement_errors_name_their_position() {
        let mut input = RequirementsInput::default();
        let error = add_cli_requirements(
            &mut input,
            &["requests".to_string(), "numpy<<2".to_string()],
        )
        .expect_err("invalid");
        assert_message(&error, "<command line>:2", &["invalid requirement"]);
        let error = add_cli_requirements(&mut input, &["-e .".to_string()]).expect_err("editable");
        assert!(matches!(error, RequirementsError::Editable { .. }));
        assert_message(&error, "<command line>:1", &["editable"]);
        let error = add_cli_requirements(&mut input, &["--pre".to_string()]).expect_err("option");
        assert!(matches!(error, RequirementsError::NotARequirement { .. }));
        let error = add_cli_requirements(&mut input, &["git+https://x/y.git".to_string()])
            .expect_err("vcs");
        assert!(matches!(error, RequirementsError::Vcs { .. }));
    }

    #[test]
    fn cli_local_wheel_paths_resolve_against_the_working_directory() {
        let dir = tempdir();
        let wheel = write(dir.path(), "demo-1.0-py3-none-any.whl", "x");
        let mut input = RequirementsInput::default();
        add_cli_requirements(&mut input, &[wheel.display().to_string()]).expect("absolute path");
        assert_eq!(names(&input.requirements), ["demo"]);
    }

    // ---- helpers -------------------------------------------------------------------------

    #[test]
    fn helper_behaviour() {
        assert_eq!(strip_comment("a # b"), "a ");
        assert_eq!(strip_comment("a#b"), "a#b");
        assert_eq!(strip_comment("#b"), "");
        assert_eq!(
            split_args_options("foo>=1 --hash=x"),
            ("foo>=1", "--hash=x")
        );
        assert_eq!(split_args_options("--pre"), ("", "--pre"));
        assert_eq!(split_args_options("foo-bar"), ("foo-bar", ""));
        assert_eq!(
            shell_words("-f 'a b' \"c d\" e\\f 'g\\h'"),
            Some(vec![
                "-f".into(),
                "a b".into(),
                "c d".into(),
                "ef".into(),
                "g\\h".into()
            ])
        );
        assert_eq!(shell_words("'x"), None);
        assert_eq!(
            split_url_marker("https://x/y.whl ; a"),
            ("https://x/y.whl", "a")
        );
        assert_eq!(
            split_url_marker("https://x/y;z.whl"),
            ("https://x/y;z.whl", "")
        );
        assert_eq!(percent_decode("a%2Bb%zz"), "a+b%zz");
        assert_eq!(decode(b"\xFE\xFF\x00a"), Some("a".to_string()));
        assert_eq!(decode(b"\xFF\xFEa"), None);
    }
}
