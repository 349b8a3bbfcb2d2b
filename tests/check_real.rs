//! `pylayer check` on layers made from real wheels of the package index: each broken layer
//! is made the way people make them by hand (wheels unpacked under `python/`, as
//! `pip install --target python` then `zip -r` does), and each test asserts the specific
//! finding, its file and its distribution. Wheels are fetched with the machine's pip
//! (`pip download --no-deps --only-binary=:all: --platform … --python-version …`) and kept
//! under cargo's target directory between runs.

mod support;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{describe_output, pylayer_with_cache, run, run_with_timeout};

fn tmp_root() -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join("check-real");
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Downloads one wheel (cached per platform/python/requirement) and returns its path.
fn wheel(platform: &str, python: &str, requirement: &str) -> PathBuf {
    let dir = tmp_root().join("wheels").join(format!(
        "{platform}-{python}-{}",
        requirement.replace(['=', '<', '>'], "_")
    ));
    let find = |dir: &Path| {
        std::fs::read_dir(dir).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
        })
    };
    if let Some(p) = find(&dir) {
        return p;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let out = run_with_timeout(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-deps", "--only-binary=:all:", "--platform", platform])
            .args(["--python-version", python, "-d"])
            .arg(&dir)
            .arg(requirement),
        std::time::Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "pip download {requirement}: {}",
        describe_output(&out)
    );
    find(&dir).unwrap_or_else(|| panic!("pip downloaded no wheel for {requirement}"))
}

/// A layer zip holding the wheels' files under `python/`, as a hand-made layer would.
fn layer_from_wheels(name: &str, wheels: &[PathBuf]) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("layer-")
        .tempdir_in(tmp_root())
        .unwrap()
        .keep();
    let path = dir.join(format!("{name}.zip"));
    let mut w = zip::ZipWriter::new(BufWriter::new(File::create(&path).unwrap()));
    for whl in wheels {
        let mut z = zip::ZipArchive::new(BufReader::new(File::open(whl).unwrap())).unwrap();
        for i in 0..z.len() {
            let e = z.by_index_raw(i).unwrap();
            let n = format!("python/{}", e.name().unwrap());
            w.raw_copy_file_rename(e, n).unwrap();
        }
    }
    w.finish().unwrap();
    path
}

fn cache() -> PathBuf {
    let c = tmp_root().join("pylayer-cache");
    std::fs::create_dir_all(&c).unwrap();
    c
}

/// Runs `pylayer check --json` and returns (exit code, report).
fn check(layer: &Path, args: &[&str]) -> (i32, Value) {
    let mut cmd = pylayer_with_cache(&cache());
    cmd.arg("check").arg(layer).args(args).arg("--json");
    let out = run(&mut cmd);
    let code = out.status.code().unwrap_or(-1);
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe_output(&out)));
    (code, json)
}

fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

fn errors(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect()
}

#[test]
fn pyodbc_needs_libodbc_which_lambda_lacks() {
    let whl = wheel("manylinux2014_x86_64", "3.12", "pyodbc==5.2.0");
    let layer = layer_from_wheels("pyodbc", &[whl]);
    let (code, r) = check(&layer, &["--python", "3.12", "--arch", "x86_64"]);
    assert_eq!(code, 1, "{r:#}");
    let missing = findings(&r, "missing-library");
    assert_eq!(missing.len(), 1, "{r:#}");
    let f = missing[0];
    assert_eq!(f["severity"], "error");
    assert_eq!(f["path"], "python/pyodbc.cpython-312-x86_64-linux-gnu.so");
    assert_eq!(f["distribution"], "pyodbc 5.2.0");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.starts_with("needs libodbc.so.2, which is neither bundled in the layer nor part of the python3.12 runtime image (Amazon Linux 2023)"), "{msg}");
    assert!(f["hint"].as_str().unwrap().contains("lib/"), "{f}");
    // Nothing else is wrong with it.
    assert_eq!(errors(&r).len(), 1, "{r:#}");
}

