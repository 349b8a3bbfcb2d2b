//! Reading what is installed in a virtual environment without running its Python: the
//! `*.dist-info` (and legacy `*.egg-info`) directories of its site-packages, for venvs made
//! on Linux and macOS (`lib/pythonX.Y/site-packages`) and on Windows (`Lib/site-packages`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::metadata::Headers;

/// One installed distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The name as its metadata spells it (what `pip freeze` prints).
    pub name: String,
    pub version: String,
    /// `name @ url` installs (direct_url.json without `dir_info`), as pip prints them.
    pub direct_url: Option<String>,
    /// Editable installs: the project directory.
    pub editable: Option<String>,
    /// Wheel tags from the WHEEL file: tell which platform the venv's binaries are for.
    pub tags: Vec<String>,
}

/// The site-packages directories of a venv.
pub fn site_packages(venv: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !venv.is_dir() {
        anyhow::bail!(
            "{} is not a directory: pass the venv's folder (the one holding pyvenv.cfg)",
            venv.display()
        );
    }
    let mut out = Vec::new();
    for lib in ["lib", "Lib", "lib64"] {
        let dir = venv.join(lib);
        if dir.join("site-packages").is_dir() && !out.contains(&dir.join("site-packages")) {
            out.push(dir.join("site-packages"));
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut pys: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("python"))
                })
                .map(|p| p.join("site-packages"))
                .filter(|p| p.is_dir())
                .collect();
            pys.sort();
            for p in pys {
                let canon = std::fs::canonicalize(&p).unwrap_or(p.clone());
                if !out
                    .iter()
                    .any(|o| std::fs::canonicalize(o).unwrap_or(o.clone()) == canon)
                {
                    out.push(p);
                }
            }
        }
    }
    if out.is_empty() {
        anyhow::bail!(
            "{} holds no site-packages (looked in lib/pythonX.Y/site-packages and Lib/site-packages); is it a virtual environment?",
            venv.display()
        );
    }
    Ok(out)
}

/// The Python version a venv was made for, from `pyvenv.cfg` or its `lib/pythonX.Y` folder.
pub fn python_version(venv: &Path) -> Option<String> {
    if let Ok(cfg) = std::fs::read_to_string(venv.join("pyvenv.cfg")) {
        for line in cfg.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let k = k.trim();
            if k == "version" || k == "version_info" {
                let mut parts = v.trim().split('.');
                if let (Some(a), Some(b)) = (parts.next(), parts.next()) {
                    return Some(format!("{a}.{b}"));
                }
            }
        }
    }
    let rd = std::fs::read_dir(venv.join("lib")).ok()?;
    rd.flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("python"))
                .map(str::to_string)
        })
        .find(|v| v.contains('.'))
}

#[derive(Deserialize)]
struct DirectUrl {
    url: String,
    #[serde(default)]
    dir_info: Option<DirInfo>,
    #[serde(default)]
    vcs_info: Option<VcsInfo>,
}

#[derive(Deserialize)]
struct DirInfo {
    #[serde(default)]
    editable: bool,
}

#[derive(Deserialize)]
struct VcsInfo {
    vcs: String,
    commit_id: String,
    #[serde(default)]
    requested_revision: Option<String>,
}

/// Every distribution installed in the site-packages directories, sorted as pip sorts them.
pub fn installed(sites: &[PathBuf]) -> anyhow::Result<Vec<Installed>> {
    let mut out: Vec<Installed> = Vec::new();
    for site in sites {
        let rd = std::fs::read_dir(site)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", site.display()))?;
        let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            let Some(fname) = dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let meta_file = if fname.ends_with(".dist-info") {
                dir.join("METADATA")
            } else if fname.ends_with(".egg-info") {
                if dir.is_dir() {
                    dir.join("PKG-INFO")
                } else {
                    dir.clone()
                }
            } else {
                continue;
            };
            let Ok(text) = std::fs::read(&meta_file) else {
                continue;
            };
            let headers = Headers::parse(&text);
            let (Some(name), Some(version)) = (headers.get("Name"), headers.get("Version")) else {
                anyhow::bail!(
                    "{}: no Name or Version; the venv is damaged — reinstall that package",
                    meta_file.display()
                );
            };
            let mut d = Installed {
                name: name.to_string(),
                version: version.to_string(),
                direct_url: None,
                editable: None,
                tags: Vec::new(),
            };
            if let Ok(wheel) = std::fs::read(dir.join("WHEEL")) {
                d.tags = Headers::parse(&wheel)
                    .get_all("Tag")
                    .map(str::to_string)
                    .collect();
            }
            if let Ok(json) = std::fs::read_to_string(dir.join("direct_url.json"))
                && let Ok(du) = serde_json::from_str::<DirectUrl>(&json)
            {
                if du.dir_info.as_ref().is_some_and(|d| d.editable) {
                    let path = url::Url::parse(&du.url)
                        .ok()
                        .and_then(|u| u.to_file_path().ok())
                        .map(|p| p.display().to_string())
                        .unwrap_or(du.url.clone());
                    d.editable = Some(path);
                } else if let Some(vcs) = du.vcs_info {
                    let _ = vcs.requested_revision;
                    d.direct_url = Some(format!("{}+{}@{}", vcs.vcs, du.url, vcs.commit_id));
                } else {
                    d.direct_url = Some(du.url);
                }
            }
            let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
            if !out.iter().any(|o| norm(&o.name) == norm(&d.name)) {
                out.push(d);
            }
        }
    }
    out.sort_by_key(|d| d.name.to_ascii_lowercase());
    Ok(out)
}

