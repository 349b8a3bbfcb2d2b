//! `pylayer check` on hand-made bad zips — climbing (`../`) and absolute paths, symbolic
//! links, bombs, lying sizes, bad checksums, truncated and garbage files — and on the CLI's
//! own contract (targets from the manifest or flags, exit codes, `--strict`, directories).
//! Each bad zip must give a clear error naming the entry, never a panic.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{describe_output, pylayer, run};

// ---------------------------------------------------------------------------------------------
// A zip writer that can lie
// ---------------------------------------------------------------------------------------------

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[derive(Clone)]
struct RawEntry {
    name: Vec<u8>,
    data: Vec<u8>,
    deflate: bool,
    /// Overrides the declared uncompressed size.
    declared_size: Option<u32>,
    /// Overrides the CRC-32.
    crc: Option<u32>,
    /// Unix mode (S_IFLNK for links).
    mode: u32,
    /// Point the central directory at this earlier entry's local header (overlap).
    alias_of: Option<usize>,
}

impl RawEntry {
    fn file(name: &str, data: &[u8]) -> Self {
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            deflate: true,
            declared_size: None,
            crc: None,
            mode: 0o100644,
            alias_of: None,
        }
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn write_zip(path: &Path, entries: &[RawEntry]) {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut offsets: Vec<(u32, u32, u32, u32, u16)> = Vec::new(); // offset, csize, usize, crc, method
    for e in entries {
        let (offset, csize, usize_, crc, method) = if let Some(a) = e.alias_of {
            offsets[a]
        } else {
            let body = if e.deflate {
                deflate(&e.data)
            } else {
                e.data.clone()
            };
            let method: u16 = if e.deflate { 8 } else { 0 };
            let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
            let usize_ = e.declared_size.unwrap_or(e.data.len() as u32);
            let offset = out.len() as u32;
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes()); // time, date
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&usize_.to_le_bytes());
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&body);
            (offset, body.len() as u32, usize_, crc, method)
        };
        offsets.push((offset, csize, usize_, crc, method));
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by Unix
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&csize.to_le_bytes());
        central.extend_from_slice(&usize_.to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
        central.extend_from_slice(&(e.mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    std::fs::write(path, out).unwrap();
}

fn ok_entries() -> Vec<RawEntry> {
    vec![
        RawEntry::file("python/pkg/__init__.py", b"VALUE = 1\n"),
        RawEntry::file(
            "python/pkg-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n\n",
        ),
        RawEntry::file("python/pkg-1.0.dist-info/RECORD", b"pkg/__init__.py,,\n"),
    ]
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn zip_with(dir: &Path, name: &str, extra: Vec<RawEntry>) -> PathBuf {
    let mut entries = ok_entries();
    entries.extend(extra);
    let p = dir.join(name);
    write_zip(&p, &entries);
    p
}

/// Runs `pylayer check … --json` for python3.12/x86_64; asserts no panic; returns
/// (exit code, report, stderr).
fn check(layer: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut cmd = pylayer();
    cmd.arg("check")
        .arg(layer)
        .args(["--python", "3.12", "--arch", "x86_64", "--json"])
        .args(extra);
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{}", describe_output(&out));
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn only_error<'a>(r: &'a Value, code: &str) -> &'a Value {
    let errs: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings: {r}"))
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errs.len(), 1, "{r:#}");
    assert_eq!(errs[0]["code"], code, "{r:#}");
    errs[0]
}

// ---------------------------------------------------------------------------------------------
// Hostile and damaged zips
// ---------------------------------------------------------------------------------------------

#[test]
fn a_clean_hand_made_zip_passes() {
    let d = tmp();
    let z = zip_with(d.path(), "ok.zip", vec![]);
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["summary"]["distributions"], 1);
}

#[test]
fn climbing_paths_are_zip_slip() {
    let d = tmp();
    let z = zip_with(
        d.path(),
        "slip.zip",
        vec![RawEntry::file("python/../../evil.py", b"x")],
    );
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1);
    let f = only_error(&r, "zip-slip");
    assert_eq!(f["path"], "python/../../evil.py");
    assert!(f["message"].as_str().unwrap().contains("climbs out"), "{f}");

    let z = zip_with(
        d.path(),
        "slip2.zip",
        vec![RawEntry::file("../evil.py", b"x")],
    );
    assert_eq!(
        only_error(&check(&z, &[]).1, "zip-slip")["path"],
        "../evil.py"
    );
}

