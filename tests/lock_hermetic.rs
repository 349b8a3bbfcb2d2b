//! Hermetic tests of `pylayer lock`: every test builds its own wheels, serves them from its own
//! index on 127.0.0.1 and checks the exact pins written to `pylayer.lock`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// One `[[target.package]]` of a lock.
#[derive(Debug, Clone, PartialEq)]
struct Pin {
    version: String,
    filename: String,
    url: String,
    sha256: String,
    size: u64,
    dependencies: Vec<String>,
}

/// `pylayer lock <args> --index-url <index>` in the environment's work directory.
fn lock(env: &TestEnv, index: &TestIndex, args: &[&str]) -> Output {
    let mut cmd = env.cmd();
    cmd.arg("lock")
        .args(args)
        .arg("--index-url")
        .arg(&index.url);
    run(&mut cmd)
}

/// `pylayer <args>` with nothing added.
fn pylayer_raw(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = env.cmd();
    cmd.args(args);
    run(&mut cmd)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "pylayer lock failed\n{}",
        describe_output(out)
    );
}

/// Exit code 1, a message on stderr, and no panic.
#[track_caller]
fn assert_fails(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit code 1\n{}",
        describe_output(out)
    );
    let err = stderr(out);
    // Shown with --nocapture, to review the wording of error messages.
    eprintln!("--- pylayer stderr ---\n{err}");
    assert!(!err.trim().is_empty(), "no message on stderr");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "pylayer panicked:\n{err}"
    );
    err
}

#[track_caller]
fn assert_mentions(text: &str, words: &[&str]) {
    for w in words {
        assert!(
            text.to_lowercase().contains(&w.to_lowercase()),
            "expected {w:?} in:\n{text}"
        );
    }
}

fn read_lock(path: &Path) -> toml::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read lock {}: {e}", path.display()));
    let v: toml::Value =
        toml::from_str(&text).unwrap_or_else(|e| panic!("lock is not TOML: {e}\n{text}"));
    assert_eq!(v["version"].as_integer(), Some(1), "{text}");
    assert!(
        v["inputs_digest"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty()),
        "inputs_digest missing:\n{text}"
    );
    v
}

fn targets(lock: &toml::Value) -> Vec<(String, String)> {
    lock.get("target")
        .and_then(|t| t.as_array())
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    (
                        t["python"].as_str().unwrap().to_string(),
                        t["arch"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The pins of one target, by normalized name.
#[track_caller]
fn pins(lock: &toml::Value, python: &str, arch: &str) -> BTreeMap<String, Pin> {
    let ts = lock
        .get("target")
        .and_then(|t| t.as_array())
        .unwrap_or_else(|| panic!("no [[target]] in lock: {lock}"));
    let matching: Vec<_> = ts
        .iter()
        .filter(|t| t["python"].as_str() == Some(python) && t["arch"].as_str() == Some(arch))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "expected exactly one target {python}/{arch} in {:?}",
        targets(lock)
    );
    let mut out = BTreeMap::new();
    for p in matching[0]
        .get("package")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default()
    {
        let s = |k: &str| {
            p.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| panic!("package field {k} missing: {p}"))
                .to_string()
        };
        let pin = Pin {
            version: s("version"),
            filename: s("filename"),
            url: s("url"),
            sha256: s("sha256"),
            size: p
                .get("size")
                .and_then(|v| v.as_integer())
                .unwrap_or_else(|| panic!("size missing: {p}")) as u64,
            dependencies: p
                .get("dependencies")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().map(|d| d.as_str().unwrap().to_string()).collect())
                .unwrap_or_default(),
        };
        assert!(
            out.insert(s("name"), pin).is_none(),
            "package listed twice in {python}/{arch}"
        );
    }
    out
}

/// `name -> version` for one target.
#[track_caller]
fn versions(lock: &toml::Value, python: &str, arch: &str) -> BTreeMap<String, String> {
    pins(lock, python, arch)
        .into_iter()
        .map(|(n, p)| (n, p.version))
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Every pin points at a file that exists in `dir`, served by `index`, with its real hash and size.
#[track_caller]
fn assert_pins_are_real(lock: &toml::Value, index: &TestIndex, dir: &Path) {
    for (python, arch) in targets(lock) {
        for (name, pin) in pins(lock, &python, &arch) {
            let file = dir.join(&pin.filename);
            assert!(
                file.exists(),
                "{name}: locked file {} was never published",
                pin.filename
            );
            assert_eq!(pin.url, index.file_url(&pin.filename), "{name} url");
            assert_eq!(pin.sha256, sha256_file(&file), "{name} sha256");
            assert_eq!(
                pin.size,
                std::fs::metadata(&file).unwrap().len(),
                "{name} size"
            );
        }
    }
}

fn publish(dir: &Path, specs: Vec<WheelSpec>) -> Vec<PathBuf> {
    specs.iter().map(|s| build_wheel(dir, s)).collect()
}

/// Bytes that deflate cannot shrink, so a wheel is big enough for partial reads to matter.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

const PY312_X86: [&str; 4] = ["--python", "3.12", "--arch", "x86_64"];

fn args<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}

