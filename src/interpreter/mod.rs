//! Finding a CPython of a layer's minor version on this machine, for the stages that run
//! Python: `pylayer test` imports the layer with it (on the layer's architecture — natively, or
//! under `qemu-user` when the interpreter is an ELF executable for another machine, an aarch64
//! python3.11 from a Debian arm64 sysroot on an x86_64 host, say), and bytecode compilation
//! compiles the layer's sources with it (the magic number differs per minor, so never another
//! minor).
//!
//! Where to look, in order: the path given on the command line; `python3.X` on PATH; pyenv's
//! versions (`$PYENV_ROOT` or `~/.pyenv`); uv's managed interpreters (`$UV_PYTHON_INSTALL_DIR`,
//! else `$XDG_DATA_HOME/uv/python` or `~/.local/share/uv/python`); the `py -3.X` launcher on
//! Windows. Every candidate is run once to ask its version, machine and magic number:
//! `python3.12` on PATH may be a pyenv shim that fails when that version is not selected. Of
//! those that answer with the right minor, the newest patch release wins (the first found on
//! a tie).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::target::Arch;

mod memo;

/// How to start the interpreter: the program, and the arguments that go before Python's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    pub python: PathBuf,
    /// `qemu-aarch64` (or `-static`) when the interpreter runs under emulation.
    pub qemu: Option<PathBuf>,
    /// The `-L` prefix given to qemu: where the guest's dynamic loader and libraries live.
    pub sysroot: Option<PathBuf>,
    /// `3.11`, as the interpreter reported it.
    pub version: (u8, u8),
    /// The patch release (`7` of 3.11.7).
    pub patch: u16,
    /// `platform.machine()` as the interpreter reported it (`x86_64`, `aarch64`).
    pub machine: String,
    /// `importlib.util.MAGIC_NUMBER` in hex (`cb0d0d0a` for 3.12): the first bytes of every
    /// `.pyc` it writes, and the only ones it loads.
    pub magic: String,
}

impl Interpreter {
    /// A command running this interpreter, with `guest_env` set in the guest only (passed to
    /// qemu with `-E` so the host's qemu is not affected).
    pub fn command(&self, guest_env: &[(String, String)]) -> Command {
        match &self.qemu {
            Some(q) => {
                let mut c = Command::new(q);
                if let Some(s) = &self.sysroot {
                    c.arg("-L").arg(s);
                }
                for (k, v) in guest_env {
                    c.arg("-E").arg(format!("{k}={v}"));
                }
                c.arg(&self.python);
                c
            }
            None => {
                let mut c = Command::new(&self.python);
                for (k, v) in guest_env {
                    c.env(k, v);
                }
                c
            }
        }
    }

    /// `3.11.7`.
    pub fn full_version(&self) -> String {
        format!("{}.{}.{}", self.version.0, self.version.1, self.patch)
    }

    pub fn describe(&self) -> String {
        let mut s = format!(
            "Python {} ({}) {}",
            self.full_version(),
            self.machine,
            self.python.display()
        );
        if let Some(q) = &self.qemu {
            s.push_str(&format!(" under {}", q.display()));
            if let Some(r) = &self.sysroot {
                s.push_str(&format!(" -L {}", r.display()));
            }
        }
        s
    }
}

/// The machine this process runs on, as Lambda names architectures.
pub fn host_arch() -> Option<Arch> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Arch::X86_64),
        "aarch64" => Some(Arch::Arm64),
        _ => None,
    }
}

/// The ELF machine of an executable file, `None` when it is not an ELF file (a script, a
/// pyenv shim) or the machine is neither x86_64 nor aarch64.
pub fn elf_machine(path: &Path) -> Option<Arch> {
    let mut head = [0u8; 20];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    if &head[..4] != b"\x7fELF" {
        return None;
    }
    let m = if head[5] == 2 {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    match m {
        62 => Some(Arch::X86_64),
        183 => Some(Arch::Arm64),
        _ => None,
    }
}

/// Output of a finished child, or why it did not finish.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

/// Runs `cmd` with null stdin and captured output, killing it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> std::io::Result<Finished> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if started.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    Ok(Finished {
        code: status.code(),
        stdout: String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned(),
        elapsed,
        timed_out,
    })
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// The qemu user-mode emulator for `arch`, from PATH.
pub fn find_qemu(arch: Arch) -> Option<PathBuf> {
    let m = arch.machine();
    which(&format!("qemu-{m}")).or_else(|| which(&format!("qemu-{m}-static")))
}

