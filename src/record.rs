//! `*.dist-info/RECORD` (PEP 376 / PEP 627): a CSV of `path,sha256=…,size` rows. pylayer
//! rewrites it to list the files as installed in the layer, as pip does after installing,
//! so `importlib.metadata.files()` and `pip uninstall --target` see the truth.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Parses CSV as Python's `csv` module writes it (commas, `"` quoting with `""` escapes,
/// `\n` or `\r\n` line ends). Blank lines are skipped.
pub fn parse(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                } else {
                    row.clear();
                }
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Quotes a field the way Python's `csv` (QUOTE_MINIMAL) does.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// `sha256=<urlsafe base64, no padding>`, the RECORD hash format.
pub fn record_hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// Renders an installed RECORD from its rows: (path relative to site-packages,
/// `sha256=…` or empty, size). Rows are sorted by path, with RECORD itself last and without
/// a hash, as the spec requires.
pub fn render(mut rows: Vec<(String, String, u64)>, record_path: &str) -> String {
    rows.sort();
    let mut out = String::new();
    for (path, hash, size) in rows {
        out.push_str(&format!("{},{},{}\n", quote(&path), quote(&hash), size));
    }
    out.push_str(&format!("{},,\n", quote(record_path)));
    out
}

/// Joins a path relative to `root` (a RECORD entry, an rpath below /opt) onto it and
/// resolves `.` and `..`; `None` when the result would climb above the top of the layer.
pub fn join(root: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = root.split('/').filter(|p| !p.is_empty()).collect();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_fields_and_crlf() {
        let rows = parse("a.py,sha256=x,3\r\n\"b,c.py\",sha256=y,4\n\n\"q\"\"d\",,\nRECORD,,");
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0], vec!["a.py", "sha256=x", "3"]);
        assert_eq!(rows[1], vec!["b,c.py", "sha256=y", "4"]);
        assert_eq!(rows[2], vec!["q\"d", "", ""]);
        assert_eq!(rows[3], vec!["RECORD", "", ""]);
    }

    #[test]
    fn renders_sorted_with_record_last_and_round_trips() {
        let text = render(
            vec![
                ("x/b.py".to_string(), "sha256=B".to_string(), 2),
                (
                    "x-1.dist-info/INSTALLER".to_string(),
                    record_hash(b"pylayer\n"),
                    8,
                ),
                ("x/a,b.py".to_string(), "sha256=A".to_string(), 1),
            ],
            "x-1.dist-info/RECORD",
        );
        let rows = parse(&text);
        assert_eq!(
            rows[0],
            vec!["x-1.dist-info/INSTALLER", &record_hash(b"pylayer\n"), "8"]
        );
        assert_eq!(rows[1], vec!["x/a,b.py", "sha256=A", "1"]);
        assert_eq!(rows[2], vec!["x/b.py", "sha256=B", "2"]);
        assert_eq!(rows[3], vec!["x-1.dist-info/RECORD", "", ""]);
        assert!(text.ends_with("x-1.dist-info/RECORD,,\n"));
    }
}
