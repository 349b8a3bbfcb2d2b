//! Building wheels from source distributions (issue 17), hermetic: the build backends'
//! wheels are served by a test index on 127.0.0.1.

mod support;

use std::path::Path;
use std::sync::Arc;

use pylayer::cache::CacheDir;
use pylayer::index::{IndexClient, IndexConfig};
use pylayer::source_build::{BuildContext, BuildError, Source, build_wheel};
use support::*;

fn context(rt: &tokio::runtime::Runtime, index: &TestIndex, cache: &Path) -> BuildContext {
    let cache = CacheDir::resolve(Some(cache));
    let config = IndexConfig {
        indexes: vec![index.url.clone()],
        ..IndexConfig::default()
    };
    let http = pylayer::http::client().expect("http client");
    BuildContext {
        client: Arc::new(IndexClient::new(http, cache.clone(), config, false)),
        handle: rt.handle().clone(),
        cache,
        interpreter: None,
        preferred_minor: 11,
    }
}

fn sdist_source(path: &Path) -> Source {
    Source::Sdist {
        path: path.to_path_buf(),
        filename: path.file_name().unwrap().to_string_lossy().into_owned(),
        sha256: sha256_file(path),
    }
}

fn wheel_names(path: &Path) -> Vec<String> {
    let z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    z.file_names().map(|n| n.unwrap().into_owned()).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn builder_in_tree_backend_builds_once_then_reuses_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("marker.txt");
    let sdist = in_tree_backend_sdist(&tmp.path().join("dist"), "intree-pkg", "1.0", &marker);
    let index = TestIndex::start(&[], IndexOptions::default());
    let rt = runtime();
    let ctx = context(&rt, &index, &tmp.path().join("cache"));
    let src = sdist_source(&sdist);
    let first = build_wheel(&src, &ctx).expect("build");
    assert_eq!(first.filename, "intree_pkg-1.0-py3-none-any.whl");
    assert!(!first.reused);
    assert!(first.backend.is_empty());
    assert!(wheel_names(&first.path).contains(&"intree_pkg.py".to_string()));
    assert_eq!(std::fs::read_to_string(&marker).unwrap().lines().count(), 1);
    let second = build_wheel(&src, &ctx).expect("second build");
    assert!(second.reused);
    assert_eq!(second.sha256, first.sha256);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().lines().count(),
        1,
        "the backend ran again although the wheel was cached"
    );
}

#[test]
fn builder_setuptools_sdist_and_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let sdist = setuptools_sdist(&tmp.path().join("dist"), "plain-pkg", "2.0");
    let index = TestIndex::start(&build_backend_wheels(), IndexOptions::default());
    let rt = runtime();
    let ctx = context(&rt, &index, &tmp.path().join("cache"));
    let built = build_wheel(&sdist_source(&sdist), &ctx).expect("setuptools build");
    assert_eq!(built.filename, "plain_pkg-2.0-py3-none-any.whl");
    assert!(
        built.backend.iter().any(|b| b.starts_with("setuptools==")),
        "{:?}",
        built.backend
    );
    let names = wheel_names(&built.path);
    assert!(names.contains(&"plain_pkg.py".to_string()), "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with(".dist-info/RECORD")),
        "{names:?}"
    );

    // The same project as a directory.
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(
        proj.join("pyproject.toml"),
        "[build-system]\nrequires = [\"flit_core>=3.2\"]\nbuild-backend = \"flit_core.buildapi\"\n\n[project]\nname = \"shared-lib\"\nversion = \"0.3\"\ndescription = \"x\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(proj.join("shared_lib")).unwrap();
    std::fs::write(proj.join("shared_lib/__init__.py"), "X = 1\n").unwrap();
    let built = build_wheel(
        &Source::Directory {
            path: proj.clone(),
            source_hash: "0123abcd".into(),
        },
        &ctx,
    )
    .expect("flit directory build");
    assert_eq!(built.filename, "shared_lib-0.3-py2.py3-none-any.whl");
    assert!(wheel_names(&built.path).contains(&"shared_lib/__init__.py".to_string()));
    assert!(
        !proj.join("build").exists(),
        "the build wrote into the project directory"
    );
}