// ---------------------------------------------------------------------------------------------
// Resolution behaviour
// ---------------------------------------------------------------------------------------------

#[test]
fn extras_pull_their_dependencies_only_when_requested() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0")
                .extra("fast")
                .extra("other")
                .requires("Some_Dep>=1; extra == 'fast'")
                .requires("unwanted; extra == 'other'"),
            WheelSpec::new("Some_Dep", "1.0"),
            WheelSpec::new("unwanted", "1.0"),
        ],
    );
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();

    let out = lock(&env, &index, &args(&["foo[fast]"], &PY312_X86));
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(targets(&l), [("3.12".to_string(), "x86_64".to_string())]);
    let p = pins(&l, "3.12", "x86_64");
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("foo", "1.0"), ("some-dep", "1.0")])
    );
    assert_eq!(p["foo"].dependencies, ["some-dep"]);
    assert_eq!(p["foo"].filename, "foo-1.0-py3-none-any.whl");
    assert!(p["some-dep"].dependencies.is_empty());
    assert_pins_are_real(&l, &index, dir.path());

    let out = lock(
        &env,
        &index,
        &args(&["foo", "--lock", "plain.lock"], &PY312_X86),
    );
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("plain.lock"));
    assert_eq!(versions(&l, "3.12", "x86_64"), map(&[("foo", "1.0")]));
    assert!(pins(&l, "3.12", "x86_64")["foo"].dependencies.is_empty());
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn markers_are_evaluated_per_target() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0")
                .requires("winonly; sys_platform == \"win32\"")
                .requires("armdep; platform_machine == \"aarch64\"")
                .requires("oldpy; python_version < \"3.12\""),
            WheelSpec::new("winonly", "1.0"),
            WheelSpec::new("armdep", "1.0"),
            WheelSpec::new("oldpy", "1.0"),
        ],
    );
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(
        &env,
        &index,
        &[
            "foo", "--python", "3.11", "--python", "3.12", "--arch", "x86_64", "--arch", "arm64",
        ],
    );
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(targets(&l).len(), 4, "{:?}", targets(&l));
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("foo", "1.0")]),
        "winonly and armdep must not be locked for x86_64"
    );
    assert_eq!(
        versions(&l, "3.12", "arm64"),
        map(&[("armdep", "1.0"), ("foo", "1.0")])
    );
    assert_eq!(
        versions(&l, "3.11", "x86_64"),
        map(&[("foo", "1.0"), ("oldpy", "1.0")])
    );
    assert_eq!(
        versions(&l, "3.11", "arm64"),
        map(&[("armdep", "1.0"), ("foo", "1.0"), ("oldpy", "1.0")])
    );
    assert_eq!(
        pins(&l, "3.12", "x86_64")["foo"].dependencies,
        Vec::<String>::new()
    );
    assert_eq!(pins(&l, "3.12", "arm64")["foo"].dependencies, ["armdep"]);
    assert_pins_are_real(&l, &index, dir.path());
}

#[test]
fn requires_python_picks_an_older_release() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires_python(">=3.8"),
            WheelSpec::new("foo", "2.0").requires_python(">=3.13"),
        ],
    );
    // Once with Requires-Python advertised by the index, once only inside the metadata.
    for attr in [true, false] {
        let index = TestIndex::start(
            &all_files(dir.path()),
            IndexOptions {
                requires_python_attr: attr,
                ..IndexOptions::default()
            },
        );
        let env = TestEnv::new();
        let out = lock(
            &env,
            &index,
            &[
                "foo", "--python", "3.12", "--python", "3.13", "--arch", "x86_64",
            ],
        );
        assert_ok(&out);
        let l = read_lock(&env.work_dir().join("pylayer.lock"));
        assert_eq!(
            versions(&l, "3.12", "x86_64"),
            map(&[("foo", "1.0")]),
            "requires_python_attr = {attr}"
        );
        assert_eq!(
            versions(&l, "3.13", "x86_64"),
            map(&[("foo", "2.0")]),
            "requires_python_attr = {attr}"
        );
    }
}

