//! The command-line surface as a user meets it: typed values and their hints, where settings
//! come from (flag > environment > pylayer.toml), colour, `--json` shapes, sizes with units,
//! `diff --exit-code`, layer directories, one wording for a missing file, and progress lines
//! in logs. Hermetic: wheels are built here and served from 127.0.0.1.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use support::*;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_code(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", describe_output(out));
}

/// An index serving one pure wheel `demo 1.0` (module `demo`).
fn demo_index(dir: &Path, opts: IndexOptions) -> TestIndex {
    let wheel = WheelSpec::new("demo", "1.0")
        .no_files()
        .file("demo/__init__.py", "VALUE = 1\n")
        .build(dir);
    TestIndex::start(&[wheel], opts)
}

/// `pylayer build demo` for python3.12/x86_64 into `dist/`; returns the zip.
fn build_demo(env: &TestEnv, index: &TestIndex, name: &str) -> PathBuf {
    let out = run(env.cmd().args([
        "build",
        "demo",
        "--index-url",
        &index.url,
        "--python",
        "3.12",
        "--name",
        name,
    ]));
    assert_code(&out, 0);
    env.work_dir()
        .join(format!("dist/{name}-py3.12-x86_64.zip"))
}

fn unzip_to(zip: &Path, dir: &Path) {
    let mut a = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    a.extract(dir).unwrap();
}

/// The targets a lock holds, as `3.X/arch`.
fn lock_targets(env: &TestEnv) -> Vec<String> {
    let text = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&text).unwrap();
    let mut out: Vec<String> = lock["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}/{}",
                t["python"].as_str().unwrap(),
                t["arch"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Typed values
// ---------------------------------------------------------------------------------------------

#[test]
fn python_patch_release_is_refused_with_the_minor_to_use() {
    let env = TestEnv::new();
    let out = run(env.cmd().args(["lock", "demo", "--python", "3.11.4"]));
    assert_code(&out, 2);
    assert!(stderr(&out).contains("use 3.11"), "{}", stderr(&out));
    // A flag that takes one runtime says so for a list.
    let out = run(env.cmd().args(["check", "x.zip", "--python", "3.11,3.12"]));
    assert_code(&out, 2);
    assert!(stderr(&out).contains("repeat"), "{}", stderr(&out));
}

#[test]
fn comma_separated_runtimes_and_architectures_are_several_targets() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = demo_index(dir.path(), IndexOptions::default());
    let out = run(env.cmd().args([
        "lock",
        "demo",
        "--index-url",
        &index.url,
        "--python",
        "3.11,3.12",
        "--arch",
        "x86_64,arm64",
    ]));
    assert_code(&out, 0);
    assert_eq!(
        lock_targets(&env),
        ["3.11/arm64", "3.11/x86_64", "3.12/arm64", "3.12/x86_64"]
    );
}

#[test]
fn unknown_arch_and_layout_list_the_valid_values() {
    let env = TestEnv::new();
    let out = run(env.cmd().args(["lock", "demo", "--arch", "arm"]));
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("x86_64") && err.contains("arm64"), "{err}");
    let out = run(env.cmd().args(["build", "demo", "--layout", "flat"]));
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("python") && err.contains("site-packages"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Precedence: flag > environment > pylayer.toml
// ---------------------------------------------------------------------------------------------

/// An index URL nothing listens on.
fn dead_index() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/simple/")
}

#[test]
fn environment_index_beats_pylayer_toml_and_the_flag_beats_both() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = demo_index(dir.path(), IndexOptions::default());
    let dead = dead_index();
    env.write("pylayer.toml", &format!("index-url = \"{dead}\"\n"));

    // pylayer.toml alone points at the dead index: the lock fails.
    let out = run(env.cmd().args(["lock", "demo"]));
    assert_code(&out, 1);

    // PIP_INDEX_URL wins over pylayer.toml; --verbose says where the index came from.
    let out = run(env
        .cmd()
        .args(["lock", "demo", "--verbose"])
        .env("PIP_INDEX_URL", &index.url));
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains(&format!("index: {} (from PIP_INDEX_URL)", index.url)),
        "{}",
        stderr(&out)
    );

    // PYLAYER_INDEX_URL wins over PIP_INDEX_URL.
    std::fs::remove_file(env.work_dir().join("pylayer.lock")).unwrap();
    let out = run(env
        .cmd()
        .args(["lock", "demo", "-v"])
        .env("PYLAYER_INDEX_URL", &index.url)
        .env("PIP_INDEX_URL", &dead));
    assert_code(&out, 0);
    assert!(stderr(&out).contains("(from PYLAYER_INDEX_URL)"));

    // The flag wins over the environment.
    std::fs::remove_file(env.work_dir().join("pylayer.lock")).unwrap();
    let out = run(env
        .cmd()
        .args(["lock", "demo", "--index-url", &index.url])
        .env("PYLAYER_INDEX_URL", &dead)
        .env("PIP_INDEX_URL", &dead));
    assert_code(&out, 0);
}