/// The sysroot an emulated interpreter lives in: `SYSROOT/usr/bin/python3.11` or
/// `SYSROOT/bin/python3.11` with the guest's dynamic loader under `SYSROOT/lib`.
pub fn guess_sysroot(python: &Path, arch: Arch) -> Option<PathBuf> {
    let loader = match arch {
        Arch::Arm64 => "ld-linux-aarch64.so.1",
        Arch::X86_64 => "ld-linux-x86-64.so.2",
    };
    let has_loader = |root: &Path| {
        ["lib", "usr/lib", "lib64", "usr/lib64"]
            .iter()
            .any(|l| root.join(l).join(loader).exists())
    };
    let mut candidates = vec![python.to_path_buf()];
    if let Ok(c) = python.canonicalize() {
        candidates.push(c);
    }
    for p in candidates {
        let bin = p.parent()?;
        if bin.file_name().is_some_and(|n| n == "bin") {
            let up = bin.parent()?;
            let root = if up.file_name().is_some_and(|n| n == "usr") {
                up.parent()?
            } else {
                up
            };
            if has_loader(root) {
                return Some(root.to_path_buf());
            }
        }
    }
    None
}

const PROBE: &str = "import sys, platform, importlib.util; print(sys.implementation.name, '%d.%d.%d' % tuple(sys.version_info[:3]), platform.machine(), importlib.util.MAGIC_NUMBER.hex(), sys.executable)";

/// Runs a candidate (`cmd` starts it; Python's arguments follow) and asks its version,
/// machine and magic number. Refuses other implementations than CPython: Lambda runs
/// CPython, and PyPy's bytecode and extension modules differ.
fn probe_with(mut cmd: Command, mut it: Interpreter) -> Result<Interpreter, String> {
    cmd.args(["-I", "-S", "-c", PROBE]);
    let out = run_with_timeout(cmd, Duration::from_secs(60))
        .map_err(|e| format!("cannot run it: {e}"))?;
    if out.timed_out {
        return Err("did not answer within 60 s".into());
    }
    if out.code != Some(0) {
        let last = out
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .trim()
            .to_string();
        return Err(format!("exits with {:?}: {last}", out.code));
    }
    let line = out.stdout.trim();
    let mut parts = line.splitn(5, ' ');
    let (Some(implementation), Some(ver), Some(machine), Some(magic)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("unexpected answer {line:?}"));
    };
    let executable = parts.next().unwrap_or("").trim();
    let mut nums = ver.split('.').map(|n| n.parse::<u16>().ok());
    let (Some(Some(maj)), Some(Some(min)), Some(Some(patch))) =
        (nums.next(), nums.next(), nums.next())
    else {
        return Err(format!("unexpected version {ver:?}"));
    };
    let (Ok(maj), Ok(min)) = (u8::try_from(maj), u8::try_from(min)) else {
        return Err(format!("unexpected version {ver:?}"));
    };
    if implementation != "cpython" {
        return Err(format!(
            "is {implementation} {ver}, not CPython (Lambda runs CPython)"
        ));
    }
    it.version = (maj, min);
    it.patch = patch;
    it.machine = machine.to_string();
    it.magic = magic.to_string();
    // A pyenv shim or the py launcher reports the real executable; name that one (not
    // under emulation, where the path is the guest's and already the real one).
    if it.qemu.is_none() && !executable.is_empty() && Path::new(executable).is_file() {
        it.python = PathBuf::from(executable);
    }
    Ok(it)
}

fn unprobed(python: &Path, qemu: Option<&Path>, sysroot: Option<&Path>) -> Interpreter {
    Interpreter {
        python: python.to_path_buf(),
        qemu: qemu.map(Path::to_path_buf),
        sysroot: sysroot.map(Path::to_path_buf),
        version: (0, 0),
        patch: 0,
        machine: String::new(),
        magic: String::new(),
    }
}

