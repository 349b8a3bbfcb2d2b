//! Findings and the report: what `check` found, how bad it is, where, and what to do.
//! Plain data; rendering as a table or JSON lives here too so `build` and `check` print
//! the same thing.

use std::fmt;

use serde::Serialize;

/// How bad a finding is. `Error` means the layer will not work (or cannot be uploaded) as
/// it is; `Warning` means it works but something is wasteful, fragile or suspicious; `Note`
/// means it works and could work better (a layer without bytecode starts slower). Notes never
/// fail a check, not even with `--strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// One problem in a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable identifier, e.g. `elf-glibc`, `missing-library`, `zip-slip`.
    pub code: &'static str,
    /// Path inside the layer (zip entry name, or path relative to the directory); `None`
    /// for findings about the whole layer.
    pub path: Option<String>,
    /// The distribution the file belongs to (`numpy 2.3.1`), when known.
    pub distribution: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Finding {
    pub fn error(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            code,
            path: None,
            distribution: None,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn warning(
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(code, message, hint)
        }
    }

    pub fn note(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Note,
            ..Finding::error(code, message, hint)
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn in_dist(mut self, dist: Option<String>) -> Self {
        self.distribution = dist;
        self
    }
}

/// Counts that describe what was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Entries in the zip (or files and directories in the directory).
    pub entries: usize,
    pub files: usize,
    /// Sum of the uncompressed sizes of all files.
    pub unzipped_bytes: u64,
    /// Size of the zip file; `None` for a directory.
    pub zip_bytes: Option<u64>,
    /// ELF, Mach-O and PE files parsed.
    pub binaries: usize,
    /// Installed distributions (`*.dist-info`) found.
    pub distributions: usize,
}

/// Everything `check` found about one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The zip or directory checked, as given.
    pub layer: String,
    /// `python3.12`.
    pub runtime: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    pub summary: Summary,
    /// Sorted: errors first, then by path and code.
    pub findings: Vec<Finding>,
    /// Findings accepted by `[check] allow` / `--allow`: they do not fail the check, and
    /// are listed here rather than dropped.
    pub allowed: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// Whether the check failed: any error, or any warning under `--strict`.
    pub fn failed(&self, strict: bool) -> bool {
        self.errors() > 0 || (strict && self.warnings() > 0)
    }

    /// Findings with this code (for tests and callers that react to one kind).
    #[allow(dead_code)]
    pub fn with_code(&self, code: &str) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.code == code).collect()
    }

    /// Moves the findings an entry of `allow` accepts to [`Report::allowed`].
    pub fn apply_allow(&mut self, allow: &[super::allow::Allow]) {
        if allow.is_empty() {
            return;
        }
        let (allowed, kept): (Vec<Finding>, Vec<Finding>) = std::mem::take(&mut self.findings)
            .into_iter()
            .partition(|f| allow.iter().any(|a| a.matches(f)));
        self.findings = kept;
        self.allowed.extend(allowed);
    }

    /// `8 findings allowed by [check] allow (windows-binary 8)`, or `None` when none were.
    pub fn allowed_line(&self) -> Option<String> {
        if self.allowed.is_empty() {
            return None;
        }
        let mut by_code: std::collections::BTreeMap<&str, usize> = Default::default();
        for f in &self.allowed {
            *by_code.entry(f.code).or_default() += 1;
        }
        let codes: Vec<String> = by_code.iter().map(|(c, n)| format!("{c} {n}")).collect();
        Some(format!(
            "{} findings allowed by [check] allow / --allow ({})",
            self.allowed.len(),
            codes.join(", ")
        ))
    }

    /// Puts findings in their presentation order and drops exact duplicates.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (a.severity, &a.path, a.code, &a.message)
                .cmp(&(b.severity, &b.path, b.code, &b.message))
        });
        self.findings.dedup();
    }
}

