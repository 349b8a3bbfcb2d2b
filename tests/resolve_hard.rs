//! Hermetic tests of the resolver on hard sets: a conflict that needs a long backtrack
//! through hundreds of releases (the boto3 / botocore / python-dateutil shape), releases with
//! unusable metadata, one version across targets, and notes on releases held back.

mod support;

use std::path::PathBuf;
use std::process::Output;

use support::*;

/// `pylayer lock <args> --index-url <index>` in the environment's work directory.
fn lock(env: &TestEnv, index: &TestIndex, args: &[&str]) -> Output {
    let mut cmd = env.cmd();
    cmd.arg("lock")
        .args(args)
        .arg("--index-url")
        .arg(&index.url);
    run(&mut cmd)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The boto3-like shape: `sdk` has many releases, each needing a narrow range of `core`;
/// every `core` release needs `dateutil>=2.1,<3.0.0`; `dateutil` has 2.8.2, 2.9.0 and 4.0.0.
/// One old `sdk` release carries the malformed Requires-Dist seen on the real index.
fn boto_shape(
    dir: &std::path::Path,
    sdk_releases: usize,
    cores_per_sdk: usize,
    malformed: bool,
) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in ["2.8.2", "2.9.0", "4.0.0"] {
        files.push(WheelSpec::new("dateutil", d).build(dir));
    }
    files.push(WheelSpec::new("jmes", "1.0.1").build(dir));
    for s in 0..sdk_releases {
        let sdk_version = format!("1.{s}.0");
        let lo = format!("1.{}.0", s * cores_per_sdk);
        let hi = format!("1.{}.0", (s + 1) * cores_per_sdk);
        let spec = if malformed && s == 2 {
            WheelSpec::new("sdk", &sdk_version).metadata(&format!(
                "Metadata-Version: 2.1\nName: sdk\nVersion: {sdk_version}\n\
                 Requires-Dist: core>={lo},<{hi}','\n\n"
            ))
        } else {
            WheelSpec::new("sdk", &sdk_version)
                .requires(&format!("core>={lo},<{hi}"))
                .requires("jmes<2,>=1")
        };
        files.push(spec.build(dir));
        for c in 0..cores_per_sdk {
            let core_version = format!("1.{}.0", s * cores_per_sdk + c);
            files.push(
                WheelSpec::new("core", &core_version)
                    .requires("dateutil<3.0.0,>=2.1")
                    .requires("jmes<2,>=1")
                    .build(dir),
            );
        }
    }
    files
}