#[test]
fn absolute_paths_are_refused() {
    let d = tmp();
    let z = zip_with(
        d.path(),
        "abs.zip",
        vec![RawEntry::file("/etc/cron.d/evil", b"x")],
    );
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1);
    let f = only_error(&r, "zip-absolute-path");
    assert_eq!(f["path"], "/etc/cron.d/evil");
}

#[test]
fn backslash_names_from_windows_powershell() {
    let d = tmp();
    let z = zip_with(
        d.path(),
        "bs.zip",
        vec![RawEntry::file("python\\six.py", b"x")],
    );
    let f = only_error(&check(&z, &[]).1, "zip-backslash").clone();
    assert!(
        f["hint"].as_str().unwrap().contains("`/` separators"),
        "{f}"
    );
}

#[test]
fn symlinks_are_refused_and_escaping_ones_named() {
    let d = tmp();
    let mut link = RawEntry::file("python/pkg/data", b"/etc/passwd");
    link.mode = 0o120777;
    link.deflate = false;
    let z = zip_with(d.path(), "link.zip", vec![link]);
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1);
    let f = only_error(&r, "zip-symlink");
    assert_eq!(f["path"], "python/pkg/data");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("`/etc/passwd`") && msg.contains("points outside the layer"),
        "{msg}"
    );

    let mut inside = RawEntry::file("python/pkg/alias.py", b"__init__.py");
    inside.mode = 0o120777;
    let z = zip_with(d.path(), "link2.zip", vec![inside]);
    let f = only_error(&check(&z, &[]).1, "zip-symlink").clone();
    assert!(
        !f["message"]
            .as_str()
            .unwrap()
            .contains("points outside the layer"),
        "{f}"
    );
}

#[test]
fn a_high_ratio_entry_is_a_bomb_and_is_not_inflated() {
    let d = tmp();
    // 64 MB of zeros deflates to ~64 KB: a ratio above 1000:1.
    let zeros = vec![0u8; 64 << 20];
    let z = zip_with(
        d.path(),
        "bomb.zip",
        vec![RawEntry::file("python/pkg/blob.bin", &zeros)],
    );
    assert!(std::fs::metadata(&z).unwrap().len() < 200_000);
    let started = std::time::Instant::now();
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1);
    let f = only_error(&r, "zip-bomb");
    assert_eq!(f["path"], "python/pkg/blob.bin");
    assert!(f["message"].as_str().unwrap().contains(":1"), "{f}");
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn overlapping_entries_are_a_bomb() {
    let d = tmp();
    let mut entries = ok_entries();
    entries.push(RawEntry::file("python/pkg/a.txt", &vec![b'a'; 100_000]));
    for i in 0..5 {
        let mut alias = RawEntry::file(&format!("python/pkg/copy{i}.txt"), b"");
        alias.alias_of = Some(3);
        entries.push(alias);
    }
    let z = d.path().join("overlap.zip");
    write_zip(&z, &entries);
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1, "{r:#}");
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"zip-bomb"), "{r:#}");
}

#[test]
fn declared_sizes_that_lie_are_caught() {
    let d = tmp();
    // Declares 100 bytes, inflates to 10,000: reading stops after the declared size.
    let mut big = RawEntry::file("python/pkg/lies.py", &vec![b'#'; 10_000]);
    big.declared_size = Some(100);
    let z = zip_with(d.path(), "lie.zip", vec![big]);
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1);
    let f = only_error(&r, "zip-size-mismatch");
    assert_eq!(f["path"], "python/pkg/lies.py");
    assert!(f["message"].as_str().unwrap().contains("100 bytes"), "{f}");

    // Declares more than there is.
    let mut small = RawEntry::file("python/pkg/short.py", b"x = 1\n");
    small.declared_size = Some(5000);
    let z = zip_with(d.path(), "short.zip", vec![small]);
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1);
    let f = only_error(&r, "zip-size-mismatch");
    assert_eq!(f["path"], "python/pkg/short.py");
}

