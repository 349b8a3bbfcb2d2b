//! publish / attach / layers against moto in server mode on 127.0.0.1, started here.
//! Layers are built hermetically from wheels served by the local test index.

mod support;

use std::path::PathBuf;
use std::process::Output;

use support::moto::Moto;
use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

/// A layer built by pylayer from a local wheel whose content is `payload`.
fn layer(env: &TestEnv, name: &str, version: &str, payload: &[u8], arch: &str) -> PathBuf {
    layer_for(env, name, version, payload, "3.12", arch)
}

/// Like `layer`, for another Python.
fn layer_for(
    env: &TestEnv,
    name: &str,
    version: &str,
    payload: &[u8],
    python: &str,
    arch: &str,
) -> PathBuf {
    let wheel = WheelSpec::new("payload", version).file("payload/data.bin", payload.to_vec());
    let zip = build_layer(env, name, &wheel, python, arch);
    assert!(zip.0.status.success(), "{}", describe_output(&zip.0));
    zip.1
}

/// Builds a layer of one wheel for one target; the build's output and the zip's path (the
/// zip is written even when its check fails).
fn build_layer(
    env: &TestEnv,
    name: &str,
    wheel: &WheelSpec,
    python: &str,
    arch: &str,
) -> (Output, PathBuf) {
    let version = &wheel.version;
    let wheels = env.work_dir().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let wheel = wheel.build(&wheels);
    let index = TestIndex::start(&[wheel], IndexOptions::default());
    let lock = env
        .work_dir()
        .join(format!("{name}-{version}-{python}-{arch}.lock"));
    let out = run(env
        .cmd()
        .args([
            "build",
            &format!("payload=={version}"),
            "--index-url",
            &index.url,
            "--name",
            name,
        ])
        .args(["--python", python, "--arch", arch, "--lock"])
        .arg(&lock));
    let zip = env
        .work_dir()
        .join(format!("dist/{name}-py{python}-{arch}.zip"));
    (out, zip)
}

fn pylayer(env: &TestEnv, moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    run(cmd.args(args))
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", describe_output(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe_output(out)))
}

/// Random bytes that do not compress, so zips reach a chosen size.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn publish_is_idempotent_and_new_bytes_make_a_new_version() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let zip = layer(&env, "demo", "1.0", b"one", "x86_64");
    let zip = zip.to_str().unwrap();
    let first = json(&pylayer(&env, &moto, &["publish", zip, "--json"]));
    let first = &first["layers"][0];
    assert_eq!(first["layer"], "demo-py312-x86_64");
    assert_eq!(first["regions"][0]["action"], "published");
    assert_eq!(first["regions"][0]["version"], 1);
    let again = json(&pylayer(&env, &moto, &["publish", zip, "--json"]));
    let again = &again["layers"][0];
    assert_eq!(again["regions"][0]["action"], "unchanged");
    assert_eq!(again["regions"][0]["arn"], first["regions"][0]["arn"]);
    assert_eq!(
        moto.setup(&["layer-versions", "demo-py312-x86_64"]),
        serde_json::json!([1])
    );

    let zip2 = layer(&env, "demo", "2.0", b"two", "x86_64");
    let dry = json(&pylayer(
        &env,
        &moto,
        &["publish", zip2.to_str().unwrap(), "--json", "--dry-run"],
    ));
    assert_eq!(dry["layers"][0]["regions"][0]["action"], "would-publish");
    assert_eq!(
        moto.setup(&["layer-versions", "demo-py312-x86_64"]),
        serde_json::json!([1]),
        "a dry run published"
    );
    let second = json(&pylayer(
        &env,
        &moto,
        &["publish", zip2.to_str().unwrap(), "--json"],
    ));
    assert_eq!(second["layers"][0]["regions"][0]["action"], "published");
    assert_eq!(second["layers"][0]["regions"][0]["version"], 2);

    // Back to the first bytes (a rebuild makes the same zip): version 1 has them, so
    // nothing is published although version 2 is the latest.
    let rebuilt = layer(&env, "demo", "1.0", b"one", "x86_64");
    let back = json(&pylayer(
        &env,
        &moto,
        &["publish", rebuilt.to_str().unwrap(), "--json"],
    ));
    assert_eq!(back["layers"][0]["regions"][0]["action"], "unchanged");
    assert_eq!(back["layers"][0]["regions"][0]["version"], 1);
    assert_eq!(
        moto.setup(&["layer-versions", "demo-py312-x86_64"]),
        serde_json::json!([1, 2])
    );
}

