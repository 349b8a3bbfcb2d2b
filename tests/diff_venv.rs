//! `pylayer diff VENV LAYER.zip`: what a developer's venv has that the layer does not, at
//! which versions, and why where pylayer knows it.

mod support;

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

fn dist(site: &std::path::Path, name: &str, version: &str) {
    let d = site.join(format!("{name}-{version}.dist-info"));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("RECORD"),
        format!("{name}-{version}.dist-info/METADATA,,\n"),
    )
    .unwrap();
}

#[test]
fn a_venv_compares_with_a_layer_and_differences_say_why() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let index = TestIndex::start(
        &[
            WheelSpec::new("plain", "1.0").build(&dir),
            WheelSpec::new("plain", "2.0").build(&dir),
            WheelSpec::new("extra-tool", "1.0").no_files().build(&dir),
        ],
        IndexOptions::default(),
    );
    // The layer: plain held below 2.0 by a constraint.
    std::fs::write(env.work_dir().join("constraints.txt"), "plain<2\n").unwrap();
    let out = run(env.cmd().args([
        "build",
        "plain",
        "-c",
        "constraints.txt",
        "--index-url",
        &index.url,
        "--name",
        "dv",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip = env.work_dir().join("dist/dv-py3.12-x86_64.zip");

    // The developer's venv: plain 2.0, pip, boto3 (the runtime ships it).
    let venv = env.work_dir().join("venv");
    let site = venv.join("lib/python3.12/site-packages");
    for (n, v) in [("plain", "2.0"), ("pip", "24.0"), ("boto3", "1.40.0")] {
        dist(&site, n, v);
    }
    std::fs::write(venv.join("pyvenv.cfg"), "version = 3.12.1\n").unwrap();

    let out = run(env.cmd().arg("diff").arg(&venv).arg(&zip).arg("--json"));
    assert!(out.status.success(), "{}", describe_output(&out));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |name: &str| {
        d["distributions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {d:#}"))
            .clone()
    };
    let plain = row("plain");
    assert_eq!(plain["change"], "downgraded", "{d:#}");
    assert_eq!(plain["old_version"], "2.0");
    assert_eq!(plain["new_version"], "1.0");
    let why = plain["reason"].as_str().unwrap_or_default();
    assert!(why.starts_with("2.0 not taken"), "{d:#}");
    assert_eq!(row("pip")["change"], "removed");
    assert!(
        row("pip")["reason"]
            .as_str()
            .unwrap()
            .contains("installer tooling")
    );
    assert!(
        row("boto3")["reason"]
            .as_str()
            .unwrap()
            .contains("runtime ships it")
    );

    // Human output, with the venv on the other side.
    let out = run(env.cmd().arg("diff").arg(&zip).arg(&venv));
    assert!(out.status.success(), "{}", describe_output(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("upgraded"), "{text}");
    assert!(text.contains("plain: 2.0 not taken"), "{text}");
}
