//! pylayer's `check` module compiled on its own for fuzzing: the modules it needs are
//! included from ../src by path, and `manifest::human_bytes` (the only thing `check` uses
//! from the manifest) is restated here, so the fuzz build does not pull in the network
//! stack. Entry points: [`fuzz_zip`] and [`fuzz_elf`].

#![allow(dead_code, unused_imports, clippy::all)]

#[path = "../../src/check/mod.rs"]
pub mod check;
#[path = "../../src/domain.rs"]
pub mod domain;
#[path = "../../src/record.rs"]
pub mod record;
#[path = "../../src/target.rs"]
pub mod target;
#[path = "../../src/wheel_name.rs"]
pub mod wheel_name;

pub mod manifest {
    /// Same contract as pylayer's `manifest::human_bytes` (only used in messages).
    pub fn human_bytes(n: u64) -> String {
        format!("{n} B")
    }
}

use std::io::Write;
use std::path::PathBuf;

use check::source::{Content, Entry, EntryKind};
use target::{Arch, Target};

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

/// Writes `data` to a per-process scratch file and runs the whole check on it as a zip.
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
        let source = check::LayerSource::Zip(path.clone());
        for t in targets() {
            let _ = check::check(&source, &t, &check::CheckOptions::default());
        }
    });
}

/// Parses `data` as a binary and checks it as an extension module in a layer.
pub fn fuzz_elf(data: &[u8]) {
    let Some(info) = check::binary::parse(data) else {
        return;
    };
    let entry = Entry {
        path: "python/pkg/_ext.cpython-312-x86_64-linux-gnu.so".to_string(),
        kind: EntryKind::File,
        size: data.len() as u64,
        content: Content::Binary(info),
    };
    for t in targets() {
        let _ = check::binary::check(std::slice::from_ref(&entry), &t, &|_| None);
    }
}
