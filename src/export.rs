//! `pylayer export`: a lock's pins as a requirements.txt that `pip install --require-hashes -r`
//! accepts, for pip users, CI images and developers' venvs.
//!
//! One file serves every target of the lock: a package at the same version everywhere is one
//! line carrying the hash of every target's wheel (pip accepts any listed hash); a package
//! whose version differs between targets (a glibc ceiling, a Python version) gets one line
//! per version with an environment marker naming the targets that have it, as pip-tools and
//! uv spell it. The hashes are those of the wheels the layer holds: pip on another platform
//! picks other wheels and rejects them, which is what `--no-hashes` is for.

use std::collections::BTreeMap;

use crate::index::{DEFAULT_INDEX_URL, IndexConfig};
use crate::lock::Lock;
use crate::target::Target;

/// How to write the file.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Leave out `--hash` options (for a venv on another OS or CPU than the layer's).
    pub no_hashes: bool,
    /// The lock file named in the header.
    pub lock_name: String,
}

/// Why a lock cannot be exported for the targets asked.
#[derive(Debug, thiserror::Error)]
#[error(
    "{lock} has no pins for {target}\n  run `pylayer lock --python {py} --arch {arch}` first, or export the targets it has"
)]
pub struct MissingTarget {
    pub lock: String,
    pub target: String,
    pub py: String,
    pub arch: String,
}

/// One version of a package: the targets that have it and the hashes of their wheels.
type Pin<'a> = (Vec<&'a Target>, Vec<&'a str>);

