//! `pylayer test`, `pylayer inspect` and `pylayer diff` on real layers built by pylayer from
//! the public index (ldap3, requests, pandas, pydantic for python3.11), on deliberately
//! broken copies, on hand-made zips, under qemu-user for arm64, and the HTML report in
//! headless Chromium.
//!
//! Peers: the machine's python3.11 (x86_64), `qemu-aarch64` and an aarch64 python3.11
//! sysroot, and Debian's `chromium` — `scripts/test-deps.sh` installs the last three; tests
//! that need one that is missing say so and return.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use support::{describe_output, pylayer_with_cache, run, run_with_timeout};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A directory under cargo's per-target temporary directory, kept between runs so the
/// wheel cache stays warm.
fn target_tmp(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn pylayer() -> Command {
    pylayer_with_cache(&target_tmp("inspect-test-cache"))
}

const PACKAGES: &[&str] = &["ldap3", "requests", "pandas", "pydantic"];

/// Builds `ldap3 requests pandas pydantic` for python3.11 on `arch` once per test run, with
/// the pylayer binary, and returns the zip (its manifest is beside it).
fn build_layer(arch: &str) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(&format!("layer-{arch}-"))
        .tempdir_in(target_tmp("inspect-layers"))
        .unwrap()
        .keep();
    let lock = dir.join("pylayer.lock");
    let mut cmd = pylayer();
    cmd.current_dir(&dir)
        .arg("build")
        .args(PACKAGES)
        .args([
            "--python",
            "3.11",
            "--arch",
            arch,
            "--name",
            "t",
            "--out-dir",
        ])
        .arg(&dir)
        .arg("--lock")
        .arg(&lock);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(600));
    assert!(
        out.status.success(),
        "build failed: {}",
        describe_output(&out)
    );
    let zip = dir.join(format!("t-py3.11-{arch}.zip"));
    assert!(zip.is_file(), "{} missing", zip.display());
    assert!(dir.join(format!("t-py3.11-{arch}.json")).is_file());
    zip
}

fn x86_layer() -> &'static Path {
    static ZIP: OnceLock<PathBuf> = OnceLock::new();
    ZIP.get_or_init(|| build_layer("x86_64"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Copies a zip entry by entry, replacing the contents of the entries `edit` returns
/// `Some` for and leaving out those it returns `Some(None)` for.
fn rewrite_zip(src: &Path, dst: &Path, edit: impl Fn(&str) -> Option<Option<Vec<u8>>>) {
    let mut zin = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(dst).unwrap());
    for i in 0..zin.len() {
        let name = zin.by_index_raw(i).unwrap().name().unwrap().to_string();
        match edit(&name) {
            None => {
                let e = zin.by_index_raw(i).unwrap();
                zout.raw_copy_file(e).unwrap();
            }
            Some(None) => {}
            Some(Some(bytes)) => {
                let opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                zout.start_file(name.as_str(), opts).unwrap();
                zout.write_all(&bytes).unwrap();
            }
        }
    }
    zout.finish().unwrap();
}

fn read_entry(zip: &Path, name: &str) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut e = z.by_name(name).unwrap();
    let mut v = Vec::new();
    e.read_to_end(&mut v).unwrap();
    v
}

