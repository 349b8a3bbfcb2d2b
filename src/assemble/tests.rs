use super::*;
use crate::plan::test_wheels::*;
use crate::record;
use crate::wheel_name::WheelName;
use std::io::Cursor;
use std::io::Read;
use std::process::Command;
use zip::write::FullFileOptions;
use zip::{CompressionMethod, ZipArchive};

fn opts(layout: Layout) -> AssembleOptions {
    AssembleOptions {
        layout,
        keep: vec![],
        source_date_epoch: None,
    }
}

#[test]
fn python_layout_names_and_leave_outs() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    let out = dir.path().join("dist/layer.zip");
    let report = assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap();
    let n = names(&out);
    assert_eq!(
        n,
        vec![
            "python/Beta_Pkg-2.0.dist-info/INSTALLER",
            "python/Beta_Pkg-2.0.dist-info/METADATA",
            "python/Beta_Pkg-2.0.dist-info/RECORD",
            "python/Beta_Pkg-2.0.dist-info/WHEEL",
            "python/alpha-1.0.dist-info/INSTALLER",
            "python/alpha-1.0.dist-info/METADATA",
            "python/alpha-1.0.dist-info/RECORD",
            "python/alpha-1.0.dist-info/WHEEL",
            "python/alpha/__init__.py",
            "python/alpha/big.txt",
            "python/alpha/core.py",
            "python/alpha/tool.sh",
            "python/alpha_extra.py",
            "python/beta_pkg/__init__.py",
        ]
    );
    let mut sorted = n.clone();
    sorted.sort();
    assert_eq!(n, sorted, "entries must be in byte order");
    assert_eq!(
        read_entry(&out, "python/alpha-1.0.dist-info/INSTALLER"),
        b"pylayer\n"
    );
    let notes = report.notes.join("\n");
    assert!(notes.contains("left out pip 24.0"), "{notes}");
    assert!(
        notes.contains("left out 2 script(s) of alpha (*.data/scripts)"),
        "{notes}"
    );
    assert!(
        notes.contains("left out 1 compiled file(s) of alpha"),
        "{notes}"
    );
    assert_eq!(report.packages.len(), 2);
    assert_eq!(report.packages[0].name, "alpha");
    assert_eq!(report.packages[0].tag, "py3-none-any");
    assert_eq!(report.packages[0].files, 9);
    assert_eq!(report.packages[1].name, "beta-pkg");
}

#[test]
fn site_packages_layout() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    let out = dir.path().join("layer.zip");
    assemble(&wheels, &target(), &opts(Layout::SitePackages), &out).unwrap();
    let n = names(&out);
    assert!(
        n.iter()
            .all(|p| p.starts_with("python/lib/python3.12/site-packages/"))
    );
    assert!(n.contains(&"python/lib/python3.12/site-packages/alpha_extra.py".to_string()));
}

#[test]
fn compressed_bytes_are_copied_not_recompressed() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    let out = dir.path().join("layer.zip");
    assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap();
    let alpha = &wheels[0].1;
    for (in_wheel, in_layer) in [
        ("alpha/big.txt", "python/alpha/big.txt"),
        ("alpha/core.py", "python/alpha/core.py"),
        (
            "alpha-1.0.data/purelib/alpha_extra.py",
            "python/alpha_extra.py",
        ),
        (
            "alpha-1.0.dist-info/METADATA",
            "python/alpha-1.0.dist-info/METADATA",
        ),
    ] {
        let (m1, b1) = raw_bytes(alpha, in_wheel);
        let (m2, b2) = raw_bytes(&out, in_layer);
        assert_eq!(m1, CompressionMethod::Deflated);
        assert_eq!(m1, m2);
        assert_eq!(b1, b2, "{in_wheel}");
    }
}

#[test]
fn headers_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    let out = dir.path().join("layer.zip");
    assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap();
    let mut a = ZipArchive::new(File::open(&out).unwrap()).unwrap();
    assert!(a.comment().is_empty());
    for i in 0..a.len() {
        let f = a.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let t = f.last_modified().unwrap();
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (1980, 1, 1, 0, 0, 0),
            "{name}"
        );
        let want = if name == "python/alpha/tool.sh" {
            0o100755
        } else {
            0o100644
        };
        assert_eq!(f.unix_mode(), Some(want), "{name}");
        assert_eq!(f.extra_data().unwrap_or_default(), Vec::<u8>::new());
        assert!(f.comment().is_empty());
        assert!(!f.flags().is_using_data_descriptor());
    }
    // The local headers carry no extra fields either: check the raw bytes.
    let bytes = std::fs::read(&out).unwrap();
    let mut pos = 0;
    let mut locals = 0;
    while pos + 30 <= bytes.len() && bytes[pos..pos + 4] == [0x50, 0x4b, 0x03, 0x04] {
        let u16_at = |o: usize| u16::from_le_bytes([bytes[pos + o], bytes[pos + o + 1]]) as usize;
        let csize = u32::from_le_bytes(bytes[pos + 18..pos + 22].try_into().unwrap()) as usize;
        assert_eq!(u16_at(28), 0, "local extra field present");
        pos += 30 + u16_at(26) + csize;
        locals += 1;
    }
    assert_eq!(locals, a.len());
}

