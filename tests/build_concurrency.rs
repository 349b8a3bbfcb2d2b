//! Builds that overlap or are stopped: two different builds into one out-dir at once never
//! leave a manifest that describes the other's zip; Ctrl-C leaves no temporary behind; and
//! a temporary that a killed run left is swept by the next build.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run, sha256_file};

/// Files anywhere under `root` whose name marks a temporary (`*.tmp`, `.pylayer-tmp-*`).
fn temporaries(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") || name.starts_with(".pylayer-tmp-") {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn concurrent_different_builds_never_leave_a_mismatched_manifest() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let wheels = vec![
        WheelSpec::new("alpha", "1.0")
            .file("alpha/big.txt", vec![b'a'; 300_000])
            .build(&dir),
        WheelSpec::new("beta", "2.0")
            .file("beta/big.txt", vec![b'b'; 200_000])
            .build(&dir),
    ];
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let out_dir = env.work_dir().join("dist");
    let build = |req: &str, lock: &str| {
        let mut cmd = env.cmd();
        cmd.args([
            "build",
            req,
            "--index-url",
            &index.url,
            "--python",
            "3.12",
            "--name",
            "shared",
            "--lock",
            lock,
            "--out-dir",
        ])
        .arg(&out_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        cmd
    };
    let zip = out_dir.join("shared-py3.12-x86_64.zip");
    let manifest = out_dir.join("shared-py3.12-x86_64.json");
    for round in 0..20 {
        let a = build("alpha", "a.lock").spawn().unwrap();
        let b = build("beta", "b.lock").spawn().unwrap();
        for child in [a, b] {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}: {}", describe_output(&o));
        }
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
        assert_eq!(
            m["sha256"].as_str().unwrap(),
            sha256_file(&zip),
            "round {round}: the manifest describes another build's zip"
        );
        let names: Vec<_> = m["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        let z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        for n in &names {
            assert!(
                z.file_names()
                    .any(|f| f.is_ok_and(|f| f.starts_with(&format!("python/{n}/")))),
                "round {round}: manifest lists {n}, the zip lacks it"
            );
        }
    }
    assert_eq!(temporaries(&out_dir), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_a_build_leaves_no_temporary_and_exits_130() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let wheels = vec![
        WheelSpec::new("slow", "1.0")
            .file("slow/big.txt", vec![b's'; 500_000])
            .build(&dir),
    ];
    // Every answer waits: the build is still fetching when the signal comes.
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            delay: Duration::from_millis(700),
            ..IndexOptions::default()
        },
    );
    let mut child = env
        .cmd()
        .args([
            "build",
            "slow",
            "--index-url",
            &index.url,
            "--python",
            "3.12",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the build has asked the index for something, then interrupt it.
    let started = Instant::now();
    while index.requests().is_empty() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill(1) is part of every Unix");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "pylayer did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(temporaries(env.work_dir()), Vec::<String>::new());
    assert_eq!(temporaries(env.cache_dir()), Vec::<String>::new());
}

#[test]
fn a_temporary_left_by_a_dead_run_is_swept_by_the_next_build() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let wheels = vec![WheelSpec::new("pure", "1.0").build(&dir)];
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let out_dir = env.work_dir().join("dist");
    std::fs::create_dir_all(&out_dir).unwrap();
    // What a build killed with SIGKILL leaves: its pid no longer runs (pids stay below 2^22).
    let stale = out_dir.join(".pylayer-4194999-Xy12ab.zip.tmp");
    std::fs::write(&stale, vec![0u8; 4096]).unwrap();
    let out = run(env.cmd().args([
        "build",
        "pure",
        "--index-url",
        &index.url,
        "--python",
        "3.12",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    if cfg!(target_os = "linux") {
        assert!(!stale.exists(), "the dead run's temporary is still there");
    }
    assert_eq!(temporaries(&out_dir), Vec::<String>::new());
}
