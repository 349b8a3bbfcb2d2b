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

/// Copies the directory tree `from` to `to` (files only, as a user's `cp -r` would).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// `--find-links` directories (flag, requirements file, pylayer.toml) and the wheels found
/// there are recorded relative to the project root: the lock has no absolute path, a copy of
/// the project elsewhere keeps the lock byte for byte, and builds from it on a fresh cache.
#[test]
fn find_links_directories_are_recorded_relative_to_the_project() {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("project");
    let wheels = project.join("wheels");
    WheelSpec::new("teamlib", "1.2")
        .requires("helper")
        .build(&wheels);
    let shared = root.path().join("shared-wheels");
    WheelSpec::new("helper", "0.3").build(&shared);
    std::fs::write(
        project.join("requirements.txt"),
        "-f ../shared-wheels\nteamlib\n",
    )
    .unwrap();
    std::fs::write(project.join("pylayer.toml"), "find-links = [\"wheels\"]\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let lock = |dir: &std::path::Path, extra: &[&str]| {
        run(pylayer_with_cache(cache.path())
            .current_dir(dir)
            .args(["lock", "--no-index"])
            .args(extra))
    };
    let out = lock(&project, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let text = std::fs::read_to_string(project.join("pylayer.lock")).unwrap();
    let base = std::fs::canonicalize(root.path()).unwrap();
    assert!(
        !text.contains("file:") && !text.contains(&*base.to_string_lossy()),
        "{text}"
    );
    assert!(
        text.contains("wheels/teamlib-1.2-py3-none-any.whl"),
        "{text}"
    );
    assert!(
        text.contains("../shared-wheels/helper-0.3-py3-none-any.whl"),
        "{text}"
    );

    // The flag names the same directory: the same inputs.
    let out = lock(&project, &["--check", "-f", "wheels"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));

    // The project and its sibling copied elsewhere: same lock, and it builds from there
    // with an empty cache (the wheels are found again by their relative paths).
    let moved = tempfile::tempdir().unwrap();
    copy_tree(root.path(), moved.path());
    let moved_project = moved.path().join("project");
    let out = lock(&moved_project, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert_eq!(
        std::fs::read_to_string(moved_project.join("pylayer.lock")).unwrap(),
        text
    );
    let fresh = tempfile::tempdir().unwrap();
    let out = run(pylayer_with_cache(fresh.path())
        .current_dir(&moved_project)
        .args(["build", "--no-index"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let zips: Vec<_> = std::fs::read_dir(moved_project.join("dist"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".zip"))
        .collect();
    assert_eq!(zips.len(), 1, "{}", describe_output(&out));
    let names = zip_names(&zips[0].path());
    assert!(
        names.iter().any(|n| n.starts_with("python/teamlib")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("python/helper")),
        "{names:?}"
    );
    assert_eq!(
        std::fs::read_to_string(moved_project.join("pylayer.lock")).unwrap(),
        text
    );
}

fn zip_names(path: &std::path::Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let archive = zip::ZipArchive::new(file).unwrap();
    archive
        .file_names()
        .map(|n| n.unwrap().to_string())
        .collect()
}