#[test]
fn same_output_for_any_input_order_and_epoch_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    let mut reversed = wheels.clone();
    reversed.reverse();
    let out1 = dir.path().join("a/layer.zip");
    let out2 = dir.path().join("b/layer.zip");
    let r1 = assemble(&wheels, &target(), &opts(Layout::Python), &out1).unwrap();
    let r2 = assemble(&reversed, &target(), &opts(Layout::Python), &out2).unwrap();
    assert_eq!(std::fs::read(&out1).unwrap(), std::fs::read(&out2).unwrap());
    assert_eq!(r1, r2);

    let mut with_epoch = opts(Layout::Python);
    with_epoch.source_date_epoch = Some(1_700_000_000); // 2023-11-14 22:13:20 UTC
    let out3 = dir.path().join("c/layer.zip");
    let out4 = dir.path().join("d/layer.zip");
    let r3 = assemble(&wheels, &target(), &with_epoch, &out3).unwrap();
    let r4 = assemble(&reversed, &target(), &with_epoch, &out4).unwrap();
    assert_ne!(r3.sha256_hex, r1.sha256_hex);
    assert_eq!(r3.sha256_hex, r4.sha256_hex);
    let mut a = ZipArchive::new(File::open(&out3).unwrap()).unwrap();
    let t = a.by_index(0).unwrap().last_modified().unwrap();
    assert_eq!(
        (
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        (2023, 11, 14, 22, 13, 20)
    );
}

#[test]
fn report_hashes_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    let out = dir.path().join("layer.zip");
    let r = assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(r.zip_bytes, bytes.len() as u64);
    let digest = Sha256::digest(&bytes);
    assert_eq!(r.sha256_hex, hex::encode(digest));
    assert_eq!(
        r.code_sha256,
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    let mut a = ZipArchive::new(Cursor::new(bytes)).unwrap();
    let (mut unzipped, mut zipped) = (0, 0);
    for i in 0..a.len() {
        let f = a.by_index_raw(i).unwrap();
        unzipped += f.size();
        zipped += f.compressed_size();
    }
    assert_eq!(r.unzipped_bytes, unzipped);
    assert_eq!(
        r.packages.iter().map(|p| p.zipped_bytes).sum::<u64>(),
        zipped
    );
    assert_eq!(
        r.packages.iter().map(|p| p.unzipped_bytes).sum::<u64>(),
        r.unzipped_bytes
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    // No temporary file is left beside the output.
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pylayer-"))
        .collect();
    assert!(entries.is_empty(), "{entries:?}");
}

#[test]
fn record_lists_installed_paths() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    let out = dir.path().join("layer.zip");
    assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap();
    let text = String::from_utf8(read_entry(&out, "python/alpha-1.0.dist-info/RECORD")).unwrap();
    let rows = record::parse(&text);
    let paths: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "alpha-1.0.dist-info/INSTALLER",
            "alpha-1.0.dist-info/METADATA",
            "alpha-1.0.dist-info/WHEEL",
            "alpha/__init__.py",
            "alpha/big.txt",
            "alpha/core.py",
            "alpha/tool.sh",
            "alpha_extra.py",
            "alpha-1.0.dist-info/RECORD",
        ]
    );
    // Every listed hash matches the installed content.
    for row in &rows[..rows.len() - 1] {
        let content = read_entry(&out, &format!("python/{}", row[0]));
        assert_eq!(row[1], record::record_hash(&content), "{}", row[0]);
        assert_eq!(row[2], content.len().to_string());
    }
    assert_eq!(rows.last().unwrap()[1], "");
}

#[test]
fn keep_brings_back_tooling() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = vec![
        wheel(
            dir.path(),
            "setuptools",
            "70.0",
            &[
                ("setuptools/__init__.py", b"", FILE),
                ("_distutils_hack/__init__.py", b"", FILE),
                (
                    "distutils-precedence.pth",
                    b"import _distutils_hack\n",
                    FILE,
                ),
            ],
        ),
        wheel(
            dir.path(),
            "other",
            "1.0",
            &[
                ("other.py", b"", FILE),
                ("_distutils_hack/override.py", b"", FILE),
            ],
        ),
    ];
    let out = dir.path().join("layer.zip");
    let r = assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap();
    let n = names(&out);
    assert!(
        !n.iter()
            .any(|p| p.contains("setuptools") || p.contains("distutils"))
    );
    assert!(
        r.notes
            .iter()
            .any(|x| x.contains("left out setuptools 70.0"))
    );
    assert!(
        r.notes
            .iter()
            .any(|x| x.contains("of other that setuptools installs"))
    );

    let mut keep = opts(Layout::Python);
    keep.keep = vec!["setuptools".into()];
    let r = assemble(&wheels, &target(), &keep, &out).unwrap();
    let n = names(&out);
    assert!(n.contains(&"python/setuptools/__init__.py".to_string()));
    assert!(n.contains(&"python/distutils-precedence.pth".to_string()));
    assert_eq!(r.packages.len(), 2);
}

