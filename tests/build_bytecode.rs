//! `pylayer build --compile-bytecode` against the local test index, checked with the real
//! python3.12: every compilable module gets a PEP 552 unchecked-hash `.pyc` with its Lambda
//! path as `co_filename`, a read-only copy of the layer imports from bytecode only, and the
//! zip's bytes do not depend on the build or cache directory. Without python3.12 these tests
//! fail when `CI` is set and are skipped otherwise.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use pylayer::bytecode::pyc::{Invalidation, PycHeader};
use pylayer::interpreter::{Purpose, discover};
use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

fn python312() -> Option<PathBuf> {
    match discover(12, None, Purpose::BYTECODE) {
        Ok(i) => Some(i.python),
        Err(e) => {
            support::missing_tool(&e.0);
            None
        }
    }
}

/// Two distributions: `alpha` (a package with a submodule and a Python 2 file that does not
/// compile) and `beta` (one module with set constants, whose order marshal once tied to the
/// hash seed).
fn wheels(dir: &Path) -> Vec<PathBuf> {
    vec![
        WheelSpec::new("alpha", "1.0")
            .no_files()
            .file("alpha/__init__.py", "from alpha import sub\nVALUE = sub.f(2)\n")
            .file("alpha/sub.py", "def f(x):\n    return x * 21\n")
            .file("alpha/legacy/py2.py", "print 'python 2'\n")
            .build(dir),
        WheelSpec::new("beta", "2.0")
            .no_files()
            .file(
                "beta.py",
                "NAMES = frozenset({'a', 'bb', 'ccc', 'dddd'})\ndef has(x):\n    return x in {'one', 'two', 'three'}\n",
            )
            .build(dir),
    ]
}

fn read_zip(zip: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (f.name().unwrap().to_string(), v)
        })
        .collect()
}

fn build(env: &TestEnv, index: &TestIndex, extra: &[&str]) -> std::process::Output {
    run(env
        .cmd()
        .args([
            "build",
            "alpha",
            "beta",
            "--index-url",
            &index.url,
            "--name",
            "bc",
            "--python",
            "3.12",
            "--json",
        ])
        .args(extra))
}

