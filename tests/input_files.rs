//! Input files that are not what they claim (issue 13): every file pylayer reads as input —
//! requirements, pyproject.toml, uv.lock, poetry.lock, Pipfile.lock, pylayer.toml and
//! pylayer.lock — is refused at once, with exit 2 and a message naming the file, when it is
//! a FIFO, a device or larger than its cap, instead of blocking or exhausting memory.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{TestEnv, describe_output, run_with_timeout};

/// The file under test, and the arguments that make `pylayer lock` read it.
const CASES: &[(&str, &[&str])] = &[
    ("requirements.txt", &["lock", "-r", "requirements.txt"]),
    ("pyproject.toml", &["lock", "-r", "pyproject.toml"]),
    ("uv.lock", &["lock", "-r", "uv.lock"]),
    ("poetry.lock", &["lock", "-r", "poetry.lock"]),
    ("Pipfile.lock", &["lock", "-r", "Pipfile.lock"]),
    ("pylayer.toml", &["lock", "--config", "pylayer.toml", "foo"]),
    ("pylayer.lock", &["lock", "--lock", "pylayer.lock", "foo"]),
];

/// Runs the case against `name` as prepared in `env`, expecting a refusal whose message
/// names the file and contains every one of `needles`.
fn refused(env: &TestEnv, name: &str, args: &[&str], needles: &[&str]) {
    let out = run_with_timeout(
        env.cmd()
            .args(args)
            .args(["--python", "3.12", "--no-index", "-f", "."]),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name}: {}",
        describe_output(&out)
    );
    assert!(err.contains(name), "{name}: the file is not named: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{name}: no {needle:?} in: {err}");
    }
    assert!(err.len() < 2000, "{name}: an overlong message: {err}");
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    for (name, args) in CASES {
        let env = TestEnv::new();
        let path = env.work_dir().join(name);
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success(), "mkfifo {}", path.display());
        // Nobody ever writes to it: opening it for reading would block for ever.
        refused(&env, name, args, &["not a regular file", "FIFO"]);
    }
}

#[test]
fn a_device_is_refused() {
    for (name, args) in CASES {
        let env = TestEnv::new();
        std::os::unix::fs::symlink("/dev/zero", env.work_dir().join(name)).unwrap();
        refused(&env, name, args, &["not a regular file", "device"]);
    }
}

#[test]
fn a_huge_sparse_file_is_refused_naming_its_size_and_the_limit() {
    for (name, args) in CASES {
        let env = TestEnv::new();
        let f = std::fs::File::create(env.work_dir().join(name)).unwrap();
        // 4 GiB that take no disk space and would take 4 GiB of memory if read.
        f.set_len(4 << 30).unwrap();
        drop(f);
        refused(&env, name, args, &["4.0 GiB", "limit"]);
    }
}

#[test]
fn a_directory_named_like_the_config_is_refused_not_ignored() {
    let env = TestEnv::new();
    std::fs::create_dir(env.work_dir().join("pylayer.toml")).unwrap();
    refused(
        &env,
        "pylayer.toml",
        &["lock", "foo"],
        &["not a regular file", "directory"],
    );
    assert!(!Path::new(&env.work_dir().join("pylayer.lock")).exists());
}
