//! Temporary files and trees that must not outlive an interrupted command: a registry any
//! stage can put paths in (and take them out of when it cleans up itself), and a
//! SIGINT/SIGTERM handler that removes what is registered and exits 130 with one line.
//!
//! The handler runs on its own thread with a small tokio runtime (tokio's `signal`
//! feature, which adds no crate the tree does not already have): once installed, Ctrl-C
//! no longer kills the process on the spot, so the registered paths are removed first.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

static REGISTRY: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static HANDLER: Once = Once::new();

/// A registered temporary path; dropping it unregisters the path (it does not remove it:
/// its owner does that, e.g. a `tempfile::TempDir`).
#[derive(Debug)]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut r) = REGISTRY.lock() {
            r.retain(|(id, _)| *id != self.0);
        }
    }
}

/// Registers a temporary file or directory tree to remove if the process is interrupted.
pub fn register(path: &Path) -> Registered {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut r) = REGISTRY.lock() {
        r.push((id, path.to_path_buf()));
    }
    Registered(id)
}

/// The paths registered now (for tests and diagnostics).
pub fn registered() -> Vec<PathBuf> {
    REGISTRY
        .lock()
        .map(|r| r.iter().map(|(_, p)| p.clone()).collect())
        .unwrap_or_default()
}

/// Removes every registered path (read-only trees are made writable first) and empties
/// the registry. Errors are ignored: this runs on the way out.
pub fn remove_all() {
    let paths: Vec<PathBuf> = match REGISTRY.lock() {
        Ok(mut r) => r.drain(..).map(|(_, p)| p).collect(),
        Err(_) => return,
    };
    for p in paths {
        remove_path(&p);
    }
}

/// Removes a file or a whole tree, making read-only directories writable first.
pub fn remove_path(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            make_tree_writable(p);
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// Gives the owner write access to every directory of a tree (so its entries can be
/// deleted); symbolic links are not followed.
pub fn make_tree_writable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_tree_writable(&e.path());
            }
        }
    }
}

/// Installs the SIGINT/SIGTERM handler once per process: on either signal, the registered
/// paths are removed, `pylayer: interrupted` is printed on stderr and the process exits
/// with status 130.
pub fn install_interrupt_handler() {
    HANDLER.call_once(|| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("pylayer-signals".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    let _ = ready_tx.send(());
                    return;
                };
                let caught = rt.block_on(wait_for_signal(ready_tx));
                if caught {
                    remove_all();
                    eprintln!("pylayer: interrupted; temporary files removed");
                    std::process::exit(130);
                }
            });
        if spawned.is_ok() {
            // Wait until the handlers are in place, so a signal right after this call is
            // handled rather than killing the process.
            let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(5));
        }
    });
}

#[cfg(unix)]
async fn wait_for_signal(ready: std::sync::mpsc::Sender<()>) -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        let _ = ready.send(());
        return false;
    };
    let _ = ready.send(());
    tokio::select! {
        _ = int.recv() => true,
        _ = term.recv() => true,
    }
}

#[cfg(not(unix))]
async fn wait_for_signal(ready: std::sync::mpsc::Sender<()>) -> bool {
    let _ = ready.send(());
    tokio::signal::ctrl_c().await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_trees_are_removed_even_when_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("t");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/b/f.py"), "x").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for d in ["a/b", "a", ""] {
                std::fs::set_permissions(tree.join(d), std::fs::Permissions::from_mode(0o555))
                    .unwrap();
            }
        }
        let file = dir.path().join("x.tmp");
        std::fs::write(&file, "y").unwrap();
        let kept = dir.path().join("kept");
        std::fs::write(&kept, "z").unwrap();
        let _g1 = register(&tree);
        let _g2 = register(&file);
        {
            let _dropped = register(&kept);
        }
        assert!(registered().contains(&tree));
        assert!(!registered().contains(&kept));
        remove_all();
        assert!(!tree.exists());
        assert!(!file.exists());
        assert!(kept.exists(), "an unregistered path is left alone");
        assert!(!registered().contains(&tree));
    }
}