/// Runs a candidate and asks its version and machine.
fn probe(
    python: &Path,
    qemu: Option<&Path>,
    sysroot: Option<&Path>,
) -> Result<Interpreter, String> {
    let it = unprobed(python, qemu, sysroot);
    probe_with(it.command(&[]), it)
}

/// Why no interpreter could be used: the message for an exit-2 error.
#[derive(Debug)]
pub struct NotFound(pub String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotFound {}

/// What the interpreter is for, so that messages name the right flag and reason.
#[derive(Debug, Clone, Copy)]
pub struct Purpose {
    /// The flag that names an interpreter explicitly.
    pub flag: &'static str,
    /// Completes "no python3.X found …".
    pub what: &'static str,
}

impl Purpose {
    /// `pylayer test`: imports the layer.
    pub const TEST: Purpose = Purpose {
        flag: "--interpreter",
        what: "to import the layer with",
    };
    /// Bytecode compilation during `pylayer build`.
    pub const BYTECODE: Purpose = Purpose {
        flag: "--python-interpreter",
        what: "to compile the layer's bytecode with",
    };
    /// Building a pure-Python wheel from a source distribution (any 3.x will do).
    pub const SOURCE_BUILD: Purpose = Purpose {
        flag: "--python-interpreter",
        what: "to build source distributions with",
    };
}

/// Probes an interpreter given by path, of whatever version it is (a source build takes any
/// Python 3).
pub fn probe_any(python: &Path) -> Result<Interpreter, String> {
    probe(python, None, None)
}

/// Whether an interpreter reporting `platform.machine()` = `machine` runs `arch` code.
pub fn machine_matches(machine: &str, arch: Arch) -> bool {
    machine == arch.machine() || (arch == Arch::Arm64 && machine == "arm64")
}

/// Checks an interpreter given on the command line (and optional `--sysroot`), running it
/// under qemu when it is an ELF executable for another machine than this one.
pub fn explicit(
    python: &Path,
    sysroot: Option<&Path>,
    minor: u8,
    arch: Option<Arch>,
    purpose: Purpose,
) -> Result<Interpreter, NotFound> {
    let flag = purpose.flag;
    if !python.exists() {
        return Err(NotFound(format!(
            "{flag} {}: no such file",
            python.display()
        )));
    }
    let host = host_arch();
    let elf = elf_machine(python);
    let (qemu, sysroot) = match elf {
        Some(m) if Some(m) != host => {
            let q = find_qemu(m).ok_or_else(|| {
                NotFound(format!(
                    "{} is an {} executable and this machine is {}: install qemu-user (Debian/Ubuntu: `apt-get install qemu-user`) so that qemu-{} is on PATH",
                    python.display(),
                    m.machine(),
                    std::env::consts::ARCH,
                    m.machine()
                ))
            })?;
            let root = sysroot
                .map(Path::to_path_buf)
                .or_else(|| guess_sysroot(python, m));
            if root.is_none() && std::env::var_os("QEMU_LD_PREFIX").is_none() {
                return Err(NotFound(format!(
                    "{} runs under {} but its libraries are not found: give --sysroot DIR (the directory holding lib/{} and usr/lib), or set QEMU_LD_PREFIX",
                    python.display(),
                    q.display(),
                    if m == Arch::Arm64 {
                        "ld-linux-aarch64.so.1"
                    } else {
                        "ld-linux-x86-64.so.2"
                    }
                )));
            }
            (Some(q), root)
        }
        _ => (None, None),
    };
    let it = probe(python, qemu.as_deref(), sysroot.as_deref())
        .map_err(|e| NotFound(format!("{flag} {}: {e}", python.display())))?;
    if it.version != (3, minor) {
        return Err(NotFound(format!(
            "{flag} {} is Python {}, the layer is for python3.{minor}: give a python3.{minor}",
            python.display(),
            it.full_version()
        )));
    }
    if let Some(a) = arch
        && !machine_matches(&it.machine, a)
    {
        return Err(NotFound(format!(
            "{flag} {} runs on {}, the layer's compiled modules are for {}: give a python3.{minor} for {} (on another machine, under qemu-user: see docs/test-inspect.md)",
            python.display(),
            it.machine,
            a.machine(),
            a.machine()
        )));
    }
    Ok(it)
}

/// Where discovery looks, read from the environment once (tests build their own).
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    /// The directories of PATH, in order.
    pub path: Vec<PathBuf>,
    /// pyenv's root (`$PYENV_ROOT`, else `~/.pyenv`); interpreters are in `versions/*/bin`.
    pub pyenv_root: Option<PathBuf>,
    /// uv's managed interpreters (`uv python dir`).
    pub uv_python_dir: Option<PathBuf>,
    /// Whether to ask the `py` launcher (Windows).
    pub py_launcher: bool,
    /// A file remembering each executable's answer (see `memo`); None asks every time.
    pub memo: Option<PathBuf>,
}