#[test]
fn best_wheel_tag_is_chosen_per_target() {
    let dir = tempfile::tempdir().unwrap();
    let mut specs = vec![WheelSpec::new("fast", "1.0")];
    for cp in ["cp311", "cp312"] {
        for plat in [
            "manylinux_2_17_x86_64.manylinux2014_x86_64",
            "manylinux_2_28_x86_64",
            "musllinux_1_1_x86_64",
            "macosx_11_0_x86_64",
            "win_amd64",
        ] {
            specs.push(WheelSpec::new("fast", "1.0").tag(&format!("{cp}-{cp}-{plat}")));
        }
    }
    publish(dir.path(), specs);
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(
        &env,
        &index,
        &[
            "fast", "--python", "3.11", "--python", "3.12", "--arch", "x86_64", "--arch", "arm64",
        ],
    );
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    let file = |py: &str, arch: &str| pins(&l, py, arch)["fast"].filename.clone();
    assert_eq!(
        file("3.12", "x86_64"),
        "fast-1.0-cp312-cp312-manylinux_2_28_x86_64.whl"
    );
    // python3.11 runs on Amazon Linux 2 (glibc 2.26): manylinux_2_28 cannot load there.
    assert_eq!(
        file("3.11", "x86_64"),
        "fast-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    );
    // No aarch64 build: the pure wheel.
    assert_eq!(file("3.12", "arm64"), "fast-1.0-py3-none-any.whl");
    assert_eq!(file("3.11", "arm64"), "fast-1.0-py3-none-any.whl");
    assert_pins_are_real(&l, &index, dir.path());
}

#[test]
fn wheel_for_another_python_only_cannot_install() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![WheelSpec::new("only311", "1.0").tag("cp311-cp311-manylinux_2_17_x86_64")],
    );
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["only311"], &PY312_X86));
    let err = assert_fails(&out);
    assert_mentions(&err, &["only311", "cp312"]);
    assert!(!env.work_dir().join("pylayer.lock").exists());

    // The same package locks fine for the Python it was built for.
    let out = lock(
        &env,
        &index,
        &["only311", "--python", "3.11", "--arch", "x86_64"],
    );
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(
        pins(&l, "3.11", "x86_64")["only311"].filename,
        "only311-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    );
}

#[test]
fn yanked_release_is_skipped_unless_pinned() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![WheelSpec::new("foo", "1.0"), WheelSpec::new("foo", "1.1")],
    );
    for json in [true, false] {
        let index = TestIndex::start(
            &all_files(dir.path()),
            IndexOptions {
                json,
                yanked: vec![(
                    "foo-1.1-py3-none-any.whl".into(),
                    Some("broken release".into()),
                )],
                ..IndexOptions::default()
            },
        );
        let env = TestEnv::new();
        let out = lock(&env, &index, &args(&["foo"], &PY312_X86));
        assert_ok(&out);
        let l = read_lock(&env.work_dir().join("pylayer.lock"));
        assert_eq!(
            versions(&l, "3.12", "x86_64"),
            map(&[("foo", "1.0")]),
            "json = {json}"
        );

        let out = lock(
            &env,
            &index,
            &args(&["foo==1.1", "--lock", "pinned.lock"], &PY312_X86),
        );
        assert_ok(&out);
        let l = read_lock(&env.work_dir().join("pinned.lock"));
        assert_eq!(
            versions(&l, "3.12", "x86_64"),
            map(&[("foo", "1.1")]),
            "json = {json}"
        );
    }
}

#[test]
fn pre_releases_follow_pep440_rules() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![
            WheelSpec::new("stable", "1.0"),
            WheelSpec::new("stable", "2.0b1"),
            WheelSpec::new("onlypre", "1.0a1"),
            WheelSpec::new("onlypre", "1.0a2"),
        ],
    );
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let case = |reqs: &[&str], extra: &[&str], lock_name: &str| {
        let mut a: Vec<&str> = reqs.to_vec();
        a.extend(extra);
        a.extend(["--lock", lock_name]);
        a.extend(PY312_X86);
        let out = lock(&env, &index, &a);
        assert_ok(&out);
        versions(
            &read_lock(&env.work_dir().join(lock_name)),
            "3.12",
            "x86_64",
        )
    };
    assert_eq!(
        case(&["stable"], &[], "a.lock"),
        map(&[("stable", "1.0")]),
        "a pre-release is not chosen by default"
    );
    assert_eq!(
        case(&["stable"], &["--pre"], "b.lock"),
        map(&[("stable", "2.0b1")]),
        "--pre allows pre-releases"
    );
    assert_eq!(
        case(&["stable>=2.0b1"], &[], "c.lock"),
        map(&[("stable", "2.0b1")]),
        "a specifier naming a pre-release allows it"
    );
    assert_eq!(
        case(&["onlypre"], &[], "d.lock"),
        map(&[("onlypre", "1.0a2")]),
        "a package with only pre-releases gets its newest"
    );
}