#[test]
fn every_compilable_module_gets_unchecked_hash_bytecode_and_imports_from_it() {
    let Some(python) = python312() else { return };
    let env = TestEnv::new();
    let index = TestIndex::start(
        &wheels(&env.work_dir().join("wheels")),
        IndexOptions::default(),
    );
    let out = build(&env, &index, &["--compile-bytecode"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip = env.work_dir().join("dist/bc-py3.12-x86_64.zip");
    let entries = read_zip(&zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();

    // A .pyc for every .py but the one that does not compile, with 3.12's magic number and
    // the unchecked-hash flag.
    let sources: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.ends_with(".py"))
        .collect();
    assert_eq!(sources.len(), 4, "{names:?}");
    let mut pycs = Vec::new();
    for s in &sources {
        let (dir, file) = s.rsplit_once('/').unwrap();
        let pyc = format!(
            "{dir}/__pycache__/{}.cpython-312.pyc",
            &file[..file.len() - 3]
        );
        let found = entries.iter().find(|(n, _)| *n == pyc);
        if s.ends_with("py2.py") {
            assert!(found.is_none(), "{pyc} should not exist");
            continue;
        }
        let (_, bytes) = found.unwrap_or_else(|| panic!("no {pyc} in {names:?}"));
        let h = PycHeader::parse(bytes).unwrap();
        assert_eq!(h.minor(), Some(12), "{pyc}");
        assert_eq!(h.invalidation, Invalidation::UncheckedHash, "{pyc}");
        pycs.push((s.to_string(), pyc));
    }
    assert_eq!(pycs.len(), 3);

    // co_filename is the path Lambda sees, as python3.12 itself reads it.
    let script = "import marshal, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor n in sys.argv[2:]:\n    print(marshal.loads(z.read(n)[16:]).co_filename)\n";
    let shown = run(Command::new(&python)
        .args(["-I", "-B", "-c", script])
        .arg(&zip)
        .args(pycs.iter().map(|(_, p)| p)));
    assert!(shown.status.success(), "{}", describe_output(&shown));
    let expected: Vec<String> = pycs.iter().map(|(s, _)| format!("/opt/{s}")).collect();
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout)
            .lines()
            .collect::<Vec<_>>(),
        expected
    );

    // RECORD lists each .pyc with its hash.
    let (_, record) = entries
        .iter()
        .find(|(n, _)| n.ends_with("alpha-1.0.dist-info/RECORD"))
        .unwrap();
    let record = String::from_utf8_lossy(record);
    let sub_pyc = "alpha/__pycache__/sub.cpython-312.pyc";
    let line = record
        .lines()
        .find(|l| l.starts_with(sub_pyc))
        .unwrap_or_else(|| panic!("{sub_pyc} not in RECORD:\n{record}"));
    let bytes = &entries
        .iter()
        .find(|(n, _)| n.ends_with(sub_pyc))
        .unwrap()
        .1;
    assert!(line.ends_with(&format!(",{}", bytes.len())), "{line}");

    // The manifest records the mode and the interpreter; the note names the skipped file.
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &all["layers"][0];
    assert_eq!(m["bytecode"]["mode"], "all", "{m:#}");
    assert_eq!(m["bytecode"]["files"], 3, "{m:#}");
    assert_eq!(m["bytecode"]["skipped"], 1, "{m:#}");
    assert!(
        m["bytecode"]["interpreter"]
            .as_str()
            .unwrap()
            .starts_with("3.12."),
        "{m:#}"
    );
    assert_eq!(m["bytecode"]["magic"], "cb0d0d0a", "{m:#}");
    let notes = m["notes"].to_string();
    assert!(notes.contains("alpha/legacy/py2.py"), "{notes}");
    assert!(notes.contains("SyntaxError"), "{notes}");

    // A read-only copy imports every layer module from bytecode: no source is compiled.
    let root = tempfile::tempdir().unwrap();
    for (name, bytes) in &entries {
        let p = root.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    set_readonly(root.path(), true);
    let py_root = root.path().join("python");
    let imported = run(Command::new(&python)
        .args(["-I", "-B", "-v", "-c"])
        .arg(format!(
            "import sys; sys.path.insert(0, {:?}); import alpha, beta; assert alpha.VALUE == 42 and beta.has('two')",
            py_root.display().to_string()
        )));
    set_readonly(root.path(), false);
    assert!(imported.status.success(), "{}", describe_output(&imported));
    let log = String::from_utf8_lossy(&imported.stderr);
    let root_text = py_root.display().to_string();
    let from_source: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with(&format!("# code object from {root_text}")))
        .collect();
    assert!(
        from_source.is_empty(),
        "compiled from source: {from_source:?}"
    );
    for module in [
        "alpha/__pycache__/__init__",
        "alpha/__pycache__/sub",
        "__pycache__/beta",
    ] {
        let line = format!("# code object from '{root_text}/{module}.cpython-312.pyc'");
        assert!(log.contains(&line), "{line} not in:\n{log}");
    }

    // pylayer check and inspect see the bytecode.
    let checked = run(env
        .cmd()
        .args(["check", "--json", "--python", "3.12"])
        .arg(&zip));
    let c: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    let codes = c["findings"].to_string();
    assert!(!codes.contains("no-bytecode"), "{c:#}");
    assert!(!codes.contains("timestamp-bytecode"), "{c:#}");
    let inspected = run(env.cmd().args(["inspect", "--json"]).arg(&zip));
    let i: serde_json::Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(i["bytecode"]["files"], 3, "{i:#}");
    assert_eq!(i["bytecode"]["sources_without_bytecode"], 1, "{i:#}");
}

