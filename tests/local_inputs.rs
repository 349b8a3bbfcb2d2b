//! Issue 17's inputs: build policy flags (`--no-build`, `--only-binary`, `--no-binary`) from
//! flags, pylayer.toml and requirements files; local projects and `--find-links` directories
//! recorded relative to the project root. Hermetic: a local index.

mod support;

use std::process::Output;

use support::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lock(env: &TestEnv, index: &TestIndex, extra: &[&str]) -> Output {
    run(env
        .cmd()
        .args(["lock", "-r", "requirements.txt", "--index-url", &index.url])
        .args(extra))
}

/// The build policy is part of the inputs: the same policy written in pylayer.toml, in a
/// requirements file or as flags is the same lock; a flag overrides the file for what it
/// names, and a different policy makes `lock --check` fail.
#[test]
fn build_policy_from_flags_config_and_requirements_files() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(
        &[WheelSpec::new("app", "1.0").build(dir.path())],
        IndexOptions::default(),
    );
    env.write("requirements.txt", "app\n");
    env.write("pylayer.toml", "only-binary = [\"App\"]\n");
    let out = lock(&env, &index, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let lock_path = env.work_dir().join("pylayer.lock");
    let first = std::fs::read(&lock_path).unwrap();

    // Same policy from the flag (names normalized), or from the requirements file.
    let out = lock(&env, &index, &["--check", "--only-binary", "app"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    std::fs::remove_file(env.work_dir().join("pylayer.toml")).unwrap();
    env.write("requirements.txt", "--only-binary=APP\napp\n");
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));

    // Another policy: the check fails and says to lock again; the lock is untouched.
    let out = lock(&env, &index, &["--check", "--no-binary", "app"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("run `pylayer lock`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&lock_path).unwrap(), first);

    // The flag's `:none:` clears what the file said: the policy is the default again, which
    // is what a lock without any option records.
    env.write("requirements.txt", "--only-binary app\napp\n");
    let out = lock(&env, &index, &["--only-binary", ":none:"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    env.write("requirements.txt", "app\n");
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));

    // `no-build = true` in pylayer.toml and `--no-build` are the same input.
    env.write("pylayer.toml", "no-build = true\n");
    let out = lock(&env, &index, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    std::fs::remove_file(env.work_dir().join("pylayer.toml")).unwrap();
    let out = lock(&env, &index, &["--check", "--no-build"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let out = lock(&env, &index, &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));

    // Unknown names are fine (pip accepts them); malformed ones name where they came from.
    let out = lock(&env, &index, &["--only-binary", "no-such-package"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    env.write("requirements.txt", "--no-binary app,b@d\napp\n");
    let out = lock(&env, &index, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("requirements.txt:1") && stderr(&out).contains("`b@d`"),
        "{}",
        stderr(&out)
    );
    env.write("requirements.txt", "app\n");
    env.write("pylayer.toml", "no-binary = [\"b@d\"]\n");
    let out = lock(&env, &index, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(stderr(&out).contains("pylayer.toml"), "{}", stderr(&out));
}

/// Copies the directory tree `from` to `to` (files only, as a user's `cp -r` would).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// `--find-links` directories (flag, requirements file, pylayer.toml) and the wheels found
/// there are recorded relative to the project root: the lock has no absolute path, a copy of
/// the project elsewhere keeps the lock byte for byte, and builds from it on a fresh cache.
#[test]
fn find_links_directories_are_recorded_relative_to_the_project() {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("project");
    let wheels = project.join("wheels");
    WheelSpec::new("teamlib", "1.2")
        .requires("helper")
        .build(&wheels);
    let shared = root.path().join("shared-wheels");
    WheelSpec::new("helper", "0.3").build(&shared);
    std::fs::write(
        project.join("requirements.txt"),
        "-f ../shared-wheels\nteamlib\n",
    )
    .unwrap();
    std::fs::write(project.join("pylayer.toml"), "find-links = [\"wheels\"]\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let lock = |dir: &std::path::Path, extra: &[&str]| {
        run(pylayer_with_cache(cache.path())
            .current_dir(dir)
            .args(["lock", "--no-index"])
            .args(extra))
    };
    let out = lock(&project, &[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let text = std::fs::read_to_string(project.join("pylayer.lock")).unwrap();
    let base = std::fs::canonicalize(root.path()).unwrap();
    assert!(
        !text.contains("file:") && !text.contains(&*base.to_string_lossy()),
        "{text}"
    );
    assert!(
        text.contains("wheels/teamlib-1.2-py3-none-any.whl"),
        "{text}"
    );
    assert!(
        text.contains("../shared-wheels/helper-0.3-py3-none-any.whl"),
        "{text}"
    );

    // The flag names the same directory: the same inputs.
    let out = lock(&project, &["--check", "-f", "wheels"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));

    // The project and its sibling copied elsewhere: same lock, and it builds from there
    // with an empty cache (the wheels are found again by their relative paths).
    let moved = tempfile::tempdir().unwrap();
    copy_tree(root.path(), moved.path());
    let moved_project = moved.path().join("project");
    let out = lock(&moved_project, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert_eq!(
        std::fs::read_to_string(moved_project.join("pylayer.lock")).unwrap(),
        text
    );
    let fresh = tempfile::tempdir().unwrap();
    let out = run(pylayer_with_cache(fresh.path())
        .current_dir(&moved_project)
        .args(["build", "--no-index"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let zips: Vec<_> = std::fs::read_dir(moved_project.join("dist"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".zip"))
        .collect();
    assert_eq!(zips.len(), 1, "{}", describe_output(&out));
    let names = zip_names(&zips[0].path());
    assert!(
        names.iter().any(|n| n.starts_with("python/teamlib")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("python/helper")),
        "{names:?}"
    );
    assert_eq!(
        std::fs::read_to_string(moved_project.join("pylayer.lock")).unwrap(),
        text
    );
}

fn zip_names(path: &std::path::Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let archive = zip::ZipArchive::new(file).unwrap();
    archive
        .file_names()
        .map(|n| n.unwrap().to_string())
        .collect()
}

/// A PEP 517 backend in the project itself (`backend-path = ["."]`, no build requirements):
/// writes a deterministic pure wheel of the package directory `module`.
fn in_tree_backend(name: &str, version: &str, module: &str) -> String {
    format!(
        r#"import base64, hashlib, os, zipfile

NAME, VERSION, MODULE = {name:?}, {version:?}, {module:?}


def _files():
    root = os.path.dirname(os.path.abspath(__file__))
    out = []
    for dirpath, dirs, files in os.walk(os.path.join(root, MODULE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                out.append((os.path.relpath(full, root).replace(os.sep, "/"), fh.read()))
    return out


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist = NAME.replace("-", "_")
    info = f"{{dist}}-{{VERSION}}.dist-info"
    files = _files()
    files.append((f"{{info}}/METADATA", f"Metadata-Version: 2.1\nName: {{NAME}}\nVersion: {{VERSION}}\n".encode()))
    files.append((f"{{info}}/WHEEL", b"Wheel-Version: 1.0\nGenerator: in-tree\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = []
    for path, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
    record.append(f"{{info}}/RECORD,,")
    files.append((f"{{info}}/RECORD", ("\n".join(record) + "\n").encode()))
    filename = f"{{dist}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as z:
        for path, data in files:
            info_ = zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0))
            info_.external_attr = 0o644 << 16
            z.writestr(info_, data)
    return filename
"#
    )
}

/// Writes a local project with an in-tree backend at `dir`: package `module` of `name`.
fn local_project(dir: &std::path::Path, name: &str, version: &str, module: &str) {
    std::fs::create_dir_all(dir.join(module)).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = []\nbuild-backend = \"tiny_backend\"\nbackend-path = [\".\"]\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("tiny_backend.py"),
        in_tree_backend(name, version, module),
    )
    .unwrap();
    std::fs::write(
        dir.join(module).join("__init__.py"),
        format!("VERSION = {version:?}\n"),
    )
    .unwrap();
}

fn zips_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    v.sort();
    v
}

/// `../shared-lib` in requirements.txt: built into the layer with its dependency from the
/// index; the lock records it relative to the project, so a copy of the whole tree keeps the
/// lock byte for byte and builds; editing its code makes `lock --check` fail naming it.
#[test]
fn a_local_project_is_built_and_locked_by_relative_path_and_source_hash() {
    let wheels = tempfile::tempdir().unwrap();
    let index = TestIndex::start(
        &[WheelSpec::new("helper", "2.0").build(wheels.path())],
        IndexOptions::default(),
    );
    let root = tempfile::tempdir().unwrap();
    let app = root.path().join("app");
    local_project(
        &root.path().join("shared-lib"),
        "shared-lib",
        "0.3",
        "shared_lib",
    );
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("requirements.txt"), "../shared-lib\nhelper\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let pylayer_in = |dir: &std::path::Path, args: &[&str]| {
        run(pylayer_with_cache(cache.path())
            .current_dir(dir)
            .args(args)
            .args(["--index-url", &index.url]))
    };
    let out = pylayer_in(&app, &["build"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip = &zips_in(&app.join("dist"))[0];
    let names = zip_names(zip);
    assert!(
        names.contains(&"python/shared_lib/__init__.py".to_string()),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("python/helper")),
        "{names:?}"
    );
    let text = std::fs::read_to_string(app.join("pylayer.lock")).unwrap();
    assert!(text.contains("url = \"../shared-lib\""), "{text}");
    assert!(text.contains("source_hash = \"sha256:"), "{text}");
    let real_root = std::fs::canonicalize(root.path()).unwrap();
    assert!(
        !text.contains(&*real_root.to_string_lossy()) && !text.contains("file:"),
        "{text}"
    );

    // Copied elsewhere: the same lock, `lock --check` passes, and it builds there.
    let moved = tempfile::tempdir().unwrap();
    copy_tree(root.path(), moved.path());
    let moved_app = moved.path().join("app");
    std::fs::remove_dir_all(moved_app.join("dist")).unwrap();
    let out = pylayer_in(&moved_app, &["lock", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let out = pylayer_in(&moved_app, &["build"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(
        std::fs::read_to_string(moved_app.join("pylayer.lock")).unwrap(),
        text
    );
    assert_eq!(
        std::fs::read(&zips_in(&moved_app.join("dist"))[0]).unwrap(),
        std::fs::read(zip).unwrap(),
        "the same sources make the same layer"
    );

    // Editing the local code: the check fails, naming the project; the lock is untouched.
    std::fs::write(
        moved.path().join("shared-lib/shared_lib/__init__.py"),
        "VERSION = '0.3'\nEDITED = True\n",
    )
    .unwrap();
    let out = pylayer_in(&moved_app, &["lock", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("the sources of the local project ../shared-lib changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(moved_app.join("pylayer.lock")).unwrap(),
        text
    );
}

/// `local = [...]` in pylayer.toml and `--include-project` (the project's own directory),
/// and a requirement naming a directory without a pyproject.toml or setup.py is refused
/// naming it.
#[test]
fn local_projects_from_pylayer_toml_and_include_project() {
    let wheels = tempfile::tempdir().unwrap();
    let index = TestIndex::start(
        &[WheelSpec::new("helper", "2.0").build(wheels.path())],
        IndexOptions::default(),
    );
    let root = tempfile::tempdir().unwrap();
    let app = root.path().join("app");
    local_project(&app, "my-app", "1.0", "my_app");
    local_project(
        &root.path().join("shared-lib"),
        "shared-lib",
        "0.3",
        "shared_lib",
    );
    std::fs::write(app.join("requirements.txt"), "helper\n").unwrap();
    std::fs::write(
        app.join("pylayer.toml"),
        "requirements = [\"requirements.txt\"]\nlocal = [\"../shared-lib\"]\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = run(pylayer_with_cache(cache.path()).current_dir(&app).args([
        "build",
        "--include-project",
        "--index-url",
        &index.url,
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let names = zip_names(&zips_in(&app.join("dist"))[0]);
    for expected in ["python/shared_lib/__init__.py", "python/my_app/__init__.py"] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected}: {names:?}"
        );
    }
    let text = std::fs::read_to_string(app.join("pylayer.lock")).unwrap();
    assert!(text.contains("url = \"../shared-lib\""), "{text}");
    assert!(text.contains("url = \".\""), "{text}");

    std::fs::create_dir_all(root.path().join("not-a-project")).unwrap();
    let out = run(pylayer_with_cache(cache.path()).current_dir(&app).args([
        "lock",
        "../not-a-project",
        "--index-url",
        &index.url,
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not-a-project") && err.contains("neither a pyproject.toml nor a setup.py"),
        "{err}"
    );
}

/// A flit-style project (flit_core backend, `[project]` metadata) as `./flitlib`: its build
/// requirement is resolved from the index, and the package lands in the layer.
#[test]
fn a_flit_project_builds_into_the_layer() {
    let wheels = tempfile::tempdir().unwrap();
    let mut files = build_backend_wheels();
    files.push(WheelSpec::new("helper", "2.0").build(wheels.path()));
    let index = TestIndex::start(&files, IndexOptions::default());
    let env = TestEnv::new();
    env.write(
        "flitlib/pyproject.toml",
        "[build-system]\nrequires = [\"flit_core>=3.2\"]\nbuild-backend = \"flit_core.buildapi\"\n\n[project]\nname = \"flitlib\"\nversion = \"0.2\"\ndescription = \"A team's shared code\"\ndependencies = [\"helper>=2\"]\n",
    );
    env.write(
        "flitlib/flitlib/__init__.py",
        "\"\"\"Shared code.\"\"\"\nVALUE = 42\n",
    );
    // `-e`, as a developer's requirements file often has it: built like the others.
    env.write("requirements.txt", "-e ./flitlib\n");
    let out = run(env
        .cmd()
        .args(["build", "-r", "requirements.txt", "--index-url", &index.url]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(
        stderr(&out)
            .contains("requirements.txt:1: `-e ./flitlib`: a layer has no editable installs"),
        "{}",
        stderr(&out)
    );
    let names = zip_names(&zips_in(&env.work_dir().join("dist"))[0]);
    assert!(
        names.contains(&"python/flitlib/__init__.py".to_string()),
        "{names:?}"
    );
    // Its declared dependency came from the index.
    assert!(
        names.contains(&"python/helper/__init__.py".to_string()),
        "{names:?}"
    );
    let text = std::fs::read_to_string(env.work_dir().join("pylayer.lock")).unwrap();
    assert!(text.contains("url = \"flitlib\""), "{text}");
}

/// `--from-venv` with an editable install of a local directory (`pip install -e ../shared-lib`):
/// the project is built into the layer like any local project, beside the venv's pins.
#[test]
fn a_venv_editable_install_of_a_directory_is_a_local_project() {
    let wheels = tempfile::tempdir().unwrap();
    let index = TestIndex::start(
        &[WheelSpec::new("helper", "2.0").build(wheels.path())],
        IndexOptions::default(),
    );
    let env = TestEnv::new();
    let project = env.work_dir().join("shared-lib");
    local_project(&project, "shared-lib", "0.3", "shared_lib");
    let site = env.work_dir().join("venv/lib/python3.12/site-packages");
    for (name, version) in [("helper", "2.0"), ("shared_lib", "0.3")] {
        let info = site.join(format!("{name}-{version}.dist-info"));
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(
            info.join("METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
        )
        .unwrap();
    }
    let url = url::Url::from_directory_path(std::fs::canonicalize(&project).unwrap()).unwrap();
    std::fs::write(
        site.join("shared_lib-0.3.dist-info/direct_url.json"),
        format!(r#"{{"url": "{url}", "dir_info": {{"editable": true}}}}"#),
    )
    .unwrap();
    std::fs::write(env.work_dir().join("venv/pyvenv.cfg"), "version = 3.12.1\n").unwrap();
    let out = run(env.cmd().args([
        "build",
        "--index-url",
        &index.url,
        "--name",
        "ed",
        "--from-venv",
        "venv",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("a layer has no editable installs"),
        "{}",
        stderr(&out)
    );
    let names = zip_names(&env.work_dir().join("dist/ed-py3.12-x86_64.zip"));
    assert!(
        names.contains(&"python/shared_lib/__init__.py".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"python/helper/__init__.py".to_string()),
        "{names:?}"
    );
}

/// `[tool.pylayer] local` in a pyproject.toml given with -r, beside its own dependencies;
/// `--no-build` refuses to build a local project, naming it.
#[test]
fn pyproject_tool_pylayer_local_and_no_build() {
    let wheels = tempfile::tempdir().unwrap();
    let index = TestIndex::start(
        &[WheelSpec::new("helper", "2.0").build(wheels.path())],
        IndexOptions::default(),
    );
    let root = tempfile::tempdir().unwrap();
    let app = root.path().join("app");
    local_project(
        &root.path().join("shared-lib"),
        "shared-lib",
        "0.3",
        "shared_lib",
    );
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("pyproject.toml"),
        "[project]\nname = \"app\"\nversion = \"1\"\ndependencies = [\"helper\"]\n\n[tool.pylayer]\nlocal = [\"../shared-lib\"]\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let lock = |extra: &[&str]| {
        run(pylayer_with_cache(cache.path())
            .current_dir(&app)
            .args(["lock", "-r", "pyproject.toml", "--index-url", &index.url])
            .args(extra))
    };
    let out = lock(&["--no-build"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        stderr(&out).contains("the local project ../shared-lib must be built")
            && stderr(&out).contains("--no-build"),
        "{}",
        stderr(&out)
    );
    let out = lock(&[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let text = std::fs::read_to_string(app.join("pylayer.lock")).unwrap();
    assert!(text.contains("name = \"shared-lib\""), "{text}");
    assert!(text.contains("url = \"../shared-lib\""), "{text}");
    assert!(text.contains("name = \"helper\""), "{text}");
}
