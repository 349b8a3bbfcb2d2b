//! pylayer installed the way Python developers install tools, with the real tools: the wheel
//! maturin builds (the one release build of a CI run), installed into a fresh venv by the
//! GitHub Action's install step, then `pylayer --version` and a build of the ldap3 example
//! from that venv's bin/; and the repository's pre-commit hooks under the real `pre-commit`.
//! Both need the public package index (ldap3 itself; maturin for pre-commit's install).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> Option<PathBuf> {
    let found = test_tool(name);
    if found.is_none() {
        missing_tool(&format!("{name} is not installed"));
    }
    found
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn wheel_installs_into_a_fresh_venv_and_builds_the_ldap3_example() {
    let Some(maturin) = tool("maturin") else {
        return;
    };
    let wheels = tempfile::tempdir().unwrap();
    // `--release` into the project's target dir: the same artifacts `cargo build --release`
    // makes, so whichever runs second reuses the first.
    let out = run_with_timeout(
        Command::new(&maturin)
            .args(["build", "--release", "--locked", "--out"])
            .arg(wheels.path())
            .arg("--manifest-path")
            .arg(repo().join("Cargo.toml")),
        Duration::from_secs(60 * 60),
    );
    assert!(
        out.status.success(),
        "maturin build: {}",
        describe_output(&out)
    );
    let wheel: Vec<PathBuf> = std::fs::read_dir(wheels.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(wheel.len(), 1, "{wheel:?}");
    let wheel = &wheel[0];
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        name.starts_with(&format!("pylayer-{version}-py3-none-manylinux_")),
        "not a py3-none-manylinux wheel: {name}"
    );

    // The action's install step: a fresh venv, the wheel, bin/ written to GITHUB_PATH.
    let runner = tempfile::tempdir().unwrap();
    let github_path = runner.path().join("github_path");
    let out = run(Command::new("bash")
        .arg(repo().join("scripts/action/install.sh"))
        .env("INPUT_WHEEL", wheel)
        .env("RUNNER_TEMP", runner.path())
        .env("GITHUB_PATH", &github_path));
    assert!(
        out.status.success(),
        "install.sh: {}",
        describe_output(&out)
    );
    let bin = runner.path().join("pylayer-venv/bin");
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap().trim(),
        bin.display().to_string()
    );
    let pylayer = bin.join("pylayer");

    let out = run(Command::new(&pylayer).arg("--version"));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(stdout(&out).trim(), format!("pylayer {version}"));
    // Stripped: no symbol table left in the installed binary.
    let bytes = std::fs::read(&pylayer).unwrap();
    let elf = object::File::parse(&*bytes).unwrap();
    assert!(
        object::Object::symbols(&elf).next().is_none(),
        "the wheel's binary still has symbols"
    );

    let work = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&pylayer);
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && (k.starts_with("PIP_") || k.starts_with("PYLAYER_"))
        {
            cmd.env_remove(k);
        }
    }
    let out = run_with_timeout(
        cmd.current_dir(work.path())
            .env("PYLAYER_CACHE_DIR", cache.path())
            .arg("build")
            .arg("-r")
            .arg(repo().join("examples/ldap3/requirements.txt"))
            .args(["--python", "3.12", "--arch", "x86_64"]),
        Duration::from_secs(600),
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip = work.path().join("dist/ldap3-py3.12-x86_64.zip");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    for entry in ["python/ldap3/__init__.py", "python/pyasn1/__init__.py"] {
        assert!(archive.by_name(entry).is_ok(), "{entry} not in {zip:?}");
    }
}

/// A git repository holding the working tree as it is now (committed or not), so the hooks
/// pre-commit installs are the ones under test.
fn hook_repo(dir: &Path) -> String {
    let files = run(Command::new("git").current_dir(repo()).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    assert!(files.status.success(), "{}", describe_output(&files));
    for rel in files.stdout.split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let from = repo().join(rel);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = dir.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "snapshot"]);
    let head = run(Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"]));
    stdout(&head).trim().to_string()
}

fn git(dir: &Path, args: &[&str]) {
    let out = run(Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        describe_output(&out)
    );
}

#[test]
fn pre_commit_hooks_pass_in_sync_and_fail_on_an_edited_requirements_txt() {
    let Some(pre_commit) = tool("pre-commit") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let hooks = tmp.path().join("hooks");
    let rev = hook_repo(&hooks);

    let wheel_dir = tmp.path().join("wheels");
    let index = TestIndex::start(
        &[
            WheelSpec::new("app", "1.0").build(&wheel_dir),
            WheelSpec::new("other", "2.0").build(&wheel_dir),
        ],
        IndexOptions::default(),
    );
    let project = tmp.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("requirements.txt"), "app\n").unwrap();
    std::fs::write(project.join(".gitignore"), "dist/\n").unwrap();
    std::fs::write(
        project.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: pylayer-lock\n        args: [-r, requirements.txt]\n      - id: pylayer-check\n",
            hooks.display()
        ),
    )
    .unwrap();
    let cache = tmp.path().join("cache");
    // The lock and a layer in dist/, made by the pylayer under test.
    let out = run(pylayer_with_cache(&cache).current_dir(&project).args([
        "build",
        "-r",
        "requirements.txt",
        "--index-url",
        &index.url,
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    git(&project, &["init", "-q"]);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "-m", "layer"]);

    let pre_commit_run = || {
        let mut cmd = Command::new(&pre_commit);
        for (k, _) in std::env::vars_os() {
            if let Some(k) = k.to_str()
                && k.starts_with("PYLAYER_")
            {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(&project)
            .args([
                "run",
                "--all-files",
                "--show-diff-on-failure",
                "--color",
                "never",
            ])
            .env("PRE_COMMIT_HOME", tmp.path().join("pre-commit-home"))
            .env("PYLAYER_INDEX_URL", &index.url)
            .env("PYLAYER_CACHE_DIR", &cache)
            .env("NO_PROXY", "127.0.0.1,localhost")
            // pre-commit installs the hooks' pylayer with pip, which builds it with maturin.
            // CI time: build it in the dev profile into this build's target directory, so the
            // dependencies `cargo test` compiled are reused (the wheel test covers --release).
            .env("MATURIN_PEP517_ARGS", "--profile dev")
            .env("CARGO_TARGET_DIR", target_dir());
        run_with_timeout(&mut cmd, Duration::from_secs(40 * 60))
    };
    let out = pre_commit_run();
    assert!(out.status.success(), "in sync: {}", describe_output(&out));
    let text = stdout(&out);
    assert!(
        text.contains("pylayer.lock is up to date") && text.contains("Passed"),
        "{text}"
    );
    assert!(text.contains("pylayer check (layers in dist/)"), "{text}");

    std::fs::write(project.join("requirements.txt"), "app\nother\n").unwrap();
    let out = pre_commit_run();
    assert_eq!(
        out.status.code(),
        Some(1),
        "edited: {}",
        describe_output(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("+ other==2.0"), "{text}");
    assert!(text.contains("no longer matches its inputs"), "{text}");
}

/// The target directory this test binary was built in (`…/target/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("test binary under <target>/<profile>/deps")
        .to_path_buf()
}