#[test]
fn environment_python_beats_pylayer_toml() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = demo_index(dir.path(), IndexOptions::default());
    env.write("pylayer.toml", "python = \"3.11\"\narch = \"arm64\"\n");
    let lock = |extra: &[&str], python_env: Option<&str>| {
        let mut cmd = env.cmd();
        cmd.args(["lock", "demo", "--index-url", &index.url])
            .args(extra);
        if let Some(p) = python_env {
            cmd.env("PYLAYER_PYTHON", p);
        }
        let out = run(&mut cmd);
        assert_code(&out, 0);
        let t = lock_targets(&env);
        std::fs::remove_file(env.work_dir().join("pylayer.lock")).unwrap();
        t
    };
    assert_eq!(lock(&[], None), ["3.11/arm64"]);
    assert_eq!(lock(&[], Some("3.13")), ["3.13/arm64"]);
    assert_eq!(lock(&["--python", "3.10"], Some("3.13")), ["3.10/arm64"]);
}

#[test]
fn a_bad_runtime_in_pylayer_toml_names_the_file() {
    let env = TestEnv::new();
    env.write("pylayer.toml", "python = \"3.12.1\"\n");
    let out = run(env.cmd().args(["lock", "demo"]));
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("pylayer.toml") && err.contains("use 3.12"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Colour and verbosity
// ---------------------------------------------------------------------------------------------

#[test]
fn colour_follows_no_color_and_the_color_flag() {
    let env = TestEnv::new();
    let esc = |out: &Output| stderr(out).contains('\u{1b}');
    // The test environment sets NO_COLOR=1; stderr is a pipe anyway.
    let out = run(env.cmd().args(["check", "missing.zip"]));
    assert_code(&out, 2);
    assert!(!esc(&out), "{:?}", stderr(&out));
    assert!(stderr(&out).starts_with("error: "));
    // --color always wins over NO_COLOR and a pipe.
    let out = run(env
        .cmd()
        .args(["--color", "always", "check", "missing.zip"]));
    assert_code(&out, 2);
    assert!(esc(&out), "{:?}", stderr(&out));
    assert!(
        stderr(&out).contains("\u{1b}[1m\u{1b}[31merror"),
        "{:?}",
        stderr(&out)
    );
    // CLICOLOR_FORCE colours a pipe when NO_COLOR is unset; --color never wins over it.
    let out = run(env
        .cmd()
        .args(["check", "missing.zip"])
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1"));
    assert!(esc(&out), "{:?}", stderr(&out));
    let out = run(env
        .cmd()
        .args(["check", "missing.zip", "--color", "never"])
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1"));
    assert!(!esc(&out), "{:?}", stderr(&out));
}

#[test]
fn quiet_keeps_only_the_result() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = demo_index(dir.path(), IndexOptions::default());
    let args = ["lock", "demo", "--index-url", &index.url, "--dry-run"];
    let out = run(env.cmd().args(args));
    assert_code(&out, 0);
    assert!(stderr(&out).contains("pins for 1 target(s)"));
    let out = run(env.cmd().args(args).arg("--quiet"));
    assert_code(&out, 0);
    assert_eq!(stderr(&out), "", "--quiet printed on stderr");
    assert!(stdout(&out).contains("demo==1.0"));
}

// ---------------------------------------------------------------------------------------------
// JSON shapes, sizes, diff, directories, missing files
// ---------------------------------------------------------------------------------------------

#[test]
fn build_json_is_an_object_with_layers_even_for_one_target() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = demo_index(dir.path(), IndexOptions::default());
    let out = run(env
        .cmd()
        .args(["build", "demo", "--index-url", &index.url, "--json"]));
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers = v["layers"].as_array().expect("{\"layers\": [...]}");
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["python"], "3.12");
}

#[test]
fn function_size_takes_units() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = demo_index(dir.path(), IndexOptions::default());
    let zip = build_demo(&env, &index, "sized");
    let check = |size: &str| {
        run(env
            .cmd()
            .arg("check")
            .arg(&zip)
            .args(["--function-size", size, "--json"]))
    };
    assert_code(&check("1KiB"), 0);
    // 262,144,000 bytes is the limit: 262.2MB of function code alone is over it.
    let over = check("262.2MB");
    assert_code(&over, 1);
    assert!(stdout(&over).contains("262200000") || stdout(&over).contains("limit"));
    assert_code(&check("262144001"), 1);
    let bad = check("12 parsecs");
    assert_code(&bad, 2);
    assert!(stderr(&bad).contains("240MB"), "{}", stderr(&bad));
}

