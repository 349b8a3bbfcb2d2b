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
