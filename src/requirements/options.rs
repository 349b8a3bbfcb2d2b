//! pip's per-file options (`--index-url`, `-r`, `--hash`, …) and how each is applied.

use super::*;

/// The options pip accepts in requirements files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opt {
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
    pub(super) fn long(name: &str) -> Option<Self> {
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

    pub(super) fn short(c: char) -> Option<Self> {
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

    pub(super) fn takes_value(self) -> bool {
        !matches!(
            self,
            Self::NoIndex | Self::Pre | Self::PreferBinary | Self::RequireHashes
        )
    }

    pub(super) fn is_build_option(self) -> bool {
        matches!(
            self,
            Self::GlobalOption | Self::InstallOption | Self::BuildOption | Self::ConfigSettings
        )
    }
}

/// One option as written: which option, how it was spelled (for messages), and its value
/// (empty for flags).
pub(super) struct OptionUse {
    pub(super) opt: Opt,
    pub(super) spelled: String,
    pub(super) value: String,
}

/// Parses the options part of a line with optparse's rules: `--opt value`, `--opt=value`,
/// `-o value` and `-ovalue`.
pub(super) fn parse_options(
    text: &str,
    site: &Site<'_>,
) -> Result<Vec<OptionUse>, RequirementsError> {
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
pub(super) fn shell_words(text: &str) -> Option<Vec<String>> {
    shlex::split(text)
}

/// Validates a `--hash` value and normalises it to `sha256:<lower-case hex>`.
pub(super) fn parse_hash(value: &str, site: &Site<'_>) -> Result<String, RequirementsError> {
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
pub(super) fn resolve_include(value: &str, site: &Site<'_>) -> Result<PathBuf, RequirementsError> {
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
pub(super) fn resolve_find_links(value: &str, base_dir: &Path) -> String {
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