/// Writes a zip of `(path, bytes)` entries.
fn write_zip(path: &Path, entries: &[(&str, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

/// The entries of a minimal installed distribution under `python/`.
fn dist(name: &str, version: &str, files: &[(&str, usize)]) -> Vec<(String, Vec<u8>)> {
    let di = format!("python/{}-{version}.dist-info", name.replace('-', "_"));
    let mut out: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(p, n)| (format!("python/{p}"), vec![b'#'; *n]))
        .collect();
    let mut record: String = files.iter().map(|(p, n)| format!("{p},,{n}\n")).collect();
    let dname = di.trim_start_matches("python/");
    record.push_str(&format!("{dname}/METADATA,,\n{dname}/RECORD,,\n"));
    out.push((
        format!("{di}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes(),
    ));
    out.push((format!("{di}/RECORD"), record.into_bytes()));
    out
}

fn zip_of(path: &Path, dists: Vec<Vec<(String, Vec<u8>)>>, extra: &[(&str, Vec<u8>)]) {
    let mut entries: Vec<(String, Vec<u8>)> = dists.into_iter().flatten().collect();
    entries.extend(extra.iter().map(|(p, b)| (p.to_string(), b.clone())));
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(p, b)| (p.as_str(), b.clone()))
        .collect();
    write_zip(path, &refs);
}

/// `(module, status, micros)` rows of `pylayer test --json`.
fn json_modules(out: &Output) -> Vec<(String, String, u64)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe_output(out)));
    v["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["module"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
                m["import_micros"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------------------------------------
// pylayer test
// ---------------------------------------------------------------------------------------------

#[test]
fn test_imports_every_module_of_a_real_layer_with_times() {
    let zip = x86_layer();
    let out = run(pylayer().arg("test").arg(zip));
    assert!(out.status.success(), "{}", describe_output(&out));
    let text = stdout(&out);
    println!("{text}");
    // Every top-level module of the four packages and their dependencies, each ok.
    for m in [
        "ldap3",
        "requests",
        "pandas",
        "pydantic",
        "pydantic_core",
        "numpy",
        "urllib3",
        "idna",
        "certifi",
        "charset_normalizer",
        "pyasn1",
        "dateutil",
        "typing_extensions",
    ] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(m))
            .unwrap_or_else(|| panic!("{m} not listed:\n{text}"));
        assert!(line.contains(" ok "), "{line}");
        assert!(line.contains(" ms") || line.contains(" s"), "{line}");
    }
    // Private modules and test packages are skipped unless asked for.
    assert!(!text.lines().any(|l| l.starts_with('_')), "{text}");
    assert!(text.contains(" imported in "), "{text}");
    assert!(names_python_311_x86(&stderr(&out)), "{}", stderr(&out));

    // The JSON form: sorted by import time, slowest first; pandas (which imports numpy)
    // costs more than numpy alone.
    let out = run(pylayer().arg("test").arg(zip).arg("--json"));
    assert!(out.status.success(), "{}", describe_output(&out));
    let rows = json_modules(&out);
    assert!(rows.iter().all(|r| r.1 == "ok"), "{rows:?}");
    assert!(rows.windows(2).all(|w| w[0].2 >= w[1].2), "{rows:?}");
    let t = |m: &str| rows.iter().find(|r| r.0 == m).unwrap().2;
    assert!(t("pandas") > t("numpy"), "{rows:?}");
    // (Other comparisons depend on the machine's load; pandas importing numpy does not.)
    assert!(rows.iter().all(|r| r.2 > 0), "{rows:?}");
    assert_eq!(rows[0].0, "pandas", "{rows:?}");

    // --import picks modules, dotted names included.
    let out = run(pylayer().arg("test").arg(zip).args([
        "--import",
        "pydantic.main",
        "--import",
        "ldap3.core.connection",
        "--json",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let mut names: Vec<String> = json_modules(&out).into_iter().map(|r| r.0).collect();
    names.sort();
    assert_eq!(names, ["ldap3.core.connection", "pydantic.main"]);
}

/// The interpreter line names the full version found (3.11.x) and the architecture.
fn names_python_311_x86(err: &str) -> bool {
    err.lines()
        .any(|l| l.contains(" with Python 3.11.") && l.contains(" (x86_64) "))
}

#[test]
fn test_fails_naming_a_broken_module() {
    let zip = x86_layer();
    // A copy without its manifest (so the version and architecture come from the file
    // names), where ldap3 imports something the layer does not have and one of pandas's
    // compiled modules is truncated.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.zip");
    let init = read_entry(zip, "python/ldap3/__init__.py");
    rewrite_zip(zip, &broken, |name| {
        if name == "python/ldap3/__init__.py" {
            let mut b = b"import module_missing_from_the_layer\n".to_vec();
            b.extend_from_slice(&init);
            Some(Some(b))
        } else if name == "python/idna/core.py" {
            Some(None)
        } else {
            None
        }
    });
    // --strict: ldap3's import of a module nothing declares is an error too.
    let out = run(pylayer().arg("test").arg(&broken).arg("--strict"));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let text = stdout(&out);
    let err = stderr(&out);
    println!("{text}\n{err}");
    let status = |m: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(m))
            .unwrap_or_else(|| panic!("{m} not listed:\n{text}"))
            .to_string()
    };
    assert!(status("ldap3").contains("FAILED"));
    assert!(status("idna").contains("FAILED"));
    // requests imports idna: it fails too, for the same reason.
    assert!(status("requests").contains("FAILED"));
    assert!(status("pandas").contains(" ok "));
    assert!(
        text.contains("ModuleNotFoundError: No module named 'module_missing_from_the_layer'"),
        "{text}"
    );
    assert!(text.contains("No module named 'idna.core'"), "{text}");
    assert!(err.contains("3 of "), "{err}");
    assert!(err.contains("failed to import"), "{err}");
    for m in ["ldap3", "idna", "requests"] {
        assert!(
            err.lines().last().unwrap().contains(m),
            "{m} not named in: {err}"
        );
    }
    assert!(names_python_311_x86(&err), "{err}");

    // Without it, that import is a warning naming the missing module (an undeclared
    // dependency, as matplotlib-inline's of matplotlib); the damaged idna stays an error.
    let out = run(pylayer().arg("test").arg(&broken));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let text = stdout(&out);
    let line = |m: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(m))
            .unwrap_or_else(|| panic!("{m} not listed:\n{text}"))
            .to_string()
    };
    assert!(line("ldap3").contains("warning"), "{text}");
    assert!(
        text.contains("`module_missing_from_the_layer` is not in the layer"),
        "{text}"
    );
    assert!(line("idna").contains("FAILED"), "{text}");
    assert!(stderr(&out).contains("2 of "), "{}", stderr(&out));
}

