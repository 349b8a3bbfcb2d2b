//! `pylayer build` with real wheels from the public index: the layers must import on the
//! machine's python3.11 (the same CPython minor as the python3.11 runtime), and builds must
//! be byte-for-byte reproducible and safe to interrupt.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{TestEnv, describe_output, pylayer_with_cache, run};

fn build(env: &TestEnv, cache: &Path, args: &[&str]) -> PathBuf {
    let mut cmd = pylayer_with_cache(cache);
    cmd.current_dir(env.work_dir()).arg("build").args(args);
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe_output(&out));
    let dist = env.work_dir().join("dist");
    let zips: Vec<PathBuf> = std::fs::read_dir(&dist)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    assert_eq!(zips.len(), 1, "{zips:?}");
    zips[0].clone()
}

/// Extracts with Python's own zipfile (what Lambda's unzip must agree with) and imports the
/// modules in an isolated python3.11 with the layer's `python/` first on sys.path.
fn imports_ok(zip: &Path, modules: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "import sys, zipfile\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])\n\
         sys.path.insert(0, sys.argv[2] + '/python')\n\
         for m in {modules:?}:\n    mod = __import__(m)\n    print(m, getattr(mod, '__file__', ''))\n\
         import importlib.metadata as md\nprint(sorted(d.metadata['Name'] for d in md.distributions(path=[sys.argv[2] + '/python'])))\n"
    );
    let out = run(Command::new("python3.11")
        .arg("-I")
        .arg("-c")
        .arg(&script)
        .arg(zip)
        .arg(dir.path()));
    assert!(
        out.status.success(),
        "imports failed: {}",
        describe_output(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for m in modules {
        // Every module must come from the layer, not from the machine.
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{m} ")))
            .unwrap();
        assert!(
            line.contains(&dir.path().display().to_string()),
            "{m} was not imported from the layer: {line}"
        );
    }
}

fn entries(zip: &Path) -> Vec<String> {
    let f = std::fs::File::open(zip).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    (0..z.len())
        .map(|i| z.by_index_raw(i).unwrap().name().unwrap().to_string())
        .collect()
}

#[test]
fn ldap3_layer_imports_on_python311() {
    let env = TestEnv::new();
    let req = env.write("ldap3/requirements.txt", "ldap3\n");
    let zip = build(
        &env,
        env.cache_dir(),
        &[
            "-r",
            req.to_str().unwrap(),
            "--python",
            "3.11",
            "--arch",
            "x86_64",
        ],
    );
    assert_eq!(zip.file_name().unwrap(), "ldap3-py3.11-x86_64.zip");
    imports_ok(&zip, &["ldap3", "pyasn1"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(zip.with_extension("json")).unwrap()).unwrap();
    assert_eq!(manifest["runtime"], "python3.11");
    assert_eq!(manifest["architecture"], "x86_64");
    let names: Vec<&str> = manifest["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ldap3", "pyasn1"]);
}

#[test]
fn requests_pandas_pydantic_layer_imports_on_python311() {
    let env = TestEnv::new();
    let zip = build(
        &env,
        env.cache_dir(),
        &[
            "requests", "pandas", "pydantic", "--python", "3.11", "--arch", "x86_64", "--name",
            "mixed",
        ],
    );
    imports_ok(
        &zip,
        &["requests", "pandas", "numpy", "pydantic", "pydantic_core"],
    );
    let names = entries(&zip);
    assert!(
        names.iter().all(|n| n.starts_with("python/")),
        "entries outside python/"
    );
    assert!(names.iter().any(|n| {
        n.starts_with("python/pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu")
    }));
    assert!(
        !names
            .iter()
            .any(|n| n.contains("__pycache__") || n.ends_with(".pyc"))
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("python/pip/") || n.starts_with("python/setuptools/"))
    );
    // Run an actual computation through the compiled extensions, not just the import.
    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new("python3.11").arg("-I").arg("-c").arg(
        "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2]); sys.path.insert(0, sys.argv[2] + '/python')\n\
         import pandas, pydantic\nclass M(pydantic.BaseModel):\n    x: int\n\
         print(pandas.DataFrame({'a': [1, 2, 3]})['a'].sum(), M(x='5').x)",
    ).arg(&zip).arg(dir.path()));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "6 5");
}