#[test]
fn backtracking_finds_a_consistent_set() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![
            WheelSpec::new("a", "1.0"),
            WheelSpec::new("a", "2.0").requires("c<2"),
            WheelSpec::new("b", "2.0").requires("c>=2"),
            WheelSpec::new("c", "1.0"),
            WheelSpec::new("c", "2.0"),
        ],
    );
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["a", "b"], &PY312_X86));
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("a", "1.0"), ("b", "2.0"), ("c", "2.0")])
    );
    let p = pins(&l, "3.12", "x86_64");
    assert!(p["a"].dependencies.is_empty());
    assert_eq!(p["b"].dependencies, ["c"]);
    assert_pins_are_real(&l, &index, dir.path());
}

#[test]
fn unsatisfiable_requirements_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![
            WheelSpec::new("alpha", "1.0").requires("gamma<2"),
            WheelSpec::new("beta", "1.0").requires("gamma>=2"),
            WheelSpec::new("gamma", "1.0"),
            WheelSpec::new("gamma", "2.0"),
        ],
    );
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["alpha", "beta"], &PY312_X86));
    let err = assert_fails(&out);
    assert_mentions(&err, &["alpha", "beta", "gamma"]);
    // The conflicting version ranges, however they are spaced.
    assert_mentions(&err.replace(' ', ""), &["<2", ">=2"]);
    assert!(
        !env.work_dir().join("pylayer.lock").exists(),
        "no lock may be written when resolution fails"
    );

    // A pin that does not exist at all.
    let out = lock(&env, &index, &args(&["gamma==3.0"], &PY312_X86));
    let err = assert_fails(&out);
    assert_mentions(&err, &["gamma", "3.0"]);
    assert!(!env.work_dir().join("pylayer.lock").exists());
}

#[test]
fn sdist_only_package_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    build_sdist(dir.path(), "native", "1.0");
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["native"], &PY312_X86));
    let err = assert_fails(&out);
    // Building is allowed by default, and the index offers no setuptools to build with.
    assert_mentions(
        &err,
        &[
            "native 1.0",
            "cannot be built",
            "setuptools",
            "--find-links",
        ],
    );
    assert!(!env.work_dir().join("pylayer.lock").exists());
}

#[test]
fn hash_mismatch_in_requirements_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), vec![WheelSpec::new("foo", "1.0")]);
    let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let wrong = sha256_hex(b"something else entirely");
    env.write(
        "requirements.txt",
        &format!("foo==1.0 --hash=sha256:{wrong}\n"),
    );
    let out = lock(&env, &index, &args(&["-r", "requirements.txt"], &PY312_X86));
    let err = assert_fails(&out);
    assert_mentions(&err, &["foo", "requirements.txt"]);
    assert!(!env.work_dir().join("pylayer.lock").exists());

    // The right hash is accepted.
    let right = sha256_file(&dir.path().join("foo-1.0-py3-none-any.whl"));
    env.write(
        "requirements.txt",
        &format!("foo==1.0 \\\n    --hash=sha256:{right}\n"),
    );
    let out = lock(&env, &index, &args(&["-r", "requirements.txt"], &PY312_X86));
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(pins(&l, "3.12", "x86_64")["foo"].sha256, right);
}

#[test]
fn index_hash_that_disagrees_with_the_wheel_fails() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let fname = "foo-1.0-py3-none-any.whl";
    // No metadata files and no range requests: the metadata comes from the whole wheel, whose
    // bytes do not match the sha256 the index advertises.
    let index = TestIndex::start(
        &all_files(dir.path()),
        IndexOptions {
            json: true,
            metadata_files: false,
            range_requests: false,
            wrong_hash: vec![fname.into()],
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["foo"], &PY312_X86));
    let err = assert_fails(&out);
    assert_mentions(&err, &[fname]);
    assert!(!env.work_dir().join("pylayer.lock").exists());
}

#[test]
fn malformed_metadata_names_the_wheel() {
    let variants = [
        (
            "invalid Requires-Dist",
            "Metadata-Version: 2.1\nName: broken\nVersion: 1.0\nRequires-Dist: bar >=< 1 ;;; extra ==\n\n",
        ),
        (
            "no Name or Version",
            "this is not metadata\n\x00\x01\x02 binary junk\n",
        ),
    ];
    for (what, raw) in variants {
        let dir = tempfile::tempdir().unwrap();
        publish(
            dir.path(),
            vec![
                WheelSpec::new("broken", "1.0").metadata(raw),
                WheelSpec::new("bar", "1.0"),
            ],
        );
        let index = TestIndex::start(&all_files(dir.path()), IndexOptions::default());
        let env = TestEnv::new();
        let out = lock(&env, &index, &args(&["broken"], &PY312_X86));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}\n{}",
            describe_output(&out)
        );
        let err = assert_fails(&out);
        assert_mentions(&err, &["broken-1.0-py3-none-any.whl"]);
        assert!(!env.work_dir().join("pylayer.lock").exists(), "{what}");
    }
}