/// The requirements.txt text for `targets` of `lock`.
pub fn requirements_txt(
    lock: &Lock,
    targets: &[Target],
    index: &IndexConfig,
    opts: &ExportOptions,
) -> Result<String, MissingTarget> {
    let mut pins: BTreeMap<&str, BTreeMap<&str, Pin>> = BTreeMap::new();
    // Local projects: by their directory (relative to the project root), per target.
    let mut local: BTreeMap<&str, Vec<&Target>> = BTreeMap::new();
    for t in targets {
        let lt = lock.target(t).ok_or_else(|| MissingTarget {
            lock: opts.lock_name.clone(),
            target: t.label(),
            py: t.python_version(),
            arch: t.arch.lambda_name().to_string(),
        })?;
        for p in &lt.packages {
            if p.source_hash.is_some() {
                local.entry(p.url.as_str()).or_default().push(t);
                continue;
            }
            let e = pins
                .entry(p.name.as_str())
                .or_default()
                .entry(p.version.as_str())
                .or_default();
            e.0.push(t);
            if !e.1.contains(&p.sha256.as_str()) {
                e.1.push(p.sha256.as_str());
            }
        }
    }

    let labels: Vec<String> = targets.iter().map(Target::label).collect();
    let mut out = format!(
        "# Exported by `pylayer export` from {} for {}.\n",
        opts.lock_name,
        labels.join(", ")
    );
    if opts.no_hashes {
        out.push_str("# Without hashes: pip picks the wheels for the machine it runs on.\n");
    } else {
        out.push_str(
            "# The hashes are those of the layer's wheels (Lambda's Linux and CPU): install with\n\
             #   pip install --require-hashes -r THIS_FILE\n\
             # on a matching machine, or with pip's --platform/--python-version/--only-binary=:all:\n\
             # options; for a venv on another OS, export with --no-hashes.\n",
        );
    }
    for (i, url) in index.indexes.iter().enumerate() {
        let url = crate::http::strip_userinfo(url);
        if i == 0 && url != DEFAULT_INDEX_URL {
            out.push_str(&format!("--index-url {url}\n"));
        } else if i > 0 {
            out.push_str(&format!("--extra-index-url {url}\n"));
        }
    }
    for f in &index.find_links {
        out.push_str(&format!(
            "--find-links {}\n",
            crate::http::strip_userinfo(f)
        ));
    }

    for (name, versions) in &pins {
        for (version, (have, hashes)) in versions {
            let mut line = format!("{name}=={version}");
            if have.len() < targets.len() {
                line.push_str(&format!(" ; {}", marker(have)));
            }
            if !opts.no_hashes {
                let mut hashes = hashes.clone();
                hashes.sort_unstable();
                for h in hashes {
                    line.push_str(&format!(" \\\n    --hash=sha256:{h}"));
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !local.is_empty() {
        out.push_str(
            "# Local projects, by their directory from the project root (pip builds them; a \n\
             # directory has no hash to check, so --require-hashes refuses them):\n",
        );
    }
    for (path, have) in &local {
        let path = if path.starts_with('.') || path.starts_with('/') {
            path.to_string()
        } else {
            format!("./{path}")
        };
        let mut line = path;
        if have.len() < targets.len() {
            line.push_str(&format!(" ; {}", marker(have)));
        }
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// A PEP 508 marker true exactly on `targets` (`python_version`, `platform_machine`).
fn marker(targets: &[&Target]) -> String {
    let one = |t: &Target| {
        format!(
            "python_version == \"{}\" and platform_machine == \"{}\"",
            t.python_version(),
            t.arch.machine()
        )
    };
    match targets {
        [t] => one(t),
        _ => targets
            .iter()
            .map(|t| format!("({})", one(t)))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{LockedPackage, LockedTarget};
    use crate::target::Arch;

    fn pkg(name: &str, version: &str, sha: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
            filename: format!("{name}-{version}-py3-none-any.whl"),
            url: String::new(),
            sha256: sha.into(),
            size: 1,
            dependencies: Vec::new(),
            metadata_sha256: None,
            source_hash: None,
            built_from_source: false,
        }
    }

    fn target(minor: u8, arch: Arch) -> Target {
        Target::new(minor, arch).unwrap()
    }

    fn locked(python: &str, arch: &str, packages: Vec<LockedPackage>) -> LockedTarget {
        LockedTarget {
            python: python.into(),
            arch: arch.into(),
            packages,
            held_back: Vec::new(),
            differs: Vec::new(),
        }
    }

    #[test]
    fn local_projects_are_exported_by_their_directory_without_hashes() {
        let mut shared = pkg("shared-lib", "0.3", "dd");
        shared.url = "../shared-lib".into();
        shared.source_hash = Some("sha256:ee".into());
        let mut own = pkg("app", "1.0", "ff");
        own.url = "app".into();
        own.source_hash = Some("sha256:11".into());
        let lock = Lock {
            version: 1,
            inputs_digest: String::new(),
            targets: vec![locked(
                "3.12",
                "x86_64",
                vec![shared, own, pkg("six", "1.17.0", "cc")],
            )],
        };
        let opts = ExportOptions {
            no_hashes: false,
            lock_name: "pylayer.lock".into(),
        };
        let text = requirements_txt(
            &lock,
            &[target(12, Arch::X86_64)],
            &IndexConfig::default(),
            &opts,
        )
        .unwrap();
        assert!(
            text.contains("\n../shared-lib\n./app\n") || text.contains("\n./app\n../shared-lib\n"),
            "{text}"
        );
        assert!(
            !text.contains("shared-lib==") && !text.contains("sha256:dd"),
            "{text}"
        );
        assert!(text.contains("six==1.17.0"), "{text}");
    }

    #[test]
    fn one_line_per_version_with_markers_where_targets_differ() {
        let lock = Lock {
            version: 1,
            inputs_digest: String::new(),
            targets: vec![
                locked(
                    "3.11",
                    "x86_64",
                    vec![pkg("numpy", "2.2.6", "aa"), pkg("six", "1.17.0", "cc")],
                ),
                locked(
                    "3.12",
                    "x86_64",
                    vec![pkg("numpy", "2.5.5", "bb"), pkg("six", "1.17.0", "cc")],
                ),
            ],
        };
        let targets = [target(11, Arch::X86_64), target(12, Arch::X86_64)];
        let index = IndexConfig {
            indexes: vec!["https://user:secret@mirror.example/simple/".into()],
            ..IndexConfig::default()
        };
        let opts = ExportOptions {
            no_hashes: false,
            lock_name: "pylayer.lock".into(),
        };
        let text = requirements_txt(&lock, &targets, &index, &opts).unwrap();
        assert!(!text.contains("secret"), "{text}");
        assert!(
            text.contains("--index-url https://mirror.example/simple/\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "numpy==2.2.6 ; python_version == \"3.11\" and platform_machine == \"x86_64\" \\\n    --hash=sha256:aa\n"
            ),
            "{text}"
        );
        assert!(text.contains("numpy==2.5.5 ; python_version == \"3.12\""));
        // Same version everywhere: no marker, the hash once.
        assert!(
            text.contains("six==1.17.0 \\\n    --hash=sha256:cc\n"),
            "{text}"
        );

        let no_hashes = ExportOptions {
            no_hashes: true,
            ..opts.clone()
        };
        let text = requirements_txt(&lock, &targets[1..], &index, &no_hashes).unwrap();
        assert!(text.contains("numpy==2.5.5\nsix==1.17.0\n"), "{text}");

        let err = requirements_txt(&lock, &[target(13, Arch::Arm64)], &index, &opts).unwrap_err();
        assert!(err.to_string().contains("python3.13/arm64"), "{err}");
    }
}
