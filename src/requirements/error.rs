//! Errors of the requirements reader: each names `file:line`, what is wrong and the fix.

use std::path::PathBuf;

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
        "{file}:{line}: editable install `{target}`: editable installs cannot go into a layer, \
         and pylayer builds only local directories (`-e ./path`); check out the repository and \
         name its directory, or require the package by name and version"
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
         --no-binary, --prefer-binary, --trusted-host, --require-hashes, and --hash after a requirement"
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
    /// `--hash` after a local project directory: a directory has no archive hash to check.
    #[error(
        "{file}:{line}: `--hash` after the local project `{path}`: a directory has no file hash \
         to check (the lock records a hash of its sources); remove the --hash options"
    )]
    LocalHash {
        file: PathBuf,
        line: usize,
        path: String,
    },
    /// An `--only-binary`/`--no-binary` value that is not `:all:`, `:none:` or a name.
    #[error(
        "{file}:{line}: `{option} {value}`: `{name}` is not a package name; write `:all:`, \
         `:none:` or package names separated by commas"
    )]
    BinaryOption {
        file: PathBuf,
        line: usize,
        option: String,
        value: String,
        name: String,
    },
    /// `--global-option`, `--config-settings` and friends configure sdist builds.
    #[error(
        "{file}:{line}: `{option}` passes options to a build backend, which pylayer does not do \
         (it builds source distributions with their backend's defaults, and only pure-Python \
         ones); remove the option"
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
