//! `[env.NAME]` in pylayer.toml: each environment's own lock and layer name, its adjustments
//! of the one requirements.txt, independent pins whatever the build order, shared versions
//! where the adjustments allow, and the differences said.

mod support;

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

const CONFIG: &str = r#"name = "proj"
python = ["3.12"]
requirements = ["requirements.txt"]

[env.dev]
packages = ["devtool"]

[env.test]

[env.prod]
packages = ["shared==1.0"]
"#;

fn wheels(dir: &std::path::Path, with_newer: bool) -> Vec<std::path::PathBuf> {
    let mut v = vec![
        WheelSpec::new("app", "1.0")
            .no_files()
            .requires("shared")
            .build(dir),
        WheelSpec::new("shared", "1.0").no_files().build(dir),
        WheelSpec::new("shared", "2.0").no_files().build(dir),
        WheelSpec::new("devtool", "1.0").no_files().build(dir),
    ];
    if with_newer {
        v.push(WheelSpec::new("shared", "2.1").no_files().build(dir));
    }
    v
}

fn pins(lock: &std::path::Path) -> String {
    let text = std::fs::read_to_string(lock).unwrap();
    let lock: toml::Table = toml::from_str(&text).unwrap();
    let mut out = Vec::new();
    for t in lock["target"].as_array().unwrap() {
        for p in t["package"].as_array().unwrap() {
            out.push(format!(
                "{}=={}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            ));
        }
    }
    out.join(" ")
}

#[test]
fn environments_lock_independently_share_versions_and_say_what_differs() {
    let env = TestEnv::new();
    let w = env.work_dir();
    std::fs::write(w.join("pylayer.toml"), CONFIG).unwrap();
    std::fs::write(w.join("requirements.txt"), "app\n").unwrap();
    let old = TestIndex::start(&wheels(&w.join("old"), false), IndexOptions::default());
    let new = TestIndex::start(&wheels(&w.join("new"), true), IndexOptions::default());
    let build = |e: &str, index: &TestIndex| {
        let out = run(env
            .cmd()
            .args(["build", "--env", e, "--index-url", &index.url]));
        assert!(out.status.success(), "{}", describe_output(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    build("dev", &old);
    let dev_lock = w.join("pylayer.dev.lock");
    assert_eq!(pins(&dev_lock), "app==1.0 devtool==1.0 shared==2.0");
    assert!(w.join("dist/proj-dev-py3.12-x86_64.zip").is_file());
    let dev_text = std::fs::read_to_string(&dev_lock).unwrap();

    // prod pins shared lower: its own lock, and the difference is said.
    let err = build("prod", &new);
    assert_eq!(pins(&w.join("pylayer.prod.lock")), "app==1.0 shared==1.0");
    assert!(w.join("dist/proj-prod-py3.12-x86_64.zip").is_file());
    assert!(
        err.contains("not the same in every environment: shared 1.0 in prod, 2.0 in dev"),
        "{err}"
    );

    // test has no adjustment: although the index now has shared 2.1, it takes dev's 2.0.
    build("test", &new);
    assert_eq!(pins(&w.join("pylayer.test.lock")), "app==1.0 shared==2.0");

    // Building dev again after the others leaves its lock as it was.
    build("dev", &old);
    assert_eq!(std::fs::read_to_string(&dev_lock).unwrap(), dev_text);
    assert!(
        !w.join("pylayer.lock").exists(),
        "no environment wrote the default lock"
    );

    // Export of one environment.
    let out = run(env.cmd().args([
        "export",
        "--env",
        "prod",
        "--no-hashes",
        "--index-url",
        &new.url,
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\napp==1.0\nshared==1.0\n"), "{text}");
    assert!(text.contains("pylayer.prod.lock"), "{text}");

    // An unknown environment names the ones there are.
    let out = run(env.cmd().args(["lock", "--env", "staging"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("its environments: dev, prod, test"), "{err}");

    // A removal that names no requirement is a typo: said with the file, nothing locked.
    std::fs::write(
        w.join("typo.toml"),
        "requirements = [\"requirements.txt\"]\n[env.x]\nremove = [\"ap\"]\n",
    )
    .unwrap();
    let out = run(env.cmd().args([
        "lock",
        "--config",
        "typo.toml",
        "--env",
        "x",
        "--index-url",
        &new.url,
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.toml: [env.x] remove = [\"ap\"]: no requirement names ap"),
        "{err}"
    );
    assert!(!w.join("pylayer.x.lock").exists());
}
