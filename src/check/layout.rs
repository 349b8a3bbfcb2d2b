//! Layout: where things sit in the layer against where Lambda looks. Lambda extracts a layer
//! into /opt; `/opt/python` and `/opt/python/lib/python3.X/site-packages` are on `sys.path`,
//! `/opt/lib` on `LD_LIBRARY_PATH`, `/opt/bin` on `PATH`, `/opt/extensions` holds Lambda
//! extensions. Everything else is dead weight or a mistake: packages at the zip's root, a
//! site-packages for another Python, venv remnants, `.pth` files (which Lambda never
//! processes). Bytecode has its own check (`bytecode`).

use std::collections::BTreeMap;

use super::report::Finding;
use crate::layer::inventory::{Entry, EntryKind};
use crate::target::Target;

/// Top-level directories of a layer that Lambda uses.
const READ_ROOTS: &[&str] = &["python", "lib", "bin", "extensions"];

pub fn check(
    entries: &[Entry],
    target: &Target,
    owner: &dyn Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let site = format!(
        "python/lib/python{}/site-packages/",
        target.python_version()
    );
    let files: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind != EntryKind::Dir)
        .collect();

    // Files outside what Lambda reads, grouped by their top-level name.
    let mut outside: BTreeMap<&str, (usize, u64, bool, &str)> = BTreeMap::new();
    for e in &files {
        let top = e.path.split('/').next().unwrap_or("");
        let is_top_file = !e.path.contains('/');
        if READ_ROOTS.contains(&top) && !is_top_file {
            continue;
        }
        let pythonish = e.path.ends_with(".py")
            || e.path.contains(".dist-info/")
            || e.path.contains("site-packages/")
            || e.path.ends_with(".so");
        let slot = outside.entry(top).or_insert((0, 0, false, e.path.as_str()));
        slot.0 += 1;
        slot.1 += e.size;
        slot.2 |= pythonish;
    }
    let has_python = files.iter().any(|e| e.path.starts_with("python/"));
    for (top, (count, bytes, pythonish, example)) in &outside {
        let wrapped = files
            .iter()
            .any(|e| e.path.starts_with(&format!("{top}/python/")));
        let f = if wrapped && !has_python {
            Finding::error(
                "wrapped-in-directory",
                format!(
                    "the layer's contents sit inside `{top}/`, so Lambda extracts them to /opt/{top}/python, which is not on sys.path"
                ),
                format!(
                    "zip the contents of {top}/ (so `python/` is at the zip's root), not the folder itself"
                ),
            )
        } else if *pythonish {
            Finding::error(
                "not-importable",
                format!(
                    "{count} file(s) under `{top}` are Python code outside python/: Lambda extracts them to /opt/{top}, which is not on sys.path, so they cannot be imported"
                ),
                "put packages under python/ (or python/lib/python3.X/site-packages/): zip the folder `python` that contains them, not its contents",
            )
        } else {
            Finding::warning(
                "outside-lambda-paths",
                format!(
                    "{count} file(s), {} under `{top}` are outside the directories Lambda uses (python/, lib/, bin/, extensions/); they only take space unless your code opens /opt/{top} itself",
                    crate::format::human_bytes(*bytes)
                ),
                "remove them, or move them under python/ (importable) or lib/ (shared libraries)",
            )
        };
        let path = if *count == 1 {
            (*example).to_string()
        } else {
            format!("{top}/")
        };
        out.push(f.at(path));
    }

    // python/lib/pythonX.Y/…: the only version-specific import root.
    let mut wrong_sites: BTreeMap<String, usize> = BTreeMap::new();
    for e in &files {
        let Some(rest) = e.path.strip_prefix("python/lib/python") else {
            continue;
        };
        let Some((ver, after)) = rest.split_once('/') else {
            continue;
        };
        if !ver.starts_with("3.") {
            continue;
        }
        if ver != target.python_version() {
            *wrong_sites
                .entry(format!("python/lib/python{ver}/"))
                .or_default() += 1;
        } else if !after.starts_with("site-packages/") {
            out.push(
                Finding::warning(
                    "outside-lambda-paths",
                    format!("not under {site}, so not on sys.path"),
                    format!("move it under {site} or python/"),
                )
                .at(e.path.clone()),
            );
        }
    }
    for (dir, count) in wrong_sites {
        out.push(
            Finding::error(
                "wrong-python-site-packages",
                format!(
                    "{count} file(s) under {dir}: that directory is for another Python version; {} only puts {site} and python/ on sys.path",
                    target.runtime_name()
                ),
                format!(
                    "build the layer for the runtime it will run on (`pylayer build --python {}`), or attach it to functions of that Python version",
                    target.python_version()
                ),
            )
            .at(dir),
        );
    }

    // venv remnants, .pth files (bytecode for another Python: see `bytecode`).
    for e in &files {
        let p = e.path.as_str();
        let file = p.rsplit('/').next().unwrap_or(p);
        let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
        if file == "pyvenv.cfg"
            || (file.starts_with("activate") && dir.ends_with("bin") && !file.ends_with(".py"))
        {
            out.push(
                Finding::warning(
                    "venv-remnant",
                    "a virtual environment's file: the layer was made by zipping a venv, which carries its interpreter links, scripts and tooling",
                    "zip only site-packages' contents under python/ (or use `pylayer build --from-venv`)",
                )
                .at(p),
            );
            continue;
        }
        let at_root = dir == "python" || format!("{dir}/") == site;
        if at_root && file.ends_with(".pth") {
            out.push(
                Finding::warning(
                    "pth-ignored",
                    "a .pth file: Lambda adds the layer's directories to sys.path directly, not as site directories, so .pth files are never processed (namespace or path hooks they set up will be missing)",
                    "check the package imports without it; if it needs the hook, add the path or import it from your function's code",
                )
                .at(p)
                .in_dist(owner(p)),
            );
        }
    }

    if !files.is_empty()
        && !files.iter().any(|e| {
            READ_ROOTS
                .iter()
                .any(|r| e.path.starts_with(&format!("{r}/")))
        })
    {
        out.push(Finding::error(
            "nothing-usable",
            "nothing in the layer is under python/, lib/, bin/ or extensions/: Lambda extracts it to /opt but nothing on sys.path, LD_LIBRARY_PATH or PATH changes",
            "put packages under python/ and zip that folder (so the zip's entries start with `python/`)",
        ));
    }
    out
}

