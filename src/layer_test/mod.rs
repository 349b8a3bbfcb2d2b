//! `pylayer test`: import every top-level module of a layer (or a function's handler module,
//! `--entry`), each in a fresh isolated Python process, before the layer is uploaded; and
//! measure what each import costs at a cold start on Lambda.
//!
//! What Lambda does, reproduced: the layer is unpacked into a temporary directory made
//! read-only (Lambda mounts layers read-only under /opt, so CPython can write no
//! `__pycache__` there); Python runs with `-I -S -B -X importtime` in a new process per
//! module: isolated from the user's environment, without the machine's site-packages (only
//! the standard library and the layer, so a dependency missing from the layer cannot be
//! found on the machine instead), writing no bytecode. The function's code directory
//! (`--entry`) goes first on `sys.path`, as /var/task does, then the layer's import roots;
//! the layer's `lib/` goes on `LD_LIBRARY_PATH`, as Lambda does with /opt/lib.
//!
//! Each import also counts the layer's modules that came from bytecode and those compiled
//! from source during it: a layer without valid `.pyc` (none at all, or pip's timestamp
//! `.pyc` in a zip dated 1980) compiles every module it imports at each cold start. The
//! counts come from the interpreter itself: the script wraps importlib's two code paths
//! (`_compile_bytecode` for a `.pyc`, `SourceLoader.source_to_code` for a `.py`) before
//! importing, which costs a function call per module and changes nothing else.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use zip::ZipArchive;

use crate::cleanup;
use crate::domain::MAX_UNZIPPED_BYTES;
use crate::interpreter::{Interpreter, run_with_timeout};
use crate::layer::{Layer, LayerSource};

pub mod entry;
pub mod slimmed;
pub mod triage;

/// A layer unpacked into a read-only temporary directory, made writable again and removed
/// when dropped — or by the interrupt handler ([`crate::cleanup`]) on Ctrl-C.
pub struct Unpacked {
    dir: tempfile::TempDir,
    _registered: cleanup::Registered,
}

impl Unpacked {
    /// Takes over a directory registered for removal on Ctrl-C.
    pub fn from_dir(dir: tempfile::TempDir, registered: cleanup::Registered) -> Unpacked {
        Unpacked {
            dir,
            _registered: registered,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        cleanup::make_tree_writable(self.dir.path());
    }
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}
#[cfg(not(unix))]
fn set_mode(_p: &Path, _mode: u32) {}

/// Makes a tree read-only, as Lambda mounts /opt (executables keep their x bits).
pub fn set_tree_readonly(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => set_tree_readonly(&e.path()),
                Ok(t) if t.is_file() => {
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        let exec = e
                            .metadata()
                            .is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
                        set_mode(&e.path(), if exec { 0o555 } else { 0o444 });
                    }
                }
                _ => {}
            }
        }
    }
    set_mode(dir, 0o555);
}

/// Unpacks a layer zip into a read-only temporary directory.
///
/// The zip is first read by the shared layer reader and refused when it is hostile or
/// damaged (overlapping entries, bombs, lying sizes, paths that climb out — the checks
/// `pylayer check` reports), so nothing is written for such a zip. While unpacking, no
/// entry may grow past its verified size and the whole tree is capped at Lambda's own
/// limit for everything unzipped (262,144,000 bytes), in case the file changes under us.
/// Symbolic links are not created (Lambda's unzip does not either in a useful way); they
/// are returned as notes.
pub fn unpack(zip_path: &Path) -> Result<(Unpacked, Vec<String>)> {
    let source = LayerSource::Zip(zip_path.to_path_buf());
    let inv = crate::layer::read::read(&source)
        .with_context(|| format!("cannot read {}", zip_path.display()))?;
    if let Some(why) = crate::layer::hostile(zip_path, &inv.findings) {
        bail!(why);
    }
    let total: u64 = inv.entries.iter().map(|e| e.size).sum();
    if total > MAX_UNZIPPED_BYTES {
        bail!(
            "{} unzips to {} bytes, more than Lambda's limit of {} for a function and all its layers: it cannot be deployed, so it is not unpacked",
            zip_path.display(),
            crate::format::thousands(total),
            crate::format::thousands(MAX_UNZIPPED_BYTES)
        );
    }
    unpack_checked(zip_path, MAX_UNZIPPED_BYTES)
}

