//! Stages that change the plan before it is written: the zip, its RECORD files and the
//! manifest must all agree with what the layer finally holds.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use zip::ZipArchive;

use super::test_wheels::*;
use super::*;
use crate::assemble::{AssembleReport, write};
use crate::manifest::{Manifest, build_manifest};
use crate::record;

fn opts() -> PlanOptions {
    PlanOptions {
        layout: Layout::Python,
        keep: vec![],
        overwrite: vec![],
    }
}

/// Every entry of the zip: path → (content, unix mode).
fn contents(zip: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    let mut a = ZipArchive::new(File::open(zip).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..a.len() {
        let mut f = a.by_index(i).unwrap();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        out.insert(f.name().unwrap().into_owned(), (v, f.unix_mode().unwrap()));
    }
    out
}

/// Builds the manifest of `report` and checks that it, the zip and every RECORD agree: each
/// RECORD row names an entry of the zip with that hash and size, each entry of the zip but
/// `unowned` is listed by exactly one RECORD (or is one), and the manifest's sizes are the
/// sums of the entries.
fn assert_consistent(zip: &Path, report: &AssembleReport, unowned: &[&str]) -> Manifest {
    let wheels_locked: Vec<_> = Vec::new();
    let m = build_manifest("t", &target(), Layout::Python, zip, &wheels_locked, report);
    let files = contents(zip);
    let total: u64 = files.values().map(|(c, _)| c.len() as u64).sum();
    assert_eq!(m.unzipped_bytes, total);
    assert_eq!(m.zip_bytes, std::fs::metadata(zip).unwrap().len());
    let mut listed: BTreeMap<String, usize> = BTreeMap::new();
    for (path, (content, _)) in &files {
        let Some(dist_info) = path.strip_suffix("/RECORD") else {
            continue;
        };
        *listed.entry(path.clone()).or_default() += 1;
        let rows = record::parse(std::str::from_utf8(content).unwrap());
        let (last, rows) = rows.split_last().unwrap();
        assert_eq!(
            last,
            &vec![
                path["python/".len()..].to_string(),
                String::new(),
                String::new()
            ]
        );
        let mut dist_bytes = content.len() as u64;
        for row in rows {
            let full = format!("python/{}", row[0]);
            let (c, _) = files
                .get(&full)
                .unwrap_or_else(|| panic!("{path} lists {full}, not in the zip"));
            assert_eq!(row[1], record::record_hash(c), "{full}");
            assert_eq!(row[2], c.len().to_string(), "{full}");
            dist_bytes += c.len() as u64;
            *listed.entry(full).or_default() += 1;
        }
        let dist_name = dist_info
            .trim_start_matches("python/")
            .split('-')
            .next()
            .unwrap();
        let pkg = m
            .packages
            .iter()
            .find(|p| normalize_name(&p.name) == normalize_name(dist_name))
            .unwrap_or_else(|| panic!("{dist_name} missing from the manifest"));
        assert_eq!(pkg.unzipped_bytes, dist_bytes, "{dist_name}");
    }
    for path in files.keys() {
        let n = listed.get(path).copied().unwrap_or(0);
        let want = usize::from(!unowned.contains(&path.as_str()));
        assert_eq!(n, want, "{path} is listed by {n} RECORD file(s)");
    }
    m
}

#[test]
fn a_stage_that_adds_files_gets_them_in_record_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(&sample(dir.path()), &target(), &opts()).unwrap();
    let alpha = plan.dists().iter().position(|d| d.name == "alpha").unwrap();
    let pyc = "python/alpha/__pycache__/core.cpython-312.pyc";
    plan.add(
        pyc.into(),
        Entry::generated(b"\x0d\x0d fake bytecode".repeat(50), Some(alpha)),
    )
    .unwrap();
    let on_disk = dir.path().join("helper.sh");
    std::fs::write(&on_disk, b"#!/bin/sh\nexit 0\n").unwrap();
    plan.add(
        "python/alpha/helper.sh".into(),
        Entry {
            source: Source::File(on_disk),
            mode: Mode::Executable,
            dist: Some(alpha),
            shared_with: vec![],
        },
    )
    .unwrap();
    plan.add(
        "python/NOTICE.txt".into(),
        Entry::generated(b"made by a test\n".to_vec(), None),
    )
    .unwrap();

    let out = dir.path().join("layer.zip");
    let report = write(plan, None, &out).unwrap();
    let m = assert_consistent(&out, &report, &["python/NOTICE.txt"]);
    let files = contents(&out);
    assert_eq!(files[pyc].0, b"\x0d\x0d fake bytecode".repeat(50));
    assert_eq!(files["python/alpha/helper.sh"].1, 0o100755);
    assert_eq!(files[pyc].1, 0o100644);
    let record = String::from_utf8(files["python/alpha-1.0.dist-info/RECORD"].0.clone()).unwrap();
    assert!(
        record.contains("alpha/__pycache__/core.cpython-312.pyc,sha256="),
        "{record}"
    );
    assert!(record.contains("alpha/helper.sh,sha256="), "{record}");
    let alpha_pkg = m.packages.iter().find(|p| p.name == "alpha").unwrap();
    assert_eq!(
        report
            .packages
            .iter()
            .find(|p| p.name == "alpha")
            .unwrap()
            .files,
        11
    );
    assert!(alpha_pkg.zipped_bytes < alpha_pkg.unzipped_bytes);
}

