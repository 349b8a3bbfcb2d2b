//! Typed access to a TOML document parsed with its spans (`toml::de::DeTable`), so a value of
//! the wrong type is reported at its own line and column — inside an inline table, under a
//! dotted key or deep in a multi-line array — instead of being re-found by scanning the text.
//! Shared by the project-file readers and `pylayer.toml` (crate::config).

use std::ops::Range;

use toml::Spanned;
pub(crate) use toml::de::{DeTable, DeValue};

/// A TOML value with the byte range it was parsed from.
pub(crate) type Item<'i> = Spanned<DeValue<'i>>;

/// A value that is not of the type its key takes: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrongType {
    /// Byte range of the offending value (an array's entry when the entry is wrong).
    pub span: Range<usize>,
    /// What was found, for messages: "a float (3.12)", "an array holding an integer (5)".
    pub found: String,
}

/// Parses a whole document, keeping every key's and value's span.
pub(crate) fn parse(text: &str) -> Result<DeTable<'_>, toml::de::Error> {
    DeTable::parse(text).map(Spanned::into_inner)
}

/// What a value is, for "found …" in messages; strings are quoted, shortened and escaped so a
/// hostile file cannot flood or garble the terminal.
pub(crate) fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("a string ({})", quote_short(s)),
        DeValue::Integer(i) => format!("an integer ({i})"),
        DeValue::Float(f) => format!("a float ({f})"),
        DeValue::Boolean(b) => format!("a boolean ({b})"),
        DeValue::Datetime(d) => format!("a date-time ({d})"),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// `"text"` with control characters escaped, cut after 60 characters.
pub(crate) fn quote_short(text: &str) -> String {
    const MAX: usize = 60;
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    format!("\"{out}\"")
}

impl WrongType {
    /// `item` is of the wrong type.
    pub(crate) fn of(item: &Item<'_>) -> WrongType {
        WrongType {
            span: item.span(),
            found: describe(item.get_ref()),
        }
    }
}

/// The value as a string.
pub(crate) fn string<'v>(item: &'v Item<'_>) -> Result<&'v str, WrongType> {
    item.get_ref().as_str().ok_or_else(|| WrongType::of(item))
}

/// The value as a table.
pub(crate) fn table<'v, 'i>(item: &'v Item<'i>) -> Result<&'v DeTable<'i>, WrongType> {
    item.get_ref().as_table().ok_or_else(|| WrongType::of(item))
}

/// The value as an array's entries.
pub(crate) fn array<'v, 'i>(item: &'v Item<'i>) -> Result<&'v [Item<'i>], WrongType> {
    match item.get_ref() {
        DeValue::Array(items) => Ok(items),
        _ => Err(WrongType::of(item)),
    }
}

/// The value as a boolean.
pub(crate) fn boolean(item: &Item<'_>) -> Result<bool, WrongType> {
    item.get_ref().as_bool().ok_or_else(|| WrongType::of(item))
}

/// An array of strings, each with its span; a non-string entry is reported at the entry.
pub(crate) fn strings<'v>(item: &'v Item<'_>) -> Result<Vec<(&'v str, Range<usize>)>, WrongType> {
    array(item)?
        .iter()
        .map(|entry| match entry.get_ref() {
            DeValue::String(s) => Ok((s.as_ref(), entry.span())),
            other => Err(WrongType {
                span: entry.span(),
                found: format!("an array holding {}", describe(other)),
            }),
        })
        .collect()
}

/// A string, or an array of strings (a single value where a list is allowed), with spans.
pub(crate) fn one_or_many<'v>(
    item: &'v Item<'_>,
) -> Result<Vec<(&'v str, Range<usize>)>, WrongType> {
    match item.get_ref() {
        DeValue::String(s) => Ok(vec![(s.as_ref(), item.span())]),
        DeValue::Array(_) => strings(item),
        _ => Err(WrongType::of(item)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> DeTable<'_> {
        parse(text).expect("valid TOML")
    }

    #[test]
    fn spans_point_into_inline_tables_dotted_keys_and_arrays() {
        let text = "a = { b = 5 }\nc.d = 1.5\ne = [\n  \"x\",\n  7,\n]\n";
        let doc = root(text);
        let a = table(&doc["a"]).unwrap();
        let err = string(&a["b"]).unwrap_err();
        assert_eq!(&text[err.span.clone()], "5");
        assert_eq!(err.found, "an integer (5)");
        let c = table(&doc["c"]).unwrap();
        let err = string(&c["d"]).unwrap_err();
        assert_eq!(&text[err.span.clone()], "1.5");
        assert_eq!(err.found, "a float (1.5)");
        let err = strings(&doc["e"]).unwrap_err();
        assert_eq!(&text[err.span.clone()], "7");
        assert_eq!(err.found, "an array holding an integer (7)");
    }

    #[test]
    fn one_or_many_takes_a_string_or_a_list() {
        let doc = root("a = \"x\"\nb = [\"y\", \"z\"]\nc = 3.12\n");
        let names = |item| -> Vec<&str> {
            one_or_many(item)
                .unwrap()
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        };
        assert_eq!(names(&doc["a"]), ["x"]);
        assert_eq!(names(&doc["b"]), ["y", "z"]);
        assert_eq!(one_or_many(&doc["c"]).unwrap_err().found, "a float (3.12)");
    }

    #[test]
    fn described_strings_are_escaped_and_short() {
        assert_eq!(quote_short("a\u{0}b\n"), "\"a\\0b\\n\"");
        let long = "x".repeat(100);
        let shown = quote_short(&long);
        assert!(
            shown.ends_with("…\"") && shown.chars().count() == 63,
            "{shown}"
        );
    }
}
