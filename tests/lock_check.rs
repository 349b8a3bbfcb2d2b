//! `pylayer lock --check`: passes when `pylayer.lock` is what `pylayer lock` would leave,
//! fails (exit 1, nothing written) naming what changed otherwise. Hermetic: a local index.

mod support;

use std::process::Output;

use support::*;

fn wheels(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    vec![
        WheelSpec::new("app", "1.0").requires("dep>=1").build(dir),
        WheelSpec::new("dep", "1.0").build(dir),
        WheelSpec::new("dep", "2.0").build(dir),
        WheelSpec::new("extra-thing", "3.1").build(dir),
    ]
}

fn lock(env: &TestEnv, index: &TestIndex, extra: &[&str]) -> Output {
    run(env
        .cmd()
        .args(["lock", "-r", "requirements.txt", "--index-url", &index.url])
        .args(extra))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_lock_in_sync_passes_and_changed_inputs_fail_with_what_changed() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(&wheels(dir.path()), IndexOptions::default());
    env.write("requirements.txt", "app\ndep<2\n");

    let out = lock(&env, &index, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let lock_path = env.work_dir().join("pylayer.lock");
    let written = std::fs::read(&lock_path).unwrap();

    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("up to date"),
        "{}",
        describe_output(&out)
    );

    // Another pin and one more package: exit 1, each change named, the lock untouched.
    env.write("requirements.txt", "app\ndep>=2\nextra-thing\n");
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(err.contains("no longer matches its inputs"), "{err}");
    assert!(err.contains("python3.12/x86_64: ~ dep 1.0 -> 2.0"), "{err}");
    assert!(
        err.contains("python3.12/x86_64: + extra-thing==3.1"),
        "{err}"
    );
    assert!(err.contains("run `pylayer lock`"), "{err}");
    assert_eq!(std::fs::read(&lock_path).unwrap(), written);

    // After `pylayer lock` the check passes again.
    let out = lock(&env, &index, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
}

#[test]
fn a_new_target_or_a_missing_lock_fails() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(&wheels(dir.path()), IndexOptions::default());
    env.write("requirements.txt", "app\n");

    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(!env.work_dir().join("pylayer.lock").exists());

    let out = lock(&env, &index, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let out = lock(
        &env,
        &index,
        &["--check", "--python", "3.12", "--arch", "arm64"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("python3.12/arm64: not in the lock"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn reformatted_inputs_with_the_same_pins_pass_and_check_refuses_write_flags() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(&wheels(dir.path()), IndexOptions::default());
    env.write("requirements.txt", "app\n");
    assert!(lock(&env, &index, &[]).status.success());
    // Comments and blank lines do not change the inputs.
    env.write("requirements.txt", "# the app\n\napp\n");
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));

    // A constraint that keeps the same pins still changes the inputs digest.
    env.write("requirements.txt", "app\ndep<3\n");
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(stderr(&out).contains("same pins"), "{}", stderr(&out));

    for flag in ["--upgrade", "--dry-run", "--json"] {
        let out = lock(&env, &index, &["--check", flag]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag}: {}",
            describe_output(&out)
        );
    }
}
