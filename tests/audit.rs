//! `pylayer audit`: known vulnerabilities of a lock's pins or a built layer, from a server on
//! 127.0.0.1 that speaks both services' real wire formats (the index's per-release JSON API
//! and OSV's batch query + record API) with the real record for requests 2.19.0
//! (PYSEC-2018-28 / CVE-2018-18074, fixed in 2.20.0); upgrade advice from the test index.

mod support;

use std::sync::Arc;

use support::{IndexOptions, TestEnv, TestIndex, WheelSpec, describe_output, run};

/// The index's JSON API document for requests 2.19.0, trimmed to the fields the API
/// documents (info abbreviated), with its real vulnerability record.
const PYPI_REQUESTS_2_19_0: &str = r#"{
  "info": {"name": "requests", "version": "2.19.0", "summary": "Python HTTP for Humans."},
  "last_serial": 1,
  "urls": [],
  "vulnerabilities": [
    {
      "aliases": ["GHSA-x84v-xcm2-53pg", "CVE-2018-18074"],
      "details": "The Requests package before 2.20.0 for Python sends an HTTP Authorization header to an http URI upon receiving a same-hostname https-to-http redirect, which makes it easier for remote attackers to discover credentials by sniffing the network.",
      "fixed_in": ["2.20.0"],
      "id": "PYSEC-2018-28",
      "link": "https://osv.dev/vulnerability/PYSEC-2018-28",
      "source": "osv",
      "summary": null,
      "withdrawn": null
    },
    {
      "aliases": [],
      "details": "A record withdrawn by its database.",
      "fixed_in": ["2.19.1"],
      "id": "PYSEC-0000-0",
      "link": "https://osv.dev/vulnerability/PYSEC-0000-0",
      "source": "osv",
      "summary": null,
      "withdrawn": "2023-01-01T00:00:00Z"
    }
  ]
}"#;

const PYPI_SIX: &str = r#"{"info": {"name": "six", "version": "1.16.0"}, "last_serial": 1, "urls": [], "vulnerabilities": []}"#;

