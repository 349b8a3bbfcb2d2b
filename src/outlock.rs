//! Outputs that come in pairs (a layer zip and its manifest) are written under a lock on
//! the output path, so two builds into one out-dir at once never leave a manifest that
//! describes another run's zip; and temporaries that a killed run left behind are swept
//! by the next one.
//!
//! Temporary outputs carry the writer's process id in their name
//! (`.pylayer-<pid>-….tmp`, see [`temp_prefix`]): a sweep removes only those whose process
//! is gone, never a live build's.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Held while a zip and its manifest are written; dropping it releases the lock.
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
    path: PathBuf,
}

impl OutputLock {
    /// Waits for the exclusive lock on `out` (a lock file beside it, `.NAME.lock`), creating
    /// the directory when needed, and sweeps stale temporaries of dead runs there.
    pub fn acquire(out: &Path) -> anyhow::Result<OutputLock> {
        let dir = parent_dir(out);
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let path = dir.join(format!(".{name}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        sweep_stale(dir);
        Ok(OutputLock { _file: file, path })
    }

    /// The lock file (left in place: removing it while another process waits on it would
    /// let a third take a different lock).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn parent_dir(out: &Path) -> &Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The prefix of this process's temporary outputs: `.pylayer-<pid>-`.
pub fn temp_prefix() -> String {
    format!(".pylayer-{}-", std::process::id())
}

/// Removes `.pylayer-<pid>-*.tmp` files in `dir` whose process no longer runs. Where it
/// cannot tell (no /proc), it removes only those older than a day.
pub fn sweep_stale(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = stale_candidate_pid(&name) else {
            continue;
        };
        let dead = match process_alive(pid) {
            Some(alive) => !alive,
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 24 * 3600),
        };
        if dead && std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// The process id in a temporary output's name (`.pylayer-<pid>-XXXX.zip.tmp`), if the
/// name is one.
fn stale_candidate_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(".pylayer-")?;
    if !name.ends_with(".tmp") {
        return None;
    }
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok()
}

/// Whether process `pid` runs; `None` where this cannot be told.
fn process_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_only_temporaries_of_dead_processes() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join(format!("{}abc.zip.tmp", temp_prefix()));
        // Process ids are below 2^22 on Linux: this one cannot run.
        let dead = dir.path().join(".pylayer-4294967-abc.zip.tmp");
        let other = dir.path().join("layer.zip");
        let not_tmp = dir.path().join(".pylayer-4294967-abc.zip");
        for p in [&ours, &dead, &other, &not_tmp] {
            std::fs::write(p, b"x").unwrap();
        }
        let removed = sweep_stale(dir.path());
        if cfg!(target_os = "linux") {
            assert_eq!(removed, vec![dead.clone()]);
            assert!(!dead.exists());
        }
        assert!(ours.exists() && other.exists() && not_tmp.exists());
    }

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub/x.zip");
        let first = OutputLock::acquire(&out).unwrap();
        let lock_path = first.path().to_path_buf();
        let other = File::options().write(true).open(&lock_path).unwrap();
        assert!(
            other.try_lock().is_err(),
            "a second lock must not be granted"
        );
        drop(first);
        assert!(other.try_lock().is_ok());
    }
}
