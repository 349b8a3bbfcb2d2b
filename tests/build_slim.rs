//! `pylayer build --slim` and `slim-patterns` against the local test index: the trim policy
//! keeps a `testing` package runtime code imports and removes test directories nothing
//! imports, stubs, C sources, static libraries and Windows binaries, never licenses or
//! package data; `!` patterns keep; RECORD matches the zip; `pylayer inspect` predicts to
//! the byte what `--slim` removes; two builds give the same bytes.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};
use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

/// `numlike` imports its `testing` package at run time (lazily, as numpy does) and ships
/// tests, stubs, C sources, a static library, a Windows binary, data and a license;
/// `plain` has a `tests` package nothing imports.
fn wheels(dir: &Path) -> Vec<PathBuf> {
    vec![
        WheelSpec::new("numlike", "1.0")
            .no_files()
            .file(
                "numlike/__init__.py",
                "def __getattr__(name):\n    if name == 'testing':\n        import numlike.testing as testing\n        return testing\n    raise AttributeError(name)\n",
            )
            .file("numlike/testing/__init__.py", "from .utils import assert_ok\n")
            .file("numlike/testing/utils.py", "def assert_ok(x):\n    assert x\n")
            .file(
                "numlike/testing/tests/test_utils.py",
                "from numlike.testing import assert_ok\n",
            )
            .file("numlike/tests/__init__.py", "")
            .file("numlike/tests/test_core.py", "import numlike\n".repeat(40))
            .file("numlike/tests/data/sample.csv", "a,b\n1,2\n".repeat(30))
            .file("numlike/core.pyi", "def f() -> int: ...\n")
            .file("numlike/py.typed", "")
            .file("numlike/src/core.c", "int f(void) { return 1; }\n".repeat(20))
            .file("numlike/include/numlike.h", "int f(void);\n".repeat(10))
            .file("numlike/_speed.pyx", "def g(): return 2\n")
            .file("numlike/libs/libfoo.a", vec![7u8; 900])
            .file("numlike/_native.cp312-win_amd64.pyd", vec![b'M'; 700])
            .file("numlike/data/table.csv", "x,y\n".repeat(50))
            .file("numlike/data/big.csv", "x,y\n".repeat(400))
            .file("numlike/datasets/descr/iris.rst", "Iris\n====\n")
            .file("numlike/LICENSE.txt", "MIT\n")
            .build(dir),
        WheelSpec::new("plain", "2.0")
            .no_files()
            .file("plain/__init__.py", "VALUE = 1\n")
            .file("plain/tests/__init__.py", "")
            .file("plain/tests/test_a.py", "import plain\n".repeat(10))
            .build(dir),
    ]
}

