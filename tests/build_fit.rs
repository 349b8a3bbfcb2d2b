//! Fitting a layer and getting it through the check, against the local test index:
//! `--include` adds files no wheel has (a library lands in lib/ and satisfies a
//! missing-library finding); Windows binaries inside a Linux wheel are dead weight (a warning
//! `--slim` removes), not an error; `[check] allow` / `--allow` accept findings by code and
//! glob; advice names pylayer's own commands; after `--slim` the build imports every
//! top-level module and fails naming one slimming broke.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

const LINUX_312: &str = "cp312-cp312-manylinux_2_17_x86_64";

/// A fake `libodbc.so.2` (an empty shared object with that soname) and an extension module
/// that needs it, compiled with the machine's C compiler. `None` when there is none (the test
/// then fails under CI).
fn odbc_binaries(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    if Command::new("cc").arg("--version").output().is_err() {
        support::missing_tool("no C compiler (cc) to build test shared objects");
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join("x.c");
    std::fs::write(&src, "int odbc_stub(void) { return 1; }\n").unwrap();
    let lib = dir.join("libodbc.so.2");
    let ok = |o: Output| assert!(o.status.success(), "{}", describe_output(&o));
    ok(Command::new("cc")
        .args([
            "-shared",
            "-fPIC",
            "-nostdlib",
            "-Wl,-soname,libodbc.so.2",
            "-o",
        ])
        .arg(&lib)
        .arg(&src)
        .output()
        .unwrap());
    let ext = dir.join("_odbc.so");
    ok(Command::new("cc")
        .args(["-shared", "-fPIC", "-nostdlib", "-Wl,--no-as-needed", "-o"])
        .arg(&ext)
        .arg(&src)
        .arg(&lib)
        .output()
        .unwrap());
    Some((lib, ext))
}

fn build_cmd(env: &TestEnv, index: &TestIndex, reqs: &[&str], extra: &[&str]) -> Output {
    run(env
        .cmd()
        .arg("build")
        .args(reqs)
        .args([
            "--index-url",
            &index.url,
            "--name",
            "fit",
            "--python",
            "3.12",
        ])
        .args(["--arch", "x86_64", "--json", "--out-dir", "out"])
        .args(extra))
}

fn read_zip(zip: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(
            e.name().unwrap().to_string(),
            (e.unix_mode().unwrap_or_default(), data),
        );
    }
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn include_lands_in_lib_and_satisfies_the_missing_library() {
    let env = TestEnv::new();
    let Some((lib, ext)) = odbc_binaries(&env.work_dir().join("cc")) else {
        return;
    };
    let wheels = env.work_dir().join("wheels");
    let whl = WheelSpec::new("odbclike", "5.0")
        .tag(LINUX_312)
        .file(
            "odbclike/_odbc.cpython-312-x86_64-linux-gnu.so",
            std::fs::read(&ext).unwrap(),
        )
        .build(&wheels);
    let index = TestIndex::start(&[whl], IndexOptions::default());

    // Without the library: the check fails and says how to add it.
    let o = build_cmd(&env, &index, &["odbclike"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(err.contains("error[missing-library]"), "{err}");
    assert!(err.contains("needs libodbc.so.2"), "{err}");
    assert!(err.contains("pylayer build --include DIR"), "{err}");

    // A file outside lib/, bin/ and python/ is refused, naming it (exit 2).
    let vendor = env.work_dir().join("vendor");
    std::fs::create_dir_all(vendor.join("lib")).unwrap();
    std::fs::copy(&lib, vendor.join("lib/libodbc.so.2")).unwrap();
    // Modes come from the execute bit only, never from the host's umask.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = vendor.join("lib/libodbc.so.2");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    env.write("vendor/NOTES.txt", "where the library came from\n");
    let o = build_cmd(&env, &index, &["odbclike"], &["--include", "vendor"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe_output(&o));
    assert!(
        stderr(&o).contains("NOTES.txt is outside lib/, bin/ and python/"),
        "{}",
        describe_output(&o)
    );
    std::fs::remove_file(vendor.join("NOTES.txt")).unwrap();

    // With it: lib/libodbc.so.2 in the zip, the check passes, the manifest lists it.
    let o = build_cmd(&env, &index, &["odbclike"], &["--include", "vendor"]);
    assert!(o.status.success(), "{}", describe_output(&o));
    assert!(!stderr(&o).contains("missing-library"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let layer = &v["layers"][0];
    assert_eq!(
        layer["included"][0]["path"], "lib/libodbc.so.2",
        "{layer:#}"
    );
    assert_eq!(
        layer["included"][0]["bytes"],
        std::fs::metadata(&lib).unwrap().len()
    );
    let zip = env
        .work_dir()
        .join("out")
        .join(layer["zip"].as_str().unwrap());
    let entries = read_zip(&zip);
    let (mode, data) = &entries["lib/libodbc.so.2"];
    assert_eq!(*data, std::fs::read(&lib).unwrap());
    assert_eq!(*mode & 0o777, 0o644);
    let first = std::fs::read(&zip).unwrap();

    // The same from pylayer.toml, whose paths are relative to its own directory: same bytes.
    std::fs::create_dir_all(env.work_dir().join("proj")).unwrap();
    std::fs::rename(&vendor, env.work_dir().join("proj/vendor")).unwrap();
    env.write("proj/pylayer.toml", "include = [\"vendor/lib\"]\n");
    let o = build_cmd(
        &env,
        &index,
        &["odbclike"],
        &["--config", "proj/pylayer.toml"],
    );
    assert!(o.status.success(), "{}", describe_output(&o));
    assert_eq!(
        std::fs::read(&zip).unwrap(),
        first,
        "include is reproducible"
    );
}

/// The smallest file the check parses as a Windows x86_64 PE image.
fn pe_bytes() -> Vec<u8> {
    let mut b = vec![0u8; 0x40];
    b[0] = b'M';
    b[1] = b'Z';
    b[0x3c] = 0x40;
    b.extend_from_slice(b"PE\0\0");
    b.extend_from_slice(&0x8664u16.to_le_bytes());
    b.resize(600, 0);
    b
}

/// debugpy's shape: one wheel for Linux that also ships a Windows `.pyd` beside its module.
fn dbglike(dir: &Path) -> PathBuf {
    WheelSpec::new("dbglike", "1.0")
        .tag(LINUX_312)
        .file("dbglike/_speedups.py", "FAST = True\n")
        .file("dbglike/_vendored/speedups.cp312-win_amd64.pyd", pe_bytes())
        .build(dir)
}

#[test]
fn windows_binaries_in_a_linux_wheel_warn_and_slim_drops_them() {
    let env = TestEnv::new();
    let index = TestIndex::start(
        &[dbglike(&env.work_dir().join("w"))],
        IndexOptions::default(),
    );
    let o = build_cmd(&env, &index, &["dbglike"], &[]);
    assert!(o.status.success(), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning[windows-binary] python/dbglike/_vendored/speedups.cp312-win_amd64.pyd (dbglike 1.0)"),
        "{err}"
    );
    assert!(
        err.contains("which is for Linux: dead weight, never loaded on Lambda"),
        "{err}"
    );
    assert!(err.contains("`pylayer build --slim` drops it"), "{err}");
    assert!(!err.contains("error["), "{err}");

    let o = build_cmd(&env, &index, &["dbglike"], &["--slim"]);
    assert!(o.status.success(), "{}", describe_output(&o));
    assert!(!stderr(&o).contains("windows-binary"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let zip = env
        .work_dir()
        .join("out")
        .join(v["layers"][0]["zip"].as_str().unwrap());
    let entries = read_zip(&zip);
    assert!(
        entries.contains_key("python/dbglike/_speedups.py"),
        "{entries:?}"
    );
    assert!(
        !entries.keys().any(|k| k.ends_with(".pyd")),
        "{:?}",
        entries.keys()
    );
}

/// A layer made by hand on Windows: the same `.pyd` in a distribution whose WHEEL says
/// win_amd64. Written as a directory `pylayer check` reads.
fn windows_layer(root: &Path) {
    let di = root.join("python/dbglike-1.0.dist-info");
    std::fs::create_dir_all(&di).unwrap();
    std::fs::create_dir_all(root.join("python/dbglike")).unwrap();
    std::fs::write(root.join("python/dbglike/__init__.py"), "").unwrap();
    std::fs::write(
        root.join("python/dbglike/_speedups.cp312-win_amd64.pyd"),
        pe_bytes(),
    )
    .unwrap();
    std::fs::write(
        di.join("METADATA"),
        "Metadata-Version: 2.1\nName: dbglike\nVersion: 1.0\n\n",
    )
    .unwrap();
    std::fs::write(
        di.join("WHEEL"),
        "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp312-cp312-win_amd64\n\n",
    )
    .unwrap();
    std::fs::write(
        di.join("RECORD"),
        "dbglike/__init__.py,,\ndbglike/_speedups.cp312-win_amd64.pyd,,\ndbglike-1.0.dist-info/METADATA,,\ndbglike-1.0.dist-info/WHEEL,,\ndbglike-1.0.dist-info/RECORD,,\n",
    )
    .unwrap();
}

fn check_cmd(env: &TestEnv, extra: &[&str]) -> Output {
    run(env
        .cmd()
        .args(["check", "layer", "--python", "3.12", "--arch", "x86_64"])
        .args(extra))
}

#[test]
fn allow_list_by_code_and_glob() {
    let env = TestEnv::new();
    windows_layer(&env.work_dir().join("layer"));

    // Built on Windows: an error.
    let o = check_cmd(&env, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", describe_output(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("error[windows-binary] python/dbglike/_speedups.cp312-win_amd64.pyd"),
        "{out}"
    );

    // Allowed by code and a glob relative to site-packages: exit 0, still counted.
    let o = check_cmd(&env, &["--allow", "windows-binary:dbglike/**"]);
    assert!(o.status.success(), "{}", describe_output(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("1 findings allowed by [check] allow / --allow (windows-binary 1)"),
        "{out}"
    );
    assert!(!out.contains("error[windows-binary]"), "{out}");

    // JSON lists it as allowed.
    let o = check_cmd(&env, &["--allow", "windows-binary", "--json"]);
    assert!(o.status.success(), "{}", describe_output(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["allowed"][0]["code"], "windows-binary", "{v:#}");
    assert_eq!(
        v["allowed"][0]["path"],
        "python/dbglike/_speedups.cp312-win_amd64.pyd"
    );
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["code"] != "windows-binary")
    );

    // A glob that matches nothing leaves the error.
    let o = check_cmd(&env, &["--allow", "windows-binary:other/**"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe_output(&o));

    // An unknown code is a usage error naming the valid ones.
    let o = check_cmd(&env, &["--allow", "windows-binaries:dbglike/**"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(
        err.contains("`windows-binaries` is not a finding code"),
        "{err}"
    );
    assert!(err.contains("windows-binary"), "{err}");

    // From pylayer.toml's [check] table.
    env.write(
        "pylayer.toml",
        "[check]\nallow = [\"windows-binary:dbglike/*.pyd\"]\n",
    );
    let o = check_cmd(&env, &[]);
    assert!(o.status.success(), "{}", describe_output(&o));
    env.write("pylayer.toml", "[check]\nallow = [\"windows-bin\"]\n");
    let o = check_cmd(&env, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", describe_output(&o));
    assert!(
        stderr(&o).contains("pylayer.toml: [check] allow `windows-bin`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn build_allows_a_missing_library_by_glob() {
    let env = TestEnv::new();
    let Some((_, ext)) = odbc_binaries(&env.work_dir().join("cc")) else {
        return;
    };
    let whl = WheelSpec::new("odbclike", "5.0")
        .tag(LINUX_312)
        .file(
            "odbclike/_odbc.cpython-312-x86_64-linux-gnu.so",
            std::fs::read(&ext).unwrap(),
        )
        .build(&env.work_dir().join("w"));
    let index = TestIndex::start(&[whl], IndexOptions::default());
    let o = build_cmd(
        &env,
        &index,
        &["odbclike"],
        &["--allow", "missing-library:odbclike/*.so"],
    );
    assert!(o.status.success(), "{}", describe_output(&o));
    assert!(
        stderr(&o).contains("1 findings allowed by [check] allow / --allow (missing-library 1)"),
        "{}",
        describe_output(&o)
    );
    let o = build_cmd(
        &env,
        &index,
        &["odbclike"],
        &["--allow", "missing-library:other/**"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", describe_output(&o));
}

#[test]
fn too_big_advice_names_slim_with_its_saving_and_never_splitting() {
    let env = TestEnv::new();
    let whl = WheelSpec::new("bulky", "1.0")
        .file("bulky/core.py", "X = 1\n")
        .file("bulky/tests/__init__.py", "")
        .file("bulky/tests/test_core.py", "import bulky\n".repeat(500))
        .build(&env.work_dir().join("w"));
    let index = TestIndex::start(&[whl], IndexOptions::default());
    let o = build_cmd(&env, &index, &["bulky"], &[]);
    assert!(o.status.success(), "{}", describe_output(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let zip = format!("out/{}", v["layers"][0]["zip"].as_str().unwrap());
    // A function that leaves almost nothing of the 250 MB for its layers.
    let o = run(env
        .cmd()
        .args(["check", &zip, "--function-size", "262143000", "--json"]));
    assert_eq!(o.status.code(), Some(1), "{}", describe_output(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "too-big-unzipped")
        .unwrap_or_else(|| panic!("{r:#}"));
    let hint = f["hint"].as_str().unwrap();
    // What --slim removes here: the tests package, as inspect predicts.
    assert_eq!("import bulky\n".len() * 500, 6500);
    assert!(
        hint.contains("`pylayer build --slim` (pylayer inspect predicts 6.3 KB less here)"),
        "{hint}"
    );
    assert!(hint.contains("`pylayer build --exclude NAME`"), "{hint}");
    assert!(hint.contains("container image"), "{hint}");
    assert!(!hint.to_lowercase().contains("split the layer"), "{hint}");
    assert!(hint.contains("Splitting the layer does not help"), "{hint}");
}

/// Whether this machine has a python3.12 to import layers with; missing fails under CI.
fn have_python312() -> bool {
    match pylayer::interpreter::discover(12, None, pylayer::interpreter::Purpose::TEST) {
        Ok(_) => true,
        Err(e) => {
            support::missing_tool(&e.0);
            false
        }
    }
}

/// `reader` imports its `helpers` package at run time; `tests` is not imported by anything.
fn reader_wheel(dir: &Path) -> PathBuf {
    WheelSpec::new("reader", "1.0")
        .no_files()
        .file("reader/__init__.py", "from reader.helpers import parse\n")
        .file(
            "reader/helpers/__init__.py",
            "def parse(x):\n    return x\n",
        )
        .file("reader/tests/__init__.py", "")
        .file("reader/tests/test_parse.py", "import reader\n")
        .build(dir)
}

#[test]
fn a_slim_pattern_that_removes_a_runtime_module_fails_the_build_naming_it() {
    if !have_python312() {
        return;
    }
    let env = TestEnv::new();
    let index = TestIndex::start(
        &[reader_wheel(&env.work_dir().join("w"))],
        IndexOptions::default(),
    );

    // --slim alone removes only the tests: every module still imports.
    let o = build_cmd(&env, &index, &["reader"], &["--slim", "--verbose"]);
    assert!(o.status.success(), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(!err.contains("import-after-slim"), "{err}");
    assert!(
        err.contains("imported 1 top-level module(s) of the slimmed layer"),
        "{err}"
    );

    // A pattern removing what `reader/__init__.py` imports: the build fails naming the
    // module and what was removed.
    let o = build_cmd(
        &env,
        &index,
        &["reader"],
        &["--slim", "--slim-pattern", "helpers/"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(
        err.contains("error[import-after-slim] reader (reader)"),
        "{err}"
    );
    assert!(
        err.contains("`import reader` fails in the slimmed layer: ModuleNotFoundError: No module named 'reader.helpers' — slimming removed reader.helpers"),
        "{err}"
    );
    assert!(err.contains("--slim-pattern '!reader/helpers/'"), "{err}");

    // Without an interpreter for the target: a note says the check was skipped and how to
    // enable it; the build succeeds.
    let empty = env.work_dir().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run(env
        .cmd()
        .args([
            "build",
            "reader",
            "--index-url",
            &index.url,
            "--python",
            "3.12",
        ])
        .args(["--slim", "--out-dir", "out2"])
        .env("PATH", "")
        .env("PYENV_ROOT", &empty)
        .env("UV_PYTHON_INSTALL_DIR", &empty)
        .env("HOME", &empty));
    assert!(o.status.success(), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(
        err.contains("the import check after slimming was skipped"),
        "{err}"
    );
    assert!(err.contains("--python-interpreter"), "{err}");
}

#[test]
fn included_libraries_are_checked_like_wheel_contents() {
    let env = TestEnv::new();
    if Command::new("cc").arg("--version").output().is_err() {
        support::missing_tool("no C compiler (cc) to build test shared objects");
        return;
    }
    // A library linked against this machine's glibc: pthread_create is versioned
    // GLIBC_2.34 since glibc moved libpthread into libc, above python3.11's glibc 2.26.
    let lib_dir = env.work_dir().join("vendor/lib");
    std::fs::create_dir_all(&lib_dir).unwrap();
    let src = env.work_dir().join("t.c");
    std::fs::write(
        &src,
        "#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint start(void) { pthread_t t; return pthread_create(&t, 0, f, 0); }\n",
    )
    .unwrap();
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(lib_dir.join("libnew.so"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(cc.status.success(), "{}", describe_output(&cc));
    let glibc = String::from_utf8_lossy(
        &Command::new("ldd")
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    let whl = WheelSpec::new("plainpkg", "1.0").build(&env.work_dir().join("w"));
    let index = TestIndex::start(&[whl], IndexOptions::default());
    let o = run(env
        .cmd()
        .args([
            "build",
            "plainpkg",
            "--index-url",
            &index.url,
            "--python",
            "3.11",
        ])
        .args(["--include", "vendor", "--out-dir", "out", "--json"]));
    // Only a glibc of 2.34 or later versions pthread_create GLIBC_2.34.
    let minor: u32 = glibc
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.strip_prefix("2."))
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if minor < 34 {
        support::missing_tool(&format!(
            "glibc 2.34 or later to link a GLIBC_2.34 library (ldd --version: {glibc})"
        ));
        return;
    }
    assert_eq!(o.status.code(), Some(1), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(err.contains("error[glibc-too-new] lib/libnew.so"), "{err}");
    // The manifest counts the included file in the layer's size.
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let layer = &v["layers"][0];
    let zip = env
        .work_dir()
        .join("out")
        .join(layer["zip"].as_str().unwrap());
    let total: u64 = read_zip(&zip).values().map(|(_, d)| d.len() as u64).sum();
    assert_eq!(layer["unzipped_bytes"], total, "{layer:#}");
    assert_eq!(
        layer["included"][0]["bytes"],
        std::fs::metadata(lib_dir.join("libnew.so")).unwrap().len()
    );
}