/// Unpacks a zip already judged safe, writing at most `cap` bytes in all.
fn unpack_checked(zip_path: &Path, cap: u64) -> Result<(Unpacked, Vec<String>)> {
    let file =
        File::open(zip_path).with_context(|| format!("cannot open {}", zip_path.display()))?;
    let mut zip = ZipArchive::new(BufReader::new(file))
        .with_context(|| format!("{} is not a readable zip file", zip_path.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("pylayer-test-")
        .tempdir()
        .context("cannot create a temporary directory to unpack the layer in")?;
    let registered = cleanup::register(dir.path());
    let unpacked = Unpacked {
        dir,
        _registered: registered,
    };
    let mut notes = Vec::new();
    let mut written: u64 = 0;
    for i in 0..zip.len() {
        let e = zip
            .by_index(i)
            .with_context(|| format!("{}: cannot read entry {i}", zip_path.display()))?;
        let name = crate::format::shorten(&e.name().unwrap_or_default());
        let Some(rel) = e.enclosed_name() else {
            bail!(
                "{}: entry `{name}` would be unpacked outside the layer directory; a layer zip must hold relative paths only",
                zip_path.display()
            );
        };
        let dest = unpacked.path().join(rel);
        if e.is_dir() {
            std::fs::create_dir_all(&dest)
                .with_context(|| format!("cannot create {}", dest.display()))?;
            continue;
        }
        if e.is_symlink() {
            notes.push(format!("left out symbolic link `{name}`"));
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let declared = e.size();
        let exec = e.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut out =
            File::create(&dest).with_context(|| format!("cannot create {}", dest.display()))?;
        let room = cap.saturating_sub(written);
        let n = std::io::copy(&mut Read::take(e, declared.min(room) + 1), &mut out)
            .with_context(|| format!("{}: cannot unpack `{name}`", zip_path.display()))?;
        written += n;
        if n > declared || written > cap {
            bail!(
                "{}: `{name}` unpacks to more than it declares or past Lambda's {}-byte limit (the zip changed while it was read, or is hostile); unpacking stopped",
                zip_path.display(),
                crate::format::thousands(cap)
            );
        }
        out.flush()?;
        if exec {
            set_mode(&dest, 0o755);
        }
    }
    set_tree_readonly(unpacked.path());
    Ok((unpacked, notes))
}

/// A module to import and the distribution that provides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleToTest {
    pub module: String,
    /// `None` when no distribution claims it (or it was named with `--import`).
    pub distribution: Option<String>,
}

fn is_test_name(m: &str) -> bool {
    matches!(m, "test" | "tests" | "testing" | "conftest") || m.starts_with("test_")
}

/// The top-level modules the layer's distributions provide (from `top_level.txt` or
/// `RECORD`), plus importable top-level packages and modules no distribution claims.
/// Test packages and private (`_x`) modules are left out unless `include_private`.
pub fn top_level_modules(layer: &Layer, include_private: bool) -> Vec<ModuleToTest> {
    let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
    for d in &layer.dists {
        for t in &d.top_level {
            let top = t.split('.').next().unwrap_or(t);
            found.entry(top.to_string()).or_insert(Some(d.name.clone()));
        }
    }
    // Top-level code no distribution claims.
    for f in layer.files.iter().filter(|f| f.dist.is_none()) {
        let rel = layer.relative(f);
        if rel.len() == f.path.len() {
            continue; // not under an import root
        }
        let module = top_level_module(rel);
        if let Some(m) = module
            && !m.is_empty()
            && m.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !m.starts_with(|c: char| c.is_ascii_digit())
        {
            found.entry(m.to_string()).or_insert(None);
        }
    }
    found
        .into_iter()
        .filter(|(m, _)| include_private || (!m.starts_with('_') && !is_test_name(m)))
        .filter(|(m, _)| triage::has_code(layer, m))
        .map(|(module, distribution)| ModuleToTest {
            module,
            distribution,
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Failed,
    TimedOut,
    /// Failed only for want of a module the Lambda runtime itself provides (boto3, six…).
    NeedsRuntime,
    /// Failed for want of a module the layer's distributions need only for an extra, or
    /// never declared (see [`triage`]): not the layer's fault unless the function imports it.
    Warning,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED OUT",
            Status::NeedsRuntime => "needs runtime",
            Status::Warning => "warning",
        }
    }
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::TimedOut)
    }
}

