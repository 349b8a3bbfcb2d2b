//! What every project-file reader shares: reading and parsing the file, turning parser spans
//! into `path:line:column` errors, typed access to values, and the rules common to all formats
//! (which dependencies can apply on Lambda, choosing extras and groups, direct references).

use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use uv_pep508::{MarkerTree, Requirement, VersionOrUrl};

use super::error::ProjectFileError;
use super::toml_access::{self, DeTable, Item, WrongType};
use crate::requirements::SourcedRequirement;
use crate::target::{Arch, Target};
use crate::textpos::TextPos;
use crate::wheel_name::normalize_name;

/// A project file (pyproject.toml or a lock file) larger than this is refused: the largest
/// real lock files are a few MiB, and a device or a huge file must not exhaust memory.
pub const PROJECT_FILE_MAX_BYTES: u64 = 32 << 20;

/// Reads a project file as UTF-8 text (a leading byte-order mark is dropped); only regular
/// files of at most [`PROJECT_FILE_MAX_BYTES`] are read.
pub(super) fn read_text(path: &Path) -> Result<String, ProjectFileError> {
    let bytes = crate::fsutil::read_capped(path, PROJECT_FILE_MAX_BYTES).map_err(|error| {
        ProjectFileError::Read {
            path: path.to_path_buf(),
            error,
        }
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    String::from_utf8(bytes.to_vec()).map_err(|_| ProjectFileError::Encoding {
        path: path.to_path_buf(),
    })
}

/// One file being read: its path and text, for positions and messages, and the hint that
/// ends messages about values not shaped as the file's tool writes them.
#[derive(Clone, Copy)]
pub(super) struct Src<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub hint: &'static str,
}

impl<'a> Src<'a> {
    pub fn new(path: &'a Path, text: &'a str, hint: &'static str) -> Self {
        Src { path, text, hint }
    }

    /// Parses the text as TOML; a syntax error names its line and column, then `hint`.
    pub fn parse_toml(&self, hint: &str) -> Result<DeTable<'a>, ProjectFileError> {
        toml_access::parse(self.text).map_err(|error| ProjectFileError::Toml {
            path: self.path.to_path_buf(),
            pos: self.pos(error.span().map_or(0, |span| span.start)),
            message: error.message().trim().to_string(),
            hint: hint.to_string(),
        })
    }

    pub fn pos(&self, offset: usize) -> TextPos {
        TextPos::at(self.text, offset)
    }

    /// Where a value starts.
    pub fn pos_of(&self, item: &Item<'_>) -> TextPos {
        self.pos(item.span().start)
    }

    pub fn malformed(&self, pos: Option<TextPos>, message: String, hint: &str) -> ProjectFileError {
        ProjectFileError::Malformed {
            path: self.path.to_path_buf(),
            pos,
            message,
            hint: hint.to_string(),
        }
    }

    /// A wrong-type error for the value at `wrong.span`, with a hint of its own.
    pub fn wrong_type_with(
        &self,
        wrong: WrongType,
        what: &str,
        expected: &'static str,
        hint: &'static str,
    ) -> ProjectFileError {
        ProjectFileError::WrongType {
            path: self.path.to_path_buf(),
            pos: self.pos(wrong.span.start),
            what: what.to_string(),
            expected,
            found: wrong.found,
            hint,
        }
    }

    fn wrong_type(&self, wrong: WrongType, what: &str, expected: &'static str) -> ProjectFileError {
        self.wrong_type_with(wrong, what, expected, self.hint)
    }

    /// `item` as a string; `what` names the key in messages.
    pub fn string<'v>(&self, item: &'v Item<'_>, what: &str) -> Result<&'v str, ProjectFileError> {
        toml_access::string(item).map_err(|w| self.wrong_type(w, what, "a string"))
    }

    /// `table[key]` as a string, when present.
    pub fn opt_string<'v>(
        &self,
        table: &'v DeTable<'_>,
        key: &str,
        what: &str,
    ) -> Result<Option<&'v str>, ProjectFileError> {
        table
            .get(key)
            .map(|item| self.string(item, what))
            .transpose()
    }

    pub fn table<'v, 'i>(
        &self,
        item: &'v Item<'i>,
        what: &str,
    ) -> Result<&'v DeTable<'i>, ProjectFileError> {
        toml_access::table(item).map_err(|w| self.wrong_type(w, what, "a table"))
    }

    /// `table[key]` as a table, when present.
    pub fn opt_table<'v, 'i>(
        &self,
        table: &'v DeTable<'i>,
        key: &str,
        what: &str,
    ) -> Result<Option<&'v DeTable<'i>>, ProjectFileError> {
        table
            .get(key)
            .map(|item| self.table(item, what))
            .transpose()
    }

    pub fn array<'v, 'i>(
        &self,
        item: &'v Item<'i>,
        what: &str,
    ) -> Result<&'v [Item<'i>], ProjectFileError> {
        toml_access::array(item).map_err(|w| self.wrong_type(w, what, "an array"))
    }

    /// `table[key]` as a boolean, when present.
    pub fn opt_bool(
        &self,
        table: &DeTable<'_>,
        key: &str,
        what: &str,
    ) -> Result<Option<bool>, ProjectFileError> {
        table
            .get(key)
            .map(|item| {
                toml_access::boolean(item).map_err(|w| self.wrong_type(w, what, "true or false"))
            })
            .transpose()
    }

    /// `item` as an array of strings; a wrong entry is reported at the entry.
    pub fn strings<'v>(
        &self,
        item: &'v Item<'_>,
        what: &str,
    ) -> Result<Vec<(&'v str, Range<usize>)>, ProjectFileError> {
        toml_access::strings(item).map_err(|w| self.wrong_type(w, what, "an array of strings"))
    }

    /// `table[key]` as an array of strings (empty when absent), without spans.
    pub fn opt_strings(
        &self,
        table: &DeTable<'_>,
        key: &str,
        what: &str,
    ) -> Result<Vec<String>, ProjectFileError> {
        Ok(match table.get(key) {
            Some(item) => self
                .strings(item, what)?
                .into_iter()
                .map(|(s, _)| s.to_string())
                .collect(),
            None => Vec::new(),
        })
    }

    /// A PEP 508 requirement written (or assembled from the file's fields) at `pos`.
    pub fn parse_requirement(
        &self,
        text: &str,
        pos: TextPos,
    ) -> Result<Requirement, ProjectFileError> {
        let base = self.path.parent().unwrap_or(Path::new(""));
        Requirement::parse(text, base).map_err(|error| ProjectFileError::InvalidRequirement {
            path: self.path.to_path_buf(),
            pos: Some(pos),
            requirement: text.to_string(),
            message: error.to_string(),
        })
    }

    /// A PEP 508 marker written at `pos`.
    pub fn parse_marker(&self, text: &str, pos: TextPos) -> Result<MarkerTree, ProjectFileError> {
        MarkerTree::from_str(text).map_err(|error| {
            self.malformed(
                Some(pos),
                format!("invalid marker `{text}`: {error}"),
                "fix the marker or regenerate the file with its tool",
            )
        })
    }

    pub fn sourced(&self, requirement: Requirement, pos: TextPos) -> SourcedRequirement {
        SourcedRequirement {
            requirement,
            file: self.path.to_path_buf(),
            line: pos.line,
            hashes: Vec::new(),
        }
    }

    /// Rejects direct references that are not wheels (VCS URLs, source archives, directories).
    pub fn check_direct_url(
        &self,
        req: &Requirement,
        pos: TextPos,
    ) -> Result<(), ProjectFileError> {
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
        Err(self.not_from_index(pos, req.name.as_ref(), origin))
    }

    pub fn not_from_index(&self, pos: TextPos, name: &str, origin: String) -> ProjectFileError {
        ProjectFileError::NotFromIndex {
            path: self.path.to_path_buf(),
            pos: Some(pos),
            name: name.to_string(),
            origin,
        }
    }
}

