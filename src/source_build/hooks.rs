//! Calling a PEP 517 backend's hooks in a subprocess of a local CPython, isolated from the
//! caller's environment: `-I` (no user site, no `PYTHON*` variables, no cwd on sys.path) and
//! `-S` (no site-packages of that interpreter), so only the standard library, the backend
//! path and the build environment are importable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::interpreter::{Interpreter, run_with_timeout};

/// The hook runner, written into a temp dir for each call.
const HOOK_PY: &str = include_str!("hook.py");

/// A backend gets this long per hook: a pure-Python wheel builds in seconds; a build stuck on
/// the network or a prompt is ended.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(600);

/// How many lines of the backend's output an error keeps.
pub const LOG_TAIL_LINES: usize = 40;

/// One hook call.
pub struct Hook<'a> {
    pub interpreter: &'a Interpreter,
    pub backend: &'a str,
    pub backend_path: &'a [PathBuf],
    /// The build environment (unpacked build requirements).
    pub env: &'a Path,
    /// The source tree: the hook's working directory.
    pub tree: &'a Path,
    /// A scratch directory for the runner's files.
    pub scratch: &'a Path,
    pub source_date_epoch: u64,
}

/// Why a hook failed: its combined output, and whether it timed out.
#[derive(Debug)]
pub struct HookFailure {
    pub output: String,
    pub timed_out: bool,
}

impl Hook<'_> {
    /// `get_requires_for_build_wheel`: more requirements the backend wants (PEP 517).
    pub fn requires_for_build_wheel(&self) -> Result<Vec<String>, HookFailure> {
        let v = self.call("get_requires_for_build_wheel", None)?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `build_wheel` into `wheel_dir`: the basename of the wheel it wrote.
    pub fn build_wheel(&self, wheel_dir: &Path) -> Result<String, HookFailure> {
        let v = self.call("build_wheel", Some(wheel_dir))?;
        v.as_str().map(str::to_string).ok_or_else(|| HookFailure {
            output: format!("build_wheel returned {v} instead of a file name"),
            timed_out: false,
        })
    }

    fn call(&self, hook: &str, wheel_dir: Option<&Path>) -> Result<serde_json::Value, HookFailure> {
        let fail = |output: String| HookFailure {
            output,
            timed_out: false,
        };
        let runner = self.scratch.join("pylayer_hook.py");
        let spec_file = self.scratch.join(format!("{hook}.json"));
        let out_file = self.scratch.join(format!("{hook}.out.json"));
        let spec = serde_json::json!({
            "backend": self.backend,
            "backend_path": self.backend_path,
            "env": self.env,
            "hook": hook,
            "wheel_dir": wheel_dir,
            "out": out_file,
        });
        std::fs::write(&runner, HOOK_PY)
            .and_then(|_| std::fs::write(&spec_file, spec.to_string()))
            .map_err(|e| fail(format!("cannot write the hook runner: {e}")))?;
        let epoch = self.source_date_epoch.to_string();
        let mut cmd = self.interpreter.command(&[
            ("SOURCE_DATE_EPOCH".into(), epoch),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
            ("PIP_NO_INPUT".into(), "1".into()),
        ]);
        for k in [
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PYTHONUSERBASE",
        ] {
            cmd.env_remove(k);
        }
        cmd.arg("-I")
            .arg("-S")
            .arg(&runner)
            .arg(&spec_file)
            .current_dir(self.tree);
        let done = run_with_timeout(cmd, HOOK_TIMEOUT)
            .map_err(|e| fail(format!("cannot start {}: {e}", self.interpreter.describe())))?;
        let output = format!("{}{}", done.stdout, done.stderr);
        if done.timed_out {
            return Err(HookFailure {
                output: format!(
                    "{}\n(the backend ran longer than {} s and was stopped)",
                    tail(&output),
                    HOOK_TIMEOUT.as_secs()
                ),
                timed_out: true,
            });
        }
        if done.code != Some(0) {
            return Err(fail(output));
        }
        let text = std::fs::read_to_string(&out_file)
            .map_err(|e| fail(format!("{output}\nthe hook wrote no answer: {e}")))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| fail(format!("{output}\nthe hook's answer is not JSON: {e}")))?;
        Ok(v.get("result").cloned().unwrap_or(serde_json::Value::Null))
    }
}

/// The last [`LOG_TAIL_LINES`] lines of `output`.
pub fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[start..].join("\n")
}

/// The line of a backend's output that shows it needed a C compiler, if any.
pub fn compiler_line(output: &str) -> Option<String> {
    const SIGNS: &[&str] = &[
        "gcc",
        "x86_64-linux-gnu-",
        "aarch64-linux-gnu-",
        "Python.h",
        "error: command",
        "cython",
        "Cython",
        "Microsoft Visual C++",
        "unable to execute 'cc'",
        "clang",
    ];
    output
        .lines()
        .find(|l| {
            let t = l.trim_start();
            SIGNS.iter().any(|s| l.contains(s))
                || t.starts_with("cc ")
                || l.contains("command 'cc'")
                || l.contains("\"cc\"")
        })
        .map(|l| crate::format::shorten(l.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_lines_are_found() {
        let out = "running build_ext\nbuilding 'x._c' extension\nx86_64-linux-gnu-gcc -pthread -c x.c\nfatal error: Python.h: No such file";
        assert_eq!(
            compiler_line(out).as_deref(),
            Some("x86_64-linux-gnu-gcc -pthread -c x.c")
        );
        assert!(compiler_line("error: command 'cc' failed: No such file").is_some());
        assert!(compiler_line("ModuleNotFoundError: No module named 'foo'").is_none());
    }

    #[test]
    fn tail_keeps_last_lines() {
        let s: String = (0..100).map(|i| format!("l{i}\n")).collect();
        let t = tail(&s);
        assert!(t.starts_with("l60") && t.ends_with("l99"));
    }
}