#[test]
fn pyodbc_with_libodbc_bundled_in_lib_passes() {
    // The documented fix: the library in the layer's lib/ (on LD_LIBRARY_PATH at /opt/lib).
    let whl = wheel("manylinux2014_x86_64", "3.12", "pyodbc==5.2.0");
    let layer = layer_from_wheels("pyodbc-fixed", &[whl]);
    let fixed = layer.with_file_name("fixed.zip");
    {
        let mut w = zip::ZipWriter::new(File::create(&fixed).unwrap());
        let mut z = zip::ZipArchive::new(File::open(&layer).unwrap()).unwrap();
        for i in 0..z.len() {
            let e = z.by_index_raw(i).unwrap();
            let n = e.name().unwrap().to_string();
            w.raw_copy_file_rename(e, n).unwrap();
        }
        // Any ELF will do as a stand-in: the check looks at the name on the search path.
        w.start_file("lib/libodbc.so.2", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"not really libodbc").unwrap();
        w.finish().unwrap();
    }
    let (code, r) = check(&fixed, &["--python", "3.12", "--arch", "x86_64"]);
    assert!(findings(&r, "missing-library").is_empty(), "{r:#}");
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn numpy_manylinux_2_28_is_too_new_for_python311() {
    let whl = wheel("manylinux_2_28_x86_64", "3.11", "numpy==2.3.1");
    assert!(whl.to_string_lossy().contains("manylinux_2_28"), "{whl:?}");
    let layer = layer_from_wheels("numpy311", &[whl]);
    let (code, r) = check(&layer, &["--python", "3.11", "--arch", "x86_64"]);
    assert_eq!(code, 1);
    let glibc = findings(&r, "glibc-too-new");
    assert!(!glibc.is_empty(), "{r:#}");
    let umath = glibc
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .contains("_multiarray_umath.cpython-311-x86_64-linux-gnu.so")
        })
        .unwrap_or_else(|| panic!("{glibc:#?}"));
    assert_eq!(umath["distribution"], "numpy 2.3.1");
    let msg = umath["message"].as_str().unwrap();
    assert!(
        msg.contains("GLIBC_2.2") && msg.contains("glibc 2.26"),
        "{msg}"
    );
    assert!(msg.contains("Amazon Linux 2 "), "{msg}");
    // Every flagged version really is above 2.26.
    for f in &glibc {
        let m = f["message"].as_str().unwrap();
        let v = m
            .split_whitespace()
            .nth(1)
            .unwrap()
            .trim_start_matches("GLIBC_")
            .trim_end_matches(",");
        let minor: u32 = v.split('.').nth(1).unwrap().parse().unwrap();
        assert!(minor > 26, "{m}");
    }
    // The same wheel's glibc needs are fine on python3.12's Amazon Linux 2023 — there it is
    // the Python version that is wrong.
    let (_, r12) = check(&layer, &["--python", "3.12", "--arch", "x86_64"]);
    assert!(findings(&r12, "glibc-too-new").is_empty(), "{r12:#}");
    assert!(!findings(&r12, "python-version").is_empty(), "{r12:#}");
}

#[test]
fn macos_pydantic_core_is_flagged_as_built_for_macos() {
    let core = wheel("macosx_11_0_arm64", "3.12", "pydantic-core==2.33.2");
    let pydantic = wheel("manylinux2014_x86_64", "3.12", "pydantic==2.11.7");
    let layer = layer_from_wheels("mac-venv", &[core, pydantic]);
    let (code, r) = check(&layer, &["--python", "3.12", "--arch", "x86_64"]);
    assert_eq!(code, 1);
    let mac = findings(&r, "macos-binary");
    let so = mac
        .iter()
        .find(|f| {
            f["path"] == "python/pydantic_core/_pydantic_core.cpython-312-darwin.so"
                && f["message"].as_str().unwrap().contains("Mach-O")
        })
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(so["distribution"], "pydantic_core 2.33.2");
    assert!(
        so["message"].as_str().unwrap().contains("built on a Mac"),
        "{so}"
    );
    assert!(
        so["hint"]
            .as_str()
            .unwrap()
            .contains("pylayer build --python 3.12 --arch x86_64"),
        "{so}"
    );
}

#[test]
fn x86_64_binaries_in_an_arm64_layer_and_the_reverse() {
    let x86 = layer_from_wheels(
        "x86",
        &[wheel("manylinux2014_x86_64", "3.12", "markupsafe==3.0.2")],
    );
    let arm = layer_from_wheels(
        "arm",
        &[wheel("manylinux2014_aarch64", "3.12", "markupsafe==3.0.2")],
    );

    let (code, r) = check(&x86, &["--python", "3.12", "--arch", "arm64"]);
    assert_eq!(code, 1);
    let f = findings(&r, "wrong-architecture");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(
        f[0]["path"],
        "python/markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so"
    );
    assert_eq!(f[0]["distribution"], "MarkupSafe 3.0.2");
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("an ELF binary for x86_64; this layer targets arm64"),
        "{}",
        f[0]
    );

    let (code, r) = check(&arm, &["--python", "3.12", "--arch", "x86_64"]);
    assert_eq!(code, 1);
    let f = findings(&r, "wrong-architecture");
    assert_eq!(f.len(), 1, "{r:#}");
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("an ELF binary for arm64 (aarch64); this layer targets x86_64"),
        "{}",
        f[0]
    );

    // Each on its own architecture is clean.
    assert_eq!(check(&x86, &["--python", "3.12", "--arch", "x86_64"]).0, 0);
    assert_eq!(check(&arm, &["--python", "3.12", "--arch", "arm64"]).0, 0);
}