/// An empty layer — no installed distribution and no Python module under `python/` — is an
/// error: whatever the zip holds (nothing, or only `lib/` or `bin/` files), no function can
/// import anything from it. Not reported for a zip that could not be read at all.
pub fn empty(entries: &[Entry], container: &[Finding]) -> Option<Finding> {
    if container.iter().any(|f| f.code == "zip-corrupt") {
        return None;
    }
    let roots = crate::layer::dists::roots_present(entries);
    if !crate::layer::dists::collect(entries, &roots).is_empty() {
        return None;
    }
    let module = entries.iter().any(|e| {
        e.kind == EntryKind::File
            && roots.iter().any(|r| e.path.starts_with(r.as_str()))
            && [".py", ".pyc", ".so", ".pyd"]
                .iter()
                .any(|x| e.path.ends_with(x))
    });
    if module {
        return None;
    }
    let files = entries.iter().filter(|e| e.kind == EntryKind::File).count();
    Some(Finding::error(
        "empty-layer",
        if files == 0 {
            "the layer holds no file at all: no distribution, no module".to_string()
        } else {
            format!(
                "the layer holds {files} file(s) but no installed distribution and no Python module under python/: nothing in it can be imported"
            )
        },
        "build it from requirements that name at least one package (`pylayer build -r requirements.txt`), or put your modules under python/ (python/lib/python3.X/site-packages/ works too)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::inventory::Content;
    use crate::target::Arch;

    fn file(p: &str) -> Entry {
        Entry {
            path: p.into(),
            kind: EntryKind::File,
            size: 10,
            compressed: 10,
            content: Content::None,
        }
    }

    fn codes(entries: &[Entry], minor: u8) -> Vec<&'static str> {
        let t = Target::new(minor, Arch::X86_64).unwrap();
        let mut c: Vec<_> = check(entries, &t, &|_| None)
            .iter()
            .map(|f| f.code)
            .collect();
        c.sort();
        c
    }

    #[test]
    fn good_layouts_are_quiet() {
        let e = [
            file("python/requests/__init__.py"),
            file("python/lib/python3.12/site-packages/idna/__init__.py"),
            file("lib/libx.so.1"),
            file("bin/tool"),
        ];
        assert!(codes(&e, 12).is_empty(), "{:?}", codes(&e, 12));
        let e = [file("python/numpy/__pycache__/x.cpython-312.pyc")];
        assert!(codes(&e, 12).is_empty());
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            codes(
                &[file("python/lib/python3.11/site-packages/x/__init__.py")],
                12
            ),
            ["wrong-python-site-packages"]
        );
        assert_eq!(
            codes(&[file("numpy/__init__.py"), file("python/x.py")], 12),
            ["not-importable"]
        );
        assert_eq!(
            codes(&[file("layer/python/x.py")], 12),
            ["nothing-usable", "wrapped-in-directory"]
        );
        assert_eq!(
            codes(&[file("python/x.py"), file("README.md")], 12),
            ["outside-lambda-paths"]
        );
        assert_eq!(
            codes(
                &[file("python/pyvenv.cfg"), file("python/bin/activate")],
                12
            ),
            ["venv-remnant", "venv-remnant"]
        );
        assert_eq!(
            codes(&[file("python/distutils-precedence.pth")], 12),
            ["pth-ignored"]
        );
    }
}