#[test]
fn long_conflict_is_named_in_one_sentence_and_bad_metadata_does_not_end_it() {
    let dir = tempfile::tempdir().unwrap();
    // 60 sdk releases × 4 core releases each: 240 core releases that all cap dateutil.
    let files = boto_shape(dir.path(), 60, 4, true);
    let index = TestIndex::start(&files, IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(
        &env,
        &index,
        &["sdk", "dateutil==4.0.0", "--python", "3.11", "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    eprintln!("{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The conflict in one sentence, naming both packages and the user's pin.
    let first = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    // The malformed release's own core releases were never needed, so the sentence is about
    // the sdk releases.
    assert!(
        first.contains(
            "every sdk release (but one, which cannot be used) needs a core release that needs dateutil"
        ) && first.contains("<3.0.0")
            && first.contains("you pinned dateutil==4.0.0"),
        "expected the one-sentence explanation first:\n{err}"
    );
    // The malformed release is left out and named, not fatal.
    assert!(
        !first.contains("malformed metadata in"),
        "a malformed release ended the resolution:\n{err}"
    );
    assert!(
        err.contains("sdk 1.2.0 was left out") && err.contains("sdk-1.2.0-py3-none-any.whl"),
        "the release left out is named in the explanation:\n{err}"
    );
    // Bounded cost: every metadata file is read at most once, and nothing but project pages
    // and metadata files is asked for.
    let requests = index.requests();
    let mut seen = std::collections::HashMap::new();
    for r in &requests {
        *seen.entry(r.clone()).or_insert(0usize) += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "requested more than once: {repeated:?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("GET /simple/") || r.ends_with(".metadata")),
        "unexpected requests: {:?}",
        requests
            .iter()
            .filter(|r| !r.ends_with(".metadata"))
            .collect::<Vec<_>>()
    );
    let metadata = requests.iter().filter(|r| r.ends_with(".metadata")).count();
    assert!(
        metadata <= files.len(),
        "{metadata} metadata requests for {} files",
        files.len()
    );
}

#[test]
fn every_release_capping_a_dependency_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let files = boto_shape(dir.path(), 20, 3, false);
    let index = TestIndex::start(&files, IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(
        &env,
        &index,
        &["sdk", "dateutil==4.0.0", "--python", "3.12", "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    let first = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        first.ends_with(
            "every core release needs dateutil >=2.1, <3.0.0, and you pinned dateutil==4.0.0 (sdk needs core)."
        ),
        "{err}"
    );
    // A range the user gives instead of a pin is quoted as a range.
    let out = lock(
        &env,
        &index,
        &["sdk", "dateutil>=4", "--python", "3.12", "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("and your requirements need dateutil >=4"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn malformed_release_is_skipped_and_named_with_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let files =
        vec![
        WheelSpec::new("tool", "1.0").requires("dep").build(dir.path()),
        WheelSpec::new("tool", "2.0")
            .metadata(
                "Metadata-Version: 2.1\nName: tool\nVersion: 2.0\nRequires-Dist: dep>=1,<2','\n\n",
            )
            .build(dir.path()),
        WheelSpec::new("dep", "1.0").build(dir.path()),
    ];
    let index = TestIndex::start(&files, IndexOptions::default());
    let env = TestEnv::new();
    let mut cmd = env.cmd();
    cmd.args([
        "lock",
        "tool",
        "--python",
        "3.12",
        "--dry-run",
        "--verbose",
        "--index-url",
    ])
    .arg(&index.url);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("tool==1.0"), "{stdout}");
    assert!(
        stderr(&out).contains(
            "tool 1.0 (not 2.0: its metadata (tool-2.0-py3-none-any.whl) cannot be used)"
        ),
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("tool 2.0 left out")
            && err.contains("tool-2.0-py3-none-any.whl")
            && err.contains("Requires-Dist"),
        "expected a note naming the release left out:\n{err}"
    );
    // Without --verbose the note is not printed.
    let out = lock(&env, &index, &["tool", "--python", "3.12", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert!(!stderr(&out).contains("left out"), "{}", stderr(&out));
}

/// Not a test: serves the boto3-like index for manual timing
/// (`PYLAYER_SERVE_SECONDS=600 cargo test --test resolve_hard serve -- --ignored --nocapture`).
#[test]
#[ignore]
fn serve_boto_shape_for_manual_runs() {
    let dir = tempfile::tempdir().unwrap();
    let files = boto_shape(dir.path(), 60, 4, true);
    let index = TestIndex::start(&files, IndexOptions::default());
    println!("index: {}", index.url);
    let secs = std::env::var("PYLAYER_SERVE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    std::thread::sleep(std::time::Duration::from_secs(secs));
}

#[test]
fn a_package_held_back_by_one_release_reads_few_older_ones() {
    // lib's newest release needs dep>=2 and other needs dep<2: the search takes lib 20.0,
    // meets the conflict and settles on 19.0. Reading metadata ahead for a walk down lib's
    // releases is right, but one step back is no walk: a few releases, not all twenty.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut files = vec![
        WheelSpec::new("app", "1.0")
            .requires("lib")
            .requires("other")
            .build(d),
        WheelSpec::new("other", "1.0").requires("dep<2").build(d),
        WheelSpec::new("dep", "1.0").build(d),
        WheelSpec::new("dep", "2.0").build(d),
        WheelSpec::new("lib", "20.0").requires("dep>=2").build(d),
    ];
    for v in 1..20 {
        files.push(WheelSpec::new("lib", &format!("{v}.0")).build(d));
    }
    let index = TestIndex::start(&files, IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(&env, &index, &["app", "--python", "3.12", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("held back") && l.contains("lib 19.0 (not 20.0")),
        "{err}"
    );
    let lib_metadata = index
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /files/lib-") && r.ends_with(".metadata"))
        .count();
    assert!(
        (2..=6).contains(&lib_metadata),
        "{lib_metadata} of lib's 20 metadata files were read for a step of one release"
    );
}

#[test]
fn packages_not_at_their_newest_release_are_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = vec![
        WheelSpec::new("app", "1.0")
            .requires("lib<2")
            .requires("pure")
            .requires("native")
            .build(d),
        WheelSpec::new("lib", "1.0").build(d),
        WheelSpec::new("lib", "2.0").build(d),
        WheelSpec::new("pure", "1.0").build(d),
        WheelSpec::new("pure", "2.0")
            .requires_python(">=3.12")
            .build(d),
        WheelSpec::new("native", "1.0")
            .tag("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")
            .build(d),
        WheelSpec::new("native", "2.0")
            .tag("cp311-cp311-manylinux_2_28_x86_64")
            .build(d),
    ];
    let index = TestIndex::start(&files, IndexOptions::default());
    let env = TestEnv::new();
    let out = lock(&env, &index, &["app", "--python", "3.11", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let err = stderr(&out);
    let line = |name: &str| {
        err.lines()
            .find(|l| l.starts_with("held back") && l.contains(&format!(": {name} ")))
            .unwrap_or_else(|| panic!("no held-back line for {name}:\n{err}"))
            .to_string()
    };
    assert!(
        line("lib").ends_with("lib 1.0 (not 2.0: app 1.0 needs lib <2)"),
        "{err}"
    );
    assert!(
        line("pure").contains("pure 1.0 (not 2.0: requires Python >=3.12"),
        "{err}"
    );
    assert!(
        line("native").contains("native 1.0 (not 2.0: its cp311 wheels need glibc 2.28"),
        "{err}"
    );
    assert!(
        !err.lines()
            .any(|l| l.starts_with("held back") && l.contains("x86_64: app ")),
        "app is at its newest release:\n{err}"
    );
}

/// The targets of one `pylayer lock --json` run: `(python, arch) -> target object`.
fn json_targets(out: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe_output(out)));
    v["target"].as_array().cloned().unwrap_or_default()
}

fn json_target<'a>(targets: &'a [serde_json::Value], python: &str) -> &'a serde_json::Value {
    targets
        .iter()
        .find(|t| t["python"] == python)
        .unwrap_or_else(|| panic!("no target {python} in {targets:?}"))
}

fn json_version(target: &serde_json::Value, name: &str) -> String {
    target["package"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .and_then(|p| p["version"].as_str())
        .unwrap_or_else(|| panic!("no {name} in {target}"))
        .to_string()
}

#[test]
fn a_pure_package_gets_one_version_on_every_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let index = TestIndex::start(
        &[
            WheelSpec::new("app", "1.0").requires("pure").build(d),
            WheelSpec::new("pure", "1.0").build(d),
        ],
        IndexOptions::default(),
    );
    let env = TestEnv::new();
    // Locked for python3.11 while pure 1.0 was the newest…
    let out = lock(&env, &index, &["app", "--python", "3.11"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    // …then pure 2.0 is released and python3.12 is added: the 3.11 pin is kept when it
    // still fits, the new target takes the newest, and the two must end up the same.
    index.add_wheel(WheelSpec::new("pure", "2.0").build(d));
    let out = lock(
        &env,
        &index,
        &["app", "--python", "3.11", "--python", "3.12", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let targets = json_targets(&out);
    assert_eq!(targets.len(), 2, "{targets:?}");
    for python in ["3.11", "3.12"] {
        let t = json_target(&targets, python);
        assert_eq!(json_version(t, "pure"), "2.0", "python {python}: {t}");
        assert!(t.get("differs").is_none(), "nothing differs: {t}");
    }
    let written = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
    assert!(!written.contains("[[target.differs]]"), "{written}");
    assert!(
        !stderr(&out).contains("not the same on every target"),
        "{}",
        stderr(&out)
    );
}

/// A target kept from the existing lock but not asked for in this run is aligned too: locking
/// python3.12 alone after a new release must not leave python3.11 (kept in the lock) on
/// another version of a pure package.
#[test]
fn a_target_kept_from_the_lock_is_aligned_with_the_one_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let index = TestIndex::start(
        &[
            WheelSpec::new("app", "1.0").requires("pure").build(d),
            WheelSpec::new("pure", "1.0").build(d),
        ],
        IndexOptions::default(),
    );
    let env = TestEnv::new();
    let out = lock(&env, &index, &["app", "--python", "3.11"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    index.add_wheel(WheelSpec::new("pure", "2.0").build(d));
    // Only python3.12 is asked for; python3.11 stays in the lock (same inputs).
    let out = lock(&env, &index, &["app", "--python", "3.12"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let written = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&written).unwrap();
    let targets = lock["target"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "both targets are in the lock: {written}");
    for t in targets {
        let pure = t["package"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some("pure"))
            .unwrap_or_else(|| panic!("no pure in {t}"));
        assert_eq!(
            pure["version"].as_str(),
            Some("2.0"),
            "python {}: {written}",
            t["python"]
        );
    }
    assert!(!written.contains("[[target.differs]]"), "{written}");
}

/// `native` 2.0 ships only manylinux_2_28 wheels, which python3.11 (Amazon Linux 2, glibc
/// 2.26) cannot load: 3.11 keeps 1.0 and says why; `pure` is the same everywhere.
fn glibc_bound_index(d: &std::path::Path) -> TestIndex {
    let mut files = vec![
        WheelSpec::new("pure", "1.0").build(d),
        WheelSpec::new("pure", "1.5").build(d),
    ];
    for py in ["cp311", "cp312"] {
        files.push(
            WheelSpec::new("native", "1.0")
                .tag(&format!(
                    "{py}-{py}-manylinux_2_17_x86_64.manylinux2014_x86_64"
                ))
                .build(d),
        );
        files.push(
            WheelSpec::new("native", "2.0")
                .tag(&format!("{py}-{py}-manylinux_2_28_x86_64"))
                .requires("pure>=1.5")
                .build(d),
        );
    }
    TestIndex::start(&files, IndexOptions::default())
}

#[test]
fn a_glibc_bound_package_differs_across_targets_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let index = glibc_bound_index(dir.path());
    let env = TestEnv::new();
    let out = lock(
        &env,
        &index,
        &[
            "native", "pure", "--python", "3.11", "--python", "3.12", "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let targets = json_targets(&out);
    let (t11, t12) = (json_target(&targets, "3.11"), json_target(&targets, "3.12"));
    assert_eq!(json_version(t11, "native"), "1.0");
    assert_eq!(json_version(t12, "native"), "2.0");
    // pure is the same on both: 1.5 works on both.
    assert_eq!(json_version(t11, "pure"), "1.5");
    assert_eq!(json_version(t12, "pure"), "1.5");
    // The difference, with the reason, in the JSON…
    let differs = t11["differs"].as_array().expect("differs on 3.11");
    assert_eq!(differs.len(), 1, "{differs:?}");
    assert_eq!(differs[0]["name"], "native");
    assert_eq!(differs[0]["version"], "1.0");
    assert_eq!(differs[0]["not_taken"], "2.0");
    assert_eq!(differs[0]["elsewhere"], serde_json::json!(["3.12/x86_64"]));
    let reason = differs[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("need glibc 2.28") && reason.contains("glibc 2.26"),
        "{reason}"
    );
    assert!(t12.get("differs").is_none(), "{t12}");
    // …the held-back note too (native's newest release is 2.0)…
    let held = t11["held_back"].as_array().expect("held_back on 3.11");
    assert!(
        held.iter()
            .any(|h| h["name"] == "native" && h["not_taken"] == "2.0"),
        "{held:?}"
    );
    // …on stderr in one line, said once…
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("native 1.0")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with(
            "not the same on every target: native 1.0 on python3.11/x86_64 (2.0 on 3.12/x86_64): its cp311 wheels need glibc 2.28"
        ),
        "{err}"
    );
    // …and in the lock file.
    let written = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
    assert!(
        written.contains("[[target.differs]]") && written.contains("not_taken = \"2.0\""),
        "{written}"
    );
    // A lock that is reused still says it.
    let out = lock(
        &env,
        &index,
        &["native", "pure", "--python", "3.11", "--python", "3.12"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert!(stderr(&out).contains("is up to date"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not the same on every target: native 1.0 on python3.11/x86_64"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn held_back_notes_are_in_the_json_of_lock_and_build() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let index = TestIndex::start(
        &[
            WheelSpec::new("app", "1.0").requires("lib<2").build(d),
            WheelSpec::new("lib", "1.0").build(d),
            WheelSpec::new("lib", "2.0").build(d),
            WheelSpec::new("pure", "1.0").build(d),
            WheelSpec::new("pure", "2.0")
                .requires_python(">=3.12")
                .build(d),
        ],
        IndexOptions::default(),
    );
    let env = TestEnv::new();
    let out = lock(
        &env,
        &index,
        &["app", "pure", "--python", "3.11", "--dry-run", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let targets = json_targets(&out);
    let held = json_target(&targets, "3.11")["held_back"]
        .as_array()
        .cloned()
        .expect("held_back in lock --json");
    let entry = |held: &[serde_json::Value], name: &str| {
        held.iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("no held-back entry for {name}: {held:?}"))
            .clone()
    };
    let lib = entry(&held, "lib");
    assert_eq!(
        (lib["version"].as_str(), lib["not_taken"].as_str()),
        (Some("1.0"), Some("2.0"))
    );
    assert_eq!(lib["reason"], "app 1.0 needs lib <2");
    let pure = entry(&held, "pure");
    assert!(
        pure["reason"]
            .as_str()
            .unwrap()
            .starts_with("requires Python >=3.12"),
        "{pure}"
    );
    assert_eq!(held.len(), 2, "app is at its newest release: {held:?}");

    let out = run(env
        .cmd()
        .args(["build", "app", "pure", "--python", "3.11", "--json"])
        .arg("--index-url")
        .arg(&index.url));
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let held = v["layers"][0]["held_back"]
        .as_array()
        .cloned()
        .expect("held_back in build --json");
    assert_eq!(entry(&held, "lib")["reason"], "app 1.0 needs lib <2");
    assert_eq!(entry(&held, "pure")["not_taken"], "2.0");
    // The manifest beside the zip says it too.
    let zip = v["layers"][0]["zip"].as_str().unwrap();
    let manifest = env
        .work_dir()
        .join("dist")
        .join(zip.replace(".zip", ".json"));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(m["held_back"], v["layers"][0]["held_back"]);
}
