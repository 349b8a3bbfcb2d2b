//! `pylayer build` against the local test index: several targets in one call, layouts,
//! the JSON manifest, and what is left out of a layer.

mod support;

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

fn names(zip: &std::path::Path) -> Vec<String> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    (0..z.len())
        .map(|i| z.by_index_raw(i).unwrap().name().unwrap().to_string())
        .collect()
}

#[test]
fn several_targets_in_one_call_make_one_zip_each() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let wheels = vec![
        WheelSpec::new("fast", "1.0")
            .tag("cp311-cp311-manylinux_2_17_x86_64")
            .build(&dir),
        WheelSpec::new("fast", "1.0")
            .tag("cp311-cp311-manylinux_2_17_aarch64")
            .build(&dir),
        WheelSpec::new("fast", "1.0")
            .tag("cp312-cp312-manylinux_2_28_x86_64")
            .build(&dir),
        WheelSpec::new("fast", "1.0")
            .tag("cp312-cp312-manylinux_2_28_aarch64")
            .build(&dir),
        WheelSpec::new("pure", "2.0").build(&dir),
    ];
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let out = run(env
        .cmd()
        .args([
            "build",
            "fast",
            "pure",
            "--index-url",
            &index.url,
            "--name",
            "multi",
            "--json",
        ])
        .args([
            "--python", "3.11", "--python", "3.12", "--arch", "x86_64", "--arch", "arm64",
        ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let manifests: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifests = manifests["layers"]
        .as_array()
        .expect("{\"layers\": [one manifest per target]}");
    assert_eq!(manifests.len(), 4);
    for (python, arch, machine) in [
        ("3.11", "x86_64", "x86_64"),
        ("3.11", "arm64", "aarch64"),
        ("3.12", "x86_64", "x86_64"),
        ("3.12", "arm64", "aarch64"),
    ] {
        let zip = env
            .work_dir()
            .join(format!("dist/multi-py{python}-{arch}.zip"));
        assert!(zip.is_file(), "{zip:?}");
        assert!(zip.with_extension("json").is_file());
        let m = manifests
            .iter()
            .find(|m| m["python"] == python && m["architecture"] == arch)
            .unwrap();
        let fast = m["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "fast")
            .unwrap();
        let tag = fast["tag"].as_str().unwrap();
        assert!(
            tag.contains(&format!("cp{}", python.replace('.', ""))) && tag.ends_with(machine),
            "{tag}"
        );
        assert_eq!(m["runtime"], format!("python{python}"));
    }
}

#[test]
fn site_packages_layout_and_left_out_files() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let wheels = vec![
        WheelSpec::new("app", "1.0")
            .no_files()
            .requires("setuptools")
            .file("app/__init__.py", "x = 1\n")
            .file("app/__pycache__/__init__.cpython-312.pyc", vec![0u8; 16])
            .build(&dir),
        WheelSpec::new("plain", "1.0").build(&dir),
        WheelSpec::new("setuptools", "70.0")
            .no_files()
            .file("setuptools/__init__.py", "")
            .file("_distutils_hack/__init__.py", "")
            .build(&dir),
    ];
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let out = run(env.cmd().args([
        "build",
        "app",
        "--index-url",
        &index.url,
        "--name",
        "sp",
        "--layout",
        "site-packages",
        "--python",
        "3.12",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let entries = names(&env.work_dir().join("dist/sp-py3.12-x86_64.zip"));
    assert!(
        entries.contains(&"python/lib/python3.12/site-packages/app/__init__.py".to_string()),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e.starts_with("python/lib/python3.12/site-packages/")),
        "{entries:?}"
    );
    assert!(
        !entries.iter().any(|e| e.contains("__pycache__")),
        "{entries:?}"
    );
    // app imports setuptools at run time, so setuptools stays although nobody named it.
    assert!(
        entries.contains(&"python/lib/python3.12/site-packages/setuptools/__init__.py".to_string()),
        "{entries:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("keeping setuptools: app needs it"),
        "{}",
        describe_output(&out)
    );
    let installer = entries
        .iter()
        .find(|e| e.ends_with("app-1.0.dist-info/INSTALLER"))
        .expect("dist-info kept");
    let mut z = zip::ZipArchive::new(
        std::fs::File::open(env.work_dir().join("dist/sp-py3.12-x86_64.zip")).unwrap(),
    )
    .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut z.by_name(installer).unwrap(), &mut text).unwrap();
    assert_eq!(text, "pylayer\n");
    // Neither named nor needed (a venv's leftovers), setuptools is left out, with its hack.
    let venv = venv_with_tooling(&env);
    let out = run(env
        .cmd()
        .args([
            "build",
            "--index-url",
            &index.url,
            "--name",
            "sp2",
            "--from-venv",
        ])
        .arg(&venv));
    assert!(out.status.success(), "{}", describe_output(&out));
    let entries = names(&env.work_dir().join("dist/sp2-py3.12-x86_64.zip"));
    assert!(
        entries.iter().any(|e| e.starts_with("python/plain/")),
        "{entries:?}"
    );
    assert!(
        !entries.iter().any(|e| e.contains("setuptools")
            || e.contains("_distutils_hack")
            || e.contains("pip")),
        "{entries:?}"
    );
}

/// A venv holding `plain` plus pip and setuptools, as `python -m venv` + `pip install plain`
/// leaves it.
fn venv_with_tooling(env: &TestEnv) -> std::path::PathBuf {
    let venv = env.work_dir().join("venv");
    let site = venv.join("lib/python3.12/site-packages");
    for (name, version) in [("plain", "1.0"), ("setuptools", "70.0"), ("pip", "24.0")] {
        let d = site.join(format!("{name}-{version}.dist-info"));
        std::fs::create_dir_all(&d).unwrap();
        let meta = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        std::fs::write(d.join("METADATA"), meta).unwrap();
    }
    std::fs::write(venv.join("pyvenv.cfg"), "version = 3.12.1\n").unwrap();
    venv
}

#[test]
fn from_venv_warns_about_editable_installs_and_leaves_them_out() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let index = TestIndex::start(
        &[WheelSpec::new("plain", "1.0").build(&dir)],
        IndexOptions::default(),
    );
    let venv = venv_with_tooling(&env);
    let site = venv.join("lib/python3.12/site-packages/mine-0.1.dist-info");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("METADATA"),
        "Metadata-Version: 2.1\nName: mine\nVersion: 0.1\n",
    )
    .unwrap();
    std::fs::write(
        site.join("direct_url.json"),
        r#"{"url": "file:///home/me/src/mine", "dir_info": {"editable": true}}"#,
    )
    .unwrap();
    let out = run(env
        .cmd()
        .args([
            "build",
            "--index-url",
            &index.url,
            "--name",
            "ed",
            "--from-venv",
        ])
        .arg(&venv));
    assert!(out.status.success(), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mine 0.1 is an editable install of /home/me/src/mine"),
        "{err}"
    );
    let entries = names(&env.work_dir().join("dist/ed-py3.12-x86_64.zip"));
    assert!(
        entries.iter().any(|e| e.starts_with("python/plain/")),
        "{entries:?}"
    );
    assert!(!entries.iter().any(|e| e.contains("mine")), "{entries:?}");
}

/// The venv's Python decides the target unless a flag says otherwise; a pylayer.toml that
/// names another Python stops the build with what to do, instead of building the venv's
/// pins for the wrong runtime.
#[test]
fn from_venv_takes_the_venv_python_and_refuses_a_different_pylayer_toml() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let index = TestIndex::start(
        &[WheelSpec::new("plain", "1.0").build(&dir)],
        IndexOptions::default(),
    );
    let venv = venv_with_tooling(&env);
    std::fs::write(venv.join("pyvenv.cfg"), "version = 3.11.7\n").unwrap();
    let build = |extra: &[&str]| {
        run(env
            .cmd()
            .args(["build", "--index-url", &index.url, "--name", "vp"])
            .arg("--from-venv")
            .arg(&venv)
            .args(extra))
    };
    let out = build(&[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(env.work_dir().join("dist/vp-py3.11-x86_64.zip").is_file());

    let out = run(env.cmd().args(["init", "--name", "vp"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let out = build(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pylayer.toml"), "{err}");
    assert!(err.contains("python3.11"), "{err}");
    assert!(err.contains("--python 3.11"), "{err}");
    // A flag settles it.
    let out = build(&["--python", "3.12"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(env.work_dir().join("dist/vp-py3.12-x86_64.zip").is_file());

    // `init` with flags on the initialised project updates those keys, comments kept.
    let out = run(env
        .cmd()
        .args(["init", "--python", "3.11", "--arch", "arm64"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("set python = [\"3.11\"]"), "{said}");
    assert!(said.contains("set arch = [\"arm64\"]"), "{said}");
    let text = std::fs::read_to_string(env.work_dir().join("pylayer.toml")).unwrap();
    assert!(text.contains("\npython = [\"3.11\"]\n"), "{text}");
    assert!(text.contains("\narch = [\"arm64\"]\n"), "{text}");
    assert!(text.contains("# Lambda Python runtimes"), "{text}");
    let out = run(env.cmd().args(["init", "--python", "3.11"]));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("nothing to change"), "{said}");
    let out = build(&[]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(env.work_dir().join("dist/vp-py3.11-arm64.zip").is_file());
}
