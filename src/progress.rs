//! Progress for logs: stages report what they are doing (events in), and an installed
//! reporter prints a summary line every few seconds while work is under way (lines out), so
//! a CI log never sits silent through a long resolution or download.
//!
//! Like a logger, the sink is process-wide: stages call [`begin`] and [`event`] without
//! threading a handle through every signature, and nothing happens until a front end calls
//! [`install`] (the CLI does when stderr is not a terminal; on a terminal it draws bars).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Work that takes a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Resolving the requirements for one target (`python3.12/x86_64`).
    Resolve(String),
    /// Downloading `files` wheels, `bytes` in all (0 when unknown).
    Download { files: usize, bytes: u64 },
}

/// Something that happened during a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A project's file list was read from an index.
    Project(String),
    /// A distribution's metadata was read.
    Metadata(String),
    /// `bytes` more bytes of the wheel `name` arrived.
    Bytes { name: String, bytes: u64 },
    /// A wheel finished downloading.
    Downloaded(String),
    /// The resolver tried its `versions`-th version of `package` (a long backtrack shows as
    /// one package with many versions tried).
    Tried { package: String, versions: usize },
}

/// Receives what the stages report.
pub trait Sink: Send + Sync {
    fn begin(&self, task: &Task);
    fn end(&self, task: &Task);
    fn event(&self, event: &Event);
}

static SINK: OnceLock<Box<dyn Sink>> = OnceLock::new();

/// Installs the process's sink; false when one was installed already.
pub fn install(sink: Box<dyn Sink>) -> bool {
    SINK.set(sink).is_ok()
}

/// Marks the start of a task; the task ends when the guard drops (also on an error path).
#[must_use = "the task ends when the guard is dropped"]
pub fn begin(task: Task) -> TaskGuard {
    if let Some(s) = SINK.get() {
        s.begin(&task);
    }
    TaskGuard { task }
}

/// Reports an event of a running task.
pub fn event(event: Event) {
    if let Some(s) = SINK.get() {
        s.event(&event);
    }
}

/// Ends its task when dropped.
pub struct TaskGuard {
    task: Task,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let Some(s) = SINK.get() {
            s.end(&self.task);
        }
    }
}

/// What a [`LineReporter`] has seen: plain counters, turned into a line by [`State::line`].
#[derive(Debug, Default, Clone)]
pub struct State {
    /// Targets being resolved.
    resolving: Vec<String>,
    projects: usize,
    metadata: usize,
    /// Downloads under way: (files, bytes) of each running download task.
    downloads: Vec<(usize, u64)>,
    files_done: usize,
    bytes_done: u64,
    /// The most recent package named by an event.
    latest: Option<String>,
    /// The package with the most versions tried by the resolver, and how many.
    most_tried: Option<(String, usize)>,
    /// When the current busy period started.
    since: Option<Instant>,
}

impl State {
    fn busy(&self) -> bool {
        !self.resolving.is_empty() || !self.downloads.is_empty()
    }

    fn begin(&mut self, task: &Task, now: Instant) {
        if !self.busy() {
            self.since = Some(now);
        }
        match task {
            Task::Resolve(t) => self.resolving.push(t.clone()),
            Task::Download { files, bytes } => {
                if self.downloads.is_empty() {
                    self.files_done = 0;
                    self.bytes_done = 0;
                    self.latest = None;
                }
                self.downloads.push((*files, *bytes));
            }
        }
    }

    fn end(&mut self, task: &Task) {
        match task {
            Task::Resolve(t) => {
                if let Some(i) = self.resolving.iter().position(|x| x == t) {
                    self.resolving.remove(i);
                }
                if self.resolving.is_empty() {
                    self.most_tried = None;
                }
            }
            Task::Download { files, bytes } => {
                if let Some(i) = self.downloads.iter().position(|d| *d == (*files, *bytes)) {
                    self.downloads.remove(i);
                }
            }
        }
        if !self.busy() {
            self.since = None;
        }
    }

    fn event(&mut self, e: &Event) {
        match e {
            Event::Project(n) => {
                self.projects += 1;
                self.latest = Some(n.clone());
            }
            Event::Metadata(n) => {
                self.metadata += 1;
                self.latest = Some(n.clone());
            }
            Event::Bytes { name, bytes } => {
                self.bytes_done += bytes;
                self.latest = Some(name.clone());
            }
            Event::Downloaded(n) => {
                self.files_done += 1;
                self.latest = Some(n.clone());
            }
            Event::Tried { package, versions } => {
                if self.most_tried.as_ref().is_none_or(|(_, n)| versions > n) {
                    self.most_tried = Some((package.clone(), *versions));
                }
            }
        }
    }

