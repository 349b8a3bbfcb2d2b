//! publish / attach / layers against moto in server mode on 127.0.0.1, started here.
//! Layers are built hermetically from wheels served by the local test index.

mod support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start(extra_env: &[(&str, &str)]) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("python3");
        cmd.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .expect("moto is installed by scripts/test.sh (pip install 'moto[server]')");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Points a command at this server with throwaway credentials and no user AWS config.
    fn env(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
    }

    fn setup(&self, args: &[&str]) -> serde_json::Value {
        let mut cmd = Command::new("python3");
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws/moto_setup.py"))
            .args(args);
        self.env(&mut cmd);
        let out = run(&mut cmd);
        assert!(
            out.status.success(),
            "setup {args:?}: {}",
            describe_output(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A layer built by pylayer from a local wheel whose content is `payload`.
fn layer(env: &TestEnv, name: &str, version: &str, payload: &[u8], arch: &str) -> PathBuf {
    let wheels = env.work_dir().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let wheel = WheelSpec::new("payload", version)
        .file("payload/data.bin", payload.to_vec())
        .build(&wheels);
    let index = TestIndex::start(&[wheel], IndexOptions::default());
    let lock = env.work_dir().join(format!("{name}-{version}.lock"));
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
        .args(["--python", "3.12", "--arch", arch, "--lock"])
        .arg(&lock));
    assert!(out.status.success(), "{}", describe_output(&out));
    env.work_dir()
        .join(format!("dist/{name}-py3.12-{arch}.zip"))
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
    assert_eq!(first["regions"][0]["action"], "published");
    assert_eq!(first["regions"][0]["version"], 1);
    let again = json(&pylayer(&env, &moto, &["publish", zip, "--json"]));
    assert_eq!(again["regions"][0]["action"], "unchanged");
    assert_eq!(again["regions"][0]["arn"], first["regions"][0]["arn"]);
    assert_eq!(
        moto.setup(&["layer-versions", "demo"]),
        serde_json::json!([1])
    );

    let zip2 = layer(&env, "demo", "2.0", b"two", "x86_64");
    let dry = json(&pylayer(
        &env,
        &moto,
        &["publish", zip2.to_str().unwrap(), "--json", "--dry-run"],
    ));
    assert_eq!(dry["regions"][0]["action"], "would-publish");
    assert_eq!(
        moto.setup(&["layer-versions", "demo"]),
        serde_json::json!([1]),
        "a dry run published"
    );
    let second = json(&pylayer(
        &env,
        &moto,
        &["publish", zip2.to_str().unwrap(), "--json"],
    ));
    assert_eq!(second["regions"][0]["action"], "published");
    assert_eq!(second["regions"][0]["version"], 2);
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
    assert_eq!(published["regions"][0]["action"], "published");
    assert_eq!(published["regions"][0]["via_s3"], true);
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
    assert_eq!(again["regions"][0]["action"], "unchanged");
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
    assert!(layers[1].as_str().unwrap().ends_with(":layer:demo:1"));

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
        layers[1].as_str().unwrap().ends_with(":layer:demo:2"),
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
    let arm_arn = published["regions"][0]["arn"].as_str().unwrap();
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
        arns.push(out["regions"][0]["arn"].as_str().unwrap().to_string());
    }
    // Version 1 is in use by a function.
    moto.setup(&["create-function", "user", "python3.12", "x86_64", &arns[0]]);
    let listed = json(&pylayer(
        &env,
        &moto,
        &["layers", "list", "pr", "--usage", "--json"],
    ));
    assert_eq!(listed["layer"], "pr");
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
    assert!(String::from_utf8_lossy(&out.stdout).contains("would delete version 2"));
    assert_eq!(
        moto.setup(&["layer-versions", "pr"]),
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
    assert_eq!(dry["regions"][0]["deleted"], serde_json::json!([3, 2]));
    assert_eq!(dry["regions"][0]["kept_in_use"][0]["version"], 1);
    assert_eq!(
        dry["regions"][0]["kept_in_use"][0]["used_by"],
        serde_json::json!(["user"])
    );

    let out = pylayer(&env, &moto, &["layers", "prune", "pr", "--keep", "1"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(
        moto.setup(&["layer-versions", "pr"]),
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
        stdout.contains("arn:aws:lambda:us-east-1:123456789012:layer:multi:1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("arn:aws:lambda:eu-west-1:123456789012:layer:multi:1"),
        "{stdout}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad region!") && err.contains("check --region"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
