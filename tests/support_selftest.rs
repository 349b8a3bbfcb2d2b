//! Tests of the hermetic index and wheel builder in `tests/support`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use support::*;

const JSON_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

fn demo_wheels(dir: &std::path::Path) -> Vec<PathBuf> {
    vec![
        WheelSpec::new("Foo.Bar", "1.0")
            .requires_python(">=3.8, <4")
            .extra("fast")
            .requires("baz>=1; extra == 'fast'")
            .build(dir),
        WheelSpec::new("Foo.Bar", "2.0")
            .tag("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64")
            .build(dir),
        WheelSpec::new("baz", "1.0").build(dir),
    ]
}

#[test]
fn wheel_is_a_valid_pep427_archive() {
    let dir = tempfile::tempdir().unwrap();
    let spec = WheelSpec::new("Foo.Bar-Baz", "1.2.3")
        .tag("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64")
        .requires("other>=1; extra == 'fast'")
        .requires("plain")
        .extra("fast")
        .requires_python(">=3.9")
        .file("foo_bar_baz/_ext.so", vec![0x7f, b'E', b'L', b'F']);
    let path = build_wheel(dir.path(), &spec);
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        "foo_bar_baz-1.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    );
    let bytes = std::fs::read(&path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().to_string()).collect();
    for want in [
        "foo_bar_baz/__init__.py",
        "foo_bar_baz/_ext.so",
        "foo_bar_baz-1.2.3.dist-info/METADATA",
        "foo_bar_baz-1.2.3.dist-info/WHEEL",
        "foo_bar_baz-1.2.3.dist-info/RECORD",
    ] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing: {names:?}"
        );
    }
    let mut read = |name: &str| {
        let mut f = zip.by_name(name).unwrap();
        assert_eq!(f.compression(), zip::CompressionMethod::Deflated, "{name}");
        let mut s = Vec::new();
        f.read_to_end(&mut s).unwrap();
        s
    };
    let metadata = String::from_utf8(read("foo_bar_baz-1.2.3.dist-info/METADATA")).unwrap();
    assert!(metadata.contains("Name: Foo.Bar-Baz\n"));
    assert!(metadata.contains("Version: 1.2.3\n"));
    assert!(metadata.contains("Requires-Python: >=3.9\n"));
    assert!(metadata.contains("Provides-Extra: fast\n"));
    assert!(metadata.contains("Requires-Dist: other>=1; extra == 'fast'\n"));
    assert!(metadata.contains("Requires-Dist: plain\n"));
    let wheel = String::from_utf8(read("foo_bar_baz-1.2.3.dist-info/WHEEL")).unwrap();
    assert!(wheel.contains("Root-Is-Purelib: false\n"));
    assert!(wheel.contains("Tag: cp312-cp312-manylinux_2_17_x86_64\n"));
    assert!(wheel.contains("Tag: cp312-cp312-manylinux2014_x86_64\n"));
    let init = read("foo_bar_baz/__init__.py");
    assert_eq!(init, b"__version__ = \"1.2.3\"\n");

    let record = String::from_utf8(read("foo_bar_baz-1.2.3.dist-info/RECORD")).unwrap();
    let mut checked = 0;
    for line in record.lines() {
        let parts: Vec<&str> = line.split(',').collect();
        assert_eq!(parts.len(), 3, "{line}");
        if parts[0].ends_with("/RECORD") {
            assert_eq!(parts[1], "");
            continue;
        }
        let data = read(parts[0]);
        let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&data));
        let expect = format!(
            "sha256={}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
        );
        assert_eq!(parts[1], expect, "{line}");
        assert_eq!(parts[2], data.len().to_string(), "{line}");
        checked += 1;
    }
    assert_eq!(checked, 4);

    // Same spec, same bytes.
    let again = build_wheel(&dir.path().join("again"), &spec);
    assert_eq!(std::fs::read(again).unwrap(), bytes);
}

#[test]
fn wheel_metadata_override_is_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let p = WheelSpec::new("broken", "1.0")
        .metadata("this is not metadata\n")
        .build(dir.path());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
    let mut s = String::new();
    zip.by_name("broken-1.0.dist-info/METADATA")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "this is not metadata\n");
}

