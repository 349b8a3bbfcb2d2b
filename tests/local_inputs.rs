//! Issue 17's inputs: build policy flags (`--no-build`, `--only-binary`, `--no-binary`) from
//! flags, pylayer.toml and requirements files; local projects and `--find-links` directories
//! recorded relative to the project root. Hermetic: a local index.

mod support;

use std::process::Output;

use support::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lock(env: &TestEnv, index: &TestIndex, extra: &[&str]) -> Output {
    run(env
        .cmd()
        .args(["lock", "-r", "requirements.txt", "--index-url", &index.url])
        .args(extra))
}

/// The build policy is part of the inputs: the same policy written in pylayer.toml, in a
/// requirements file or as flags is the same lock; a flag overrides the file for what it
/// names, and a different policy makes `lock --check` fail.
#[test]
fn build_policy_from_flags_config_and_requirements_files() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(
        &[WheelSpec::new("app", "1.0").build(dir.path())],
        IndexOptions::default(),
    );
    env.write("requirements.txt", "app\n");
    env.write("pylayer.toml", "only-binary = [\"App\"]\n");
    let out = lock(&env, &index, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let lock_path = env.work_dir().join("pylayer.lock");
    let first = std::fs::read(&lock_path).unwrap();

    // Same policy from the flag (names normalized), or from the requirements file.
    let out = lock(&env, &index, &["--check", "--only-binary", "app"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    std::fs::remove_file(env.work_dir().join("pylayer.toml")).unwrap();
    env.write("requirements.txt", "--only-binary=APP\napp\n");
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));

    // Another policy: the check fails and says to lock again; the lock is untouched.
    let out = lock(&env, &index, &["--check", "--no-binary", "app"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("run `pylayer lock`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&lock_path).unwrap(), first);

    // The flag's `:none:` clears what the file said: the policy is the default again, which
    // is what a lock without any option records.
    env.write("requirements.txt", "--only-binary app\napp\n");
    let out = lock(&env, &index, &["--only-binary", ":none:"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    env.write("requirements.txt", "app\n");
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));

    // `no-build = true` in pylayer.toml and `--no-build` are the same input.
    env.write("pylayer.toml", "no-build = true\n");
    let out = lock(&env, &index, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    std::fs::remove_file(env.work_dir().join("pylayer.toml")).unwrap();
    let out = lock(&env, &index, &["--check", "--no-build"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));

    // Unknown names are fine (pip accepts them); malformed ones name where they came from.
    let out = lock(&env, &index, &["--only-binary", "no-such-package"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    env.write("requirements.txt", "--no-binary app,b@d\napp\n");
    let out = lock(&env, &index, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("requirements.txt:1") && stderr(&out).contains("`b@d`"),
        "{}",
        stderr(&out)
    );
    env.write("requirements.txt", "app\n");
    env.write("pylayer.toml", "no-binary = [\"b@d\"]\n");
    let out = lock(&env, &index, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(stderr(&out).contains("pylayer.toml"), "{}", stderr(&out));
}