#[test]
fn builder_refuses_a_c_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let sdist = build_sdist(&tmp.path().join("dist"), "speedy", "1.0");
    let index = TestIndex::start(&build_backend_wheels(), IndexOptions::default());
    let rt = runtime();
    let ctx = context(&rt, &index, &tmp.path().join("cache"));
    match build_wheel(&sdist_source(&sdist), &ctx) {
        Err(BuildError::NeedsCompiling { package, detail }) => {
            assert_eq!(package, "speedy");
            assert!(!detail.is_empty());
        }
        other => panic!("expected NeedsCompiling, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Through the binary: `pylayer build` with sdist-only releases on the test index
// ---------------------------------------------------------------------------------------------

fn zip_names(zip: &Path) -> Vec<String> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    (0..z.len())
        .map(|i| z.by_index_raw(i).unwrap().name().unwrap().to_string())
        .collect()
}

fn zip_text(zip: &Path, name: &str) -> String {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut z.by_name(name).unwrap(), &mut s).unwrap();
    s
}

fn build_cmd(env: &TestEnv, index: &TestIndex, reqs: &[&str]) -> std::process::Output {
    run(env
        .cmd()
        .arg("build")
        .args(reqs)
        .args([
            "--index-url",
            &index.url,
            "--python",
            "3.12",
            "--arch",
            "x86_64",
        ])
        .args(["--name", "src"]))
}