#[test]
fn conflicting_files_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = vec![
        wheel(
            dir.path(),
            "one",
            "1.0",
            &[("shared/mod.py", b"A = 1\n", FILE)],
        ),
        wheel(
            dir.path(),
            "two",
            "2.0",
            &[("shared/mod.py", b"A = 2\n", FILE)],
        ),
    ];
    let out = dir.path().join("layer.zip");
    let err = assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("one 1.0") && msg.contains("two 2.0") && msg.contains("python/shared/mod.py"),
        "{msg}"
    );
    assert!(!out.exists());
}

#[test]
fn identical_namespace_files_are_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let init = b"__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n";
    let wheels = vec![
        wheel(
            dir.path(),
            "google-api",
            "1.0",
            &[
                ("google/__init__.py", init, FILE),
                ("google/api.py", b"", FILE),
            ],
        ),
        wheel(
            dir.path(),
            "google-auth",
            "2.0",
            &[
                ("google/__init__.py", init, FILE),
                ("google/auth.py", b"", FILE),
            ],
        ),
    ];
    let out = dir.path().join("layer.zip");
    let r = assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap();
    let n = names(&out);
    assert_eq!(
        n.iter()
            .filter(|p| *p == "python/google/__init__.py")
            .count(),
        1
    );
    assert_eq!(r.packages[0].files, r.packages[1].files + 1);
}

#[test]
fn duplicate_distribution_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = wheel(dir.path(), "dup", "1.0", &[("dup.py", b"", FILE)]);
    let b = wheel(dir.path(), "dup", "2.0", &[("dup.py", b"", FILE)]);
    let err = assemble(
        &[a, b],
        &target(),
        &opts(Layout::Python),
        &dir.path().join("x.zip"),
    )
    .unwrap_err();
    assert!(format!("{err}").contains("two wheels for distribution dup"));
}

/// A wheel with one hostile entry, written with the zip crate's raw names.
fn hostile(dir: &Path, entry: &str, symlink: bool) -> (LockedPackage, PathBuf) {
    let (pkg, path) = wheel(dir, "evil", "1.0", &[("evil/__init__.py", b"", FILE)]);
    let file = File::options().read(true).write(true).open(&path).unwrap();
    let mut w = zip::ZipWriter::new_append(file).unwrap();
    if symlink {
        w.add_symlink(entry, "/etc/passwd", FullFileOptions::default())
            .unwrap();
    } else {
        w.start_file(entry, FullFileOptions::default()).unwrap();
        w.write_all(b"boom").unwrap();
    }
    w.finish().unwrap();
    (pkg, path)
}

#[test]
fn unsafe_entries_are_rejected() {
    for (entry, symlink, why) in [
        ("../escape.py", false, "`..`"),
        ("evil/../../escape.py", false, "`..`"),
        ("/etc/cron.d/evil", false, "absolute"),
        ("C:/evil.py", false, "absolute"),
        ("evil\\..\\..\\escape.py", false, "backslash"),
        ("evil/link", true, "symbolic link"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let w = hostile(dir.path(), entry, symlink);
        let out = dir.path().join("layer.zip");
        let err = assemble(&[w], &target(), &opts(Layout::Python), &out).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(why), "{entry}: {msg}");
        assert!(msg.contains("evil-1.0-py3-none-any.whl"), "{entry}: {msg}");
        assert!(msg.contains(entry), "{entry}: {msg}");
        assert!(!out.exists());
    }
}