/// A nested import and its cumulative time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubImport {
    pub module: String,
    pub micros: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportResult {
    pub module: String,
    pub distribution: Option<String>,
    pub status: Status,
    /// Cumulative import time from `-X importtime`, microseconds.
    pub import_micros: u64,
    /// Wall-clock time of the whole process (start-up included), milliseconds.
    pub process_millis: u64,
    /// The slowest imports made while importing the module, slowest first.
    pub slowest: Vec<SubImport>,
    /// Where the module was imported from.
    pub origin: Option<String>,
    /// The exception's last lines, for failures.
    pub error: Option<String>,
    /// The layer's modules loaded from a `.pyc` during the import.
    pub from_bytecode: usize,
    /// The layer's modules compiled from source during the import: what bytecode in the
    /// layer would save at each cold start (0 for a layer with full bytecode).
    pub compiled_from_source: usize,
    /// The function code's modules (`--entry`) compiled from source: /var/task is
    /// read-only too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_compiled_from_source: Option<usize>,
    /// Every file of the layer whose code was loaded, as a path in the layer
    /// (`python/pkg/mod.py`, or the `.pyc` for a module without source), in load order.
    #[serde(skip)]
    pub loaded: Vec<Loaded>,
}

/// One module's code, as the import system loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Path in the layer, `/`-separated.
    pub path: String,
    /// From a `.pyc` (true) or compiled from its source (false).
    pub from_bytecode: bool,
}

/// Parses `-X importtime` lines: `import time: SELF | CUMULATIVE | <indent>NAME`.
/// Returns (top-level cumulative total, the nested imports one level down, slowest first).
pub fn parse_importtime(stderr: &str, module: &str) -> (u64, Vec<SubImport>) {
    let mut total = 0;
    let mut nested: Vec<SubImport> = Vec::new();
    // Only what follows the marker: the interpreter's own start-up imports come before it.
    let after = match stderr.find("pylayer-import-start\n") {
        Some(i) => &stderr[i..],
        None => stderr,
    };
    for line in after.lines() {
        let Some(rest) = line.strip_prefix("import time:") else {
            continue;
        };
        let cols: Vec<&str> = rest.splitn(3, '|').collect();
        if cols.len() != 3 {
            continue;
        }
        let Ok(cumulative) = cols[1].trim().parse::<u64>() else {
            continue; // the header line
        };
        let name_col = cols[2].strip_prefix(' ').unwrap_or(cols[2]);
        let indent = name_col.len() - name_col.trim_start().len();
        let name = name_col.trim();
        if indent == 0 {
            total += cumulative;
        } else if indent <= 2 && name != module {
            nested.push(SubImport {
                module: name.to_string(),
                micros: cumulative,
            });
        }
    }
    nested.sort_by(|a, b| b.micros.cmp(&a.micros).then(a.module.cmp(&b.module)));
    nested.truncate(3);
    (total, nested)
}

/// The error lines worth showing: the last few lines of the traceback.
fn last_lines(stderr: &str, n: usize) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            !l.starts_with("import time:") && !l.starts_with("pylayer-") && !l.trim().is_empty()
        })
        .collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

fn missing_runtime_module(stderr: &str) -> Option<String> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("ModuleNotFoundError: No module named '"))?;
    let name = line
        .trim_start_matches("ModuleNotFoundError: No module named '")
        .trim_end_matches('\'');
    let top = name.split('.').next()?;
    crate::domain::runtime_provided_module(top).map(|r| r.module.to_string())
}

