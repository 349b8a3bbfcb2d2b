//! Which runtime a layer is for, when a command is not told: the flags, else the pylayer
//! manifest beside the zip (`X.json` next to `X.zip`). `check` needs both parts; `test`
//! falls back on what the layer's file names say ([`super::Layer::python_hint`]).

use std::path::{Path, PathBuf};

use crate::manifest;
use crate::target::{Arch, parse_python};

/// The Python minor version and architecture known for a layer, and where they came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetHint {
    pub minor: Option<u8>,
    pub arch: Option<Arch>,
    /// The manifest read, when one was needed and found.
    pub manifest: Option<PathBuf>,
}

/// Combines `--python` / `--arch` with the manifest beside a layer zip: a flag always wins;
/// the manifest is read only when a flag is missing. `Err` (a message for the user naming
/// the file) when the manifest cannot be read or holds an invalid value.
pub fn resolve(layer: &Path, python: Option<u8>, arch: Option<Arch>) -> Result<TargetHint, String> {
    let mut hint = TargetHint {
        minor: python,
        arch,
        manifest: None,
    };
    if python.is_some() && arch.is_some() {
        return Ok(hint);
    }
    let m = manifest_beside(layer);
    if !(m.is_file() && layer.extension().is_some_and(|x| x == "zip")) {
        return Ok(hint);
    }
    let man = manifest::read(&m).map_err(|e| format!("{e:#}"))?;
    let bad = |e: String| format!("{}: {e}", m.display());
    hint.minor = Some(match python {
        Some(p) => p,
        None => parse_python(&man.python).map_err(bad)?,
    });
    hint.arch = Some(match arch {
        Some(a) => a,
        None => man.architecture.parse::<Arch>().map_err(bad)?,
    });
    hint.manifest = Some(m);
    Ok(hint)
}

/// Where a layer zip's manifest would be.
pub fn manifest_beside(layer: &Path) -> PathBuf {
    manifest::manifest_path(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_and_the_manifest_fills_in() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("x.zip");
        std::fs::write(&zip, b"").unwrap();
        // No manifest: only the flags.
        let h = resolve(&zip, Some(12), None).unwrap();
        assert_eq!((h.minor, h.arch, h.manifest), (Some(12), None, None));
        // A manifest fills in what the flags leave out; a flag still wins.
        let m = manifest::Manifest {
            pylayer_version: "0".into(),
            name: "x".into(),
            runtime: "python3.11".into(),
            python: "3.11".into(),
            architecture: "arm64".into(),
            layout: "python".into(),
            zip: "x.zip".into(),
            zip_bytes: 0,
            unzipped_bytes: 0,
            sha256: String::new(),
            code_sha256: String::new(),
            limits: manifest::Limits::default(),
            packages: Vec::new(),
            bytecode: None,
            slim: None,
            included: Vec::new(),
            notes: Vec::new(),
            held_back: Vec::new(),
            differs: Vec::new(),
        };
        manifest::write(&m, &manifest_beside(&zip)).unwrap();
        let h = resolve(&zip, Some(13), None).unwrap();
        assert_eq!(h.minor, Some(13));
        assert_eq!(h.arch, Some(Arch::Arm64));
        assert_eq!(h.manifest, Some(manifest_beside(&zip)));
        let h = resolve(&zip, None, Some(Arch::X86_64)).unwrap();
        assert_eq!((h.minor, h.arch), (Some(11), Some(Arch::X86_64)));
        // Both flags given: the manifest is not read at all.
        std::fs::write(manifest_beside(&zip), "garbage").unwrap();
        assert!(resolve(&zip, Some(12), Some(Arch::Arm64)).is_ok());
        let e = resolve(&zip, Some(12), None).unwrap_err();
        assert!(e.contains("x.json"), "{e}");
    }
}
