//! Cache writes that do not hold up the answer they store.
//!
//! A cold resolution stores a few hundred index pages and METADATA files. Each store
//! creates a file, and on ext4 that takes the directory's lock and scans for a free inode:
//! milliseconds each when many run at once. Awaiting them put that time on the path from
//! one answer to the next request. Here a write is handed to tokio's blocking pool and the
//! caller goes on at once; [`wait`] blocks until every write started so far has finished,
//! and runs before a stage reads the cache by path (pinning and fetching after a fresh
//! resolution) and before the process exits. A cache write is best effort: one that fails,
//! or one the runtime drops unstarted at shutdown, only means that answer is fetched again
//! next time.

use std::sync::{Condvar, Mutex};

static PENDING: Mutex<usize> = Mutex::new(0);
static FINISHED: Condvar = Condvar::new();

/// Counts one write from the moment it is handed over until its job ran or was dropped
/// (a runtime shutting down may drop a blocking job that has not started).
struct Pending;

impl Pending {
    fn start() -> Pending {
        *PENDING.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Pending
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut n = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        if *n == 0 {
            FINISHED.notify_all();
        }
    }
}

/// Runs `job` on the runtime's blocking pool without waiting for it; outside a runtime it
/// runs right here.
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    let pending = Pending::start();
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(move || {
                let _pending = pending;
                job();
            });
        }
        Err(_) => {
            let _pending = pending;
            job();
        }
    }
}

/// Blocks until every write handed to [`spawn`] so far has finished. Blocking pool
/// threads do the writes, so this may be called from any thread, the runtime's included.
pub fn wait() {
    let mut n = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    while *n > 0 {
        n = FINISHED.wait(n).unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn wait_returns_after_every_spawned_write_ran() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            for _ in 0..20 {
                let done = done.clone();
                spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        wait();
        assert_eq!(done.load(Ordering::SeqCst), 20);
    }

    #[test]
    fn outside_a_runtime_the_write_runs_at_once() {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        spawn(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        wait();
    }
}