/// Imports `argv[1]` with `argv[2:]` first on `sys.path`; prints where it came from and
/// every module whose code was loaded (`b` from a `.pyc`, `s` compiled from source).
/// `_frozen_importlib_external` is the module `importlib._bootstrap_external` names, already
/// loaded at start-up: wrapping it imports nothing.
const SCRIPT: &str = r#"import sys
import _frozen_importlib_external as _bx
sys.path[0:0] = sys.argv[2:]
name = sys.argv[1]
_loads = []
_from_pyc = _bx._compile_bytecode
def _pyc(data, name=None, bytecode_path=None, source_path=None):
    _loads.append("b " + str(source_path or bytecode_path))
    return _from_pyc(data, name, bytecode_path, source_path)
_bx._compile_bytecode = _pyc
_from_source = _bx.SourceLoader.source_to_code
def _source(self, data, path, *args, **kwargs):
    _loads.append("s " + str(path))
    return _from_source(self, data, path, *args, **kwargs)
_bx.SourceLoader.source_to_code = _source
def _report():
    for l in _loads:
        print("pylayer-load:", l.replace("\n", " "))
    sys.stdout.flush()
sys.stderr.write("pylayer-import-start\n")
sys.stderr.flush()
try:
    __import__(name)
except BaseException:
    import traceback
    traceback.print_exc()
    _report()
    sys.exit(3)
_report()
m = sys.modules[name]
print("pylayer-origin:", getattr(m, "__file__", None) or ",".join(getattr(m, "__path__", None) or []))
"#;

/// What `run_imports` needs to know.
pub struct RunOptions<'a> {
    pub interpreter: &'a Interpreter,
    /// Import roots, absolute paths on this machine (as the interpreter sees them): the
    /// function's code directory first when there is one, then the layer's.
    pub paths: Vec<PathBuf>,
    /// The function's code directory (`--entry`), to count its modules apart.
    pub code_dir: Option<PathBuf>,
    /// The layer's `lib/`, when it has one.
    pub lib_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub jobs: usize,
    /// The unpacked layer's directory, to tell layer modules from the machine's.
    pub layer_dir: PathBuf,
}

fn import_one(m: &ModuleToTest, opts: &RunOptions) -> ImportResult {
    let mut env = Vec::new();
    if let Some(lib) = &opts.lib_dir {
        env.push(("LD_LIBRARY_PATH".to_string(), lib.display().to_string()));
    }
    let mut cmd = opts.interpreter.command(&env);
    cmd.args(["-I", "-S", "-B", "-X", "importtime", "-c", SCRIPT])
        .arg(&m.module)
        .args(&opts.paths);
    let mut r = ImportResult {
        module: m.module.clone(),
        distribution: m.distribution.clone(),
        status: Status::Failed,
        import_micros: 0,
        process_millis: 0,
        slowest: Vec::new(),
        origin: None,
        error: None,
        from_bytecode: 0,
        compiled_from_source: 0,
        code_compiled_from_source: None,
        loaded: Vec::new(),
    };
    let out = match run_with_timeout(cmd, opts.timeout) {
        Ok(o) => o,
        Err(e) => {
            r.error = Some(format!("cannot start {}: {e}", opts.interpreter.describe()));
            return r;
        }
    };
    r.process_millis = out.elapsed.as_millis() as u64;
    let (total, slowest) = parse_importtime(&out.stderr, &m.module);
    r.import_micros = total;
    r.slowest = slowest;
    count_loads(&mut r, &out.stdout, opts);
    r.origin = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("pylayer-origin: "))
        .map(str::to_string);
    if out.timed_out {
        r.status = Status::TimedOut;
        r.error = Some(format!(
            "did not finish within {} s (--timeout)",
            opts.timeout.as_secs()
        ));
    } else if out.code == Some(0) {
        r.status = Status::Ok;
        let from_code = |o: &str| {
            opts.code_dir
                .as_ref()
                .is_some_and(|d| o.contains(&*d.to_string_lossy()))
        };
        if let Some(o) = &r.origin
            && !o.is_empty()
            && !o.contains(&*opts.layer_dir.to_string_lossy())
            && !from_code(o)
        {
            r.error = Some(format!(
                "imported from {o}, not from the layer (the standard library has a module of that name)"
            ));
        }
    } else if let Some(rt) = missing_runtime_module(&out.stderr) {
        r.status = Status::NeedsRuntime;
        r.error = Some(format!(
            "needs `{rt}`, which the layer leaves out and the Lambda runtime provides\n{}",
            last_lines(&out.stderr, 1)
        ));
    } else {
        r.error = Some(match out.code {
            Some(_) => last_lines(&out.stderr, 4),
            None => format!(
                "the interpreter was killed by a signal (a crash in a compiled module?)\n{}",
                last_lines(&out.stderr, 4)
            ),
        });
    }
    r
}