/// Collects `sha256:` hashes (lowercased, without duplicates).
pub(super) fn push_sha256(hashes: &mut Vec<String>, hash: &str) {
    let hash = hash.to_ascii_lowercase();
    if hash.starts_with("sha256:") && !hashes.contains(&hash) {
        hashes.push(hash);
    }
}

/// The package name at the start of an extras entry (`"psycopg"`, `"pkg (>=1)"`), normalised.
pub(super) fn leading_name(entry: &str) -> String {
    let end = entry
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(entry.len());
    normalize_name(&entry[..end])
}

/// Whether `marker` can be true on any Lambda Python runtime and architecture (with no extras
/// active); dependencies that cannot are never installed there and need not be checked.
pub(super) fn may_apply_on_lambda(marker: MarkerTree) -> bool {
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
pub(super) fn known_list(what: &str, names: &[String], none: &str) -> String {
    if names.is_empty() {
        none.to_string()
    } else {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        format!("known {what}: {}", quoted.join(", "))
    }
}

/// Adds `name` to `known` unless a name equal to it after normalisation is there already.
pub(super) fn push_known(known: &mut Vec<String>, name: &str) {
    if !known
        .iter()
        .any(|k| normalize_name(k) == normalize_name(name))
    {
        known.push(name.to_string());
    }
}

/// Picks the requested names (compared normalised) among `known` (as written), returning them
/// as written; `all` selects every known name.
pub(super) fn select<'k>(
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

/// Where a locked package comes from (uv.lock, poetry.lock).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Origin {
    /// A package index (or find-links directory): installable by name and version.
    Registry,
    /// The project or a workspace member (`editable`, `virtual`, `directory`), with its path.
    Local(String),
    /// Anything else, described for messages.
    Other(String),
}
