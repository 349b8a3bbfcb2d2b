//! `.pyc` names and headers: where CPython looks for a module's bytecode (PEP 3147) and what
//! kind of `.pyc` a file is (PEP 552), for the compiler and for `check`.

use crate::domain::PYC_MAGIC;

/// `cpython-312`: the cache tag CPython 3.12 names its `.pyc` files with.
pub fn cache_tag(minor: u8) -> String {
    format!("cpython-3{minor}")
}

/// Where CPython 3.`minor` looks for the bytecode of `dir/name.py`:
/// `dir/__pycache__/name.cpython-3X.pyc`. `None` when `py` is not a `.py` path.
pub fn pyc_path(py: &str, minor: u8) -> Option<String> {
    let (dir, file) = match py.rsplit_once('/') {
        Some((d, f)) => (Some(d), f),
        None => (None, py),
    };
    let stem = file.strip_suffix(".py").filter(|s| !s.is_empty())?;
    let name = format!("__pycache__/{stem}.{}.pyc", cache_tag(minor));
    Some(match dir {
        Some(d) => format!("{d}/{name}"),
        None => name,
    })
}

/// The source a `__pycache__` `.pyc` belongs to, and the minor its cache tag names:
/// `dir/__pycache__/name.cpython-312.pyc` → (`dir/name.py`, 12). Optimized variants
/// (`.opt-1.pyc`) count as theirs too.
pub fn source_of(pyc: &str) -> Option<(String, u8)> {
    let (dir, file) = match pyc.rsplit_once('/') {
        Some((d, f)) => (d, f),
        None => return None,
    };
    let parent = match dir.rsplit_once('/') {
        Some((p, "__pycache__")) => Some(p),
        None if dir == "__pycache__" => None,
        _ => return None,
    };
    let body = file.strip_suffix(".pyc")?;
    let (stem, tag) = body.split_once(".cpython-3")?;
    let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
    let minor: u8 = digits.parse().ok()?;
    let py = format!("{stem}.py");
    Some((
        match parent {
            Some(p) => format!("{p}/{py}"),
            None => py,
        },
        minor,
    ))
}

/// How a `.pyc` decides whether it is still valid (PEP 552 flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    /// Compares the source's mtime and size: never valid in a zip dated 1980-01-01 unless the
    /// source carries the same date, and rewritten (impossible on read-only /opt) otherwise.
    Timestamp,
    /// Hashes the source at every import and compares.
    CheckedHash,
    /// Loaded without looking at the source: right for an immutable layer.
    UncheckedHash,
}

/// The first 16 bytes of a `.pyc` (Python 3.7+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PycHeader {
    /// The magic number (without its `\r\n`).
    pub magic: u16,
    pub invalidation: Invalidation,
}

impl PycHeader {
    /// Parses the header, `None` when the bytes do not look like a `.pyc`.
    pub fn parse(bytes: &[u8]) -> Option<PycHeader> {
        let head = bytes.get(..16)?;
        if head[2..4] != *b"\r\n" {
            return None;
        }
        let magic = u16::from_le_bytes([head[0], head[1]]);
        let flags = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let invalidation = match flags {
            0 => Invalidation::Timestamp,
            1 => Invalidation::UncheckedHash,
            3 => Invalidation::CheckedHash,
            _ => return None,
        };
        Some(PycHeader {
            magic,
            invalidation,
        })
    }

    /// The CPython 3 minor that writes and loads this magic number, if it is a final release's.
    pub fn minor(&self) -> Option<u8> {
        PYC_MAGIC
            .iter()
            .find(|(_, m)| *m == self.magic)
            .map(|(minor, _)| *minor)
    }
}

/// The magic number of CPython 3.`minor`, if known.
pub fn magic_of(minor: u8) -> Option<u16> {
    PYC_MAGIC
        .iter()
        .find(|(m, _)| *m == minor)
        .map(|(_, magic)| *magic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyc_names_follow_pep_3147() {
        assert_eq!(
            pyc_path("python/requests/api.py", 12).as_deref(),
            Some("python/requests/__pycache__/api.cpython-312.pyc")
        );
        assert_eq!(
            pyc_path("six.py", 9).as_deref(),
            Some("__pycache__/six.cpython-39.pyc")
        );
        assert_eq!(pyc_path("python/pkg/data.pyi", 12), None);
        assert_eq!(pyc_path("python/pkg/.py", 12), None);
        assert_eq!(
            source_of("python/requests/__pycache__/api.cpython-312.pyc"),
            Some(("python/requests/api.py".to_string(), 12))
        );
        assert_eq!(
            source_of("python/a/__pycache__/m.cpython-311.opt-1.pyc"),
            Some(("python/a/m.py".to_string(), 11))
        );
        assert_eq!(
            source_of("__pycache__/six.cpython-39.pyc"),
            Some(("six.py".to_string(), 9))
        );
        assert_eq!(source_of("python/a/m.pyc"), None);
    }

    #[test]
    fn headers_name_their_kind_and_minor() {
        let mut b = vec![0xcb, 0x0d, b'\r', b'\n', 1, 0, 0, 0];
        b.extend([0u8; 8]);
        let h = PycHeader::parse(&b).unwrap();
        assert_eq!(h.invalidation, Invalidation::UncheckedHash);
        assert_eq!(h.minor(), Some(12));
        b[4] = 0;
        assert_eq!(
            PycHeader::parse(&b).unwrap().invalidation,
            Invalidation::Timestamp
        );
        b[4] = 3;
        assert_eq!(
            PycHeader::parse(&b).unwrap().invalidation,
            Invalidation::CheckedHash
        );
        b[4] = 2;
        assert_eq!(PycHeader::parse(&b), None);
        assert_eq!(PycHeader::parse(&b[..10]), None);
        assert_eq!(magic_of(13), Some(3571));
    }
}
