//! Running CPython on a batch of sources: one process per batch (a process start costs tens
//! of milliseconds, a small module compiles in well under one), sources fed over stdin and
//! `.pyc` bytes read back over stdout, so nothing is written to disk and no build path can
//! leak into the output.
//!
//! The process runs with `-s -S -B`, an empty environment and `PYTHONHASHSEED=0`. Not `-I`:
//! `-I` implies `-E`, which ignores `PYTHONHASHSEED`, and on Python 3.9 and 3.10 marshal
//! writes a frozenset constant (`x in {'a', 'b'}`) in hash order, so a randomized seed gives
//! different bytes run to run (checked with pyenv's 3.9.18 and 3.10.13; 3.11+ are stable).
//! The empty environment gives the isolation `-I` would (no `PYTHONPATH`, no user site).

use std::io::{BufReader, BufWriter, Read, Write};
use std::process::Stdio;

use anyhow::{Context, bail};

use crate::interpreter::Interpreter;

/// The embedded driver; see its header for the protocol.
const DRIVER: &str = include_str!("driver.py");

/// Largest `.pyc` or error text accepted back from the driver (a `.pyc` is rarely more than
/// a few times its source; generated modules reach tens of megabytes).
const MAX_REPLY_BYTES: u32 = 1 << 30;

/// What compiling one file gave.
pub type Compiled = Result<Vec<u8>, String>;

/// Compiles `files` (the path Lambda will see, which becomes `co_filename`; the source) in
/// one interpreter process, returning one result per file in the same order.
pub fn compile_batch(
    interp: &Interpreter,
    files: &[(String, &[u8])],
) -> anyhow::Result<Vec<Compiled>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut cmd = interp.command(&[]);
    cmd.env_clear();
    for keep in ["SYSTEMROOT", "QEMU_LD_PREFIX"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("PYTHONHASHSEED", "0")
        .args(["-s", "-S", "-B", "-c", DRIVER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The working directory is on sys.path with -c: an empty one imports nothing by accident.
    let cwd = tempfile::tempdir().context("cannot create a temporary directory")?;
    cmd.current_dir(cwd.path());
    let who = interp.describe();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {who} to compile bytecode"))?;
    let stdin = child
        .stdin
        .take()
        .context("stdin of the bytecode compiler")?;
    let stdout = child
        .stdout
        .take()
        .context("stdout of the bytecode compiler")?;
    let mut stderr = child
        .stderr
        .take()
        .context("stderr of the bytecode compiler")?;

    let (read, write_err, err_text) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> std::io::Result<()> {
            let mut w = BufWriter::with_capacity(256 << 10, stdin);
            w.write_all(&len_u32(files.len())?.to_le_bytes())?;
            for (path, source) in files {
                w.write_all(&len_u32(path.len())?.to_le_bytes())?;
                w.write_all(path.as_bytes())?;
                w.write_all(&len_u32(source.len())?.to_le_bytes())?;
                w.write_all(source)?;
            }
            w.flush()
        });
        let err_reader = s.spawn(move || {
            let mut v = Vec::new();
            let _ = stderr.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        });
        let read = read_replies(stdout, files.len());
        let write_err = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writer thread panicked")));
        let err_text = err_reader.join().unwrap_or_default();
        (read, write_err, err_text)
    });
    let status = child.wait().with_context(|| format!("waiting for {who}"))?;
    let tail = || {
        let lines: Vec<&str> = err_text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    };
    match read {
        Ok(results) if status.success() => Ok(results),
        Ok(_) => bail!(
            "{who} compiled every file but exited with {status}:\n{}",
            tail()
        ),
        Err(e) => {
            let why = write_err
                .err()
                .map(|w| format!(" (writing its input: {w})"))
                .unwrap_or_default();
            bail!(
                "{who} stopped while compiling bytecode ({status}){why}: {e}\n{}",
                tail()
            )
        }
    }
}

fn len_u32(n: usize) -> std::io::Result<u32> {
    u32::try_from(n).map_err(|_| std::io::Error::other(format!("{n} bytes is too large to send")))
}

/// Reads `count` framed replies from the driver.
fn read_replies(stdout: impl Read, count: usize) -> anyhow::Result<Vec<Compiled>> {
    let mut r = BufReader::with_capacity(256 << 10, stdout);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let mut head = [0u8; 5];
        r.read_exact(&mut head)
            .with_context(|| format!("its output ended after {i} of {count} files"))?;
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        if len > MAX_REPLY_BYTES {
            bail!("it announced a reply of {len} bytes");
        }
        let mut data = vec![0u8; len as usize];
        r.read_exact(&mut data)
            .with_context(|| format!("its output ended inside file {} of {count}", i + 1))?;
        out.push(match head[0] {
            0 => Ok(data),
            1 => Err(String::from_utf8_lossy(&data).into_owned()),
            other => bail!("unexpected status byte {other}"),
        });
    }
    Ok(out)
}