#[test]
fn setuptools_and_hatchling_sdists_build_into_the_layer() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("pub");
    let mut files = build_backend_wheels();
    files.push(setuptools_sdist(&dir, "plain-pkg", "2.0"));
    files.push(hatchling_sdist(&dir, "hatched", "0.5", &["dep-wheel>=1"]));
    files.push(WheelSpec::new("dep-wheel", "1.2").build(&dir));
    let index = TestIndex::start(&files, IndexOptions::default());
    let out = build_cmd(&env, &index, &["plain-pkg", "hatched"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("building plain-pkg 2.0 from source"),
        "{stderr}"
    );
    assert!(
        stderr.contains("building hatched 0.5 from source"),
        "{stderr}"
    );
    let zip = env.work_dir().join("dist/src-py3.12-x86_64.zip");
    let names = zip_names(&zip);
    for want in [
        "python/plain_pkg.py",
        "python/hatched/__init__.py",
        "python/dep_wheel-1.2.dist-info/METADATA",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    // RECORD lists every file of the built distribution with its hash.
    let record_name = names
        .iter()
        .find(|n| n.starts_with("python/plain_pkg-2.0.dist-info/") && n.ends_with("RECORD"))
        .expect("RECORD of plain-pkg");
    let record = zip_text(&zip, record_name);
    assert!(
        record
            .lines()
            .any(|l| l.starts_with("plain_pkg.py,sha256=")),
        "{record}"
    );
    // Build backends are not part of the layer.
    assert!(
        !names
            .iter()
            .any(|n| n.contains("setuptools") || n.contains("hatchling"))
    );
    // The lock records the sdists (URL and sha256), that they were built, and no local path.
    let lock = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
    assert!(lock.contains("plain_pkg-2.0.tar.gz"), "{lock}");
    assert!(lock.contains("built_from_source = true"), "{lock}");
    assert!(!lock.contains(env.work_dir().to_str().unwrap()), "{lock}");
    assert!(!lock.contains(env.cache_dir().to_str().unwrap()), "{lock}");
    assert!(!lock.contains("file://"), "{lock}");
    // The manifest says which packages were built.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(zip.with_extension("json")).unwrap())
            .unwrap();
    let built: Vec<&str> = manifest["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["built_from_source"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(built, vec!["hatched", "plain-pkg"]);

    // A build from the lock, offline, with the same cache: no backend needed.
    std::fs::remove_dir_all(env.work_dir().join("dist")).unwrap();
    let out = run(env
        .cmd()
        .args(["build", "plain-pkg", "hatched", "--offline"])
        .args([
            "--index-url",
            &index.url,
            "--python",
            "3.12",
            "--arch",
            "x86_64",
        ])
        .args(["--name", "src"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(zip.is_file());
}

#[test]
fn in_tree_backend_runs_once_across_builds_sharing_a_cache() {
    let env = TestEnv::new();
    let marker = env.work_dir().join("marker.txt");
    let sdist = in_tree_backend_sdist(&env.work_dir().join("pub"), "intree-pkg", "1.0", &marker);
    let index = TestIndex::start(&[sdist], IndexOptions::default());
    let out = build_cmd(&env, &index, &["intree-pkg"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let runs = || std::fs::read_to_string(&marker).unwrap().lines().count();
    assert_eq!(runs(), 1);
    // A fresh project and output directory, the same cache: the wheel is reused.
    let other = tempfile::tempdir().unwrap();
    let out = run(env
        .cmd()
        .current_dir(other.path())
        .args(["build", "intree-pkg", "--upgrade"])
        .args([
            "--index-url",
            &index.url,
            "--python",
            "3.12",
            "--arch",
            "x86_64",
        ])
        .args(["--name", "src"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(other.path().join("dist/src-py3.12-x86_64.zip").is_file());
    assert_eq!(
        runs(),
        1,
        "the backend ran again although its wheel was cached"
    );
}

#[test]
fn c_extension_sdist_is_refused_naming_the_release_with_a_wheel() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("pub");
    let mut files = build_backend_wheels();
    files.push(build_sdist(&dir, "speedy", "2.0"));
    files.push(
        WheelSpec::new("speedy", "1.5")
            .tag("cp312-cp312-manylinux_2_17_x86_64")
            .build(&dir),
    );
    let index = TestIndex::start(&files, IndexOptions::default());
    // With and without a C compiler on PATH: either way the build needs compiling.
    let no_compiler = tempfile::tempdir().unwrap();
    for path in [
        std::env::var("PATH").unwrap_or_default(),
        no_compiler.path().display().to_string(),
    ] {
        let out = run(env
            .cmd()
            .env("PATH", &path)
            .args(["lock", "speedy==2.0", "--index-url", &index.url])
            .args(["--python", "3.12", "--arch", "x86_64"]));
        assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("needs compiling"), "{err}");
        assert!(err.contains("speedy==1.5"), "{err}");
        assert!(err.contains("--find-links"), "{err}");
        assert!(!env.work_dir().join("pylayer.lock").exists());
    }
}

/// `--no-build` (BuildPolicy::no_build) keeps the wheels-only refusal, saying how to allow
/// building; the same resolution with building allowed builds the sdist.
#[test]
fn no_build_keeps_the_wheels_only_refusal() {
    use pylayer::requirements::SourcedRequirement;
    use pylayer::resolve::{BuildPolicy, ResolveInput, resolve};
    use std::str::FromStr;

    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("marker.txt");
    let sdist = in_tree_backend_sdist(&tmp.path().join("dist"), "intree-pkg", "1.0", &marker);
    let index = TestIndex::start(&[sdist], IndexOptions::default());
    let rt = runtime();
    let ctx = context(&rt, &index, &tmp.path().join("cache"));
    let target = pylayer::target::Target::new(12, pylayer::target::Arch::X86_64).unwrap();
    let input = |no_build: bool| ResolveInput {
        requirements: vec![SourcedRequirement {
            requirement: uv_pep508::Requirement::from_str("intree-pkg").unwrap(),
            file: "<command line>".into(),
            line: 1,
            hashes: Vec::new(),
        }],
        build: BuildPolicy {
            no_build,
            ..BuildPolicy::default()
        },
        builder: Some(pylayer::source_build::Builder(Arc::new(ctx.clone()))),
        ..ResolveInput::default()
    };
    let err = resolve(
        ctx.client.clone(),
        rt.handle().clone(),
        target,
        &input(true),
    )
    .expect_err("wheels only");
    let err = err.to_string();
    assert!(err.contains("building from source is off"), "{err}");
    assert!(!marker.exists(), "the backend ran under --no-build");
    let ok = resolve(
        ctx.client.clone(),
        rt.handle().clone(),
        target,
        &input(false),
    )
    .expect("built from source");
    assert_eq!(ok.pins.len(), 1);
    assert_eq!(ok.pins[0].file.filename, "intree_pkg-1.0.tar.gz");
    assert!(marker.exists());
}

#[test]
fn a_missing_interpreter_names_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("marker.txt");
    let sdist = in_tree_backend_sdist(&tmp.path().join("dist"), "intree-pkg", "1.0", &marker);
    let index = TestIndex::start(&[], IndexOptions::default());
    let rt = runtime();
    let mut ctx = context(&rt, &index, &tmp.path().join("cache"));
    ctx.interpreter = Some(tmp.path().join("no-such-python"));
    match build_wheel(&sdist_source(&sdist), &ctx) {
        Err(BuildError::NoInterpreter(m)) => {
            assert!(m.contains("--python-interpreter"), "{m}");
            assert!(m.contains("no-such-python"), "{m}");
        }
        other => panic!("expected NoInterpreter, got {other:?}"),
    }
    assert!(!marker.exists());
}

#[test]
fn a_malformed_pyproject_is_named_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let sdist = sdist_with_files(
        &tmp.path().join("dist"),
        "broken",
        "1.0",
        &[(
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools\"\n",
        )],
    );
    let index = TestIndex::start(&[], IndexOptions::default());
    let rt = runtime();
    let ctx = context(&rt, &index, &tmp.path().join("cache"));
    let err = build_wheel(&sdist_source(&sdist), &ctx)
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken-1.0/pyproject.toml:"), "{err}");
}

/// A backend that fails runs once per process, not once per target.
#[test]
fn a_failing_backend_runs_once_for_several_targets() {
    let env = TestEnv::new();
    let marker = env.work_dir().join("marker.txt");
    let backend = format!(
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    open({:?}, 'a').write('ran\\n')\n    raise RuntimeError('this backend always fails')\n",
        marker.display().to_string()
    );
    let sdist = sdist_with_files(
        &env.work_dir().join("pub"),
        "failing",
        "1.0",
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"fb\"\nbackend-path = [\".\"]\n",
            ),
            ("fb.py", &backend),
        ],
    );
    let index = TestIndex::start(&[sdist], IndexOptions::default());
    let out = run(env
        .cmd()
        .args(["lock", "failing", "--index-url", &index.url])
        .args(["--python", "3.12", "--arch", "x86_64", "--arch", "arm64"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("this backend always fails"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().lines().count(),
        1,
        "the failing backend ran once per target"
    );
}

#[test]
fn ctrl_c_during_a_source_build_leaves_no_build_directory_or_cache_entry() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let env = TestEnv::new();
    let started = env.work_dir().join("started.txt");
    let backend = format!(
        "import time\n\ndef get_requires_for_build_wheel(config_settings=None):\n    return []\n\n\
         def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    \
         open({:?}, 'w').write('started')\n    time.sleep(20)\n    raise SystemExit('too late')\n",
        started.display().to_string()
    );
    let sdist = sdist_with_files(
        &env.work_dir().join("pub"),
        "slow-pkg",
        "1.0",
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"slow_backend\"\nbackend-path = [\"_b\"]\n",
            ),
            ("_b/slow_backend.py", &backend),
        ],
    );
    let index = TestIndex::start(&[sdist], IndexOptions::default());
    let tmp = env.work_dir().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = env
        .cmd()
        .args([
            "build",
            "slow-pkg",
            "--index-url",
            &index.url,
            "--python",
            "3.12",
        ])
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !started.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "pylayer ended ({status}) before the backend started: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the backend never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let builds = || -> Vec<String> {
        std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("pylayer-build-"))
            .collect()
    };
    assert_eq!(builds().len(), 1, "the build runs in a temporary directory");
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
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(code, Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        builds(),
        Vec::<String>::new(),
        "the build directory was left behind"
    );
    let built = env.cache_dir().join("source-builds-v1");
    let entries: Vec<String> = if built.exists() {
        walk(&built)
    } else {
        Vec::new()
    };
    assert!(
        entries.iter().all(|p| !p.ends_with(".whl")),
        "a wheel was cached: {entries:?}"
    );
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
