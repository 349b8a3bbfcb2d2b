//! Wheel filenames (PEP 427 / PEP 491): `name-version(-build)?-python-abi-platform.whl`,
//! each tag field possibly a `.`-separated set.

use std::fmt;

use uv_normalize::PackageName;
use uv_pep440::Version;

/// PEP 503 normalization of a distribution name: lower case, and every run of `-`, `_` and
/// `.` becomes one `-`. Names in dist-info directories, RECORDs and user input are compared
/// this way.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A parsed wheel filename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    pub name: PackageName,
    pub version: Version,
    pub build: Option<String>,
    pub python_tags: Vec<String>,
    pub abi_tags: Vec<String>,
    pub platform_tags: Vec<String>,
}

/// Why a filename is not a wheel filename.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{filename}` is not a valid wheel filename: {reason}")]
pub struct WheelNameError {
    pub filename: String,
    pub reason: String,
}

impl WheelName {
    pub fn parse(filename: &str) -> Result<Self, WheelNameError> {
        let err = |reason: &str| WheelNameError {
            filename: filename.to_string(),
            reason: reason.to_string(),
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| err("it does not end in .whl"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts.as_slice() {
            [n, v, p, a, pl] => (*n, *v, None, *p, *a, *pl),
            [n, v, b, p, a, pl] => (*n, *v, Some(*b), *p, *a, *pl),
            _ => return Err(err("expected 5 or 6 dash-separated fields")),
        };
        let name: PackageName = name.parse().map_err(|_| err("invalid distribution name"))?;
        let version: Version = version.parse().map_err(|_| err("invalid version"))?;
        if let Some(b) = build
            && !b.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(err("build tag must start with a digit"));
        }
        let split = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        Ok(WheelName {
            name,
            version,
            build: build.map(str::to_string),
            python_tags: split(py),
            abi_tags: split(abi),
            platform_tags: split(plat),
        })
    }

    /// The compressed tag triple as in the filename: `cp312-cp312-manylinux_2_17_x86_64`.
    pub fn tag(&self) -> String {
        format!(
            "{}-{}-{}",
            self.python_tags.join("."),
            self.abi_tags.join("."),
            self.platform_tags.join(".")
        )
    }
}

impl fmt::Display for WheelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.name, self.version, self.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compressed_tags_and_build() {
        let w = WheelName::parse(
            "numpy-2.1.0-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .unwrap();
        assert_eq!(w.name.as_ref(), "numpy");
        assert_eq!(w.version.to_string(), "2.1.0");
        assert_eq!(w.build.as_deref(), Some("1"));
        assert_eq!(w.platform_tags.len(), 2);
        let p = WheelName::parse("Six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert_eq!(p.name.as_ref(), "six");
        assert_eq!(p.python_tags, vec!["py2", "py3"]);
    }

    #[test]
    fn rejects_malformed() {
        assert!(WheelName::parse("foo-1.0.tar.gz").is_err());
        assert!(WheelName::parse("foo-1.0-py3-none.whl").is_err());
        assert!(WheelName::parse("foo-notaversion!!-py3-none-any.whl").is_err());
    }
}
