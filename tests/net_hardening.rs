//! A hostile or faulty index, hostile inputs and credentials (issue 13): every test runs
//! pylayer against the fault-injecting index of tests/support on 127.0.0.1.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{
    Fault, FaultKind, IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run,
    run_with_timeout,
};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lock_args<'a>(index: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["lock", "--index-url", index, "--python", "3.12"];
    v.extend_from_slice(extra);
    v
}

fn read_lock(env: &TestEnv) -> toml::Value {
    let text = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).expect("lock written");
    toml::from_str(&text).expect("lock parses")
}

fn locked_urls(lock: &toml::Value) -> Vec<String> {
    lock["target"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["package"].as_array().unwrap().iter())
        .map(|p| p["url"].as_str().unwrap().to_string())
        .collect()
}

/// Every file under `root` whose bytes contain `needle`.
fn files_containing(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn file_links_on_a_remote_page_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let good = WheelSpec::new("foo", "1.0").build(dir.path());
    // A wheel on this machine that the index points at with a file:// link.
    let local_dir = tempfile::tempdir().unwrap();
    let local = WheelSpec::new("foo", "9.9").build(local_dir.path());
    let local_url = url::Url::from_file_path(&local).unwrap().to_string();
    for json in [true, false] {
        let index = TestIndex::start(
            std::slice::from_ref(&good),
            IndexOptions {
                json,
                extra_links: vec![
                    ("foo".into(), local_url.clone()),
                    (
                        "foo".into(),
                        "file:///dev/zero#foo-9.8-py3-none-any.whl".into(),
                    ),
                ],
                ..IndexOptions::default()
            },
        );
        let env = TestEnv::new();
        let out = run(env.cmd().args(lock_args(&index.url, &["foo"])));
        assert!(out.status.success(), "{}", describe_output(&out));
        let urls = locked_urls(&read_lock(&env));
        assert_eq!(urls.len(), 1, "{urls:?}");
        assert!(
            urls[0].starts_with("http://") && urls[0].ends_with("foo-1.0-py3-none-any.whl"),
            "the local file must not be chosen: {urls:?}"
        );
    }
}

#[test]
fn dev_zero_as_a_requirements_file_is_refused_at_once() {
    let env = TestEnv::new();
    let out = run_with_timeout(
        env.cmd()
            .args(["lock", "-r", "/dev/zero", "--no-index", "-f", "."]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("/dev/zero") && err.contains("not a regular file"),
        "{err}"
    );
}

#[test]
fn an_oversized_index_page_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let foo_whl = WheelSpec::new("foo", "1.0").build(dir.path());
    let index = TestIndex::start(
        &[foo_whl],
        IndexOptions {
            faults: vec![Fault::new(
                "/simple/foo/",
                FaultKind::Oversized(200 << 20),
                usize::MAX,
            )],
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    let out = run_with_timeout(
        env.cmd().args(lock_args(&index.url, &["foo"])),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("/simple/foo/") && err.contains("larger than"),
        "{err}"
    );
}

fn auth_index(dir: &Path, passwords: &[&str]) -> TestIndex {
    let foo_whl = WheelSpec::new("foo", "1.0").requires("bar").build(dir);
    let bar = WheelSpec::new("bar", "2.0").build(dir);
    TestIndex::start(
        &[foo_whl, bar],
        IndexOptions {
            basic_auth: passwords
                .iter()
                .map(|p| ("alice".to_string(), p.to_string()))
                .collect(),
            ..IndexOptions::default()
        },
    )
}

fn with_password(index: &TestIndex, password: &str) -> String {
    index
        .url
        .replace("http://", &format!("http://alice:{password}@"))
}

#[test]
fn credentials_never_reach_disk_and_cache_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let password = "Pw-d1sk-9f3c0a";
    let index = auth_index(dir.path(), &[password]);
    let env = TestEnv::new();
    let url = with_password(&index, password);
    let out = run(env.cmd().args([
        "build",
        "foo",
        "--index-url",
        &url,
        "--python",
        "3.12",
        "--name",
        "creds",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(
        env.work_dir()
            .join("dist/creds-py3.12-x86_64.zip")
            .is_file()
    );
    for root in [env.cache_dir(), env.work_dir()] {
        let hits = files_containing(root, password.as_bytes());
        assert!(hits.is_empty(), "the password is stored in {hits:?}");
        // Nor in base64 (an Authorization header).
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{password}"));
        assert!(files_containing(root, b64.as_bytes()).is_empty());
    }
    // Requests without credentials were refused: the index really needed them.
    assert!(
        index
            .authorizations()
            .iter()
            .all(|(_, a)| a.as_deref().is_some_and(|a| a.starts_with("Basic "))),
        "{:?}",
        index.authorizations()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut stack = vec![env.cache_dir().to_path_buf()];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                if e.path().is_dir() {
                    assert_eq!(mode, 0o700, "{}", e.path().display());
                    stack.push(e.path());
                } else {
                    assert_eq!(mode, 0o600, "{}", e.path().display());
                    files += 1;
                }
            }
        }
        assert!(
            files > 3,
            "the cache should hold pages, metadata and wheels"
        );
    }
}

#[test]
fn an_unreachable_index_ends_in_an_error_with_what_to_check() {
    // A port nothing listens on: every attempt is refused, and the error after the last
    // one says what to check, as the first refusal's would.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/simple/");
    let env = TestEnv::new();
    let out = run(env.cmd().args(lock_args(&url, &["foo", "--dry-run"])));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot fetch") && err.contains("attempts"),
        "{err}"
    );
    assert!(
        err.contains("check the index URL, your network, and HTTPS_PROXY / NO_PROXY"),
        "{err}"
    );
}

#[test]
fn an_index_refusing_a_lock_without_credentials_says_where_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let index = auth_index(dir.path(), &["Pw-needed-4e1"]);
    let env = TestEnv::new();
    let out = run(env.cmd().args(lock_args(&index.url, &["foo"])));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 401")
            && err.contains("check the credentials for 127.0.0.1")
            && err.contains("~/.netrc"),
        "{err}"
    );
    // Only what pylayer reads is suggested.
    assert!(!err.contains("keyring"), "{err}");
}