impl SearchPaths {
    /// The places this machine's environment names.
    pub fn from_env() -> SearchPaths {
        let non_empty = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = dirs::home_dir();
        let uv_python_dir = non_empty("UV_PYTHON_INSTALL_DIR").or_else(|| {
            if cfg!(windows) {
                non_empty("APPDATA").map(|a| a.join("uv").join("data").join("python"))
            } else {
                non_empty("XDG_DATA_HOME")
                    .or_else(|| home.as_ref().map(|h| h.join(".local").join("share")))
                    .map(|d| d.join("uv").join("python"))
            }
        });
        SearchPaths {
            path: std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default(),
            pyenv_root: non_empty("PYENV_ROOT").or_else(|| home.map(|h| h.join(".pyenv"))),
            uv_python_dir,
            py_launcher: cfg!(windows),
            memo: None,
        }
    }
}

/// A place an interpreter may be, in search order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Candidate {
    File(PathBuf),
    /// `py -3.X` (Windows).
    PyLauncher(u8),
}

/// Directory entries of `dir` as (name, path), sorted by name.
fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `3.12.1` from a pyenv version name or a uv directory name (`cpython-3.12.1-linux-…`);
/// `None` for other implementations and free-threaded builds.
fn version_in_name(name: &str) -> Option<(u8, u8, u16)> {
    let rest = name.strip_prefix("cpython-").unwrap_or(name);
    if rest.contains("freethreaded") {
        return None;
    }
    let ver = rest.split(['-', '+']).next()?;
    let mut it = ver.split('.');
    let maj = it.next()?.parse().ok()?;
    let min = it.next()?.parse().ok()?;
    let patch = it
        .next()
        .map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    Some((maj, min, patch))
}

/// Managed installs under `dir` (pyenv's `versions/` or uv's python dir) of Python 3.`minor`,
/// newest first: (version, the `python3.X` in it).
fn managed(dir: &Path, minor: Option<u8>) -> Vec<((u8, u8, u16), PathBuf)> {
    let mut out: Vec<((u8, u8, u16), PathBuf)> = entries(dir)
        .into_iter()
        .filter_map(|(name, path)| {
            let v = version_in_name(&name)?;
            if v.0 != 3 || minor.is_some_and(|m| m != v.1) {
                return None;
            }
            let bin = if cfg!(windows) && !path.join("bin").is_dir() {
                path.join("python.exe")
            } else {
                path.join("bin").join(format!("python3.{}", v.1))
            };
            Some((v, bin))
        })
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    out
}

/// Candidates for `python3.X`, in search order, without duplicates.
fn candidates(minor: u8, search: &SearchPaths) -> Vec<Candidate> {
    let name = format!("python3.{minor}");
    let mut files: Vec<PathBuf> = Vec::new();
    for d in &search.path {
        let p = d.join(&name);
        if is_executable(&p) {
            files.push(p);
        }
    }
    if let Some(root) = &search.pyenv_root {
        files.extend(
            managed(&root.join("versions"), Some(minor))
                .into_iter()
                .map(|(_, p)| p),
        );
    }
    if let Some(dir) = &search.uv_python_dir {
        files.extend(managed(dir, Some(minor)).into_iter().map(|(_, p)| p));
    }
    files.retain(|p| is_executable(p));
    // A real interpreter before a pyenv shim (a shell script that may refuse to run), and no
    // shim at all when a real one is found: a shim only starts one of pyenv's versions,
    // listed above already, and running it costs a dozen shell processes (over a second on
    // a busy machine, at every build with bytecode).
    let is_shim = |p: &PathBuf| p.components().any(|c| c.as_os_str() == "shims");
    files.sort_by_key(is_shim);
    if files.iter().any(|p| !is_shim(p)) {
        files.retain(|p| !is_shim(p));
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    let mut out: Vec<Candidate> = files.into_iter().map(Candidate::File).collect();
    if search.py_launcher {
        out.push(Candidate::PyLauncher(minor));
    }
    out
}

/// Every Python 3 this machine seems to have, by name only (nothing is run): for the message
/// that says which versions were found when the wanted one was not.
fn versions_seen(search: &SearchPaths) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !seen.contains(&s) {
            seen.push(s);
        }
    };
    for d in &search.path {
        for (name, path) in entries(d) {
            if let Some(m) = name.strip_prefix("python3.")
                && !m.is_empty()
                && m.bytes().all(|b| b.is_ascii_digit())
                && is_executable(&path)
            {
                add(format!("3.{m} ({})", path.display()));
            }
        }
    }
    if let Some(root) = &search.pyenv_root {
        for ((a, b, c), _) in managed(&root.join("versions"), None) {
            add(format!("{a}.{b}.{c} (pyenv)"));
        }
    }
    if let Some(dir) = &search.uv_python_dir {
        for ((a, b, c), _) in managed(dir, None) {
            add(format!("{a}.{b}.{c} (uv)"));
        }
    }
    seen
}

