//! Fuzz entry points for pylayer's untrusted-input readers, calling the library itself
//! (`pylayer` with default features off, so no AWS SDK): [`fuzz_zip`] runs the whole
//! `check` on bytes as a layer zip, [`fuzz_elf`] the binary parser and binary checks.

use std::io::Write;
use std::path::PathBuf;

use pylayer::check;
use pylayer::layer::binfile;
use pylayer::layer::inventory::{Content, Entry, EntryKind, LayerSource};
use pylayer::target::{Arch, Target};

fn targets() -> [Target; 2] {
    [
        Target {
            minor: 11,
            arch: Arch::X86_64,
        },
        Target {
            minor: 12,
            arch: Arch::Arm64,
        },
    ]
}

/// Writes `data` to a per-process scratch file and runs the whole check on it as a zip,
/// then the reader `inspect`, `diff` and `test` share.
pub fn fuzz_zip(data: &[u8]) {
    thread_local! {
        static PATH: PathBuf = std::env::temp_dir().join(format!("pylayer-fuzz-{}.zip", std::process::id()));
    }
    PATH.with(|path| {
        let Ok(mut f) = std::fs::File::create(path) else {
            return;
        };
        if f.write_all(data).is_err() {
            return;
        }
        drop(f);
        let source = LayerSource::Zip(path.clone());
        for t in targets() {
            let _ = check::check(&source, &t, &check::CheckOptions::default());
        }
        let _ = pylayer::layer::Layer::open(&source);
    });
}

/// Parses `data` as a binary and checks it as an extension module in a layer.
pub fn fuzz_elf(data: &[u8]) {
    let Some(info) = binfile::parse(data) else {
        return;
    };
    let entry = Entry {
        path: "python/pkg/_ext.cpython-312-x86_64-linux-gnu.so".to_string(),
        kind: EntryKind::File,
        size: data.len() as u64,
        compressed: data.len() as u64,
        content: Content::Binary(info),
    };
    for t in targets() {
        let _ = check::binary::check(std::slice::from_ref(&entry), &t, &|_| None);
    }
}

/// Arbitrary bytes as a METADATA file: the header reader and the index client's parser.
pub fn fuzz_metadata(data: &[u8]) {
    let h = pylayer::metadata::Headers::parse(data);
    let _ = h.get_all("requires-dist").count();
    let _ = pylayer::index::metadata::parse(data, "fuzz.whl");
}
