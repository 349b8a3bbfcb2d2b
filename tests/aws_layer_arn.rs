//! Published layer versions as input (`check`, `inspect` by ARN) and `layers audit`, against
//! moto on 127.0.0.1 whose GetLayerVersion answers an HTTP Content.Location
//! (tests/aws/moto_server.py). Layers are built hermetically from wheels served by the local
//! test index and published with `pylayer publish`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::moto::Moto;
use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

fn pylayer(env: &TestEnv, moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    run(cmd.args(args))
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe_output(out)))
}

/// Builds a layer of one wheel for one target and publishes it; the version's ARN.
fn publish(
    env: &TestEnv,
    moto: &Moto,
    name: &str,
    wheel: &WheelSpec,
    python: &str,
    arch: &str,
) -> String {
    let wheels = env.work_dir().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let built = wheel.build(&wheels);
    let index = TestIndex::start(&[built], IndexOptions::default());
    let lock = env.work_dir().join(format!("{name}.lock"));
    let out = run(env
        .cmd()
        .args(["build", &format!("{}=={}", wheel.name, wheel.version)])
        .args(["--index-url", &index.url, "--name", name])
        .args(["--python", python, "--arch", arch, "--lock"])
        .arg(&lock));
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip = env
        .work_dir()
        .join(format!("dist/{name}-py{python}-{arch}.zip"));
    let out = pylayer(env, moto, &["publish", zip.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    json(&out)["layers"][0]["regions"][0]["arn"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A minimal ELF shared object for `machine` (62 x86_64, 183 aarch64) whose only dynamic
/// entry is `DT_NEEDED libc.so.6`.
fn elf(machine: u16) -> Vec<u8> {
    let dynstr = b"\0libc.so.6\0";
    let shstrtab = b"\0.dynstr\0.dynamic\0.shstrtab\0";
    let (dynstr_off, dynamic_off) = (64u64, 80u64);
    let shstrtab_off = dynamic_off + 4 * 16;
    let shoff = (shstrtab_off + shstrtab.len() as u64).next_multiple_of(8);
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    out.extend_from_slice(&machine.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // entry
    out.extend_from_slice(&0u64.to_le_bytes()); // phoff
    out.extend_from_slice(&shoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // flags
    for v in [64u16, 56, 0, 64, 4, 3] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(dynstr);
    out.resize(dynamic_off as usize, 0);
    for (tag, val) in [
        (1u64, 1u64),
        (5, dynstr_off),
        (10, dynstr.len() as u64),
        (0, 0),
    ] {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&val.to_le_bytes());
    }
    out.extend_from_slice(shstrtab);
    out.resize(shoff as usize, 0);
    let mut section =
        |name: u32, kind: u32, flags: u64, off: u64, size: u64, link: u32, ent: u64| {
            out.extend_from_slice(&name.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
            out.extend_from_slice(&off.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&link.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&8u64.to_le_bytes());
            out.extend_from_slice(&ent.to_le_bytes());
        };
    section(0, 0, 0, 0, 0, 0, 0);
    section(1, 3, 2, dynstr_off, dynstr.len() as u64, 0, 0);
    section(9, 6, 3, dynamic_off, 64, 1, 16);
    section(18, 3, 0, shstrtab_off, shstrtab.len() as u64, 0, 0);
    out
}

/// A wheel with one compiled module for CPython 3.`minor` on x86_64.
fn compiled_wheel(name: &str, minor: u8) -> WheelSpec {
    WheelSpec::new(name, "1.0")
        .tag(&format!(
            "cp3{minor}-cp3{minor}-manylinux_2_17_x86_64.manylinux2014_x86_64"
        ))
        .file(
            &format!("{name}/_speed.cpython-3{minor}-x86_64-linux-gnu.so"),
            elf(62),
        )
}

/// The cached zips of published layers.
fn cached_layers(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(prefixes) = std::fs::read_dir(cache.join("layers-v1")) else {
        return out;
    };
    for p in prefixes.flatten() {
        for f in std::fs::read_dir(p.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out
}

#[test]
fn check_and_inspect_read_a_published_version_by_arn_and_cache_its_bytes() {
    let moto = Moto::start_serving_layers();
    let env = TestEnv::new();
    let arn = publish(
        &env,
        &moto,
        "fast",
        &compiled_wheel("fastthing", 12),
        "3.12",
        "x86_64",
    );
    assert!(cached_layers(env.cache_dir()).is_empty());

    // check: runtime and architecture come from the version's compatible ones.
    let out = pylayer(&env, &moto, &["check", &arn, "--json"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let report = json(&out);
    assert_eq!(report["layer"], arn.as_str());
    assert_eq!(report["runtime"], "python3.12");
    assert_eq!(report["architecture"], "x86_64");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("downloaded"),
        "{}",
        describe_output(&out)
    );
    let cached = cached_layers(env.cache_dir());
    assert_eq!(cached.len(), 1, "{cached:?}");
    let zip = env.work_dir().join("dist/fast-py3.12-x86_64.zip");
    assert_eq!(
        std::fs::read(&cached[0]).unwrap(),
        std::fs::read(&zip).unwrap()
    );

    // --region belongs to an ARN, not to a local zip.
    let out = pylayer(
        &env,
        &moto,
        &["check", zip.to_str().unwrap(), "--region", "eu-west-1"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a local path"));

    // The bytes are gone from the server: inspect still works, from the cache.
    let name = arn.rsplit(':').nth(1).unwrap().to_string();
    moto.setup(&["delete-layer-content", &name, "1"]);
    let out = pylayer(&env, &moto, &["inspect", &arn, "--json"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let report = json(&out);
    assert_eq!(report["zip"], arn.as_str());
    let text = report.to_string();
    assert!(text.contains("fastthing"), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read from the cache"),
        "{}",
        describe_output(&out)
    );

    // A malformed ARN is bad usage; a version that does not exist is named with the fix.
    let out = pylayer(
        &env,
        &moto,
        &[
            "check",
            "arn:aws:lambda:us-east-1:123456789012:layer:fast-py312-x86_64",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not a layer version ARN") && err.contains("pylayer layers list"),
        "{err}"
    );
    let missing = format!("{}:9", arn.rsplit_once(':').unwrap().0);
    let out = pylayer(&env, &moto, &["inspect", &missing]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&missing) && err.contains("not found"), "{err}");
    assert!(
        err.contains("pylayer layers list fast-py312-x86_64 --region us-east-1"),
        "{err}"
    );

    // No credentials at all: the ARN and what to do.
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = run(cmd.args(["check", &missing]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&missing) && err.contains("credentials"),
        "{err}"
    );
}

#[test]
fn test_imports_a_published_version_by_arn() {
    let moto = Moto::start_serving_layers();
    let env = TestEnv::new();
    let arn = publish(
        &env,
        &moto,
        "pure",
        &WheelSpec::new("purething", "1.0"),
        "3.12",
        "x86_64",
    );
    // The Python minor comes from the version's compatible runtime (python3.12).
    let out = pylayer(&env, &moto, &["test", &arn, "--json"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let report = json(&out);
    assert_eq!(report["layer"], arn.as_str(), "{report:#}");
    let text = report.to_string();
    assert!(
        text.contains("purething") && text.contains("\"ok\""),
        "{report:#}"
    );
}

#[test]
fn altered_bytes_are_refused_and_never_cached() {
    let moto = Moto::start_serving_layers();
    let env = TestEnv::new();
    let arn = publish(
        &env,
        &moto,
        "alt",
        &compiled_wheel("altthing", 12),
        "3.12",
        "x86_64",
    );
    let name = arn.rsplit(':').nth(1).unwrap().to_string();
    // The server copies the bytes on the first GetLayerVersion; then they are swapped.
    moto.setup(&["layer-version", &name, "1", "us-east-1"]);
    moto.setup(&["replace-layer-content", &name, "1", "not the layer"]);
    let out = pylayer(&env, &moto, &["check", &arn]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&arn) && err.contains("CodeSha256"), "{err}");
    assert!(cached_layers(env.cache_dir()).is_empty());
}

/// The index's per-release JSON document for oldthing 1.0, with one vulnerability record in
/// the API's shape (made up: oldthing exists only in these tests).
const OLDTHING_VULNERABLE: &str = r#"{
  "info": {"name": "oldthing", "version": "1.0"},
  "urls": [],
  "vulnerabilities": [{
    "aliases": ["CVE-2099-0001"],
    "details": "A made-up flaw for the test.",
    "fixed_in": ["1.1"],
    "id": "PYSEC-2099-1",
    "link": "https://osv.dev/vulnerability/PYSEC-2099-1",
    "source": "osv",
    "summary": null,
    "withdrawn": null
  }]
}"#;

fn findings_of<'a>(audit: &'a serde_json::Value, function: &str) -> &'a serde_json::Value {
    audit["results"][0]["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == function)
        .unwrap_or_else(|| panic!("{function} not audited: {audit:#}"))
        .get("findings")
        .unwrap()
}

fn codes(findings: &serde_json::Value) -> Vec<String> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn layers_audit_flags_runtime_and_architecture_mismatches_and_passes_a_clean_function() {
    let moto = Moto::start_serving_layers();
    let env = TestEnv::new();
    let cp311 = publish(
        &env,
        &moto,
        "old",
        &compiled_wheel("oldthing", 11),
        "3.11",
        "x86_64",
    );
    let cp312 = publish(
        &env,
        &moto,
        "new",
        &compiled_wheel("newthing", 12),
        "3.12",
        "x86_64",
    );
    moto.setup(&[
        "create-function",
        "on312-with-311",
        "python3.12",
        "x86_64",
        &cp311,
    ]);
    moto.setup(&[
        "create-function",
        "arm-with-x86",
        "python3.12",
        "arm64",
        &cp312,
    ]);
    moto.setup(&["create-function", "clean", "python3.12", "x86_64", &cp312]);
    moto.setup(&[
        "create-function",
        "old-runtime",
        "python3.10",
        "x86_64",
        &cp312,
    ]);
    moto.setup(&["create-function", "nolayers", "python3.12", "x86_64"]);
    moto.setup(&["create-function", "js", "nodejs20.x", "x86_64", &cp312]);
    // The vulnerability service (the index's JSON API shape): oldthing 1.0 has a record.
    let service = TestIndex::start(&[], IndexOptions::default());
    service.route_json("/pypi/oldthing/1.0/json", OLDTHING_VULNERABLE);
    service.route_json(
        "/pypi/newthing/1.0/json",
        r#"{"info": {"name": "newthing", "version": "1.0"}, "urls": [], "vulnerabilities": []}"#,
    );
    let run_audit = |args: &[&str]| {
        let mut all = vec!["layers", "audit", "--vulnerability-url", &service.base];
        all.extend_from_slice(args);
        pylayer(&env, &moto, &all)
    };

    let out = run_audit(&["--json", "--as-of", "2026-11-27"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let audit = json(&out);
    assert_eq!(audit["as_of"], "2026-11-27");

    let f = findings_of(&audit, "on312-with-311");
    assert_eq!(codes(f)[0], "runtime-mismatch", "{f:#}");
    assert_eq!(f[0]["layer"], cp311.as_str());
    let message = f[0]["message"].as_str().unwrap();
    assert!(
        message.contains("python3.11") && message.contains("python3.12"),
        "{message}"
    );
    assert!(
        f[0]["fix"]
            .as_str()
            .unwrap()
            .contains("pylayer build --python 3.12 --arch x86_64"),
        "{f:#}"
    );

    let vulnerability = f
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "vulnerability")
        .unwrap_or_else(|| panic!("no vulnerability finding: {f:#}"));
    let message = vulnerability["message"].as_str().unwrap();
    assert!(
        message.contains("oldthing 1.0: PYSEC-2099-1 (CVE-2099-0001), fixed in 1.1"),
        "{message}"
    );
    assert_eq!(audit["results"][0]["vulnerabilities_checked"], true);

    // The check's own `wrong-architecture` error is not repeated as `check-errors`.
    let f = findings_of(&audit, "arm-with-x86");
    assert_eq!(codes(f), ["architecture-mismatch"], "{f:#}");

    let f = findings_of(&audit, "old-runtime");
    assert!(
        codes(f).contains(&"deprecated-runtime".to_string()),
        "{f:#}"
    );

    assert_eq!(findings_of(&audit, "clean"), &serde_json::json!([]));

    let skipped: Vec<&str> = audit["results"][0]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["js", "nolayers"], "{audit:#}");

    // Each layer version was read once, into the cache.
    assert_eq!(
        audit["results"][0]["layers"].as_array().unwrap().len(),
        2,
        "{audit:#}"
    );
    assert_eq!(cached_layers(env.cache_dir()).len(), 2);
    let old = audit["results"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["arn"] == cp311.as_str())
        .unwrap();
    assert_eq!(old["built_for_python"], 11);
    assert_eq!(old["built_for_arch"], "x86_64");

    // The clean function alone passes, in the human table too.
    let out = run_audit(&["--function", "clean", "--as-of", "2026-11-27"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("clean") && stdout.contains("ok (1 layer(s))"),
        "{stdout}"
    );

    // The human table names each finding, its layer and the fix.
    let out = run_audit(&["--as-of", "2026-11-27"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("error[runtime-mismatch] [old-py311-x86_64:1]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error[architecture-mismatch] [new-py312-x86_64:1]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("js") && stdout.contains("skipped: not a Python runtime"),
        "{stdout}"
    );

    let out = run_audit(&["--function", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("function nope: not found"));
    let out = run_audit(&["--as-of", "tomorrow"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
}