#[test]
fn sdist_is_a_valid_tar_gz() {
    let dir = tempfile::tempdir().unwrap();
    let p = build_sdist(dir.path(), "Native.Thing", "0.5");
    assert_eq!(
        p.file_name().unwrap().to_str().unwrap(),
        "native_thing-0.5.tar.gz"
    );
    let out = Command::new("tar").arg("tzf").arg(&p).output().unwrap();
    assert!(out.status.success(), "{}", describe_output(&out));
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("native_thing-0.5/PKG-INFO"), "{list}");
    assert!(list.contains("native_thing-0.5/setup.py"), "{list}");
    let out = Command::new("tar")
        .args(["xzOf"])
        .arg(&p)
        .arg("native_thing-0.5/PKG-INFO")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Version: 0.5"));
}

#[test]
fn json_index_serves_pep691_pages_files_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = demo_wheels(dir.path());
    let index = TestIndex::start(&wheels, IndexOptions::default());
    assert!(index.url.starts_with("http://127.0.0.1:") && index.url.ends_with("/simple/"));

    let root = http_get(&index.url, &[("Accept", JSON_ACCEPT)]);
    assert_eq!(root.status, 200);
    assert_eq!(
        root.header("content-type"),
        Some("application/vnd.pypi.simple.v1+json")
    );
    let root = root.json();
    assert_eq!(root["meta"]["api-version"], "1.1");
    let names: Vec<&str> = root["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["baz", "Foo.Bar"]);

    let page = http_get(&index.project_url("foo.bar"), &[("Accept", JSON_ACCEPT)]);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.header("content-type"),
        Some("application/vnd.pypi.simple.v1+json")
    );
    let page = page.json();
    assert_eq!(page["name"], "foo-bar");
    assert_eq!(page["versions"], serde_json::json!(["1.0", "2.0"]));
    let files = page["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let f = &files[0];
    let fname = "foo_bar-1.0-py3-none-any.whl";
    assert_eq!(f["filename"], fname);
    assert_eq!(f["url"], index.file_url(fname));
    assert_eq!(f["hashes"]["sha256"], sha256_file(&wheels[0]));
    assert_eq!(
        f["size"],
        std::fs::metadata(&wheels[0]).unwrap().len() as i64
    );
    assert_eq!(f["yanked"], false);
    assert_eq!(f["requires-python"], ">=3.8, <4");
    assert!(files[1].get("requires-python").is_none());

    // The file itself.
    let body = http_get(f["url"].as_str().unwrap(), &[]);
    assert_eq!(body.status, 200);
    assert_eq!(body.body, std::fs::read(&wheels[0]).unwrap());

    // PEP 658 metadata, with the advertised hash.
    let meta = http_get(&format!("{}.metadata", index.file_url(fname)), &[]);
    assert_eq!(meta.status, 200);
    assert!(
        meta.text()
            .starts_with("Metadata-Version: 2.1\nName: Foo.Bar\n")
    );
    assert!(
        meta.text()
            .contains("Requires-Dist: baz>=1; extra == 'fast'")
    );
    assert_eq!(f["core-metadata"]["sha256"], sha256_hex(&meta.body));
    assert_eq!(f["dist-info-metadata"]["sha256"], sha256_hex(&meta.body));

    // HEAD: headers only.
    let head = http_request("HEAD", &index.file_url(fname), &[]);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length").unwrap(),
        std::fs::metadata(&wheels[0]).unwrap().len().to_string()
    );
    assert!(head.body.is_empty());

    // Without a JSON Accept header the same page is HTML.
    let html = http_get(&index.project_url("foo-bar"), &[]);
    assert!(
        html.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.text().contains("<a href=\"../../files/"));

    // Unknown project and file.
    assert_eq!(http_get(&format!("{}nope/", index.url), &[]).status, 404);
    assert_eq!(http_get(&index.file_url("nope-1.0.whl"), &[]).status, 404);

    let log = index.requests();
    assert!(log.contains(&"GET /simple/".to_string()), "{log:?}");
    assert!(log.contains(&format!("HEAD /files/{fname}")), "{log:?}");
    assert_eq!(index.metadata_downloads(fname), 1);
    assert_eq!(index.full_downloads(fname), 1);
}

