//! The one reader of core-metadata headers (`METADATA`, `PKG-INFO`, also the `WHEEL` file):
//! RFC 822 style `Field: value` lines up to the first empty line, as Python's `email`
//! parser reads them — field names compare case-insensitively, a line starting with a space
//! or tab continues the previous field, and a field may appear many times (`Requires-Dist`,
//! `Classifier`, `Tag`). Everything after the first empty line is the body (the long
//! description) and is never read as headers.
//!
//! The index client (dependency extraction), `check`, `inspect`, `diff`, `test` and the
//! venv reader all use it, so a METADATA file means the same thing to each of them.

/// The header block of a metadata file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// (field name as written, value with continuation lines joined by one space), in order.
    fields: Vec<(String, String)>,
    /// The first line that is neither `Field: value` nor a continuation: (1-based line
    /// number, the line). Python's parser starts the body there; strict readers refuse it.
    malformed: Option<(usize, String)>,
}

impl Headers {
    /// Parses the header block of `text` (bytes; invalid UTF-8 is replaced, as pip does
    /// with `errors="surrogateescape"` shown lossily). Never fails: a malformed line ends
    /// the headers and is remembered in [`Headers::malformed`].
    pub fn parse(text: &[u8]) -> Headers {
        let text = String::from_utf8_lossy(text);
        let mut h = Headers::default();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() {
                break; // the body (long description) starts here
            }
            if line.starts_with([' ', '\t'])
                && let Some((_, v)) = h.fields.last_mut()
            {
                let more = line.trim();
                if !more.is_empty() {
                    if !v.is_empty() {
                        v.push(' ');
                    }
                    v.push_str(more);
                }
                continue;
            }
            match line.split_once(':') {
                Some((k, v)) if is_field_name(k) => {
                    h.fields.push((k.to_string(), v.trim().to_string()));
                }
                _ => {
                    h.malformed = Some((n + 1, line.to_string()));
                    break;
                }
            }
        }
        h
    }

    /// The first value of a field (names compare case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a multiple-use field, in file order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The line that ended the headers without being one: (1-based number, text).
    pub fn malformed(&self) -> Option<(usize, &str)> {
        self.malformed.as_ref().map(|(n, l)| (*n, l.as_str()))
    }
}

/// RFC 822 field names: printable ASCII except space and colon (`ftext`).
fn is_field_name(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_multi_use_and_continuations() {
        let h = Headers::parse(
            b"Metadata-Version: 2.1\r\nname: Foo\nVERSION: 1.0\nRequires-Dist: a>=1\nrequires-dist: b;\n  extra == 'x'\n\tand more\nRequires-Dist: c\n\nRequires-Dist: body-not-header\n",
        );
        assert_eq!(h.get("Name"), Some("Foo"));
        assert_eq!(h.get("version"), Some("1.0"));
        let reqs: Vec<&str> = h.get_all("Requires-Dist").collect();
        assert_eq!(reqs, ["a>=1", "b; extra == 'x' and more", "c"]);
        assert_eq!(h.malformed(), None);
        assert_eq!(h.get("Summary"), None);
    }

    #[test]
    fn a_line_that_is_no_field_ends_the_headers_and_is_reported() {
        let h = Headers::parse(b"Name: x\nthis is not a header\nVersion: 1\n");
        assert_eq!(h.get("name"), Some("x"));
        assert_eq!(h.get("version"), None);
        assert_eq!(h.malformed(), Some((2, "this is not a header")));
        // A field name cannot contain a space.
        let h = Headers::parse(b"Bad Name: x\n");
        assert_eq!(h.malformed().map(|m| m.0), Some(1));
        // Invalid UTF-8 does not stop the reader.
        let h = Headers::parse(b"Name: caf\xe9\nVersion: 2\n");
        assert_eq!(h.get("version"), Some("2"));
    }
}