#[test]
fn diff_exit_code_says_whether_layers_differ() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let wheels = [
        WheelSpec::new("demo", "1.0")
            .no_files()
            .file("demo/__init__.py", "V = 1\n")
            .build(dir.path()),
        WheelSpec::new("demo", "2.0")
            .no_files()
            .file("demo/__init__.py", "V = 2\n")
            .build(dir.path()),
    ];
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let build = |pin: &str, name: &str| {
        let out = run(env.cmd().args([
            "build",
            pin,
            "--index-url",
            &index.url,
            "--name",
            name,
            "--lock",
            &format!("{name}.lock"),
        ]));
        assert_code(&out, 0);
        env.work_dir()
            .join(format!("dist/{name}-py3.12-x86_64.zip"))
    };
    let one = build("demo==1.0", "one");
    let same = build("demo==1.0", "same");
    let two = build("demo==2.0", "two");
    let diff = |a: &Path, b: &Path| run(env.cmd().arg("diff").arg(a).arg(b).arg("--exit-code"));
    assert_code(&diff(&one, &same), 0);
    let out = diff(&one, &two);
    assert_code(&out, 1);
    assert!(stdout(&out).contains("upgraded"), "{}", stdout(&out));
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
    // Without the flag a difference is not a failure.
    assert_code(&run(env.cmd().arg("diff").arg(&one).arg(&two)), 0);
    // A directory compares like the zip it was unpacked from.
    let unpacked = env.work_dir().join("one-dir");
    unzip_to(&one, &unpacked);
    assert_code(&diff(&unpacked, &one), 0);
}

#[test]
fn inspect_and_test_take_a_layer_directory() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = demo_index(dir.path(), IndexOptions::default());
    let zip = build_demo(&env, &index, "dirs");
    let layer_dir = env.work_dir().join("layer");
    unzip_to(&zip, &layer_dir);

    let out = run(env.cmd().arg("inspect").arg(&layer_dir).arg("--json"));
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["distributions"][0]["name"], "demo");
    assert_eq!(v["zip"], layer_dir.display().to_string());

    let python = Path::new("/usr/bin/python3.11");
    if !python.exists() {
        support::missing_tool(&format!(
            "{} is needed to test `pylayer test` on a directory",
            python.display()
        ));
        return;
    }
    let out = run(env
        .cmd()
        .arg("test")
        .arg(&layer_dir)
        .args(["--python", "3.11", "--json", "--interpreter"])
        .arg(python));
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["modules"][0]["module"], "demo");
    assert_eq!(v["modules"][0]["status"], "ok");
}

#[test]
fn a_missing_layer_is_worded_the_same_by_every_command() {
    let env = TestEnv::new();
    let mut commands: Vec<Vec<&str>> = vec![
        vec!["check", "gone.zip", "--python", "3.12", "--arch", "x86_64"],
        vec!["inspect", "gone.zip"],
        vec!["test", "gone.zip"],
        vec!["diff", "gone.zip", "gone.zip"],
    ];
    if cfg!(feature = "aws") {
        commands.push(vec!["publish", "gone.zip"]);
    }
    for args in commands {
        let out = run(env.cmd().args(&args));
        assert_code(&out, 2);
        let err = stderr(&out);
        assert!(
            err.starts_with("error: gone.zip does not exist: ") && err.contains("dist/"),
            "{args:?}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Progress in logs
// ---------------------------------------------------------------------------------------------

#[test]
fn a_slow_index_prints_progress_lines_when_stderr_is_not_a_terminal() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let wheels = [
        WheelSpec::new("demo", "1.0")
            .requires("dep")
            .no_files()
            .file("demo/__init__.py", "import dep\n")
            .build(dir.path()),
        WheelSpec::new("dep", "1.0")
            .no_files()
            .file("dep/__init__.py", "# padding\n".repeat(20_000))
            .build(dir.path()),
    ];
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            delay: Duration::from_millis(400),
            ..IndexOptions::default()
        },
    );
    let out = run(env
        .cmd()
        .args(["build", "demo", "--index-url", &index.url])
        .env("PYLAYER_PROGRESS_INTERVAL", "0.1"));
    assert_code(&out, 0);
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("progress: resolving python3.12/x86_64: ")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("progress: downloading wheels: ")),
        "{err}"
    );
    // --quiet silences them.
    let env = TestEnv::new();
    let out = run(env
        .cmd()
        .args(["build", "demo", "--index-url", &index.url, "--quiet"])
        .env("PYLAYER_PROGRESS_INTERVAL", "0.1"));
    assert_code(&out, 0);
    assert!(!stderr(&out).contains("progress: "), "{}", stderr(&out));
    // The check's notes (this layer has no bytecode) are advice, left out by --quiet too;
    // without it they are shown.
    assert!(!stderr(&out).contains("no-bytecode"), "{}", stderr(&out));
    let out = run(env.cmd().args(["build", "demo", "--index-url", &index.url]));
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("note[no-bytecode]"),
        "{}",
        stderr(&out)
    );
}