fn build(env: &TestEnv, index: &TestIndex, out: &str, extra: &[&str]) -> serde_json::Value {
    let o = run(env
        .cmd()
        .args([
            "build",
            "numlike",
            "plain",
            "--index-url",
            &index.url,
            "--name",
            "sl",
            "--python",
            "3.12",
            "--json",
            "--out-dir",
            out,
        ])
        .args(extra));
    assert!(o.status.success(), "{}", describe_output(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["layers"][0].clone()
}

fn read_zip(zip: &Path) -> BTreeMap<String, Vec<u8>> {
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

fn inspect(env: &TestEnv, zip: &Path, extra: &[&str]) -> serde_json::Value {
    let o = run(env.cmd().arg("inspect").arg(zip).arg("--json").args(extra));
    assert!(o.status.success(), "{}", describe_output(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Every RECORD in the zip lists exactly the files of its distribution that are in the
/// zip, with their real hash and size; and every file of a distribution is listed.
fn assert_record_matches(entries: &BTreeMap<String, Vec<u8>>) {
    let mut listed = std::collections::BTreeSet::new();
    for (name, data) in entries
        .iter()
        .filter(|(n, _)| n.ends_with(".dist-info/RECORD"))
    {
        for line in String::from_utf8(data.clone()).unwrap().lines() {
            let cols: Vec<&str> = line.rsplitn(3, ',').collect();
            let (size, hash, path) = (cols[0], cols[1], cols[2]);
            let full = format!("python/{path}");
            if full == *name {
                assert_eq!((hash, size), ("", ""));
                listed.insert(full);
                continue;
            }
            let content = entries
                .get(&full)
                .unwrap_or_else(|| panic!("{name} lists {path}, which is not in the zip"));
            let want = format!(
                "sha256={}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(content))
            );
            assert_eq!(hash, want, "{path}");
            assert_eq!(size, content.len().to_string(), "{path}");
            listed.insert(full);
        }
    }
    let files: std::collections::BTreeSet<String> = entries
        .keys()
        .filter(|k| !k.ends_with('/'))
        .cloned()
        .collect();
    assert_eq!(listed, files, "files and RECORD lines differ");
}

fn category(v: &serde_json::Value, key: &str, name: &str) -> (u64, u64) {
    let c = v[key]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == name)
        .unwrap_or_else(|| panic!("no {name} in {}", v[key]));
    (c["files"].as_u64().unwrap(), c["bytes"].as_u64().unwrap())
}

#[test]
fn slim_removes_what_inspect_predicts_keeps_runtime_testing_and_is_reproducible() {
    let env = TestEnv::new();
    let index = TestIndex::start(
        &wheels(&env.work_dir().join("wheels")),
        IndexOptions::default(),
    );
    let full = build(&env, &index, "full", &[]);
    assert!(full.get("slim").is_none(), "{full}");
    let full_zip = env.work_dir().join("full/sl-py3.12-x86_64.zip");
    let prediction = inspect(&env, &full_zip, &[]);

    let slim = build(&env, &index, "slim", &["--slim"]);
    let zip = env.work_dir().join("slim/sl-py3.12-x86_64.zip");
    let entries = read_zip(&zip);
    let has = |p: &str| entries.contains_key(&format!("python/{p}"));

    // Runtime code imports numlike.testing: it stays, its own tests do not.
    for kept in [
        "numlike/__init__.py",
        "numlike/testing/__init__.py",
        "numlike/testing/utils.py",
        "numlike/data/table.csv",
        "numlike/data/big.csv",
        "numlike/datasets/descr/iris.rst",
        "numlike/LICENSE.txt",
        "plain/__init__.py",
    ] {
        assert!(has(kept), "{kept} was removed: {:?}", entries.keys());
    }
    for removed in [
        "numlike/testing/tests/test_utils.py",
        "numlike/tests/__init__.py",
        "numlike/tests/test_core.py",
        "numlike/tests/data/sample.csv",
        "numlike/core.pyi",
        "numlike/py.typed",
        "numlike/src/core.c",
        "numlike/include/numlike.h",
        "numlike/_speed.pyx",
        "numlike/libs/libfoo.a",
        "numlike/_native.cp312-win_amd64.pyd",
        "plain/tests/__init__.py",
        "plain/tests/test_a.py",
    ] {
        assert!(!has(removed), "{removed} is still in the layer");
    }
    assert_record_matches(&entries);
    assert_record_matches(&read_zip(&full_zip));

    // The manifest's numbers are inspect's prediction, category by category, to the byte.
    let s = &slim["slim"];
    assert_eq!(s["defaults"], true);
    assert_eq!(
        s["removed_bytes"], prediction["slim_bytes"],
        "{s}\n{prediction}"
    );
    assert_eq!(s["removed_files"], prediction["slim_files"]);
    assert_eq!(s["removed_files"], 13);
    for c in [
        "tests",
        "stubs",
        "sources",
        "static-libs",
        "foreign-binaries",
    ] {
        assert_eq!(
            category(s, "categories", c),
            category(&prediction, "trim", c),
            "{c}"
        );
    }
    assert_eq!(category(s, "categories", "static-libs"), (1, 900));
    assert_eq!(category(s, "categories", "foreign-binaries"), (1, 700));
    // And it is what left the zip (RECORD files shrink too, by their removed lines).
    let records = |e: &BTreeMap<String, Vec<u8>>| -> u64 {
        e.iter()
            .filter(|(n, _)| n.ends_with("/RECORD"))
            .map(|(_, d)| d.len() as u64)
            .sum()
    };
    let full_entries = read_zip(&full_zip);
    let removed_bytes = s["removed_bytes"].as_u64().unwrap();
    assert_eq!(
        full["unzipped_bytes"].as_u64().unwrap() - records(&full_entries),
        slim["unzipped_bytes"].as_u64().unwrap() - records(&entries) + removed_bytes
    );
    imports_after_slimming(&entries);

    // A slimmed layer has nothing left to slim.
    assert_eq!(inspect(&env, &zip, &[])["slim_bytes"], 0);

    // Same inputs, same bytes.
    build(&env, &index, "again", &["--slim"]);
    let again = std::fs::read(env.work_dir().join("again/sl-py3.12-x86_64.zip")).unwrap();
    assert!(
        again == std::fs::read(&zip).unwrap(),
        "two --slim builds differ"
    );

    // The human table says what went.
    let o = run(env.cmd().args([
        "build",
        "numlike",
        "plain",
        "--index-url",
        &index.url,
        "--name",
        "sl",
        "--python",
        "3.12",
        "--out-dir",
        "slim",
        "--slim",
    ]));
    assert!(o.status.success(), "{}", describe_output(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("slim        removed 13 files"), "{text}");
    let o = run(env.cmd().arg("inspect").arg(&full_zip));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("build --slim removes 13 files"), "{text}");

    // With bytecode: slimming runs first, so nothing removed gets a .pyc.
    if pylayer::interpreter::discover(12, None, pylayer::interpreter::Purpose::BYTECODE).is_ok() {
        build(&env, &index, "bc", &["--slim", "--compile-bytecode"]);
        let entries = read_zip(&env.work_dir().join("bc/sl-py3.12-x86_64.zip"));
        assert!(
            entries
                .keys()
                .any(|k| k.starts_with("python/numlike/testing/__pycache__/utils.")),
            "{:?}",
            entries.keys()
        );
        assert!(
            !entries.keys().any(|k| k.contains("/tests/")),
            "{:?}",
            entries.keys()
        );
        assert_record_matches(&entries);
    }
}

/// The slimmed layer, unpacked, imports on a real Python 3.12, `numlike.testing` included
/// (skipped without one, failing when `CI` is set).
fn imports_after_slimming(entries: &BTreeMap<String, Vec<u8>>) {
    let python =
        match pylayer::interpreter::discover(12, None, pylayer::interpreter::Purpose::BYTECODE) {
            Ok(i) => i.python,
            Err(e) => {
                support::missing_tool(&e.0);
                return;
            }
        };
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in entries {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let root = dir.path().join("python");
    let o = run(std::process::Command::new(python).args([
        "-I",
        "-B",
        "-c",
        &format!(
            "import sys; sys.path.insert(0, {:?}); import numlike, plain; numlike.testing.assert_ok(plain.VALUE); print('ok')",
            root.display().to_string()
        ),
    ]));
    assert!(o.status.success(), "{}", describe_output(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
}

#[test]
fn slim_patterns_from_the_file_and_flags_with_bang_keeping() {
    let env = TestEnv::new();
    let index = TestIndex::start(
        &wheels(&env.work_dir().join("wheels")),
        IndexOptions::default(),
    );
    env.write(
        "pylayer.toml",
        "slim-patterns = [\"*.csv\", \"!numlike/data/table.csv\"]\n",
    );
    // Patterns alone: the default categories stay.
    let m = build(&env, &index, "p", &["--slim-pattern", "datasets/"]);
    let entries = read_zip(&env.work_dir().join("p/sl-py3.12-x86_64.zip"));
    let has = |p: &str| entries.contains_key(&format!("python/{p}"));
    assert!(has("numlike/data/table.csv"));
    assert!(!has("numlike/data/big.csv"));
    assert!(!has("numlike/tests/data/sample.csv"));
    assert!(!has("numlike/datasets/descr/iris.rst"));
    assert!(has("numlike/tests/test_core.py") && has("numlike/core.pyi"));
    assert_eq!(m["slim"]["defaults"], false);
    assert_eq!(category(&m["slim"], "categories", "patterns").0, 3);
    assert_record_matches(&entries);

    // With --slim, a flag's `!` keeps what the default policy would remove.
    let m = build(
        &env,
        &index,
        "q",
        &["--slim", "--slim-pattern", "!numlike/include/"],
    );
    let entries = read_zip(&env.work_dir().join("q/sl-py3.12-x86_64.zip"));
    let has = |p: &str| entries.contains_key(&format!("python/{p}"));
    assert!(has("numlike/include/numlike.h"));
    assert!(!has("numlike/src/core.c"));
    assert!(!has("numlike/data/big.csv"));
    assert!(has("numlike/data/table.csv"));
    assert_record_matches(&entries);
    // inspect with the same patterns predicts the same.
    let full = build(&env, &index, "r", &["--slim-pattern", "!*"]);
    assert_eq!(full["slim"]["removed_files"], 0);
    let prediction = inspect(
        &env,
        &env.work_dir().join("r/sl-py3.12-x86_64.zip"),
        &[
            "--slim-pattern",
            "*.csv",
            "--slim-pattern",
            "!numlike/data/table.csv",
            "--slim-pattern",
            "!numlike/include/",
        ],
    );
    assert_eq!(prediction["slim_bytes"], m["slim"]["removed_bytes"]);

    // A pattern that matches nothing is bad input: exit 2, naming it.
    let o = run(env.cmd().args([
        "build",
        "numlike",
        "--index-url",
        &index.url,
        "--python",
        "3.12",
        "--slim-pattern",
        "!",
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", describe_output(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`!`"),
        "{}",
        describe_output(&o)
    );
}

/// A shared library compiled here with debug information (`cc -g`); `None` (failing under
/// CI) without a C compiler.
fn compiled_library(dir: &Path, name: &str) -> Option<Vec<u8>> {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(
        &src,
        "#include <string.h>\nstatic int bias = 1;\nint add(int a, int b) { return a + b + bias; }\nint length(const char *s) { return (int)strlen(s); }\n",
    )
    .unwrap();
    let so = dir.join(format!("{name}.so"));
    match std::process::Command::new("cc")
        .args(["-g", "-O0", "-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .output()
    {
        Ok(o) => {
            assert!(
                o.status.success(),
                "cc: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            Some(std::fs::read(&so).unwrap())
        }
        Err(e) => {
            support::missing_tool(&format!("no C compiler `cc` ({e}): apt-get install gcc"));
            None
        }
    }
}

/// `lib` with its last PT_LOAD stretched to the end of the file (as an appended segment of
/// a patched library would be): its debug sections now lie inside a loaded segment.
fn debug_inside_a_segment(lib: &[u8]) -> Vec<u8> {
    let mut so = lib.to_vec();
    let le64 = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
    let phoff = le64(&so[32..40]) as usize;
    let phnum = u16::from_le_bytes([so[56], so[57]]) as usize;
    let last = (0..phnum)
        .map(|i| phoff + i * 56)
        .rfind(|h| so[*h..*h + 4] == [1, 0, 0, 0])
        .unwrap();
    let filesz = so.len() as u64 - le64(&so[last + 8..last + 16]);
    so[last + 32..last + 40].copy_from_slice(&filesz.to_le_bytes());
    so
}

fn section_names(data: &[u8]) -> Vec<String> {
    use object::{Object, ObjectSection};
    object::File::parse(data)
        .unwrap()
        .sections()
        .map(|s| s.name().unwrap().to_string())
        .collect()
}

fn program_headers(data: &[u8]) -> Vec<u8> {
    let phoff = u64::from_le_bytes(data[32..40].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes([data[56], data[57]]) as usize;
    data[phoff..phoff + phnum * 56].to_vec()
}

#[test]
fn slim_strips_debug_sections_of_shared_objects_that_still_load() {
    let env = TestEnv::new();
    let build_dir = env.work_dir().join("cc");
    std::fs::create_dir_all(&build_dir).unwrap();
    let Some(lib) = compiled_library(&build_dir, "libnative") else {
        return;
    };
    assert!(section_names(&lib).iter().any(|n| n.starts_with(".debug_")));
    let crafted = debug_inside_a_segment(&lib);
    let wheel = WheelSpec::new("native", "1.0")
        .tag("py3-none-manylinux_2_17_x86_64")
        .no_files()
        .file(
            "native/__init__.py",
            "import ctypes, os\n_lib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), 'libnative.so.1'))\n\ndef add(a, b):\n    return _lib.add(a, b)\n",
        )
        .file("native/libnative.so.1", lib.clone())
        .file("native/_patched.so", crafted.clone())
        .file("native/LICENSE", "MIT\n")
        .build(&env.work_dir().join("wheels"));
    let index = TestIndex::start(&[wheel], IndexOptions::default());
    let build = |out: &str, extra: &[&str]| {
        let o = run(env
            .cmd()
            .args([
                "build",
                "native",
                "--index-url",
                &index.url,
                "--name",
                "nat",
                "--python",
                "3.12",
                "--json",
                "--out-dir",
                out,
            ])
            .args(extra));
        assert!(o.status.success(), "{}", describe_output(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["layers"][0].clone()
    };
    build("full", &[]);
    let full_zip = env.work_dir().join("full/nat-py3.12-x86_64.zip");
    let prediction = inspect(&env, &full_zip, &[]);
    let slim = build("slim", &["--slim"]);
    let zip = env.work_dir().join("slim/nat-py3.12-x86_64.zip");
    let entries = read_zip(&zip);

    // The library lost its debug sections and nothing the loader reads.
    let stripped = &entries["python/native/libnative.so.1"];
    assert!(
        stripped.len() < lib.len(),
        "{} vs {}",
        stripped.len(),
        lib.len()
    );
    let names = section_names(stripped);
    assert!(!names.iter().any(|n| n.starts_with(".debug_")), "{names:?}");
    let kept: Vec<String> = section_names(&lib)
        .into_iter()
        .filter(|n| !n.starts_with(".debug_") && n != ".symtab" && n != ".strtab")
        .collect();
    assert_eq!(names, kept);
    assert_eq!(program_headers(stripped), program_headers(&lib));
    match std::process::Command::new("readelf")
        .arg("-SW")
        .arg({
            let p = build_dir.join("stripped.so");
            std::fs::write(&p, stripped).unwrap();
            p
        })
        .output()
    {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(o.status.success() && text.contains(".dynsym"), "{text}");
            assert!(
                !text.contains(".debug_") && !text.contains(".symtab"),
                "{text}"
            );
        }
        Err(e) => support::missing_tool(&format!("no readelf ({e}): apt-get install binutils")),
    }
    // The crafted one is left exactly as it was, and the manifest says why.
    assert_eq!(entries["python/native/_patched.so"], crafted);
    let s = &slim["slim"];
    assert_eq!(s["stripped_files"], 1, "{s}");
    let left = s["left_unstripped"].as_array().unwrap();
    assert_eq!(left.len(), 1, "{s}");
    assert_eq!(left[0]["path"], "python/native/_patched.so");
    assert!(
        left[0]["reason"]
            .as_str()
            .unwrap()
            .contains("loadable segments"),
        "{s}"
    );

    // Saved exactly what inspect predicted, and exactly what left the zip.
    let saved = (lib.len() - stripped.len()) as u64;
    assert_eq!(category(s, "categories", "debug-symbols"), (1, saved));
    assert_eq!(category(&prediction, "trim", "debug-symbols"), (1, saved));
    assert_eq!(
        s["removed_bytes"], prediction["slim_bytes"],
        "{s}\n{prediction}"
    );
    assert_record_matches(&entries);
    assert_eq!(inspect(&env, &zip, &[])["slim_bytes"], 0);

    // Same inputs, same bytes (the second build finds the stripped copy in the cache).
    build("again", &["--slim"]);
    assert!(
        std::fs::read(env.work_dir().join("again/nat-py3.12-x86_64.zip")).unwrap()
            == std::fs::read(&zip).unwrap(),
        "two --slim builds differ"
    );

    // It still loads and runs, from the unpacked layer.
    let python =
        match pylayer::interpreter::discover(12, None, pylayer::interpreter::Purpose::BYTECODE) {
            Ok(i) => i.python,
            Err(e) => {
                support::missing_tool(&e.0);
                return;
            }
        };
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in &entries {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let o = run(std::process::Command::new(python)
        .args(["-I", "-B", "-c"])
        .arg("import sys; sys.path.insert(0, sys.argv[1]); import native; print(native.add(2, 3))")
        .arg(dir.path().join("python")));
    assert!(o.status.success(), "{}", describe_output(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "6");
}
