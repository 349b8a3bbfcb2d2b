//! Source distributions from the public index (issue 17): docopt (sdist only, pure Python)
//! builds and imports on python3.11; python-ldap (a C extension) is refused naming the
//! compiler need; `--from-venv` of a venv holding docopt builds.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{TestEnv, describe_output, run};

fn the_zip(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("dist"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .expect("a zip in dist/")
}

/// Unzips the layer and imports `module` from it with an isolated python3.11.
fn imports_from_layer(zip: &Path, module: &str) {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "import sys, zipfile\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])\n\
         sys.path.insert(0, sys.argv[2] + '/python')\nimport {module}\nprint({module}.__file__)\n"
    );
    let out = run(Command::new("python3.11")
        .arg("-I")
        .arg("-c")
        .arg(&script)
        .arg(zip)
        .arg(dir.path()));
    assert!(out.status.success(), "{}", describe_output(&out));
    let file = String::from_utf8_lossy(&out.stdout);
    assert!(
        file.contains(&dir.path().display().to_string()),
        "{module} was not imported from the layer: {file}"
    );
}

#[test]
fn docopt_builds_from_its_sdist_and_imports_on_python311() {
    let env = TestEnv::new();
    let out = run(env.cmd().args([
        "build", "docopt", "--python", "3.11", "--arch", "x86_64", "--name", "d",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("building docopt 0.6.2 from source"), "{err}");
    let lock = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
    assert!(lock.contains("docopt-0.6.2.tar.gz"), "{lock}");
    assert!(lock.contains("built_from_source = true"), "{lock}");
    assert!(!lock.contains(env.cache_dir().to_str().unwrap()), "{lock}");
    imports_from_layer(&the_zip(env.work_dir()), "docopt");
}

#[test]
fn python_ldap_is_refused_naming_the_compiler_need() {
    let env = TestEnv::new();
    let out = run(env
        .cmd()
        .args(["lock", "--dry-run", "--python", "3.12", "python-ldap"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("python-ldap"), "{err}");
    assert!(err.contains("needs compiling"), "{err}");
    assert!(err.contains("--find-links"), "{err}");
    assert!(!env.work_dir().join("pylayer.lock").exists());
}

#[test]
fn from_venv_with_docopt_builds() {
    let env = TestEnv::new();
    let venv = env.work_dir().join("venv");
    let out = run(Command::new("python3.11").args(["-m", "venv"]).arg(&venv));
    assert!(out.status.success(), "{}", describe_output(&out));
    let out = run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "docopt==0.6.2",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let out = run(env
        .cmd()
        .args(["build", "--from-venv"])
        .arg(&venv)
        .args(["--name", "fromvenv"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip = the_zip(env.work_dir());
    assert!(zip.ends_with("fromvenv-py3.11-x86_64.zip"), "{zip:?}");
    imports_from_layer(&zip, "docopt");
}