#[test]
fn html_index_serves_pep503_with_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = demo_wheels(dir.path());
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            json: false,
            yanked: vec![(
                "foo_bar-2.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl".into(),
                Some("broken <build>".into()),
            )],
            ..IndexOptions::default()
        },
    );
    // Even when JSON is asked for, an HTML-only index answers HTML.
    let page = http_get(&index.project_url("foo-bar"), &[("Accept", JSON_ACCEPT)]);
    assert_eq!(page.status, 200);
    let ct = page.header("content-type").unwrap();
    assert!(
        ct.starts_with("text/html") || ct == "application/vnd.pypi.simple.v1+html",
        "{ct}"
    );
    let text = page.text();
    let sha = sha256_file(&wheels[0]);
    let meta = http_get(
        &index.file_url("foo_bar-1.0-py3-none-any.whl.metadata"),
        &[],
    );
    assert_eq!(meta.status, 200);
    let msha = sha256_hex(&meta.body);
    let line = text
        .lines()
        .find(|l| l.contains(">foo_bar-1.0-py3-none-any.whl<"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(&format!(
            "href=\"../../files/foo_bar-1.0-py3-none-any.whl#sha256={sha}\""
        )),
        "{line}"
    );
    assert!(
        line.contains("data-requires-python=\"&gt;=3.8, &lt;4\""),
        "{line}"
    );
    assert!(
        line.contains(&format!("data-core-metadata=\"sha256={msha}\"")),
        "{line}"
    );
    assert!(
        line.contains(&format!("data-dist-info-metadata=\"sha256={msha}\"")),
        "{line}"
    );
    assert!(!line.contains("data-yanked"), "{line}");
    let yanked = text.lines().find(|l| l.contains(">foo_bar-2.0")).unwrap();
    assert!(
        yanked.contains("data-yanked=\"broken &lt;build&gt;\""),
        "{yanked}"
    );

    // Root page is HTML too.
    let root = http_get(&index.url, &[("Accept", JSON_ACCEPT)]);
    assert!(
        root.text()
            .contains("<a href=\"/simple/foo-bar/\">Foo.Bar</a>")
    );

    // Without metadata files: no attributes and no .metadata.
    let plain = TestIndex::start(
        &wheels,
        IndexOptions {
            requires_python_attr: false,
            ..IndexOptions::html_only()
        },
    );
    let text = http_get(&plain.project_url("foo-bar"), &[]).text();
    assert!(!text.contains("data-core-metadata"), "{text}");
    assert!(!text.contains("data-dist-info-metadata"), "{text}");
    assert!(!text.contains("data-requires-python"), "{text}");
    assert_eq!(
        http_get(
            &plain.file_url("foo_bar-1.0-py3-none-any.whl.metadata"),
            &[]
        )
        .status,
        404
    );
}

#[test]
fn json_without_metadata_files_says_false() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = demo_wheels(dir.path());
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            metadata_files: false,
            requires_python_attr: false,
            ..IndexOptions::default()
        },
    );
    let page = http_get(&index.project_url("foo-bar"), &[("Accept", JSON_ACCEPT)]).json();
    assert_eq!(page["files"][0]["core-metadata"], false);
    assert!(page["files"][0].get("requires-python").is_none());
}

#[test]
fn non_normalized_names_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(&demo_wheels(dir.path()), IndexOptions::default());
    for path in ["Foo_Bar/", "FOO.bar/", "foo-bar"] {
        let r = http_get(&format!("{}{path}", index.url), &[]);
        assert_eq!(r.status, 301, "{path}");
        assert_eq!(
            r.header("location"),
            Some(index.project_url("foo-bar").as_str()),
            "{path}"
        );
    }
    assert_eq!(http_get(&format!("{}/simple", index.base), &[]).status, 301);
    assert_eq!(http_get(&format!("{}missing/", index.url), &[]).status, 404);
    assert_eq!(http_get(&format!("{}/other", index.base), &[]).status, 404);
}

