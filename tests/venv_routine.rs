//! The venv routine done right: `init`, `freeze`, `build --from-venv`, exclusions, and
//! clear errors for malformed project files. Uses the machine's python3.11 and real wheels.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{TestEnv, describe_output, run};

fn zip_names(zip: &Path) -> Vec<String> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    (0..z.len())
        .map(|i| z.by_index_raw(i).unwrap().name().unwrap().to_string())
        .collect()
}

/// `name==version` pairs of the dist-info directories in a layer zip.
fn layer_versions(zip: &Path) -> Vec<String> {
    let mut out: Vec<String> = zip_names(zip)
        .iter()
        .filter_map(|n| {
            n.strip_prefix("python/")?
                .split('/')
                .next()?
                .strip_suffix(".dist-info")
                .map(str::to_string)
        })
        .map(|d| {
            let (n, v) = d.split_once('-').unwrap();
            format!("{}=={v}", n.to_lowercase().replace('_', "-"))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn the_zip(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("dist"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .expect("a zip in dist/")
}

#[test]
fn freeze_matches_pip_and_from_venv_builds_the_same_versions() {
    let env = TestEnv::new();
    let venv = env.work_dir().join("venv");
    let out = run(Command::new("python3.11").args(["-m", "venv"]).arg(&venv));
    assert!(out.status.success(), "{}", describe_output(&out));
    let out = run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "ldap3",
        "requests",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let pip_freeze =
        run(Command::new(venv.join("bin/pip")).args(["freeze", "--disable-pip-version-check"]));
    assert!(pip_freeze.status.success());
    let ours = run(env.cmd().args(["freeze", "--venv"]).arg(&venv));
    assert!(ours.status.success(), "{}", describe_output(&ours));
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&pip_freeze.stdout)
    );

    let out = run(env
        .cmd()
        .args(["build", "--from-venv"])
        .arg(&venv)
        .args(["--name", "fromvenv"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip = the_zip(env.work_dir());
    assert!(
        zip.ends_with("fromvenv-py3.11-x86_64.zip"),
        "the venv's Python (3.11) is the default target: {zip:?}"
    );
    let mut expected: Vec<String> = String::from_utf8_lossy(&pip_freeze.stdout)
        .lines()
        .map(|l| l.to_lowercase().replace('_', "-"))
        .collect();
    expected.sort();
    assert_eq!(layer_versions(&zip), expected);
    let names = zip_names(&zip);
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("python/pip") || n.starts_with("python/setuptools")),
        "{names:?}"
    );
}

/// A venv as a Mac or Windows machine leaves it: the real wheel of pydantic-core for that
/// platform unpacked into its site-packages, plus a pure package.
fn foreign_venv(env: &TestEnv, platform: &str, site: &str) -> (PathBuf, String) {
    let venv = env.work_dir().join(format!("venv-{platform}"));
    let wheels = env.work_dir().join(format!("wheels-{platform}"));
    let out = run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
        ])
        .args([
            "--platform",
            platform,
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "-d",
        ])
        .arg(&wheels)
        .args(["pydantic-core", "typing-extensions"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let site = venv.join(site);
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        venv.join("pyvenv.cfg"),
        "home = C:\\Python311\ninclude-system-site-packages = false\nversion = 3.11.9\n",
    )
    .unwrap();
    let mut core_version = String::new();
    for w in std::fs::read_dir(&wheels).unwrap().flatten() {
        let name = w.file_name().to_string_lossy().into_owned();
        if name.starts_with("pydantic_core-") {
            core_version = name.split('-').nth(1).unwrap().to_string();
            assert!(
                name.contains(if platform.starts_with("win") {
                    "win"
                } else {
                    "macosx"
                }),
                "{name}"
            );
        }
        let out = run(Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
            ])
            .arg(w.path())
            .arg(&site));
        assert!(out.status.success(), "{}", describe_output(&out));
    }
    assert!(!core_version.is_empty());
    (venv, core_version)
}

fn assert_imports_pydantic_core(zip: &Path, version: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new("python3.11").arg("-I").arg("-c").arg(
        "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2]); sys.path.insert(0, sys.argv[2] + '/python')\n\
         import pydantic_core, typing_extensions\nprint(pydantic_core.__version__, pydantic_core._pydantic_core.__file__)",
    ).arg(zip).arg(dir.path()));
    assert!(out.status.success(), "{}", describe_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with(version), "{stdout}");
    assert!(
        stdout.contains("cpython-311-x86_64-linux-gnu.so"),
        "not the Linux extension: {stdout}"
    );
}