    /// The line to print now, or `None` when nothing is under way.
    pub fn line(&self, now: Instant) -> Option<String> {
        let since = self.since.filter(|_| self.busy())?;
        let secs = now.saturating_duration_since(since).as_secs();
        let latest = self
            .latest
            .as_deref()
            .map(|n| format!(", latest {n}"))
            .unwrap_or_default();
        if !self.downloads.is_empty() {
            let files: usize = self.downloads.iter().map(|d| d.0).sum();
            let bytes: u64 = self.downloads.iter().map(|d| d.1).sum();
            let of = if bytes > 0 {
                format!(" of {}", crate::format::human_bytes(bytes))
            } else {
                String::new()
            };
            return Some(format!(
                "downloading wheels: {} of {files} done, {}{of} so far{latest} ({secs}s)",
                self.files_done,
                crate::format::human_bytes(self.bytes_done),
            ));
        }
        // "412 versions of botocore tried": the sign of a long backtrack.
        let tried = match &self.most_tried {
            Some((p, n)) if *n > 1 => format!("{n} versions of {p} tried, "),
            _ => String::new(),
        };
        Some(format!(
            "resolving {}: {tried}{} project pages and {} metadata files read{latest} ({secs}s)",
            self.resolving.join(", "),
            self.projects,
            self.metadata
        ))
    }
}

/// A sink that prints [`State::line`] every `interval` while a task runs, from a thread of
/// its own, so a stalled request still produces a line.
pub struct LineReporter {
    state: Arc<Mutex<State>>,
}

impl LineReporter {
    /// Starts the reporter's timer thread; `out` receives each line.
    pub fn start(interval: Duration, out: Box<dyn Fn(&str) + Send + Sync>) -> LineReporter {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let interval = interval.max(Duration::from_millis(10));
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(interval);
                let line = {
                    let s = shared.lock().unwrap_or_else(|e| e.into_inner());
                    // A task that began less than an interval ago has nothing to say yet.
                    match s.since {
                        Some(t) if t.elapsed() >= interval => s.line(Instant::now()),
                        _ => None,
                    }
                };
                if let Some(l) = line {
                    out(&l);
                }
            }
        });
        LineReporter { state }
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s);
    }
}

impl Sink for LineReporter {
    fn begin(&self, task: &Task) {
        self.with(|s| s.begin(task, Instant::now()));
    }
    fn end(&self, task: &Task) {
        self.with(|s| s.end(task));
    }
    fn event(&self, event: &Event) {
        self.with(|s| s.event(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_tasks() {
        let t0 = Instant::now();
        let mut s = State::default();
        assert_eq!(s.line(t0), None, "idle: nothing to say");
        let r = Task::Resolve("python3.12/x86_64".into());
        s.begin(&r, t0);
        s.event(&Event::Project("numpy".into()));
        s.event(&Event::Metadata("numpy".into()));
        s.event(&Event::Project("pandas".into()));
        let l = s.line(t0 + Duration::from_secs(7)).unwrap();
        assert_eq!(
            l,
            "resolving python3.12/x86_64: 2 project pages and 1 metadata files read, latest pandas (7s)"
        );
        s.event(&Event::Tried {
            package: "botocore".into(),
            versions: 412,
        });
        s.event(&Event::Tried {
            package: "boto3".into(),
            versions: 3,
        });
        let l = s.line(t0 + Duration::from_secs(9)).unwrap();
        assert!(
            l.starts_with("resolving python3.12/x86_64: 412 versions of botocore tried, 2 project"),
            "{l}"
        );
        s.end(&r);
        assert_eq!(s.line(t0), None);

        let d = Task::Download {
            files: 2,
            bytes: 3_000_000,
        };
        s.begin(&d, t0);
        s.event(&Event::Bytes {
            name: "numpy".into(),
            bytes: 1_500_000,
        });
        s.event(&Event::Downloaded("numpy".into()));
        let l = s.line(t0 + Duration::from_secs(3)).unwrap();
        assert!(l.starts_with("downloading wheels: 1 of 2 done, "), "{l}");
        assert!(l.contains("latest numpy (3s)"), "{l}");
        s.end(&d);
        assert_eq!(s.line(t0), None);
    }
}