#[test]
fn large_zip_goes_through_s3_and_needs_a_bucket() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let zip = layer(&env, "big", "1.0", &noise(70 * 1024 * 1024, 7), "x86_64");
    assert!(std::fs::metadata(&zip).unwrap().len() > 52_428_800);
    let zip = zip.to_str().unwrap();
    let out = pylayer(&env, &moto, &["publish", zip]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--s3-bucket"),
        "{}",
        describe_output(&out)
    );

    let out = pylayer(
        &env,
        &moto,
        &["publish", zip, "--s3-bucket", "missing-bucket"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bucket does not exist"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");

    moto.setup(&["create-bucket", "layers-bucket"]);
    let published = json(&pylayer(
        &env,
        &moto,
        &["publish", zip, "--s3-bucket", "layers-bucket", "--json"],
    ));
    assert_eq!(published["layers"][0]["regions"][0]["action"], "published");
    assert_eq!(published["layers"][0]["regions"][0]["via_s3"], true);
    let objects = moto.setup(&["list-objects", "layers-bucket"]);
    assert_eq!(objects.as_array().unwrap().len(), 1);
    assert_eq!(
        objects[0]["size"].as_u64(),
        Some(std::fs::metadata(zip).unwrap().len())
    );
    let again = json(&pylayer(
        &env,
        &moto,
        &["publish", zip, "--s3-bucket", "layers-bucket", "--json"],
    ));
    assert_eq!(again["layers"][0]["regions"][0]["action"], "unchanged");
}