#[test]
fn builds_are_reproducible_across_runs_and_caches() {
    let env = TestEnv::new();
    let other_cache = tempfile::tempdir().unwrap();
    let args = [
        "requests", "--python", "3.12", "--arch", "arm64", "--name", "repro",
    ];
    let first = build(&env, env.cache_dir(), &args);
    let a = std::fs::read(&first).unwrap();
    std::fs::remove_dir_all(env.work_dir().join("dist")).unwrap();
    let second = build(&env, other_cache.path(), &args);
    let b = std::fs::read(&second).unwrap();
    assert!(a == b, "two builds from two caches differ");
    std::fs::remove_file(env.work_dir().join("pylayer.lock")).unwrap();
    let third = std::fs::read(build(&env, env.cache_dir(), &args)).unwrap();
    assert!(
        a == third,
        "re-locking and building again changed the bytes"
    );
}

#[test]
fn corrupted_cache_entry_is_detected_and_fetched_again() {
    let env = TestEnv::new();
    let args = ["ldap3", "--python", "3.12", "--name", "c"];
    let good = std::fs::read(build(&env, env.cache_dir(), &args)).unwrap();
    // Damage every cached wheel in place (same size, different bytes).
    let mut damaged = 0;
    for entry in walk(&env.cache_dir().join("wheels")) {
        let mut bytes = std::fs::read(&entry).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&entry, bytes).unwrap();
        damaged += 1;
    }
    assert!(damaged >= 2, "expected cached wheels, found {damaged}");
    std::fs::remove_dir_all(env.work_dir().join("dist")).unwrap();
    let mut cmd = pylayer_with_cache(env.cache_dir());
    let out = run(cmd.current_dir(env.work_dir()).arg("build").args(args));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("damaged"),
        "{}",
        describe_output(&out)
    );
    let again = std::fs::read(env.work_dir().join("dist/c-py3.12-x86_64.zip")).unwrap();
    assert!(good == again);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn interrupted_build_leaves_no_zip_and_a_usable_cache() {
    let env = TestEnv::new();
    let args = ["pandas", "--python", "3.12", "--name", "big"];
    let mut killed_midway = 0;
    for delay_ms in [30u64, 80, 150, 300, 600] {
        let cache = tempfile::tempdir().unwrap();
        let _ = std::fs::remove_dir_all(env.work_dir().join("dist"));
        let mut cmd = pylayer_with_cache(cache.path());
        let mut child = cmd
            .current_dir(env.work_dir())
            .arg("build")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code().is_some() {
            continue; // it finished before the kill; nothing to check for this delay
        }
        killed_midway += 1;
        let zips: Vec<PathBuf> = walk(&env.work_dir().join("dist"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "zip" || x == "json"))
            .collect();
        let left: Vec<(PathBuf, Vec<u8>)> = zips
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
            .collect();
        // The cache holds only complete, verified wheels: a rebuild from it succeeds.
        let mut cmd = pylayer_with_cache(cache.path());
        let out = run(cmd.current_dir(env.work_dir()).arg("build").args(args));
        assert!(
            out.status.success(),
            "rebuild after kill: {}",
            describe_output(&out)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("damaged"),
            "{}",
            describe_output(&out)
        );
        // Whatever the killed build left under its final name is complete: the same bytes as
        // a finished build (outputs are written to a temporary file and renamed).
        for (path, bytes) in left {
            assert!(
                std::fs::read(&path).unwrap() == bytes,
                "a killed build left a partial {}",
                path.display()
            );
        }
    }
    assert!(
        killed_midway > 0,
        "no build was interrupted; the test proved nothing"
    );
}

