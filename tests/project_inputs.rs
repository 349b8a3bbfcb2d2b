//! Other tools' project files as inputs: pyproject.toml and the pins of uv.lock, with wheels
//! chosen for the Lambda target even though the lock was made on another platform.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use support::{TestEnv, describe_output, run};

fn pins(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            l.split_whitespace()
                .next()?
                .split_once("==")
                .map(|(n, v)| (n.to_string(), v.to_string()))
        })
        .collect()
}

const PYPROJECT: &str = r#"[project]
name = "demo"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["requests", "pydantic>=2", "colorama; sys_platform == 'win32'"]

[project.optional-dependencies]
ldap = ["ldap3"]
"#;

#[test]
fn uv_lock_pins_are_kept_and_wheels_are_chosen_for_lambda() {
    let env = TestEnv::new();
    env.write("pyproject.toml", PYPROJECT);
    let uv = if Command::new("uv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Command::new("uv")
    } else {
        let mut c = Command::new("python3");
        c.args(["-m", "uv"]);
        c
    };
    let mut uv = uv;
    let out = run(uv
        .args(["lock", "--quiet"])
        .env("UV_PYTHON_DOWNLOADS", "never")
        .current_dir(env.work_dir()));
    assert!(out.status.success(), "uv lock: {}", describe_output(&out));
    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(env.work_dir().join("uv.lock")).unwrap()).unwrap();
    let uv_versions: BTreeMap<String, String> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let out = run(env.cmd().args([
        "lock",
        "-r",
        "uv.lock",
        "--extra",
        "ldap",
        "--python",
        "3.12",
        "--arch",
        "arm64",
        "--dry-run",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let ours = pins(&String::from_utf8_lossy(&out.stdout));
    for name in ["requests", "pydantic", "pydantic-core", "ldap3", "urllib3"] {
        assert_eq!(
            ours.get(name),
            uv_versions.get(name),
            "{name}: pylayer {ours:?} vs uv.lock"
        );
    }
    assert!(
        !ours.contains_key("colorama"),
        "a Windows-only dependency went into a Linux layer"
    );
    assert!(
        !ours.contains_key("demo"),
        "the project itself is local code, not an index package"
    );
    // Without --extra the optional dependency stays out.
    let out = run(env
        .cmd()
        .args(["lock", "-r", "uv.lock", "--python", "3.12", "--dry-run"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(!pins(&String::from_utf8_lossy(&out.stdout)).contains_key("ldap3"));
}

#[test]
fn pyproject_dependencies_and_extras_are_read() {
    let env = TestEnv::new();
    env.write("pyproject.toml", PYPROJECT);
    let out = run(env.cmd().args([
        "lock",
        "-r",
        "pyproject.toml",
        "--extra",
        "ldap",
        "--python",
        "3.12",
        "--dry-run",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let ours = pins(&String::from_utf8_lossy(&out.stdout));
    assert!(
        ours.contains_key("requests")
            && ours.contains_key("pydantic")
            && ours.contains_key("ldap3"),
        "{ours:?}"
    );
    let out = run(env.cmd().args([
        "lock",
        "-r",
        "pyproject.toml",
        "--extra",
        "nosuch",
        "--python",
        "3.12",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ldap"),
        "known extras are listed: {}",
        describe_output(&out)
    );
}

#[test]
fn malformed_pyproject_and_lock_files_name_line_and_column() {
    let env = TestEnv::new();
    env.write(
        "pyproject.toml",
        "[project]\nname = \"x\"\ndependencies = [\"requests\",\n  \"numpy\" \"pandas\"]\n",
    );
    let out = run(env.cmd().args(["build", "-r", "pyproject.toml"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pyproject.toml:4:"),
        "{}",
        describe_output(&out)
    );

    env.write(
        "uv.lock",
        "version = 1\n[[package]]\nname = \"a\"\nversion = 1.0.0\n",
    );
    let out = run(env.cmd().args(["build", "-r", "uv.lock"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("uv.lock:4:"),
        "{}",
        describe_output(&out)
    );

    env.write("poetry.lock", "[[package]\nname = \"a\"\n");
    let out = run(env.cmd().args(["build", "-r", "poetry.lock"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("poetry.lock:1:"),
        "{}",
        describe_output(&out)
    );

    env.write(
        "Pipfile.lock",
        "{\"default\": {\"six\": {\"version\": \"==1.16.0\",}}}",
    );
    let out = run(env.cmd().args(["build", "-r", "Pipfile.lock"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Pipfile.lock:1:"),
        "{}",
        describe_output(&out)
    );
    assert!(!env.work_dir().join("pylayer.lock").exists() && !env.work_dir().join("dist").exists());
}

#[test]
fn wrong_value_types_are_usage_errors_at_their_line_and_column() {
    let env = TestEnv::new();
    // A Poetry dependency whose version is a bare number was once read as "any version".
    env.write(
        "pyproject.toml",
        "[tool.poetry]\nname = \"x\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\nrequests = {version = 5}\n",
    );
    let out = run(env
        .cmd()
        .args(["lock", "-r", "pyproject.toml", "--python", "3.12"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "pyproject.toml:6:23: `[tool.poetry.dependencies].requests.version` must be a \
             version constraint string; found an integer (5)"
        ),
        "{}",
        describe_output(&out)
    );
    assert!(!env.work_dir().join("pylayer.lock").exists());

    std::fs::remove_file(env.work_dir().join("pyproject.toml")).unwrap();
    env.write("requirements.txt", "six\n");
    env.write(
        "pylayer.toml",
        "name = \"x\"\narch = \"x86_64\"\npython = 3.12\n",
    );
    let out = run(env.cmd().arg("lock"));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "pylayer.toml:3:10: python must be a string like \"3.12\" or a list of them; found \
             a float (3.12)"
        ) && err.contains("quote it: python = \"3.12\""),
        "{}",
        describe_output(&out)
    );
    assert!(!err.contains("untagged enum"), "{err}");
    assert!(!env.work_dir().join("pylayer.lock").exists());
}