fn python() -> Option<&'static str> {
    ["python3.11", "python3"].into_iter().find(|p| {
        Command::new(p)
            .arg("-c")
            .arg("pass")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn python_reads_and_imports_the_layer() {
    let Some(py) = python() else {
        crate::testutil::missing_tool("no python3 on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    for layout in [Layout::Python, Layout::SitePackages] {
        let out = dir.path().join(format!("{}.zip", layout.as_str()));
        assemble(&wheels, &target(), &opts(layout), &out).unwrap();
        let extract = dir.path().join(format!("x-{}", layout.as_str()));
        let root = extract.join(layout.prefix(&target()));
        let script = r#"
import sys, zipfile, importlib.metadata as md
zip_path, extract, root = sys.argv[1:4]
with zipfile.ZipFile(zip_path) as z:
    bad = z.testzip()
    assert bad is None, bad
    z.extractall(extract)
sys.path.insert(0, root)
import alpha, alpha_extra, beta_pkg
assert alpha.VALUE == 42 and alpha_extra.EXTRA == 1 and beta_pkg.NAME == 'beta'
dist = md.distribution('alpha')
assert dist.version == '1.0'
assert dist.read_text('INSTALLER') == 'pylayer\n'
files = {str(f) for f in dist.files}
assert 'alpha_extra.py' in files and 'alpha/core.py' in files, files
for f in dist.files:
    if f.hash:
        import hashlib, base64
        data = f.locate().read_bytes()
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        assert h == f.hash.value, f
print('ok')
"#;
        let o = Command::new(py)
            .arg("-c")
            .arg(script)
            .arg(&out)
            .arg(&extract)
            .arg(&root)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{layout:?}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn generated_files_compress() {
    let text = "a/b.py,sha256=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,10\n".repeat(100);
    let (method, crc, data) = compress(text.as_bytes()).unwrap();
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(data.as_slice())
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(inflated, text.as_bytes());
    assert_eq!(method, METHOD_DEFLATE);
    assert!(data.len() < text.len() / 4);
    let mut h = zip::ZipWriter::new(Cursor::new(Vec::new()));
    h.start_file("t", zip::write::SimpleFileOptions::default())
        .unwrap();
    h.write_all(text.as_bytes()).unwrap();
    let mut a = ZipArchive::new(h.finish().unwrap()).unwrap();
    assert_eq!(a.by_index(0).unwrap().crc32(), crc);
    let (m, _, d) = compress(b"x").unwrap();
    assert_eq!((m, d), (METHOD_STORED, b"x".to_vec()));
}

/// Real wheels built by real tools: the pip and setuptools wheels bundled with the local
/// Python (`ensurepip`). Assembled with `keep`, the layer must import and carry valid RECORDs.
#[test]
fn real_bundled_wheels_assemble_and_import() {
    let Some(py) = python() else {
        crate::testutil::missing_tool("no python3 on PATH");
        return;
    };
    let o = Command::new(py)
        .arg("-c")
        .arg("import ensurepip, os; print(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled'))")
        .output()
        .unwrap();
    let bundled = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
    let Ok(entries) = std::fs::read_dir(&bundled) else {
        crate::testutil::missing_tool("no ensurepip wheels in the local python");
        return;
    };
    let mut wheels = Vec::new();
    for e in entries.flatten() {
        let filename = e.file_name().to_string_lossy().into_owned();
        let Ok(w) = WheelName::parse(&filename) else {
            continue;
        };
        let bytes = std::fs::read(e.path()).unwrap();
        wheels.push((
            LockedPackage {
                name: w.name.to_string(),
                version: w.version.to_string(),
                filename,
                url: e.path().display().to_string(),
                sha256: hex::encode(Sha256::digest(&bytes)),
                size: bytes.len() as u64,
                dependencies: vec![],
                metadata_sha256: None,
                source_hash: None,
                built_from_source: false,
            },
            e.path(),
        ));
    }
    if wheels.is_empty() {
        crate::testutil::missing_tool("no ensurepip wheels in the local python");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tooling.zip");
    let mut o = opts(Layout::Python);
    o.keep = vec!["pip".into(), "setuptools".into()];
    let r = assemble(&wheels, &target(), &o, &out).unwrap();
    assert_eq!(r.packages.len(), wheels.len());
    // Without `keep`, installer tooling is left out entirely.
    let empty = assemble(&wheels, &target(), &opts(Layout::Python), &out).unwrap();
    assert!(empty.packages.is_empty());
    assert_eq!(empty.notes.len(), wheels.len());

    let r2 = assemble(&wheels, &target(), &o, &out).unwrap();
    assert_eq!(r.sha256_hex, r2.sha256_hex);
    let extract = dir.path().join("x");
    let script = r#"
import sys, zipfile, hashlib, base64, importlib.metadata as md
zip_path, extract = sys.argv[1:3]
with zipfile.ZipFile(zip_path) as z:
    assert z.testzip() is None
    z.extractall(extract)
sys.path.insert(0, extract + '/python')
import pip
assert pip.__file__.startswith(extract), pip.__file__
n = 0
for d in md.distributions(path=[extract + '/python']):
    assert d.read_text('INSTALLER') == 'pylayer\n'
    for f in d.files:
        assert f.locate().exists(), f
        if f.hash:
            data = f.locate().read_bytes()
            h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
            assert h == f.hash.value, f
            n += 1
assert n > 100, n
print(pip.__version__, n)
"#;
    let o = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(&out)
        .arg(&extract)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