/// The issue's acceptance test with real wheels: a python3.12 layer of requests and pandas
/// built with `--compile-bytecode` has an unchecked-hash 3.12 `.pyc` for every compilable
/// `.py`, named with its Lambda path; a read-only copy imports from bytecode only; a build in
/// another directory with another cache gives the same bytes.
#[test]
fn requests_pandas_layer_with_bytecode_imports_from_bytecode_only_on_python312() {
    use pylayer::bytecode::pyc::{Invalidation, PycHeader};
    use std::io::Read;
    let python =
        match pylayer::interpreter::discover(12, None, pylayer::interpreter::Purpose::BYTECODE) {
            Ok(i) => i.python,
            Err(e) => {
                support::missing_tool(&e.0);
                return;
            }
        };
    let args = [
        "requests",
        "pandas",
        "--python",
        "3.12",
        "--arch",
        "x86_64",
        "--name",
        "bc",
        "--compile-bytecode",
    ];
    let env = TestEnv::new();
    let zip = build(&env, env.cache_dir(), &args);

    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(zip.with_extension("json")).unwrap()).unwrap();
    let notes = manifest["notes"].to_string();
    let mut pycs = Vec::new();
    let mut without = Vec::new();
    for py in names.iter().filter(|n| n.ends_with(".py")) {
        let (dir, file) = py.rsplit_once('/').unwrap();
        let pyc = format!(
            "{dir}/__pycache__/{}.cpython-312.pyc",
            &file[..file.len() - 3]
        );
        if names.contains(&pyc) {
            pycs.push(pyc);
        } else {
            without.push(py.clone());
        }
    }
    assert!(pycs.len() > 1000, "{} .pyc", pycs.len());
    // A source without bytecode is one that does not compile, and the build said so.
    assert_eq!(
        manifest["bytecode"]["skipped"],
        without.len(),
        "{without:?}"
    );
    for py in &without {
        assert!(notes.contains(py.as_str()), "{py} has no .pyc and no note");
    }
    for pyc in &pycs {
        let mut head = [0u8; 16];
        z.by_name(pyc).unwrap().read_exact(&mut head).unwrap();
        let h = PycHeader::parse(&head).unwrap();
        assert_eq!(h.minor(), Some(12), "{pyc}");
        assert_eq!(h.invalidation, Invalidation::UncheckedHash, "{pyc}");
    }
    // co_filename, as python3.12 reads it: the path under /opt/python/.
    let script = "import marshal, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nbad = []\n\
        for n in z.namelist():\n    if n.endswith('.pyc'):\n        c = marshal.loads(z.read(n)[16:])\n\
                if not c.co_filename.startswith('/opt/python/'):\n            bad.append((n, c.co_filename))\n\
        print(len(bad), bad[:3])\n";
    let out = run(Command::new(&python)
        .args(["-I", "-B", "-c", script])
        .arg(&zip));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("0 "),
        "{}",
        describe_output(&out)
    );

    // A read-only copy, `python3.12 -I -B -v`: no layer module is compiled from source.
    let root = tempfile::tempdir().unwrap();
    let layer = root.path().join("layer");
    let out = run(Command::new(&python)
        .args([
            "-I",
            "-B",
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(&zip)
        .arg(&layer));
    assert!(out.status.success(), "{}", describe_output(&out));
    let chmod = |mode: &str| {
        let out = run(Command::new("chmod").args(["-R", mode]).arg(&layer));
        assert!(out.status.success(), "{}", describe_output(&out));
    };
    chmod("a-w");
    let py_root = layer.join("python").display().to_string();
    let out = run(Command::new(&python)
        .args(["-I", "-B", "-v", "-c"])
        .arg(format!(
            "import sys; sys.path.insert(0, {py_root:?}); import requests, pandas"
        )));
    chmod("u+w");
    assert!(out.status.success(), "{}", describe_output(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    let from_source: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with(&format!("# code object from {py_root}")))
        .collect();
    assert!(
        from_source.is_empty(),
        "compiled from source: {from_source:?}"
    );
    let from_pyc = log
        .lines()
        .filter(|l| l.starts_with(&format!("# code object from '{py_root}")))
        .count();
    assert!(from_pyc > 300, "only {from_pyc} modules from bytecode");

    // pylayer test counts the same: nothing compiled from source.
    let out = run(pylayer_with_cache(env.cache_dir())
        .args([
            "test", "--json", "--import", "requests", "--import", "pandas",
        ])
        .arg(&zip));
    assert!(out.status.success(), "{}", describe_output(&out));
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for r in t["modules"].as_array().unwrap() {
        assert_eq!(r["compiled_from_source"], 0, "{r}");
        assert!(r["from_bytecode"].as_u64().unwrap() > 10, "{r}");
    }

    // Another directory and another cache: the same bytes.
    let other = TestEnv::new();
    let other_cache = tempfile::tempdir().unwrap();
    let again = build(&other, other_cache.path(), &args);
    assert!(
        std::fs::read(&zip).unwrap() == std::fs::read(&again).unwrap(),
        "a build elsewhere with another cache gave other bytes"
    );
}