#[test]
fn test_says_which_interpreter_is_missing_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // A python3.14 layer; the only python3.14 on PATH is a pyenv-like shim that refuses.
    let zip = dir.path().join("l.zip");
    zip_of(
        &zip,
        vec![dist(
            "hello",
            "1.0",
            &[("lib/python3.14/site-packages/hello.py", 10)],
        )],
        &[],
    );
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("python3.14");
    std::fs::write(
        &shim,
        "#!/bin/sh\necho 'pyenv: python3.14: command not found' >&2\nexit 127\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let out = run(pylayer()
        .arg("test")
        .arg(&zip)
        .env("PATH", &path)
        .env("PYENV_ROOT", dir.path().join("no-pyenv")));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(err.contains("no python3.14 found"), "{err}");
    assert!(err.contains("command not found"), "{err}");
    assert!(err.contains("uv python install 3.14"), "{err}");
    assert!(err.contains("--interpreter"), "{err}");

    // A wrong --interpreter is refused with the version it is.
    let out = run(pylayer()
        .arg("test")
        .arg(&zip)
        .arg("--interpreter")
        .arg(which("python3.11").expect("python3.11 on PATH")));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains(" is Python 3.11.") && err.contains(", the layer is for python3.14"),
        "{err}"
    );
}

/// Where scripts/test-deps.sh unpacks the aarch64 python3.11.
fn arm64_sysroot() -> PathBuf {
    std::env::var_os("PYLAYER_TEST_ARM64_SYSROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-deps/sysroot-arm64")
        })
}

#[test]
fn test_runs_an_arm64_layer_under_qemu() {
    if std::env::consts::ARCH != "x86_64" {
        support::missing_tool("this test emulates aarch64 on an x86_64 machine");
        return;
    }
    let Some(_qemu) = which("qemu-aarch64") else {
        support::missing_tool(
            "qemu-aarch64 is not installed (apt-get install qemu-user; scripts/test-deps.sh does it)",
        );
        return;
    };
    let sysroot = arm64_sysroot();
    let python = sysroot.join("usr/bin/python3.11");
    if !python.is_file() {
        support::missing_tool(&format!(
            "no aarch64 python3.11 at {} (scripts/test-deps.sh unpacks Debian's there)",
            python.display()
        ));
        return;
    }
    let zip = build_layer("arm64");
    // Without --interpreter, pylayer says what it needs.
    let out = run(pylayer().arg("test").arg(&zip));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(err.contains("aarch64 python3.11"), "{err}");
    assert!(err.contains("qemu-user"), "{err}");

    // The host's python3.11 is refused: it is x86_64.
    let out = run(pylayer()
        .arg("test")
        .arg(&zip)
        .arg("--interpreter")
        .arg(which("python3.11").unwrap()));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(stderr(&out).contains("runs on x86_64"), "{}", stderr(&out));

    let out = run_with_timeout(
        pylayer()
            .arg("test")
            .arg(&zip)
            .arg("--interpreter")
            .arg(&python)
            .args(["--jobs", "2", "--json"]),
        Duration::from_secs(900),
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["emulator"].as_str().unwrap().ends_with("qemu-aarch64"),
        "{v}"
    );
    assert_eq!(v["architecture"], "arm64");
    let rows = json_modules(&out);
    println!("{rows:?}");
    for m in ["pandas", "numpy", "pydantic_core", "ldap3", "requests"] {
        let r = rows.iter().find(|r| r.0 == m).unwrap();
        assert_eq!(r.1, "ok", "{rows:?}");
        assert!(r.2 > 0);
    }
    // The layer's compiled modules really are aarch64: the host's Python cannot load them,
    // which is why the emulator was needed.
    let members = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap())
        .unwrap()
        .file_names()
        .any(|n| n.is_ok_and(|n| n.ends_with("aarch64-linux-gnu.so")));
    assert!(members);
}

