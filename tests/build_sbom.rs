//! `build --sbom`: a CycloneDX 1.5 document beside the zip, one component per distribution
//! with its purl, wheel sha256 and license, the layer as root with its CodeSha256; the same
//! bytes on every build; valid by the CycloneDX library's own schema validator.

mod support;

use std::process::Command;

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

fn meta(name: &str, version: &str, extra: &str) -> String {
    format!("Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n{extra}\n")
}

#[test]
fn sbom_lists_every_distribution_and_validates() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let index = TestIndex::start(
        &[
            WheelSpec::new("Alpha_Lib", "1.0+local")
                .no_files()
                .file("alpha_lib/__init__.py", "")
                .metadata(&meta(
                    "Alpha_Lib",
                    "1.0+local",
                    "License-Expression: MIT OR Apache-2.0\nRequires-Dist: beta\n",
                ))
                .build(&dir),
            WheelSpec::new("beta", "2.0")
                .no_files()
                .file("beta.py", "")
                .metadata(&meta(
                    "beta",
                    "2.0",
                    "Classifier: License :: OSI Approved :: BSD License\n",
                ))
                .build(&dir),
        ],
        IndexOptions::default(),
    );
    let build = || {
        let out = run(env.cmd().args([
            "build",
            "alpha-lib",
            "--index-url",
            &index.url,
            "--name",
            "sb",
            "--sbom",
            "--json",
        ]));
        assert!(out.status.success(), "{}", describe_output(&out));
        let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        m["layers"][0].clone()
    };
    let manifest = build();
    let path = env.work_dir().join("dist/sb-py3.12-x86_64.cdx.json");
    let first = std::fs::read(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.5");
    let root = &doc["metadata"]["component"];
    assert_eq!(root["name"], "sb");
    assert!(
        root["properties"]
            .to_string()
            .contains(manifest["code_sha256"].as_str().unwrap()),
        "{root:#}"
    );
    let components = doc["components"].as_array().unwrap();
    assert_eq!(components.len(), 2, "{doc:#}");
    let alpha = components
        .iter()
        .find(|c| {
            c["purl"]
                .as_str()
                .unwrap()
                .starts_with("pkg:pypi/alpha-lib@")
        })
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(alpha["purl"], "pkg:pypi/alpha-lib@1.0%2Blocal");
    assert_eq!(alpha["licenses"][0]["expression"], "MIT OR Apache-2.0");
    let lock_sha = manifest["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Alpha_Lib" || p["name"] == "alpha-lib")
        .unwrap()["sha256"]
        .clone();
    assert_eq!(alpha["hashes"][0]["content"], lock_sha);
    let beta = components.iter().find(|c| c["name"] == "beta").unwrap();
    assert_eq!(beta["licenses"][0]["license"]["name"], "BSD License");
    assert_eq!(
        doc["dependencies"][0]["dependsOn"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Reproducible, like the zip.
    build();
    assert_eq!(std::fs::read(&path).unwrap(), first);

    // Valid by CycloneDX's own validator (cyclonedx-python-lib, installed by scripts/test.sh).
    let check = "import sys\n\
from cyclonedx.validation.json import JsonStrictValidator\n\
from cyclonedx.schema import SchemaVersion\n\
err = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\n\
print(err or 'valid')\n\
sys.exit(1 if err else 0)\n";
    let probe = Command::new("python3")
        .args(["-c", "import cyclonedx.validation.json, jsonschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        support::missing_tool("python3 cannot import cyclonedx-python-lib[json-validation]");
        return;
    }
    let out = run(Command::new("python3").args(["-c", check]).arg(&path));
    assert!(out.status.success(), "{}", describe_output(&out));
}
