//! `promote` and `status` against moto: a project with dev, test and prod environments (dev
//! adds a package, prod pins one lower); promoting test to prod is refused while their pins
//! differ, then publishes test's exact bytes into prod's two regions; `status` shows the
//! versions, the functions using them and a function left on an older version.

mod support;

use std::path::Path;
use std::process::Output;

use support::moto::Moto;
use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

const CONFIG: &str = r#"name = "proj"
python = ["3.12"]
requirements = ["requirements.txt"]

[env.dev]
packages = ["devtool"]

[env.test]
[env.test.publish]
regions = ["us-east-1"]

[env.prod]
packages = ["shared==1.0"]
[env.prod.publish]
regions = ["us-east-1", "eu-west-1"]
"#;

/// The wheels the project resolves from.
fn wheels(dir: &Path) -> Vec<std::path::PathBuf> {
    // Each wheel holds `NAME/__init__.py` with its version.
    vec![
        WheelSpec::new("app", "1.0").requires("shared").build(dir),
        WheelSpec::new("shared", "1.0").build(dir),
        WheelSpec::new("shared", "2.0").build(dir),
        WheelSpec::new("devtool", "1.0").build(dir),
    ]
}

fn pylayer(env: &TestEnv, moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    run(cmd.args(args))
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", describe_output(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    let text = ok(out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {}", describe_output(out)))
}

fn records(env: &TestEnv) -> Vec<serde_json::Value> {
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.work_dir().join(".pylayer/published.json")).unwrap(),
    )
    .unwrap();
    state["versions"].as_array().unwrap().clone()
}

const PROD_LAYER: &str = "proj-prod-py312-x86_64";