#[test]
fn flaky_index_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let index = TestIndex::start(
        &all_files(dir.path()),
        IndexOptions {
            fail_first: 2,
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["foo"], &PY312_X86));
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("bar", "1.0"), ("foo", "1.0")])
    );
    assert_pins_are_real(&l, &index, dir.path());
}

#[test]
fn first_index_wins_unless_best_match_is_asked_for() {
    let first_dir = tempfile::tempdir().unwrap();
    let extra_dir = tempfile::tempdir().unwrap();
    publish(first_dir.path(), vec![WheelSpec::new("internal", "1.0")]);
    publish(
        extra_dir.path(),
        vec![
            WheelSpec::new("internal", "99.0"),
            WheelSpec::new("public", "1.0"),
        ],
    );
    let first = TestIndex::start(&all_files(first_dir.path()), IndexOptions::default());
    let extra = TestIndex::start(&all_files(extra_dir.path()), IndexOptions::default());
    let env = TestEnv::new();
    let run_lock = |more: &[&str], lock_name: &str| {
        let mut cmd = env.cmd();
        cmd.arg("lock")
            .args(["internal", "public", "--lock", lock_name])
            .args(PY312_X86)
            .args(["--index-url", &first.url, "--extra-index-url", &extra.url])
            .args(more);
        let out = run(&mut cmd);
        assert_ok(&out);
        read_lock(&env.work_dir().join(lock_name))
    };
    let l = run_lock(&[], "first.lock");
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("internal", "1.0"), ("public", "1.0")]),
        "a package found on the first index must come from there only"
    );
    let p = pins(&l, "3.12", "x86_64");
    assert_eq!(
        p["internal"].url,
        first.file_url("internal-1.0-py3-none-any.whl")
    );
    assert_eq!(
        p["public"].url,
        extra.file_url("public-1.0-py3-none-any.whl")
    );

    let l = run_lock(&["--index-strategy", "first-index"], "explicit.lock");
    assert_eq!(versions(&l, "3.12", "x86_64")["internal"], "1.0");

    let l = run_lock(&["--index-strategy", "unsafe-best-match"], "best.lock");
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("internal", "99.0"), ("public", "1.0")])
    );
    assert_eq!(
        pins(&l, "3.12", "x86_64")["internal"].url,
        extra.file_url("internal-99.0-py3-none-any.whl")
    );
}

// ---------------------------------------------------------------------------------------------
// How metadata is obtained
// ---------------------------------------------------------------------------------------------

#[test]
fn html_index_metadata_comes_from_range_requests() {
    let dir = tempfile::tempdir().unwrap();
    // Big, incompressible payloads so that reading only the zip's tail matters.
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0")
                .requires("bar>=1")
                .file("foo/data.bin", noise(400_000, 1)),
            WheelSpec::new("bar", "1.0").file("bar/data.bin", noise(400_000, 2)),
        ],
    );
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            json: false,
            metadata_files: false,
            range_requests: true,
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["foo"], &PY312_X86));
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("bar", "1.0"), ("foo", "1.0")])
    );
    assert_pins_are_real(&l, &index, dir.path());
    let log = index.requests();
    for f in ["foo-1.0-py3-none-any.whl", "bar-1.0-py3-none-any.whl"] {
        assert!(
            index.range_downloads(f) >= 1,
            "no Range request for {f}: {log:#?}"
        );
        assert_eq!(
            index.full_downloads(f),
            0,
            "{f} was downloaded whole: {log:#?}"
        );
    }
}

