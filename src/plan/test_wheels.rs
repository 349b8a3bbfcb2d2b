//! Wheels the plan and write tests build: small, deterministic, written with the zip
//! crate's noisiest options so the tests see what a careless builder leaves behind.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::write::FullFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive};

use crate::lock::LockedPackage;
use crate::record;
use crate::target::{Arch, Target};
use crate::wheel_name::normalize_name;

pub const EXEC: u32 = 0o755;
pub const FILE: u32 = 0o644;

/// Options a careless wheel builder might use: a recent timestamp, an extended-timestamp
/// field, a private extra field and a comment — all things the layer must not carry.
pub fn noisy_options(mode: u32) -> FullFileOptions<'static, 'static> {
    let mut o = FullFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .unix_permissions(mode)
        .last_modified_time(DateTime::from_date_and_time(2023, 5, 6, 7, 8, 10).unwrap())
        .with_file_comment("built on a laptop");
    o = o
        .with_extended_timestamp(Some(1_683_356_890), None, None)
        .unwrap();
    o.add_extra_field(0x4242, [1u8, 4, 0xe8, 3, 0, 0, 4, 0xe8, 3, 0, 0], false)
        .unwrap();
    o
}

/// Writes `NAME-VERSION-py3-none-any.whl` into `dir` with the given files plus METADATA,
/// WHEEL and a RECORD of them all.
pub fn wheel(
    dir: &Path,
    name: &str,
    version: &str,
    files: &[(&str, &[u8], u32)],
) -> (LockedPackage, PathBuf) {
    let escaped = name.replace('-', "_");
    let filename = format!("{escaped}-{version}-py3-none-any.whl");
    let dist_info = format!("{escaped}-{version}.dist-info");
    let mut all: Vec<(String, Vec<u8>, u32)> = files
        .iter()
        .map(|(n, c, m)| (n.to_string(), c.to_vec(), *m))
        .collect();
    all.push((
        format!("{dist_info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes(),
        FILE,
    ));
    all.push((
        format!("{dist_info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec(),
        FILE,
    ));
    let mut record = String::new();
    for (n, c, _) in &all {
        record.push_str(&format!("{},{},{}\n", n, record::record_hash(c), c.len()));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    all.push((format!("{dist_info}/RECORD"), record.into_bytes(), FILE));

    let path = dir.join(&filename);
    let mut w = zip::ZipWriter::new(File::create(&path).unwrap());
    for (n, c, m) in &all {
        w.start_file(n.as_str(), noisy_options(*m)).unwrap();
        w.write_all(c).unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let pkg = LockedPackage {
        name: normalize_name(name),
        version: version.to_string(),
        filename,
        url: format!("file://{}", path.display()),
        sha256: hex::encode(Sha256::digest(&bytes)),
        size: bytes.len() as u64,
        dependencies: vec![],
        metadata_sha256: None,
        source_hash: None,
        built_from_source: false,
    };
    (pkg, path)
}

pub fn target() -> Target {
    Target::new(12, Arch::X86_64).unwrap()
}

/// A realistic little set: a package with .data/purelib, .data/scripts, __pycache__, an
/// INSTALLER, an executable; a second package; pip.
pub fn sample(dir: &Path) -> Vec<(LockedPackage, PathBuf)> {
    let big: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    vec![
        wheel(
            dir,
            "alpha",
            "1.0",
            &[
                ("alpha/__init__.py", b"from alpha.core import VALUE\n", FILE),
                ("alpha/core.py", b"VALUE = 42\n", FILE),
                ("alpha/big.txt", &big, FILE),
                ("alpha/tool.sh", b"#!/bin/sh\necho hi\n", EXEC),
                ("alpha/__pycache__/core.cpython-312.pyc", b"\x00junk", FILE),
                (
                    "alpha-1.0.data/purelib/alpha_extra.py",
                    b"EXTRA = 1\n",
                    FILE,
                ),
                ("alpha-1.0.data/scripts/alpha-cli", b"#!python\n", EXEC),
                ("alpha-1.0.data/scripts/alpha-gui", b"#!python\n", EXEC),
                ("alpha-1.0.dist-info/INSTALLER", b"pip\n", FILE),
            ],
        ),
        wheel(
            dir,
            "Beta_Pkg",
            "2.0",
            &[("beta_pkg/__init__.py", b"NAME = 'beta'\n", FILE)],
        ),
        wheel(dir, "pip", "24.0", &[("pip/__init__.py", b"", FILE)]),
    ]
}

pub fn names(zip_path: &Path) -> Vec<String> {
    let a = ZipArchive::new(File::open(zip_path).unwrap()).unwrap();
    a.file_names().map(|n| n.unwrap().into_owned()).collect()
}

pub fn read_entry(zip_path: &Path, name: &str) -> Vec<u8> {
    let mut a = ZipArchive::new(File::open(zip_path).unwrap()).unwrap();
    let mut f = a.by_name(name).unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

pub fn raw_bytes(zip_path: &Path, name: &str) -> (CompressionMethod, Vec<u8>) {
    let mut a = ZipArchive::new(File::open(zip_path).unwrap()).unwrap();
    let i = a.index_for_name(name).unwrap();
    let mut f = a.by_index_raw(i).unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    (f.compression(), v)
}