#[test]
fn a_bad_checksum_is_corruption() {
    let d = tmp();
    let mut e = RawEntry::file("python/pkg/mod.py", b"print('hello')\n");
    e.crc = Some(0x1234_5678);
    let z = zip_with(d.path(), "crc.zip", vec![e]);
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1);
    let f = only_error(&r, "zip-corrupt");
    assert_eq!(f["path"], "python/pkg/mod.py");
    assert!(f["message"].as_str().unwrap().contains("CRC-32"), "{f}");
}

#[test]
fn truncated_garbage_and_empty_files_are_not_zips() {
    let d = tmp();
    let z = zip_with(
        d.path(),
        "whole.zip",
        vec![RawEntry::file("python/pkg/big.py", &vec![b'x'; 50_000])],
    );
    let bytes = std::fs::read(&z).unwrap();
    for (name, data) in [
        ("truncated.zip", bytes[..bytes.len() / 2].to_vec()),
        ("tail-cut.zip", bytes[..bytes.len() - 10].to_vec()),
        ("garbage.zip", b"this is not a zip file at all".repeat(100)),
        ("empty.zip", Vec::new()),
    ] {
        let p = d.path().join(name);
        std::fs::write(&p, data).unwrap();
        let (code, r, _) = check(&p, &[]);
        assert_eq!(code, 1, "{name}: {r:#}");
        let f = only_error(&r, "zip-corrupt");
        let msg = f["message"].as_str().unwrap();
        assert!(
            msg.contains(name) && msg.contains("not a readable zip"),
            "{name}: {msg}"
        );
        assert!(
            f["hint"].as_str().unwrap().contains("truncated or damaged"),
            "{f}"
        );
    }
    // Cut inside the data of the last entry but with the central directory intact:
    // the entry is damaged, named, and the rest is still checked.
    let mut cut = bytes.clone();
    let start = 200.min(cut.len() / 2);
    for b in &mut cut[start..start + 50] {
        *b = 0xff;
    }
    let p = d.path().join("damaged.zip");
    std::fs::write(&p, cut).unwrap();
    let (code, r, _) = check(&p, &[]);
    assert_eq!(code, 1, "{r:#}");
    let any_corrupt = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "zip-corrupt" && f["path"].is_string());
    assert!(any_corrupt, "{r:#}");
}

// ---------------------------------------------------------------------------------------------
// Layout findings on hand-made zips
// ---------------------------------------------------------------------------------------------

#[test]
fn venv_remnants_pip_and_foreign_bytecode_are_warnings() {
    let d = tmp();
    let z = zip_with(
        d.path(),
        "venv.zip",
        vec![
            RawEntry::file("python/pyvenv.cfg", b"home = /usr/bin\n"),
            RawEntry::file("python/bin/activate", b"# activate\n"),
            RawEntry::file("python/pip/__init__.py", b""),
            RawEntry::file(
                "python/pip-25.0.dist-info/METADATA",
                b"Name: pip\nVersion: 25.0\n\n",
            ),
            RawEntry::file("python/pip-25.0.dist-info/RECORD", b"pip/__init__.py,,\n"),
            RawEntry::file(
                "python/pkg/__pycache__/__init__.cpython-311.pyc",
                b"\0\0\0\0",
            ),
        ],
    );
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 0, "warnings only: {r:#}");
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    // The only .pyc is for another Python: the layer has no bytecode it can use (a note).
    for c in [
        "venv-remnant",
        "installer-tooling",
        "stale-bytecode",
        "no-bytecode",
    ] {
        assert!(codes.contains(&c), "{c}: {r:#}");
    }
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] == "warning" || f["code"] == "no-bytecode")
    );
    // --strict makes warnings fail.
    assert_eq!(check(&z, &["--strict"]).0, 1);
}

#[test]
fn packages_at_the_root_and_wrong_site_packages() {
    let d = tmp();
    let z = d.path().join("root.zip");
    write_zip(
        &z,
        &[
            RawEntry::file("requests/__init__.py", b""),
            RawEntry::file("python/lib/python3.11/site-packages/six.py", b""),
        ],
    );
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1);
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"not-importable"), "{r:#}");
    assert!(codes.contains(&"wrong-python-site-packages"), "{r:#}");
}

