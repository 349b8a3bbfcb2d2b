//! Shapes found building the most downloaded distributions as layers (bench/top-packages,
//! docs/real-world.md), each rebuilt here from wheels the test makes and served on
//! 127.0.0.1: vendored dist-info, a stale top_level.txt entry, another Python's extension
//! beside the right one, a module needing an extra, an undeclared import, a
//! `python_full_version` marker, and two distributions writing one path.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Builds `reqs` for python3.`minor`/x86_64 from `wheels`; returns the zip and the output.
fn build(
    env: &TestEnv,
    wheels: &[PathBuf],
    reqs: &[&str],
    minor: u8,
    extra: &[&str],
) -> (PathBuf, Output) {
    let index = TestIndex::start(wheels, IndexOptions::default());
    let python = format!("3.{minor}");
    let out = run(env
        .cmd()
        .arg("build")
        .args(reqs)
        .args([
            "--index-url",
            &index.url,
            "--name",
            "shape",
            "--python",
            &python,
        ])
        .args(["--arch", "x86_64"])
        .args(extra));
    let zip = env
        .work_dir()
        .join(format!("dist/shape-py3.{minor}-x86_64.zip"));
    (zip, out)
}

/// Whether a CPython 3.`minor` is on this machine for `pylayer test` (else the test is
/// skipped, or fails under CI).
fn have_python(minor: u8) -> bool {
    let name = format!("python3.{minor}");
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(&name).is_file()))
        .unwrap_or(false);
    let pyenv = std::fs::read_dir("/root/.pyenv/versions")
        .map(|rd| {
            rd.flatten()
                .any(|e| e.path().join("bin").join(&name).is_file())
        })
        .unwrap_or(false);
    if !(on_path || pyenv) {
        support::missing_tool(&format!("{name} is needed to import the layer"));
        return false;
    }
    true
}

fn test_json(env: &TestEnv, zip: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let out = run(env.cmd().arg("test").arg(zip).arg("--json").args(extra));
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, v)
}

fn module<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["modules"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["module"] == name))
        .unwrap_or_else(|| panic!("{name} not tested: {v:#}"))
}

