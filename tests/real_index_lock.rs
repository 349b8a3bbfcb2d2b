//! `pylayer lock` against the real public package index and real wheels: this is where
//! layer builders fail (glibc ceilings, platform tags, sdist-only packages).
//! uv is the oracle where it can express the target (`uv pip compile --python-platform`).

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use support::{TestEnv, describe_output, run};

/// `name -> (version, filename)` from `pylayer lock --dry-run` output for one target.
fn pins(stdout: &str) -> BTreeMap<String, (String, String)> {
    stdout
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("=="))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let pin = parts.next()?;
            let file = parts.next()?.to_string();
            let (n, v) = pin.split_once("==")?;
            Some((n.to_string(), (v.to_string(), file)))
        })
        .collect()
}

fn lock(
    env: &TestEnv,
    reqs: &[&str],
    python: &str,
    arch: &str,
) -> BTreeMap<String, (String, String)> {
    let out = run(env
        .cmd()
        .args(["lock", "--dry-run", "--python", python, "--arch", arch])
        .args(reqs));
    assert!(out.status.success(), "{}", describe_output(&out));
    pins(&String::from_utf8_lossy(&out.stdout))
}

fn uv() -> Command {
    let mut c = if Command::new("uv")
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
    c.env("UV_PYTHON_DOWNLOADS", "never");
    c
}

/// What `uv pip compile` pins for the same requirements on a manylinux platform.
fn uv_compile(
    env: &TestEnv,
    reqs: &[&str],
    platform: &str,
    python: &str,
) -> BTreeMap<String, String> {
    let input = env.write("uv-input.txt", &(reqs.join("\n") + "\n"));
    let out = run(uv()
        .args([
            "pip",
            "compile",
            "--no-header",
            "--no-annotate",
            "--only-binary",
            ":all:",
        ])
        .args(["--python-platform", platform, "--python-version", python])
        .arg(&input)
        .current_dir(env.work_dir()));
    assert!(
        out.status.success(),
        "uv is needed as the oracle (.ci/run installs it): {}",
        describe_output(&out)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once("=="))
        .map(|(n, v)| {
            (
                n.trim().to_lowercase().replace(['_', '.'], "-"),
                v.trim().to_string(),
            )
        })
        .collect()
}

