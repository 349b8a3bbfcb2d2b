//! One requirement line to a PEP 508 requirement: names, URLs, local wheels, and the
//! refusals for what would need a build or a checkout.

use super::*;

/// The scheme of `scheme://…`, lower-cased, when `text` starts like a URL.
pub(super) fn url_scheme(text: &str) -> Option<String> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then(|| scheme.to_ascii_lowercase())
}

/// The scheme before the first `:` when it is one pip treats as a URL, lower-cased.
pub(super) fn bare_url_scheme(text: &str) -> Option<String> {
    if let Some(scheme) = url_scheme(text) {
        return Some(scheme);
    }
    let (scheme, _) = text.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    (scheme == "file" || is_vcs_scheme(&scheme)).then_some(scheme)
}

/// pip's version-control schemes: `git`, `svn`, and `git+`, `hg+`, `svn+`, `bzr+` prefixes.
pub(super) fn is_vcs_scheme(scheme: &str) -> bool {
    let scheme = scheme.to_ascii_lowercase();
    scheme == "git"
        || scheme == "svn"
        || ["git+", "hg+", "svn+", "bzr+"]
            .iter()
            .any(|prefix| scheme.starts_with(prefix))
}

/// pip's test for "this is a path, not a name".
pub(super) fn looks_like_path(text: &str) -> bool {
    text.contains('/') || text.contains('\\') || text.starts_with('.')
}

pub(super) fn is_wheel_filename(text: &str) -> bool {
    text.to_ascii_lowercase().ends_with(".whl")
}

/// Archive extensions pip recognises as installable files.
pub(super) fn is_archive(text: &str) -> bool {
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
pub(super) fn strip_extras(text: &str) -> (&str, &str) {
    if text.ends_with(']')
        && let Some(open) = text.rfind('[')
    {
        return (text[..open].trim_end(), &text[open..]);
    }
    (text, "")
}

/// Splits `URL ; marker` for bare URLs: pip needs whitespace around the `;` because `;` may
/// occur inside URLs.
pub(super) fn split_url_marker(text: &str) -> (&str, &str) {
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
pub(super) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The last path segment of a URL, percent-decoded.
pub(super) fn url_filename(url: &url::Url) -> String {
    url.path_segments()
        .and_then(|mut segments| segments.next_back())
        .map(percent_decode)
        .unwrap_or_default()
}

/// Parses a wheel filename, for messages and for the name of unnamed wheel requirements.
pub(super) fn wheel_name(filename: &str, site: &Site<'_>) -> Result<WheelName, RequirementsError> {
    WheelName::parse(filename).map_err(|error| RequirementsError::InvalidWheelFilename {
        file: site.path(),
        line: site.line,
        reason: error.to_string(),
    })
}

/// Parses PEP 508 text, turning the parser's error into one naming the file and line.
pub(super) fn parse_pep508(
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
pub(super) fn direct_reference(
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
pub(super) fn parse_requirement(
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
pub(super) fn parse_bare_url(
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

/// A local project directory written as a requirement: `./pkg`, `../x[extra]`, `/abs`,
/// `file:///dir`, `name @ file:///dir`, `name @ ./dir` (anything path-like that is not an
/// archive). `None` for everything else, which `parse_requirement` handles.
pub(super) fn local_directory(
    text: &str,
    base_dir: &Path,
    site: &Site<'_>,
    editable: bool,
) -> Result<Option<LocalRequirement>, RequirementsError> {
    let text = text.trim();
    let to_path = |target: &str| -> Result<Option<PathBuf>, RequirementsError> {
        match bare_url_scheme(target).as_deref() {
            Some("file") => url::Url::parse(target)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .map(Some)
                .ok_or_else(|| RequirementsError::UnsupportedUrl {
                    file: site.path(),
                    line: site.line,
                    url: target.to_string(),
                }),
            Some(_) => Ok(None),
            None if looks_like_path(target) => Ok(Some(base_dir.join(target))),
            None => Ok(None),
        }
    };
    let (name, extras, target, marker) = if bare_url_scheme(text).is_some() {
        let (url, marker) = split_url_marker(text);
        (None, "", url, marker)
    } else if let Some((name_and_extras, target)) = text
        .split_once('@')
        .filter(|(before, _)| !looks_like_path(before))
    {
        let (target, marker) = split_url_marker(target);
        let (name, extras) = strip_extras(name_and_extras.trim());
        (Some(name.trim().to_string()), extras, target, marker)
    } else {
        let (head, marker) = match text.split_once(';') {
            Some((head, marker)) => (head.trim(), marker.trim()),
            None => (text, ""),
        };
        let (path, extras) = strip_extras(head);
        (None, extras, path, marker)
    };
    if is_archive(target)
        || (name.is_none() && bare_url_scheme(target).is_none() && !looks_like_path(target))
    {
        return Ok(None);
    }
    let Some(path) = to_path(target)? else {
        return Ok(None);
    };
    Ok(Some(LocalRequirement {
        path,
        name,
        extras: extras.to_string(),
        marker: marker.to_string(),
        editable,
        file: site.path(),
        line: site.line,
    }))
}

/// A local path: allowed only when it is an existing `.whl` file; returns the parsed wheel
/// filename and the file's URL.
pub(super) fn local_wheel(
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
pub(super) fn check_direct_url(
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
