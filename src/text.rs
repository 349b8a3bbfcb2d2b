//! Text that came from input, made safe to print in one error line: control characters
//! escaped (a NUL or an escape sequence must not reach the terminal raw) and very long runs
//! shortened (a 100 KB requirement name must not become a 100 KB error line).

/// Runs of non-space characters longer than this are shortened.
const MAX_RUN: usize = 256;

/// `text` with control characters other than newline and tab escaped (`\u{0}`) and every
/// run of more than 256 non-space characters cut to its start and end around a count.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    for run in text.split_inclusive(char::is_whitespace) {
        let chars = run.chars().count();
        if chars > MAX_RUN {
            let head: String = run.chars().take(120).collect();
            let tail: String = run.chars().skip(chars - 40).collect();
            escape_into(&mut out, &head);
            out.push_str(&format!("…({} characters)…", chars - 160));
            escape_into(&mut out, &tail);
        } else {
            escape_into(&mut out, run);
        }
    }
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_shortens_long_runs() {
        assert_eq!(shown("a\0b\x1b[31m\nc\td"), "a\\u{0}b\\u{1b}[31m\nc\td");
        let long = format!("req: {}x end", "n".repeat(100_000));
        let s = shown(&long);
        assert!(s.len() < 400, "{}", s.len());
        assert!(s.starts_with("req: nnn") && s.ends_with("nnx end"), "{s}");
        assert!(s.contains("(99842 characters)"), "{s}");
        assert_eq!(shown("short line"), "short line");
    }
}