/// A mirror whose pages do not advertise metadata files although its file host serves them:
/// the `.metadata` file is used instead of range requests into the wheel, and the lock is
/// the same as from range requests (same pins, same metadata hashes).
#[test]
fn unadvertised_metadata_files_are_used_when_the_host_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar>=1"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let mut locks = Vec::new();
    for unadvertised in [true, false] {
        let index = TestIndex::start(
            &wheels,
            IndexOptions {
                metadata_files: false,
                unadvertised_metadata_files: unadvertised,
                ..IndexOptions::default()
            },
        );
        let env = TestEnv::new();
        let out = lock(&env, &index, &args(&["foo"], &PY312_X86));
        assert_ok(&out);
        let l = read_lock(&env.work_dir().join("pylayer.lock"));
        assert_eq!(
            versions(&l, "3.12", "x86_64"),
            map(&[("bar", "1.0"), ("foo", "1.0")])
        );
        assert_pins_are_real(&l, &index, dir.path());
        let log = index.requests();
        for f in ["foo-1.0-py3-none-any.whl", "bar-1.0-py3-none-any.whl"] {
            assert_eq!(index.full_downloads(f), 0, "{f} downloaded whole: {log:#?}");
            if unadvertised {
                assert_eq!(index.metadata_downloads(f), 1, "{f}: {log:#?}");
                assert_eq!(index.range_downloads(f), 0, "{f}: {log:#?}");
            } else {
                assert!(index.range_downloads(f) >= 1, "{f}: {log:#?}");
            }
        }
        let text = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
        locks.push(
            text.lines()
                // The index URL differs, in file URLs and in the inputs' digest.
                .filter(|l| !l.contains(&index.base) && !l.starts_with("inputs_digest"))
                .map(str::to_string)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(locks[0], locks[1], "the two routes give the same lock");
}

/// An unadvertised `.metadata` URL that answers with something else (here the METADATA of
/// another project) is not trusted: the wheel's own METADATA is read by range requests.
#[test]
fn an_unadvertised_metadata_file_of_another_wheel_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar>=1"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            metadata_files: false,
            unadvertised_metadata_files: true,
            metadata_override: vec![(
                "foo-1.0-py3-none-any.whl".to_string(),
                b"Metadata-Version: 2.1\nName: evil\nVersion: 9.9\nRequires-Dist: nothing-real\n"
                    .to_vec(),
            )],
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["foo"], &PY312_X86));
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("bar", "1.0"), ("foo", "1.0")])
    );
    let log = index.requests();
    assert!(
        index.range_downloads("foo-1.0-py3-none-any.whl") >= 1,
        "foo's METADATA was not read from the wheel: {log:#?}"
    );
}

#[test]
fn pep658_metadata_files_are_used() {
    for json in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let wheels = publish(
            dir.path(),
            vec![
                WheelSpec::new("foo", "1.0").requires("bar>=1"),
                WheelSpec::new("bar", "1.0"),
            ],
        );
        let index = TestIndex::start(
            &wheels,
            IndexOptions {
                json,
                metadata_files: true,
                ..IndexOptions::default()
            },
        );
        let env = TestEnv::new();
        let out = lock(&env, &index, &args(&["foo"], &PY312_X86));
        assert_ok(&out);
        let l = read_lock(&env.work_dir().join("pylayer.lock"));
        assert_eq!(
            versions(&l, "3.12", "x86_64"),
            map(&[("bar", "1.0"), ("foo", "1.0")]),
            "json = {json}"
        );
        assert_pins_are_real(&l, &index, dir.path());
        let log = index.requests();
        for f in ["foo-1.0-py3-none-any.whl", "bar-1.0-py3-none-any.whl"] {
            assert!(
                index.metadata_downloads(f) >= 1,
                "json = {json}: {f}.metadata not fetched: {log:#?}"
            );
            assert_eq!(
                index.full_downloads(f) + index.range_downloads(f),
                0,
                "json = {json}: {f} itself was downloaded: {log:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The lock file's life cycle
// ---------------------------------------------------------------------------------------------

#[test]
fn lock_is_stable_and_only_upgraded_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let env = TestEnv::new();
    let lock_path = env.work_dir().join("pylayer.lock");
    let base = args(&["foo"], &PY312_X86);

    assert_ok(&lock(&env, &index, &base));
    let first = std::fs::read(&lock_path).unwrap();
    assert_ok(&lock(&env, &index, &base));
    let second = std::fs::read(&lock_path).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "locking twice must give byte-identical files"
    );

    // Newer releases appear; the existing lock still satisfies the inputs: left alone.
    index.add_wheel(
        WheelSpec::new("foo", "2.0")
            .requires("bar")
            .build(dir.path()),
    );
    index.add_wheel(WheelSpec::new("bar", "2.0").build(dir.path()));
    let mtime = std::fs::metadata(&lock_path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_ok(&lock(&env, &index, &base));
    assert_eq!(
        std::fs::read(&lock_path).unwrap(),
        second,
        "lock was changed"
    );
    assert_eq!(
        std::fs::metadata(&lock_path).unwrap().modified().unwrap(),
        mtime,
        "a satisfying lock must not be rewritten"
    );
    assert_eq!(
        versions(&read_lock(&lock_path), "3.12", "x86_64"),
        map(&[("bar", "1.0"), ("foo", "1.0")])
    );

    // --upgrade-package foo: foo only.
    assert_ok(&lock(
        &env,
        &index,
        &args(&["foo", "--upgrade-package", "foo"], &PY312_X86),
    ));
    assert_eq!(
        versions(&read_lock(&lock_path), "3.12", "x86_64"),
        map(&[("bar", "1.0"), ("foo", "2.0")])
    );

    // --upgrade: everything.
    assert_ok(&lock(
        &env,
        &index,
        &args(&["foo", "--upgrade"], &PY312_X86),
    ));
    let l = read_lock(&lock_path);
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("bar", "2.0"), ("foo", "2.0")])
    );
    assert_pins_are_real(&l, &index, dir.path());
}