#[test]
fn windows_venv_becomes_a_working_linux_layer() {
    let env = TestEnv::new();
    let (venv, version) = foreign_venv(&env, "win_amd64", "Lib/site-packages");
    let out = run(env
        .cmd()
        .args(["build", "--python", "3.11", "--from-venv"])
        .arg(&venv)
        .args(["--name", "win"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Windows wheel"),
        "the Windows binaries should be pointed out: {err}"
    );
    assert_imports_pydantic_core(&the_zip(env.work_dir()), &version);
}

#[test]
fn macos_venv_becomes_a_working_linux_layer() {
    let env = TestEnv::new();
    let (venv, version) = foreign_venv(&env, "macosx_11_0_arm64", "lib/python3.11/site-packages");
    let out = run(env
        .cmd()
        .args(["build", "--from-venv"])
        .arg(&venv)
        .args(["--name", "mac"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("macOS wheel"),
        "the macOS binaries should be pointed out: {err}"
    );
    assert_imports_pydantic_core(&the_zip(env.work_dir()), &version);
}

#[test]
fn init_is_idempotent_and_other_commands_read_its_file() {
    let env = TestEnv::new();
    std::fs::write(env.work_dir().join(".gitignore"), "target\nvenv/\n").unwrap();
    let out = run(env.cmd().args([
        "init", "--name", "demo", "--python", "3.11", "--arch", "arm64",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let read = |f: &str| std::fs::read(env.work_dir().join(f)).unwrap();
    let (toml1, ignore1, reqs1) = (
        read("pylayer.toml"),
        read(".gitignore"),
        read("requirements.txt"),
    );
    assert_eq!(
        String::from_utf8_lossy(&ignore1),
        "target\nvenv/\n.venv/\ndist/\n.pylayer/\n"
    );
    // Again, without flags or with the values the file already has: nothing changes (flags
    // with other values set those keys: tests/build_hermetic.rs).
    for args in [
        &["init"][..],
        &["init", "--name", "demo", "--python", "3.11"][..],
    ] {
        let out = run(env.cmd().args(args));
        assert!(out.status.success(), "{}", describe_output(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("nothing to change"),
            "{}",
            describe_output(&out)
        );
    }
    assert_eq!(read("pylayer.toml"), toml1);
    assert_eq!(read(".gitignore"), ignore1);
    assert_eq!(read("requirements.txt"), reqs1);
    // The saved settings drive a build: name, runtime and architecture come from the file.
    std::fs::write(env.work_dir().join("requirements.txt"), "six\n").unwrap();
    let out = run(env.cmd().arg("build"));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(env.work_dir().join("dist/demo-py3.11-arm64.zip").is_file());
    // A flag wins over the file.
    let out = run(env.cmd().args(["build", "--python", "3.12"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(env.work_dir().join("dist/demo-py3.12-arm64.zip").is_file());
}

#[test]
fn malformed_project_files_name_line_and_column_and_write_nothing() {
    let env = TestEnv::new();
    env.write("requirements.txt", "six\n");
    env.write(
        "pylayer.toml",
        "name = \"x\"\npython = [\"3.12\"\narch = \"x86_64\"\n",
    );
    let out = run(env.cmd().arg("build"));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pylayer.toml:3:"), "{err}");
    assert!(!env.work_dir().join("pylayer.lock").exists() && !env.work_dir().join("dist").exists());

    std::fs::remove_file(env.work_dir().join("pylayer.toml")).unwrap();
    env.write(
        "pylayer.lock",
        "version = 1\ninputs_digest = \"x\"\n[[target]]\npython = 3.12\n",
    );
    let out = run(env.cmd().arg("build"));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pylayer.lock:4:10"), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap(),
        "version = 1\ninputs_digest = \"x\"\n[[target]]\npython = 3.12\n"
    );
    assert!(!env.work_dir().join("dist").exists());
}

#[test]
fn exclusions_drop_what_only_they_needed() {
    let env = TestEnv::new();
    let out = run(env.cmd().args([
        "build",
        "boto3",
        "requests",
        "--python",
        "3.12",
        "--name",
        "ex",
        "--no-runtime-provided",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let versions = layer_versions(&the_zip(env.work_dir()));
    let names: Vec<&str> = versions
        .iter()
        .map(|v| v.split("==").next().unwrap())
        .collect();
    for gone in [
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "python-dateutil",
        "six",
    ] {
        assert!(
            !names.contains(&gone),
            "{gone} should be left out: {names:?}"
        );
    }
    for kept in ["requests", "urllib3", "idna", "certifi"] {
        assert!(
            names.contains(&kept),
            "{kept} is needed by requests: {names:?}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("versions may differ"));
    std::fs::remove_dir_all(env.work_dir().join("dist")).unwrap();
    let out = run(env.cmd().args([
        "build",
        "boto3",
        "requests",
        "--python",
        "3.12",
        "--name",
        "ex",
        "--exclude",
        "requests",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let versions = layer_versions(&the_zip(env.work_dir()));
    assert!(versions.iter().any(|v| v.starts_with("boto3==")));
    assert!(
        versions.iter().any(|v| v.starts_with("urllib3==")),
        "urllib3 is still needed by botocore"
    );
    assert!(
        !versions
            .iter()
            .any(|v| v.starts_with("requests==") || v.starts_with("idna==")),
        "{versions:?}"
    );
}
