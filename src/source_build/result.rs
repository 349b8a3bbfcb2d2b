//! Checking what a backend built: one wheel, pure Python (a layer's compiled code must be
//! built for Lambda's glibc, which a build on this machine cannot promise).

use std::path::{Path, PathBuf};

use crate::wheel_name::WheelName;

/// File endings of compiled modules and shared libraries.
const COMPILED: &[&str] = &[".so", ".pyd", ".dylib", ".dll"];

/// Why a built wheel is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Compiled code (a platform tag or a compiled file).
    Compiled(String),
    /// Anything else wrong with the output.
    Broken(String),
}

/// Whether every tag of the wheel says pure Python (`py3-none-any`, `py2.py3-none-any`).
pub fn is_pure(w: &WheelName) -> bool {
    w.abi_tags.iter().all(|a| a == "none")
        && w.platform_tags.iter().all(|p| p == "any")
        && w.python_tags.iter().all(|p| {
            p.strip_prefix("py")
                .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The one wheel in `dir` (the backend said `reported`), checked to be pure.
pub fn check(dir: &Path, reported: &str) -> Result<(PathBuf, WheelName), Refusal> {
    let wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Refusal::Broken(format!("cannot list the output directory: {e}")))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    let path = match wheels.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(Refusal::Broken(format!(
                "the backend reported {reported:?} but wrote no wheel"
            )));
        }
        _ => {
            return Err(Refusal::Broken(format!(
                "the backend wrote {} wheels, one was expected",
                wheels.len()
            )));
        }
    };
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = WheelName::parse(&filename).map_err(|e| Refusal::Broken(e.to_string()))?;
    if !is_pure(&name) {
        return Err(Refusal::Compiled(format!(
            "the build produced {filename}, tagged {} (compiled for this machine, not pure Python)",
            name.tag()
        )));
    }
    let f = std::fs::File::open(&path)
        .map_err(|e| Refusal::Broken(format!("cannot open {filename}: {e}")))?;
    let z = zip::ZipArchive::new(f)
        .map_err(|e| Refusal::Broken(format!("{filename} is not a readable zip: {e}")))?;
    if let Some(bad) = z.file_names().filter_map(|n| n.ok()).find(|n| {
        let l = n.to_ascii_lowercase();
        COMPILED
            .iter()
            .any(|c| l.ends_with(c) || l.contains(&format!("{c}.")))
    }) {
        return Err(Refusal::Compiled(format!(
            "the built wheel {filename} contains the compiled file {bad}"
        )));
    }
    Ok((path, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_tags() {
        let p = |s: &str| is_pure(&WheelName::parse(s).unwrap());
        assert!(p("a-1-py3-none-any.whl"));
        assert!(p("a-1-py2.py3-none-any.whl"));
        assert!(p("a-1-py311-none-any.whl"));
        assert!(!p("a-1-cp311-cp311-linux_x86_64.whl"));
        assert!(!p("a-1-cp311-none-any.whl"));
        assert!(!p("a-1-py3-none-linux_x86_64.whl"));
    }
}