#[test]
fn changed_requirements_relock_keeping_other_pins() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![WheelSpec::new("foo", "1.0"), WheelSpec::new("bar", "1.0")],
    );
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let env = TestEnv::new();
    let lock_path = env.work_dir().join("pylayer.lock");
    assert_ok(&lock(&env, &index, &args(&["foo"], &PY312_X86)));
    index.add_wheel(WheelSpec::new("foo", "2.0").build(dir.path()));
    // Adding a requirement re-resolves, but does not upgrade what was already pinned.
    assert_ok(&lock(&env, &index, &args(&["foo", "bar"], &PY312_X86)));
    assert_eq!(
        versions(&read_lock(&lock_path), "3.12", "x86_64"),
        map(&[("bar", "1.0"), ("foo", "1.0")])
    );
}

#[test]
fn two_pythons_two_arches_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(
        &env,
        &index,
        &[
            "foo", "--python", "3.11", "--python", "3.12", "--arch", "x86_64", "--arch", "arm64",
        ],
    );
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    let mut ts = targets(&l);
    ts.sort();
    assert_eq!(
        ts,
        [
            ("3.11".to_string(), "arm64".to_string()),
            ("3.11".to_string(), "x86_64".to_string()),
            ("3.12".to_string(), "arm64".to_string()),
            ("3.12".to_string(), "x86_64".to_string()),
        ]
    );
    for (py, arch) in &ts {
        assert_eq!(
            versions(&l, py, arch),
            map(&[("bar", "1.0"), ("foo", "1.0")]),
            "{py}/{arch}"
        );
    }
    assert_pins_are_real(&l, &index, dir.path());
}

#[test]
fn offline_works_from_cache_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let url = index.url.clone();
    let env = TestEnv::new();
    assert_ok(&lock(&env, &index, &args(&["foo"], &PY312_X86)));
    let online = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
    // The index goes away: --offline must not need it.
    drop(index);

    let mut cmd = env.cmd();
    cmd.arg("lock")
        .args([
            "foo",
            "--offline",
            "--lock",
            "offline.lock",
            "--index-url",
            &url,
        ])
        .args(PY312_X86);
    let out = run(&mut cmd);
    assert_ok(&out);
    let offline = std::fs::read_to_string(env.work_dir().join("offline.lock")).unwrap();
    let (a, b): (toml::Value, toml::Value) = (
        toml::from_str(&online).unwrap(),
        toml::from_str(&offline).unwrap(),
    );
    assert_eq!(
        a["target"], b["target"],
        "offline pins differ from online pins"
    );

    // An empty cache: nothing to work from, and the message says what is missing.
    let empty = TestEnv::new();
    let mut cmd = empty.cmd();
    cmd.arg("lock")
        .args(["foo", "--offline", "--index-url", &url])
        .args(PY312_X86);
    let out = run(&mut cmd);
    let err = assert_fails(&out);
    assert_mentions(&err, &["foo"]);
    assert!(!empty.work_dir().join("pylayer.lock").exists());
}

/// Every file under `dir`, recursively, relative to it.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_cold_lock_keeps_one_cache_file_per_page_and_per_metadata_file() {
    // Creating files is most of a cold lock's system time: one file per answer, and every
    // write done (not dropped) by the time the process has exited.
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    for options in [
        IndexOptions::default(),
        IndexOptions {
            metadata_files: false,
            ..IndexOptions::default()
        },
    ] {
        let index = TestIndex::start(&wheels, options);
        let env = TestEnv::new();
        assert_ok(&lock(
            &env,
            &index,
            &args(&["foo", "--dry-run"], &PY312_X86),
        ));
        let files = files_under(env.cache_dir());
        let pages = files.iter().filter(|f| f.starts_with("http-v2")).count();
        let metadata = files
            .iter()
            .filter(|f| f.starts_with("metadata-v3"))
            .count();
        assert_eq!(
            (pages, metadata, files.len()),
            (2, 2, 4),
            "two pages and two METADATA files, nothing else: {files:?}"
        );
    }
}