#[test]
fn promote_refuses_differing_pins_then_publishes_tests_bytes_and_status_shows_drift() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let w = env.work_dir();
    std::fs::write(w.join("pylayer.toml"), CONFIG).unwrap();
    std::fs::write(w.join("requirements.txt"), "app\n").unwrap();
    let index = TestIndex::start(&wheels(&w.join("wheels")), IndexOptions::default());
    let build = |e: &str| {
        ok(&run(env.cmd().args([
            "build",
            "--env",
            e,
            "--index-url",
            &index.url,
        ])));
    };
    // Nothing locked yet: bad input, named.
    let out = pylayer(&env, &moto, &["promote", "--from", "test", "--to", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pylayer.test.lock does not exist") && err.contains("pylayer lock --env test"),
        "{err}"
    );
    let out = pylayer(&env, &moto, &["promote", "--from", "prod", "--to", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));

    for e in ["dev", "test", "prod"] {
        build(e);
    }

    // test is published (one region).
    let test_zip = w.join("dist/proj-test-py3.12-x86_64.zip");
    let published = json(&pylayer(
        &env,
        &moto,
        &[
            "publish",
            "--env",
            "test",
            test_zip.to_str().unwrap(),
            "--json",
        ],
    ));
    let test_arn = published["layers"][0]["regions"][0]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let test_sha = published["layers"][0]["code_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        test_arn.contains(":layer:proj-test-py312-x86_64:1"),
        "{test_arn}"
    );

    // prod pins shared lower than test: refused, nothing published for prod.
    let refused = pylayer(&env, &moto, &["promote", "--from", "test", "--to", "prod"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        describe_output(&refused)
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("not promoting test to prod"), "{err}");
    assert!(
        err.contains("python3.12/x86_64: ~ shared 2.0 -> 1.0"),
        "{err}"
    );
    assert!(
        moto.setup(&["layer-versions-in", PROD_LAYER, "us-east-1"])
            .as_array()
            .is_none_or(|v| v.is_empty()),
        "nothing may be published for prod"
    );
    assert!(records(&env).iter().all(|r| r["env"] != "prod"));

    // prod drops its pin and takes shared up again (a lock keeps its own pins until told
    // otherwise); its lock now pins what test's does.
    std::fs::write(
        w.join("pylayer.toml"),
        CONFIG.replace("packages = [\"shared==1.0\"]\n", ""),
    )
    .unwrap();
    ok(&run(env.cmd().args([
        "lock",
        "--env",
        "prod",
        "--upgrade-package",
        "shared",
        "--index-url",
        &index.url,
    ])));
    build("prod");

    // An older, unrelated version of prod's layer in us-east-1, used by a function.
    let old = moto.setup(&["publish-dummy-layer", PROD_LAYER, "python3.12", "x86_64"]);
    let old_arn = old["arn"].as_str().unwrap().to_string();
    moto.setup(&[
        "create-function",
        "old-fn",
        "python3.12",
        "x86_64",
        &old_arn,
    ]);
    moto.setup(&["create-function", "new-fn", "python3.12", "x86_64"]);

    // A dry run says what would be published, and publishes and records nothing.
    let dry = json(&pylayer(
        &env,
        &moto,
        &[
            "promote",
            "--from",
            "test",
            "--to",
            "prod",
            "--dry-run",
            "--json",
        ],
    ));
    let actions: Vec<&str> = dry["promoted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["would-publish", "would-publish"], "{dry}");
    assert!(
        moto.setup(&["layer-versions-in", PROD_LAYER, "eu-west-1"])
            .as_array()
            .is_none_or(|v| v.is_empty())
    );
    assert!(records(&env).iter().all(|r| r["env"] != "prod"));

    let promoted = json(&pylayer(
        &env,
        &moto,
        &["promote", "--from", "test", "--to", "prod", "--json"],
    ));
    let rows = promoted["promoted"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{promoted}");
    let mut arns = Vec::new();
    for (row, (region, version)) in rows.iter().zip([("us-east-1", 2), ("eu-west-1", 1)]) {
        assert_eq!(row["region"], region, "{row}");
        assert_eq!(row["action"], "published", "{row}");
        assert_eq!(row["bytes_from"], "local-zip", "{row}");
        assert_eq!(row["from_arn"], test_arn.as_str());
        assert_eq!(row["version"], version, "{row}");
        // Lambda itself holds the bytes published for test.
        let live = moto.setup(&["layer-version", PROD_LAYER, &version.to_string(), region]);
        assert_eq!(live["code_sha256"], test_sha.as_str(), "{region}");
        arns.push(live["arn"].as_str().unwrap().to_string());
    }
    assert!(arns[1].starts_with("arn:aws:lambda:eu-west-1:"), "{arns:?}");

    // Both ARNs are recorded, with where they came from.
    let prod: Vec<serde_json::Value> = records(&env)
        .into_iter()
        .filter(|r| r["env"] == "prod")
        .collect();
    assert_eq!(prod.len(), 2);
    for r in &prod {
        assert_eq!(r["project"], "proj-prod");
        assert_eq!(r["code_sha256"], test_sha.as_str());
        assert_eq!(r["promoted_from"], test_arn.as_str());
        assert!(
            arns.contains(&r["arn"].as_str().unwrap().to_string()),
            "{r}"
        );
    }

    // Promoting again reuses prod's versions.
    let again = pylayer(&env, &moto, &["promote", "--from", "test", "--to", "prod"]);
    let table = ok(&again);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    for (line, arn) in lines.iter().zip(&arns) {
        assert!(
            line.contains(arn.as_str())
                && line.contains("unchanged")
                && line.contains(&format!("CodeSha256 {test_sha}")),
            "{table}"
        );
    }
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("promoted test → prod"), "{err}");
    assert_eq!(
        moto.setup(&["layer-versions-in", PROD_LAYER, "eu-west-1"]),
        serde_json::json!([1])
    );

    // new-fn gets prod's version; old-fn stays on the older one.
    ok(&pylayer(
        &env,
        &moto,
        &[
            "attach",
            "--env",
            "prod",
            "--function",
            "new-fn",
            "--region",
            "us-east-1",
        ],
    ));
    let status = json(&pylayer(
        &env,
        &moto,
        &["status", "--env", "prod", "--json"],
    ));
    let rows = status["targets"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{status}");
    let east = rows.iter().find(|r| r["region"] == "us-east-1").unwrap();
    assert_eq!(east["version"], 2, "{east}");
    assert_eq!(east["code_sha256"], test_sha.as_str());
    assert_eq!(east["lambda"], "confirmed", "{east}");
    assert_eq!(east["functions"], serde_json::json!(["new-fn"]), "{east}");
    assert_eq!(east["drift"][0]["function"], "old-fn", "{east}");
    assert_eq!(east["drift"][0]["version"], 1, "{east}");
    assert_eq!(east["drift"][0]["older"], true, "{east}");
    // prod's own build of the same pins has the same bytes as test's.
    assert_eq!(east["build"]["state"], "matches", "{east}");
    let west = rows.iter().find(|r| r["region"] == "eu-west-1").unwrap();
    assert_eq!(west["functions"], serde_json::json!([]));
    assert_eq!(west["drift"], serde_json::json!([]));

    let table = ok(&pylayer(&env, &moto, &["status"]));
    assert!(table.contains("drift"), "{table}");
    assert!(
        table.contains(
            "old-fn (prod) uses proj-prod-py312-x86_64 version 1, older than the recorded 2"
        ),
        "{table}"
    );
    // dev was built, never published.
    let dev = table
        .lines()
        .find(|l| l.starts_with("dev "))
        .unwrap_or_default();
    assert!(
        dev.contains("not published") && dev.contains(" built ") && !dev.contains("not built"),
        "{table}"
    );

    // shared 2.1 is released and both locks take it, but test's published version still
    // holds 2.0: the locks agree, the bytes do not, so nothing is promoted.
    let mut newer = wheels(&w.join("newer"));
    newer.push(WheelSpec::new("shared", "2.1").build(&w.join("newer")));
    let newer = TestIndex::start(&newer, IndexOptions::default());
    for e in ["test", "prod"] {
        ok(&run(env.cmd().args([
            "lock",
            "--env",
            e,
            "--upgrade-package",
            "shared",
            "--index-url",
            &newer.url,
        ])));
    }
    let out = pylayer(&env, &moto, &["promote", "--from", "test", "--to", "prod"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "holds shared 2.0 (the locks pin 2.1), so test's lock changed after it was published"
        ),
        "{err}"
    );
    assert_eq!(
        moto.setup(&["layer-versions-in", PROD_LAYER, "eu-west-1"]),
        serde_json::json!([1])
    );
    // status says prod's dist zip is no longer what its lock builds.
    let status = json(&pylayer(
        &env,
        &moto,
        &["status", "--env", "prod", "--json"],
    ));
    let east = &status["targets"][0];
    assert_eq!(east["build"]["state"], "stale", "{east}");
    assert_eq!(
        east["build"]["changes"],
        serde_json::json!(["shared 2.0 in the zip, 2.1 in the lock"])
    );

    // A dist zip whose bytes are not the published ones is never promoted: the bytes are
    // then read from the version itself, which moto does not serve over HTTP.
    std::fs::write(&test_zip, b"other bytes").unwrap();
    let out = pylayer(&env, &moto, &["promote", "--from", "test", "--to", "prod"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no HTTP location"), "{err}");
    assert!(
        err.contains("proj-test-py3.12-x86_64.zip has other bytes: rebuild it with `pylayer build --env test`"),
        "{err}"
    );
}

/// Each environment's own profile: test's account is read, prod's written, in one run (moto
/// maps credentials from an assumed role to the role's account).
#[test]
fn promote_reads_one_account_and_writes_another() {
    let moto = Moto::start(&[]);
    let env = TestEnv::new();
    let w = env.work_dir();
    std::fs::write(
        w.join("pylayer.toml"),
        "name = \"proj\"\npython = [\"3.12\"]\nrequirements = [\"requirements.txt\"]\n\n[env.test.publish]\nprofile = \"base\"\n\n[env.prod.publish]\nprofile = \"prod\"\n",
    )
    .unwrap();
    std::fs::write(w.join("requirements.txt"), "app\n").unwrap();
    std::fs::write(
        w.join("aws-config"),
        "[profile base]\nregion = us-east-1\n\n[profile prod]\nrole_arn = arn:aws:iam::111111111111:role/prod\nsource_profile = base\nregion = us-east-1\n",
    )
    .unwrap();
    std::fs::write(
        w.join("aws-credentials"),
        "[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let index = TestIndex::start(&wheels(&w.join("wheels")), IndexOptions::default());
    for e in ["test", "prod"] {
        ok(&run(env.cmd().args([
            "build",
            "--env",
            e,
            "--index-url",
            &index.url,
        ])));
    }
    // Credentials only from the profiles.
    let with_profiles = |args: &[&str]| {
        let mut cmd = env.cmd();
        moto.env(&mut cmd);
        cmd.env("AWS_CONFIG_FILE", w.join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", w.join("aws-credentials"))
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
        run(cmd.args(args))
    };
    let zip = w.join("dist/proj-test-py3.12-x86_64.zip");
    let published = json(&with_profiles(&[
        "publish",
        "--env",
        "test",
        zip.to_str().unwrap(),
        "--json",
    ]));
    let test_arn = published["layers"][0]["regions"][0]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(test_arn.contains(":123456789012:layer:"), "{test_arn}");
    let promoted = json(&with_profiles(&[
        "promote", "--from", "test", "--to", "prod", "--json",
    ]));
    let row = &promoted["promoted"][0];
    assert!(
        row["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:lambda:us-east-1:111111111111:layer:proj-prod-py312-x86_64:"),
        "{promoted}"
    );
    assert_eq!(row["code_sha256"], published["layers"][0]["code_sha256"]);
    // status reads each environment with its own profile: both versions confirmed.
    let status = json(&with_profiles(&["status", "--json"]));
    let rows = status["targets"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{status}");
    for r in rows {
        assert_eq!(r["lambda"], "confirmed", "{r}");
    }
}