fn modules(v: &serde_json::Value) -> Vec<String> {
    let mut m: Vec<String> = v["modules"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["module"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    m.sort();
    m
}

#[test]
fn vendored_dist_info_and_stale_or_data_top_levels_are_not_modules() {
    if !have_python(12) {
        return;
    }
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    // setuptools-like: vendored distributions with their own dist-info, one of them
    // shipping a `bin` script directory (as setuptools/_vendor does).
    let tool = WheelSpec::new("tooling", "80.0")
        .file("tooling/_vendor/__init__.py", "")
        .file(
            "tooling/_vendor/zipp-3.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: zipp\nVersion: 3.0\n\n",
        )
        .file("tooling/_vendor/zipp-3.0.dist-info/top_level.txt", "zipp\n")
        .file(
            "tooling/_vendor/zipp-3.0.dist-info/RECORD",
            "zipp/__init__.py,,\n../../bin/zippy,,\n",
        )
        .file(
            "tooling/_vendor/zipp/__init__.py",
            "raise ImportError('vendored')\n",
        )
        .file(
            "tooling/_vendor/wheel-0.45.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: wheel\nVersion: 0.45\n\n",
        )
        .file(
            "tooling/_vendor/wheel-0.45.dist-info/top_level.txt",
            "wheel\n",
        )
        .file("tooling/_vendor/wheel/__init__.py", "")
        .file("tooling/_vendor/bin/zippy", "#!/bin/sh\n");
    // azure-identity-like: top_level.txt names `images` (absent from the wheel) and
    // `docs` (a directory of data files only).
    let az = WheelSpec::new("azi", "1.0")
        .file("azi-1.0.dist-info/top_level.txt", "azi\ndocs\nimages\n")
        .file("docs/logo.png", b"\x89PNG....".to_vec())
        .file("docs/readme.rst", "data\n");
    let wheels = vec![tool.build(&dir), az.build(&dir)];
    let (zip, out) = build(&env, &wheels, &["tooling", "azi"], 12, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let (out, v) = test_json(&env, &zip, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(modules(&v), ["azi", "tooling"], "{v:#}");
}

#[test]
fn another_pythons_extension_beside_the_right_one_is_a_warning() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let tag = "cp312-cp312-manylinux_2_17_x86_64";
    let both = WheelSpec::new("snowy", "5.2")
        .tag(tag)
        .file(
            "snowy/arrow.cpython-311-x86_64-linux-gnu.so",
            "not loaded\n",
        )
        .file("snowy/arrow.cpython-312-x86_64-linux-gnu.so", "loaded\n");
    let (_, out) = build(&env, &[both.build(&dir)], &["snowy"], 12, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(err.contains("warning[python-version]"), "{err}");
    assert!(
        err.contains("arrow.cpython-312-x86_64-linux-gnu.so"),
        "{err}"
    );

    // Alone, the other Python's module is still an error: python3.12 has nothing to import.
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let alone = WheelSpec::new("snowy", "5.2").tag(tag).file(
        "snowy/arrow.cpython-311-x86_64-linux-gnu.so",
        "not loaded\n",
    );
    let (_, out) = build(&env, &[alone.build(&dir)], &["snowy"], 12, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("error[python-version]"),
        "{}",
        stderr(&out)
    );
}

/// black-like (a second module needing an extra) and soupsieve-like (imports a module it
/// does not declare) layers.
fn optional_wheels(dir: &Path) -> Vec<PathBuf> {
    vec![
        WheelSpec::new("blk", "25.0")
            .extra("d")
            .requires("aiohttpx>=3; extra == \"d\"")
            .file("blk-25.0.dist-info/top_level.txt", "blk\nblkd\n")
            .file(
                "blkd/__init__.py",
                "try:\n    import aiohttpx\nexcept ImportError as e:\n    raise ImportError(f\"aiohttpx dependency is not installed: {e}. Please re-install blk with the '[d]' extra\") from None\n",
            )
            .build(dir),
        WheelSpec::new("aiohttpx", "3.1").build(dir),
        // google-cloud-aiplatform-like: `vray` imports a module of a namespace package
        // (`gns.bq_storage`) that only the `ray` extra brings.
        WheelSpec::new("gcp-ai", "1.0")
            .extra("ray")
            .requires("gns-bq-storage>=2; extra == 'ray'")
            .file("gcp_ai-1.0.dist-info/top_level.txt", "gcp_ai\ngns\nvray\n")
            .file("gns/ai/__init__.py", "")
            .file("vray/__init__.py", "from gns import bq_storage\n")
            .build(dir),
        WheelSpec::new("gns-bq-storage", "2.0")
            .no_files()
            .file("gns/bq_storage/__init__.py", "")
            .build(dir),
        WheelSpec::new("soupy", "2.0")
            .no_files()
            .file("soupy/__init__.py", "import bs9\n")
            .build(dir),
        WheelSpec::new("broken", "1.0")
            .no_files()
            .file("broken/__init__.py", "raise ValueError('broken on its own')\n")
            .build(dir),
    ]
}

#[test]
fn a_module_lacking_an_extra_or_an_undeclared_dependency_is_a_warning() {
    if !have_python(12) {
        return;
    }
    let env = TestEnv::new();
    let wheels = optional_wheels(&env.work_dir().join("wheels"));
    let (zip, out) = build(&env, &wheels, &["blk", "soupy", "gcp-ai"], 12, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));

    let (out, v) = test_json(&env, &zip, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(module(&v, "blk")["status"], "ok", "{v:#}");
    let blkd = module(&v, "blkd");
    assert_eq!(blkd["status"], "warning", "{v:#}");
    let why = blkd["error"].as_str().unwrap_or("");
    assert!(
        why.contains("extra `d`") && why.contains("`blk[d]`"),
        "{why}"
    );
    let soupy = module(&v, "soupy");
    assert_eq!(soupy["status"], "warning", "{v:#}");
    let why = soupy["error"].as_str().unwrap_or("");
    assert!(why.contains("`bs9`") && why.contains("declar"), "{why}");
    assert!(
        v["failed"].as_array().is_some_and(|f| f.is_empty()),
        "{v:#}"
    );
    let vray = module(&v, "vray");
    assert_eq!(vray["status"], "warning", "{v:#}");
    let why = vray["error"].as_str().unwrap_or("");
    assert!(
        why.contains("extra `ray`") && why.contains("gns-bq-storage"),
        "{why}"
    );
    assert!(stderr(&out).contains("--strict"), "{}", stderr(&out));

    // --strict keeps every failure an error, and so does a module named with --import.
    let (out, v) = test_json(&env, &zip, &["--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert_eq!(module(&v, "blkd")["status"], "failed", "{v:#}");
    let (out, _) = test_json(&env, &zip, &["--import", "blkd"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
}

#[test]
fn a_module_broken_on_its_own_is_still_an_error() {
    if !have_python(12) {
        return;
    }
    let env = TestEnv::new();
    let wheels = optional_wheels(&env.work_dir().join("wheels"));
    let (zip, out) = build(&env, &wheels, &["broken", "blk"], 12, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let (out, v) = test_json(&env, &zip, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert_eq!(module(&v, "broken")["status"], "failed", "{v:#}");
    assert_eq!(v["failed"], serde_json::json!(["broken"]), "{v:#}");
}

#[test]
fn an_interpreter_older_than_the_runtime_names_the_markers_that_differ() {
    if !have_python(11) {
        return;
    }
    // Lambda's python3.11 is 3.11.13 (src/domain.rs); every 3.11 on a machine here is older
    // than 3.11.12, where this marker flips.
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let wheels = vec![
        WheelSpec::new("rds", "5.0")
            .no_files()
            .requires("atimeout>=4; python_full_version < \"3.11.12\"")
            .file(
                "rds/__init__.py",
                "import sys\nif sys.version_info < (3, 11, 12):\n    import atimeout\n",
            )
            .build(&dir),
        WheelSpec::new("atimeout", "4.0").build(&dir),
    ];
    let (zip, out) = build(&env, &wheels, &["rds"], 11, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let names: Vec<String> = {
        let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        (0..z.len())
            .map(|i| z.by_index_raw(i).unwrap().name().unwrap().to_string())
            .collect()
    };
    assert!(!names.iter().any(|n| n.contains("atimeout")), "{names:?}");

    let (out, v) = test_json(&env, &zip, &[]);
    let err = stderr(&out);
    assert!(
        err.contains("older than the 3.11.13")
            && err.contains("rds 5.0: atimeout>=4; python_full_version < \"3.11.12\""),
        "{err}"
    );
    assert!(
        v["warnings"].as_array().is_some_and(|w| !w.is_empty()),
        "{v:#}"
    );
    // The import that fails only because of it is a warning that says so.
    assert!(out.status.success(), "{}", describe_output(&out));
    let rds = module(&v, "rds");
    assert_eq!(rds["status"], "warning", "{v:#}");
    assert!(
        rds["error"]
            .as_str()
            .unwrap_or("")
            .contains("false on Lambda"),
        "{v:#}"
    );
}

#[test]
fn two_distributions_writing_one_path_stop_the_build_unless_a_winner_is_named() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let wheels = vec![
        WheelSpec::new("flashy", "0.2")
            .file("build_backend.py", "WHO = 'flashy'\n")
            .build(&dir),
        WheelSpec::new("dlpacky", "0.1")
            .file("build_backend.py", "WHO = 'dlpacky'\n")
            .build(&dir),
    ];
    let (zip, out) = build(&env, &wheels, &["flashy", "dlpacky"], 12, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    for s in [
        "flashy 0.2",
        "dlpacky 0.1",
        "build_backend.py",
        "--overwrite build_backend.py=",
    ] {
        assert!(err.contains(s), "`{s}` missing from: {err}");
    }
    assert!(!zip.exists());

    let read = |zip: &Path, name: &str| {
        let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut z.by_name(name).unwrap(), &mut s).unwrap();
        s
    };
    // The flag names the winner, whichever order the two come in.
    for winner in ["flashy", "dlpacky"] {
        let (zip, out) = build(
            &env,
            &wheels,
            &["flashy", "dlpacky"],
            12,
            &["--overwrite", &format!("build_backend.py={winner}")],
        );
        assert!(out.status.success(), "{}", describe_output(&out));
        assert_eq!(
            read(&zip, "python/build_backend.py"),
            format!("WHO = '{winner}'\n")
        );
        let loser = if winner == "flashy" {
            "dlpacky"
        } else {
            "flashy"
        };
        let version = |n: &str| if n == "flashy" { "0.2" } else { "0.1" };
        let rec = |n: &str| read(&zip, &format!("python/{n}-{}.dist-info/RECORD", version(n)));
        assert!(rec(winner).contains("build_backend.py,"), "{}", rec(winner));
        assert!(!rec(loser).contains("build_backend.py,"), "{}", rec(loser));
    }
    // So does pylayer.toml; a distribution that is not one of the two does not count.
    env.write(
        "pylayer.toml",
        "overwrite = [\"build_backend.py=dlpacky\"]\n",
    );
    let (zip, out) = build(&env, &wheels, &["flashy", "dlpacky"], 12, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(read(&zip, "python/build_backend.py"), "WHO = 'dlpacky'\n");
    env.write("pylayer.toml", "overwrite = [\"build_backend.py=other\"]\n");
    let (_, out) = build(&env, &wheels, &["flashy", "dlpacky"], 12, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
}