#[test]
fn sizes_read_by_ranges_are_not_asked_for_again_when_pinning() {
    // An HTML-only index without metadata files: pages give no sizes, so the size of each
    // wheel comes from the range reads of its METADATA, and pinning uses it rather than
    // asking the server again (HEAD) or downloading the wheel.
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            json: false,
            metadata_files: false,
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    assert_ok(&lock(&env, &index, &args(&["foo"], &PY312_X86)));
    let requests = index.requests();
    assert!(
        requests.iter().all(|r| !r.starts_with("HEAD ")),
        "{requests:?}"
    );
    for w in ["foo-1.0-py3-none-any.whl", "bar-1.0-py3-none-any.whl"] {
        assert!(index.range_downloads(w) > 0, "{requests:?}");
        assert_eq!(index.full_downloads(w), 0, "{requests:?}");
    }
}

#[test]
fn constraints_limit_transitive_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
            WheelSpec::new("bar", "2.0"),
            WheelSpec::new("unrelated", "1.0"),
        ],
    );
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let env = TestEnv::new();
    env.write("constraints.txt", "bar<2\nunrelated==1.0\n");
    let out = lock(
        &env,
        &index,
        &args(&["foo", "-c", "constraints.txt"], &PY312_X86),
    );
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("bar", "1.0"), ("foo", "1.0")]),
        "constraints limit versions but never add packages"
    );

    // Without the constraint the newest bar is chosen.
    let out = lock(
        &env,
        &index,
        &args(&["foo", "--lock", "free.lock"], &PY312_X86),
    );
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("free.lock"));
    assert_eq!(versions(&l, "3.12", "x86_64")["bar"], "2.0");
}

#[test]
fn requirements_files_and_arguments_combine() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0"),
            WheelSpec::new("foo", "2.0"),
            WheelSpec::new("bar", "1.0"),
            WheelSpec::new("baz", "1.0"),
        ],
    );
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let env = TestEnv::new();
    env.write(
        "requirements.txt",
        "# comment\nfoo<2  # inline comment\n\n-r more.txt\n",
    );
    env.write("more.txt", "bar\n");
    let out = lock(
        &env,
        &index,
        &args(&["-r", "requirements.txt", "baz"], &PY312_X86),
    );
    assert_ok(&out);
    let l = read_lock(&env.work_dir().join("pylayer.lock"));
    assert_eq!(
        versions(&l, "3.12", "x86_64"),
        map(&[("bar", "1.0"), ("baz", "1.0"), ("foo", "1.0")])
    );
}

#[test]
fn dry_run_prints_pins_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(
        dir.path(),
        vec![
            WheelSpec::new("foo", "1.0").requires("bar"),
            WheelSpec::new("bar", "1.0"),
        ],
    );
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["foo", "--dry-run"], &PY312_X86));
    assert_ok(&out);
    let text = stdout(&out);
    assert_mentions(
        &text,
        &[
            "foo==1.0",
            "bar==1.0",
            "foo-1.0-py3-none-any.whl",
            "bar-1.0-py3-none-any.whl",
        ],
    );
    let left: Vec<_> = std::fs::read_dir(env.work_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "--dry-run wrote {left:?}");

    // With an existing lock, --dry-run --upgrade leaves it untouched.
    assert_ok(&lock(&env, &index, &args(&["foo"], &PY312_X86)));
    let before = std::fs::read(env.work_dir().join("pylayer.lock")).unwrap();
    index.add_wheel(
        WheelSpec::new("foo", "2.0")
            .requires("bar")
            .build(dir.path()),
    );
    let out = lock(
        &env,
        &index,
        &args(&["foo", "--dry-run", "--upgrade"], &PY312_X86),
    );
    assert_ok(&out);
    assert_mentions(&stdout(&out), &["foo==2.0"]);
    assert_eq!(
        std::fs::read(env.work_dir().join("pylayer.lock")).unwrap(),
        before
    );
}

#[test]
fn json_output_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = publish(dir.path(), vec![WheelSpec::new("foo", "1.0")]);
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(&env, &index, &args(&["foo", "--json"], &PY312_X86));
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--json output is not JSON ({e}):\n{}", stdout(&out)));
    assert!(
        v.to_string().contains("foo-1.0-py3-none-any.whl"),
        "--json output does not name the locked wheel: {v}"
    );
}

#[test]
fn bad_usage_exits_2() {
    let env = TestEnv::new();
    for bad in [
        &["lock", "foo", "--python", "3.12", "--arch", "sparc"][..],
        &["lock", "foo", "--python", "2.7", "--arch", "x86_64"][..],
        &[
            "lock",
            "foo",
            "--python",
            "3.12",
            "--arch",
            "x86_64",
            "--index-strategy",
            "whatever",
        ][..],
        &["lock", "foo", "--no-such-flag"][..],
    ] {
        let out = pylayer_raw(&env, bad);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}\n{}",
            describe_output(&out)
        );
        assert!(!stderr(&out).contains("panicked"), "{bad:?}");
        assert!(!env.work_dir().join("pylayer.lock").exists());
    }
}