#[cfg(unix)]
fn set_readonly(dir: &Path, readonly: bool) {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            set_readonly(&p, readonly);
            std::fs::set_permissions(
                &p,
                std::fs::Permissions::from_mode(if readonly { 0o555 } else { 0o755 }),
            )
            .unwrap();
        }
    }
    std::fs::set_permissions(
        dir,
        std::fs::Permissions::from_mode(if readonly { 0o555 } else { 0o755 }),
    )
    .unwrap();
}

#[cfg(not(unix))]
fn set_readonly(_dir: &Path, _readonly: bool) {}

#[test]
fn the_zip_does_not_depend_on_the_build_or_cache_directory() {
    if python312().is_none() {
        return;
    }
    let first = TestEnv::new();
    let index = TestIndex::start(
        &wheels(&first.work_dir().join("wheels")),
        IndexOptions::default(),
    );
    let out = build(&first, &index, &["--compile-bytecode"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip =
        |env: &TestEnv| std::fs::read(env.work_dir().join("dist/bc-py3.12-x86_64.zip")).unwrap();
    let a = zip(&first);
    assert!(
        read_zip(&first.work_dir().join("dist/bc-py3.12-x86_64.zip"))
            .iter()
            .any(|(n, _)| n.ends_with(".pyc"))
    );

    // Each wheel's bytecode is cached once, by the wheel's hash.
    let cached: Vec<PathBuf> = walk(&first.cache_dir().join("bytecode-v1"));
    assert_eq!(cached.len(), 2, "{cached:?}");

    // Another directory and another cache, bytecode turned on from pylayer.toml.
    let second = TestEnv::new();
    second.write("pylayer.toml", "compile-bytecode = true\n");
    let out = build(&second, &index, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(zip(&second) == a, "a build elsewhere gave other bytes");

    // Warm: the same bytes again, from the cached bytecode.
    let out = build(&first, &index, &["--compile-bytecode"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(zip(&first) == a, "a warm build gave other bytes");

    // The flag wins over the file.
    let out = build(&second, &index, &["--compile-bytecode=none"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(
        !read_zip(&second.work_dir().join("dist/bc-py3.12-x86_64.zip"))
            .iter()
            .any(|(n, _)| n.ends_with(".pyc"))
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn no_matching_interpreter_is_a_clear_error() {
    let env = TestEnv::new();
    let empty = env.work_dir().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(env
        .cmd()
        .args([
            "build",
            "alpha",
            "--index-url",
            "http://127.0.0.1:9/simple/",
            "--python",
            "3.12",
            "--compile-bytecode",
        ])
        .env("PATH", "")
        .env("PYENV_ROOT", &empty)
        .env("UV_PYTHON_INSTALL_DIR", &empty)
        .env("HOME", &empty));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no python3.12 found to compile the layer's bytecode with"),
        "{err}"
    );
    assert!(err.contains("uv python install 3.12"), "{err}");
    assert!(err.contains("--python-interpreter PATH"), "{err}");
}

/// `gamma` imports `gamma.core` at start-up and leaves `gamma.extra` and `gamma.lazy` for
/// later; `delta` is a module of its own; `_hidden` is private, so nothing imports it.
fn startup_wheels(dir: &Path) -> Vec<PathBuf> {
    vec![
        WheelSpec::new("gamma", "1.0")
            .no_files()
            .file("gamma/__init__.py", "from gamma import core\n")
            .file("gamma/core.py", "def f():\n    return 1\n")
            .file("gamma/extra.py", "import json\nX = json.dumps([1])\n")
            .file(
                "gamma/lazy.py",
                "def g():\n    from gamma import extra\n    return extra.X\n",
            )
            .build(dir),
        WheelSpec::new("delta", "1.0")
            .no_files()
            .file("delta.py", "Y = 2\n")
            .file("_hidden.py", "Z = 3\n")
            .build(dir),
    ]
}

fn pyc_names(zip: &Path) -> Vec<String> {
    let mut v: Vec<String> = read_zip(zip)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.ends_with(".pyc"))
        .collect();
    v.sort();
    v
}

fn test_json(env: &TestEnv, zip: &Path, extra: &[&str]) -> serde_json::Value {
    let out = run(env
        .cmd()
        .args(["test", "--json", "--python", "3.12"])
        .arg(zip)
        .args(extra));
    assert!(out.status.success(), "{}", describe_output(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn imported_mode_compiles_only_what_start_up_imports_and_test_counts_it() {
    if python312().is_none() {
        return;
    }
    let env = TestEnv::new();
    let index = TestIndex::start(
        &startup_wheels(&env.work_dir().join("wheels")),
        IndexOptions::default(),
    );
    let build = |extra: &[&str]| {
        run(env
            .cmd()
            .args([
                "build",
                "gamma",
                "delta",
                "--index-url",
                &index.url,
                "--name",
                "st",
                "--python",
                "3.12",
                "--json",
            ])
            .args(extra))
    };
    let zip = env.work_dir().join("dist/st-py3.12-x86_64.zip");

    // Without bytecode, `pylayer test` counts every layer module it imported as compiled
    // from source.
    let out = build(&[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let t = test_json(&env, &zip, &[]);
    let rows = t["modules"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["module"] == name).unwrap().clone();
    assert_eq!(row("gamma")["compiled_from_source"], 2, "{t:#}");
    assert_eq!(row("gamma")["from_bytecode"], 0, "{t:#}");
    assert_eq!(row("delta")["compiled_from_source"], 1, "{t:#}");

    // Full bytecode: every module, and the test loads all of them from it.
    let out = build(&["--compile-bytecode"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let all_pyc = pyc_names(&zip);
    assert_eq!(all_pyc.len(), 6, "{all_pyc:?}");
    let all_sizes: std::collections::HashMap<String, usize> = read_zip(&zip)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".pyc"))
        .map(|(n, b)| (n, b.len()))
        .collect();
    let t = test_json(&env, &zip, &[]);
    for r in t["modules"].as_array().unwrap() {
        assert_eq!(r["compiled_from_source"], 0, "{t:#}");
    }
    let rows = t["modules"].as_array().unwrap();
    assert_eq!(
        rows.iter().find(|r| r["module"] == "gamma").unwrap()["from_bytecode"],
        2,
        "{t:#}"
    );

    // imported: only what importing every public top-level module loads.
    let out = build(&["--compile-bytecode=imported"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let kept = pyc_names(&zip);
    assert_eq!(
        kept,
        vec![
            "python/__pycache__/delta.cpython-312.pyc",
            "python/gamma/__pycache__/__init__.cpython-312.pyc",
            "python/gamma/__pycache__/core.cpython-312.pyc",
        ],
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = &m["layers"][0]["bytecode"];
    assert_eq!(b["mode"], "imported", "{b:#}");
    assert_eq!(b["files"], 3, "{b:#}");
    assert_eq!(
        b["imported"]["modules"],
        serde_json::json!(["delta", "gamma"])
    );
    assert_eq!(b["imported"]["left_out_files"], 3, "{b:#}");
    let left_out: usize = all_sizes
        .iter()
        .filter(|(n, _)| !kept.contains(n))
        .map(|(_, s)| s)
        .sum();
    assert_eq!(b["imported"]["left_out_bytes"], left_out, "{b:#}");
    let notes = m["layers"][0]["notes"].to_string();
    assert!(notes.contains("left out 3 .pyc"), "{notes}");

    // --entry: the handler's own imports decide, from its code directory.
    let code = env.work_dir().join("function");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(
        code.join("app.py"),
        "import gamma.extra\ndef handler(event, context):\n    return gamma.extra.X\n",
    )
    .unwrap();
    let code_arg = code.display().to_string();
    let out = build(&[
        "--compile-bytecode=imported",
        "--entry",
        "app.handler",
        "--code",
        &code_arg,
    ]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(
        pyc_names(&zip),
        vec![
            "python/gamma/__pycache__/__init__.cpython-312.pyc",
            "python/gamma/__pycache__/core.cpython-312.pyc",
            "python/gamma/__pycache__/extra.cpython-312.pyc",
        ],
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["layers"][0]["bytecode"]["imported"]["entry"], "app");

    // pylayer test --entry imports the handler as Lambda would: no layer module compiles,
    // the function's own module does.
    let t = test_json(&env, &zip, &["--entry", "app.handler", "--code", &code_arg]);
    let rows = t["modules"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{t:#}");
    assert_eq!(rows[0]["module"], "app");
    assert_eq!(rows[0]["status"], "ok", "{t:#}");
    assert_eq!(rows[0]["from_bytecode"], 3, "{t:#}");
    assert_eq!(rows[0]["compiled_from_source"], 0, "{t:#}");
    assert_eq!(rows[0]["code_compiled_from_source"], 1, "{t:#}");

    // --entry without imported bytecode is a usage error.
    let out = build(&["--entry", "app", "--code", &code_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--compile-bytecode=imported"),
        "{}",
        describe_output(&out)
    );
}

/// What start-up imports is found once per (layer files, interpreter, handler code) and then
/// taken from the cache: a module that counts its imports in a marker file shows whether a
/// build imported the layer. A namespace package's subpackages are start-up roots too.
#[test]
fn imported_mode_remembers_start_up_imports_and_reaches_namespace_packages() {
    if python312().is_none() {
        return;
    }
    let env = TestEnv::new();
    let marker = env.work_dir().join("imports.log");
    let wheels_dir = env.work_dir().join("wheels");
    let wheels = vec![
        WheelSpec::new("counted", "1.0")
            .no_files()
            .file(
                "counted.py",
                "import os\np = os.environ.get('PYLAYER_TEST_IMPORT_MARKER')\nif p:\n    with open(p, 'a') as f:\n        f.write('imported\\n')\n",
            )
            .build(&wheels_dir),
        WheelSpec::new("nsp-plugin", "1.0")
            .no_files()
            .file("nsp/plugin/__init__.py", "from nsp.plugin import core\n")
            .file("nsp/plugin/core.py", "X = 1\n")
            .file("nsp/plugin/unused.py", "Y = 2\n")
            .build(&wheels_dir),
    ];
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let code = env.work_dir().join("function");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(code.join("app.py"), "import counted\n").unwrap();
    let code_arg = code.display().to_string();
    let build = |extra: &[&str]| {
        let out = run(env
            .cmd()
            .env("PYLAYER_TEST_IMPORT_MARKER", &marker)
            .args([
                "build",
                "counted",
                "nsp-plugin",
                "--index-url",
                &index.url,
                "--name",
                "ns",
                "--python",
                "3.12",
                "--json",
                "--compile-bytecode=imported",
            ])
            .args(extra));
        assert!(out.status.success(), "{}", describe_output(&out));
        let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        m["layers"][0].clone()
    };
    let imports = || {
        std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let zip = env.work_dir().join("dist/ns-py3.12-x86_64.zip");

    let first = build(&[]);
    assert_eq!(imports(), 1, "the first build imports the layer");
    assert_eq!(
        first["bytecode"]["imported"]["modules"],
        serde_json::json!(["counted", "nsp.plugin"]),
        "{first:#}"
    );
    assert_eq!(
        pyc_names(&zip),
        vec![
            "python/__pycache__/counted.cpython-312.pyc",
            "python/nsp/plugin/__pycache__/__init__.cpython-312.pyc",
            "python/nsp/plugin/__pycache__/core.cpython-312.pyc",
        ]
    );
    let first_bytes = std::fs::read(&zip).unwrap();

    let second = build(&[]);
    assert_eq!(
        imports(),
        1,
        "the second build takes the answer from the cache"
    );
    assert!(
        second["notes"].to_string().contains("taken from the cache"),
        "{second:#}"
    );
    assert_eq!(std::fs::read(&zip).unwrap(), first_bytes);
    assert_eq!(second["bytecode"], first["bytecode"]);

    // A handler is another question: imported once, then remembered; changing its code asks
    // again.
    let entry = ["--entry", "app", "--code", code_arg.as_str()];
    build(&entry);
    assert_eq!(imports(), 2);
    build(&entry);
    assert_eq!(imports(), 2);
    assert_eq!(
        pyc_names(&zip),
        vec!["python/__pycache__/counted.cpython-312.pyc"]
    );
    std::fs::write(code.join("app.py"), "import counted\nimport nsp.plugin\n").unwrap();
    build(&entry);
    assert_eq!(imports(), 3, "changed handler code is imported again");
    assert_eq!(pyc_names(&zip).len(), 3, "{:?}", pyc_names(&zip));
}

/// Where scripts/test-deps.sh unpacks Debian's aarch64 python3.11.
fn arm64_python311() -> Option<PathBuf> {
    if std::env::consts::ARCH != "x86_64" {
        support::missing_tool("this test emulates aarch64 on an x86_64 machine");
        return None;
    }
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("qemu-aarch64").is_file());
    if !on_path {
        support::missing_tool(
            "qemu-aarch64 is not installed (apt-get install qemu-user; scripts/test-deps.sh does it)",
        );
        return None;
    }
    let sysroot = std::env::var_os("PYLAYER_TEST_ARM64_SYSROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-deps/sysroot-arm64")
        });
    let python = sysroot.join("usr/bin/python3.11");
    if !python.is_file() {
        support::missing_tool(&format!(
            "no aarch64 python3.11 at {} (scripts/test-deps.sh unpacks Debian's there)",
            python.display()
        ));
        return None;
    }
    Some(python)
}

#[test]
fn arm64_layers_get_the_same_bytecode_and_an_aarch64_python_loads_it_under_qemu() {
    let Some(arm_python) = arm64_python311() else {
        return;
    };
    if let Err(e) = discover(11, None, Purpose::BYTECODE) {
        support::missing_tool(&e.0);
        return;
    }
    let env = TestEnv::new();
    let index = TestIndex::start(
        &startup_wheels(&env.work_dir().join("wheels")),
        IndexOptions::default(),
    );
    let out = run(env.cmd().args([
        "build",
        "gamma",
        "delta",
        "--index-url",
        &index.url,
        "--name",
        "arm",
        "--python",
        "3.11",
        "--arch",
        "x86_64,arm64",
        "--compile-bytecode",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let arm = env.work_dir().join("dist/arm-py3.11-arm64.zip");
    let x86 = env.work_dir().join("dist/arm-py3.11-x86_64.zip");
    // One compile serves both architectures: the same .pyc bytes in both layers.
    let pyc = |zip: &Path| -> Vec<(String, Vec<u8>)> {
        read_zip(zip)
            .into_iter()
            .filter(|(n, _)| n.ends_with(".pyc"))
            .collect()
    };
    let arm_pyc = pyc(&arm);
    assert_eq!(arm_pyc.len(), 6, "{arm_pyc:?}");
    assert!(arm_pyc == pyc(&x86), "arm64 and x86_64 bytecode differ");

    // An aarch64 CPython, emulated, imports the layer from that bytecode alone.
    let out = run(env
        .cmd()
        .args(["test", "--json", "--arch", "arm64", "--interpreter"])
        .arg(&arm_python)
        .arg(&arm));
    assert!(out.status.success(), "{}", describe_output(&out));
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        t["emulator"]
            .as_str()
            .is_some_and(|e| e.ends_with("qemu-aarch64")),
        "{t:#}"
    );
    let rows = t["modules"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{t:#}");
    for r in rows {
        assert_eq!(r["status"], "ok", "{t:#}");
        assert_eq!(r["compiled_from_source"], 0, "{t:#}");
        assert!(r["from_bytecode"].as_u64().unwrap() >= 1, "{t:#}");
    }
}
