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
