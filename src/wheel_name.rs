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

/// The fields of a wheel filename as slices of it, before any of them is parsed: reading a
/// project page splits thousands of filenames, most of them wheels for other platforms,
/// and parsing each name, version and tag set into owned values was most of that work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelFields<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub build: Option<&'a str>,
    /// The compressed tag triple, `python-abi-platform` (see [`WheelName::tag`]).
    pub tags: &'a str,
    pub python: &'a str,
    pub abi: &'a str,
    pub platform: &'a str,
}

impl<'a> WheelFields<'a> {
    /// Splits a wheel filename; the reason is an error when the shape is wrong.
    pub fn split(filename: &'a str) -> Result<Self, &'static str> {
        let stem = filename
            .strip_suffix(".whl")
            .ok_or("it does not end in .whl")?;
        let mut back = stem.rsplitn(4, '-');
        let (Some(platform), Some(abi), Some(python), Some(head)) =
            (back.next(), back.next(), back.next(), back.next())
        else {
            return Err("expected 5 or 6 dash-separated fields");
        };
        let tags = &stem[stem.len() - platform.len() - abi.len() - python.len() - 2..];
        let mut front = head.split('-');
        let (Some(name), Some(version), build, None) =
            (front.next(), front.next(), front.next(), front.next())
        else {
            return Err("expected 5 or 6 dash-separated fields");
        };
        if let Some(b) = build
            && !b.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err("build tag must start with a digit");
        }
        Ok(WheelFields {
            name,
            version,
            build,
            tags,
            python,
            abi,
            platform,
        })
    }

    /// Whether any platform tag names a platform (the wheel holds compiled code).
    pub fn is_compiled(&self) -> bool {
        self.platform.split('.').any(|t| t != "any")
    }
}

impl WheelName {
    pub fn parse(filename: &str) -> Result<Self, WheelNameError> {
        let err = |reason: &str| WheelNameError {
            filename: filename.to_string(),
            reason: reason.to_string(),
        };
        let f = WheelFields::split(filename).map_err(err)?;
        let name: PackageName = f
            .name
            .parse()
            .map_err(|_| err("invalid distribution name"))?;
        let version: Version = f.version.parse().map_err(|_| err("invalid version"))?;
        let split = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        Ok(WheelName {
            name,
            version,
            build: f.build.map(str::to_string),
            python_tags: split(f.python),
            abi_tags: split(f.abi),
            platform_tags: split(f.platform),
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
    fn fields_are_slices_of_the_filename() {
        let f = WheelFields::split("numpy-2.1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl").unwrap();
        assert_eq!(
            (f.name, f.version, f.build, f.tags),
            (
                "numpy",
                "2.1.0",
                Some("1"),
                "cp312-cp312-manylinux_2_17_x86_64"
            )
        );
        assert_eq!(
            (f.python, f.abi, f.platform),
            ("cp312", "cp312", "manylinux_2_17_x86_64")
        );
        assert!(f.is_compiled());
        let p = WheelFields::split("Six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert_eq!(
            p.tags,
            WheelName::parse("Six-1.16.0-py2.py3-none-any.whl")
                .unwrap()
                .tag()
        );
        assert!(!p.is_compiled());
        assert!(WheelFields::split("a-1-x-py3-none-any.whl").is_err());
        assert!(WheelFields::split("a-1-2-3-py3-none-any.whl").is_err());
        assert!(WheelFields::split("py3-none-any.whl").is_err());
    }

    #[test]
    fn rejects_malformed() {
        assert!(WheelName::parse("foo-1.0.tar.gz").is_err());
        assert!(WheelName::parse("foo-1.0-py3-none.whl").is_err());
        assert!(WheelName::parse("foo-notaversion!!-py3-none-any.whl").is_err());
    }
}
