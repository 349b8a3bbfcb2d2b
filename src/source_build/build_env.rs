//! The isolated build environment: build requirements resolved with pylayer's own resolver
//! for the build interpreter's Python, downloaded into the wheel cache, and unzipped into a
//! directory put on the backend's `sys.path` (no pip, no venv).

use std::path::Path;
use std::str::FromStr;

use uv_pep508::Requirement;

use super::BuildContext;
use crate::resolve::{BuildPolicy, Pin, ResolveInput};
use crate::target::Target;
use crate::wheel_name::WheelName;

/// Resolves `requires` for Python 3.`minor` on this machine's architecture, wheels only.
/// Returns the pins, every one a pure wheel (build backends are pure Python).
pub fn resolve(
    requires: &[String],
    minor: u8,
    ctx: &BuildContext,
    package: &str,
) -> Result<Vec<Pin>, String> {
    if requires.is_empty() {
        return Ok(Vec::new());
    }
    let arch = crate::interpreter::host_arch().unwrap_or(crate::target::Arch::X86_64);
    let target = Target::new(minor, arch).map_err(|e| format!("build environment: {e}"))?;
    let mut reqs = Vec::new();
    for (i, r) in requires.iter().enumerate() {
        let requirement = Requirement::from_str(r).map_err(|e| {
            format!("{package}: the build requirement {r:?} is not a valid requirement: {e}")
        })?;
        reqs.push(crate::requirements::SourcedRequirement {
            requirement,
            file: format!("[build-system] of {package}").into(),
            line: i + 1,
            hashes: Vec::new(),
        });
    }
    let input = ResolveInput {
        requirements: reqs,
        // Build requirements come as wheels: building a backend to build a package is not
        // supported.
        build: BuildPolicy {
            no_build: true,
            ..BuildPolicy::default()
        },
        ..ResolveInput::default()
    };
    let res = crate::resolve::resolve(ctx.client.clone(), ctx.handle.clone(), target, &input)
        .map_err(|e| {
            format!(
                "its build requirements ({}) cannot be resolved for Python 3.{minor}: {}; the index (or a --find-links directory) must offer wheels of them",
                requires.join(", "),
                summary(&e.to_string())
            )
        })?;
    for p in &res.pins {
        let pure = WheelName::parse(&p.file.filename)
            .map(|w| super::result::is_pure(&w))
            .unwrap_or(false);
        if !pure {
            return Err(format!(
                "the build requirement {}=={} of {package} has no pure-Python wheel ({}): pylayer installs build backends only from pure wheels",
                p.name, p.version, p.file.filename
            ));
        }
    }
    Ok(res.pins)
}

/// Downloads (hash-checked, through the wheel cache) and unzips `pins` into `env`.
pub fn install(pins: &[Pin], env: &Path, ctx: &BuildContext) -> Result<(), String> {
    for p in pins {
        let (path, _, _) = ctx
            .handle
            .block_on(ctx.client.whole_wheel(&p.file))
            .map_err(|e| {
                format!(
                    "cannot download the build requirement {}: {e:#}",
                    p.file.filename
                )
            })?;
        unzip_wheel(&path, env).map_err(|e| {
            format!(
                "cannot install the build requirement {}: {e}",
                p.file.filename
            )
        })?;
    }
    Ok(())
}

/// Unzips a wheel's importable files into `env` (`*.data/purelib` and `platlib` too; scripts
/// and headers are not needed to build).
fn unzip_wheel(wheel: &Path, env: &Path) -> Result<(), String> {
    let f = std::fs::File::open(wheel).map_err(|e| e.to_string())?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| e.to_string())?;
    for i in 0..z.len() {
        let mut e = z.by_index(i).map_err(|e| e.to_string())?;
        if e.is_dir() {
            continue;
        }
        let name = e.name().map_err(|e| e.to_string())?.into_owned();
        let rel = match name.split_once(".data/") {
            Some((head, rest)) if !head.contains('/') => {
                match rest
                    .strip_prefix("purelib/")
                    .or_else(|| rest.strip_prefix("platlib/"))
                {
                    Some(r) => r.to_string(),
                    None => continue,
                }
            }
            _ => name.clone(),
        };
        let rel = super::unpack::safe_relative(&rel)?;
        let out = env.join(rel);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut w = std::fs::File::create(&out).map_err(|e| format!("{name}: {e}"))?;
        std::io::copy(&mut e, &mut w).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// The reasons of a nested resolution failure (its `why:` lines), else its first line: the
/// build requirements' own resolution message names a target the user never asked for.
fn summary(error: &str) -> String {
    let why: Vec<&str> = error
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- "))
        .collect();
    if why.is_empty() {
        error.lines().next().unwrap_or(error).to_string()
    } else {
        why.join("; ")
    }
}
