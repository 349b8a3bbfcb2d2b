//! Names and places of a build's outputs: the layer name, the output directory and the zip
//! of each target (`dist/NAME-py3.12-x86_64.zip`, its manifest beside it).

use std::path::{Path, PathBuf};

use super::Error;
use crate::target::Target;

/// Where outputs go when neither a flag nor pylayer.toml says.
pub const DEFAULT_OUT_DIR: &str = "dist";

/// A valid layer name (`[A-Za-z0-9_-]{1,140}`) derived from a directory or project name;
/// empty when nothing of `raw` is usable.
pub fn sanitize_name(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    s.chars().take(140).collect()
}

/// The layer name: `explicit` (a flag or pylayer.toml) when valid, else the name of the
/// directory holding the first requirements file, else of the current directory, else
/// `layer`.
pub fn layer_name(
    explicit: Option<&str>,
    first_requirement_file: Option<&Path>,
) -> Result<String, Error> {
    if let Some(n) = explicit {
        let clean = sanitize_name(n);
        if clean != n || clean.is_empty() {
            return Err(Error::Input(format!(
                "--name `{n}` is not a valid layer name: use 1 to 140 letters, digits, `-` or `_`"
            )));
        }
        return Ok(clean);
    }
    let from_file = |p: &Path| {
        std::path::absolute(p).ok().and_then(|a| {
            a.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
    };
    let raw = first_requirement_file
        .and_then(from_file)
        .or_else(|| {
            std::env::current_dir()
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default();
    let name = sanitize_name(&raw);
    Ok(if name.is_empty() {
        "layer".to_string()
    } else {
        name
    })
}

/// The zip of one target: `OUT/NAME-py3.X-ARCH.zip`.
pub fn zip_path(out_dir: &Path, name: &str, target: &Target) -> PathBuf {
    out_dir.join(format!(
        "{name}-py{}-{}.zip",
        target.python_version(),
        target.arch.lambda_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Arch;

    #[test]
    fn sanitizes_layer_names() {
        assert_eq!(sanitize_name("ldap3"), "ldap3");
        assert_eq!(sanitize_name("my project.v2"), "my-project-v2");
        assert_eq!(sanitize_name("..."), "");
    }

    #[test]
    fn explicit_names_must_be_valid_and_defaults_come_from_the_directory() {
        assert_eq!(layer_name(Some("deps_1"), None).unwrap(), "deps_1");
        let err = layer_name(Some("my deps"), None).unwrap_err();
        assert!(matches!(err, Error::Input(m) if m.contains("`my deps`")));
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("My Project");
        let name = layer_name(None, Some(&proj.join("requirements.txt"))).unwrap();
        assert_eq!(name, "My-Project");
        let t = Target::new(12, Arch::Arm64).unwrap();
        assert_eq!(
            zip_path(Path::new("dist"), "x", &t),
            Path::new("dist/x-py3.12-arm64.zip")
        );
    }
}