/// Reads the script's `pylayer-load:` lines: the layer's files by path in the layer, and how
/// many of the function code's modules compiled from source.
fn count_loads(r: &mut ImportResult, stdout: &str, opts: &RunOptions) {
    let mut code = 0;
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("pylayer-load: ") else {
            continue;
        };
        let (kind, path) = rest.split_at(rest.len().min(2));
        let from_bytecode = kind == "b ";
        let path = Path::new(path);
        if let Ok(rel) = path.strip_prefix(&opts.layer_dir) {
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if from_bytecode {
                r.from_bytecode += 1;
            } else {
                r.compiled_from_source += 1;
            }
            r.loaded.push(Loaded {
                path: rel.join("/"),
                from_bytecode,
            });
        } else if let Some(dir) = &opts.code_dir
            && path.starts_with(dir)
            && !from_bytecode
        {
            code += 1;
        }
    }
    if opts.code_dir.is_some() {
        r.code_compiled_from_source = Some(code);
    }
}

/// Imports each module in its own process, `opts.jobs` at a time; results sorted by import
/// time, slowest first (failures first of all).
pub fn run_imports(modules: &[ModuleToTest], opts: &RunOptions) -> Vec<ImportResult> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(modules.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(m) = modules.get(i) else { break };
                    let r = import_one(m, opts);
                    results.lock().expect("results lock").push(r);
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by(|a, b| {
        b.status
            .is_failure()
            .cmp(&a.status.is_failure())
            .then(b.import_micros.cmp(&a.import_micros))
            .then(a.module.cmp(&b.module))
    });
    results
}

/// The top-level module a file under an import root defines, if any: `pkg/__init__.py` is
/// `pkg`, `mod.py` is `mod`, `mod.cpython-312-x86_64-linux-gnu.so` is `mod`. Shared by `test`
/// and the `imported` bytecode mode, so both import the same modules.
pub fn top_level_module(rel: &str) -> Option<&str> {
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        [pkg, "__init__.py"] => Some(*pkg),
        [file] if file.ends_with(".py") => file.strip_suffix(".py"),
        [file] if file.ends_with(".so") => file.split('.').next(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_importtime() {
        let stderr = "import time:       900 |        900 | encodings\npylayer-import-start\n\
import time: self [us] | cumulative | imported package\n\
import time:       100 |        100 |   _io\n\
import time:        50 |        50 |     numpy.version\n\
import time:       300 |        900 |   numpy._core\n\
import time:       200 |       1500 | numpy\n\
import time:        10 |         10 | numpy.extra\n\
Traceback (most recent call last):\n";
        let (total, nested) = parse_importtime(stderr, "numpy");
        assert_eq!(total, 1510);
        assert_eq!(nested[0].module, "numpy._core");
        assert_eq!(nested[1].module, "_io");
        assert_eq!(nested.len(), 2);
    }

    #[test]
    fn runtime_modules_are_recognised() {
        let e = "Traceback\nModuleNotFoundError: No module named 'botocore.session'\n";
        assert_eq!(missing_runtime_module(e).as_deref(), Some("botocore"));
        assert_eq!(
            missing_runtime_module("ModuleNotFoundError: No module named 'numpy'"),
            None
        );
        assert_eq!(last_lines("a\nimport time: x\nb\n\nc\n", 2), "b\nc");
    }
}