/// The glibc minor versions a wheel's manylinux platform tags need.
fn glibc_minors(filename: &str) -> Vec<u32> {
    let plat = filename
        .trim_end_matches(".whl")
        .rsplit('-')
        .next()
        .unwrap_or("");
    plat.split('.')
        .filter_map(|p| {
            if let Some(rest) = p.strip_prefix("manylinux_2_") {
                rest.split('_').next()?.parse().ok()
            } else if p.starts_with("manylinux2014") {
                Some(17)
            } else if p.starts_with("manylinux2010") {
                Some(12)
            } else if p.starts_with("manylinux1") {
                Some(5)
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn pandas_numpy_on_python312_match_uv_and_take_manylinux_2_28_wheels() {
    let env = TestEnv::new();
    let ours = lock(&env, &["pandas", "numpy"], "3.12", "x86_64");
    let theirs = uv_compile(&env, &["pandas", "numpy"], "x86_64-manylinux_2_34", "3.12");
    let ours_versions: BTreeMap<String, String> = ours
        .iter()
        .map(|(n, (v, _))| (n.clone(), v.clone()))
        .collect();
    assert_eq!(ours_versions, theirs, "pylayer and uv disagree");
    // The newest numpy and pandas ship only manylinux_2_27/2_28 wheels for x86_64; AWS's
    // `--platform manylinux2014_x86_64` recipe cannot see them. pylayer must take them.
    for name in ["numpy", "pandas"] {
        let (_, file) = &ours[name];
        let minors = glibc_minors(file);
        assert!(
            minors.iter().all(|m| *m <= 34),
            "{file} needs a glibc above 2.34"
        );
        assert!(file.contains("cp312") && file.contains("x86_64"), "{file}");
    }
}

#[test]
fn python311_never_gets_wheels_above_glibc_2_26_but_takes_manylinux_2_24() {
    let env = TestEnv::new();
    for arch in ["x86_64", "arm64"] {
        let ours = lock(&env, &["pandas", "numpy"], "3.11", arch);
        for (name, (_, file)) in &ours {
            let minors = glibc_minors(file);
            assert!(
                minors.is_empty() || minors.iter().any(|m| *m <= 26),
                "{name}: {file} needs glibc above 2.26, which python3.11 (Amazon Linux 2) lacks"
            );
        }
        let (pandas_version, pandas_file) = &ours["pandas"];
        if arch == "x86_64" {
            // pandas 3 ships manylinux_2_24 wheels for cp311: usable on Amazon Linux 2.
            assert!(pandas_file.contains("manylinux_2_24"), "{pandas_file}");
            let major: u32 = pandas_version.split('.').next().unwrap().parse().unwrap();
            assert!(
                major >= 3,
                "pandas {pandas_version}: the manylinux_2_24 wheel of pandas 3 was not taken"
            );
        }
    }
}

#[test]
fn python311_pins_are_newer_than_pips_manylinux2014_recipe() {
    let env = TestEnv::new();
    let ours = lock(&env, &["pandas"], "3.11", "x86_64");
    let target = env.work_dir().join("pip-target");
    let out = run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            "-",
        ])
        .args([
            "--platform",
            "manylinux2014_x86_64",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
        ])
        .arg("--target")
        .arg(&target)
        .arg("pandas"));
    assert!(out.status.success(), "{}", describe_output(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("pip report JSON");
    let pip_pandas = report["install"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("pandas"))
        })
        .and_then(|i| i["metadata"]["version"].as_str())
        .expect("pip installs pandas")
        .to_string();
    let key = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    assert!(
        key(&ours["pandas"].0) > key(&pip_pandas),
        "pylayer picked pandas {}, pip's manylinux2014 recipe {pip_pandas}: pylayer should see the newer manylinux_2_24 wheel",
        ours["pandas"].0
    );
}

#[test]
fn python_ldap_is_explained_as_needing_compilation() {
    let env = TestEnv::new();
    let out = run(env
        .cmd()
        .args(["lock", "--dry-run", "--python", "3.12", "python-ldap"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no wheel for linux/x86_64 cp312"), "{err}");
    // Its sdist is tried and refused: the C extension needs compiling for Lambda's glibc.
    assert!(err.contains("needs compiling"), "{err}");
    assert!(!env.work_dir().join("pylayer.lock").exists());
}

#[test]
fn requests_socks_extra_brings_pysocks() {
    let env = TestEnv::new();
    let ours = lock(&env, &["requests[socks]"], "3.12", "x86_64");
    assert!(ours.contains_key("pysocks"), "{ours:?}");
    assert!(
        ours.contains_key("urllib3") && ours.contains_key("idna"),
        "{ours:?}"
    );
    let plain = lock(&env, &["requests"], "3.12", "x86_64");
    assert!(!plain.contains_key("pysocks"), "{plain:?}");
}

#[test]
fn arm64_lock_takes_aarch64_wheels_and_matches_uv() {
    let env = TestEnv::new();
    let reqs = ["pydantic", "cryptography"];
    let ours = lock(&env, &reqs, "3.12", "arm64");
    let theirs = uv_compile(&env, &reqs, "aarch64-manylinux_2_34", "3.12");
    let versions: BTreeMap<String, String> = ours
        .iter()
        .map(|(n, (v, _))| (n.clone(), v.clone()))
        .collect();
    assert_eq!(versions, theirs);
    for (_, file) in ours.values() {
        assert!(
            file.ends_with("-any.whl") || file.contains("aarch64"),
            "{file} is not for arm64"
        );
    }
}

#[test]
fn a_pin_without_a_wheel_for_the_target_suggests_the_nearest_usable_release() {
    let env = TestEnv::new();
    // numpy 2.3.1 ships cp311 wheels for manylinux_2_28 only: too new for Amazon Linux 2.
    let out = run(env
        .cmd()
        .args(["lock", "--dry-run", "--python", "3.11", "numpy==2.3.1"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("numpy==2.3.1: its cp311 wheels need glibc 2.2"),
        "{err}"
    );
    assert!(
        err.contains("the nearest releases with a wheel for python3.11/x86_64: numpy==2.2."),
        "{err}"
    );
}

/// Every botocore release caps python-dateutil below 3, and one old boto3 release has an
/// unparseable Requires-Dist: the lock fails with the conflict named in its first sentence,
/// and the broken release is named, not fatal.
#[test]
fn boto3_against_a_python_dateutil_4_pin_names_the_conflict() {
    let env = TestEnv::new();
    let out = run(env.cmd().args([
        "lock",
        "--dry-run",
        "--python",
        "3.11",
        "boto3",
        "python-dateutil==4.0.0",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        first.contains("botocore")
            && first.contains("python-dateutil")
            && first.contains("you pinned python-dateutil==4.0.0"),
        "{err}"
    );
    assert!(
        !first.contains("malformed metadata"),
        "one broken release ended the resolution:\n{err}"
    );
}

/// Locked together for python3.11 and python3.12, a pure package (requests) gets one version
/// on both, and numpy, whose newest releases python3.11 cannot have (they need Python 3.12, and
/// wheels for a newer glibc than Amazon Linux 2's), differs with the reason recorded.
#[test]
fn one_version_across_targets_unless_a_target_cannot_have_it() {
    let env = TestEnv::new();
    let out = run(env.cmd().args([
        "lock",
        "--dry-run",
        "--json",
        "--python",
        "3.11",
        "--python",
        "3.12",
        "requests",
        "numpy",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let lock: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets = lock["target"].as_array().expect("targets");
    let target = |py: &str| {
        targets
            .iter()
            .find(|t| t["python"] == py)
            .unwrap_or_else(|| panic!("no {py} in {lock}"))
    };
    let version = |py: &str, name: &str| {
        target(py)["package"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .map(|p| p["version"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no {name} on {py}"))
    };
    for name in ["requests", "urllib3", "idna", "certifi"] {
        assert_eq!(version("3.11", name), version("3.12", name), "{name}");
    }
    assert_ne!(version("3.11", "numpy"), version("3.12", "numpy"));
    let differs = target("3.11")["differs"]
        .as_array()
        .expect("differs on 3.11");
    let numpy = differs
        .iter()
        .find(|d| d["name"] == "numpy")
        .unwrap_or_else(|| panic!("numpy not in {differs:?}"));
    assert_eq!(
        numpy["not_taken"].as_str(),
        Some(version("3.12", "numpy").as_str())
    );
    assert!(
        numpy["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("python3.11"),
        "{numpy}"
    );
}
