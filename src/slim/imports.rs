//! Which modules a Python source imports, read from its text without Python: enough to
//! tell whether a distribution's runtime code uses its `testing` package. It errs towards
//! "imported": an `import` written in a docstring counts too, which only keeps files, and so
//! does a literal name given to `importlib.import_module` or `__import__`.

/// Every module name `source` (the file at `module`, a dotted name; `is_package` for an
/// `__init__.py`) imports, absolute: `import a.b` gives `a.b`; `from a import b` gives `a`
/// and `a.b`; relative imports are resolved against the module's package.
pub fn imported_modules(source: &str, module: &str, is_package: bool) -> Vec<String> {
    let mut out = Vec::new();
    let package: Vec<&str> = {
        let mut parts: Vec<&str> = module.split('.').filter(|p| !p.is_empty()).collect();
        if !is_package {
            parts.pop();
        }
        parts
    };
    for statement in statements(source) {
        let s = statement.trim();
        if let Some(rest) = s.strip_prefix("import ") {
            for name in rest.split(',') {
                if let Some(n) = name.split_whitespace().next() {
                    out.push(n.to_string());
                }
            }
        } else if let Some(rest) = s.strip_prefix("from ") {
            let Some((base, names)) = rest.split_once(" import") else {
                continue;
            };
            let base = base.trim();
            let level = base.chars().take_while(|c| *c == '.').count();
            let name = &base[level..];
            let absolute = if level == 0 {
                name.to_string()
            } else {
                if level - 1 > package.len() {
                    continue;
                }
                let mut parts: Vec<&str> = package[..package.len() - (level - 1)].to_vec();
                if !name.is_empty() {
                    parts.push(name);
                }
                parts.join(".")
            };
            if absolute.is_empty() {
                continue;
            }
            let names = names.replace(['(', ')'], " ");
            for n in names.split(',') {
                if let Some(n) = n.split_whitespace().next()
                    && n != "*"
                {
                    out.push(format!("{absolute}.{n}"));
                }
            }
            out.push(absolute);
        }
    }
    dynamic_imports(source, &package, &mut out);
    out.sort();
    out.dedup();
    out
}

/// `importlib.import_module("a.b")`, `import_module(".b", __name__)` and `__import__("a.b")`
/// with a literal name: imports too, as far as the text tells.
fn dynamic_imports(source: &str, package: &[&str], out: &mut Vec<String>) {
    for call in ["import_module(", "__import__("] {
        for (at, _) in source.match_indices(call) {
            let rest = source[at + call.len()..].trim_start();
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let Some(end) = rest[1..].find(quote) else {
                continue;
            };
            let name = &rest[1..=end];
            let level = name.chars().take_while(|c| *c == '.').count();
            let bare = &name[level..];
            if bare.is_empty()
                || !bare
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            {
                continue;
            }
            if level == 0 {
                out.push(bare.to_string());
            } else if level - 1 < package.len() {
                let mut parts = package[..package.len() - (level - 1)].to_vec();
                parts.push(bare);
                out.push(parts.join("."));
            }
        }
    }
}

/// The source's logical lines that may be import statements: comments cut, `\`
/// continuations and parenthesized `from … import (…)` joined, `;` split.
fn statements(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for raw in source.lines() {
        let line = raw.split('#').next().unwrap_or("");
        if let Some(p) = pending.as_mut() {
            p.push(' ');
            p.push_str(line.trim_end_matches('\\'));
            if line.contains(')') || (!line.trim_end().ends_with('\\') && !p.contains('(')) {
                out.push(pending.take().unwrap_or_default());
            }
            continue;
        }
        for piece in line.split(';') {
            let t = piece.trim_start();
            if !(t.starts_with("import ") || t.starts_with("from ")) {
                continue;
            }
            let open = t.contains('(') && !t.contains(')');
            if open || t.trim_end().ends_with('\\') {
                pending = Some(t.trim_end().trim_end_matches('\\').to_string());
            } else {
                out.push(t.to_string());
            }
        }
    }
    out.extend(pending);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_relative_and_continued_imports() {
        let src = "import os, numpy.testing as nt\n\
                   from numpy import (\n    linalg,\n    testing,  # comment\n)\n\
                   def f():\n    from . import _private\n    from ..core import x; import json\n\
                   from pkg.sub import \\\n    thing\n\
                   x = 'not an import'\n";
        let got = imported_modules(src, "numpy.testing.utils", false);
        for want in [
            "os",
            "numpy.testing",
            "numpy",
            "numpy.linalg",
            "numpy.testing._private",
            "numpy.core",
            "numpy.core.x",
            "json",
            "pkg.sub",
            "pkg.sub.thing",
        ] {
            assert!(got.contains(&want.to_string()), "{want} missing in {got:?}");
        }
        assert!(!got.iter().any(|g| g.contains("not")));
    }

    #[test]
    fn literal_dynamic_imports_count() {
        let src = "import importlib\nm = importlib.import_module('pkg.testing')\n\
                   n = importlib.import_module(\".test\", __name__)\n\
                   o = __import__(\"pkg.tests.x\")\np = importlib.import_module(name)\n";
        let got = imported_modules(src, "pkg", true);
        for want in ["pkg.testing", "pkg.test", "pkg.tests.x"] {
            assert!(got.contains(&want.to_string()), "{want} missing in {got:?}");
        }
    }

    #[test]
    fn package_init_resolves_relative_to_itself() {
        let got = imported_modules("from . import testing\n", "numpy", true);
        assert!(got.contains(&"numpy.testing".to_string()), "{got:?}");
        let got = imported_modules("from .testing import x\n", "numpy", true);
        assert!(got.contains(&"numpy.testing".to_string()), "{got:?}");
        // Above the top level: ignored, not a panic.
        assert!(imported_modules("from ... import x\n", "a", true).is_empty());
    }
}