#[test]
fn range_requests() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = demo_wheels(dir.path());
    let bytes = std::fs::read(&wheels[0]).unwrap();
    let len = bytes.len();
    let fname = "foo_bar-1.0-py3-none-any.whl";
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let url = index.file_url(fname);

    let r = http_get(&url, &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, bytes[..10]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-9/{len}").as_str())
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    let r = http_get(&url, &[("Range", "bytes=-22")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, bytes[len - 22..]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes {}-{}/{len}", len - 22, len - 1).as_str())
    );

    let r = http_get(&url, &[("Range", "bytes=10-")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, bytes[10..]);

    // A suffix longer than the file is the whole file.
    let r = http_get(&url, &[("Range", "bytes=-1000000")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, bytes);

    let r = http_get(&url, &[("Range", "bytes=1000000-")]);
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );

    assert_eq!(index.range_downloads(fname), 5);
    assert_eq!(index.full_downloads(fname), 0);
    assert!(
        index
            .requests()
            .contains(&format!("GET /files/{fname} bytes=-22")),
        "{:?}",
        index.requests()
    );

    // Disabled: the whole file, 200, no Accept-Ranges.
    let plain = TestIndex::start(&wheels, IndexOptions::html_only());
    let r = http_get(&plain.file_url(fname), &[("Range", "bytes=-22")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
    assert!(r.header("accept-ranges").is_none());
}

#[test]
fn yanked_files_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = demo_wheels(dir.path());
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            yanked: vec![
                ("foo_bar-1.0-py3-none-any.whl".into(), None),
                ("baz-1.0-py3-none-any.whl".into(), Some("security".into())),
            ],
            ..IndexOptions::default()
        },
    );
    let page = http_get(&index.project_url("foo-bar"), &[("Accept", JSON_ACCEPT)]).json();
    assert_eq!(page["files"][0]["yanked"], true);
    assert_eq!(page["files"][1]["yanked"], false);
    let page = http_get(&index.project_url("baz"), &[("Accept", JSON_ACCEPT)]).json();
    assert_eq!(page["files"][0]["yanked"], "security");
    let html = http_get(&index.project_url("foo-bar"), &[]).text();
    assert!(html.contains("data-yanked=\"\""), "{html}");
}

#[test]
fn fail_first_answers_503_per_path() {
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(
        &demo_wheels(dir.path()),
        IndexOptions {
            fail_first: 2,
            ..IndexOptions::default()
        },
    );
    let page = index.project_url("baz");
    assert_eq!(http_get(&page, &[]).status, 503);
    assert_eq!(http_get(&page, &[]).status, 503);
    assert_eq!(http_get(&page, &[]).status, 200);
    assert_eq!(http_get(&page, &[]).status, 200);
    let file = index.file_url("baz-1.0-py3-none-any.whl");
    assert_eq!(http_get(&file, &[]).status, 503);
    assert_eq!(http_get(&file, &[]).status, 503);
    assert_eq!(http_get(&file, &[]).status, 200);
    assert_eq!(index.requests().len(), 7);
}

#[test]
fn wrong_hash_is_advertised() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = demo_wheels(dir.path());
    let fname = "baz-1.0-py3-none-any.whl";
    let index = TestIndex::start(
        &wheels,
        IndexOptions {
            wrong_hash: vec![fname.into()],
            ..IndexOptions::default()
        },
    );
    let real = sha256_file(&wheels[2]);
    let page = http_get(&index.project_url("baz"), &[("Accept", JSON_ACCEPT)]).json();
    let advertised = page["files"][0]["hashes"]["sha256"].as_str().unwrap();
    assert_ne!(advertised, real);
    assert_eq!(advertised.len(), 64);
    let html = http_get(&index.project_url("baz"), &[]).text();
    assert!(html.contains(&format!("#sha256={advertised}")));
    // Other files keep their real hash.
    let page = http_get(&index.project_url("foo-bar"), &[("Accept", JSON_ACCEPT)]).json();
    assert_eq!(
        page["files"][0]["hashes"]["sha256"],
        sha256_file(&wheels[0])
    );
}

#[test]
fn add_wheel_publishes_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(&demo_wheels(dir.path()), IndexOptions::default());
    assert_eq!(http_get(&index.project_url("newpkg"), &[]).status, 404);
    index.add_wheel(WheelSpec::new("newpkg", "0.1").build(dir.path()));
    index.add_wheel(WheelSpec::new("baz", "3.0").build(dir.path()));
    let page = http_get(&index.project_url("newpkg"), &[("Accept", JSON_ACCEPT)]).json();
    assert_eq!(page["versions"], serde_json::json!(["0.1"]));
    let page = http_get(&index.project_url("baz"), &[("Accept", JSON_ACCEPT)]).json();
    assert_eq!(page["versions"], serde_json::json!(["1.0", "3.0"]));
    index.remove_file("baz-3.0-py3-none-any.whl");
    let page = http_get(&index.project_url("baz"), &[("Accept", JSON_ACCEPT)]).json();
    assert_eq!(page["versions"], serde_json::json!(["1.0"]));
}

