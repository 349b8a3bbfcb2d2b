//! Accepting findings: `[check] allow = ["windows-binary:debugpy/**"]` in pylayer.toml and
//! `--allow CODE[:GLOB]` on `build` and `check`. A matching finding does not fail the check;
//! it moves to the report's `allowed` list, and the count is still printed, so an accepted
//! problem never disappears from view.
//!
//! The glob is the gitignore-style syntax of `slim-patterns` (`crate::slim::pattern`),
//! matched against the finding's path relative to site-packages (`debugpy/x.pyd`) and
//! against its full path in the layer (`python/debugpy/x.pyd`, `lib/libx.so`). Without a
//! glob, every finding of the code is allowed; with one, findings about the whole layer
//! (no path) are not.

use super::report::Finding;
use crate::slim::pattern::Pattern;

/// Every finding code `check` reports, for validating allow entries (a typo would
/// otherwise silently allow nothing). A unit test keeps it in step with the sources.
pub const CODES: &[&str] = &[
    "bad-metadata",
    "binary-damaged",
    "dependency-version",
    "duplicate-distribution",
    "empty-layer",
    "file-conflict",
    "glibc-too-new",
    "import-after-slim",
    "installer-tooling",
    "library-not-on-path",
    "libstdcxx-too-new",
    "links-libpython",
    "macos-binary",
    "missing-dependency",
    "missing-library",
    "musl-binary",
    "name-clash",
    "needs-s3-upload",
    "no-bytecode",
    "non-utf8-name",
    "not-importable",
    "nothing-usable",
    "outside-lambda-paths",
    "pth-ignored",
    "python-version",
    "runtime-provided",
    "stale-bytecode",
    "symlink",
    "timestamp-bytecode",
    "too-big-unzipped",
    "venv-remnant",
    "windows-binary",
    "wrapped-in-directory",
    "wrong-architecture",
    "wrong-python-site-packages",
    "zip-bomb",
    "zip-corrupt",
    "zip-duplicate",
    "zip-size-mismatch",
    "zip-symlink",
    "zip-unsupported",
];

/// One accepted finding kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// As written, for messages.
    pub text: String,
    pub code: &'static str,
    pub glob: Option<Pattern>,
}

impl Allow {
    /// Parses `CODE` or `CODE:GLOB`; an unknown code is an error listing the valid ones.
    pub fn parse(text: &str) -> Result<Allow, String> {
        let t = text.trim();
        let (code, glob) = match t.split_once(':') {
            Some((c, g)) => (c.trim(), Some(g.trim())),
            None => (t, None),
        };
        let Some(code) = CODES.iter().find(|c| **c == code) else {
            return Err(format!(
                "allow `{text}`: `{code}` is not a finding code of pylayer check; write CODE or CODE:GLOB with one of: {}",
                CODES.join(", ")
            ));
        };
        let glob = glob
            .map(|g| Pattern::parse(g).map_err(|e| format!("allow `{text}`: {e}")))
            .transpose()?;
        Ok(Allow {
            text: t.to_string(),
            code,
            glob,
        })
    }

    /// Parses every entry, failing on the first bad one.
    pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Allow>, String> {
        texts.iter().map(|t| Allow::parse(t.as_ref())).collect()
    }

    /// Whether this entry accepts `f`.
    pub fn matches(&self, f: &Finding) -> bool {
        if f.code != self.code {
            return false;
        }
        let Some(glob) = &self.glob else {
            return true;
        };
        let Some(path) = &f.path else {
            return false;
        };
        glob.matches(path) || glob.matches(site_relative(path))
    }
}

/// `python/debugpy/x.pyd` → `debugpy/x.pyd`; also under `python/lib/python3.X/site-packages/`.
fn site_relative(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("python/lib/")
        && let Some((dir, tail)) = rest.split_once('/')
        && dir.starts_with("python3.")
        && let Some(inner) = tail.strip_prefix("site-packages/")
    {
        return inner;
    }
    path.strip_prefix("python/").unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pe(path: &str) -> Finding {
        Finding::error("windows-binary", "a Windows binary", "").at(path)
    }

    #[test]
    fn code_and_glob() {
        let a = Allow::parse("windows-binary:debugpy/**").unwrap();
        assert!(a.matches(&pe("python/debugpy/_vendored/x.pyd")));
        assert!(a.matches(&pe("python/lib/python3.12/site-packages/debugpy/x.dll")));
        assert!(!a.matches(&pe("python/other/x.pyd")));
        assert!(!a.matches(&Finding::error("missing-library", "", "").at("python/debugpy/x.so")));
        let any = Allow::parse("windows-binary").unwrap();
        assert!(any.matches(&pe("python/other/x.pyd")));
        let libs = Allow::parse("missing-library:lib/*.so*").unwrap();
        assert!(libs.matches(&Finding::error("missing-library", "", "").at("lib/libx.so.2")));
        // A glob never matches a finding about the whole layer.
        assert!(!libs.matches(&Finding::error("missing-library", "", "")));
    }

    #[test]
    fn unknown_codes_name_the_valid_ones() {
        let e = Allow::parse("windows-binaries:debugpy/**").unwrap_err();
        assert!(
            e.contains("`windows-binaries` is not a finding code"),
            "{e}"
        );
        assert!(e.contains("windows-binary, wrapped-in-directory"), "{e}");
        assert!(Allow::parse("windows-binary:").is_err());
    }

    /// Every code the check's sources report is in `CODES`, so none can be rejected.
    #[test]
    fn codes_cover_every_finding_in_the_sources() {
        let mut found = std::collections::BTreeSet::new();
        let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                for ctor in ["Finding::error(", "Finding::warning(", "Finding::note("] {
                    for piece in code.split(ctor).skip(1) {
                        if let Some(lit) = piece.trim_start().strip_prefix('"')
                            && let Some((name, _)) = lit.split_once('"')
                        {
                            found.insert(name.to_string());
                        }
                    }
                }
            }
        }
        assert!(found.len() > 20, "{found:?}");
        for c in &found {
            assert!(CODES.contains(&c.as_str()), "{c} is missing from CODES");
        }
    }
}