/// The human report: a header line, findings grouped by severity (each with its file,
/// distribution and what to do), and a verdict line.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let zip = r
        .summary
        .zip_bytes
        .map(|b| format!(", zip {}", crate::format::human_bytes(b)))
        .unwrap_or_default();
    out.push_str(&format!(
        "check {} for {}/{}: {} files, {} unzipped{zip}, {} binaries, {} distributions\n",
        r.layer,
        r.runtime,
        r.architecture,
        r.summary.files,
        crate::format::human_bytes(r.summary.unzipped_bytes),
        r.summary.binaries,
        r.summary.distributions,
    ));
    for (sev, title) in [
        (Severity::Error, "errors"),
        (Severity::Warning, "warnings"),
        (Severity::Note, "notes"),
    ] {
        let group: Vec<&Finding> = r.findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{title} ({}):\n", group.len()));
        for f in group {
            let mut place = String::new();
            if let Some(p) = &f.path {
                place.push_str(p);
            }
            if let Some(d) = &f.distribution {
                if !place.is_empty() {
                    place.push(' ');
                }
                place.push_str(&format!("({d})"));
            }
            if place.is_empty() {
                place.push_str("(layer)");
            }
            out.push_str(&format!("  {sev}[{}] {place}\n", f.code));
            out.push_str(&format!("      {}\n", f.message));
            if !f.hint.is_empty() {
                out.push_str(&format!("      fix: {}\n", f.hint));
            }
        }
    }
    if let Some(line) = r.allowed_line() {
        out.push_str(&format!("\n{line}\n"));
    }
    let (e, w) = (r.errors(), r.warnings());
    out.push_str(&format!(
        "\n{}: {e} error(s), {w} warning(s)\n",
        if e > 0 {
            "FAILED"
        } else if w > 0 {
            "ok with warnings"
        } else {
            "ok"
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut r = Report {
            layer: "x.zip".into(),
            runtime: "python3.12".into(),
            architecture: "x86_64".into(),
            summary: Summary::default(),
            findings: vec![
                Finding::warning("pip-in-layer", "pip is installed", "remove it")
                    .at("python/pip/__init__.py"),
                Finding::error("missing-library", "needs libodbc.so.2", "bundle it")
                    .at("python/pyodbc.so")
                    .in_dist(Some("pyodbc 5.2.0".into())),
            ],
            allowed: Vec::new(),
        };
        r.sort();
        r
    }

    #[test]
    fn errors_come_first_and_fail() {
        let r = report();
        assert_eq!(r.findings[0].severity, Severity::Error);
        assert!(r.failed(false));
        let text = render(&r);
        let e = text.find("errors (1):").unwrap();
        let w = text.find("warnings (1):").unwrap();
        assert!(e < w, "{text}");
        assert!(text.contains("error[missing-library] python/pyodbc.so (pyodbc 5.2.0)"));
        assert!(text.contains("fix: bundle it"));
        assert!(text.contains("FAILED: 1 error(s), 1 warning(s)"));
    }

    #[test]
    fn allowed_findings_do_not_fail_but_are_counted() {
        let mut r = report();
        r.apply_allow(&super::super::allow::Allow::parse_all(&["missing-library:*.so"]).unwrap());
        assert!(!r.failed(false));
        assert_eq!(r.allowed.len(), 1);
        let text = render(&r);
        assert!(
            text.contains("1 findings allowed by [check] allow / --allow (missing-library 1)"),
            "{text}"
        );
        assert!(
            text.contains("ok with warnings: 0 error(s), 1 warning(s)"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["allowed"][0]["code"], "missing-library");
    }

    #[test]
    fn warnings_only_pass_unless_strict() {
        let mut r = report();
        r.findings.retain(|f| f.severity == Severity::Warning);
        assert!(!r.failed(false));
        assert!(r.failed(true));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["findings"][0]["severity"], "warning");
        assert_eq!(json["findings"][0]["code"], "pip-in-layer");
    }
}
