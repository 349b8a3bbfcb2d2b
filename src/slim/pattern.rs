//! `slim-patterns`: gitignore-style globs over paths relative to site-packages, the way the
//! Serverless plugin's `slimPatterns` are written. `!` keeps what an earlier rule (or the
//! default policy) would remove; the last matching pattern wins.
//!
//! Supported: `*` (any run of characters but `/`), `**` (any run, across directories), `?`
//! (one character but `/`), a leading `/` or an inner `/` anchoring the pattern at
//! site-packages, a trailing `/` matching directories only, `\` escaping the next character.
//! A pattern without an inner `/` matches a file or directory name at any depth; matching a
//! directory matches everything under it.

/// One parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// As written, for messages.
    pub text: String,
    /// `!`: keeps instead of removing.
    pub keep: bool,
    glob: Vec<char>,
    anchored: bool,
    dir_only: bool,
}

impl Pattern {
    /// Parses one pattern; an empty one (or only `!`/`/`) is an error naming it.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut s = text.trim();
        let keep = s.starts_with('!');
        if keep {
            s = &s[1..];
        }
        let dir_only = s.ends_with('/') && !s.ends_with("\\/");
        let s = s.trim_end_matches('/');
        let anchored = s.starts_with('/') || s.trim_start_matches('/').contains('/');
        let s = s.trim_start_matches('/');
        if s.is_empty() {
            return Err(format!(
                "slim pattern `{text}` matches nothing: write a glob relative to site-packages, e.g. `*/datasets/data/` or `!numpy/_core/include/`"
            ));
        }
        Ok(Pattern {
            text: text.trim().to_string(),
            keep,
            glob: s.chars().collect(),
            anchored,
            dir_only,
        })
    }

    /// Whether the pattern matches the file at `rel` (or one of its directories).
    pub fn matches(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        let mut end = 0;
        for (i, part) in parts.iter().enumerate() {
            end += part.len() + usize::from(i > 0);
            let is_file = i + 1 == parts.len();
            if is_file && self.dir_only {
                break;
            }
            let subject = if self.anchored { &rel[..end] } else { part };
            let chars: Vec<char> = subject.chars().collect();
            if glob_match(&self.glob, &chars) {
                return true;
            }
        }
        false
    }
}

/// The user's patterns in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns(pub Vec<Pattern>);

impl Patterns {
    /// Parses every pattern, failing on the first bad one.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Patterns, String> {
        texts
            .iter()
            .map(|t| Pattern::parse(t.as_ref()))
            .collect::<Result<_, _>>()
            .map(Patterns)
    }

    /// `Some(true)` when the last matching pattern removes `rel`, `Some(false)` when it
    /// keeps it (`!`), `None` when none matches.
    pub fn verdict(&self, rel: &str) -> Option<bool> {
        self.0
            .iter()
            .rev()
            .find(|p| p.matches(rel))
            .map(|p| !p.keep)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn glob_match(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            // `**/` also matches no directory at all.
            let rest = &p[2..];
            if rest.first() == Some(&'/') && glob_match(&rest[1..], s) {
                return true;
            }
            (0..=s.len()).any(|i| glob_match(rest, &s[i..]))
        }
        Some('*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if glob_match(rest, &s[i..]) {
                    return true;
                }
                if s.get(i) == Some(&'/') {
                    break;
                }
            }
            false
        }
        Some('?') => matches!(s.first(), Some(c) if *c != '/') && glob_match(&p[1..], &s[1..]),
        Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob_match(&p[2..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob_match(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, rel: &str) -> bool {
        Pattern::parse(p).unwrap().matches(rel)
    }

    #[test]
    fn gitignore_shapes() {
        assert!(m("*.md", "pkg/docs/a.md"));
        assert!(m("*.md", "a.md"));
        assert!(!m("*.md", "pkg/a.mdx"));
        assert!(m("datasets/", "sk/datasets/descr/x.rst"));
        assert!(!m("datasets/", "sk/datasets"));
        assert!(m("sk/datasets/descr/*.rst", "sk/datasets/descr/x.rst"));
        assert!(!m(
            "sk/datasets/descr/*.rst",
            "other/sk/datasets/descr/x.rst"
        ));
        assert!(!m("sk/*.rst", "sk/datasets/x.rst"));
        assert!(m("sk/**/*.rst", "sk/datasets/descr/x.rst"));
        assert!(m("sk/**/*.rst", "sk/x.rst"));
        assert!(m("**/descr", "sk/datasets/descr/x.rst"));
        assert!(m("/sk", "sk/x.rst"));
        assert!(!m("/sk", "a/sk/x.rst"));
        assert!(m("p?g/a.txt", "pkg/a.txt"));
        assert!(!m("p?g/a.txt", "p/g/a.txt"));
    }

    #[test]
    fn last_match_wins_and_bang_keeps() {
        let p = Patterns::parse(&["*.rst", "!sk/datasets/descr/"]).unwrap();
        assert_eq!(p.verdict("sk/README.rst"), Some(true));
        assert_eq!(p.verdict("sk/datasets/descr/iris.rst"), Some(false));
        assert_eq!(p.verdict("sk/x.py"), None);
        assert!(Pattern::parse("!").is_err());
        assert!(Pattern::parse("  ").is_err());
    }
}
