//! Byte offsets as the 1-based `line:column` that editors and terminals jump to. Parsers
//! (toml, serde_json) report byte spans; every error message that points into a file turns
//! them into a position here, so all of them count lines and columns the same way.

use std::fmt;

/// A 1-based line and column in a text. The column counts characters, not bytes, so a
/// non-ASCII name earlier on the line does not shift it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TextPos {
    pub line: usize,
    pub column: usize,
}

impl TextPos {
    /// The position of byte `offset` in `text`. An offset past the end is the end of the
    /// text; one inside a multi-byte character is that character.
    pub fn at(text: &str, offset: usize) -> TextPos {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        TextPos {
            line: before.bytes().filter(|b| *b == b'\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// `line:column`.
impl fmt::Display for TextPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::TextPos;

    fn pos(text: &str, offset: usize) -> (usize, usize) {
        let p = TextPos::at(text, offset);
        (p.line, p.column)
    }

    #[test]
    fn lines_and_columns_are_one_based() {
        let text = "ab\ncd\n\nef";
        assert_eq!(pos(text, 0), (1, 1));
        assert_eq!(pos(text, 1), (1, 2));
        assert_eq!(pos(text, 2), (1, 3), "the newline ends line 1");
        assert_eq!(pos(text, 3), (2, 1));
        assert_eq!(pos(text, 7), (4, 1));
        assert_eq!(pos(text, 8), (4, 2));
        assert_eq!(TextPos::at(text, 8).to_string(), "4:2");
    }

    #[test]
    fn columns_count_characters_and_offsets_are_clamped() {
        // "é" is two bytes: `x` after it is the third character of the line.
        let text = "a\néx";
        assert_eq!(pos(text, 4), (2, 2));
        // Inside "é" (offset 3 is its second byte): that character.
        assert_eq!(pos(text, 3), (2, 1));
        assert_eq!(pos(text, 100), (2, 3));
        assert_eq!(pos("", 5), (1, 1));
        // CRLF: the `\r` belongs to the line it ends.
        assert_eq!(pos("a\r\nb", 3), (2, 1));
    }
}