#[test]
fn attach_replaces_in_place_and_enforces_limits() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let other = moto.setup(&["publish-dummy-layer", "other", "python3.12", "x86_64"])["arn"]
        .as_str()
        .unwrap()
        .to_string();
    moto.setup(&["create-function", "fn1", "python3.12", "x86_64", &other]);

    let v1 = layer(&env, "demo", "1.0", b"one", "x86_64");
    json(
        &pylayer(&env, &moto, &["publish", v1.to_str().unwrap()])
            .clone()
            .tap_json(),
    );
    let dry = json(&pylayer(
        &env,
        &moto,
        &["attach", "--function", "fn1", "--json", "--dry-run"],
    ));
    assert_eq!(dry["functions"][0]["action"], "would-update");
    assert_eq!(dry["functions"][0]["region"], "us-east-1");
    assert_eq!(
        moto.setup(&["layers-of", "fn1"]),
        serde_json::json!([other]),
        "a dry run changed the function"
    );
    let attached = json(&pylayer(
        &env,
        &moto,
        &["attach", "--function", "fn1", "--json"],
    ));
    assert_eq!(attached["functions"][0]["action"], "updated");
    let layers = moto.setup(&["layers-of", "fn1"]);
    assert_eq!(layers.as_array().unwrap().len(), 2);
    assert_eq!(layers[0], serde_json::json!(other));
    assert!(
        layers[1]
            .as_str()
            .unwrap()
            .ends_with(":layer:demo-py312-x86_64:1")
    );

    // A newer version replaces the old one in place, keeping the order of the others.
    let v2 = layer(&env, "demo", "2.0", b"two", "x86_64");
    json(
        &pylayer(&env, &moto, &["publish", v2.to_str().unwrap()])
            .clone()
            .tap_json(),
    );
    json(&pylayer(
        &env,
        &moto,
        &["attach", "--function", "fn1", "--json"],
    ));
    let layers = moto.setup(&["layers-of", "fn1"]);
    assert_eq!(layers[0], serde_json::json!(other));
    assert!(
        layers[1]
            .as_str()
            .unwrap()
            .ends_with(":layer:demo-py312-x86_64:2"),
        "{layers}"
    );
    assert_eq!(layers.as_array().unwrap().len(), 2);

    // A sixth layer is refused.
    let five: Vec<String> = (0..5)
        .map(|i| {
            moto.setup(&[
                "publish-dummy-layer",
                &format!("l{i}"),
                "python3.12",
                "x86_64",
            ])["arn"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut args = vec!["create-function", "full", "python3.12", "x86_64"];
    args.extend(five.iter().map(String::as_str));
    moto.setup(&args);
    let out = pylayer(&env, &moto, &["attach", "--function", "full"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Lambda allows 5"),
        "{}",
        describe_output(&out)
    );
    assert_eq!(
        moto.setup(&["layers-of", "full"]).as_array().unwrap().len(),
        5
    );

    // An arm64 layer on an x86_64 function is refused.
    let arm = layer(&env, "armdemo", "1.0", b"arm", "arm64");
    let published = json(&pylayer(
        &env,
        &moto,
        &["publish", arm.to_str().unwrap(), "--json"],
    ));
    let arm_arn = published["layers"][0]["regions"][0]["arn"]
        .as_str()
        .unwrap();
    let out = pylayer(
        &env,
        &moto,
        &["attach", "--function", "fn1", "--layer", arm_arn],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("runs on x86_64") && err.contains("arm64"),
        "{err}"
    );

    // An unknown function: one clear line.
    let out = pylayer(&env, &moto, &["attach", "--function", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("function nope: not found"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn attach_refuses_going_over_250_mb_unzipped() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    moto.setup(&["create-function", "fn", "python3.12", "x86_64"]);
    let zip = layer(&env, "huge", "1.0", b"x", "x86_64");
    // The manifest says how big the layer is unzipped; pretend it is 270 MB.
    let manifest_path = zip.with_extension("json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["unzipped_bytes"] = serde_json::json!(270_000_000u64);
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    json(&pylayer(
        &env,
        &moto,
        &["publish", zip.to_str().unwrap(), "--json"],
    ));
    let out = pylayer(&env, &moto, &["attach", "--function", "fn"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("262144000"),
        "{}",
        describe_output(&out)
    );
}

#[test]
fn prune_keeps_what_is_in_use() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let mut arns = Vec::new();
    for v in ["1.0", "2.0", "3.0", "4.0"] {
        let zip = layer(&env, "pr", v, v.as_bytes(), "x86_64");
        let out = json(&pylayer(
            &env,
            &moto,
            &["publish", zip.to_str().unwrap(), "--json"],
        ));
        arns.push(
            out["layers"][0]["regions"][0]["arn"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // Version 1 is in use by a function.
    moto.setup(&["create-function", "user", "python3.12", "x86_64", &arns[0]]);
    let listed = json(&pylayer(
        &env,
        &moto,
        &["layers", "list", "pr", "--usage", "--json"],
    ));
    assert_eq!(listed["layer"], "pr");
    assert_eq!(listed["versions"][0]["layer"], "pr-py312-x86_64");
    let listed = &listed["versions"];
    let versions: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [4, 3, 2, 1]);
    assert_eq!(listed[3]["used_by"], serde_json::json!(["user"]));

    let out = pylayer(
        &env,
        &moto,
        &["layers", "prune", "pr", "--keep", "1", "--dry-run"],
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pr-py312-x86_64: would delete version 2"),
        "{}",
        describe_output(&out)
    );
    assert_eq!(
        moto.setup(&["layer-versions", "pr-py312-x86_64"]),
        serde_json::json!([1, 2, 3, 4]),
        "a dry run deleted"
    );
    let dry = json(&pylayer(
        &env,
        &moto,
        &[
            "layers",
            "prune",
            "pr",
            "--keep",
            "1",
            "--dry-run",
            "--json",
        ],
    ));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["results"][0]["deleted"], serde_json::json!([3, 2]));
    assert_eq!(dry["results"][0]["kept"], serde_json::json!([4]));
    assert_eq!(dry["results"][0]["kept_in_use"][0]["version"], 1);
    assert_eq!(
        dry["results"][0]["kept_in_use"][0]["used_by"],
        serde_json::json!(["user"])
    );

    let out = pylayer(&env, &moto, &["layers", "prune", "pr", "--keep", "1"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(
        moto.setup(&["layer-versions", "pr-py312-x86_64"]),
        serde_json::json!([1, 4])
    );
}

#[test]
fn wrong_credentials_and_unreachable_endpoint_give_one_clear_line() {
    let env = TestEnv::new();
    let zip = layer(&env, "cred", "1.0", b"c", "x86_64");
    let zip = zip.to_str().unwrap();
    // moto checks credentials when asked to: unknown keys are rejected.
    let strict = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let out = pylayer(&env, &strict, &["publish", zip]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rejected the credentials"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        !err.contains("testing"),
        "credentials must not be printed: {err}"
    );
    drop(strict);

    // Nothing listens: the endpoint is unreachable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = env.cmd();
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1");
    let out = run(cmd.args(["publish", zip]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the AWS endpoint"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

trait TapJson {
    fn tap_json(self) -> Output;
}

impl TapJson for Output {
    /// `publish` without --json prints a table; turn a success into `{}` for `json()`.
    fn tap_json(self) -> Output {
        assert!(self.status.success(), "{}", describe_output(&self));
        Output {
            status: self.status,
            stdout: b"{}".to_vec(),
            stderr: self.stderr,
        }
    }
}

#[test]
fn regions_are_published_independently() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let zip = layer(&env, "multi", "1.0", b"m", "x86_64");
    let out = pylayer(
        &env,
        &moto,
        &[
            "publish",
            zip.to_str().unwrap(),
            "--region",
            "us-east-1",
            "--region",
            "bad region!",
            "--region",
            "eu-west-1",
        ],
    );
    // One region's failure is reported; the others are published all the same.
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("arn:aws:lambda:us-east-1:123456789012:layer:multi-py312-x86_64:1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("arn:aws:lambda:eu-west-1:123456789012:layer:multi-py312-x86_64:1"),
        "{stdout}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad region!") && err.contains("check --region"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// The four targets of one project: python3.11/3.12 × x86_64/arm64, each its own zip.
const TARGETS: [(&str, &str); 4] = [
    ("3.11", "x86_64"),
    ("3.11", "arm64"),
    ("3.12", "x86_64"),
    ("3.12", "arm64"),
];

fn published_versions(moto: &Moto, layer: &str) -> serde_json::Value {
    moto.setup(&["layer-versions", layer])
}

#[test]
fn each_target_is_published_once_and_attach_picks_the_functions_own() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let zips: Vec<String> = TARGETS
        .iter()
        .map(|(py, arch)| {
            layer_for(&env, "proj", "1.0", b"same payload", py, arch)
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut args = vec!["publish", "--json"];
    args.extend(zips.iter().map(String::as_str));
    let first = json(&pylayer(&env, &moto, &args));
    assert_eq!(first["published"], 4, "{first}");
    assert_eq!(first["unchanged"], 0);
    for (i, (py, arch)) in TARGETS.iter().enumerate() {
        let layer = format!("proj-py{}-{arch}", py.replace('.', ""));
        let entry = &first["layers"][i];
        assert_eq!(entry["layer"], layer.as_str());
        assert_eq!(
            entry["runtimes"],
            serde_json::json!([format!("python{py}")])
        );
        assert_eq!(entry["architectures"], serde_json::json!([arch]));
        assert_eq!(published_versions(&moto, &layer), serde_json::json!([1]));
    }

    // The second run publishes nothing, and says so.
    let mut cmd_args = vec!["publish"];
    cmd_args.extend(zips.iter().map(String::as_str));
    let again = pylayer(&env, &moto, &cmd_args);
    assert!(again.status.success(), "{}", describe_output(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("nothing published"), "{stderr}");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        stdout
            .matches("unchanged (version 1 has the same bytes)")
            .count(),
        4,
        "{stdout}"
    );
    let total: usize = TARGETS
        .iter()
        .map(|(py, arch)| {
            published_versions(&moto, &format!("proj-py{}-{arch}", py.replace('.', "")))
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(total, 4, "exactly one version per target");

    // published.json holds every target's ARN and CodeSha256.
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.work_dir().join(".pylayer/published.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["format"], 2);
    let records = state["versions"].as_array().unwrap();
    assert_eq!(records.len(), 4, "{state}");
    for r in records {
        assert_eq!(r["env"], "default");
        assert_eq!(r["region"], "us-east-1");
        assert!(r["code_sha256"].as_str().unwrap().ends_with('='), "{r}");
    }

    // Each function gets the version of its own runtime and architecture.
    moto.setup(&["create-function", "f311", "python3.11", "x86_64"]);
    moto.setup(&["create-function", "f312arm", "python3.12", "arm64"]);
    let attached = json(&pylayer(
        &env,
        &moto,
        &[
            "attach",
            "--function",
            "f311",
            "--function",
            "f312arm",
            "--json",
        ],
    ));
    assert_eq!(attached["functions"][0]["action"], "updated");
    assert_eq!(attached["functions"][1]["action"], "updated");
    assert_eq!(
        moto.setup(&["layers-of", "f311"]),
        serde_json::json!(["arn:aws:lambda:us-east-1:123456789012:layer:proj-py311-x86_64:1"])
    );
    assert_eq!(
        moto.setup(&["layers-of", "f312arm"]),
        serde_json::json!(["arn:aws:lambda:us-east-1:123456789012:layer:proj-py312-arm64:1"])
    );

    // A function whose target was not published: what was published, and what to do.
    moto.setup(&["create-function", "f313", "python3.13", "x86_64"]);
    let out = pylayer(&env, &moto, &["attach", "--function", "f313"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("function f313: no proj layer for python3.13 on x86_64 in us-east-1"),
        "{err}"
    );
    assert!(
        err.contains(
            "python3.11/arm64 (arn:aws:lambda:us-east-1:123456789012:layer:proj-py311-arm64:1)"
        ),
        "{err}"
    );
    assert!(
        err.contains("pylayer build --python 3.13 --arch x86_64"),
        "{err}"
    );
    assert_eq!(moto.setup(&["layers-of", "f313"]), serde_json::json!([]));
}

#[test]
fn an_old_published_json_is_read_and_rewritten() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let zip = layer(&env, "legacy", "1.0", b"l", "x86_64");
    env.write(
        ".pylayer/published.json",
        r#"{"layers":{"legacy":{"arns":{"us-east-1":"arn:aws:lambda:us-east-1:123456789012:layer:legacy:1"},"unzipped_bytes":5}},"last":"legacy"}"#,
    );
    json(&pylayer(
        &env,
        &moto,
        &["publish", zip.to_str().unwrap(), "--json"],
    ));
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.work_dir().join(".pylayer/published.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["format"], 2);
    let layers: Vec<&str> = state["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["legacy", "legacy-py312-x86_64"], "{state}");
}

#[test]
fn prune_keeps_n_per_target_and_never_a_targets_only_version() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    // Per-target names: three x86_64 versions, one arm64 version.
    for v in ["1.0", "2.0", "3.0"] {
        let zip = layer_for(&env, "pt", v, v.as_bytes(), "3.12", "x86_64");
        json(&pylayer(
            &env,
            &moto,
            &["publish", zip.to_str().unwrap(), "--json"],
        ));
    }
    let arm = layer_for(&env, "pt", "1.0", b"arm", "3.12", "arm64");
    json(&pylayer(
        &env,
        &moto,
        &["publish", arm.to_str().unwrap(), "--json"],
    ));
    let out = json(&pylayer(
        &env,
        &moto,
        &["layers", "prune", "pt", "--keep", "1", "--json"],
    ));
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{out}");
    assert_eq!(results[0]["layer"], "pt-py312-arm64");
    assert_eq!(results[0]["deleted"], serde_json::json!([]));
    assert_eq!(results[1]["layer"], "pt-py312-x86_64");
    assert_eq!(results[1]["deleted"], serde_json::json!([2, 1]));
    assert_eq!(
        published_versions(&moto, "pt-py312-arm64"),
        serde_json::json!([1])
    );
    assert_eq!(
        published_versions(&moto, "pt-py312-x86_64"),
        serde_json::json!([3])
    );

    // One name for every target (`--layer-name {name}`): versions are grouped by their
    // runtime and architecture all the same.
    let one = |py: &str, arch: &str, payload: &[u8], v: &str| {
        let zip = layer_for(&env, "one", v, payload, py, arch);
        let out = json(&pylayer(
            &env,
            &moto,
            &[
                "publish",
                zip.to_str().unwrap(),
                "--layer-name",
                "{name}",
                "--json",
            ],
        ));
        assert_eq!(out["layers"][0]["layer"], "one");
        assert_eq!(out["layers"][0]["regions"][0]["action"], "published");
    };
    one("3.11", "x86_64", b"a", "1.0"); // 1
    one("3.11", "arm64", b"b", "1.0"); // 2: the only arm64 version
    one("3.11", "x86_64", b"c", "2.0"); // 3
    one("3.11", "x86_64", b"d", "3.0"); // 4
    let out = pylayer(
        &env,
        &moto,
        &[
            "layers",
            "prune",
            "one",
            "--keep",
            "1",
            "--layer-name",
            "{name}",
            "--dry-run",
        ],
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("one: would delete version 3"), "{stdout}");
    assert!(stdout.contains("one: would delete version 1"), "{stdout}");
    assert!(!stdout.contains("version 2"), "{stdout}");
    let out = pylayer(
        &env,
        &moto,
        &[
            "layers",
            "prune",
            "one",
            "--keep",
            "1",
            "--layer-name",
            "{name}",
        ],
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(published_versions(&moto, "one"), serde_json::json!([2, 4]));

    let out = pylayer(&env, &moto, &["layers", "prune", "pt", "--keep", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keep 1"));
}

/// A minimal x86_64 ELF shared object whose only dynamic entry is `DT_NEEDED libodbc.so.2`:
/// a library the manylinux policy does not allow and Lambda's images lack.
fn elf_needing_libodbc() -> Vec<u8> {
    let dynstr = b"\0libodbc.so.2\0";
    let shstrtab = b"\0.dynstr\0.dynamic\0.shstrtab\0";
    let (dynstr_off, dynamic_off) = (64u64, 80u64);
    let shstrtab_off = dynamic_off + 4 * 16;
    let shoff = (shstrtab_off + shstrtab.len() as u64).next_multiple_of(8);
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // entry
    out.extend_from_slice(&0u64.to_le_bytes()); // phoff
    out.extend_from_slice(&shoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // flags
    for v in [64u16, 56, 0, 64, 4, 3] {
        // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
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
            out.extend_from_slice(&0u64.to_le_bytes()); // addr
            out.extend_from_slice(&off.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&link.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes()); // info
            out.extend_from_slice(&8u64.to_le_bytes()); // align
            out.extend_from_slice(&ent.to_le_bytes());
        };
    section(0, 0, 0, 0, 0, 0, 0);
    section(1, 3, 2, dynstr_off, dynstr.len() as u64, 0, 0); // .dynstr
    section(9, 6, 3, dynamic_off, 64, 1, 16); // .dynamic
    section(18, 3, 0, shstrtab_off, shstrtab.len() as u64, 0, 0); // .shstrtab
    out
}

#[test]
fn a_layer_failing_its_check_is_refused_unless_forced() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let wheel = WheelSpec::new("payload", "1.0")
        .tag("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64")
        .file(
            "payload/_odbc.cpython-312-x86_64-linux-gnu.so",
            elf_needing_libodbc(),
        );
    let (built, zip) = build_layer(&env, "odbc", &wheel, "3.12", "x86_64");
    // The build writes the zip and reports the check's error.
    assert_eq!(built.status.code(), Some(1), "{}", describe_output(&built));
    assert!(zip.is_file());
    let zip = zip.to_str().unwrap();

    let out = pylayer(&env, &moto, &["publish", zip]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[missing-library] python/payload/_odbc.cpython-312-x86_64-linux-gnu.so"),
        "{err}"
    );
    assert!(err.contains("needs libodbc.so.2"), "{err}");
    assert!(
        err.contains("not publishing: the check found errors (missing-library)")
            && err.contains("pylayer publish --force"),
        "{err}"
    );
    let listed = pylayer(&env, &moto, &["layers", "list", "odbc"]);
    assert_eq!(
        listed.status.code(),
        Some(1),
        "nothing was published: {}",
        describe_output(&listed)
    );
    assert!(!env.work_dir().join(".pylayer/published.json").exists());

    let forced = pylayer(&env, &moto, &["publish", zip, "--force", "--json"]);
    let v = json(&forced);
    assert_eq!(v["layers"][0]["regions"][0]["action"], "published");
    assert_eq!(
        v["layers"][0]["forced_check_errors"],
        serde_json::json!(["missing-library"])
    );
    let err = String::from_utf8_lossy(&forced.stderr);
    assert!(
        err.contains("publishing despite check errors (missing-library)"),
        "{err}"
    );
    assert_eq!(
        published_versions(&moto, "odbc-py312-x86_64"),
        serde_json::json!([1])
    );
}

/// `grants` in pylayer.toml's `[publish]` (or an environment's) lets those accounts use each
/// published version, as `--grant` does; a flag replaces the file's list.
#[test]
fn grants_from_pylayer_toml_reach_the_layer_version_policy() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let zip = layer_for(&env, "gr", "1.0", b"granted", "3.12", "x86_64");
    std::fs::write(
        env.work_dir().join("pylayer.toml"),
        "name = \"gr\"\n\n[publish]\ngrants = [\"111111111111\"]\n",
    )
    .unwrap();
    let out = json(&pylayer(
        &env,
        &moto,
        &["publish", zip.to_str().unwrap(), "--json"],
    ));
    let layer = out["layers"][0]["layer"].as_str().unwrap().to_string();
    let version = out["layers"][0]["regions"][0]["version"].to_string();
    let policy = moto.setup(&["layer-policy", &layer, &version]);
    let text = policy.to_string();
    assert!(text.contains("111111111111"), "{policy:#}");
    assert!(text.contains("lambda:GetLayerVersion"), "{policy:#}");

    // A wrong value in the file is refused before anything is published.
    std::fs::write(
        env.work_dir().join("pylayer.toml"),
        "name = \"gr\"\n\n[publish]\ngrants = [\"12345\"]\n",
    )
    .unwrap();
    let zip2 = layer_for(&env, "gr", "2.0", b"other", "3.12", "x86_64");
    let out = pylayer(&env, &moto, &["publish", zip2.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("12345"),
        "{}",
        describe_output(&out)
    );
    assert_eq!(
        published_versions(&moto, &layer),
        serde_json::json!([1]),
        "nothing was published"
    );
}
