//! Finding a Python interpreter that can run a layer's code: the right CPython minor, on the
//! layer's architecture — natively, or under `qemu-user` when the interpreter is an ELF
//! executable for another machine (an aarch64 python3.11 from a Debian arm64 sysroot on an
//! x86_64 host, say).
//!
//! Every candidate is run once to ask its version and machine: `python3.12` on PATH may be a
//! pyenv shim that fails when that version is not selected.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::target::Arch;

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
    /// `platform.machine()` as the interpreter reported it (`x86_64`, `aarch64`).
    pub machine: String,
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

    pub fn describe(&self) -> String {
        let mut s = format!(
            "Python {}.{} ({}) {}",
            self.version.0,
            self.version.1,
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

const PROBE: &str = "import sys, platform; print('%d.%d %s' % (sys.version_info[0], sys.version_info[1], platform.machine()))";

/// Runs a candidate and asks its version and machine.
fn probe(
    python: &Path,
    qemu: Option<&Path>,
    sysroot: Option<&Path>,
) -> Result<Interpreter, String> {
    let mut it = Interpreter {
        python: python.to_path_buf(),
        qemu: qemu.map(Path::to_path_buf),
        sysroot: sysroot.map(Path::to_path_buf),
        version: (0, 0),
        machine: String::new(),
    };
    let mut cmd = it.command(&[]);
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
    let (ver, machine) = line
        .split_once(' ')
        .ok_or_else(|| format!("unexpected answer {line:?}"))?;
    let (maj, min) = ver
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| format!("unexpected version {ver:?}"))?;
    it.version = (maj, min);
    it.machine = machine.to_string();
    Ok(it)
}

/// Why no interpreter could be used: the message for an exit-2 error.
#[derive(Debug)]
pub struct NotFound(pub String);

fn machine_matches(machine: &str, arch: Arch) -> bool {
    machine == arch.machine() || (arch == Arch::Arm64 && machine == "arm64")
}

/// Checks an interpreter given with `--interpreter` (and optional `--sysroot`), running it
/// under qemu when it is an ELF executable for another machine than this one.
pub fn explicit(
    python: &Path,
    sysroot: Option<&Path>,
    minor: u8,
    arch: Option<Arch>,
) -> Result<Interpreter, NotFound> {
    if !python.exists() {
        return Err(NotFound(format!(
            "--interpreter {}: no such file",
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
        .map_err(|e| NotFound(format!("--interpreter {}: {e}", python.display())))?;
    if it.version != (3, minor) {
        return Err(NotFound(format!(
            "--interpreter {} is Python {}.{}, the layer is for python3.{minor}: give a python3.{minor}",
            python.display(),
            it.version.0,
            it.version.1
        )));
    }
    if let Some(a) = arch
        && !machine_matches(&it.machine, a)
    {
        return Err(NotFound(format!(
            "--interpreter {} runs on {}, the layer's compiled modules are for {}: give a python3.{minor} for {} (on another machine, under qemu-user: see docs/test-inspect.md)",
            python.display(),
            it.machine,
            a.machine(),
            a.machine()
        )));
    }
    Ok(it)
}

/// Candidate paths for `python3.X`: every match on PATH, then pyenv's versions directory.
fn candidates(minor: u8) -> Vec<PathBuf> {
    let name = format!("python3.{minor}");
    let mut out: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let p = d.join(&name);
            if is_executable(&p) {
                out.push(p);
            }
        }
    }
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".pyenv")));
    if let Some(root) = pyenv_root
        && let Ok(rd) = std::fs::read_dir(root.join("versions"))
    {
        let mut versions: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        versions.sort();
        for v in versions.into_iter().rev() {
            let p = v.join("bin").join(&name);
            if is_executable(&p) {
                out.push(p);
            }
        }
    }
    // A real interpreter before a pyenv shim (a shell script that may refuse to run).
    out.sort_by_key(|p| p.components().any(|c| c.as_os_str() == "shims"));
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    out
}

/// Finds a `python3.X` on this machine that runs and reports that version (and, when
/// `arch` is given, that machine).
pub fn discover(minor: u8, arch: Option<Arch>) -> Result<Interpreter, NotFound> {
    let host = host_arch();
    if let Some(a) = arch
        && Some(a) != host
    {
        return Err(NotFound(format!(
            "the layer's compiled modules are for {} and this machine is {}: pylayer cannot find an {} python3.{minor} by itself. Install qemu-user and an {} python3.{minor}, then pass --interpreter PATH (for example on Debian 12: download the arm64 python3.11 packages with `apt-get download` and unpack them with `dpkg -x` into a sysroot, then `--interpreter SYSROOT/usr/bin/python3.11`; docs/test-inspect.md has the steps)",
            a.machine(),
            std::env::consts::ARCH,
            a.machine(),
            a.machine()
        )));
    }
    let mut tried = Vec::new();
    for c in candidates(minor) {
        match probe(&c, None, None) {
            Ok(it) if it.version == (3, minor) => return Ok(it),
            Ok(it) => tried.push(format!(
                "{} is Python {}.{}",
                c.display(),
                it.version.0,
                it.version.1
            )),
            Err(e) => tried.push(format!("{} {e}", c.display())),
        }
    }
    let mut msg = format!(
        "no python3.{minor} found to import the layer with (it is for the python3.{minor} runtime)"
    );
    if tried.is_empty() {
        msg.push_str("; none on PATH or under ~/.pyenv/versions");
    } else {
        msg.push_str(":\n");
        for t in &tried {
            msg.push_str(&format!("  - {t}\n"));
        }
    }
    msg.push_str(&format!(
        "\nInstall CPython 3.{minor} (e.g. `uv python install 3.{minor}`, `pyenv install 3.{minor}`, or your distribution's python3.{minor} package) and put python3.{minor} on PATH, or pass --interpreter PATH"
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
            let err = explicit(&shim, None, 12, None).unwrap_err().0;
            assert!(err.contains("command not found"), "{err}");
            assert!(err.contains("127"), "{err}");
        }
    }
}