#[test]
fn function_size_counts_against_the_unzipped_limit() {
    let d = tmp();
    let z = zip_with(d.path(), "small.zip", vec![]);
    assert_eq!(check(&z, &[]).0, 0);
    let (code, r, _) = check(&z, &["--function-size", "262143990"]);
    assert_eq!(code, 1);
    let f = only_error(&r, "too-big-unzipped");
    assert!(
        f["message"].as_str().unwrap().contains("262,144,000"),
        "{f}"
    );
}

// ---------------------------------------------------------------------------------------------
// The command's contract
// ---------------------------------------------------------------------------------------------

#[test]
fn without_target_or_manifest_it_is_a_usage_error() {
    let d = tmp();
    let z = zip_with(d.path(), "x.zip", vec![]);
    let out = run(pylayer().arg("check").arg(&z));
    assert_eq!(out.status.code(), Some(2), "{}", describe_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--python 3.X and --arch"), "{err}");

    // A manifest beside the zip supplies them; a flag still wins.
    std::fs::write(
        d.path().join("x.json"),
        r#"{"pylayer_version":"0","name":"x","runtime":"python3.11","python":"3.11","architecture":"arm64","layout":"python","zip":"x.zip","zip_bytes":1,"unzipped_bytes":1,"sha256":"","code_sha256":"","limits":{"unzipped_limit":262144000,"direct_upload_limit":52428800},"packages":[],"notes":[]}"#,
    )
    .unwrap();
    let out = run(pylayer().arg("check").arg(&z).arg("--json"));
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["runtime"], "python3.11");
    assert_eq!(r["architecture"], "arm64");
    let out = run(pylayer()
        .arg("check")
        .arg(&z)
        .args(["--json", "--arch", "x86_64"]));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["runtime"], "python3.11");
    assert_eq!(r["architecture"], "x86_64");

    // A missing file is a usage error naming it.
    let out = run(pylayer()
        .arg("check")
        .arg(d.path().join("nope.zip"))
        .args(["--python", "3.12", "--arch", "x86_64"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.zip"));
}

#[test]
fn a_directory_is_checked_like_a_zip() {
    let d = tmp();
    let root = d.path().join("layer");
    std::fs::create_dir_all(root.join("python/pkg-1.0.dist-info")).unwrap();
    std::fs::create_dir_all(root.join("python/pkg")).unwrap();
    std::fs::write(root.join("python/pkg/__init__.py"), "").unwrap();
    std::fs::write(
        root.join("python/pkg-1.0.dist-info/METADATA"),
        "Name: pkg\nVersion: 1.0\nRequires-Dist: attrs>=22\n\n",
    )
    .unwrap();
    std::fs::write(
        root.join("python/pkg-1.0.dist-info/RECORD"),
        "pkg/__init__.py,,\n",
    )
    .unwrap();
    let (code, r, _) = check(&root, &[]);
    assert_eq!(code, 1, "{r:#}");
    let f = only_error(&r, "missing-dependency");
    assert_eq!(f["distribution"], "pkg 1.0");
    assert!(f["message"].as_str().unwrap().contains("attrs>=22"), "{f}");
    assert!(r["summary"]["zip_bytes"].is_null());

    // The human table groups by severity and ends with the verdict.
    let out = run(pylayer()
        .arg("check")
        .arg(&root)
        .args(["--python", "3.12", "--arch", "x86_64"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors (1):"), "{text}");
    assert!(
        text.contains("error[missing-dependency] python/pkg-1.0.dist-info/METADATA (pkg 1.0)"),
        "{text}"
    );
    assert!(text.contains("FAILED: 1 error(s)"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The same checks in `test`, `inspect` and `diff`; empty layers, clashes, odd names
// ---------------------------------------------------------------------------------------------

/// Runs `pylayer ARGS` with TMPDIR pointed at a fresh directory; returns (exit code,
/// stderr, whatever is left in that directory).
fn run_in_tmpdir(args: &[&std::ffi::OsStr]) -> (i32, String, Vec<PathBuf>) {
    let tmpdir = tmp();
    let mut cmd = pylayer();
    cmd.args(args).env("TMPDIR", tmpdir.path());
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{}", describe_output(&out));
    let left: Vec<PathBuf> = std::fs::read_dir(tmpdir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    (out.status.code().unwrap_or(-1), stderr, left)
}

/// Zips no command but `check` may read past: a ratio bomb, overlapping entries (each
/// alias of a 10 MB entry), and an entry claiming more than Lambda's whole limit.
fn hostile_zips(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let ratio = zip_with(
        dir,
        "ratio.zip",
        vec![RawEntry::file("python/pkg/blob.bin", &vec![0u8; 64 << 20])],
    );
    let mut entries = ok_entries();
    entries.push(RawEntry::file("python/pkg/a.txt", &vec![b'a'; 10 << 20]));
    for i in 0..60 {
        let mut alias = RawEntry::file(&format!("python/pkg/copy{i}.txt"), b"");
        alias.alias_of = Some(3);
        entries.push(alias);
    }
    let overlap = dir.join("overlap.zip");
    write_zip(&overlap, &entries);
    let mut huge = RawEntry::file("python/pkg/huge.bin", b"tiny");
    huge.declared_size = Some(0xFFFF_FFF0);
    let impossible = zip_with(dir, "impossible.zip", vec![huge]);
    vec![
        ("ratio", ratio),
        ("overlap", overlap),
        ("impossible", impossible),
    ]
}

#[test]
fn test_inspect_and_diff_refuse_hostile_zips_before_unpacking_or_summing() {
    let d = tmp();
    let clean = zip_with(d.path(), "clean.zip", vec![]);
    for (what, z) in hostile_zips(d.path()) {
        // `test`: refused before any interpreter is looked for, nothing written to TMPDIR.
        let (code, stderr, left) = run_in_tmpdir(&[
            "test".as_ref(),
            z.as_os_str(),
            "--python".as_ref(),
            "3.11".as_ref(),
        ]);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(stderr.contains("refusing to read"), "{what}: {stderr}");
        assert!(stderr.contains("zip-bomb"), "{what}: {stderr}");
        assert!(left.is_empty(), "{what}: left in TMPDIR: {left:?}");

        let (code, stderr, _) = run_in_tmpdir(&["inspect".as_ref(), z.as_os_str()]);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(stderr.contains("refusing to read"), "{what}: {stderr}");
        if what == "impossible" {
            // Named as an impossible size, never printed as a size.
            assert!(stderr.contains("impossible size"), "{stderr}");
            assert!(!stderr.contains(" GB"), "{stderr}");
        }

        let (code, stderr, _) = run_in_tmpdir(&["diff".as_ref(), clean.as_os_str(), z.as_os_str()]);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(stderr.contains("refusing to read"), "{what}: {stderr}");
    }
    // The clean zip still inspects.
    let (code, stderr, _) = run_in_tmpdir(&["inspect".as_ref(), clean.as_os_str()]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn an_empty_layer_is_an_error() {
    let d = tmp();
    // The 22-byte zip: an end-of-central-directory record and nothing else.
    let empty = d.path().join("empty.zip");
    write_zip(&empty, &[]);
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 22);
    let (code, r, _) = check(&empty, &[]);
    assert_eq!(code, 1, "{r:#}");
    let f = only_error(&r, "empty-layer");
    assert!(f["message"].as_str().unwrap().contains("no file"), "{f}");

    // A directory holding only lib/a.py: nothing importable.
    let dir = d.path().join("only-lib");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/a.py"), "x = 1\n").unwrap();
    let (code, r, _) = check(&dir, &[]);
    assert_eq!(code, 1, "{r:#}");
    only_error(&r, "empty-layer");

    // A bare module under python/ is not empty.
    let dir = d.path().join("module");
    std::fs::create_dir_all(dir.join("python")).unwrap();
    std::fs::write(dir.join("python/handler_util.py"), "x = 1\n").unwrap();
    let (code, r, _) = check(&dir, &[]);
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn a_file_and_a_directory_of_one_name_clash() {
    let d = tmp();
    // `python/pkg` as a file, while `python/pkg/__init__.py` makes it a directory.
    let z = zip_with(
        d.path(),
        "clash.zip",
        vec![RawEntry::file("python/pkg", b"not a directory")],
    );
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1, "{r:#}");
    let f = only_error(&r, "name-clash");
    assert_eq!(f["path"], "python/pkg");
    // `test` refuses it too, before unpacking.
    let (code, stderr, left) = run_in_tmpdir(&[
        "test".as_ref(),
        z.as_os_str(),
        "--python".as_ref(),
        "3.11".as_ref(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("name-clash"), "{stderr}");
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_name_that_is_not_utf8_is_a_finding() {
    let d = tmp();
    let mut odd = RawEntry::file("python/pkg/x.txt", b"data");
    odd.name = b"python/pkg/caf\xe9.txt".to_vec();
    let z = zip_with(d.path(), "latin1.zip", vec![odd]);
    let (code, r, _) = check(&z, &["--strict"]);
    assert_eq!(code, 1, "{r:#}");
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "non-utf8-name")
        .unwrap_or_else(|| panic!("no non-utf8-name finding: {r:#}"));
    assert_eq!(f["severity"], "warning");
}

#[test]
fn vendored_dist_info_is_not_an_installed_distribution() {
    let d = tmp();
    let z = zip_with(
        d.path(),
        "vendored.zip",
        vec![
            RawEntry::file(
                "python/pkg/_vendor/packaging-24.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: packaging\nVersion: 24.0\n\n",
            ),
            RawEntry::file("python/pkg/_vendor/packaging/__init__.py", b""),
        ],
    );
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["summary"]["distributions"], 1, "{r:#}");
    let mut cmd = pylayer();
    cmd.arg("inspect").arg(&z).arg("--json");
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe_output(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pkg"], "{v:#}");
    // The vendored files belong to the package that vendors them.
    assert_eq!(
        v["unattributed"]["files"].as_array().unwrap().len(),
        0,
        "{v:#}"
    );
}

#[test]
fn metadata_fields_are_read_case_insensitively_with_continuations() {
    let d = tmp();
    let mut entries = vec![
        RawEntry::file("python/pkg/__init__.py", b"VALUE = 1\n"),
        RawEntry::file(
            "python/pkg-1.0.dist-info/METADATA",
            b"metadata-version: 2.1\nNAME: Pkg.Extra\nversion: 1.0\nrequires-dist: missing-dep\n  >=1\n\n",
        ),
    ];
    entries.push(RawEntry::file(
        "python/pkg-1.0.dist-info/RECORD",
        b"pkg/__init__.py,,\n",
    ));
    let z = d.path().join("meta.zip");
    write_zip(&z, &entries);
    let mut cmd = pylayer();
    cmd.arg("inspect").arg(&z).arg("--json");
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe_output(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["distributions"][0]["name"], "Pkg.Extra", "{v:#}");
    assert_eq!(v["distributions"][0]["version"], "1.0", "{v:#}");
    // `check` reads the folded Requires-Dist: the dependency is missing, with its version.
    let (code, r, _) = check(&z, &[]);
    assert_eq!(code, 1, "{r:#}");
    let text = r.to_string();
    assert!(text.contains("missing-dep>=1"), "{r:#}");
}

/// A python3.11 for the interrupt test; `None` (the test is skipped) only outside CI.
fn python311() -> Option<PathBuf> {
    let found = [
        "/usr/bin/python3.11",
        "/root/.pyenv/versions/3.11.7/bin/python3.11",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file());
    if found.is_none() {
        support::missing_tool("no python3.11 for the interrupt test");
    }
    found
}

#[cfg(unix)]
#[test]
fn sigint_during_test_removes_the_read_only_tree_and_exits_130() {
    let Some(python) = python311() else {
        return;
    };
    let d = tmp();
    let mut entries = ok_entries();
    entries[0] = RawEntry::file(
        "python/pkg/__init__.py",
        b"import sys, time\nsys.stdout.write('slow-import-started\\n'); sys.stdout.flush()\ntime.sleep(60)\n",
    );
    let z = d.path().join("slow.zip");
    write_zip(&z, &entries);
    let tmpdir = tmp();
    let mut cmd = pylayer();
    cmd.arg("test")
        .arg(&z)
        .args(["--python", "3.11", "--interpreter"])
        .arg(&python)
        .env("TMPDIR", tmpdir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Wait until the layer is unpacked (the tree exists) and the import is under way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let unpacked = std::fs::read_dir(tmpdir.path())
            .unwrap()
            .flatten()
            .any(|e| e.path().join("python/pkg/__init__.py").is_file());
        if unpacked {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the layer was never unpacked"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let left: Vec<PathBuf> = std::fs::read_dir(tmpdir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
