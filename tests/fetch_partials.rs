//! Downloads that do not finish leave nothing in the cache (issue 13): a wheel is streamed
//! into a temporary file beside its cache entry and renamed into place only once its hash
//! matches, and that temporary is removed when the download breaks off (connection cut
//! mid-body) and when the process is stopped by SIGINT or SIGTERM in the middle of it.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{
    Fault, FaultKind, IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run,
};

/// Bytes that do not compress, so the wheel is as large as its content.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every file under `root`, relative, sorted.
fn files_under(root: &Path) -> Vec<String> {
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
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Files of the cache that are downloads in progress or wheels.
fn partials_and_wheels(cache: &Path) -> (Vec<String>, Vec<String>) {
    let files = files_under(cache);
    let partials = files
        .iter()
        .filter(|f| {
            let name = f.rsplit('/').next().unwrap_or(f);
            name.starts_with('.') || name.ends_with(".tmp")
        })
        .cloned()
        .collect();
    let wheels = files
        .iter()
        .filter(|f| f.ends_with(".whl"))
        .cloned()
        .collect();
    (partials, wheels)
}

fn big_wheel(dir: &Path) -> std::path::PathBuf {
    WheelSpec::new("big", "1.0")
        .file("big/blob.bin", noise(200_000))
        .build(dir)
}

const WHEEL: &str = "big-1.0-py3-none-any.whl";

fn build_args(index: &str) -> Vec<&str> {
    vec!["build", "big", "--index-url", index, "--python", "3.12"]
}

#[cfg(unix)]
#[test]
fn a_signal_during_a_download_leaves_no_partial_file() {
    for signal in ["-INT", "-TERM"] {
        let env = TestEnv::new();
        let wheel = big_wheel(&env.work_dir().join("wheels"));
        // The wheel's body comes one byte per millisecond: the download is under way for
        // minutes, while its METADATA file (not matched) comes at once.
        let index = TestIndex::start(
            &[wheel],
            IndexOptions {
                faults: vec![
                    Fault::new(
                        WHEEL,
                        FaultKind::Trickle {
                            interval: Duration::from_millis(1),
                            limit: Duration::from_secs(60),
                        },
                        usize::MAX,
                    )
                    .at_path_end(),
                ],
                ..IndexOptions::default()
            },
        );
        let mut child = env
            .cmd()
            .args(build_args(&index.url))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the partial download exists in the cache and has received bytes.
        let started = Instant::now();
        loop {
            let (partials, _) = partials_and_wheels(env.cache_dir());
            let growing = partials
                .iter()
                .any(|p| std::fs::metadata(env.cache_dir().join(p)).is_ok_and(|m| m.len() > 1000));
            if growing {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "pylayer ended ({status}) before the download started: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no partial download appeared in the cache: {:?}",
                files_under(env.cache_dir())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill(1) is part of every Unix");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let code = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s.code();
            }
            assert!(
                Instant::now() < deadline,
                "pylayer did not stop on {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code, Some(130), "{signal}: {stderr}");
        let (partials, wheels) = partials_and_wheels(env.cache_dir());
        assert_eq!(
            partials,
            Vec::<String>::new(),
            "{signal}: left in the cache"
        );
        assert_eq!(wheels, Vec::<String>::new(), "{signal}: a wheel was cached");
        let dist = env.work_dir().join("dist");
        assert_eq!(
            files_under(&dist),
            Vec::<String>::new(),
            "{signal}: left in dist/"
        );
    }
}

#[test]
fn a_body_cut_off_on_every_attempt_leaves_no_partial_file() {
    let env = TestEnv::new();
    let wheel = big_wheel(&env.work_dir().join("wheels"));
    let index = TestIndex::start(
        &[wheel],
        IndexOptions {
            faults: vec![Fault::new(WHEEL, FaultKind::Truncate, usize::MAX).at_path_end()],
            ..IndexOptions::default()
        },
    );
    let out = run(env.cmd().args(build_args(&index.url)));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(WHEEL) && err.contains("broke off"), "{err}");
    let (partials, wheels) = partials_and_wheels(env.cache_dir());
    assert_eq!(partials, Vec::<String>::new());
    assert_eq!(wheels, Vec::<String>::new());
}

#[test]
fn a_body_cut_off_once_is_fetched_again_and_cached_whole() {
    let env = TestEnv::new();
    let wheel = big_wheel(&env.work_dir().join("wheels"));
    let wheel_sha = support::sha256_file(&wheel);
    let index = TestIndex::start(
        &[wheel],
        IndexOptions {
            faults: vec![Fault::new(WHEEL, FaultKind::Truncate, 1).at_path_end()],
            ..IndexOptions::default()
        },
    );
    let out = run(env.cmd().args(build_args(&index.url)));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(index.full_downloads(WHEEL), 2, "{:?}", index.requests());
    let (partials, wheels) = partials_and_wheels(env.cache_dir());
    assert_eq!(partials, Vec::<String>::new());
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    assert_eq!(
        support::sha256_file(&env.cache_dir().join(&wheels[0])),
        wheel_sha
    );
}
