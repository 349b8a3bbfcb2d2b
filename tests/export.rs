//! `pylayer export`: the lock's pins as requirements.txt that real pip installs with
//! `--require-hashes` from the test index, and refuses once a hash is wrong.

mod support;

use std::process::Command;

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

fn pip_install(
    req: &std::path::Path,
    target: &std::path::Path,
    index: &str,
) -> std::process::Output {
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--require-hashes",
            "--only-binary=:all:",
            "--index-url",
            index,
            "--target",
        ])
        .arg(target)
        .arg("-r")
        .arg(req))
}

#[test]
fn exported_requirements_install_with_require_hashes() {
    let env = TestEnv::new();
    let wheels = vec![
        WheelSpec::new("app-lib", "1.2.0")
            .no_files()
            .requires("helper>=1")
            .file("app_lib/__init__.py", "import helper\n")
            .build(&env.work_dir().join("wheels")),
        WheelSpec::new("helper", "1.0")
            .no_files()
            .file("helper.py", "X = 1\n")
            .build(&env.work_dir().join("wheels")),
        WheelSpec::new("helper", "2.0")
            .no_files()
            .file("helper.py", "X = 2\n")
            .build(&env.work_dir().join("wheels")),
    ];
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let req = env.work_dir().join("exported.txt");
    let out = run(env
        .cmd()
        .args([
            "export",
            "app-lib",
            "--index-url",
            &index.url,
            "--python",
            "3.11",
            "--python",
            "3.12",
            "-o",
        ])
        .arg(&req));
    assert!(out.status.success(), "{}", describe_output(&out));
    // Export locks first, like build: the lock it exported from is on disk.
    assert!(env.work_dir().join("pylayer.lock").is_file());
    let text = std::fs::read_to_string(&req).unwrap();
    assert!(
        text.contains("app-lib==1.2.0 \\\n    --hash=sha256:"),
        "{text}"
    );
    assert!(
        text.contains("helper==2.0 \\\n    --hash=sha256:"),
        "{text}"
    );
    assert!(
        text.contains(&format!("--index-url {}", index.url)),
        "{text}"
    );
    assert!(!text.contains("helper==1.0"), "{text}");

    let site = env.work_dir().join("site");
    let out = pip_install(&req, &site, &index.url);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(
        std::fs::read_to_string(site.join("helper.py")).unwrap(),
        "X = 2\n"
    );
    assert!(site.join("app_lib/__init__.py").is_file());

    // The hashes are checked: one wrong digit and pip refuses.
    let pos = text.find("--hash=sha256:").unwrap() + "--hash=sha256:".len();
    let mut bad = text.clone();
    let c = if &bad[pos..pos + 1] == "0" { "1" } else { "0" };
    bad.replace_range(pos..pos + 1, c);
    let bad_req = env.work_dir().join("bad.txt");
    std::fs::write(&bad_req, bad).unwrap();
    let out = pip_install(&bad_req, &env.work_dir().join("site2"), &index.url);
    assert!(!out.status.success(), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HASHES"),
        "{}",
        describe_output(&out)
    );

    // Standard output, without hashes, for one target.
    let out = run(env.cmd().args([
        "export",
        "app-lib",
        "--index-url",
        &index.url,
        "--python",
        "3.12",
        "--no-hashes",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\napp-lib==1.2.0\nhelper==2.0\n"),
        "{stdout}"
    );
}
