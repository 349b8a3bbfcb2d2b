//! Tests against real CPython interpreters (pyenv's or the system's); without one they fail
//! when `CI` is set and are skipped with a message otherwise.

use super::*;
use crate::interpreter::{Purpose, discover};
use std::process::Command;

fn python(minor: u8) -> Option<Interpreter> {
    match discover(minor, None, Purpose::BYTECODE) {
        Ok(it) => Some(it),
        Err(e) => {
            crate::testutil::missing_tool(&e.0);
            None
        }
    }
}

const MODULE: &[u8] = b"\"\"\"A module.\"\"\"\nimport os\n\nNAMES = frozenset({'alpha', 'beta', 'gamma', 'delta'})\n\ndef f(x):\n    return x in {'one', 'two', 'three', 'four'}\n\nclass C:\n    def m(self):\n        return os.sep + 'ok'\n";

const PY2: &[u8] = b"print 'hello'\n";

/// Runs `code` with `interp` (`sys.argv[1:]` = `args`) and returns its stdout.
fn run(interp: &Interpreter, code: &str, args: &[&std::path::Path]) -> String {
    let out = Command::new(&interp.python)
        .args(["-I", "-B", "-c", code])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn compiles_unchecked_hash_pyc_with_the_lambda_path() {
    let Some(py) = python(12) else { return };
    let files = vec![
        ("python/pkg/mod.py".to_string(), MODULE),
        ("python/pkg/py2.py".to_string(), PY2),
    ];
    let out = compile_files(&py, &files, 2).unwrap();
    let pyc = out[0].as_ref().unwrap();
    let header = pyc::PycHeader::parse(pyc).unwrap();
    assert_eq!(header.minor(), Some(12));
    assert_eq!(header.invalidation, pyc::Invalidation::UncheckedHash);
    let err = out[1].as_ref().unwrap_err();
    assert!(err.starts_with("SyntaxError"), "{err}");

    // CPython itself loads it, and names the Lambda path.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mod.pyc");
    std::fs::write(&p, pyc).unwrap();
    let shown = run(
        &py,
        "import marshal, sys\nc = marshal.loads(open(sys.argv[1], 'rb').read()[16:])\nprint(c.co_filename)\nns = {}\nexec(c, ns)\nprint(ns['f']('two'), ns['C']().m())",
        &[&p],
    );
    assert_eq!(shown, "/opt/python/pkg/mod.py\nTrue /ok\n");

    // The same bytes py_compile writes for this path in unchecked-hash mode.
    let src = dir.path().join("mod.py");
    let theirs = dir.path().join("theirs.pyc");
    std::fs::write(&src, MODULE).unwrap();
    run(
        &py,
        "import py_compile, sys\npy_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile='/opt/python/pkg/mod.py', doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)",
        &[&src, &theirs],
    );
    assert_eq!(&std::fs::read(&theirs).unwrap(), pyc);
}

/// A file's bytes do not depend on the run, on what else is in its batch, or (on 3.9,
/// whose marshal writes sets in hash order) on the hash seed.
#[test]
fn bytes_do_not_depend_on_the_run_or_the_batch() {
    for minor in [9, 12] {
        let Some(py) = python(minor) else { return };
        let alone = compile_files(&py, &[("python/m.py".into(), MODULE)], 1).unwrap();
        let mut many: Vec<(String, &[u8])> = (0..40)
            .map(|i| (format!("python/o{i}.py"), MODULE))
            .collect();
        many.push(("python/m.py".into(), MODULE));
        let batch = compile_files(&py, &many, 1).unwrap();
        let again = compile_files(&py, &[("python/m.py".into(), MODULE)], 1).unwrap();
        let a = alone[0].as_ref().unwrap();
        // (Not assert_eq: a thousand bytes printed twice say less than this.)
        assert!(
            batch.last().unwrap().as_ref().unwrap() == a,
            "3.{minor}: compiling in a batch changed the bytes"
        );
        assert!(
            again[0].as_ref().unwrap() == a,
            "3.{minor}: a second run changed the bytes"
        );
        // A different path is a different co_filename.
        assert!(batch[0].as_ref().unwrap() != a);
    }
}

#[test]
fn wheels_compile_once_then_come_from_the_cache() {
    let Some(py) = python(12) else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = CacheDir::resolve(Some(dir.path()));
    let mut wheel = WheelSources {
        wheel_sha256: "ab".repeat(32),
        label: "demo 1.0".into(),
        layout: "python".into(),
        py_paths: vec![
            "python/demo/__init__.py".into(),
            "python/demo/old.py".into(),
        ],
    };
    let mut loads = 0;
    let first = compile_wheels(&py, &cache, std::slice::from_ref(&wheel), 2, |w| {
        loads += 1;
        assert_eq!(w.py_paths.len(), 2);
        Ok(vec![MODULE.to_vec(), PY2.to_vec()])
    })
    .unwrap();
    assert_eq!(loads, 1);
    assert!(!first[0].from_cache);
    assert_eq!(first[0].pyc.len(), 1);
    assert_eq!(
        first[0].pyc[0].path,
        "python/demo/__pycache__/__init__.cpython-312.pyc"
    );
    assert_eq!(first[0].skipped.len(), 1);
    assert_eq!(first[0].skipped[0].source, "python/demo/old.py");
    let notes = skipped_notes(std::slice::from_ref(&wheel), &first);
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("python/demo/old.py"), "{}", notes[0]);
    assert!(first[0].archive.starts_with(dir.path()));

    // Warm: nothing is read or compiled.
    let second = compile_wheels(&py, &cache, std::slice::from_ref(&wheel), 2, |_| {
        anyhow::bail!("a cached wheel's sources must not be read")
    })
    .unwrap();
    assert!(second[0].from_cache);
    assert_eq!(second[0].pyc, first[0].pyc);
    assert_eq!(second[0].skipped, first[0].skipped);

    // A subset is served from the cache too; a source the cache lacks compiles again.
    wheel.py_paths.truncate(1);
    let subset = compile_wheels(&py, &cache, std::slice::from_ref(&wheel), 2, |_| {
        anyhow::bail!("a cached wheel's sources must not be read")
    })
    .unwrap();
    assert!(subset[0].from_cache && subset[0].skipped.is_empty());
    wheel.py_paths.push("python/demo/new.py".into());
    let grown = compile_wheels(&py, &cache, std::slice::from_ref(&wheel), 2, |_| {
        Ok(vec![MODULE.to_vec(), MODULE.to_vec()])
    })
    .unwrap();
    assert!(!grown[0].from_cache);
    assert_eq!(grown[0].pyc.len(), 2);
}