/// OSV's record of the same vulnerability (`GET /v1/vulns/PYSEC-2018-28`).
const OSV_PYSEC_2018_28: &str = r#"{
  "id": "PYSEC-2018-28",
  "modified": "2024-11-21T14:22:00.123Z",
  "published": "2018-10-09T17:29:00Z",
  "aliases": ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"],
  "details": "The Requests package before 2.20.0 for Python sends an HTTP Authorization header to an http URI upon receiving a same-hostname https-to-http redirect, which makes it easier for remote attackers to discover credentials by sniffing the network.",
  "affected": [{
    "package": {"name": "requests", "ecosystem": "PyPI", "purl": "pkg:pypi/requests"},
    "ranges": [
      {"type": "GIT", "repo": "https://github.com/psf/requests", "events": [{"introduced": "0"}, {"fixed": "c45d7c49ea75133e52ab22a8e9e13173938e36ff"}]},
      {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}
    ],
    "versions": ["2.19.0", "2.19.1"]
  }],
  "references": [{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2018-18074"}],
  "schema_version": "1.6.0"
}"#;

struct Fixture {
    env: TestEnv,
    index: TestIndex,
}

fn wheel(env: &TestEnv, name: &str, version: &str) -> std::path::PathBuf {
    let module = name.replace('-', "_");
    WheelSpec::new(name, version)
        .no_files()
        .file(&format!("{module}/__init__.py"), "")
        .build(&env.work_dir().join("wheels"))
}

/// The index (requests 2.19.0, 2.20.0, 2.21.0 and six 1.16.0) and both services on one server.
fn fixture() -> Fixture {
    let env = TestEnv::new();
    let files = vec![
        wheel(&env, "requests", "2.19.0"),
        wheel(&env, "requests", "2.20.0"),
        wheel(&env, "requests", "2.21.0"),
        wheel(&env, "six", "1.16.0"),
    ];
    let index = TestIndex::start(&files, IndexOptions::default());
    index.route_json("/pypi/requests/2.19.0/json", PYPI_REQUESTS_2_19_0);
    index.route_json("/pypi/six/1.16.0/json", PYPI_SIX);
    index.route(
        "POST",
        "/v1/querybatch",
        Arc::new(|body: &[u8]| {
            let Ok(req) = serde_json::from_slice::<serde_json::Value>(body) else {
                return (400, r#"{"code":3,"message":"invalid JSON"}"#.to_string());
            };
            let results: Vec<serde_json::Value> = req["queries"]
                .as_array()
                .map(|qs| {
                    qs.iter()
                        .map(|q| {
                            if q["package"]["ecosystem"] == "PyPI"
                                && q["package"]["name"] == "requests"
                                && q["version"] == "2.19.0"
                            {
                                serde_json::json!({"vulns": [{"id": "PYSEC-2018-28", "modified": "2024-11-21T14:22:00.123Z"}]})
                            } else {
                                serde_json::json!({})
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            (200, serde_json::json!({ "results": results }).to_string())
        }),
    );
    index.route_json("/v1/vulns/PYSEC-2018-28", OSV_PYSEC_2018_28);
    Fixture { env, index }
}

impl Fixture {
    /// `pylayer lock` of `reqs` for python3.11 into `lock`.
    fn lock(&self, lock: &str, reqs: &[&str]) {
        self.lock_for(lock, "3.11", reqs);
    }

    fn lock_for(&self, lock: &str, python: &str, reqs: &[&str]) {
        let mut cmd = self.env.cmd();
        cmd.args([
            "lock",
            "--index-url",
            &self.index.url,
            "--python",
            python,
            "--lock",
            lock,
        ]);
        cmd.args(reqs);
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", describe_output(&out));
    }

    fn audit(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = self.env.cmd();
        cmd.args([
            "audit",
            "--vulnerability-url",
            &self.index.base,
            "--index-url",
            &self.index.url,
        ]);
        cmd.args(args);
        run(&mut cmd)
    }

    fn audit_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.audit(&all);
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe_output(&out)));
        (out.status.code().unwrap_or(-1), v)
    }

    fn service_requests(&self, prefix: &str) -> usize {
        self.index
            .requests()
            .iter()
            .filter(|r| r.contains(prefix))
            .count()
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check_requests_finding(v: &serde_json::Value, service: &str) {
    assert_eq!(v["service"], service, "{v:#}");
    assert_eq!(v["checked"], 2, "{v:#}");
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "withdrawn records are skipped: {v:#}");
    let f = &findings[0];
    assert_eq!(f["package"], "requests");
    assert_eq!(f["version"], "2.19.0");
    assert_eq!(f["id"], "PYSEC-2018-28");
    assert_eq!(f["aliases"][0], "CVE-2018-18074", "CVE first: {f:#}");
    assert_eq!(f["fixed_in"], serde_json::json!(["2.20.0"]));
    assert_eq!(f["targets"], serde_json::json!(["python3.11/x86_64"]));
    assert_eq!(f["upgrades"][0]["target"], "python3.11/x86_64");
    assert_eq!(f["upgrades"][0]["version"], "2.20.0", "{f:#}");
    assert!(f.get("ignore").is_none(), "{f:#}");
    assert!(v["unchecked"].as_array().unwrap().is_empty(), "{v:#}");
}

#[test]
fn pypi_service_finds_fixed_in_and_the_smallest_upgrade() {
    let fx = fixture();
    fx.lock("pylayer.lock", &["requests==2.19.0", "six"]);
    let out = fx.audit(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "requests",
        "2.19.0",
        "PYSEC-2018-28",
        "CVE-2018-18074",
        "2.20.0",
    ] {
        assert!(
            stdout.contains(want),
            "{want} missing: {}",
            describe_output(&out)
        );
    }
    assert!(
        !stdout.contains("PYSEC-0000-0"),
        "withdrawn record shown: {stdout}"
    );
    let (code, v) = fx.audit_json(&[]);
    assert_eq!(code, 1);
    check_requests_finding(&v, "pypi");

    // A clean lock passes.
    fx.lock("clean.lock", &["six"]);
    let out = fx.audit(&["clean.lock"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
}

#[test]
fn osv_service_gives_the_same_finding() {
    let fx = fixture();
    fx.lock("pylayer.lock", &["requests==2.19.0", "six"]);
    let (code, v) = fx.audit_json(&["--vulnerability-service", "osv"]);
    assert_eq!(code, 1, "{v:#}");
    check_requests_finding(&v, "osv");
    assert_eq!(fx.service_requests("POST /v1/querybatch"), 1);
    // The service from pylayer.toml.
    fx.env.write("pylayer.toml", "[audit]\nservice = \"osv\"\n");
    let (_, v) = fx.audit_json(&[]);
    assert_eq!(v["service"], "osv");
    assert_eq!(fx.service_requests("POST /v1/querybatch"), 2);
}

#[test]
fn findings_name_the_targets_they_affect() {
    let fx = fixture();
    fx.lock_for("pylayer.lock", "3.11,3.12", &["requests==2.19.0", "six"]);
    let (code, v) = fx.audit_json(&[]);
    assert_eq!(code, 1);
    let f = &v["findings"][0];
    assert_eq!(
        f["targets"],
        serde_json::json!(["python3.11/x86_64", "python3.12/x86_64"]),
        "{v:#}"
    );
    assert_eq!(f["upgrades"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        1,
        "one finding, two targets"
    );
    let out = fx.audit(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("targets") && stdout.contains("python3.11/x86_64, python3.12/x86_64"),
        "{}",
        describe_output(&out)
    );
}

#[test]
fn requirements_bound_the_upgrade() {
    let fx = fixture();
    fx.env
        .write("requirements.txt", "requests>=2.19,!=2.20.0\nsix\n");
    fx.env.write(
        "pylayer.toml",
        "requirements = [\"requirements.txt\"]\npython = [\"3.11\"]\n",
    );
    // Lock 2.19.0 through a constraint the audit does not see as the project's bound.
    fx.lock("pylayer.lock", &["requests==2.19.0", "six"]);
    let (code, v) = fx.audit_json(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        v["findings"][0]["upgrades"][0]["version"], "2.21.0",
        "requirements.txt excludes 2.20.0: {v:#}"
    );
    fx.env.write("requirements.txt", "requests==2.19.0\nsix\n");
    let (_, v) = fx.audit_json(&[]);
    let up = &v["findings"][0]["upgrades"][0];
    assert!(up["version"].is_null(), "{up:#}");
    let reason = up["reason"].as_str().unwrap();
    assert!(
        reason.contains("fixed in 2.20.0") && reason.contains("requirements.txt:1"),
        "{reason}"
    );
}

#[test]
fn locked_dependents_bound_the_upgrade() {
    let fx = fixture();
    let dir = fx.env.work_dir().join("wheels");
    fx.index.add_wheel(
        WheelSpec::new("app", "1.0")
            .no_files()
            .requires("requests<2.20")
            .file("app/__init__.py", "")
            .build(&dir),
    );
    fx.index.add_wheel(
        WheelSpec::new("tool", "1.0")
            .no_files()
            .requires("requests!=2.20.0")
            .file("tool/__init__.py", "")
            .build(&dir),
    );
    fx.lock("pylayer.lock", &["tool", "requests==2.19.0"]);
    let (_, v) = fx.audit_json(&[]);
    assert_eq!(
        v["findings"][0]["upgrades"][0]["version"], "2.21.0",
        "tool excludes 2.20.0: {v:#}"
    );
    fx.lock("app.lock", &["app", "requests==2.19.0"]);
    let (_, v) = fx.audit_json(&["app.lock"]);
    let up = &v["findings"][0]["upgrades"][0];
    assert!(up["version"].is_null(), "{v:#}");
    assert!(
        up["reason"]
            .as_str()
            .unwrap()
            .contains("app 1.0 (Requires-Dist)"),
        "{up:#}"
    );
}

#[test]
fn no_wheel_for_the_target_is_said() {
    let env = TestEnv::new();
    let dir = env.work_dir().join("wheels");
    let files = vec![
        WheelSpec::new("requests", "2.19.0")
            .no_files()
            .file("requests/__init__.py", "")
            .build(&dir),
        // The fixed release only for another Python.
        WheelSpec::new("requests", "2.20.0")
            .no_files()
            .tag("cp313-cp313-manylinux_2_17_x86_64")
            .file("requests/__init__.py", "")
            .build(&dir),
    ];
    let index = TestIndex::start(&files, IndexOptions::default());
    index.route_json("/pypi/requests/2.19.0/json", PYPI_REQUESTS_2_19_0);
    let fx = Fixture { env, index };
    fx.lock("pylayer.lock", &["requests==2.19.0"]);
    let out = fx.audit(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("fixed in 2.20.0; no release with a wheel for python3.11"),
        "{}",
        describe_output(&out)
    );
}

#[test]
fn ignores_with_and_without_expiry() {
    let fx = fixture();
    fx.lock("pylayer.lock", &["requests==2.19.0", "six"]);
    // By alias, for good.
    fx.env.write(
        "pylayer.toml",
        "[audit]\nignore = [{ id = \"CVE-2018-18074\", reason = \"we never follow redirects\" }]\n",
    );
    let out = fx.audit(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert!(
        text(&out).contains("ignored PYSEC-2018-28"),
        "{}",
        describe_output(&out)
    );
    let (code, v) = fx.audit_json(&[]);
    assert_eq!(code, 0);
    let ig = &v["findings"][0]["ignore"];
    assert_eq!(ig["id"], "CVE-2018-18074", "{v:#}");
    assert_eq!(ig["reason"], "we never follow redirects");
    assert_eq!(ig["expired"], false);
    // Until a day far ahead: still ignored.
    fx.env.write(
        "pylayer.toml",
        "[audit]\nignore = [{ id = \"PYSEC-2018-28\", reason = \"r\", until = \"2999-12-31\" }]\n",
    );
    let (code, v) = fx.audit_json(&[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["findings"][0]["ignore"]["until"], "2999-12-31");
    // Expired: counts again, and says so.
    fx.env.write(
        "pylayer.toml",
        "[audit]\nignore = [{ id = \"PYSEC-2018-28\", reason = \"r\", until = \"2020-01-31\" }]\n",
    );
    let out = fx.audit(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    assert!(
        text(&out).contains("expired on 2020-01-31"),
        "{}",
        describe_output(&out)
    );
    let (_, v) = fx.audit_json(&[]);
    assert_eq!(v["findings"][0]["ignore"]["expired"], true);
    // Without a reason: bad input.
    fx.env.write(
        "pylayer.toml",
        "[audit]\nignore = [{ id = \"PYSEC-2018-28\" }]\n",
    );
    let out = fx.audit(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        text(&out).contains("pylayer.toml:2:") && text(&out).contains("no `reason`"),
        "{}",
        describe_output(&out)
    );
}

#[test]
fn offline_answers_from_the_cache() {
    for service in ["pypi", "osv"] {
        let fx = fixture();
        fx.lock("pylayer.lock", &["requests==2.19.0", "six"]);
        let (code, _) = fx.audit_json(&["--vulnerability-service", service]);
        assert_eq!(code, 1);
        fx.index.clear_requests();
        let (code, v) = fx.audit_json(&["--vulnerability-service", service, "--offline"]);
        assert_eq!(code, 1, "{v:#}");
        check_requests_finding(&v, service);
        assert!(
            fx.index.requests().is_empty(),
            "--offline used the network: {:?}",
            fx.index.requests()
        );
        // A package never checked online: named, and the audit fails.
        fx.lock("other.lock", &["six", "requests==2.20.0"]);
        let out = fx.audit(&[
            "other.lock",
            "--vulnerability-service",
            service,
            "--offline",
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
        let t = text(&out);
        assert!(
            t.contains("requests 2.20.0 was not checked") && t.contains("--offline"),
            "{service}: {}",
            describe_output(&out)
        );
    }
}

#[test]
fn revalidates_with_etag() {
    let fx = fixture();
    fx.lock("pylayer.lock", &["requests==2.19.0", "six"]);
    let (code, _) = fx.audit_json(&[]);
    assert_eq!(code, 1);
    fx.index.clear_requests();
    // Unchanged: revalidated with the ETag, answered 304, same finding.
    let (_, v) = fx.audit_json(&[]);
    assert_eq!(v["findings"][0]["id"], "PYSEC-2018-28", "{v:#}");
    assert_eq!(
        fx.service_requests("304 GET /pypi/requests/2.19.0/json"),
        1,
        "{:?}",
        fx.index.requests()
    );
    // The service changed its record: the next run sees it (no stale answer).
    fx.index.route_json(
        "/pypi/requests/2.19.0/json",
        &PYPI_REQUESTS_2_19_0.replace("PYSEC-2018-28", "PYSEC-2018-99"),
    );
    let (_, v) = fx.audit_json(&[]);
    assert_eq!(v["findings"][0]["id"], "PYSEC-2018-99", "{v:#}");
    assert!(fx.service_requests("GET /pypi/requests/2.19.0/json") >= 1);
}

#[test]
fn audits_a_built_layer_zip_and_directory() {
    let fx = fixture();
    let out = run(fx.env.cmd().args([
        "build",
        "requests==2.19.0",
        "six",
        "--index-url",
        &fx.index.url,
        "--python",
        "3.11",
        "--name",
        "au",
        "--compile-bytecode=none",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let zip = "dist/au-py3.11-x86_64.zip";
    assert!(fx.env.work_dir().join(zip).is_file());
    // From the manifest beside the zip (target known: upgrade advice).
    let (code, v) = fx.audit_json(&[zip]);
    assert_eq!(code, 1, "{v:#}");
    check_requests_finding(&v, "pypi");
    // Without the manifest: the dist-info inside (no target: no upgrade advice).
    std::fs::remove_file(fx.env.work_dir().join("dist/au-py3.11-x86_64.json")).unwrap();
    let (code, v) = fx.audit_json(&[zip]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["findings"][0]["id"], "PYSEC-2018-28");
    assert_eq!(v["checked"], 2);
    // With --python/--arch the target is known again.
    let (_, v) = fx.audit_json(&[zip, "--python", "3.11", "--arch", "x86_64"]);
    assert_eq!(
        v["findings"][0]["upgrades"][0]["version"], "2.20.0",
        "{v:#}"
    );
    // A layer directory.
    let layer = fx
        .env
        .work_dir()
        .join("layer/python/requests-2.19.0.dist-info");
    std::fs::create_dir_all(&layer).unwrap();
    std::fs::write(
        layer.join("METADATA"),
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n",
    )
    .unwrap();
    std::fs::write(layer.join("RECORD"), "").unwrap();
    let (code, v) = fx.audit_json(&["layer"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["findings"][0]["package"], "requests");
}

#[test]
fn bad_input_exits_2() {
    let fx = fixture();
    let out = fx.audit(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        text(&out).contains("pylayer lock"),
        "{}",
        describe_output(&out)
    );
    fx.env
        .write("broken.lock", "version = 1\ninputs_digest = 3\n");
    let out = fx.audit(&["broken.lock"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        text(&out).contains("broken.lock"),
        "{}",
        describe_output(&out)
    );
    let out = fx.audit(&["dist/missing.zip"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        text(&out).contains("dist/missing.zip does not exist"),
        "{}",
        describe_output(&out)
    );
}

#[test]
fn osv_pages_are_followed() {
    let fx = fixture();
    fx.lock("pylayer.lock", &["requests==2.19.0", "six"]);
    // First page: PYSEC-2018-28 and a token; the second (asked with the token): the GHSA
    // record of the same flaw.
    fx.index.route(
        "POST",
        "/v1/querybatch",
        Arc::new(|body: &[u8]| {
            let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let results: Vec<serde_json::Value> = req["queries"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|q| match (q["package"]["name"].as_str(), q["page_token"].as_str()) {
                    (Some("requests"), None) => serde_json::json!({
                        "vulns": [{"id": "PYSEC-2018-28", "modified": "2024-11-21T14:22:00.123Z"}],
                        "next_page_token": "page-2"
                    }),
                    (Some("requests"), Some("page-2")) => serde_json::json!({
                        "vulns": [{"id": "GHSA-x84v-xcm2-53pg", "modified": "2024-09-26T20:00:00Z"}]
                    }),
                    _ => serde_json::json!({}),
                })
                .collect();
            (200, serde_json::json!({ "results": results }).to_string())
        }),
    );
    fx.index.route_json(
        "/v1/vulns/GHSA-x84v-xcm2-53pg",
        &OSV_PYSEC_2018_28
            .replace(
                "\"id\": \"PYSEC-2018-28\"",
                "\"id\": \"GHSA-x84v-xcm2-53pg\"",
            )
            .replace("\"GHSA-x84v-xcm2-53pg\"]", "\"PYSEC-2018-28\"]"),
    );
    let (code, v) = fx.audit_json(&["--vulnerability-service", "osv"]);
    assert_eq!(code, 1);
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["GHSA-x84v-xcm2-53pg", "PYSEC-2018-28"], "{v:#}");
    assert_eq!(fx.service_requests("POST /v1/querybatch"), 2);
}

#[test]
fn a_broken_answer_leaves_the_package_unchecked() {
    let fx = fixture();
    fx.lock("pylayer.lock", &["requests==2.19.0", "six"]);
    fx.index.route_json(
        "/pypi/six/1.16.0/json",
        "<html>\u{1b}[31mnot the API</html>",
    );
    let out = fx.audit(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let t = text(&out);
    assert!(
        t.contains("six 1.16.0 was not checked") && t.contains("/pypi/six/1.16.0/json"),
        "{}",
        describe_output(&out)
    );
    // A service that is down: every package named, exit 1, no crash.
    fx.index.remove_route("GET", "/pypi/requests/2.19.0/json");
    fx.index.route(
        "GET",
        "/pypi/requests/2.19.0/json",
        Arc::new(|_: &[u8]| (403, "{}".to_string())),
    );
    let (code, v) = fx.audit_json(&["--no-upgrade-advice"]);
    assert_eq!(code, 1);
    let unchecked: Vec<&str> = v["unchecked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(unchecked, ["requests", "six"], "{v:#}");
    assert!(
        v["unchecked"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("403"),
        "{v:#}"
    );
}

#[test]
fn env_audits_its_own_lock() {
    let fx = fixture();
    fx.env
        .write("pylayer.toml", "python = [\"3.11\"]\n[env.prod]\n");
    let out = fx.audit(&["--env", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    assert!(
        text(&out).contains("pylayer.prod.lock"),
        "{}",
        describe_output(&out)
    );
    fx.lock("pylayer.prod.lock", &["requests==2.19.0", "six"]);
    let (code, v) = fx.audit_json(&["--env", "prod"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["findings"][0]["id"], "PYSEC-2018-28");
}

/// A published layer version by ARN (moto serving its bytes): downloaded into the cache and
/// audited as the layer it is, its compatible runtime the target of upgrade advice.
#[cfg(feature = "aws")]
#[test]
fn audits_a_published_version_by_arn() {
    let moto = support::moto::Moto::start_serving_layers();
    let fx = fixture();
    let out = run(fx.env.cmd().args([
        "build",
        "requests==2.19.0",
        "six",
        "--index-url",
        &fx.index.url,
        "--python",
        "3.11",
        "--name",
        "pub",
        "--compile-bytecode=none",
    ]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let mut cmd = fx.env.cmd();
    moto.env(&mut cmd);
    let out = run(cmd.args(["publish", "dist/pub-py3.11-x86_64.zip", "--json"]));
    assert!(out.status.success(), "{}", describe_output(&out));
    let published: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arn = published["layers"][0]["regions"][0]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let mut cmd = fx.env.cmd();
    moto.env(&mut cmd);
    let out = run(cmd.args([
        "audit",
        &arn,
        "--vulnerability-url",
        &fx.index.base,
        "--index-url",
        &fx.index.url,
        "--json",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check_requests_finding(&v, "pypi");
}

#[test]
fn a_service_that_knows_nothing_is_not_a_clean_bill() {
    let fx = fixture();
    // A private package the service has no record of, beside one it knows: the private one is
    // named as unknown, the audit still counts the known one.
    let private = wheel(&fx.env, "internal-tool", "1.0.0");
    fx.index.add_wheel(private);
    fx.lock("pylayer.lock", &["six", "internal-tool"]);
    let out = fx.audit(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let t = text(&out);
    assert!(
        t.contains("internal-tool 1.0.0 is unknown to the pypi service")
            && t.contains("1 distribution(s) checked")
            && t.contains("1 unknown to the service"),
        "{}",
        describe_output(&out)
    );

    // A URL that answers "not found" for every distribution (an index mirror without the
    // per-version JSON API) must not read as "0 findings": nothing was checked, exit 1.
    fx.index.remove_route("GET", "/pypi/six/1.16.0/json");
    let (code, v) = fx.audit_json(&["--no-upgrade-advice"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["checked"], 0, "{v:#}");
    let reason = v["unchecked"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("knows none of the 2 distribution(s)")
            && reason.contains("--vulnerability-url"),
        "{v:#}"
    );
    assert!(
        v["unknown"].as_array().is_some_and(|u| u.is_empty()),
        "{v:#}"
    );
}