/// Installer tooling `pip freeze` leaves out unless `--all`.
pub fn is_tooling(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    crate::domain::INSTALLER_TOOLING.contains(&n.as_str())
}

/// The lines `pip freeze` prints for these distributions.
pub fn freeze_lines(dists: &[Installed], all: bool) -> Vec<String> {
    let mut out = Vec::new();
    for d in dists {
        if !all && is_tooling(&d.name) {
            continue;
        }
        if let Some(path) = &d.editable {
            out.push(format!(
                "# Editable install with no version control ({}=={})",
                d.name, d.version
            ));
            out.push(format!("-e {path}"));
        } else if let Some(url) = &d.direct_url {
            out.push(format!("{} @ {url}", d.name));
        } else {
            out.push(format!("{}=={}", d.name, d.version));
        }
    }
    out
}

/// A short description of the platform a venv's compiled wheels were built for, when it is
/// not a Linux one the target can use (`macOS`, `Windows`, `cp313`…).
pub fn foreign_binaries(dists: &[Installed], target: &crate::target::Target) -> Vec<String> {
    let cp = target.cpython_tag();
    let mut notes = Vec::new();
    for d in dists {
        let binary: Vec<&String> = d.tags.iter().filter(|t| !t.ends_with("-any")).collect();
        if binary.is_empty() {
            continue;
        }
        let platform = |t: &str| t.rsplit('-').next().unwrap_or("").to_string();
        let plat = platform(binary[0]);
        let family = if plat.contains("macosx") {
            Some("macOS".to_string())
        } else if plat.starts_with("win") {
            Some("Windows".to_string())
        } else if !plat.contains(target.arch.machine()) {
            Some(format!("another architecture ({plat})"))
        } else {
            None
        };
        let py = binary[0].split('-').next().unwrap_or("");
        let other_python =
            py.starts_with("cp") && py != cp && !binary.iter().any(|t| t.contains("abi3"));
        match (family, other_python) {
            (Some(f), _) => notes.push(format!(
                "{} {} was installed from a {f} wheel",
                d.name, d.version
            )),
            (None, true) => notes.push(format!(
                "{} {} was installed for {py}, not {cp}",
                d.name, d.version
            )),
            _ => {}
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(site: &Path, dir: &str, meta: &str, extra: &[(&str, &str)]) {
        let d = site.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("METADATA"), meta).unwrap();
        for (f, c) in extra {
            std::fs::write(d.join(f), c).unwrap();
        }
    }

    #[test]
    fn reads_linux_and_windows_layouts_and_freezes_like_pip() {
        let venv = tempfile::tempdir().unwrap();
        let site = venv.path().join("Lib/site-packages");
        dist(
            &site,
            "PySocks-1.7.1.dist-info",
            "Name: PySocks\nVersion: 1.7.1\n",
            &[],
        );
        dist(
            &site,
            "pip-24.0.dist-info",
            "Name: pip\nVersion: 24.0\n",
            &[],
        );
        dist(
            &site,
            "mine-0.1.dist-info",
            "Name: mine\nVersion: 0.1\n",
            &[(
                "direct_url.json",
                r#"{"url": "file:///src/mine", "dir_info": {"editable": true}}"#,
            )],
        );
        dist(
            &site,
            "w-1.0.dist-info",
            "Name: w\nVersion: 1.0\n",
            &[(
                "direct_url.json",
                r#"{"url": "https://h/w-1.0-py3-none-any.whl", "archive_info": {}}"#,
            )],
        );
        let sites = site_packages(venv.path()).unwrap();
        let d = installed(&sites).unwrap();
        assert_eq!(
            freeze_lines(&d, false),
            vec![
                "# Editable install with no version control (mine==0.1)",
                "-e /src/mine",
                "PySocks==1.7.1",
                "w @ https://h/w-1.0-py3-none-any.whl"
            ]
        );
        assert!(freeze_lines(&d, true).contains(&"pip==24.0".to_string()));
    }

    #[test]
    fn flags_foreign_binaries() {
        let t = crate::target::Target::new(11, crate::target::Arch::X86_64).unwrap();
        let mk = |tag: &str| Installed {
            name: "x".into(),
            version: "1".into(),
            direct_url: None,
            editable: None,
            tags: vec![tag.into()],
        };
        assert!(foreign_binaries(&[mk("cp311-cp311-macosx_11_0_arm64")], &t)[0].contains("macOS"));
        assert!(foreign_binaries(&[mk("cp311-cp311-win_amd64")], &t)[0].contains("Windows"));
        assert!(
            foreign_binaries(&[mk("cp313-cp313-manylinux_2_17_x86_64")], &t)[0].contains("cp313")
        );
        assert!(foreign_binaries(&[mk("cp311-cp311-manylinux_2_17_x86_64")], &t).is_empty());
        assert!(foreign_binaries(&[mk("py3-none-any")], &t).is_empty());
    }
}
