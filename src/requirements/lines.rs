//! Text handling below the grammar: decoding, continuations, comments, `${VAR}` expansion.

/// Decodes file bytes: UTF-8 (with or without BOM), or UTF-16 with a BOM, which is what
/// `pip freeze > requirements.txt` writes in Windows PowerShell.
pub(super) fn decode(bytes: &[u8]) -> Option<String> {
    pub(super) fn utf16(rest: &[u8], from: fn([u8; 2]) -> u16) -> Option<String> {
        if !rest.len().is_multiple_of(2) {
            return None;
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| from([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&units).ok()
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        String::from_utf8(rest.to_vec()).ok()
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        utf16(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        utf16(rest, u16::from_be_bytes)
    } else {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// Splits content into logical lines the way pip does: lines ending in a backslash are joined
/// with the next (a comment line ends a continuation), then comments are stripped and blank
/// lines dropped. Each line carries the 1-based number of its first physical line.
pub(super) fn logical_lines(content: &str) -> Vec<(usize, String)> {
    pub(super) fn push(out: &mut Vec<(usize, String)>, number: usize, line: &str) {
        let stripped = strip_comment(line).trim();
        if !stripped.is_empty() {
            out.push((number, stripped.to_string()));
        }
    }
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in content.lines().enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let is_comment = raw.trim_start().starts_with('#');
        if !raw.ends_with('\\') || is_comment {
            match pending.take() {
                Some((start, mut joined)) => {
                    if is_comment {
                        // Like pip: make sure the comment is still recognised after joining.
                        joined.push(' ');
                    }
                    joined.push_str(raw);
                    push(&mut out, start, &joined);
                }
                None => push(&mut out, number, raw),
            }
        } else {
            let piece = raw.trim_matches('\\');
            match &mut pending {
                Some((_, joined)) => joined.push_str(piece),
                None => pending = Some((number, piece.to_string())),
            }
        }
    }
    if let Some((start, joined)) = pending {
        push(&mut out, start, &joined);
    }
    out
}

/// Removes a comment: `#` at the start of the line or after whitespace (so `#sha256=` URL
/// fragments survive).
pub(super) fn strip_comment(line: &str) -> &str {
    let mut after_space = true;
    for (index, c) in line.char_indices() {
        if c == '#' && after_space {
            return &line[..index];
        }
        after_space = c.is_whitespace();
    }
    line
}

/// Expands `${NAME}` (NAME of uppercase letters, digits and `_`) like pip; variables that are
/// unset or empty are left as written.
pub(super) fn expand_env_vars(line: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        if name_len > 0 && after.as_bytes().get(name_len) == Some(&b'}') {
            match env(&after[..name_len]).filter(|value| !value.is_empty()) {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[start..=start + 2 + name_len]),
            }
            rest = &after[name_len + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Splits a logical line into the requirement part and the options part, which starts at the
/// first whitespace-separated word beginning with `-` (pip's rule).
pub(super) fn split_args_options(line: &str) -> (&str, &str) {
    let mut after_space = true;
    for (index, c) in line.char_indices() {
        if c == '-' && after_space {
            return (line[..index].trim(), &line[index..]);
        }
        after_space = c.is_whitespace();
    }
    (line.trim(), "")
}
