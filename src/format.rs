//! Formatting helpers for human output, shared by every command (`build`, `check`,
//! `inspect`, `diff`, `test`): sizes as AWS writes its limits, thousands separators,
//! aligned tables, durations, and untrusted text made safe to print on one line.

/// Sizes as AWS writes its limits: 1 MB = 1,048,576 bytes, so "250 MB" is the unzipped
/// limit and "50 MB" the direct-upload limit.
pub fn human_bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if n < 1024 {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MB", f / (K * K))
    } else {
        format!("{:.2} GB", f / (K * K * K))
    }
}

/// A signed size change: `+1.0 KB`, `-2.0 KB`.
pub fn signed_bytes(n: i64) -> String {
    if n >= 0 {
        format!("+{}", human_bytes(n as u64))
    } else {
        format!("-{}", human_bytes(n.unsigned_abs()))
    }
}

/// `262144000` → `262,144,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `812345` µs → `812.3 ms`.
pub fn human_micros(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.2} s", us as f64 / 1e6)
    } else {
        format!("{:.1} ms", us as f64 / 1e3)
    }
}

/// Longest piece of untrusted text (a name from a zip or a METADATA line) put in a message.
const MAX_SHOWN_CHARS: usize = 200;

/// Untrusted text made printable on one line: control characters escaped (`\n`, `\u{0}`)
/// and anything past 200 characters cut with `…`, so a hostile name cannot forge output
/// or flood a terminal.
pub fn shorten(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Left-aligned columns, except those listed in `right`, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths[i];
            if i > 0 {
                s.push_str("  ");
            }
            if right.contains(&i) {
                s.push_str(&format!("{c:>w$}"));
            } else if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}"));
            }
        }
        let mut s = s.trim_end().to_string();
        s.push('\n');
        s
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(12_897_485), "12.3 MB");
        assert_eq!(human_bytes(262_144_000), "250.0 MB");
        assert_eq!(signed_bytes(-2048), "-2.0 KB");
        assert_eq!(signed_bytes(10), "+10 B");
        assert_eq!(thousands(262_144_000), "262,144,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(human_micros(812_345), "812.3 ms");
        assert_eq!(human_micros(2_500_000), "2.50 s");
    }

    #[test]
    fn untrusted_text_is_one_short_line() {
        assert_eq!(shorten("a\nb\0c"), "a\\nb\\u{0}c");
        let long = "x".repeat(100_000);
        let s = shorten(&long);
        assert_eq!(s.chars().count(), MAX_SHOWN_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["a", "n"],
            &[
                vec!["xx".into(), "1".into()],
                vec!["y".into(), "100".into()],
            ],
            &[1],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[1], "xx    1");
        assert_eq!(lines[2], "y   100");
    }
}