#[test]
fn a_stage_that_removes_or_rewrites_entries_gets_a_matching_record_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = sample(dir.path());
    let full = dir.path().join("full.zip");
    let full_report = write(plan(&wheels, &target(), &opts()).unwrap(), None, &full).unwrap();

    let mut plan = plan(&wheels, &target(), &opts()).unwrap();
    let big = plan.read("python/alpha/big.txt").unwrap().len() as u64;
    assert!(plan.remove("python/alpha/big.txt").is_some());
    plan.retain(|path, _| !path.ends_with("/tool.sh"));
    let core = plan.read("python/alpha/core.py").unwrap();
    assert_eq!(core, b"VALUE = 42\n");
    plan.get_mut("python/alpha/core.py").unwrap().source = Source::Bytes(b"VALUE = 43\n".to_vec());
    // Every entry of beta removed: beta leaves the layer and the report.
    plan.retain(|_, e| e.dist.is_none_or(|d| d != 1));

    let out = dir.path().join("slim.zip");
    let report = write(plan, None, &out).unwrap();
    let m = assert_consistent(&out, &report, &[]);
    let files = contents(&out);
    assert!(!files.contains_key("python/alpha/big.txt"));
    assert!(!files.contains_key("python/alpha/tool.sh"));
    assert_eq!(files["python/alpha/core.py"].0, b"VALUE = 43\n");
    assert!(
        files
            .keys()
            .all(|p| !p.to_ascii_lowercase().contains("beta")),
        "{:?}",
        files.keys()
    );
    assert_eq!(m.packages.len(), 1);
    assert!(full_report.unzipped_bytes - report.unzipped_bytes > big);
}

#[test]
fn add_refuses_records_duplicates_and_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(&sample(dir.path()), &target(), &opts()).unwrap();
    let err = |r: anyhow::Result<()>| format!("{:#}", r.unwrap_err());
    let e = err(plan.add(
        "python/alpha-1.0.dist-info/RECORD".into(),
        Entry::generated(vec![], Some(0)),
    ));
    assert!(e.contains("derived"), "{e}");
    let e = err(plan.add(
        "python/alpha/core.py".into(),
        Entry::generated(vec![], Some(0)),
    ));
    assert!(e.contains("already in the layer"), "{e}");
    let e = err(plan.add("python/../x.py".into(), Entry::generated(vec![], None)));
    assert!(e.contains("`..`"), "{e}");
    let e = err(plan.add("python/x.py".into(), Entry::generated(vec![], Some(99))));
    assert!(e.contains("no distribution 99"), "{e}");
}

#[test]
fn record_paths_outside_site_packages_climb_out_of_it() {
    let p = "python/lib/python3.12/site-packages/";
    assert_eq!(
        relative_to(p, "python/lib/python3.12/site-packages/a/b.py"),
        "a/b.py"
    );
    assert_eq!(relative_to(p, "python/bin/tool"), "../../../bin/tool");
    assert_eq!(relative_to("python/", "lib/libx.so"), "../lib/libx.so");
}