#[test]
fn changing_only_the_password_keeps_the_inputs_digest() {
    let dir = tempfile::tempdir().unwrap();
    let index = auth_index(dir.path(), &["first-Pw", "second-Pw"]);
    let env = TestEnv::new();
    let digest = |password: &str| {
        let url = with_password(&index, password);
        let out = run(env.cmd().args(lock_args(&url, &["foo"])));
        assert!(out.status.success(), "{}", describe_output(&out));
        let lock = read_lock(&env);
        lock["inputs_digest"].as_str().unwrap().to_string()
    };
    let first = digest("first-Pw");
    std::fs::remove_file(env.work_dir().join("pylayer.lock")).unwrap();
    let second = digest("second-Pw");
    assert_eq!(first, second);
    // Another index is another input.
    let other = with_password(&index, "first-Pw").replace("/simple/", "/simple");
    let out = run(env
        .cmd()
        .args(lock_args(&other, &["foo", "--dry-run", "--json"])));
    assert!(out.status.success(), "{}", describe_output(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(json["inputs_digest"].as_str().unwrap(), first);
}

#[test]
fn no_authorization_is_sent_to_another_port() {
    let dir = tempfile::tempdir().unwrap();
    let foo_whl = WheelSpec::new("foo", "1.0").build(dir.path());
    let other = TestIndex::start(std::slice::from_ref(&foo_whl), IndexOptions::default());
    let index = TestIndex::start(
        &[foo_whl],
        IndexOptions {
            faults: vec![Fault::new(
                "/simple/foo/",
                FaultKind::RedirectTo(other.base.clone()),
                usize::MAX,
            )],
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    let url = index.url.replace("http://", "http://alice:port-Secret@");
    let out = run(env.cmd().args([
        "build",
        "foo",
        "--index-url",
        &url,
        "--python",
        "3.12",
        "--name",
        "redir",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let seen = other.authorizations();
    assert!(!seen.is_empty(), "the redirect target was not asked");
    assert!(
        seen.iter().all(|(_, a)| a.is_none()),
        "credentials went to another port: {seen:?}"
    );
    assert!(index.authorizations().iter().any(|(_, a)| a.is_some()));
}

#[test]
fn a_redirect_to_a_local_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let foo_whl = WheelSpec::new("foo", "1.0").build(dir.path());
    // What the redirect points at exists on this machine: a page listing a local wheel.
    let local = tempfile::tempdir().unwrap();
    let page_dir = local.path().join("simple/foo");
    std::fs::create_dir_all(&page_dir).unwrap();
    let local_whl = WheelSpec::new("foo", "6.6").build(local.path());
    std::fs::write(
        page_dir.join("index.html"),
        format!(
            "<a href=\"{}\">foo-6.6-py3-none-any.whl</a>",
            url::Url::from_file_path(&local_whl).unwrap()
        ),
    )
    .unwrap();
    let base = url::Url::from_directory_path(local.path()).unwrap();
    let index = TestIndex::start(
        &[foo_whl],
        IndexOptions {
            faults: vec![Fault::new(
                "/simple/foo/",
                FaultKind::RedirectTo(base.as_str().trim_end_matches('/').to_string()),
                usize::MAX,
            )],
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    let out = run(env.cmd().args(lock_args(&index.url, &["foo"])));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(err.contains("redirect") && err.contains("file:"), "{err}");
    assert!(!env.work_dir().join("pylayer.lock").exists());
}

#[test]
fn lock_survives_one_fault_of_each_kind() {
    let dir = tempfile::tempdir().unwrap();
    let foo_whl = WheelSpec::new("foo", "1.0")
        .requires("bar")
        .build(dir.path());
    let bar = WheelSpec::new("bar", "2.0").build(dir.path());
    let files = [foo_whl, bar];
    let cases: Vec<(&str, IndexOptions, &str)> = vec![
        // Index pages.
        ("page reset", IndexOptions::default(), "/simple/foo/"),
        // PEP 658 metadata files.
        ("metadata", IndexOptions::default(), ".metadata"),
        // Range requests into the wheel (no metadata files).
        (
            "range",
            IndexOptions {
                metadata_files: false,
                ..IndexOptions::default()
            },
            "/files/foo-1.0",
        ),
        // The whole wheel (no metadata files, no ranges).
        ("whole wheel", IndexOptions::html_only(), "/files/foo-1.0"),
    ];
    for (what, opts, path) in cases {
        for kind in [FaultKind::Reset, FaultKind::Truncate] {
            let index = TestIndex::start(
                &files,
                IndexOptions {
                    faults: vec![Fault::new(path, kind.clone(), 1)],
                    ..opts.clone()
                },
            );
            let env = TestEnv::new();
            let out = run(env.cmd().args(lock_args(&index.url, &["foo"])));
            assert!(
                out.status.success(),
                "{what} {kind:?}: {}",
                describe_output(&out)
            );
            let faults = index
                .requests()
                .iter()
                .filter(|r| r.starts_with("FAULT"))
                .count();
            assert_eq!(faults, 1, "{what} {kind:?}: {:?}", index.requests());
            assert_eq!(locked_urls(&read_lock(&env)).len(), 2);
        }
    }
}

#[test]
fn pep658_metadata_that_disagrees_with_the_wheel_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = WheelSpec::new("foo", "1.0").requires("bar");
    let foo_whl = spec.build(dir.path());
    let bar = WheelSpec::new("bar", "2.0").build(dir.path());
    // The index's metadata file drops the dependency on bar (with a matching hash).
    let lying = spec.metadata_text().replace("Requires-Dist: bar\n", "");
    assert_ne!(lying, spec.metadata_text());
    let index = TestIndex::start(
        &[foo_whl, bar],
        IndexOptions {
            metadata_override: vec![(spec.filename(), lying.into_bytes())],
            ..IndexOptions::default()
        },
    );
    let env = TestEnv::new();
    let out = run(env.cmd().args([
        "build",
        "foo",
        "--index-url",
        &index.url,
        "--python",
        "3.12",
        "--name",
        "lie",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("foo 1.0") && err.contains("METADATA") && err.contains(&index.base),
        "{err}"
    );
    assert!(
        err.contains("bar"),
        "the differing dependency is named: {err}"
    );
    assert!(!env.work_dir().join("dist/lie-py3.12-x86_64.zip").exists());
}

#[test]
fn edited_cached_metadata_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let foo_whl = WheelSpec::new("foo", "1.0")
        .requires("bar")
        .build(dir.path());
    let bar = WheelSpec::new("bar", "2.0").build(dir.path());
    let index = TestIndex::start(&[foo_whl, bar], IndexOptions::default());
    let env = TestEnv::new();
    let out = run(env.cmd().args(lock_args(&index.url, &["foo", "--dry-run"])));
    assert!(out.status.success(), "{}", describe_output(&out));
    // Remove the dependency from every cached METADATA copy.
    let mut edited = 0;
    for path in files_containing(env.cache_dir(), b"Requires-Dist: bar") {
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("Requires-Dist: bar\n", "")).unwrap();
        edited += 1;
    }
    assert!(edited > 0);
    let out = run(env.cmd().args(lock_args(&index.url, &["foo"])));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(
        locked_urls(&read_lock(&env)).len(),
        2,
        "bar must still be locked"
    );
}

#[test]
fn a_trickling_body_ends_in_a_timeout_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let foo_whl = WheelSpec::new("foo", "1.0").build(dir.path());
    for kind in [
        FaultKind::Trickle {
            interval: Duration::from_millis(300),
            limit: Duration::from_secs(50),
        },
        FaultKind::StallHeaders(Duration::from_secs(50)),
    ] {
        let index = TestIndex::start(
            std::slice::from_ref(&foo_whl),
            IndexOptions {
                faults: vec![Fault::new("/simple/foo/", kind.clone(), usize::MAX)],
                ..IndexOptions::default()
            },
        );
        let env = TestEnv::new();
        let out = run_with_timeout(
            env.cmd()
                .env("PYLAYER_HTTP_TIMEOUT", "3")
                .args(lock_args(&index.url, &["foo"])),
            Duration::from_secs(45),
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{kind:?}: {}",
            describe_output(&out)
        );
        let err = stderr(&out);
        assert!(
            err.contains("timed out")
                && err.contains(&format!("{}foo/", index.url))
                && err.contains("PYLAYER_HTTP_TIMEOUT"),
            "{kind:?}: {err}"
        );
    }
}

#[test]
fn a_bad_timeout_setting_is_named() {
    let env = TestEnv::new();
    let out = run(env
        .cmd()
        .env("PYLAYER_HTTP_TIMEOUT", "soon")
        .args(lock_args("http://127.0.0.1:9/simple/", &["foo"])));
    assert_ne!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("PYLAYER_HTTP_TIMEOUT"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn direct_references_with_credentials_work_and_are_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let password = "direct-Pw-77";
    let index = auth_index(dir.path(), &[password]);
    let env = TestEnv::new();
    let file = format!(
        "{}/files/foo-1.0-py3-none-any.whl",
        index
            .base
            .replace("http://", &format!("http://alice:{password}@"))
    );
    env.write("requirements.txt", &format!("foo @ {file}\n"));
    let out = run(env.cmd().args([
        "build",
        "-r",
        "requirements.txt",
        "--index-url",
        &with_password(&index, password),
        "--python",
        "3.12",
        "--name",
        "direct",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let urls = locked_urls(&read_lock(&env));
    let foo_url = format!("{}/files/foo-1.0-py3-none-any.whl", index.base);
    assert!(urls.contains(&foo_url), "{urls:?}");
    assert!(files_containing(env.cache_dir(), password.as_bytes()).is_empty());
    let in_work: Vec<_> = files_containing(env.work_dir(), password.as_bytes())
        .into_iter()
        .filter(|p| !p.ends_with("requirements.txt"))
        .collect();
    assert!(in_work.is_empty(), "{in_work:?}");
}

#[test]
fn a_huge_requirement_name_gives_a_short_escaped_error() {
    let env = TestEnv::new();
    let name = format!("{}\u{1b}[31m\u{0}", "x".repeat(100_000));
    env.write("requirements.txt", &format!("--{name}\n"));
    let out = run(env
        .cmd()
        .args(["lock", "-r", "requirements.txt", "--no-index", "-f", "."]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(err.len() < 2000, "{} bytes of error", err.len());
    assert!(!err.contains('\u{0}') && !err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("requirements.txt:1"), "{err}");
}

/// 10,000 requirements the index does not know (a generated or corrupted requirements file):
/// every page is asked for with a bounded number of requests in flight, and the lock ends
/// with an error naming an unknown package instead of growing to gigabytes (1.5 GB before
/// the fix; figures in docs/benchmarks.md) — memory itself is not asserted here.
#[test]
fn ten_thousand_unknown_requirements_end_in_an_error_naming_one() {
    let dir = tempfile::tempdir().unwrap();
    let foo_whl = WheelSpec::new("foo", "1.0").build(dir.path());
    let index = TestIndex::start(&[foo_whl], IndexOptions::default());
    let env = TestEnv::new();
    let mut text = String::from("foo\n");
    for i in 0..10_000 {
        text.push_str(&format!("nopkg-{i:05}\n"));
    }
    env.write("requirements.txt", &text);
    let out = run(env
        .cmd()
        .args(lock_args(&index.url, &["-r", "requirements.txt"])));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    let last = err
        .lines()
        .filter(|l| !l.starts_with("progress:"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        last.contains("nopkg-") && last.contains("not found on any configured index"),
        "{last}"
    );
    // Other unknown names are named too, but only the first few of ten thousand.
    assert!(
        last.contains("also not found on any configured index") && last.contains(", and more"),
        "{last}"
    );
    assert!(last.len() < 4000, "{} bytes of error: {last}", last.len());
    assert!(!env.work_dir().join("pylayer.lock").exists());
}

/// A requirements file with several typos: one run names every unknown package, not one
/// per run.
#[test]
fn every_unknown_requirement_is_named_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let foo_whl = WheelSpec::new("foo", "1.0").build(dir.path());
    let index = TestIndex::start(&[foo_whl], IndexOptions::default());
    let env = TestEnv::new();
    env.write("requirements.txt", "requestz\nfoo\nflaskk\nnumpyy\n");
    let out = run(env
        .cmd()
        .args(lock_args(&index.url, &["-r", "requirements.txt"])));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = stderr(&out);
    for name in ["requestz", "flaskk", "numpyy"] {
        assert!(
            err.lines()
                .any(|l| l.contains(name) && l.contains("not found on any configured index")),
            "{name} is not named as unknown:\n{err}"
        );
    }
    assert!(!err.contains("foo was not found"), "{err}");
    assert!(!env.work_dir().join("pylayer.lock").exists());
}