#[test]
fn sdists_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let sdist = build_sdist(dir.path(), "native", "1.0");
    let index = TestIndex::start(std::slice::from_ref(&sdist), IndexOptions::default());
    let page = http_get(&index.project_url("native"), &[("Accept", JSON_ACCEPT)]).json();
    assert_eq!(page["files"][0]["filename"], "native-1.0.tar.gz");
    assert_eq!(page["files"][0]["core-metadata"], false);
    let body = http_get(&index.file_url("native-1.0.tar.gz"), &[]);
    assert_eq!(body.body, std::fs::read(&sdist).unwrap());
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(&demo_wheels(dir.path()), IndexOptions::default());
    let host = index.base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET /simple/baz/ HTTP/1.1\r\nHost: {host}\r\nAccept: {JSON_ACCEPT}\r\n\r\nHEAD /files/baz-1.0-py3-none-any.whl HTTP/1.1\r\nHost: {host}\r\n\r\nGET /simple/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let (first, used) = parse_response(&raw, false);
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["name"], "baz");
    let (second, used2) = parse_response(&raw[used..], true);
    assert_eq!(second.status, 200);
    assert!(second.header("content-length").unwrap() != "0");
    let (third, used3) = parse_response(&raw[used + used2..], false);
    assert_eq!(third.status, 200);
    assert_eq!(third.header("connection"), Some("close"));
    assert_eq!(used + used2 + used3, raw.len());
}

#[test]
fn curl_can_use_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = demo_wheels(dir.path());
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--fail", "--noproxy", "*"])
            .args(args)
            .output()
            .expect("curl is installed")
    };
    let out = curl(&["-H", &format!("Accept: {JSON_ACCEPT}"), &index.url]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["projects"].as_array().unwrap().len(), 2);
    // Follows the redirect of a non-normalized name.
    let out = curl(&["-L", &format!("{}Foo_Bar", index.url)]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("foo_bar-1.0-py3-none-any.whl"));
    // Suffix range.
    let out = curl(&["-r", "-16", &index.file_url("baz-1.0-py3-none-any.whl")]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let bytes = std::fs::read(&wheels[2]).unwrap();
    assert_eq!(out.stdout, bytes[bytes.len() - 16..]);
    // Several URLs on one connection (keep-alive).
    let out = curl(&[
        &index.project_url("baz"),
        &index.project_url("foo-bar"),
        &index.file_url("baz-1.0-py3-none-any.whl"),
    ]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(out.stdout.ends_with(&bytes));
}

#[test]
fn python_urllib_can_use_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = demo_wheels(dir.path());
    let index = TestIndex::start(&wheels, IndexOptions::default());
    let script = r#"
import hashlib, json, sys, urllib.request
index = sys.argv[1]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
req = urllib.request.Request(index + "foo-bar/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
with opener.open(req) as r:
    assert r.headers["Content-Type"] == "application/vnd.pypi.simple.v1+json", r.headers
    page = json.load(r)
f = page["files"][0]
with opener.open(f["url"]) as r:
    data = r.read()
assert hashlib.sha256(data).hexdigest() == f["hashes"]["sha256"]
with opener.open(f["url"] + ".metadata") as r:
    meta = r.read()
assert hashlib.sha256(meta).hexdigest() == f["core-metadata"]["sha256"]
with opener.open(index + "Foo.Bar/") as r:
    assert r.geturl().endswith("/simple/foo-bar/"), r.geturl()
    assert b"../../files/foo_bar-1.0-py3-none-any.whl" in r.read()
print("ok", len(data))
"#;
    let out = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&index.url)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            support::missing_tool(&format!("python3 not available ({e})"));
            return;
        }
    };
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok "));
}

#[test]
fn drop_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let index = TestIndex::start(&demo_wheels(dir.path()), IndexOptions::default());
    let host = index.base.strip_prefix("http://").unwrap().to_string();
    // An idle keep-alive connection must not keep the server alive.
    let idle = TcpStream::connect(&host).unwrap();
    drop(index);
    assert!(TcpStream::connect(&host).is_err());
    drop(idle);
}

#[test]
fn pylayer_command_is_isolated() {
    let env = TestEnv::new();
    let cmd = env.cmd();
    let envs: Vec<(String, Option<String>)> = cmd
        .get_envs()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.map(|v| v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    let get = |k: &str| envs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("PYLAYER_CACHE_DIR"),
        Some(Some(env.cache_dir().to_string_lossy().into_owned()))
    );
    assert_eq!(get("PIP_INDEX_URL"), Some(None));
    assert_eq!(get("PIP_EXTRA_INDEX_URL"), Some(None));
    assert_eq!(get("PYLAYER_INDEX_URL"), Some(None));
    assert_eq!(get("NO_PROXY"), Some(Some("127.0.0.1,localhost".into())));
    assert!(get("HOME").is_none(), "HOME is inherited unchanged");
    assert_eq!(cmd.get_current_dir(), Some(env.work_dir()));
    assert!(cmd.get_program().to_string_lossy().ends_with("pylayer"));

    let bare = pylayer();
    assert!(
        bare.get_envs()
            .any(|(k, v)| k == "PYLAYER_CACHE_DIR" && v.is_some())
    );
}
