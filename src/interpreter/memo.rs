//! What each interpreter answered when probed, remembered across runs.
//!
//! A warm build with bytecode needs only the interpreter's version and magic number (the
//! bytecode cache key); asking costs a process start per candidate, which on a loaded machine
//! is most of a warm build's extra time. An answer is reused only while the executable it came
//! from is the same file (path, size, modification time), and only for real executables: a
//! pyenv shim's answer depends on pyenv's settings, not on the shim's bytes, so it is asked
//! every time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Interpreter;

/// Bump when the remembered fields change meaning.
const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    /// Keyed by the canonical path of the executable.
    answers: BTreeMap<String, Answer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Answer {
    len: u64,
    mtime_ns: u128,
    version: (u8, u8),
    patch: u16,
    machine: String,
    magic: String,
}

/// The identity of an executable file: its canonical path, size and modification time.
fn stamp(path: &Path) -> Option<(PathBuf, u64, u128)> {
    let real = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((real, meta.len(), mtime))
}

/// Remembered probe answers, read from one JSON file (a missing or unreadable file is an
/// empty memo: it is only a shortcut).
#[derive(Debug)]
pub struct Memo {
    file: PathBuf,
    data: File,
    changed: bool,
}

impl Memo {
    pub fn load(file: &Path) -> Memo {
        let data = crate::fsutil::read_capped(file, 1 << 20)
            .ok()
            .and_then(|b| serde_json::from_slice::<File>(&b).ok())
            .filter(|f| f.version == VERSION)
            .unwrap_or(File {
                version: VERSION,
                answers: BTreeMap::new(),
            });
        Memo {
            file: file.to_path_buf(),
            data,
            changed: false,
        }
    }

    /// The remembered answer for `candidate`, when its executable is unchanged.
    pub fn get(&self, candidate: &Path) -> Option<Interpreter> {
        let (real, len, mtime_ns) = stamp(candidate)?;
        let a = self.data.answers.get(real.to_str()?)?;
        if a.len != len || a.mtime_ns != mtime_ns {
            return None;
        }
        Some(Interpreter {
            python: real,
            qemu: None,
            sysroot: None,
            version: a.version,
            patch: a.patch,
            machine: a.machine.clone(),
            magic: a.magic.clone(),
        })
    }

    /// Remembers `it` as the answer of `candidate` when the candidate is the executable that
    /// answered (not a shim or launcher that started another one).
    pub fn put(&mut self, candidate: &Path, it: &Interpreter) {
        if it.qemu.is_some() {
            return;
        }
        let (Some((real, len, mtime_ns)), Ok(answered)) =
            (stamp(candidate), std::fs::canonicalize(&it.python))
        else {
            return;
        };
        if real != answered {
            return;
        }
        let Some(key) = real.to_str() else {
            return;
        };
        let answer = Answer {
            len,
            mtime_ns,
            version: it.version,
            patch: it.patch,
            machine: it.machine.clone(),
            magic: it.magic.clone(),
        };
        if self.data.answers.get(key) != Some(&answer) {
            self.data.answers.insert(key.to_string(), answer);
            self.changed = true;
        }
    }

    /// Writes the memo back when something was added (failures are ignored: the next run
    /// asks again).
    pub fn save(&self) {
        if !self.changed {
            return;
        }
        if let Ok(bytes) = serde_json::to_vec_pretty(&self.data) {
            if let Some(dir) = self.file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = crate::fsutil::write_atomic(&self.file, &bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(python: &Path) -> Interpreter {
        Interpreter {
            python: python.to_path_buf(),
            qemu: None,
            sysroot: None,
            version: (3, 12),
            patch: 4,
            machine: "x86_64".into(),
            magic: "cb0d0d0a".into(),
        }
    }

    #[test]
    fn an_answer_is_reused_until_the_executable_changes() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("python3.12");
        std::fs::write(&exe, b"one").unwrap();
        let memo_file = dir.path().join("cache/interpreters.json");
        let mut memo = Memo::load(&memo_file);
        assert!(memo.get(&exe).is_none());
        memo.put(&exe, &it(&exe));
        memo.save();
        let memo = Memo::load(&memo_file);
        let got = memo.get(&exe).expect("remembered");
        assert_eq!((got.version, got.patch), ((3, 12), 4));
        // Another interpreter installed under the same path: asked again.
        std::fs::write(&exe, b"a longer file").unwrap();
        assert!(memo.get(&exe).is_none());
    }

    #[test]
    fn a_shim_answer_naming_another_executable_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("shim");
        let real = dir.path().join("real");
        std::fs::write(&shim, b"#!/bin/sh").unwrap();
        std::fs::write(&real, b"elf").unwrap();
        let mut memo = Memo::load(&dir.path().join("m.json"));
        memo.put(&shim, &it(&real));
        assert!(memo.get(&shim).is_none());
        assert!(!memo.changed);
    }
}