// ---------------------------------------------------------------------------------------------
// pylayer inspect
// ---------------------------------------------------------------------------------------------

fn inspect_json(zip: &Path) -> serde_json::Value {
    let out = run(pylayer().arg("inspect").arg(zip).arg("--json"));
    assert!(out.status.success(), "{}", describe_output(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn inspect_sizes_a_real_layer_by_distribution() {
    let zip = x86_layer();
    let v = inspect_json(zip);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(zip.with_extension("json")).unwrap()).unwrap();
    // The same distributions, versions and sizes as the build's manifest.
    let dists = v["distributions"].as_array().unwrap();
    let packages = manifest["packages"].as_array().unwrap();
    assert_eq!(dists.len(), packages.len(), "{v}");
    let norm = |s: &str| s.to_lowercase().replace('_', "-");
    for p in packages {
        let d = dists
            .iter()
            .find(|d| norm(d["name"].as_str().unwrap()) == norm(p["name"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{} missing", p["name"]));
        assert_eq!(d["version"], p["version"]);
        assert_eq!(d["unzipped_bytes"], p["unzipped_bytes"], "{}", p["name"]);
    }
    assert_eq!(v["unzipped_bytes"], manifest["unzipped_bytes"]);
    assert_eq!(v["zip_bytes"], manifest["zip_bytes"]);
    assert_eq!(v["unzipped_limit"], 262_144_000u64);
    // Everything in a pylayer-built layer belongs to some distribution.
    assert_eq!(
        v["unattributed"]["files"].as_array().unwrap().len(),
        0,
        "{}",
        v["unattributed"]
    );
    // Largest first; numpy and pandas lead.
    let sizes: Vec<u64> = dists
        .iter()
        .map(|d| d["unzipped_bytes"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]));
    let top: Vec<&str> = dists[..2]
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(top.contains(&"numpy") && top.contains(&"pandas"), "{top:?}");
    let share = dists[0]["share_of_limit"].as_f64().unwrap();
    let expect = sizes[0] as f64 * 100.0 / 262_144_000.0;
    assert!((share - expect).abs() < 0.01, "{share} vs {expect}");

    // Trimming: pandas' tests, numpy's stubs and debug symbols in its shared objects.
    let cat = |c: &str| {
        v["trim"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["category"] == c)
            .unwrap()
            .clone()
    };
    assert!(
        cat("tests")["bytes"].as_u64().unwrap() > 5_000_000,
        "{}",
        cat("tests")
    );
    assert!(
        cat("tests")["examples"][0][0]
            .as_str()
            .unwrap()
            .starts_with("python/pandas/tests/")
    );
    assert!(cat("stubs")["files"].as_u64().unwrap() > 10);
    let debug = cat("debug-symbols");
    assert!(debug["bytes"].as_u64().unwrap() > 0, "{debug}");
    let largest = &v["largest_files"].as_array().unwrap()[0];
    assert!(
        largest["path"].as_str().unwrap().ends_with(".so"),
        "{largest}"
    );
    assert_eq!(largest["distribution"], "numpy");

    // The table says the same.
    let out = run(pylayer().arg("inspect").arg(zip));
    assert!(out.status.success(), "{}", describe_output(&out));
    let text = stdout(&out);
    println!("{text}");
    assert!(text.contains("of the 250.0 MB limit"), "{text}");
    for d in dists {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{} ", d["name"].as_str().unwrap()))),
            "{} missing from:\n{text}",
            d["name"]
        );
    }
    assert!(text.contains("what trimming would save"));
    assert!(text.contains("debug-symbols"));
}

#[test]
fn inspect_measures_debug_symbols_as_readelf_does_and_lists_unattributed_files() {
    let dir = tempfile::tempdir().unwrap();
    // This test's own executable: an ELF file with a symbol table and line tables.
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let zip = dir.path().join("l.zip");
    zip_of(
        &zip,
        vec![
            dist(
                "native-pkg",
                "1.0",
                &[
                    ("native_pkg/__init__.py", 100),
                    ("native_pkg/tests/test_x.py", 3000),
                    ("native_pkg/docs/guide.txt", 700),
                    ("native_pkg/__init__.pyi", 50),
                ],
            ),
            dist("tiny", "0.1", &[("tiny.py", 10)]),
        ],
        &[
            (
                "python/native_pkg/_ext.cpython-311-x86_64-linux-gnu.so",
                exe.clone(),
            ),
            ("python/stray/__init__.py", vec![b'#'; 40]),
            ("python/notes.txt", vec![b'x'; 5]),
        ],
    );
    let v = inspect_json(&zip);
    // The .so is not in RECORD, but native_pkg's top-level name claims it.
    let native = v["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "native-pkg")
        .unwrap();
    assert_eq!(native["files"], 7);
    let mut un: Vec<&str> = v["unattributed"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    un.sort();
    assert_eq!(un, ["python/notes.txt", "python/stray/__init__.py"]);
    assert_eq!(v["unattributed"]["unzipped_bytes"], 45);

    // readelf -S is the oracle for the section sizes.
    if let Some(readelf) = which("readelf") {
        let out = run(Command::new(readelf)
            .args(["-S", "-W"])
            .arg(std::env::current_exe().unwrap()));
        let mut expect = 0u64;
        for l in stdout(&out).lines() {
            let cols: Vec<&str> = l
                .trim_start()
                .trim_start_matches(|c: char| {
                    c == '[' || c.is_ascii_digit() || c == ']' || c == ' '
                })
                .split_whitespace()
                .collect();
            if cols.len() > 5 && cols[0].starts_with(".debug_") && cols[1] != "NOBITS" {
                expect += u64::from_str_radix(cols[4], 16).unwrap();
            }
        }
        assert!(expect > 0);
        let debug = v["trim"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["category"] == "debug-symbols")
            .unwrap();
        // What --slim's stripping saves (the same function), at least the debug sections
        // and static symbols readelf lists, less the few bytes of alignment the sections
        // moved after them may need.
        let saved = pylayer::slim::strip::saving(&exe);
        assert_eq!(debug["bytes"], saved, "{debug}");
        assert_eq!(debug["files"], 1);
        assert!(
            saved + 64 >= expect && saved < exe.len() as u64,
            "{saved} vs {expect}"
        );
    } else {
        println!("readelf not installed: debug-symbol sizes not cross-checked");
    }
    let cat = |c: &str| {
        v["trim"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["category"] == c)
            .unwrap()["bytes"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(cat("tests"), 3000);
    assert_eq!(cat("docs"), 700);
    assert_eq!(cat("stubs"), 50);

    let out = run(pylayer().arg("inspect").arg(&zip));
    let text = stdout(&out);
    assert!(text.contains("(unattributed)"), "{text}");
    assert!(text.contains("  python/stray/__init__.py"), "{text}");

    // Not a zip: a clear error, exit 2.
    let bogus = dir.path().join("bogus.zip");
    std::fs::write(&bogus, "not a zip").unwrap();
    let out = run(pylayer().arg("inspect").arg(&bogus));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("bogus.zip is not a readable zip file"),
        "{}",
        stderr(&out)
    );
}

/// Injected into a copy of the page before Chromium loads it: records every uncaught error
/// and console.error/warn into an element `--dump-dom` shows.
const CONSOLE_CAPTURE: &str = r#"<script>
(function(){
  var log=[];
  function put(kind,msg){log.push(kind+': '+msg);var el=document.getElementById('pylayer-console');if(el){el.textContent=log.join('\n');}}
  window.addEventListener('error',function(e){put('error',e.message||String(e));},true);
  window.addEventListener('unhandledrejection',function(e){put('rejection',String(e.reason));});
  ['error','warn'].forEach(function(k){var o=console[k];console[k]=function(){put(k,Array.prototype.join.call(arguments,' '));return o.apply(console,arguments);};});
  document.addEventListener('DOMContentLoaded',function(){var el=document.createElement('pre');el.id='pylayer-console';el.textContent=log.join('\n');document.body.appendChild(el);
    var done=document.createElement('div');done.id='pylayer-loaded';document.body.appendChild(done);});
})();
</script>"#;

fn chromium(args: &[&str], page: &Path) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(format!("file://{}", page.display()));
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

#[test]
fn inspect_html_draws_one_block_per_distribution_in_chromium() {
    let zip = x86_layer();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let out = run(pylayer()
        .arg("inspect")
        .arg(zip)
        .arg("--html")
        .arg(&html)
        .arg("--json"));
    assert!(out.status.success(), "{}", describe_output(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n_dists = v["distributions"].as_array().unwrap().len();
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: nothing is fetched.
    for needle in ["http://", "https://", "<link", "src=", "@import", "url("] {
        let hits: Vec<&str> = page
            .match_indices(needle)
            .map(|(i, _)| &page[i.saturating_sub(40)..(i + 60).min(page.len())])
            .filter(|ctx| !ctx.contains("xmlns=\"http://www.w3.org/2000/svg\""))
            .collect();
        assert!(hits.is_empty(), "page refers to {needle}: {hits:?}");
    }
    assert_eq!(page.matches("data-dist=\"").count(), n_dists);
    for d in v["distributions"].as_array().unwrap() {
        assert!(page.contains(&format!("data-dist=\"{}\"", d["name"].as_str().unwrap())));
    }

    if which("chromium").is_none() {
        support::missing_tool(
            "the browser half needs chromium (apt-get install chromium; scripts/test-deps.sh does it)",
        );
        return;
    }
    // Screenshot, for a person to look at (kept under target/).
    let shot = target_tmp("inspect-html").join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,900",
        ],
        &html,
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 20_000,
        "screenshot suspiciously small: {} bytes",
        png.len()
    );
    std::fs::copy(&html, target_tmp("inspect-html").join("report.html")).unwrap();
    println!("screenshot: {}", shot.display());

    // The DOM after the scripts ran, from a copy with a console capture injected first.
    let probe = dir.path().join("probe.html");
    std::fs::write(
        &probe,
        page.replacen("<head>", &format!("<head>{CONSOLE_CAPTURE}"), 1),
    )
    .unwrap();
    let out = chromium(&["--dump-dom"], &probe);
    assert!(out.status.success(), "{}", describe_output(&out));
    let dom = stdout(&out);
    assert!(
        dom.contains("id=\"pylayer-loaded\""),
        "page did not finish loading:\n{}",
        &dom[..dom.len().min(2000)]
    );
    assert_eq!(dom.matches("data-dist=\"").count(), n_dists, "blocks drawn");
    assert!(dom.contains("<rect class=\"dist-box\""));
    let console = dom
        .split("<pre id=\"pylayer-console\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .expect("console capture element present");
    assert!(console.trim().is_empty(), "console errors: {console}");
    // Chromium's own log of page console messages (`CONSOLE(…)`) and uncaught errors.
    let log = stderr(&out);
    let page_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE(") || l.contains("Uncaught"))
        .collect();
    assert!(page_errors.is_empty(), "{page_errors:?}");
}

// ---------------------------------------------------------------------------------------------
// pylayer diff
// ---------------------------------------------------------------------------------------------

#[test]
fn diff_reports_added_removed_upgraded_downgraded_with_pep440_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.zip");
    let b = dir.path().join("b.zip");
    zip_of(
        &a,
        vec![
            dist("foo", "1.9", &[("foo/__init__.py", 1000)]),
            dist("bar", "2.0", &[("bar.py", 500)]),
            dist("gone", "1.0", &[("gone.py", 300)]),
            dist("same", "1.0", &[("same.py", 10)]),
            dist("pre", "1.0rc1", &[("pre.py", 10)]),
        ],
        &[],
    );
    zip_of(
        &b,
        vec![
            // 1.10 > 1.9 in PEP 440 (and < in string order).
            dist("foo", "1.10", &[("foo/__init__.py", 3000)]),
            dist("bar", "1.5", &[("bar.py", 400)]),
            dist("new-one", "0.1", &[("new_one.py", 200)]),
            dist("same", "1.0", &[("same.py", 10)]),
            dist("pre", "1.0", &[("pre.py", 10)]),
        ],
        &[],
    );
    let out = run(pylayer().arg("diff").arg(&a).arg(&b).arg("--json"));
    assert!(out.status.success(), "{}", describe_output(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let get = |n: &str| {
        v["distributions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing: {v}"))
            .clone()
    };
    assert_eq!(get("foo")["change"], "upgraded");
    // 2000 more bytes of code, and a longer version in METADATA and RECORD paths.
    let foo = get("foo");
    let delta = foo["delta_bytes"].as_i64().unwrap();
    assert!((2000..2010).contains(&delta), "{foo}");
    assert_eq!(
        delta,
        foo["new_bytes"].as_i64().unwrap() - foo["old_bytes"].as_i64().unwrap()
    );
    assert_eq!(foo["old_version"], "1.9");
    assert_eq!(foo["new_version"], "1.10");
    assert_eq!(get("bar")["change"], "downgraded");
    assert_eq!(get("bar")["delta_bytes"], -100);
    assert_eq!(get("gone")["change"], "removed");
    assert_eq!(get("new-one")["change"], "added");
    assert_eq!(get("same")["change"], "unchanged");
    assert_eq!(get("pre")["change"], "upgraded");

    let out = run(pylayer().arg("diff").arg(&a).arg(&b));
    let text = stdout(&out);
    println!("{text}");
    let line = |n: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {n} ")))
            .unwrap_or_else(|| panic!("{n}:\n{text}"))
            .to_string()
    };
    assert!(line("foo").starts_with("upgraded"));
    assert!(line("foo").contains("1.9 → 1.10"));
    assert!(line("foo").ends_with("+2.0 KB"), "{}", line("foo"));
    assert!(line("bar").starts_with("downgraded"));
    assert!(line("gone").starts_with("removed"));
    assert!(line("new-one").starts_with("added"));
    assert!(!text.contains(" same "), "{text}");
    assert!(text.contains("(1 unchanged; --all lists them)"));

    let out = run(pylayer()
        .arg("diff")
        .arg(&a)
        .arg(dir.path().join("missing.zip")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.zip does not exist"));
}

#[test]
fn test_handles_the_site_packages_layout_and_runtime_provided_modules() {
    // A hand-made python3.11 layer in the site-packages layout: one module that imports
    // botocore (which the Lambda runtime provides and the layer left out), one that works,
    // one that raises, one private module that is skipped.
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("sp.zip");
    let sp = "python/lib/python3.11/site-packages";
    write_zip(
        &zip,
        &[
            (
                &format!("{sp}/uses_boto.py"),
                b"import botocore.session\n".to_vec(),
            ),
            (
                &format!("{sp}/fine/__init__.py"),
                b"import json\nVALUE = 42\n".to_vec(),
            ),
            (
                &format!("{sp}/raises.py"),
                b"raise RuntimeError('configuration missing: set FOO')\n".to_vec(),
            ),
            (
                &format!("{sp}/_private.py"),
                b"raise SystemExit(9)\n".to_vec(),
            ),
        ],
    );
    let out = run(pylayer().arg("test").arg(&zip));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let text = stdout(&out);
    println!("{text}");
    let line = |m: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(m))
            .unwrap_or_else(|| panic!("{m} missing:\n{text}"))
            .to_string()
    };
    assert!(line("fine").contains(" ok "));
    assert!(line("uses_boto").contains("needs runtime"));
    assert!(line("raises").contains("FAILED"));
    assert!(
        text.contains("RuntimeError: configuration missing: set FOO"),
        "{text}"
    );
    assert!(text.contains("needs `botocore`"), "{text}");
    assert!(!text.contains("_private"), "{text}");
    let err = stderr(&out);
    assert!(err.contains("1 of 3 modules failed"), "{err}");

    // Asked for explicitly, the private module runs (and fails with its exit code).
    let out = run(pylayer()
        .arg("test")
        .arg(&zip)
        .args(["--import", "_private", "--import", "fine"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(stderr(&out).contains(": _private"), "{}", stderr(&out));
}