/// Finds a `python3.X` on this machine that runs and reports that version (and, when
/// `arch` is given, that machine), looking where the environment says.
pub fn discover(minor: u8, arch: Option<Arch>, purpose: Purpose) -> Result<Interpreter, NotFound> {
    discover_in(minor, arch, purpose, &SearchPaths::from_env())
}

/// [`discover`] in the given places.
pub fn discover_in(
    minor: u8,
    arch: Option<Arch>,
    purpose: Purpose,
    search: &SearchPaths,
) -> Result<Interpreter, NotFound> {
    let host = host_arch();
    let flag = purpose.flag;
    if let Some(a) = arch
        && Some(a) != host
    {
        return Err(NotFound(format!(
            "the layer's compiled modules are for {} and this machine is {}: pylayer cannot find an {} python3.{minor} by itself. Install qemu-user and an {} python3.{minor}, then pass {flag} PATH (for example on Debian 12: download the arm64 python3.11 packages with `apt-get download` and unpack them with `dpkg -x` into a sysroot, then `{flag} SYSROOT/usr/bin/python3.11`; docs/test-inspect.md has the steps)",
            a.machine(),
            std::env::consts::ARCH,
            a.machine(),
            a.machine()
        )));
    }
    let cands = candidates(minor, search);
    let mut memo = search.memo.as_deref().map(memo::Memo::load);
    let remembered: Vec<Option<Interpreter>> = cands
        .iter()
        .map(|c| match (c, &memo) {
            (Candidate::File(p), Some(m)) => m.get(p),
            _ => None,
        })
        .collect();
    // Every candidate not remembered is asked in parallel: each answer costs a process start.
    let answers: Vec<Result<Interpreter, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = cands
            .iter()
            .zip(&remembered)
            .map(|(c, known)| {
                s.spawn(move || match (c, known) {
                    (_, Some(k)) => Ok(k.clone()),
                    (Candidate::File(p), None) => probe(p, None, None),
                    (Candidate::PyLauncher(m), None) => {
                        let mut cmd = Command::new("py");
                        cmd.arg(format!("-3.{m}"));
                        probe_with(cmd, unprobed(Path::new("py"), None, None))
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the probe thread panicked".into()))
            })
            .collect()
    });
    if let Some(m) = memo.as_mut() {
        for (c, answer) in cands.iter().zip(&answers) {
            if let (Candidate::File(p), Ok(it)) = (c, answer) {
                m.put(p, it);
            }
        }
        m.save();
    }
    let mut best: Option<Interpreter> = None;
    let mut tried = Vec::new();
    for (c, answer) in cands.iter().zip(answers) {
        let label = match c {
            Candidate::File(p) => p.display().to_string(),
            Candidate::PyLauncher(m) => format!("py -3.{m}"),
        };
        match answer {
            Ok(it) if it.version == (3, minor) => {
                if best.as_ref().is_none_or(|b| it.patch > b.patch) {
                    best = Some(it);
                }
            }
            Ok(it) => tried.push(format!("{label} is Python {}", it.full_version())),
            Err(e) => tried.push(format!("{label} {e}")),
        }
    }
    if let Some(it) = best {
        return Ok(it);
    }
    let mut msg = format!(
        "no python3.{minor} found {} (the layer is for the python3.{minor} runtime, and bytecode and imports need that minor version)",
        purpose.what
    );
    if tried.is_empty() {
        msg.push_str("; none on PATH, under pyenv's versions or uv's managed Pythons");
    } else {
        msg.push_str(":\n");
        for t in &tried {
            msg.push_str(&format!("  - {t}\n"));
        }
    }
    let seen = versions_seen(search);
    if seen.is_empty() {
        msg.push_str("\nNo other Python 3 was found either.");
    } else {
        msg.push_str(&format!("\nPythons found: {}.", seen.join(", ")));
    }
    msg.push_str(&format!(
        "\nInstall CPython 3.{minor} (`uv python install 3.{minor}`, `pyenv install 3.{minor}`, or your distribution's python3.{minor} package) so that python3.{minor} is on PATH, or pass {flag} PATH"
    ));
    Err(NotFound(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_machine_of_own_executable() {
        let me = std::env::current_exe().unwrap();
        assert_eq!(elf_machine(&me), host_arch());
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("python3.11");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        assert_eq!(elf_machine(&script), None);
    }

    #[test]
    fn guesses_sysroot_from_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::write(root.join("usr/bin/python3.11"), "").unwrap();
        assert_eq!(
            guess_sysroot(&root.join("usr/bin/python3.11"), Arch::Arm64),
            None
        );
        std::fs::write(root.join("lib/ld-linux-aarch64.so.1"), "").unwrap();
        assert_eq!(
            guess_sysroot(&root.join("usr/bin/python3.11"), Arch::Arm64).as_deref(),
            Some(root)
        );
    }

    #[test]
    fn a_failing_shim_is_rejected_with_its_message() {
        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("python3.12");
        std::fs::write(
            &shim,
            "#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
            let err = explicit(&shim, None, 12, None, Purpose::TEST)
                .unwrap_err()
                .0;
            assert!(err.contains("command not found"), "{err}");
            assert!(err.contains("127"), "{err}");
        }
    }

    #[test]
    fn versions_in_managed_names() {
        assert_eq!(version_in_name("3.12.1"), Some((3, 12, 1)));
        assert_eq!(
            version_in_name("cpython-3.13.2-linux-x86_64-gnu"),
            Some((3, 13, 2))
        );
        assert_eq!(version_in_name("3.14.0rc2"), Some((3, 14, 0)));
        assert_eq!(
            version_in_name("cpython-3.13.2+freethreaded-linux-x86_64-gnu"),
            None
        );
        assert_eq!(version_in_name("miniconda3-latest"), None);
    }

    /// A fake interpreter: a script answering the probe as CPython `version` would.
    #[cfg(unix)]
    fn fake_python(path: &Path, answer: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("#!/bin/sh\necho '{answer}'\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_remembered_answer_is_used_until_the_executable_changes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let python = d.join("bin/python3.12");
        fake_python(&python, "cpython 3.12.9 x86_64 cb0d0d0a");
        let search = SearchPaths {
            path: vec![d.join("bin")],
            memo: Some(d.join("cache/interpreters.json")),
            ..SearchPaths::default()
        };
        let first = discover_in(12, None, Purpose::BYTECODE, &search).unwrap();
        assert_eq!(first.full_version(), "3.12.9");
        // Same size and modification time, other answer: the remembered one is used, so the
        // file was not run again.
        let mtime = std::fs::metadata(&python).unwrap().modified().unwrap();
        fake_python(&python, "cpython 3.12.8 x86_64 cb0d0d0a");
        let f = std::fs::File::options().write(true).open(&python).unwrap();
        f.set_modified(mtime).unwrap();
        drop(f);
        let again = discover_in(12, None, Purpose::BYTECODE, &search).unwrap();
        assert_eq!(again.full_version(), "3.12.9");
        // A newer file (an upgrade in place) is asked again.
        let f = std::fs::File::options().write(true).open(&python).unwrap();
        f.set_modified(mtime + std::time::Duration::from_secs(5))
            .unwrap();
        drop(f);
        let upgraded = discover_in(12, None, Purpose::BYTECODE, &search).unwrap();
        assert_eq!(upgraded.full_version(), "3.12.8");
    }

    #[cfg(unix)]
    #[test]
    fn a_pyenv_shim_is_only_a_last_resort() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let shim = d.join("pyenv/shims/python3.12");
        fake_python(&shim, "cpython 3.12.1 x86_64 cb0d0d0a");
        let search = SearchPaths {
            path: vec![d.join("pyenv/shims")],
            pyenv_root: Some(d.join("pyenv")),
            uv_python_dir: None,
            py_launcher: false,
            memo: None,
        };
        assert_eq!(candidates(12, &search), vec![Candidate::File(shim.clone())]);
        let real = d.join("pyenv/versions/3.12.1/bin/python3.12");
        fake_python(&real, "cpython 3.12.1 x86_64 cb0d0d0a");
        assert_eq!(candidates(12, &search), vec![Candidate::File(real)]);
    }

    #[cfg(unix)]
    #[test]
    fn newest_patch_of_the_minor_wins_and_other_minors_never() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let on_path = d.join("bin/python3.12");
        fake_python(&on_path, "cpython 3.12.3 x86_64 cb0d0d0a");
        let pyenv_old = d.join("pyenv/versions/3.12.1/bin/python3.12");
        fake_python(&pyenv_old, "cpython 3.12.1 x86_64 cb0d0d0a");
        let uv_new = d.join("uv/cpython-3.12.9-linux-x86_64-gnu/bin/python3.12");
        fake_python(&uv_new, "cpython 3.12.9 x86_64 cb0d0d0a");
        // Lies about its minor: must not be taken, whatever its patch.
        fake_python(
            &d.join("pyenv/versions/3.12.20/bin/python3.12"),
            "cpython 3.11.20 x86_64 a70d0d0a",
        );
        let search = SearchPaths {
            path: vec![d.join("bin")],
            pyenv_root: Some(d.join("pyenv")),
            uv_python_dir: Some(d.join("uv")),
            py_launcher: false,
            memo: None,
        };
        let it = discover_in(12, None, Purpose::BYTECODE, &search).unwrap();
        assert_eq!(it.python, uv_new);
        assert_eq!(it.full_version(), "3.12.9");
        assert_eq!(it.magic, "cb0d0d0a");

        // Only the liar left: nothing of the minor.
        std::fs::remove_file(&on_path).unwrap();
        std::fs::remove_file(&pyenv_old).unwrap();
        std::fs::remove_file(&uv_new).unwrap();
        let err = discover_in(12, None, Purpose::BYTECODE, &search)
            .unwrap_err()
            .0;
        assert!(err.contains("is Python 3.11.20"), "{err}");
        assert!(err.contains("uv python install 3.12"), "{err}");
        assert!(err.contains("--python-interpreter PATH"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn not_found_names_the_versions_there_are() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fake_python(&d.join("bin/python3.11"), "cpython 3.11.2 x86_64 a70d0d0a");
        std::fs::create_dir_all(d.join("pyenv/versions/3.9.18")).unwrap();
        std::fs::create_dir_all(d.join("uv/cpython-3.13.1-linux-x86_64-gnu")).unwrap();
        let search = SearchPaths {
            path: vec![d.join("bin")],
            pyenv_root: Some(d.join("pyenv")),
            uv_python_dir: Some(d.join("uv")),
            py_launcher: false,
            memo: None,
        };
        let err = discover_in(12, None, Purpose::BYTECODE, &search)
            .unwrap_err()
            .0;
        assert!(
            err.starts_with("no python3.12 found to compile the layer's bytecode with"),
            "{err}"
        );
        assert!(err.contains("3.11 ("), "{err}");
        assert!(err.contains("3.9.18 (pyenv)"), "{err}");
        assert!(err.contains("3.13.1 (uv)"), "{err}");
        assert!(err.contains("uv python install 3.12"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn other_implementations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("python3.12");
        fake_python(&p, "pypy 3.12.0 x86_64 cb0d0d0a");
        let err = explicit(&p, None, 12, None, Purpose::BYTECODE)
            .unwrap_err()
            .0;
        assert!(err.contains("not CPython"), "{err}");
        assert!(err.starts_with("--python-interpreter "), "{err}");
    }
}
