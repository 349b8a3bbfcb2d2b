//! How pylayer plugs into deploy tools, hermetically (the layers come from a local index):
//! the real `sam build` on examples/sam, and the GitHub Action's shell steps
//! (scripts/action/*.sh) as the action runs them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use support::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// PATH with the pylayer under test first.
fn path_with_pylayer() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_pylayer")).parent().unwrap();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

/// A command with no index configuration from the developer's shell, its pylayer calls
/// pointed at `index` and `cache`.
fn isolated(program: &Path, index: &TestIndex, cache: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && (k.starts_with("PIP_") || k.starts_with("PYLAYER_") || k.starts_with("UV_"))
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("PATH", path_with_pylayer())
        .env("PYLAYER_INDEX_URL", &index.url)
        .env("PYLAYER_CACHE_DIR", cache)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Copies a directory tree (the examples are small).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Stand-ins for ldap3 and its dependency, so the example's requirements.txt resolves here.
fn ldap3_index(dir: &Path) -> TestIndex {
    let wheels = vec![
        WheelSpec::new("ldap3", "2.9.1")
            .requires("pyasn1>=0.4.6")
            .file("ldap3/core/__init__.py", "")
            .build(dir),
        WheelSpec::new("pyasn1", "0.6.1").build(dir),
    ];
    TestIndex::start(&wheels, IndexOptions::default())
}

fn code_sha256(zip: &Path) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(std::fs::read(zip).unwrap()))
}

/// GITHUB_OUTPUT-style `key=value` lines.
fn outputs(file: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn sam_build_puts_the_layer_where_sam_expects_it() {
    let Some(sam) = test_tool("sam") else {
        missing_tool("sam (aws-sam-cli) is not installed");
        return;
    };
    let wheels = tempfile::tempdir().unwrap();
    let index = ldap3_index(wheels.path());
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("sam");
    copy_tree(&repo().join("examples/sam"), &project);
    let cache = tempfile::tempdir().unwrap();

    let mut cmd = isolated(&sam, &index, cache.path());
    // Only the layer: building the function would need a local python3.12.
    cmd.current_dir(&project)
        .args(["build", "DepsLayer"])
        .env("SAM_CLI_TELEMETRY", "0")
        .env("HOME", work.path());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(600));
    assert!(out.status.success(), "sam build: {}", describe_output(&out));

    // SAM zips .aws-sam/build/<LogicalId>/ as the layer: python/… must be at its root.
    let built = project.join(".aws-sam/build/DepsLayer");
    for file in [
        "python/ldap3/__init__.py",
        "python/ldap3/core/__init__.py",
        "python/pyasn1/__init__.py",
        "python/ldap3-2.9.1.dist-info/RECORD",
    ] {
        assert!(built.join(file).is_file(), "{file} missing under {built:?}");
    }
    let template = std::fs::read_to_string(project.join(".aws-sam/build/template.yaml")).unwrap();
    assert!(template.contains("ContentUri: DepsLayer"), "{template}");
    // The lock lands beside the Makefile in the source tree (to commit), not in SAM's scratch copy.
    let lock = std::fs::read_to_string(project.join("layer/pylayer.lock")).unwrap();
    assert!(lock.contains("name = \"ldap3\""), "{lock}");
    assert!(
        project.join("layer/dist/deps-py3.12-x86_64.json").is_file(),
        "the manifest stays in layer/dist"
    );
}

#[test]
fn action_cache_key_follows_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("github_output");
    let env_file = dir.path().join("github_env");
    let key = |lock: Option<&str>| -> (String, String) {
        let lock_path = dir.path().join("pylayer.lock");
        match lock {
            Some(text) => std::fs::write(&lock_path, text).unwrap(),
            None => {
                let _ = std::fs::remove_file(&lock_path);
            }
        }
        let _ = std::fs::remove_file(&out_file);
        let out = run(Command::new("bash")
            .arg(repo().join("scripts/action/cache-key.sh"))
            .env("INPUT_WORKING_DIRECTORY", dir.path())
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_TEMP", dir.path())
            .env_remove("PYLAYER_CACHE_DIR")
            .env("GITHUB_OUTPUT", &out_file)
            .env("GITHUB_ENV", &env_file));
        assert!(out.status.success(), "{}", describe_output(&out));
        let o = outputs(&out_file);
        (o["key"].clone(), o["path"].clone())
    };
    let (k1, path) = key(Some("lock one\n"));
    assert_eq!(k1, format!("pylayer-Linux-{}", sha256_hex(b"lock one\n")));
    assert_eq!(path, dir.path().join("pylayer-cache").display().to_string());
    let (k2, _) = key(Some("lock two\n"));
    assert_ne!(k1, k2);
    assert_eq!(key(None).0, "pylayer-Linux-no-lock");
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains(&format!("PYLAYER_CACHE_DIR={path}")), "{env}");
}

#[test]
fn action_build_step_outputs_the_zip_and_its_code_sha256() {
    let wheels = tempfile::tempdir().unwrap();
    let index = ldap3_index(wheels.path());
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("requirements.txt"), "ldap3\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out_file = work.path().join("github_output");

    let mut cmd = isolated(Path::new("bash"), &index, cache.path());
    cmd.arg(repo().join("scripts/action/build.sh"))
        .env("INPUT_WORKING_DIRECTORY", work.path())
        .env(
            "INPUT_ARGS",
            "-r requirements.txt --name ldap3 --python 3.12 --python 3.13 --arch arm64",
        )
        .env("INPUT_OUT_DIR", "layers")
        .env("GITHUB_OUTPUT", &out_file);
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe_output(&out));

    let o = outputs(&out_file);
    assert_eq!(o["zip"], "layers/ldap3-py3.12-arm64.zip", "{o:?}");
    assert_eq!(o["manifest"], "layers/ldap3-py3.12-arm64.json");
    assert_eq!(
        o["zips"],
        "layers/ldap3-py3.12-arm64.zip layers/ldap3-py3.13-arm64.zip"
    );
    let zip: PathBuf = work.path().join(&o["zip"]);
    assert_eq!(o["code-sha256"], code_sha256(&zip));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join(&o["manifest"])).unwrap()).unwrap();
    assert_eq!(manifest["code_sha256"], o["code-sha256"].as_str());
}

#[test]
fn action_build_step_fails_when_pylayer_fails() {
    let wheels = tempfile::tempdir().unwrap();
    let index = ldap3_index(wheels.path());
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("requirements.txt"), "no-such-package\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out_file = work.path().join("github_output");
    let mut cmd = isolated(Path::new("bash"), &index, cache.path());
    cmd.arg(repo().join("scripts/action/build.sh"))
        .env("INPUT_WORKING_DIRECTORY", work.path())
        .env("INPUT_ARGS", "-r requirements.txt")
        .env("GITHUB_OUTPUT", &out_file);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-package"),
        "{}",
        describe_output(&out)
    );
    assert!(outputs(&out_file).is_empty());
}