#[test]
fn cp313_extension_in_a_python312_layer() {
    let layer = layer_from_wheels(
        "cp313",
        &[wheel("manylinux2014_x86_64", "3.13", "markupsafe==3.0.2")],
    );
    let (code, r) = check(&layer, &["--python", "3.12", "--arch", "x86_64"]);
    assert_eq!(code, 1);
    let f = findings(&r, "python-version");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(
        f[0]["path"],
        "python/markupsafe/_speedups.cpython-313-x86_64-linux-gnu.so"
    );
    assert!(
        f[0]["message"].as_str().unwrap().contains("Python 3.13"),
        "{}",
        f[0]
    );
    assert_eq!(
        check(&layer, &["--python", "3.13", "--arch", "x86_64"]).0,
        0
    );
}

#[test]
fn pydantic_without_pydantic_core_is_a_missing_dependency() {
    let layer = layer_from_wheels(
        "pydantic-only",
        &[wheel("manylinux2014_x86_64", "3.12", "pydantic==2.11.7")],
    );
    let (code, r) = check(&layer, &["--python", "3.12", "--arch", "x86_64"]);
    assert_eq!(code, 1);
    let missing = findings(&r, "missing-dependency");
    let core = missing
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .starts_with("pydantic requires `pydantic-core==2.33.2`")
        })
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(core["distribution"], "pydantic 2.11.7");
    assert_eq!(core["path"], "python/pydantic-2.11.7.dist-info/METADATA");
    // Its other dependencies are missing too; the `email` extra's are not required.
    let names: Vec<&str> = missing
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|m| m.contains("typing-extensions")),
        "{names:#?}"
    );
    assert!(
        !names.iter().any(|m| m.contains("email-validator")),
        "{names:#?}"
    );
}

#[test]
fn clean_layer_built_by_pylayer_has_no_errors() {
    let work = tempfile::Builder::new()
        .prefix("clean-")
        .tempdir_in(tmp_root())
        .unwrap();
    let mut cmd = pylayer_with_cache(&cache());
    cmd.current_dir(work.path()).args([
        "build",
        "pandas",
        "numpy",
        "cryptography",
        "--python",
        "3.12",
        "--arch",
        "x86_64",
        "--name",
        "clean",
    ]);
    let out = run_with_timeout(&mut cmd, std::time::Duration::from_secs(600));
    assert!(out.status.success(), "{}", describe_output(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("clean-py3.12-x86_64.zip ok for python3.12/x86_64"),
        "{stderr}"
    );
    let zip = work.path().join("dist/clean-py3.12-x86_64.zip");
    // No --python/--arch: they come from the manifest beside the zip.
    let (code, r) = check(&zip, &[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(errors(&r).is_empty(), "{r:#}");
    assert_eq!(r["runtime"], "python3.12");
    assert_eq!(r["architecture"], "x86_64");
    assert!(r["summary"]["binaries"].as_u64().unwrap() > 10, "{r:#}");
    assert!(
        r["summary"]["distributions"].as_u64().unwrap() >= 6,
        "{r:#}"
    );
    // The same layer for python3.11 on arm64 is wrong on both counts.
    let (code, r) = check(&zip, &["--python", "3.11", "--arch", "arm64"]);
    assert_eq!(code, 1);
    assert!(!findings(&r, "wrong-architecture").is_empty());
    assert!(!findings(&r, "python-version").is_empty());
}

#[test]
fn build_runs_the_check_and_fails_on_pyodbc() {
    let work = tempfile::Builder::new()
        .prefix("odbc-")
        .tempdir_in(tmp_root())
        .unwrap();
    let mut cmd = pylayer_with_cache(&cache());
    cmd.current_dir(work.path()).args([
        "build",
        "pyodbc==5.2.0",
        "--python",
        "3.12",
        "--arch",
        "x86_64",
        "--name",
        "odbc",
    ]);
    let out = run_with_timeout(&mut cmd, std::time::Duration::from_secs(600));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error[missing-library] python/pyodbc.cpython-312-x86_64-linux-gnu.so (pyodbc 5.2.0)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("needs libodbc.so.2"), "{stderr}");
    assert!(
        stderr.contains("will not work on Lambda as it is"),
        "{stderr}"
    );
    // The zip and manifest are still written, for inspection and `pylayer check`.
    assert!(work.path().join("dist/odbc-py3.12-x86_64.zip").is_file());
    assert!(work.path().join("dist/odbc-py3.12-x86_64.json").is_file());
}

#[test]
fn auditwheel_bundled_libraries_resolve_through_the_rpath_chain() {
    // Pillow's bundled libfreetype needs libpng and libbrotlidec from pillow.libs with no
    // rpath of its own: ld.so finds them through the extension's DT_RPATH. No finding.
    let whl = wheel("manylinux2014_x86_64", "3.12", "pillow==11.3.0");
    let layer = layer_from_wheels("pillow", &[whl]);
    let (code, r) = check(&layer, &["--python", "3.12", "--arch", "x86_64"]);
    assert_eq!(code, 0, "{r:#}");
    // Only the note that the layer has no bytecode (it was zipped from wheels as they are).
    let not_notes: Vec<_> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "note")
        .collect();
    assert!(not_notes.is_empty(), "{r:#}");
    assert!(r["summary"]["binaries"].as_u64().unwrap() > 10, "{r:#}");
}
